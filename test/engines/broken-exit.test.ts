/**
 * The cross-engine scenarios catch a broken exit path: a build of the snippet whose exit beacon
 * goes only on `beforeunload` (the old way, which mobile browsers skip and which closing a tab
 * does not fire in automation or on a phone) fails them in the engines it breaks.
 */
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { build, type Plugin } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SNIPPET_BUILD } from '../../build.mjs';
import { ENGINES, type EngineBrowser, type EngineName } from '../../e2e/engines/driver.js';
import { launchEngine } from '../../e2e/engines/launch.js';
import { exitScenario, runScenario } from '../../e2e/engines/scenarios.js';
import type { Stack } from '../../e2e/support/stack.js';

const LEAVING = "on('pagehide visibilitychange pageshow', ({ type }) => {\n    if (type == 'pagehide' || document.hidden) {";
const ON_BEFOREUNLOAD = "on('beforeunload pageshow', ({ type }) => {\n    if (type == 'beforeunload') {";

/** snippet/src/index.ts with its leaving listener moved to beforeunload. */
const beforeunloadOnly: Plugin = {
  name: 'exit-on-beforeunload-only',
  setup(build) {
    build.onLoad({ filter: /snippet[\\/]src[\\/]index\.ts$/ }, async ({ path }) => {
      const source = await readFile(path, 'utf8');
      if (!source.includes(LEAVING)) throw new Error('snippet/src/index.ts no longer has the leaving listener this test rewrites');
      return { contents: source.replace(LEAVING, ON_BEFOREUNLOAD), loader: 'ts' };
    });
  },
};

/** Serves the broken snippet as /f.js, and the modules it loads beside it from dist/, as the collector does. */
async function serveBrokenSnippet(): Promise<{ origin: string; close(): Promise<void> }> {
  const result = await build({ ...SNIPPET_BUILD, write: false, metafile: false, plugins: [beforeunloadOnly] });
  const snippet = result.outputFiles[0]!.text;
  expect(snippet).toContain('beforeunload');
  const server = http.createServer(async (request, response) => {
    const name = new URL(request.url ?? '/', 'http://x').pathname;
    const body = name === '/f.js' ? snippet : /^\/[cdap]\.js$/.test(name) ? await readFile(`dist${name}`, 'utf8') : undefined;
    if (body === undefined) return void response.writeHead(404).end();
    response.writeHead(200, { 'Content-Type': 'text/javascript; charset=utf-8', 'Access-Control-Allow-Origin': '*' }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const chosen = (process.env.ENGINES?.split(',') ?? ENGINES) as EngineName[];

describe.sequential.each(chosen)('%s, with a snippet whose exit beacon goes only on beforeunload', (engine) => {
  let broken: Awaited<ReturnType<typeof serveBrokenSnippet>> | undefined;
  let browser: EngineBrowser | undefined;
  beforeAll(async () => {
    broken = await serveBrokenSnippet();
    browser = await launchEngine(engine);
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await broken?.close();
  }, 30_000);
  const withBrokenSnippet = (stack: Stack) => (stack.vars.COLLECTOR = broken!.origin);

  // Every engine closes a tab without beforeunload (as a phone discards one), so the typed lead is lost.
  it('the exit scenario of closing the tab fails', { timeout: 60_000 }, async () => {
    await expect(runScenario(browser!, exitScenario('closing the tab'), withBrokenSnippet)).rejects.toThrow(/stored lead|exit beacon/);
  });

  // The broken build is served and running: a reload, which fires beforeunload, still delivers.
  it('while the scenario of reloading, which fires beforeunload, passes', { timeout: 60_000 }, async () => {
    await runScenario(browser!, exitScenario('reloading'), withBrokenSnippet);
  });
});
