// Bundles bench/store-statements/run.ts for node (like build.mjs does for the other TypeScript
// benchmarks) and runs it, passing the arguments on.
import { spawnSync } from 'node:child_process';
import { build } from 'esbuild';

const outfile = 'dist/bench/store-statements.js';
await build({ entryPoints: ['bench/store-statements/run.ts'], outfile, bundle: true, platform: 'node', target: 'node20', format: 'esm', packages: 'external' });
const { status } = spawnSync('node', [outfile, ...process.argv.slice(2)], { stdio: 'inherit' });
process.exit(status ?? 1);
