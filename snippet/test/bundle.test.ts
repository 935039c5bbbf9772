/**
 * What the built snippet must never contain, checked on the bundle itself (built in memory from
 * build.mjs's own options, so it is the bundle that ships): listeners that cost the
 * back/forward cache, code that a strict Content-Security-Policy forbids, and any global besides
 * `funnelbeacon`.
 */
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { SNIPPET_BUILD } from '../../build.mjs';

const bundle = build({ ...SNIPPET_BUILD, write: false }).then((result) => result.outputFiles[0]!.text);

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
