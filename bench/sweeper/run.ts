/**
 * bench/sweeper: the time of one sweep with 10,000 and with 1,000,000 stored sessions, the same
 * number due in both, on the embedded SQLite store. The sweeper reads due sessions through an
 * index, so the ratio should stay near 1 (budget: at most 2).
 *
 *   npm run build && node dist/bench/sweeper.js [--due 1000]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { Sweeper } from '../../collector/abandonment/sweeper.js';
import { systemClock } from '../../collector/clock.js';
import { parseConfig } from '../../collector/config.js';
import { createLogger } from '../../collector/logger.js';
import { SqliteStore } from '../../collector/store/sqlite-store.js';

const { values } = parseArgs({ options: { due: { type: 'string', default: '1000' }, runs: { type: 'string', default: '3' } } });
const due = Number(values.due);
const runs = Number(values.runs);
const NOW = Date.UTC(2026, 10, 23, 12);
const config = (() => {
  const result = parseConfig({ ABANDON_AFTER: '30m' });
  if (!result.ok) throw new Error(result.problems.join('\n'));
  return result.config;
})();

/** Fills a store with `stored` sessions, `due` of them idle past ABANDON_AFTER with a cart and an email. */
async function seed(path: string, stored: number): Promise<void> {
  const store = new SqliteStore(path);
  await store.migrate();
  await store.close();
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = OFF');
  const insert = db.prepare(
    `INSERT INTO sessions (id, campaign_id, created_at, last_seen_at, user_agent, ip, lead, cart, state, state_changed_at, due_at)
     VALUES (?, '12', ?, ?, 'Mozilla/5.0', '203.0.113.9', ?, ?, ?, ?, ?)`,
  );
  const lead = JSON.stringify({ firstName: 'Ann', lastName: 'Lee', emailAddress: 'ann@example.com' });
  const cart = JSON.stringify({ items: [{ id: '41', name: 'Bottle', price: 39.95, qty: 1 }], currency: 'USD' });
  const fill = db.transaction((from: number, to: number) => {
    for (let i = from; i < to; i++) {
      const isDue = i < due;
      // Not due: most are finished (no due time), the rest are active and due in the future.
      const lastSeen = isDue ? NOW - 31 * 60_000 : NOW - (i % 1000) * 1000;
      const dueAt = isDue ? lastSeen + 30 * 60_000 : i % 10 === 0 ? lastSeen + 30 * 60_000 + 60_000 : null;
      insert.run(`s${i}`, lastSeen, lastSeen, lead, cart, i % 10 === 0 || isDue ? 'open' : 'complete', lastSeen, dueAt);
    }
  });
  for (let from = 0; from < stored; from += 50_000) fill(from, Math.min(stored, from + 50_000));
  db.close();
}

/** One sweep of `due` sessions, timed; the due times are put back between runs. */
async function timeSweep(path: string): Promise<number[]> {
  const times: number[] = [];
  for (let run = 0; run < runs; run++) {
    const db = new Database(path);
    db.prepare("UPDATE sessions SET due_at = last_seen_at + 1800000, state = 'open' WHERE rowid <= ?").run(due);
    db.prepare('DELETE FROM outbox').run();
    db.close();
    const store = new SqliteStore(path);
    const sweeper = new Sweeper({ store, config, clock: { ...systemClock, now: () => NOW }, logger: createLogger('silent') });
    const started = performance.now();
    const seen = await sweeper.sweepOnce();
    times.push(performance.now() - started);
    if (seen !== due) throw new Error(`swept ${seen} sessions, expected ${due}`);
    await store.close();
  }
  return times;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const dir = mkdtempSync(join(tmpdir(), 'funnelbeacon-sweeper-bench-'));
const rows: Record<string, string | number>[] = [];
const medians: number[] = [];
try {
  for (const stored of [10_000, 1_000_000]) {
    const path = join(dir, `sweep-${stored}.db`);
    const seeded = performance.now();
    await seed(path, stored);
    const seedMs = performance.now() - seeded;
    const times = await timeSweep(path);
    medians.push(median(times));
    rows.push({ 'stored sessions': stored, due, 'sweep ms (median)': median(times).toFixed(1), 'runs ms': times.map((t) => t.toFixed(1)).join(' / '), 'seed s': (seedMs / 1000).toFixed(1) });
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
console.log(`sweeper benchmark: one sweep of ${due} due sessions (each queues a purchase recheck), SQLite store, median of ${runs}`);
console.table(rows);
console.log(`ratio 1M / 10k stored: ${(medians[1]! / medians[0]!).toFixed(2)} (budget <= 2)`);
