// Builds the artefacts with esbuild and reports the snippet's size against its budget:
//   dist/f.js    the browser snippet, one minified IIFE (served by the collector at /f.js)
//   dist/p.js    the recovery prefill, a small ES module the snippet imports only on a recovery
//                landing (served at /p.js), with its own budget
//   dist/c.js    the lead capture (field recognition, card-data exclusions), an ES module the
//                snippet imports only on a page that has form fields (served at /c.js), with its
//                own budget
//   dist/d.js    the cross-domain link decoration, an ES module the snippet imports only on a
//                page with `data-domains` (served at /d.js), with its own budget
//   dist/a.js    the attribution capture (click ids, affiliate and UTM values, ad cookies), an
//                ES module the snippet imports only when a page may have something new to tell
//                the ad platforms (served at /a.js), with its own budget
//   dist/cli.js  the collector and its CLI, for `node dist/cli.js serve`
//   dist/dashboard/app.js, app.css  the Preact dashboard (served by the collector at /dashboard/)
//   dist/bench/  the TypeScript benchmarks (bench/*/run.ts), for `npm run bench`
// Usage: node build.mjs [--watch]
import { build, context } from 'esbuild';
import { chmodSync, existsSync, readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { gzipSync, brotliCompressSync, constants as zlib } from 'node:zlib';

const SNIPPET_GZIP_BUDGET = 2200;
const SNIPPET_GZIP_GOAL = 2000;
const PREFILL_GZIP_BUDGET = 1200;
const CAPTURE_GZIP_BUDGET = 900;
const CROSS_DOMAIN_GZIP_BUDGET = 400;
const ATTRIBUTION_GZIP_BUDGET = 900;
const isWatch = process.argv.includes('--watch');
// The V8 flags `serve` needs for its memory budget (collector/node-flags.ts), in the CLI's shebang.
const SERVE_NODE_FLAGS = [...readFileSync('collector/node-flags.ts', 'utf8').match(/SERVE_NODE_FLAGS = \[(.*)\] as const/)[1].matchAll(/'([^']+)'/g)].map((m) => m[1]);

/**
 * The snippet as it ships (dist/f.js). snippet/test/bundle.test.ts builds these very options (in
 * memory), so what it checks is the bundle that ships.
 */
export const SNIPPET_BUILD = Object.freeze({
  entryPoints: ['snippet/src/index.ts'],
  outfile: 'dist/f.js',
  bundle: true,
  minify: true,
  format: 'iife',
  target: ['es2019'],
  platform: 'browser',
  legalComments: 'none',
  metafile: true,
  // The snippet's own compiler settings: without the repository's `strict`, esbuild does not
  // prepend "use strict" (the IIFE needs none), and nothing else in tsconfig.json matters here.
  tsconfigRaw: {},
  // `import()` of the prefill module (every browser with es2019 has it); the one ES2020 feature.
  supported: { 'dynamic-import': true },
});

const configs = [];

if (existsSync('snippet/src/index.ts')) {
  configs.push({ ...SNIPPET_BUILD });
}

// The files the snippet loads on demand: ES modules, beside it (capture, cross-domain links, and
// the recovery prefill that only a page reached by a recovery link imports).
for (const [entry, outfile] of [
  ['snippet/src/lead-capture.ts', 'dist/c.js'],
  ['snippet/src/cross-domain.ts', 'dist/d.js'],
  ['snippet/src/attribution-capture.ts', 'dist/a.js'],
  ['snippet/src/prefill.ts', 'dist/p.js'],
]) {
  if (!existsSync(entry)) continue;
  configs.push({
    entryPoints: [entry],
    outfile,
    bundle: true,
    minify: true,
    format: 'esm',
    target: ['es2019'],
    platform: 'browser',
    legalComments: 'none',
    tsconfigRaw: {},
  });
}

configs.push({
  entryPoints: ['collector/cli.ts'],
  outfile: 'dist/cli.js',
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  packages: 'external',
  sourcemap: true,
  banner: { js: `#!/usr/bin/env -S node ${SERVE_NODE_FLAGS.join(' ')}` },
});

// The dashboard: one ES module and one stylesheet, no CDN, no font, nothing inline (strict CSP).
if (existsSync('collector/dashboard/ui/main.tsx')) {
  configs.push({
    entryPoints: { app: 'collector/dashboard/ui/main.tsx' },
    outdir: 'dist/dashboard',
    bundle: true,
    minify: true,
    format: 'esm',
    target: ['es2020'],
    platform: 'browser',
    jsx: 'automatic',
    jsxImportSource: 'preact',
    legalComments: 'none',
    sourcemap: false,
  });
}

// Benchmarks written in TypeScript import collector modules directly; bundle them for node.
for (const [name, entry] of [['sweeper', 'bench/sweeper/run.ts'], ['delivery', 'bench/delivery/run.ts'], ['retention', 'bench/retention/run.ts'], ['soak', 'bench/soak/run.ts'], ['dashboard', 'bench/dashboard/run.ts'], ['accuracy', 'bench/accuracy/run.ts'], ['ingest-collector', 'bench/ingest/collector-entry.ts']]) {
  if (!existsSync(entry)) continue;
  configs.push({
    entryPoints: [entry],
    outfile: `dist/bench/${name}.js`,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    packages: 'external',
  });
}

// Imported (for SNIPPET_BUILD), it builds nothing.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();

async function main() {
  async function runBuild(config) {
    if (isWatch) {
      const ctx = await context(config);
      await ctx.watch();
    } else {
      return build(config);
    }
  }

  const results = await Promise.all(configs.map(runBuild));
  // `funnelbeacon serve` and `./dist/cli.js serve` run it through its shebang, with the flags.
  if (existsSync('dist/cli.js')) chmodSync('dist/cli.js', 0o755);

  function sizes(file) {
    const code = readFileSync(file);
    return {
      raw: code.length,
      gzip: gzipSync(code, { level: 9 }).length,
      brotli: brotliCompressSync(code, { params: { [zlib.BROTLI_PARAM_QUALITY]: 11 } }).length,
    };
  }

  if (!isWatch && existsSync('dist/f.js')) {
    const { raw, gzip, brotli } = sizes('dist/f.js');
    console.log(`snippet dist/f.js: ${raw} B raw, ${gzip} B gzip, ${brotli} B brotli (budget ${SNIPPET_GZIP_BUDGET} B gzip, goal ${SNIPPET_GZIP_GOAL} B)`);
    // What each module of the snippet weighs in the minified bundle (before compression).
    const snippet = results.find((result) => result?.metafile?.outputs['dist/f.js'])?.metafile.outputs['dist/f.js'].inputs ?? {};
    console.log(`  by module (minified B): ${Object.entries(snippet).sort(([, a], [, b]) => b.bytesInOutput - a.bytesInOutput).map(([file, { bytesInOutput }]) => `${file.replace('snippet/src/', '')} ${bytesInOutput}`).join(', ')}`);
    if (gzip > SNIPPET_GZIP_BUDGET) {
      console.error(`snippet is ${gzip} B gzip, over the ${SNIPPET_GZIP_BUDGET} B budget`);
      process.exit(1);
    }
  }

  // Loaded only where needed (c.js on a page with form fields, d.js on a page with data-domains): counted apart.
  for (const [file, what, budget] of [
    ['dist/c.js', 'lead capture dist/c.js (pages with form fields)', CAPTURE_GZIP_BUDGET],
    ['dist/d.js', 'cross-domain links dist/d.js (pages with data-domains)', CROSS_DOMAIN_GZIP_BUDGET],
    ['dist/a.js', 'attribution capture dist/a.js (pages with something new for the ad platforms)', ATTRIBUTION_GZIP_BUDGET],
  ]) {
    if (isWatch || !existsSync(file)) continue;
    const { raw, gzip, brotli } = sizes(file);
    console.log(`${what}: ${raw} B raw, ${gzip} B gzip, ${brotli} B brotli (budget ${budget} B gzip)`);
    if (gzip > budget) {
      console.error(`${file} is ${gzip} B gzip, over the ${budget} B budget`);
      process.exit(1);
    }
  }

  if (!isWatch && existsSync('dist/p.js')) {
    // Loaded only on a recovery landing, never with the snippet: counted apart.
    const { raw, gzip, brotli } = sizes('dist/p.js');
    console.log(`recovery prefill dist/p.js (on demand): ${raw} B raw, ${gzip} B gzip, ${brotli} B brotli (budget ${PREFILL_GZIP_BUDGET} B gzip)`);
    if (gzip > PREFILL_GZIP_BUDGET) {
      console.error(`recovery prefill is ${gzip} B gzip, over the ${PREFILL_GZIP_BUDGET} B budget`);
      process.exit(1);
    }
  }
}
