/**
 * The session page's timeline is read a page at a time, on both stores: pages follow each other
 * without a gap or a repeat, whatever shares a millisecond (a batch's events, a state change, a
 * recovery click, an upstream call), in the order one unpaged read would give; and through the
 * dashboard API of a running collector, a session of hundreds of events comes as a first page with
 * its totals and a cursor to the next.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { testPostgres } from '../../test/support/postgres.js';
import { startTestCollector, testEnv, TEST_SECRET, type TestCollector } from '../../test/support/test-collector.js';
import { PostgresStore } from '../store/postgres-store.js';
import { SqliteStore } from '../store/sqlite-store.js';
import type { Store } from '../store/store.js';
import { SessionDetailResponse, SessionTimelineResponse } from './api-schema.js';
import { sessionDetail, sessionTimeline, TIMELINE_PAGE } from './queries.js';

const T0 = 1_700_000_000_000;
const postgres = await testPostgres();
const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  await postgres.dropSchemas();
});

const backends: { name: string; skip: string | undefined; open(): Store }[] = [
  {
    name: 'sqlite',
    skip: undefined,
    open() {
      const dir = mkdtempSync(join(tmpdir(), 'funnelbeacon-timeline-'));
      dirs.push(dir);
      return new SqliteStore(join(dir, 'store.db'));
    },
  },
  { name: 'postgres', skip: postgres.skip, open: () => PostgresStore.fromUrl(postgres.url, { schema: postgres.newSchema() }) },
];

const newSession = (id: string, at: number) => ({
  id,
  campaignId: '12',
  createdAt: at,
  lastSeenAt: at,
  landingUrl: 'https://offer.example/',
  referrer: undefined,
  userAgent: 'Mozilla/5.0',
  ip: '203.0.113.9',
  isBot: false,
});

/** `count` page views at `at` (one batch: one millisecond), counted on the session row as ingest does. */
async function addPageViews(store: Store, sessionId: string, at: number, count: number): Promise<void> {
  await store.transaction(async (tx) => {
    const session = (await tx.getSession(sessionId))!;
    for (let i = 0; i < count; i++) {
      await tx.insertEvent({ id: randomUUID(), sessionId, type: 'page', receivedAt: at, payload: { type: 'page', page: 'checkout', url: `https://offer.example/checkout?view=${at}-${i}` } });
    }
    await tx.updateSession(sessionId, { eventCount: session.eventCount + count, lastSeenAt: at });
  });
}

/** A session where every source of the timeline has entries, several of them in one millisecond. */
async function busySession(store: Store): Promise<string> {
  const id = `s${randomUUID().replace(/-/g, '')}`;
  await store.transaction((tx) => tx.insertSession(newSession(id, T0)));
  await addPageViews(store, id, T0, 7);
  await addPageViews(store, id, T0 + 10, 3);
  await store.updateSession(id, { state: 'abandoned', stateChangedAt: T0 + 10 });
  const jobId = await store.transaction((tx) => tx.enqueue({ sessionId: id, upstream: 'konnektive', kind: 'konnektive.click', payload: {}, runAt: T0 }));
  for (const at of [T0 + 5, T0 + 10, T0 + 10]) {
    await store
      .sql()
      .run(
        "INSERT INTO delivery_attempts (job_id, upstream, endpoint, request, response, outcome, http_status, latency_ms, created_at) VALUES (?, 'konnektive', 'importClick', '{}', '{}', 'ok', 200, 3, ?)",
        [jobId, at],
      );
  }
  await store.recordRecoveryClick(id, T0 + 10);
  await store.recordRecoveryClick(id, T0 + 12);
  await store.recordRecoveryReturn(id, T0 + 10);
  return id;
}

for (const backend of backends) {
  describe.skipIf(backend.skip !== undefined)(`a session's timeline, a page at a time (${backend.name})`, () => {
    it('pages through every entry once, in the order of one unpaged read, across entries of one millisecond', async () => {
      const store = backend.open();
      try {
        await store.migrate();
        const id = await busySession(store);
        const whole = await sessionTimeline(store.sql(), id, { limit: 300 });
        expect(whole.next).toBeNull();
        // 10 page views, 2 state changes, 2 clicks and a return, 3 upstream calls.
        expect(whole.timeline).toHaveLength(18);
        expect(whole.timeline.map((entry) => entry.at)).toEqual([...whole.timeline.map((entry) => entry.at)].sort((a, b) => a - b));
        // One millisecond's entries in their sources' order: events, state, recovery, calls.
        expect(whole.timeline.slice(-9).map((entry) => entry.kind)).toEqual(['page', 'page', 'page', 'state', 'recovery-click', 'recovery-return', 'upstream', 'upstream', 'recovery-click']);
        for (const size of [1, 2, 3, 7]) {
          const paged = [];
          let after: string | undefined;
          let pages = 0;
          do {
            const page = await sessionTimeline(store.sql(), id, { ...(after ? { after } : {}), limit: size });
            expect(page.timeline.length).toBeLessThanOrEqual(size);
            paged.push(...page.timeline);
            after = page.next ?? undefined;
            pages++;
          } while (after !== undefined && pages < 100);
          expect(paged, `pages of ${size}`).toEqual(whole.timeline);
        }
        const detail = (await sessionDetail(store, id))!;
        expect(detail.totals).toEqual({ events: 10, timeline: 18, jobs: 1 });
        expect(detail.timeline).toEqual(whole.timeline);
      } finally {
        await store.close();
      }
    });

    it('reads a page of a session of thousands of events without reading them all', async () => {
      const store = backend.open();
      try {
        await store.migrate();
        const id = `s${randomUUID().replace(/-/g, '')}`;
        await store.transaction((tx) => tx.insertSession(newSession(id, T0)));
        for (let batch = 0; batch < 60; batch++) await addPageViews(store, id, T0 + batch, 50);
        const detail = SessionDetailResponse.parse(await sessionDetail(store, id));
        expect(detail.timeline).toHaveLength(TIMELINE_PAGE);
        expect(detail.totals).toMatchObject({ events: 3_000, timeline: 3_001 });
        expect(detail.timelineNext).not.toBeNull();
        // The last page, straight from a cursor past most of the session.
        const last = await sessionTimeline(store.sql(), id, { after: `${T0 + 59}.0.0`, limit: 300 });
        expect(last.timeline).toHaveLength(50);
        expect(last.next).toBeNull();
      } finally {
        await store.close();
      }
    }, 60_000);
  });
}

describe('GET /dashboard/api/sessions/:id and its timeline pages', () => {
  const TOKEN = 'dashboard-token-0123456789abcdef';
  let collector: TestCollector | undefined;
  afterEach(async () => {
    await collector?.close();
    collector = undefined;
  });
  const get = (running: TestCollector, path: string) => fetch(`${running.url}/dashboard/api${path}`, { headers: { authorization: `Bearer ${TOKEN}` } });

  it('answers the first page with the totals and a cursor, then each next page, up to the last', async () => {
    const running = (collector = await startTestCollector(testEnv({ SECRET: TEST_SECRET, DASHBOARD_TOKEN: TOKEN }), { runWorker: false }));
    const id = `s${randomUUID().replace(/-/g, '')}`;
    await running.store.transaction((tx) => tx.insertSession(newSession(id, T0)));
    for (let batch = 0; batch < 9; batch++) await addPageViews(running.store, id, T0 + batch * 1_000, 50);

    const first = await get(running, `/sessions/${id}`);
    expect(first.status).toBe(200);
    const detail = SessionDetailResponse.parse(await first.json());
    expect(detail.timeline).toHaveLength(200);
    expect(detail.totals).toEqual({ events: 450, timeline: 451, jobs: 0 });
    const seen = [...detail.timeline];
    let next = detail.timelineNext;
    while (next !== null) {
      const res = await get(running, `/sessions/${id}/timeline?after=${encodeURIComponent(next)}`);
      expect(res.status).toBe(200);
      const page = SessionTimelineResponse.parse(await res.json());
      expect(page.timeline.length).toBeLessThanOrEqual(200);
      seen.push(...page.timeline);
      next = page.next;
    }
    expect(seen).toHaveLength(451);
    const urls = seen.flatMap((entry) => (entry.kind === 'page' ? [entry.url] : []));
    expect(new Set(urls).size).toBe(450);
    expect(seen.filter((entry) => entry.kind === 'state')).toEqual([{ at: T0, kind: 'state', state: 'open' }]);
  });

  it('refuses a malformed cursor or page size with 400', async () => {
    const running = (collector = await startTestCollector(testEnv({ SECRET: TEST_SECRET, DASHBOARD_TOKEN: TOKEN }), { runWorker: false }));
    for (const query of ['after=1.9.2', 'after=abc', `after=${'1'.repeat(70)}`, 'limit=0', 'limit=301', 'limit=x']) {
      const res = await get(running, `/sessions/sabc/timeline?${query}`);
      expect(res.status, query).toBe(400);
    }
    expect((await get(running, '/sessions/sabc/timeline?limit=300')).status).toBe(200);
  });
});
