// Runs every benchmark in turn. Each prints its own figures and ratios.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

for (const bench of ['bench/ingest/run.mjs', 'dist/bench/delivery.js', 'dist/bench/sweeper.js', 'dist/bench/retention.js', 'dist/bench/dashboard.js']) {
  if (!existsSync(bench)) continue;
  console.log(`\n== ${bench}`);
  const { status } = spawnSync('node', [bench], { stdio: 'inherit' });
  if (status !== 0) process.exit(status ?? 1);
}
