/**
 * Every list the store reads is bounded, on both stores: a session's events, state changes, jobs,
 * delivery attempts and emissions come as the latest `limit` rows (LIST_LIMIT by default), oldest
 * first; the sessions of one email as the oldest SESSIONS_PER_EMAIL; and the recovery link's page
 * view is found among the latest RECENT_PAGE_VIEWS page views, whatever the session holds.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { testPostgres } from '../../test/support/postgres.js';
import { PostgresStore } from './postgres-store.js';
import { SqliteStore } from './sqlite-store.js';
import { ATTRIBUTION_EVENTS, LIST_LIMIT, RECENT_PAGE_VIEWS, SESSIONS_PER_EMAIL, type Store } from './store.js';

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
      const dir = mkdtempSync(join(tmpdir(), 'funnelbeacon-bounded-'));
      dirs.push(dir);
      return new SqliteStore(join(dir, 'store.db'));
    },
  },
  { name: 'postgres', skip: postgres.skip, open: () => PostgresStore.fromUrl(postgres.url, { schema: postgres.newSchema() }) },
];

const session = (id: string, at = T0) => ({ id, campaignId: '12', createdAt: at, lastSeenAt: at, landingUrl: undefined, referrer: undefined, userAgent: 'Mozilla/5.0', ip: '203.0.113.9', isBot: false });

async function withStore(backend: (typeof backends)[number], fn: (store: Store) => Promise<void>): Promise<void> {
  const store = backend.open();
  try {
    await store.migrate();
    await fn(store);
  } finally {
    await store.close();
  }
}

for (const backend of backends) {
  describe.skipIf(backend.skip !== undefined)(`bounded reads (${backend.name})`, () => {
    it("lists a session's latest events, oldest first, never more than LIST_LIMIT", () =>
      withStore(backend, async (store) => {
        await store.transaction(async (tx) => {
          await tx.insertSession(session('s1'));
          for (let i = 0; i < LIST_LIMIT + 5; i++) await tx.insertEvent({ id: `e${i}`, sessionId: 's1', type: 'exit', receivedAt: T0 + i, payload: { i } });
        });
        const all = await store.listEvents('s1');
        expect(all).toHaveLength(LIST_LIMIT);
        expect(all[0]!.id).toBe('e5');
        expect(all.at(-1)!.id).toBe(`e${LIST_LIMIT + 4}`);
        expect((await store.listEvents('s1', 3)).map((event) => event.id)).toEqual([`e${LIST_LIMIT + 2}`, `e${LIST_LIMIT + 3}`, `e${LIST_LIMIT + 4}`]);
      }), 60_000);

    it('lists the latest state changes, jobs, attempts and emissions, oldest first, up to the limit asked', () =>
      withStore(backend, async (store) => {
        await store.transaction((tx) => tx.insertSession(session('s1')));
        for (const [i, state] of (['abandoned', 'open', 'ordered', 'complete'] as const).entries()) await store.updateSession('s1', { state, stateChangedAt: T0 + i + 1 });
        expect(await store.listStateChanges('s1', 2)).toEqual([
          { state: 'ordered', at: T0 + 3 },
          { state: 'complete', at: T0 + 4 },
        ]);
        expect((await store.listStateChanges('s1')).map((change) => change.state)).toEqual(['open', 'abandoned', 'open', 'ordered', 'complete']);

        const jobs: number[] = [];
        for (let i = 0; i < 4; i++) jobs.push(await store.transaction((tx) => tx.enqueue({ sessionId: 's1', upstream: 'konnektive', kind: 'konnektive.click', payload: { i }, runAt: T0 })));
        expect((await store.listJobs({ sessionId: 's1', limit: 2 })).map((job) => job.id)).toEqual(jobs.slice(2));
        expect((await store.listJobs({ limit: 3 })).map((job) => job.id)).toEqual(jobs.slice(1));

        for (let i = 0; i < 3; i++) {
          await store
            .sql()
            .run(
              "INSERT INTO delivery_attempts (job_id, upstream, endpoint, request, response, outcome, http_status, latency_ms, created_at) VALUES (?, 'konnektive', ?, '{}', '{}', 'ok', 200, 1, ?)",
              [jobs[0], `call${i}`, T0 + i],
            );
        }
        expect((await store.listAttempts(jobs[0], 2)).map((attempt) => attempt.endpoint)).toEqual(['call1', 'call2']);
        expect((await store.listAttempts(undefined, 1)).map((attempt) => attempt.endpoint)).toEqual(['call2']);

        await store.transaction(async (tx) => {
          await tx.insertSession(session('s2', T0 + 1));
          await tx.insertEmission({ sessionId: 's1', kind: 'cart', payload: {}, now: T0 + 1 });
          await tx.insertEmission({ sessionId: 's2', kind: 'cart', payload: {}, now: T0 + 2 });
          await tx.insertEmission({ sessionId: 's2', kind: 'order', payload: {}, now: T0 + 3 });
        });
        expect((await store.listEmissions({ limit: 2 })).map((emission) => [emission.sessionId, emission.kind])).toEqual([
          ['s2', 'cart'],
          ['s2', 'order'],
        ]);
        expect((await store.listEmissions({ sessionId: 's1' })).map((emission) => emission.kind)).toEqual(['cart']);
      }));

    it("reads at most SESSIONS_PER_EMAIL of one email's carts, the oldest first", () =>
      withStore(backend, async (store) => {
        await store.transaction(async (tx) => {
          for (let i = 0; i < SESSIONS_PER_EMAIL + 20; i++) {
            const id = `s${String(i).padStart(4, '0')}`;
            await tx.insertSession(session(id, T0 + i));
            await tx.updateSession(id, { lead: { emailAddress: 'Ann@Example.com' }, cart: { items: [{ id: '41', price: 1, qty: 1 }], currency: 'USD' } });
          }
        });
        const open = await store.transaction((tx) => tx.listOpenCartsByEmail('ann@example.com'));
        expect(open).toHaveLength(SESSIONS_PER_EMAIL);
        expect(open[0]!.id).toBe('s0000');
        expect(await store.transaction((tx) => tx.listAbandonedByEmail('ann@example.com'))).toEqual([]);
      }), 60_000);

    it('finds the last checkout page view among the latest page views, else the last page view', () =>
      withStore(backend, async (store) => {
        const page = (id: string, name: string, at: number) => ({ id, sessionId: 's1', type: 'page', receivedAt: at, payload: { type: 'page', page: name, url: `https://offer.example/${id}` } });
        await store.transaction(async (tx) => {
          await tx.insertSession(session('s1'));
          await tx.insertEvent(page('c1', 'checkout', T0));
          // Two page views in one batch (one millisecond): the later one is the last.
          await tx.insertEvent(page('c2', 'checkout', T0 + 1));
          await tx.insertEvent(page('c3', 'checkout', T0 + 1));
          await tx.insertEvent(page('u1', 'upsell1', T0 + 2));
          await tx.insertEvent({ id: 'x1', sessionId: 's1', type: 'exit', receivedAt: T0 + 3, payload: { type: 'exit' } });
        });
        expect((await store.lastPageView('s1', 'checkout'))?.id).toBe('c3');
        expect((await store.lastPageView('s1', 'thankyou'))?.id).toBe('u1');
        expect(await store.lastPageView('nobody', 'checkout')).toBeUndefined();
        // Past RECENT_PAGE_VIEWS later page views, the checkout is out of reach: the last view leads.
        await store.transaction(async (tx) => {
          for (let i = 0; i < RECENT_PAGE_VIEWS; i++) await tx.insertEvent(page(`p${i}`, 'presell', T0 + 10 + i));
        });
        expect((await store.lastPageView('s1', 'checkout'))?.id).toBe(`p${RECENT_PAGE_VIEWS - 1}`);
      }));

    it('answers reads that arrive together (one query on PostgreSQL) each as if asked alone', () =>
      withStore(backend, async (store) => {
        const event = (id: string, sessionId: string, type: string, at: number, extra: Record<string, unknown> = {}) => ({ id, sessionId, type, receivedAt: at, payload: { type, ...extra } });
        await store.transaction(async (tx) => {
          for (const id of ['s1', 's2', 's3']) await tx.insertSession(session(id));
          await tx.insertEvent(event('a2', 's1', 'attribution', T0 + 2, { fbclid: 'b' }));
          await tx.insertEvent(event('a1', 's1', 'attribution', T0 + 1, { fbclid: 'a' }));
          await tx.insertEvent(event('p1', 's1', 'page', T0, { page: 'checkout' }));
          await tx.insertEvent(event('p2', 's1', 'page', T0 + 3, { page: 'upsell1' }));
          for (let i = 0; i < ATTRIBUTION_EVENTS + 3; i++) await tx.insertEvent(event(`b${i}`, 's2', 'attribution', T0 + i));
          await tx.insertEvent(event('q1', 's2', 'page', T0, { page: 'lead' }));
        });
        const [s1, s2, s3, checkout, lead, upsell, none] = await Promise.all([
          store.listAttributionEvents('s1'),
          store.listAttributionEvents('s2'),
          store.listAttributionEvents('s3'),
          store.lastPageView('s1', 'checkout'),
          store.lastPageView('s2', 'checkout'),
          store.lastPageView('s1', 'upsell1'),
          store.lastPageView('s3', 'checkout'),
        ]);
        expect(s1.map((e) => e.id)).toEqual(['a1', 'a2']);
        expect(s2.map((e) => e.id)).toEqual(Array.from({ length: ATTRIBUTION_EVENTS }, (_, i) => `b${i}`));
        expect(s3).toEqual([]);
        expect([checkout?.id, lead?.id, upsell?.id, none]).toEqual(['p1', 'q1', 'p2', undefined]);
        expect(s1[0]).toMatchObject({ sessionId: 's1', type: 'attribution', receivedAt: T0 + 1, payload: { type: 'attribution', fbclid: 'a' } });
      }));
  });
}
