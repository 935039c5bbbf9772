// The durable floor: the least any ingest endpoint with funnelbeacon's guarantee can do on this
// machine and stack, as a second reference beside the bare endpoint. It reads the body, parses
// the JSON, writes each event as one row (its id, a session id, its type and its JSON) into SQLite
// in WAL mode, groups the requests of one turn of the event loop into one transaction, fsyncs
// the WAL on libuv's thread pool (as the collector's SQLite store does) and only then answers 202.
// No validation, no session, no rate limit, no Import Click, no relay: whatever the collector
// spends above this figure is its own work; above it, no collector on this store that keeps
// "a 2xx means the events are on disk" can go on this machine.
//
// FLOOR_SHAPE=rows: the rows the collector cannot do without, and nothing else: per request, the
// session row written (inserted, or updated when the body names one), each event's row, and one
// queued job row. Still no checks, no tokens, no relay.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve } from '@hono/node-server';
import Database from 'better-sqlite3';
import { Hono } from 'hono';

const dir = mkdtempSync(join(tmpdir(), 'funnelbeacon-floor-'));
const path = join(dir, 'floor.db');
const db = new Database(path);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = NORMAL');
db.exec('CREATE TABLE events (id TEXT PRIMARY KEY, session_id TEXT NOT NULL, type TEXT NOT NULL, body TEXT NOT NULL)');
db.exec('CREATE TABLE sessions (id TEXT PRIMARY KEY, updated_at INTEGER NOT NULL, body TEXT NOT NULL)');
db.exec('CREATE TABLE jobs (id INTEGER PRIMARY KEY, session_id TEXT NOT NULL, run_at INTEGER NOT NULL, body TEXT NOT NULL)');
db.exec('CREATE INDEX jobs_due ON jobs (run_at)');
const insert = db.prepare('INSERT INTO events (id, session_id, type, body) VALUES (?, ?, ?, ?)');
const upsertSession = db.prepare('INSERT INTO sessions (id, updated_at, body) VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE SET updated_at = excluded.updated_at, body = excluded.body');
const queueJob = db.prepare('INSERT INTO jobs (session_id, run_at, body) VALUES (?, ?, ?)');
const withRows = process.env.FLOOR_SHAPE === 'rows';
const writeGroup = db.transaction((group) => {
  const now = Date.now();
  for (const { session, events } of group) {
    for (const event of events) insert.run(event.id, session, event.type, JSON.stringify(event));
    if (withRows) {
      upsertSession.run(session, now, JSON.stringify(events[events.length - 1]));
      queueJob.run(session, now, '{}');
    }
  }
});
// The tables above were written to the WAL, so its file exists.
const wal = await open(`${path}-wal`, 'r');

/** Requests of one turn of the event loop share one transaction and one fsync. */
let queue = [];
let scheduled = false;
function submit(item) {
  return new Promise((resolve, reject) => {
    queue.push({ item, resolve, reject });
    if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
  });
}
async function flush() {
  scheduled = false;
  const group = queue;
  queue = [];
  try {
    writeGroup(group.map((waiting) => waiting.item));
    await wal.sync();
    for (const waiting of group) waiting.resolve();
  } catch (error) {
    for (const waiting of group) waiting.reject(error);
  }
}

const app = new Hono();
app.post('/v1/events', async (c) => {
  const body = JSON.parse(await c.req.text());
  const session = body.session ?? randomUUID();
  await submit({ session, events: body.events });
  return c.json({ session }, 202);
});
serve({ fetch: app.fetch, port: Number(process.env.PORT ?? 0), hostname: '127.0.0.1' }, (info) => {
  process.stdout.write(`listening ${info.port}\n`);
});
process.on('SIGTERM', () => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
  process.exit(0);
});
