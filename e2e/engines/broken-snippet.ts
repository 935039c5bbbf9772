/**
 * @module broken-snippet
 * A deliberately broken snippet, to prove that the cross-engine scenarios catch a broken exit
 * path: built from the shipped sources and options, except that its exit beacon goes only on
 * `beforeunload` (the old way, which mobile browsers skip and which closing a tab does not fire).
 * Served as `/f.js` with the modules it loads beside it, as the collector serves the real one: a
 * scenario points the fixture pages at it (`stack.vars.COLLECTOR`).
 */
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { build, type Plugin } from 'esbuild';
import { SNIPPET_BUILD } from '../../build.mjs';

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
export async function serveBrokenSnippet(): Promise<{ origin: string; close(): Promise<void> }> {
  const result = await build({ ...SNIPPET_BUILD, write: false, metafile: false, plugins: [beforeunloadOnly] });
  const snippet = result.outputFiles[0]!.text;
  if (!snippet.includes('beforeunload')) throw new Error('the broken snippet was not built');
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

