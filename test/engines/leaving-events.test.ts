/**
 * Nothing in the snippet depends on what a phone does not have or a mobile browser does not
 * fire: no hover (mouseover, mouseenter, mousemove and the like, or a `:hover`/`(hover)` query),
 * no `unload` and no `beforeunload` (which also keep a page out of the back/forward cache). The
 * code is read without its comments (esbuild strips them), in every source file and in every
 * bundle that ships. The cross-engine scenarios are the behavioural half: exit delivery works
 * without these events in Chromium, Firefox and WebKit.
 */
import { readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { build, transform } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { SNIPPET_BUILD } from '../../build.mjs';

const FORBIDDEN = /unload|hover|mouse(?:over|out|enter|leave|move)/gi;
const SOURCES = readdirSync('snippet/src').filter((name) => name.endsWith('.ts'));
/** The snippet and the modules it imports on demand (build.mjs). */
const ENTRIES = ['index', 'lead-capture', 'cross-domain', 'attribution-capture', 'prefill'];

describe('the snippet never depends on hover, unload or beforeunload', () => {
  it.each(SOURCES)('snippet/src/%s', async (name) => {
    const { code } = await transform(await readFile(`snippet/src/${name}`, 'utf8'), { loader: 'ts', minifyWhitespace: true });
    expect(code.match(FORBIDDEN) ?? []).toEqual([]);
  });

  it.each(ENTRIES)('the bundle of snippet/src/%s.ts', async (entry) => {
    const result = await build({
      ...SNIPPET_BUILD,
      entryPoints: [`snippet/src/${entry}.ts`],
      format: entry === 'index' ? 'iife' : 'esm',
      write: false,
      metafile: false,
    });
    expect(result.outputFiles[0]!.text.match(FORBIDDEN) ?? []).toEqual([]);
  });

  it('finds the pattern where it is: the test would see a listener on unload or hover', async () => {
    const { code } = await transform("addEventListener('beforeunload', f); addEventListener('mouseenter', g); matchMedia('(hover: hover)')", { loader: 'ts', minifyWhitespace: true });
    expect(code.match(FORBIDDEN)).toEqual(['unload', 'mouseenter', 'hover', 'hover']);
  });
});
