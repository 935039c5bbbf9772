/**
 * bench/retention: the longest ingest stall while the retention purge deletes about 1,000,000
 * old rows from the embedded SQLite store.
 *
 * Seeds a store with finished sessions from 60 days ago (events, clicks, states, some sent CARTs
 * with their done jobs and delivery attempts), starts the real collector on it (`node
 * dist/cli.js serve`, RETENTION_DAYS=30, first purge a few seconds after start) and keeps
 * posting new visitors' events from this process at a steady rate during the whole purge. Prints request
 * latencies before and during the purge, and the longest time without any answer.
 *
 *   npm run build && node dist/bench/retention.js [--rows 1000000] [--rate 200]
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { SqliteStore } from '../../collector/store/sqlite-store.js';

const { values } = parseArgs({
  options: { rows: { type: 'string', default: '1000000' }, rate: { type: 'string', default: '200' }, timeout: { type: 'string', default: '300' } },
});
const targetRows = Number(values.rows);
const rate = Number(values.rate);
const DAY = 24 * 60 * 60_000;
const OLD = Date.now() - 60 * DAY;
const UA = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
// Rows per seeded session: 1 session, 3 events, 2 clicks, 2 states; every 4th also a sent CART
// emission, a done job and its delivery attempt.
const ROWS_PER_SESSION = 8 + 3 / 4;

async function seed(path: string): Promise<{ sessions: number; rows: number; seconds: number }> {
  const started = performance.now();
  const store = new SqliteStore(path);
  await store.migrate();
  await store.close();
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = OFF');
  const sessions = Math.round(targetRows / ROWS_PER_SESSION);
  const lead = JSON.stringify({ firstName: 'Ann', lastName: 'Lee', emailAddress: 'ann@example.com' });
  const cart = JSON.stringify({ items: [{ id: '41', name: 'Bottle', price: 39.95, qty: 1 }], currency: 'USD' });
  const insertSession = db.prepare(
    `INSERT INTO sessions (id, campaign_id, created_at, last_seen_at, user_agent, ip, lead, cart, state, state_changed_at)
     VALUES (?, '12', ?, ?, ?, '203.0.113.9', ?, ?, ?, ?)`,
  );
  const insertEvent = db.prepare('INSERT INTO events (id, session_id, type, received_at, payload) VALUES (?, ?, ?, ?, ?)');
  const insertClick = db.prepare('INSERT INTO session_clicks (session_id, page) VALUES (?, ?)');
  const insertState = db.prepare('INSERT INTO session_states (session_id, state, at) VALUES (?, ?, ?)');
  const insertEmission = db.prepare(
    "INSERT INTO emissions (session_id, kind, status, payload, created_at, updated_at) VALUES (?, 'cart', 'sent', ?, ?, ?)",
  );
  const insertJob = db.prepare(
    "INSERT INTO outbox (session_id, upstream, kind, payload, state, attempts, run_at, created_at, updated_at) VALUES (?, 'activecampaign', 'ac.cart', '{}', 'done', 1, ?, ?, ?)",
  );
  const insertAttempt = db.prepare(
    `INSERT INTO delivery_attempts (job_id, upstream, endpoint, request, response, outcome, http_status, latency_ms, created_at)
     VALUES (?, 'activecampaign', '/api/3/ecomOrders', '{"email":"[redacted]"}', '{"ecomOrder":{"id":"1"}}', 'ok', 201, 120, ?)`,
  );
  let rows = 0;
  const fill = db.transaction((from: number, to: number) => {
    for (let i = from; i < to; i++) {
      const id = `old-${i}`;
      const at = OLD + i * 10;
      const abandoned = i % 4 === 0;
      insertSession.run(id, at, at + 60_000, UA, lead, cart, abandoned ? 'abandoned' : i % 2 ? 'complete' : 'expired', at + 1_800_000);
      for (const [n, page] of ['presell', 'checkout', 'exit'].entries()) {
        insertEvent.run(`${id}-${n}`, id, page === 'exit' ? 'exit' : 'page', at + n, JSON.stringify({ id: `${id}-${n}`, type: 'page', page, url: 'https://offer.example/' }));
      }
      insertClick.run(id, 'presell');
      insertClick.run(id, 'checkout');
      insertState.run(id, 'open', at);
      insertState.run(id, abandoned ? 'abandoned' : 'complete', at + 1_800_000);
      rows += 8;
      if (abandoned) {
        insertEmission.run(id, JSON.stringify({ totalCents: 3995, currency: 'USD' }), at + 1_800_000, at + 1_800_000);
        const job = Number(insertJob.run(id, at + 1_800_000, at + 1_800_000, at + 1_800_000).lastInsertRowid);
        insertAttempt.run(job, at + 1_800_000);
        rows += 3;
      }
    }
  });
  for (let from = 0; from < sessions; from += 20_000) fill(from, Math.min(sessions, from + 20_000));
  db.pragma('wal_checkpoint(TRUNCATE)');
  // The purge's session scan must be an index range, not a table scan.
  const plan = db
    .prepare(
      `EXPLAIN QUERY PLAN SELECT s.id FROM sessions s WHERE s.created_at < ? AND (s.created_at, s.id) > (?, ?)
         AND s.last_seen_at < ? AND s.due_at IS NULL ORDER BY s.created_at, s.id LIMIT 200`,
    )
    .all(0, 0, '', 0) as { detail: string }[];
  console.log(`purge scan plan: ${plan.map((row) => row.detail).join(' / ')}`);
  db.close();
  return { sessions, rows, seconds: (performance.now() - started) / 1000 };
}

interface Sample {
  start: number;
  end: number;
  status: number;
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? 0;

function stats(samples: Sample[]) {
  const latencies = samples.map((s) => s.end - s.start).sort((a, b) => a - b);
  let gap = 0;
  const ends = samples.map((s) => s.end).sort((a, b) => a - b);
  for (let i = 1; i < ends.length; i++) gap = Math.max(gap, ends[i]! - ends[i - 1]!);
  return {
    requests: samples.length,
    'non-2xx': samples.filter((s) => s.status !== 200).length,
    'p50 ms': percentile(latencies, 50).toFixed(1),
    'p99 ms': percentile(latencies, 99).toFixed(1),
    'max ms': (latencies.at(-1) ?? 0).toFixed(1),
    'longest gap between answers ms': gap.toFixed(1),
  };
}

const dir = mkdtempSync(join(tmpdir(), 'funnelbeacon-retention-bench-'));
const database = join(dir, 'collector.db');
try {
  const seeded = await seed(database);
  console.log(
    `seeded ${seeded.sessions} finished sessions from 60 days ago: ${seeded.rows} rows in ${seeded.seconds.toFixed(1)} s, ` +
      `${(statSync(database).size / 1e6).toFixed(0)} MB (${Math.round(statSync(database).size / seeded.sessions)} B per session)`,
  );

  const child = spawn(process.execPath, ['dist/cli.js', 'serve'], {
    env: {
      PATH: process.env.PATH,
      PORT: '0',
      HOST: '127.0.0.1',
      DATABASE_URL: `file:${database}`,
      LOG_LEVEL: 'info',
      RATE_LIMIT_PER_MINUTE: '100000000',
      RATE_LIMIT_BYTES_PER_MINUTE: '100000000000',
      RETENTION_DAYS: '30',
      RETENTION_EVERY: '4s',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let output = '';
  let purge: { sessions: number; rows: number; batches: number; longestBatchMs: number; ms: number; time: string } | undefined;
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk;
      const match = /"port":(\d+)/.exec(output);
      if (match) resolve(Number(match[1]));
      for (const line of output.split('\n')) {
        if (!purge && line.includes('retention purge done')) purge = JSON.parse(line);
      }
    });
    child.on('exit', () => reject(new Error(`collector exited: ${output}`)));
  });

  // Open loop at a steady rate (a request leaves on schedule whether or not the previous ones
  // were answered), so a stall shows as the latency of the requests it held, not as fewer requests.
  const samples: Sample[] = [];
  let stopAt = Date.now() + Number(values.timeout) * 1000;
  const interval = 1000 / rate;
  let inFlight = 0;
  const send = async () => {
    inFlight++;
    const start = performance.now();
    try {
      const res = await fetch(`http://127.0.0.1:${port}/v1/events`, {
        method: 'POST',
        headers: { 'content-type': 'text/plain', origin: 'http://localhost:5173', 'user-agent': UA },
        body: JSON.stringify({ events: [{ id: randomUUID(), type: 'page', page: 'presell', url: 'https://offer.example/?affId=1' }] }),
      });
      await res.arrayBuffer();
      samples.push({ start, end: performance.now(), status: res.status });
    } catch {
      samples.push({ start, end: performance.now(), status: 0 });
    } finally {
      inFlight--;
    }
  };
  await new Promise<void>((resolve) => {
    const begun = performance.now();
    let sent = 0;
    const timer = setInterval(() => {
      if (purge && stopAt > Date.now() + 2_000) stopAt = Date.now() + 2_000;
      if (Date.now() >= stopAt) {
        clearInterval(timer);
        const wait = setInterval(() => {
          if (inFlight === 0) {
            clearInterval(wait);
            resolve();
          }
        }, 10);
        return;
      }
      while (sent < (performance.now() - begun) / interval && inFlight < 256) {
        sent++;
        void send();
      }
    }, 2);
  });
  child.kill('SIGTERM');
  await new Promise((resolve) => child.on('exit', resolve));
  if (!purge) throw new Error('no purge reported before the timeout');

  // performance.now() of this process and the log's wall-clock time share an origin offset.
  const offset = Date.now() - performance.now();
  const purgeEnd = Date.parse(purge.time) - offset;
  const purgeStart = purgeEnd - purge.ms;
  // The first 1.5 s warm the collector up (JIT, first WAL pages); the baseline starts after them.
  const warm = samples.length > 0 ? Math.min(...samples.map((s) => s.start)) + 1_500 : 0;
  const before = samples.filter((s) => s.start >= warm && s.end < purgeStart);
  const during = samples.filter((s) => s.end >= purgeStart && s.start <= purgeEnd);
  console.table([
    { phase: 'before the purge', ...stats(before) },
    { phase: 'during the purge', ...stats(during) },
  ]);
  console.log(
    `purge: ${purge.sessions} sessions, ${purge.rows} rows in ${(purge.ms / 1000).toFixed(1)} s (${Math.round(purge.rows / (purge.ms / 1000))} rows/s), ` +
      `${purge.batches} transactions, longest ${purge.longestBatchMs} ms`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
