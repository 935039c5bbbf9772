/**
 * PostgreSQL's set-based commit groups (postgres-group-write.ts), through the real ingest path
 * (GroupCommitter over a real PostgresStore): what a group sees of its own writes, what a failing
 * request costs its neighbours, what happens when another collector writes a row of the group
 * between its read and its write, and how many round trips and statements a group costs.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { testPostgres } from '../../test/support/postgres.js';
import type { IngestOutcome, IngestRequest } from '../ingest/apply-batch.js';
import { GroupCommitter } from '../ingest/group-commit.js';
import { newSessionId } from '../tokens.js';
import type { FunnelEvent } from '../wire-schema.js';
import type { GroupWrites } from './group-tx.js';
import { writeStatements } from './postgres-group-write.js';
import { PostgresStore } from './postgres-store.js';

const postgres = await testPostgres();
const T0 = 1_700_000_000_000;

const page = (page: 'presell' | 'lead' | 'checkout' = 'presell'): FunnelEvent => ({ id: randomUUID(), type: 'page', page, url: `https://offer.example/${page}` });
const lead = (fields: Record<string, string>): FunnelEvent => ({ id: randomUUID(), type: 'lead', fields });
const request = (overrides: Partial<IngestRequest> = {}): IngestRequest => ({
  mode: 'new',
  sessionId: newSessionId(T0),
  campaignId: '12',
  ip: '203.0.113.7',
  userAgent: 'Mozilla/5.0',
  isBot: false,
  receivedAt: T0,
  events: [page()],
  ...overrides,
});
const ok = (outcome: IngestOutcome) => {
  if (!outcome.ok) throw new Error(`refused: ${outcome.code}`);
  return outcome;
};

describe.skipIf(postgres.skip !== undefined)('PostgreSQL commit groups', () => {
  let schema: string;
  let store: PostgresStore;
  let groups: number;

  beforeEach(async () => {
    schema = postgres.newSchema();
    store = PostgresStore.fromUrl(postgres.url, { schema });
    await store.migrate();
    groups = 0;
    const groupTransaction = store.groupTransaction.bind(store);
    store.groupTransaction = (reads, fn) => {
      groups++;
      return groupTransaction(reads, fn);
    };
  });
  afterEach(() => store.close());
  afterAll(() => postgres.dropSchemas());

  it('writes a group of new visitors in one transaction and two round trips, whatever its size', async () => {
    const committer = new GroupCommitter(store);
    const before = store.roundTrips;
    const outcomes = await Promise.all(Array.from({ length: 40 }, () => committer.submit(request())));
    expect(outcomes.every((outcome) => ok(outcome).accepted === 1 && ok(outcome).jobs === 1)).toBe(true);
    expect(groups).toBe(1);
    // One pipelined batch of BEGIN and the reads, one of the writes and COMMIT.
    expect(store.roundTrips - before).toBe(2);
    expect(store.counts().ingest).toEqual({ roundTrips: 2, commits: 1 });
    expect(await store.countSessions()).toBe(40);
    expect((await store.listJobs({})).map((job) => job.kind)).toEqual(Array(40).fill('konnektive.click'));
  });

  it('lets two requests of one group on one session see each other, in the order they came', async () => {
    const committer = new GroupCommitter(store);
    const first = ok(await committer.submit(request()));
    const id = first.session.id;
    const existing = (events: FunnelEvent[], receivedAt: number) => request({ mode: 'existing', sessionId: id, events, receivedAt });
    const [a, b] = await Promise.all([
      committer.submit(existing([page('lead'), lead({ firstName: 'Ann', emailAddress: 'ann@example.com' })], T0 + 1000)),
      committer.submit(existing([page('lead'), lead({ lastName: 'Lee' })], T0 + 2000)),
    ]);
    expect(groups).toBe(2);
    // The second saw the first's click (no second Import Click for the lead page) and its lead
    // fields (together they make a lead Konnektive can import: one Import Lead).
    expect(ok(a!).jobs).toBe(1);
    expect(ok(b!).jobs).toBe(1);
    expect(ok(b!).session.lead).toEqual({ firstName: 'Ann', emailAddress: 'ann@example.com', lastName: 'Lee' });
    const stored = await store.getSession(id);
    expect(stored).toMatchObject({ lead: { firstName: 'Ann', emailAddress: 'ann@example.com', lastName: 'Lee' }, leadVersion: 2, eventCount: 5, lastSeenAt: T0 + 2000 });
    expect((await store.listEvents(id)).map((event) => event.type)).toEqual(['page', 'page', 'lead', 'page', 'lead']);
    // Job ids follow the order the jobs were queued.
    const jobs = await store.listJobs({ sessionId: id });
    expect(jobs.map((job) => [job.kind, (job.payload as { page?: string }).page])).toEqual([
      ['konnektive.click', 'presell'],
      ['konnektive.click', 'lead'],
      ['konnektive.lead', undefined],
    ]);
  });

  it('refuses a failing request alone, in the same transaction, and keeps none of its writes', async () => {
    const committer = new GroupCommitter(store);
    const taken = request();
    const results = await Promise.allSettled([
      committer.submit(request()),
      committer.submit(taken),
      // A second new session under an id the group already used: its insert fails.
      committer.submit(request({ sessionId: taken.sessionId, events: [page(), page('lead')] })),
      committer.submit(request()),
    ]);
    expect(results.map((result) => result.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    expect(groups).toBe(1);
    expect(await store.countSessions()).toBe(3);
    expect(Number((await store.sql().all<{ n: number }>('SELECT COUNT(*) AS n FROM events'))[0]!.n)).toBe(3);
  });

  it('writes the group again the slow way when PostgreSQL refuses a value, refusing only that request', async () => {
    const committer = new GroupCommitter(store);
    const before = store.roundTrips;
    // A NUL character is valid JSON and JavaScript but no PostgreSQL text: the set-based insert of
    // the sessions fails for the whole group, and no request can be blamed for it yet.
    const results = await Promise.allSettled([
      committer.submit(request()),
      committer.submit(request({ events: [{ id: randomUUID(), type: 'page', page: 'presell', url: 'https://offer.example/\u0000' }] })),
      committer.submit(request()),
    ]);
    expect(results.map((result) => result.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(await store.countSessions()).toBe(2);
    // The set-based try (2 round trips), then statement at a time with savepoints (many).
    expect(store.roundTrips - before).toBeGreaterThan(4);
  });

  it('runs the group again when another collector stores one of its event ids between its read and its write', async () => {
    const committer = new GroupCommitter(store);
    const session = ok(await committer.submit(request())).session.id;
    const elsewhere = ok(await committer.submit(request())).session.id;
    const raced = page('checkout');
    // The other collector's transaction: it has written the event (to another session, so the
    // group's read of its own session does not wait for it) and not committed yet.
    const other = new pg.Client({ connectionString: postgres.url, options: `-c search_path=${schema}` });
    await other.connect();
    try {
      await other.query('BEGIN');
      await other.query('INSERT INTO events (id, session_id, type, received_at, payload) VALUES ($1, $2, $3, $4, $5)', [
        raced.id,
        elsewhere,
        'page',
        T0,
        JSON.stringify(raced),
      ]);
      const before = store.roundTrips;
      const answer = committer.submit(request({ mode: 'existing', sessionId: session, events: [raced, page('lead')], receivedAt: T0 + 1000 }));
      // The group read before the other committed; its insert of the event now waits on the other's row.
      await waitFor(async () => (await lockWaits(other)) > 0);
      await other.query('COMMIT');
      const outcome = ok(await answer);
      // Run again on what is committed now: the raced event is stored, the other one is new.
      expect(outcome).toMatchObject({ accepted: 1, duplicates: 1 });
      expect(store.roundTrips - before).toBe(4);
    } finally {
      await other.end();
    }
    expect((await store.listEvents(session)).map((event) => (event.payload as { page?: string }).page)).toEqual(['presell', 'lead']);
    expect(await store.getSession(session)).toMatchObject({ eventCount: 2 });
  });

  it('queues a new Import Lead when a worker is claiming the pending one while the group changes the lead', async () => {
    const committer = new GroupCommitter(store, { policy: { leadSettleMs: 0, abandonAfterMs: 30 * 60_000, upsellWindowMs: 15 * 60_000 } });
    const session = ok(await committer.submit(request())).session.id;
    const existing = (events: FunnelEvent[], receivedAt: number) => request({ mode: 'existing', sessionId: session, events, receivedAt });
    ok(await committer.submit(existing([lead({ firstName: 'Ann', lastName: 'Lee', emailAddress: 'ann@example.com' })], T0 + 1000)));
    const pending = (await store.listJobs({ sessionId: session })).find((job) => job.kind === 'konnektive.lead')!;
    expect(pending.state).toBe('pending');
    // A worker's claim of that job, not committed yet: it has locked the row.
    const worker = new pg.Client({ connectionString: postgres.url, options: `-c search_path=${schema}` });
    await worker.connect();
    try {
      await worker.query('BEGIN');
      await worker.query("UPDATE outbox SET state = 'running', lease_owner = 'w', lease_until = $2 WHERE id = $1", [pending.id, T0 + 60_000]);
      const answer = committer.submit(existing([lead({ lastName: 'Lee-Smith' })], T0 + 2000));
      // The group's read of the session's pending jobs waits for the claim to end...
      await waitFor(async () => (await lockWaits(worker)) > 0);
      await worker.query('COMMIT');
      ok(await answer);
    } finally {
      await worker.end();
    }
    // ...and, the job no longer pending (the worker may have read the lead before this change),
    // the change queues an Import Lead of its own.
    const leads = (await store.listJobs({ sessionId: session })).filter((job) => job.kind === 'konnektive.lead');
    expect(leads.map((job) => job.state)).toEqual(['running', 'pending']);
  });

  it('writes any group with the same few statements', () => {
    const writes = (n: number): GroupWrites => {
      const ids = Array.from({ length: n }, (_, i) => `s${i}`);
      return {
        newSessions: [],
        patches: new Map(ids.map((id) => [id, { lastSeenAt: T0, eventCount: 2, eventBytes: 100 }])),
        states: [],
        events: ids.map((id) => ({ event: { id: `e-${id}`, sessionId: id, type: 'page', receivedAt: T0, payload: {} }, payloadJson: '{}' })),
        clicks: ids.map((id) => ({ sessionId: id, page: 'presell' as const })),
        tokens: [],
        jobs: ids.map((id) => ({ sessionId: id, upstream: 'konnektive' as const, kind: 'konnektive.click' as const, payload: {}, runAt: T0 })),
      };
    };
    const names = (n: number) => writeStatements(writes(n), T0).map(([name]) => name);
    // Outbox locks, one UPDATE, events, clicks, jobs: five statements for 1 request or 100.
    expect(names(1)).toHaveLength(5);
    expect(names(100)).toEqual(names(1));
  });
});

async function lockWaits(client: pg.Client): Promise<number> {
  // Backends waiting for this client's transaction (other tests may share the database).
  const { rows } = await client.query('SELECT COUNT(*) AS n FROM pg_stat_activity WHERE pg_backend_pid() = ANY(pg_blocking_pids(pid))');
  return Number(rows[0].n);
}

async function waitFor(condition: () => Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
