// Runs every benchmark in turn (`npm run bench` builds first), prints each one's figures and
// ratios, and rewrites the generated section of docs/BENCHMARKS.md (between the `bench:begin`
// and `bench:end` markers) with the machine, the command and the output of each.
//
//   node bench/run-all.mjs [--no-write]
//
// The ingest bench measures the collector on PostgreSQL beside SQLite when
// FUNNELBEACON_BENCH_POSTGRES_URL (or the test database, postgres://postgres@127.0.0.1:5432/test)
// answers; it says so and measures SQLite alone otherwise.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { 'no-write': { type: 'boolean' } } });
const postgresUrl = process.env.FUNNELBEACON_BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

const benches = [
  // The snippet's sizes (npm run bench has just built; this prints them again for the record).
  ['build.mjs', []],
  ['bench/ingest/run.mjs', []],
  ['bench/ingest/run.mjs', ['--rate', '500', '--seconds', '20']],
  // Its defaults: every section at the limits the goals name (about three minutes).
  ['dist/bench/delivery.js', []],
  ['dist/bench/sweeper.js', []],
  ['dist/bench/retention.js', []],
  ['dist/bench/dashboard.js', []],
  // The delivery accuracy check on a store that has just filled (PostgreSQL without statistics).
  ['dist/bench/accuracy.js', []],
];

const machine = () => {
  const cpus = os.cpus();
  return [
    `${cpus.length} cores (${cpus[0]?.model.trim()}), ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.versions.node}, ${os.type()} ${os.release()}`,
    `load average at start: ${os.loadavg().map((n) => n.toFixed(2)).join(', ')} (the machine is shared; ratios are measured against a baseline in the same run)`,
  ].join('\n');
};

const sections = [`Machine: ${machine()}\nRun at ${new Date().toISOString()} by \`npm run bench\`.`];
for (const [bench, args] of benches) {
  if (!existsSync(bench)) continue;
  const command = ['node', bench, ...args].join(' ').replace(postgresUrl, '$FUNNELBEACON_BENCH_POSTGRES_URL');
  console.log(`\n== ${command}`);
  const started = Date.now();
  const run = spawnSync('node', [bench, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 * 2 ** 20 });
  process.stdout.write(run.stdout);
  if (run.status !== 0) process.exit(run.status ?? 1);
  const load = os.loadavg()[0].toFixed(2);
  sections.push(`\`\`\`\n$ ${command}\n${run.stdout.trim()}\n\`\`\`\n(${((Date.now() - started) / 1000).toFixed(0)} s; load average ${load} when it ended)`);
}

if (!values['no-write']) {
  const file = 'docs/BENCHMARKS.md';
  const doc = readFileSync(file, 'utf8');
  const begin = '<!-- bench:begin (written by npm run bench; edit around it, not in it) -->';
  const end = '<!-- bench:end -->';
  const generated = `${begin}\n\n${sections.join('\n\n')}\n\n${end}`;
  const at = doc.indexOf(begin.slice(0, 16));
  const next = at >= 0 ? doc.slice(0, at) + generated + doc.slice(doc.indexOf(end) + end.length) : `${doc.trimEnd()}\n\n## Latest run\n\n${generated}\n`;
  writeFileSync(file, next);
  console.log(`\n${file}: generated section rewritten`);
}
