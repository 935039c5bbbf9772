/**
 * The cross-engine scenarios (e2e/engines/scenarios.ts) in Chromium, Firefox ESR and WebKitGTK,
 * one engine after the other (each scenario starts its own collector). `ENGINES=webkit npx
 * vitest run test/engines/cross-engine.test.ts` runs one engine; `npm test` runs all three.
 */
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES, type EngineBrowser, type EngineName } from '../../e2e/engines/driver.js';
import { launchEngine } from '../../e2e/engines/launch.js';
import { runScenario, SCENARIOS } from '../../e2e/engines/scenarios.js';

const chosen = (process.env.ENGINES?.split(',') ?? ENGINES) as EngineName[];

describe.sequential.each(chosen)('%s', (engine) => {
  let browser: EngineBrowser | undefined;
  beforeAll(async () => {
    expect(existsSync('dist/f.js'), 'run `npm run build` first (npm test does)').toBe(true);
    browser = await launchEngine(engine);
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
  }, 30_000);

  for (const scenario of SCENARIOS.filter((each) => !each.engines || each.engines.includes(engine))) {
    it(scenario.name, { timeout: 60_000 }, async () => {
      await runScenario(browser!, scenario);
    });
  }
});
