/**
 * bench/soak: 100,000 hostile and valid requests (30% valid) against the real collector
 * (`node dist/cli.js serve`, sandbox mode), its RSS read from /proc/<pid>/status. Prints the RSS
 * curve (one line per 10% of the run) and the peak of each quarter. CI runs the same soak with
 * fewer requests (test/fault/soak.test.ts).
 *
 *   npm run build && node dist/bench/soak.js [--requests 100000] [--database postgres://...]
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { quarterPeaks, soak } from '../../test/fault/support.js';

const { values } = parseArgs({ options: { requests: { type: 'string', default: '100000' }, database: { type: 'string' } } });
const count = Number(values.requests);
const databaseUrl = values.database ?? `file:${join(mkdtempSync(join(tmpdir(), 'funnelbeacon-soak-')), 'collector.db')}`;
const result = await soak(databaseUrl, count);
const rows: Record<string, string | number>[] = [];
for (let decile = 0; decile <= 10; decile++) {
  const target = (count * decile) / 10;
  const point = result.curve.find(([answered]) => answered >= target) ?? result.curve.at(-1)!;
  rows.push({ 'requests answered': point[0], 'RSS MB': point[1].toFixed(0) });
}
console.table(rows);
console.log(`statuses: ${[...result.statuses].sort(([a], [b]) => a - b).map(([status, n]) => `${status}: ${n}`).join(', ')}`);
console.log(`RSS peak by quarter: ${quarterPeaks(result).map((mb) => mb.toFixed(0)).join(' / ')} MB; ${count} requests in ${result.seconds.toFixed(0)} s`);
