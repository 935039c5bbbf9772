/**
 * What the built snippet must never contain, checked on the bundle itself (built here the way
 * build.mjs builds it): listeners that cost the back/forward cache, code that a strict
 * Content-Security-Policy forbids, and any global besides `funnelbeacon`.
 */
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

const bundle = build({
  entryPoints: ['snippet/src/index.ts'],
  bundle: true,
  minify: true,
  format: 'iife',
  target: ['es2019'],
  platform: 'browser',
  write: false,
  tsconfigRaw: {},
  supported: { 'dynamic-import': true },
}).then((result) => result.outputFiles[0]!.text);

describe('the snippet bundle', () => {
  it('never listens to unload or beforeunload', async () => {
    expect(await bundle).not.toMatch(/unload/i);
  });

  it('uses nothing a strict CSP forbids: no eval, no Function constructor, no string timers, no inline styles or HTML', async () => {
    const code = await bundle;
    expect(code).not.toMatch(/\beval\b|new Function|Function\(/);
    expect(code).not.toMatch(/setTimeout\(["'`]|setInterval\(["'`]/);
    expect(code).not.toMatch(/\.style\b|cssText|innerHTML|outerHTML|insertAdjacentHTML|document\.write/);
  });

  it('is one IIFE whose only global is funnelbeacon', async () => {
    const code = await bundle;
    expect(code.startsWith('(()=>{')).toBe(true);
    expect(code.trimEnd().endsWith('})();')).toBe(true);
    expect(code.match(/\.funnelbeacon=/g)).toHaveLength(1);
    expect(code).not.toMatch(/window\.(?!funnelbeacon\b)\w+=|globalThis|self\./);
  });

  it('takes nothing from zod or any other runtime dependency', async () => {
    const code = await bundle;
    expect(code).not.toMatch(/zod|ZodError|safeParse/);
  });
});
