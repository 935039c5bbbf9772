/**
 * The cross-engine scenarios (e2e/engines/scenarios.ts) in Chromium, Firefox ESR and WebKitGTK,
 * one engine after the other in this one file (so that two browsers never compete for the two
 * cores), each scenario on a collector of its own. Then the proof that they catch a broken exit
 * path: with a snippet whose exit beacon goes only on `beforeunload`, closing the tab loses the
 * typed lead in every engine, and the scenario fails.
 *
 * `ENGINES=webkit npx vitest run test/engines/cross-engine.test.ts` runs one engine; `npm test`
 * runs all three, and fails on a machine without one, naming the package to install.
 */
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveBrokenSnippet } from '../../e2e/engines/broken-snippet.js';
import { ENGINES, type EngineBrowser, type EngineName } from '../../e2e/engines/driver.js';
import { launchEngine } from '../../e2e/engines/launch.js';
import { exitScenario, runScenario, SCENARIOS } from '../../e2e/engines/scenarios.js';
import type { Stack } from '../../e2e/support/stack.js';

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

  describe('with a snippet whose exit beacon goes only on beforeunload', () => {
    let broken: Awaited<ReturnType<typeof serveBrokenSnippet>> | undefined;
    beforeAll(async () => {
      broken = await serveBrokenSnippet();
    });
    afterAll(async () => {
      await broken?.close();
    });
    const withBrokenSnippet = (stack: Stack) => (stack.vars.COLLECTOR = broken!.origin);

    // The tab closes without beforeunload (as a phone discards a page): the typed lead is lost.
    it('the scenario of closing the tab fails', { timeout: 60_000 }, async () => {
      await expect(runScenario(browser!, exitScenario('closing the tab'), withBrokenSnippet)).rejects.toThrow(/stored lead|exit beacon/);
    });

    // The broken build is the one running, and running: a reload fires beforeunload, and delivers.
    it('while the scenario of reloading, which fires beforeunload, passes', { timeout: 60_000 }, async () => {
      await runScenario(browser!, exitScenario('reloading'), withBrokenSnippet);
    });
  });
});
