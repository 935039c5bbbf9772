/**
 * @module store.contract.test
 * One contract suite for the {@link Store} interface, run against every implementation, so the
 * SQLite and PostgreSQL stores cannot drift apart.
 *
 * - SQLite: a fresh database file in the OS temp directory for every test.
 * - PostgreSQL: the server at `FUNNELBEACON_TEST_POSTGRES_URL` (default
 *   `postgres://postgres@127.0.0.1:5432/test`), with a fresh schema for every test, all named
 *   `fb_test_<run id>_<n>` and dropped after the run. When the variable is unset and no server
 *   answers at the default URL, the PostgreSQL half is skipped; when it is set, it must pass.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { applyBatch } from '../ingest/apply-batch.js';
import { GroupCommitter } from '../ingest/group-commit.js';
import { testPostgres } from '../../test/support/postgres.js';
import { VirtualClock } from '../../test/support/virtual-clock.js';
import type { Clock } from '../clock.js';
import { PostgresStore } from './postgres-store.js';
import { SqliteStore } from './sqlite-store.js';
import { newSessionDefaults, type DeliveryAttempt, type Job, type JobCompletion, type NewJob, type NewSession, type PurgeCursor, type Store } from './store.js';

interface Backend {
  name: 'sqlite' | 'postgres';
  /** Why this backend cannot run here; undefined when it can. */
  skip: string | undefined;
  /**
   * A fresh, empty, unmigrated store, plus a way to open a second store on the same database.
   * `viaUrl`: name the PostgreSQL schema in the URL (`?schema=`) instead of the options.
   */
  open(how?: { viaUrl?: boolean; clock?: Clock }): { store: Store; openPeer: () => Store };
  cleanup(): Promise<void>;
}

function sqliteBackend(): Backend {
  const dirs: string[] = [];
  return {
    name: 'sqlite',
    skip: undefined,
    open(how = {}) {
      const dir = mkdtempSync(join(tmpdir(), 'funnelbeacon-store-'));
      dirs.push(dir);
      const path = join(dir, 'store.db');
      return { store: new SqliteStore(path, { clock: how.clock }), openPeer: () => new SqliteStore(path) };
    },
    async cleanup() {
      for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function postgresBackend(): Promise<Backend> {
  const postgres = await testPostgres();
  return {
    name: 'postgres',
    skip: postgres.skip,
    open(how = {}) {
      const schema = postgres.newSchema();
      return {
        store: how.viaUrl
          ? PostgresStore.fromUrl(`${postgres.url}${postgres.url.includes('?') ? '&' : '?'}schema=${schema}`)
          : PostgresStore.fromUrl(postgres.url, { schema, clock: how.clock }),
        openPeer: () => PostgresStore.fromUrl(postgres.url, { schema }),
      };
    },
    cleanup: () => postgres.dropSchemas(),
  };
}

const backends: Backend[] = [sqliteBackend(), await postgresBackend()];

// --- fixtures ----------------------------------------------------------------------------------

const T0 = 1_700_000_000_000;

function newSession(id: string, overrides: Partial<NewSession> = {}): NewSession {
  return {
    id,
    campaignId: '42',
    createdAt: T0,
    lastSeenAt: T0,
    landingUrl: `https://shop.example/${id}`,
    referrer: undefined,
    userAgent: 'Mozilla/5.0 (test)',
    ip: '203.0.113.7',
    isBot: false,
    ...overrides,
  };
}

function newJob(sessionId: string, overrides: Partial<NewJob> = {}): NewJob {
  return { sessionId, upstream: 'konnektive', kind: 'konnektive.click', payload: { page: 'lead' }, runAt: T0, ...overrides };
}

const claim = (
  store: Store,
  now: number,
  owner = 'w1',
  extra: { limit?: number; leaseMs?: number; skip?: ('konnektive' | 'activecampaign')[]; upstream?: 'konnektive' | 'activecampaign' } = {},
) =>
  store.claimJobs({ now, owner, limit: extra.limit ?? 10, leaseMs: extra.leaseMs ?? 30_000, skipUpstreams: extra.skip ?? [], upstream: extra.upstream });

const ids = (jobs: Job[]) => jobs.map((job) => job.id);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// --- the contract ------------------------------------------------------------------------------

for (const backend of backends) {
  describe.skipIf(backend.skip !== undefined)(`Store contract: ${backend.name}`, () => {
    let store: Store;
    let openPeer: () => Store;
    const opened: Store[] = [];

    beforeEach(async () => {
      const fresh = backend.open();
      store = fresh.store;
      openPeer = () => {
        const peer = fresh.openPeer();
        opened.push(peer);
        return peer;
      };
      opened.push(store);
      await store.migrate();
    });

    afterEach(async () => {
      for (const each of opened.splice(0)) await each.close();
    });

    afterAll(() => backend.cleanup());

    const enqueueAll = (jobs: NewJob[]) =>
      store.transaction(async (tx) => {
        const out: number[] = [];
        for (const job of jobs) out.push(await tx.enqueue(job));
        return out;
      });

    /** Finishes one job as a worker round of one, without attempts or session patch. */
    const complete = async (id: number, owner: string, completion: JobCompletion): Promise<boolean | undefined> => {
      const job = (await store.listJobs({})).find((each) => each.id === id);
      const [held] = await store.completeJobs(owner, [{ id, sessionId: job!.sessionId, completion, attempts: [], sessionPatch: undefined }]);
      return held;
    };

    describe('migrations', () => {
      it('are idempotent, also from a second store on the same database', async () => {
        await store.migrate();
        const peer = openPeer();
        await peer.migrate();
        await store.transaction((tx) => tx.insertSession(newSession('s1')));
        await peer.migrate();
        expect(await peer.countSessions()).toBe(1);
        expect(store.kind).toBe(backend.name);
        await store.ping();
      });
    });

    describe('single-use tokens', () => {
      it('are spent once, across two stores on the same database, and purged once expired', async () => {
        const peer = openPeer();
        const spends = await Promise.all([store, peer, store, peer].map((each) => each.transaction((tx) => tx.spendToken('link.nonce-a', T0 + 1_000))));
        expect(spends.filter(Boolean)).toHaveLength(1);
        expect(await store.transaction((tx) => tx.spendToken('link.nonce-b', T0 + 5_000))).toBe(true);
        // A spend undone with its transaction is not spent.
        await expect(
          store.transaction(async (tx) => {
            await tx.spendToken('link.nonce-c', T0 + 5_000);
            throw new Error('rolled back');
          }),
        ).rejects.toThrow('rolled back');
        expect(await store.transaction((tx) => tx.spendToken('link.nonce-c', T0 + 5_000))).toBe(true);
        // The history purge takes those expired before its cutoff; the rest stay spent.
        await store.purgeHistory({ cutoff: T0 + 2_000, limit: 100 });
        expect(await store.transaction((tx) => tx.spendToken('link.nonce-a', T0 + 1_000))).toBe(true);
        expect(await store.transaction((tx) => tx.spendToken('link.nonce-b', T0 + 5_000))).toBe(false);
      });

      it('a session begun through a recovery link names the session it recovers', async () => {
        await store.transaction(async (tx) => {
          await tx.insertSession(newSession('s1'));
          await tx.insertSession({ ...newSession('s2'), recoversSessionId: 's1' });
        });
        expect((await store.getSession('s1'))?.recoversSessionId).toBeUndefined();
        expect((await store.getSession('s2'))?.recoversSessionId).toBe('s1');
      });
    });

    describe('sessions', () => {
      it('inserts and reads a session with defaults for the fields not given', async () => {
        expect(await store.getSession('missing')).toBeUndefined();
        const session = newSession('s1', { isBot: true });
        await store.transaction((tx) => tx.insertSession(session));
        // newSessionDefaults is what ingest assumes it inserted; the store must read back exactly that.
        expect(await store.getSession('s1')).toEqual(newSessionDefaults(session));
        expect(await store.getSession('s1')).toMatchObject({ isBot: true, funnelDone: false, state: 'open', stateChangedAt: T0, dueAt: undefined });
        expect(await store.countSessions()).toBe(1);
      });

      it('hands each due session to one sweeper only, oldest due first, and clears its due time', async () => {
        await store.transaction(async (tx) => {
          for (const id of ['s1', 's2', 's3', 's4']) await tx.insertSession(newSession(id));
          await tx.updateSession('s1', { dueAt: T0 + 30 });
          await tx.updateSession('s2', { dueAt: T0 + 10 });
          await tx.updateSession('s3', { dueAt: T0 + 999 });
        });
        const first = await store.transaction((tx) => tx.claimDueSessions(T0 + 100, 1));
        expect(first.map((s) => s.id)).toEqual(['s2']);
        const rest = await store.transaction((tx) => tx.claimDueSessions(T0 + 100, 10));
        expect(rest.map((s) => s.id)).toEqual(['s1']);
        expect(await store.transaction((tx) => tx.claimDueSessions(T0 + 100, 10))).toEqual([]);
        expect((await store.getSession('s1'))?.dueAt).toBeUndefined();
        expect((await store.getSession('s3'))?.dueAt).toBe(T0 + 999);
        await store.updateSession('s3', { dueAt: null, state: 'abandoned', stateChangedAt: T0 + 5, funnelDone: true });
        expect(await store.getSession('s3')).toMatchObject({ dueAt: undefined, state: 'abandoned', stateChangedAt: T0 + 5, funnelDone: true });
      });

      it('keeps every state a session passed through, with its time', async () => {
        await store.transaction((tx) => tx.insertSession(newSession('s1')));
        await store.updateSession('s1', { state: 'ordered', stateChangedAt: T0 + 10 });
        await store.updateSession('s1', { lastSeenAt: T0 + 20 });
        await store.transaction((tx) => tx.updateSession('s1', { state: 'complete', stateChangedAt: T0 + 30 }));
        expect(await store.listStateChanges('s1')).toEqual([
          { state: 'open', at: T0 },
          { state: 'ordered', at: T0 + 10 },
          { state: 'complete', at: T0 + 30 },
        ]);
      });

      it('hands out the due sessions of one claim oldest due first, whatever their last activity', async () => {
        await store.transaction(async (tx) => {
          for (const [id, lastSeenAt, dueAt] of [['a', T0 + 3, T0 + 20], ['b', T0 + 1, T0 + 30], ['c', T0 + 2, T0 + 10]] as const) {
            await tx.insertSession(newSession(id, { lastSeenAt }));
            await tx.updateSession(id, { dueAt });
          }
        });
        const claimed = await store.transaction((tx) => tx.claimDueSessions(T0 + 100, 10));
        expect(claimed.map((s) => s.id)).toEqual(['c', 'a', 'b']);
      });

      it('keeps states of one millisecond in the order they were written', async () => {
        await store.transaction((tx) => tx.insertSession(newSession('s1')));
        for (const state of ['ordered', 'open', 'abandoned', 'closed'] as const) {
          await store.updateSession('s1', { state, stateChangedAt: T0 });
        }
        expect((await store.listStateChanges('s1')).map((change) => change.state)).toEqual(['open', 'ordered', 'open', 'abandoned', 'closed']);
      });

      it('stamps the times it writes itself from its clock', async () => {
        const clock = new VirtualClock(T0 + 5_000);
        ({ store } = backend.open({ clock }));
        opened.push(store);
        await store.migrate();
        await store.transaction(async (tx) => {
          await tx.insertSession(newSession('s1'));
          await tx.enqueue(newJob('s1'));
          await tx.updateSession('s1', { state: 'ordered' });
        });
        expect((await store.listJobs({}))[0]?.createdAt).toBe(T0 + 5_000);
        expect((await store.listStateChanges('s1')).at(-1)).toEqual({ state: 'ordered', at: T0 + 5_000 });
      });

      it('keeps at most one emission of each kind per session, and its status and remote id', async () => {
        await store.transaction((tx) => tx.insertSession(newSession('s1')));
        expect(await store.transaction((tx) => tx.insertEmission({ sessionId: 's1', kind: 'cart', payload: { total: 1 }, now: T0 }))).toBe(true);
        expect(await store.transaction((tx) => tx.insertEmission({ sessionId: 's1', kind: 'cart', payload: { total: 2 }, now: T0 }))).toBe(false);
        await store.updateEmission('s1', 'cart', { status: 'sending', now: T0 + 1 });
        await store.updateEmission('s1', 'cart', { status: 'sent', remoteId: '77', now: T0 + 2 });
        await store.updateEmission('s1', 'cart', { status: 'sent', now: T0 + 3 });
        expect(await store.getEmission('s1', 'cart')).toEqual({
          sessionId: 's1', kind: 'cart', status: 'sent', remoteId: '77', payload: { total: 1 }, createdAt: T0, updatedAt: T0 + 3,
        });
        expect(await store.listEmissions({ sessionId: 's1' })).toHaveLength(1);
        // A cancelled one is queued again by the next insert, with the new payload.
        expect(await store.transaction((tx) => tx.insertEmission({ sessionId: 's1', kind: 'order', payload: { n: 1 }, now: T0 }))).toBe(true);
        await store.updateEmission('s1', 'order', { status: 'cancelled', now: T0 + 4 });
        expect(await store.transaction((tx) => tx.insertEmission({ sessionId: 's1', kind: 'order', payload: { n: 2 }, now: T0 + 5 }))).toBe(true);
        expect(await store.getEmission('s1', 'order')).toMatchObject({ status: 'queued', payload: { n: 2 }, updatedAt: T0 + 5 });
      });

      it('hands out rate-limit slots one interval apart and honours a deferral', async () => {
        expect(await store.reserveRateSlot('ac', T0, 200)).toBe(T0);
        expect(await store.reserveRateSlot('ac', T0, 200)).toBe(T0 + 200);
        expect(await store.reserveRateSlot('ac', T0 + 1_000, 200)).toBe(T0 + 1_000);
        await store.deferRateSlots('ac', T0 + 5_000);
        await store.deferRateSlots('ac', T0 + 2_000);
        expect(await store.reserveRateSlot('ac', T0 + 1_100, 200)).toBe(T0 + 5_000);
        expect(await store.reserveRateSlot('other', T0, 200)).toBe(T0);
      });

      it('records at most `limit` sends in any window, says when to ask again, and takes one back', async () => {
        const record = (now: number, on: Store = store) => on.recordRateSend('ac', now, 2, 1_000);
        const first = await record(T0);
        expect(first).toMatchObject({ sent: true });
        expect(await record(T0 + 300)).toMatchObject({ sent: true });
        // Full: the oldest of the last two leaves the window at T0 + 1000.
        expect(await record(T0 + 400)).toEqual({ sent: false, retryAt: T0 + 1_000 });
        // A send recorded later than now (another collector's clock runs ahead) counts as well.
        expect(await store.recordRateSend('skew', T0 + 500, 1, 1_000)).toMatchObject({ sent: true });
        expect(await store.recordRateSend('skew', T0, 1, 1_000)).toEqual({ sent: false, retryAt: T0 + 1_500 });
        // Another key has its own log; a send taken back frees its place.
        expect(await store.recordRateSend('other', T0 + 400, 2, 1_000)).toMatchObject({ sent: true });
        await store.forgetRateSend('ac', (first as { id: number }).id);
        expect(await record(T0 + 400)).toMatchObject({ sent: true });
        expect(await record(T0 + 1_200)).toEqual({ sent: false, retryAt: T0 + 1_300 });
        expect(await record(T0 + 1_300)).toMatchObject({ sent: true });
      });

      it('lets exactly `limit` of many simultaneous sends through, also from two stores on one database', async () => {
        const peer = openPeer();
        await peer.migrate();
        for (let round = 0; round < 10; round += 1) {
          const results = await Promise.all(
            Array.from({ length: 24 }, (_, i) => (i % 2 === 0 ? store : peer).recordRateSend(`ac${round}`, T0, 5, 1_000)),
          );
          expect(results.filter((result) => result.sent)).toHaveLength(5);
          expect(results.filter((result) => !result.sent)).toEqual(Array.from({ length: 19 }, () => ({ sent: false, retryAt: T0 + 1_000 })));
        }
      });

      it('updates the patched fields only, inside and outside a transaction', async () => {
        await store.transaction(async (tx) => {
          await tx.insertSession(newSession('s1', { landingUrl: undefined }));
          await tx.updateSession('s1', {
            lastSeenAt: T0 + 5,
            lastPage: 'checkout',
            lead: { firstName: 'Ada', emailAddress: 'ada@example.com' },
            leadVersion: 2,
            landingUrl: 'https://shop.example/landing',
            referrer: 'https://search.example/',
          });
          expect((await tx.getSession('s1'))?.lastPage).toBe('checkout');
        });
        await store.updateSession('s1', {
          leadSyncedVersion: 2,
          cart: { items: [{ id: 'sku-1', name: 'Thing', price: 19.5, qty: 2 }], currency: 'USD' },
          claimedOrderId: 'ORD-1',
        });
        await store.updateSession('s1', {});
        expect(await store.getSession('s1')).toMatchObject({
          lastSeenAt: T0 + 5,
          createdAt: T0,
          lastPage: 'checkout',
          lead: { firstName: 'Ada', emailAddress: 'ada@example.com' },
          leadVersion: 2,
          leadSyncedVersion: 2,
          landingUrl: 'https://shop.example/landing',
          referrer: 'https://search.example/',
          cart: { items: [{ id: 'sku-1', name: 'Thing', price: 19.5, qty: 2 }], currency: 'USD' },
          claimedOrderId: 'ORD-1',
        });
      });

      it('merges Konnektive ids: a later update never erases a known id', async () => {
        await store.transaction((tx) => tx.insertSession(newSession('s1')));
        await store.updateSession('s1', { konnektive: { sessionId: 'k-1', affVals: { AFID: '7' } } });
        await store.transaction((tx) => tx.updateSession('s1', { konnektive: { orderId: 'o-1' }, lastSeenAt: T0 + 1 }));
        // An absent value (undefined) in a later response must not blank the earlier id.
        await store.updateSession('s1', { konnektive: { customerId: 'c-1', orderId: undefined } });
        expect((await store.getSession('s1'))?.konnektive).toEqual({
          sessionId: 'k-1',
          affVals: { AFID: '7' },
          orderId: 'o-1',
          customerId: 'c-1',
        });
        // A new value for a known key replaces it.
        await store.updateSession('s1', { konnektive: { orderId: 'o-2' } });
        expect((await store.getSession('s1'))?.konnektive.orderId).toBe('o-2');
        expect((await store.getSession('s1'))?.lastSeenAt).toBe(T0 + 1);
      });
    });

    describe('events and clicks', () => {
      it('stores an event once: a resend with the same id returns false', async () => {
        await store.transaction(async (tx) => {
          await tx.insertSession(newSession('s1'));
          const event = { id: 'e1', sessionId: 's1', type: 'page', receivedAt: T0, payload: { type: 'page', page: 'lead' } };
          expect(await tx.insertEvent(event)).toBe(true);
          expect(await tx.insertEvent({ ...event, payload: { changed: true } })).toBe(false);
          expect(await tx.insertEvent({ id: 'e2', sessionId: 's1', type: 'exit', receivedAt: T0 + 1, payload: { x: 'y\u0000z' } })).toBe(true);
        });
        expect(await store.transaction((tx) => tx.insertEvent({ id: 'e1', sessionId: 's1', type: 'page', receivedAt: T0 + 9, payload: {} }))).toBe(
          false,
        );
        expect(await store.listEvents('s1')).toEqual([
          { id: 'e1', sessionId: 's1', type: 'page', receivedAt: T0, payload: { type: 'page', page: 'lead' } },
          { id: 'e2', sessionId: 's1', type: 'exit', receivedAt: T0 + 1, payload: { x: 'y\u0000z' } },
        ]);
        expect(await store.listEvents('other')).toEqual([]);
      });

      it('marks each page clicked once per session', async () => {
        await store.transaction(async (tx) => {
          await tx.insertSession(newSession('s1'));
          await tx.insertSession(newSession('s2'));
          expect(await tx.markPageClicked('s1', 'lead')).toBe(true);
          expect(await tx.markPageClicked('s1', 'lead')).toBe(false);
          expect(await tx.markPageClicked('s1', 'checkout')).toBe(true);
          expect(await tx.markPageClicked('s2', 'lead')).toBe(true);
        });
        expect(await store.transaction((tx) => tx.markPageClicked('s1', 'checkout'))).toBe(false);
      });
    });

    describe('transactions', () => {
      it('undo every write when the function throws', async () => {
        const boom = new Error('boom');
        await expect(
          store.transaction(async (tx) => {
            await tx.insertSession(newSession('s1'));
            await tx.insertEvent({ id: 'e1', sessionId: 's1', type: 'page', receivedAt: T0, payload: {} });
            await tx.markPageClicked('s1', 'lead');
            await tx.enqueue(newJob('s1'));
            throw boom;
          }),
        ).rejects.toBe(boom);
        expect(await store.getSession('s1')).toBeUndefined();
        expect(await store.countSessions()).toBe(0);
        expect(await store.listEvents('s1')).toEqual([]);
        expect(await store.listJobs({})).toEqual([]);
        // The click mark went too: marking again succeeds.
        await store.transaction(async (tx) => {
          await tx.insertSession(newSession('s1'));
          expect(await tx.markPageClicked('s1', 'lead')).toBe(true);
        });
      });

      it('returns the function result on commit', async () => {
        expect(await store.transaction(async (tx) => (await tx.enqueue(newJob('s1'))) > 0)).toBe(true);
        expect(await store.listJobs({})).toHaveLength(1);
      });

      it('a failing nested block undoes only its own writes, even after a failed statement', async () => {
        await store.transaction(async (tx) => {
          await tx.insertSession(newSession('s1'));
          await expect(
            tx.nested(async () => {
              await tx.insertEvent({ id: 'e1', sessionId: 's1', type: 'page', receivedAt: T0, payload: {} });
              await tx.enqueue(newJob('s1'));
              throw new Error('request failed');
            }),
          ).rejects.toThrow('request failed');
          // A statement error (duplicate primary key) inside a nested block is contained too.
          await expect(tx.nested(() => tx.insertSession(newSession('s1')))).rejects.toThrow();
          // Nested blocks nest: the inner failure leaves the outer block's writes.
          await tx.nested(async () => {
            await tx.insertEvent({ id: 'e2', sessionId: 's1', type: 'page', receivedAt: T0, payload: {} });
            await expect(
              tx.nested(async () => {
                await tx.markPageClicked('s1', 'lead');
                throw new Error('inner');
              }),
            ).rejects.toThrow('inner');
          });
          expect(await tx.nested(() => tx.markPageClicked('s1', 'checkout'))).toBe(true);
        });
        expect(await store.getSession('s1')).toBeDefined();
        expect((await store.listEvents('s1')).map((event) => event.id)).toEqual(['e2']);
        expect(await store.listJobs({})).toEqual([]);
        await store.transaction(async (tx) => {
          expect(await tx.markPageClicked('s1', 'lead')).toBe(true);
          expect(await tx.markPageClicked('s1', 'checkout')).toBe(false);
        });
      });
    });

    describe('outbox', () => {
      it('enqueues jobs and finds a pending one by kind', async () => {
        const [first] = await enqueueAll([newJob('s1', { kind: 'konnektive.lead', payload: {} }), newJob('s1', { kind: 'konnektive.lead', payload: {} })]);
        await store.transaction(async (tx) => {
          expect((await tx.findPendingJob('s1', 'konnektive.lead'))?.id).toBe(first);
          expect(await tx.findPendingJob('s1', 'konnektive.click')).toBeUndefined();
        });
        const jobs = await store.listJobs({ sessionId: 's1' });
        expect(jobs[0]).toMatchObject({
          id: first,
          sessionId: 's1',
          upstream: 'konnektive',
          kind: 'konnektive.lead',
          payload: {},
          state: 'pending',
          attempts: 0,
          runAt: T0,
          lastError: undefined,
        });
        expect(typeof jobs[0]?.createdAt).toBe('number');
        // Once claimed, a job is no longer "pending".
        await claim(store, T0);
        await store.transaction(async (tx) => expect((await tx.findPendingJob('s1', 'konnektive.lead'))?.id).not.toBe(first));
      });

      it('claims only the oldest unfinished job of each session, one per session', async () => {
        const [a1, b1, a2, c1] = await enqueueAll([
          newJob('a', { payload: { n: 1 } }),
          newJob('b', { runAt: T0 - 10 }),
          newJob('a', { payload: { n: 2 } }),
          newJob('c', { runAt: T0 + 5 }),
        ]);
        const first = await claim(store, T0);
        // Ordered by run_at, then id; `c` is not due yet.
        expect(ids(first)).toEqual([b1, a1]);
        expect(first[1]).toMatchObject({ state: 'running', sessionId: 'a', payload: { n: 1 }, attempts: 0 });
        // a2 waits while a1 is running.
        expect(await claim(store, T0, 'w2')).toEqual([]);
        expect(await complete(a1!, 'w1', { state: 'done' })).toBe(true);
        expect(ids(await claim(store, T0 + 5, 'w2'))).toEqual([a2, c1]);
        expect((await store.listJobs({ sessionId: 'a' })).map((job) => [job.id, job.state, job.attempts])).toEqual([
          [a1, 'done', 1],
          [a2, 'running', 0],
        ]);
      });

      it('keeps a later job blocked while the first one waits for a retry, and unblocks it when the first dies', async () => {
        const [j1, j2] = await enqueueAll([newJob('s1'), newJob('s1')]);
        expect(ids(await claim(store, T0))).toEqual([j1]);
        expect(await complete(j1!, 'w1', { state: 'pending', runAt: T0 + 1000, error: 'timeout', countAttempt: true })).toBe(true);
        // j1 is pending but not due; j2 is due but must not overtake it.
        expect(await claim(store, T0 + 500)).toEqual([]);
        const retried = await claim(store, T0 + 1000);
        expect(ids(retried)).toEqual([j1]);
        expect(retried[0]).toMatchObject({ attempts: 1, lastError: 'timeout', runAt: T0 + 1000 });
        expect(await complete(j1!, 'w1', { state: 'dead', error: 'rejected' })).toBe(true);
        expect(ids(await claim(store, T0 + 1000))).toEqual([j2]);
      });

      it('respects the due time and the limit', async () => {
        const [late, s2, s3, s4] = await enqueueAll([
          newJob('s1', { runAt: T0 + 100 }),
          newJob('s2', { runAt: T0 + 1 }),
          newJob('s3', { runAt: T0 + 2 }),
          newJob('s4', { runAt: T0 + 3 }),
        ]);
        expect(await claim(store, T0)).toEqual([]);
        expect(ids(await claim(store, T0 + 50, 'w1', { limit: 2 }))).toEqual([s2, s3]);
        expect(ids(await claim(store, T0 + 99))).toEqual([s4]);
        expect(ids(await claim(store, T0 + 100))).toEqual([late]);
      });

      it('takes the oldest claimable jobs of a backlog larger than the limit, expired leases among them', async () => {
        // Claimed with a short lease before the backlog builds: its lease has expired by then.
        const [stale] = await enqueueAll([newJob('stale', { runAt: T0 - 50 })]);
        expect(ids(await claim(store, T0 - 50, 'gone', { leaseMs: 10 }))).toEqual([stale]);
        // Twenty sessions due in the reverse order of their ids; the first has a second job behind it.
        const backlog = await enqueueAll(Array.from({ length: 20 }, (_, i) => newJob(`s${i}`, { runAt: T0 + 19 - i })));
        const [behind] = await enqueueAll([newJob('s0', { runAt: T0 - 100 })]);
        const oldestFirst = [...backlog].reverse();
        expect(ids(await claim(store, T0 + 100, 'w1', { limit: 5 }))).toEqual([stale, ...oldestFirst.slice(0, 4)]);
        expect(ids(await claim(store, T0 + 100, 'w1', { limit: 5 }))).toEqual(oldestFirst.slice(4, 9));
        const rest = await claim(store, T0 + 100, 'w1', { limit: 50 });
        // s0's second job waits for its first, however early it is due.
        expect(ids(rest)).toEqual(oldestFirst.slice(9));
        expect(ids(rest)).not.toContain(behind);
      });

      it('skips paused upstreams, and a paused head still blocks its session', async () => {
        const [k1, ac1, , ac2] = await enqueueAll([
          newJob('s1'),
          newJob('s2', { upstream: 'activecampaign', kind: 'emit.customer' }),
          newJob('s3'),
          newJob('s3', { upstream: 'activecampaign', kind: 'emit.customer' }),
        ]);
        expect(ids(await claim(store, T0, 'w1', { skip: ['konnektive'] }))).toEqual([ac1]);
        expect(ids(await claim(store, T0, 'w1', { skip: ['konnektive', 'activecampaign'] }))).toEqual([]);
        const rest = await claim(store, T0, 'w1', { skip: ['activecampaign'] });
        expect(ids(rest)).toContain(k1);
        expect(ids(rest)).not.toContain(ac2);
      });

      it("claims one upstream's jobs for its relay lane: oldest due first, expired leases too, a session's head only", async () => {
        const [k1, ac1, k2, ac2, k3, acLater] = await enqueueAll([
          newJob('s1', { runAt: T0 + 3 }),
          newJob('s2', { upstream: 'activecampaign', kind: 'emit.customer', runAt: T0 }),
          newJob('s3', { runAt: T0 + 1 }),
          newJob('s3', { upstream: 'activecampaign', kind: 'emit.customer', runAt: T0 }),
          newJob('s4', { runAt: T0 + 2 }),
          newJob('s5', { upstream: 'activecampaign', kind: 'emit.customer', runAt: T0 + 1_000 }),
        ]);
        expect(ids(await claim(store, T0 + 10, 'lane', { upstream: 'konnektive', limit: 2, leaseMs: 100 }))).toEqual([k2, k3]);
        // s3's ActiveCampaign job waits for its Konnektive job, which is running.
        expect(ids(await claim(store, T0 + 10, 'ac-lane', { upstream: 'activecampaign' }))).toEqual([ac1]);
        expect(ids(await claim(store, T0 + 10, 'lane', { upstream: 'konnektive' }))).toEqual([k1]);
        // Once the lease of k2 and k3 has expired, the Konnektive lane takes them back first (due earlier).
        expect(ids(await claim(store, T0 + 200, 'lane2', { upstream: 'konnektive' }))).toEqual([k2, k3]);
        expect(await complete(k2!, 'lane2', { state: 'done' })).toBe(true);
        expect(ids(await claim(store, T0 + 200, 'ac-lane', { upstream: 'activecampaign' }))).toEqual([ac2]);
        expect(await claim(store, T0 + 200, 'ac-lane', { upstream: 'activecampaign' })).toEqual([]);
        expect(ids(await claim(store, T0 + 1_000, 'ac-lane', { upstream: 'activecampaign' }))).toEqual([acLater]);
      });

      it('writes a write-ahead mark only while the owner holds the job, which goes on running under its lease', async () => {
        await store.transaction(async (tx) => {
          await tx.insertSession(newSession('s1'));
          await tx.insertSession(newSession('s2'));
        });
        await store.updateSession('s1', { konnektive: { sessionId: 'K1' } });
        const [j1, j2] = await enqueueAll([newJob('s1'), newJob('s2')]);
        expect(ids(await claim(store, T0, 'w1', { leaseMs: 100 }))).toEqual([j1, j2]);
        // j1's lease expires and w2 takes it over; j2 is still w1's.
        expect(ids(await claim(store, T0 + 200, 'w2', { limit: 1 }))).toEqual([j1]);
        const mark = (id: number, sessionId: string) => ({ id, sessionId, completion: { state: 'running' as const }, attempts: [], sessionPatch: { konnektive: { clickInFlight: id } } });
        expect(await store.completeJobs('w2', [mark(j1!, 's1'), mark(j2!, 's2')])).toEqual([true, false]);
        expect(await store.completeJobs('w1', [mark(j1!, 's1')])).toEqual([false]);
        expect((await store.getSession('s1'))!.konnektive).toEqual({ sessionId: 'K1', clickInFlight: j1 });
        expect((await store.getSession('s2'))!.konnektive.clickInFlight).toBeUndefined();
        expect((await store.listJobs({ state: 'running' })).find((job) => job.id === j1)).toMatchObject({ attempts: 0 });
        // Still w2's: it completes it, w1 cannot.
        expect(await complete(j1!, 'w1', { state: 'done' })).toBe(false);
        expect(await complete(j1!, 'w2', { state: 'done' })).toBe(true);
      });

      it('lets another owner take a job whose lease expired; the old owner can then not complete it', async () => {
        const [j1] = await enqueueAll([newJob('s1')]);
        expect(ids(await claim(store, T0, 'old', { leaseMs: 100 }))).toEqual([j1]);
        expect(await claim(store, T0 + 100, 'new')).toEqual([]);
        expect(ids(await claim(store, T0 + 101, 'new', { leaseMs: 100 }))).toEqual([j1]);
        expect(await complete(j1!, 'old', { state: 'done' })).toBe(false);
        expect((await store.listJobs({ state: 'running' })).map((job) => job.id)).toEqual([j1]);
        expect(await complete(j1!, 'new', { state: 'done' })).toBe(true);
        // A finished job cannot be completed again.
        expect(await complete(j1!, 'new', { state: 'done' })).toBe(false);
        expect((await store.listJobs({}))[0]).toMatchObject({ state: 'done', attempts: 1 });
      });

      it('completes a round at once: attempts always logged, state and session patch only where the lease is held', async () => {
        await store.transaction(async (tx) => {
          for (const id of ['s1', 's2', 's3']) await tx.insertSession(newSession(id));
        });
        await store.updateSession('s1', { konnektive: { sessionId: 'k-1' } });
        const [j1, j2, j3] = await enqueueAll([newJob('s1'), newJob('s2'), newJob('s3', { runAt: T0 - 1 })]);
        expect(await claim(store, T0, 'w1', { leaseMs: 100 })).toHaveLength(3);
        // w1 is too slow for j3: its lease expires and w2 takes the job over.
        expect(ids(await claim(store, T0 + 101, 'w2', { limit: 1 }))).toEqual([j3]);
        const attempt = (jobId: number, outcome: 'ok' | 'transient') => ({
          jobId,
          upstream: 'konnektive' as const,
          endpoint: '/order/import/',
          request: '{}',
          response: '{}',
          outcome,
          httpStatus: outcome === 'ok' ? 200 : 502,
          latencyMs: 40,
          createdAt: T0 + 50,
        });
        const held = await store.completeJobs('w1', [
          {
            id: j1!,
            sessionId: 's1',
            completion: { state: 'done' },
            attempts: [attempt(j1!, 'ok')],
            sessionPatch: { konnektive: { orderId: 'o-1' }, leadSyncedVersion: 3 },
          },
          {
            id: j2!,
            sessionId: 's2',
            completion: { state: 'pending', runAt: T0 + 500, error: 'HTTP 502', countAttempt: true },
            attempts: [attempt(j2!, 'transient')],
            sessionPatch: undefined,
          },
          { id: j3!, sessionId: 's3', completion: { state: 'done' }, attempts: [attempt(j3!, 'ok')], sessionPatch: { leadSyncedVersion: 9 } },
        ]);
        expect(held).toEqual([true, true, false]);
        // The lost job's call did happen, so its attempt is on record all the same.
        expect((await store.listAttempts()).map((each) => [each.jobId, each.outcome])).toEqual([
          [j1, 'ok'],
          [j2, 'transient'],
          [j3, 'ok'],
        ]);
        expect(await store.getSession('s1')).toMatchObject({ konnektive: { sessionId: 'k-1', orderId: 'o-1' }, leadSyncedVersion: 3 });
        expect((await store.getSession('s3'))?.leadSyncedVersion).toBe(0);
        expect((await store.listJobs({})).map((job) => [job.id, job.state, job.attempts])).toEqual([
          [j1, 'done', 1],
          [j2, 'pending', 1],
          [j3, 'running', 0],
        ]);
        expect(await store.completeJobs('w1', [])).toEqual([]);
      });

      it('counts an attempt on a retry only when asked to', async () => {
        const [j1] = await enqueueAll([newJob('s1')]);
        await claim(store, T0);
        await complete(j1!, 'w1', { state: 'pending', runAt: T0, error: 'paused', countAttempt: false });
        expect((await store.listJobs({}))[0]).toMatchObject({ state: 'pending', attempts: 0, lastError: 'paused' });
        await claim(store, T0);
        await complete(j1!, 'w1', { state: 'pending', runAt: T0 + 7, error: 'HTTP 503', countAttempt: true });
        expect((await store.listJobs({}))[0]).toMatchObject({ state: 'pending', attempts: 1, lastError: 'HTTP 503', runAt: T0 + 7 });
      });

      it('replays dead jobs into the outbox with a fresh attempt count', async () => {
        const [j1, j2] = await enqueueAll([newJob('s1'), newJob('s2')]);
        await claim(store, T0);
        await complete(j1!, 'w1', { state: 'dead', error: 'rejected: bad lead' });
        await complete(j2!, 'w1', { state: 'done' });
        expect((await store.listJobs({ state: 'dead' }))[0]).toMatchObject({ id: j1, attempts: 1, lastError: 'rejected: bad lead' });
        expect(await store.countJobsByState()).toEqual({ pending: 0, running: 0, done: 1, dead: 1 });
        expect(await store.replayDeadJobs(T0 + 60_000)).toBe(1);
        expect(await store.replayDeadJobs(T0 + 60_000)).toBe(0);
        expect((await store.listJobs({ sessionId: 's1' }))[0]).toMatchObject({ state: 'pending', attempts: 0, runAt: T0 + 60_000 });
        expect(await claim(store, T0 + 59_999)).toEqual([]);
        expect(ids(await claim(store, T0 + 60_000))).toEqual([j1]);
      });

      it('does not run a replayed dead letter beside a later job of its session that is still running', async () => {
        const [j1, j2] = await enqueueAll([newJob('s1'), newJob('s1')]);
        await claim(store, T0);
        await complete(j1!, 'w1', { state: 'dead', error: 'rejected' });
        expect(ids(await claim(store, T0))).toEqual([j2]);
        expect(await store.replayDeadJobs(T0)).toBe(1);
        expect(await claim(store, T0 + 1, 'w2')).toEqual([]);
        await complete(j2!, 'w1', { state: 'done' });
        expect(ids(await claim(store, T0 + 1, 'w2'))).toEqual([j1]);
      });

      it('extends the leases an owner still holds, and only those', async () => {
        const [j1, j2] = await enqueueAll([newJob('s1'), newJob('s2')]);
        await claim(store, T0, 'w1', { leaseMs: 100 });
        await store.renewLeases('w1', [j1!, j2!], T0 + 10_000);
        await store.renewLeases('w2', [j1!], T0 + 99_999);
        expect(await claim(store, T0 + 5_000, 'w2')).toEqual([]);
        expect(ids(await claim(store, T0 + 10_001, 'w2'))).toEqual([j1, j2]);
      });

      it('releases every claim of one owner for immediate re-claiming', async () => {
        const [j1, j2, j3] = await enqueueAll([newJob('s1'), newJob('s2'), newJob('s3')]);
        await claim(store, T0, 'w1', { limit: 2 });
        await claim(store, T0, 'w2');
        expect(await store.releaseClaims('w1')).toBe(2);
        expect(await store.releaseClaims('w1')).toBe(0);
        expect(await store.countJobsByState()).toEqual({ pending: 2, running: 1, done: 0, dead: 0 });
        expect(ids(await claim(store, T0, 'w3'))).toEqual([j1, j2]);
        expect(await complete(j1!, 'w1', { state: 'done' })).toBe(false);
        expect(await complete(j3!, 'w2', { state: 'done' })).toBe(true);
      });

      it('counts jobs by state and filters listed jobs', async () => {
        expect(await store.countJobsByState()).toEqual({ pending: 0, running: 0, done: 0, dead: 0 });
        const [j1, , j3] = await enqueueAll([newJob('s1'), newJob('s1'), newJob('s2')]);
        await claim(store, T0, 'w1', { limit: 1 });
        expect(await store.countJobsByState()).toEqual({ pending: 2, running: 1, done: 0, dead: 0 });
        expect(ids(await store.listJobs({ sessionId: 's1', state: 'pending' }))).toHaveLength(1);
        expect(ids(await store.listJobs({ state: 'running' }))).toEqual([j1]);
        expect(ids(await store.listJobs({ sessionId: 's2' }))).toEqual([j3]);
      });
    });

    describe('retention', () => {
      const DAY = 24 * 60 * 60_000;
      const cutoff = T0 + 10 * DAY;
      const day = new Date(T0).toISOString().slice(0, 10);

      /** A session that ended in `state` right after it began, with optional emissions sent. */
      const finished = async (
        id: string,
        state: 'complete' | 'expired' | 'abandoned' | 'open',
        extra: { createdAt?: number; lastSeenAt?: number; isBot?: boolean; email?: boolean; dueAt?: number; pages?: string[]; events?: number } = {},
      ) => {
        const createdAt = extra.createdAt ?? T0;
        await store.transaction(async (tx) => {
          await tx.insertSession(newSession(id, { createdAt, lastSeenAt: extra.lastSeenAt ?? createdAt, isBot: extra.isBot ?? false }));
          for (let i = 0; i < (extra.events ?? 2); i++) {
            await tx.insertEvent({ id: `${id}-e${i}`, sessionId: id, type: 'page', receivedAt: createdAt, payload: { i } });
          }
          for (const page of extra.pages ?? []) await tx.markPageClicked(id, page as 'presell');
          await tx.updateSession(id, {
            state,
            stateChangedAt: createdAt + 1,
            ...(extra.email ? { lead: { emailAddress: `${id}@example.com` } } : {}),
            ...(extra.dueAt !== undefined ? { dueAt: extra.dueAt } : {}),
          });
        });
      };
      const emission = async (sessionId: string, kind: 'cart' | 'order' | 'customer', payload: Record<string, unknown>, status: 'sent' | 'queued' = 'sent') => {
        await store.transaction((tx) => tx.insertEmission({ sessionId, kind, payload, now: T0 }));
        if (status !== 'queued') await store.updateEmission(sessionId, kind, { status, now: T0 });
      };

      it('purges old finished sessions with their rows, rolls them up per day, and keeps the rest', async () => {
        await finished('done', 'complete', { email: true, pages: ['presell', 'checkout', 'thankyou'], events: 3 });
        await emission('done', 'cart', { totalCents: 3995, currency: 'USD' });
        await emission('done', 'order', { totalCents: 5990, currency: 'USD' });
        await finished('expired', 'expired', { pages: ['presell'] });
        await finished('abandoned-sent', 'abandoned', { email: true, pages: ['presell', 'checkout'] });
        await emission('abandoned-sent', 'cart', { totalCents: 1000, currency: 'EUR' });
        await finished('bot', 'open', { isBot: true, pages: ['presell'] });
        await finished('customer', 'expired', { email: true });
        await emission('customer', 'customer', {});
        // Kept, whatever their age:
        await finished('abandoned-unsent', 'abandoned', { email: true });
        await emission('abandoned-unsent', 'cart', { totalCents: 500, currency: 'USD' }, 'queued');
        await finished('still-due', 'open', { dueAt: T0 + 30 * 60_000 });
        await finished('pending-job', 'complete');
        await finished('dead-job', 'expired');
        await finished('recent', 'complete', { createdAt: cutoff + 1 });
        await finished('came-back', 'complete', { lastSeenAt: cutoff + 1 });
        await finished('order-unsent', 'complete');
        await emission('order-unsent', 'order', { totalCents: 100, currency: 'USD' }, 'queued');
        const [pendingJob, deadJob, doneJob] = await enqueueAll([newJob('pending-job'), newJob('dead-job'), newJob('done')]);
        expect(ids(await claim(store, T0, 'w1'))).toEqual([pendingJob, deadJob, doneJob]);
        const attempt = (jobId: number): DeliveryAttempt => ({
          jobId, upstream: 'konnektive', endpoint: '/x', request: '{}', response: '{}', outcome: 'transient', httpStatus: 500, latencyMs: 1, createdAt: T0,
        });
        await store.completeJobs('w1', [
          { id: pendingJob!, sessionId: 'pending-job', completion: { state: 'pending', runAt: T0 + 1, error: 'later', countAttempt: true }, attempts: [attempt(pendingJob!)], sessionPatch: undefined },
          { id: deadJob!, sessionId: 'dead-job', completion: { state: 'dead', error: 'no' }, attempts: [attempt(deadJob!)], sessionPatch: undefined },
          { id: doneJob!, sessionId: 'done', completion: { state: 'done' }, attempts: [attempt(doneJob!), attempt(doneJob!)], sessionPatch: undefined },
        ]);

        const purged = await store.purgeSessions({ cutoff, limit: 100, after: undefined });
        expect(purged.sessions).toBe(5);
        expect(purged.next).toBeUndefined();
        // 5 sessions, 11 events, 7 clicks, 10 states (open + final), 4 emissions.
        expect(purged.rows).toBe(5 + 11 + 7 + 10 + 4);
        for (const id of ['done', 'expired', 'abandoned-sent', 'bot', 'customer']) {
          expect(await store.getSession(id), id).toBeUndefined();
          expect(await store.listEvents(id)).toEqual([]);
          expect(await store.listStateChanges(id)).toEqual([]);
          expect(await store.listEmissions({ sessionId: id })).toEqual([]);
        }
        for (const id of ['abandoned-unsent', 'still-due', 'pending-job', 'dead-job', 'recent', 'came-back', 'order-unsent']) {
          expect(await store.getSession(id), id).toBeDefined();
          expect(await store.listEvents(id)).toHaveLength(2);
        }
        // The click rows went with the session: nothing of it is left behind.
        await store.transaction(async (tx) => {
          await tx.insertSession(newSession('done', { createdAt: cutoff + 5 }));
          expect(await tx.markPageClicked('done', 'presell')).toBe(true);
        });

        const figures = Object.fromEntries((await store.listDailyRollups()).map((r) => [`${r.metric}${r.currency ? `:${r.currency}` : ''}`, r.value]));
        expect(figures).toEqual({
          sessions: 4,
          bot_sessions: 1,
          reached_presell: 3,
          reached_checkout: 2,
          reached_thankyou: 1,
          leads: 3,
          customers: 1,
          carts_abandoned: 2,
          'abandoned_cents:USD': 3995,
          'abandoned_cents:EUR': 1000,
          orders: 1,
          'revenue_cents:USD': 5990,
          carts_recovered: 1,
          'recovered_cents:USD': 5990,
        });
        expect((await store.listDailyRollups()).every((r) => r.day === day)).toBe(true);
        expect(await store.listDailyRollups({ fromDay: '2099-01-01' })).toEqual([]);
        expect(await store.listDailyRollups({ fromDay: day, toDay: day })).toHaveLength(14);

        // Nothing left to purge: a second run changes nothing, the rollups are not counted twice.
        expect(await store.purgeSessions({ cutoff, limit: 100, after: undefined })).toEqual({ sessions: 0, rows: 0, next: undefined });
        expect(Object.fromEntries((await store.listDailyRollups()).map((r) => [`${r.metric}${r.currency}`, r.value])).sessions).toBe(4);

        // History: attempts of done jobs and done jobs go; pending and dead jobs keep theirs.
        const later = Date.now() + 60_000;
        expect(await store.purgeHistory({ cutoff: later, limit: 100 })).toBe(2 + 1);
        expect(await store.purgeHistory({ cutoff: later, limit: 100 })).toBe(0);
        expect((await store.listAttempts()).map((a) => a.jobId).sort()).toEqual([pendingJob, deadJob].sort());
        expect((await store.listJobs({})).map((job) => job.id)).toEqual([pendingJob, deadJob]);
        // The dead letter is still replayable with its session.
        expect(await store.replayDeadJobs(T0)).toBe(1);
      });

      it('goes batch by batch, resuming after the last session taken, and adds up the rollups', async () => {
        for (let i = 0; i < 7; i++) await finished(`x${i}`, 'expired', { createdAt: T0 + i * 1000, pages: ['presell'] });
        // Sessions it must step over (kept), between the purgeable ones.
        await finished('kept-a', 'open', { createdAt: T0 + 1500, dueAt: T0 + 99 });
        await finished('kept-b', 'open', { createdAt: T0 + 3500, dueAt: T0 + 99 });
        await finished('next-day', 'expired', { createdAt: T0 + DAY });
        const batches: number[] = [];
        let after: PurgeCursor | undefined;
        do {
          const batch = await store.purgeSessions({ cutoff, limit: 3, after });
          batches.push(batch.sessions);
          after = batch.next;
        } while (after);
        expect(batches).toEqual([3, 3, 2]);
        expect(await store.countSessions()).toBe(2);
        const rollups = await store.listDailyRollups();
        expect(rollups.filter((r) => r.metric === 'sessions').map((r) => [r.day, r.value])).toEqual([
          [day, 7],
          [new Date(T0 + DAY).toISOString().slice(0, 10), 1],
        ]);
        expect(rollups.find((r) => r.metric === 'reached_presell' && r.day === day)?.value).toBe(7);
      });

      it('a report over purged days still counts their sessions and leads; the dashboard forgets their sources', async () => {
        const dayStart = Date.parse(`${day}T00:00:00Z`);
        await finished('a', 'expired', { email: true });
        await finished('b', 'expired');
        await finished('c', 'complete', { createdAt: T0 + DAY, email: true });
        for (const id of ['a', 'b', 'c']) {
          await store.sql().run('INSERT INTO dashboard_sources (session_id, aff_id, device, created_at) VALUES (?, ?, ?, ?)', [id, 'A1', 'desktop', T0]);
        }
        const whole = () => store.funnelReport(dayStart, dayStart + 3 * DAY);
        // From the middle of the first day: a day counts whole once purged, so only if it begins in the period.
        const fromMidDay = () => store.funnelReport(T0, dayStart + 3 * DAY);
        expect(await whole()).toMatchObject({ sessions: 3, leads: 2 });
        expect(await fromMidDay()).toMatchObject({ sessions: 3, leads: 2 });

        expect((await store.purgeSessions({ cutoff, limit: 100, after: undefined })).sessions).toBe(3);
        expect(await store.countSessions()).toBe(0);
        expect(await whole()).toMatchObject({ sessions: 3, leads: 2 });
        expect(await fromMidDay()).toMatchObject({ sessions: 1, leads: 1 });
        expect(await store.funnelReport(dayStart + 3 * DAY, dayStart + 4 * DAY)).toMatchObject({ sessions: 0, leads: 0 });
        expect(await store.sql().all('SELECT session_id FROM dashboard_sources')).toEqual([]);
      });

      it('never takes a session that got a job, a due time or an event meanwhile', async () => {
        await finished('s1', 'complete');
        await finished('s2', 'complete');
        await finished('s3', 'complete');
        await enqueueAll([newJob('s1')]);
        await store.updateSession('s2', { dueAt: T0 });
        await store.updateSession('s3', { lastSeenAt: cutoff });
        expect((await store.purgeSessions({ cutoff, limit: 10, after: undefined })).sessions).toBe(0);
        expect(await store.countSessions()).toBe(3);
      });
    });

    describe('delivery attempts and meta', () => {
      it('records and lists delivery attempts, all or per job', async () => {
        const base = {
          upstream: 'konnektive' as const,
          endpoint: '/landers/clicks/import/',
          request: '{"pageType":"leadPage"}',
          response: '{"result":"SUCCESS"}',
          createdAt: T0,
        };
        // Attempts are written with a round's completions, and kept even when the lease was lost.
        const finish = (id: number, attempts: DeliveryAttempt[]) => ({ id, sessionId: 's1', completion: { state: 'done' as const }, attempts, sessionPatch: undefined });
        await store.completeJobs('w1', [
          finish(1, [{ ...base, jobId: 1, outcome: 'ok', httpStatus: 200, latencyMs: 12.6 }]),
          finish(2, [{ ...base, jobId: 2, outcome: 'transient', httpStatus: undefined, latencyMs: 3000, createdAt: T0 + 1 }]),
        ]);
        await store.completeJobs('w1', [finish(1, [{ ...base, jobId: 1, outcome: 'rejected', httpStatus: 200, latencyMs: 5 }])]);
        expect(await store.listAttempts(1)).toEqual([
          { ...base, jobId: 1, outcome: 'ok', httpStatus: 200, latencyMs: 13 },
          { ...base, jobId: 1, outcome: 'rejected', httpStatus: 200, latencyMs: 5 },
        ]);
        const all = await store.listAttempts();
        expect(all.map((attempt) => attempt.jobId)).toEqual([1, 2, 1]);
        expect(all[1]).toMatchObject({ httpStatus: undefined, createdAt: T0 + 1 });
      });

      it('keeps the first meta value', async () => {
        expect(await store.getMeta('instance')).toBeUndefined();
        expect(await store.setMetaIfAbsent('instance', 'first')).toBe('first');
        expect(await store.setMetaIfAbsent('instance', 'second')).toBe('first');
        expect(await store.getMeta('instance')).toBe('first');
      });

      it('keeps a dashboard cookie ended by logout for every store on the database, until it expires', async () => {
        const peer = openPeer();
        expect(await peer.isDashboardSessionRevoked('nonce-a')).toBe(false);
        await store.revokeDashboardSession('nonce-a', T0 + 1_000);
        await store.revokeDashboardSession('nonce-a', T0 + 1_000);
        await store.revokeDashboardSession('nonce-b', T0 + 5_000);
        expect(await peer.isDashboardSessionRevoked('nonce-a')).toBe(true);
        expect(await peer.isDashboardSessionRevoked('nonce-c')).toBe(false);
        // Retention: only what has expired by then, at most `limit` at a time.
        expect(await peer.purgeDashboardRevocations(T0 + 999, 10)).toBe(0);
        expect(await peer.purgeDashboardRevocations(T0 + 1_000, 10)).toBe(1);
        expect(await store.isDashboardSessionRevoked('nonce-a')).toBe(false);
        expect(await store.isDashboardSessionRevoked('nonce-b')).toBe(true);
        for (let i = 0; i < 3; i++) await store.revokeDashboardSession(`old-${i}`, T0);
        expect(await store.purgeDashboardRevocations(T0 + 10_000, 2)).toBe(2);
        expect(await store.purgeDashboardRevocations(T0 + 10_000, 2)).toBe(2);
        expect(await store.purgeDashboardRevocations(T0 + 10_000, 2)).toBe(0);
      });
    });

    describe('recovery facts and the funnel report', () => {
      const DAY = 86_400_000;
      const insertSessions = (sessions: NewSession[], leads: Record<string, Record<string, string>> = {}) =>
        store.transaction(async (tx) => {
          for (const session of sessions) {
            await tx.insertSession(session);
            if (leads[session.id]) await tx.updateSession(session.id, { lead: leads[session.id] });
          }
        });

      it('reports sessions, leads, carts, recoveries (any and by link), lost carts, orders and clicks', async () => {
        await insertSessions(
          [newSession('a'), newSession('b'), newSession('c'), newSession('d'), newSession('bot', { isBot: true }), newSession('old', { createdAt: T0 - 30 * DAY })],
          { a: { firstName: 'Ada', emailAddress: 'ada@example.com' }, b: { emailAddress: 'b@example.com' }, c: { firstName: 'x"emailAddress":' } },
        );
        const ttl = 7 * DAY;
        // a: abandoned, clicked (a scanner, then the person), came back, paid: recovered by link.
        await store.recordCartOutcome({ sessionId: 'a', at: T0 + 1000, totalCents: 3995, currency: 'USD', linkExpiresAt: T0 + 1000 + ttl });
        await store.recordRecoveryClick('a', T0 + 2000);
        await store.recordRecoveryClick('a', T0 + 3000);
        await store.recordRecoveryReturn('a', T0 + 3100);
        await store.recordRecoveryReturn('a', T0 + 9000);
        await store.recordOrderOutcome({ sessionId: 'a', at: T0 + 4000, totalCents: 5990, currency: 'USD', recoversCart: true });
        // Recorded twice (a job run again): nothing changes.
        await store.recordCartOutcome({ sessionId: 'a', at: T0 + 5000, totalCents: 1, currency: 'EUR', linkExpiresAt: 0 });
        await store.recordOrderOutcome({ sessionId: 'a', at: T0 + 6000, totalCents: 5990, currency: 'USD', recoversCart: true });
        // b: abandoned, paid without the link: recovered, not by link.
        await store.recordCartOutcome({ sessionId: 'b', at: T0 + 1000, totalCents: 2000, currency: 'EUR', linkExpiresAt: T0 + 1000 + ttl });
        await store.recordOrderOutcome({ sessionId: 'b', at: T0 + 5000, totalCents: 2000, currency: 'EUR', recoversCart: true });
        // c: abandoned, link expired, no order: lost.
        await store.recordCartOutcome({ sessionId: 'c', at: T0 + 1000, totalCents: 1500, currency: 'USD', linkExpiresAt: T0 + 2000 });
        // d: bought without any cart.
        await store.recordOrderOutcome({ sessionId: 'd', at: T0 + 1000, totalCents: 999, currency: 'USD', recoversCart: false });
        // Outside the period: an old cart and its clicks.
        await store.recordCartOutcome({ sessionId: 'old', at: T0 - 20 * DAY, totalCents: 100, currency: 'USD', linkExpiresAt: T0 - 13 * DAY });
        await store.recordRecoveryClick('old', T0 - 19 * DAY);

        const report = await store.funnelReport(T0 - DAY, T0 + DAY);
        expect(report).toEqual({
          since: T0 - DAY,
          until: T0 + DAY,
          sessions: 4,
          leads: 2,
          cartsAbandoned: 3,
          recoverableRevenue: { USD: 5495, EUR: 2000 },
          cartsRecovered: 2,
          recoveredRevenue: { USD: 5990, EUR: 2000 },
          cartsRecoveredByLink: 1,
          recoveredByLinkRevenue: { USD: 5990 },
          cartsLost: 1,
          orders: 3,
          revenue: { USD: 6989, EUR: 2000 },
          recoveryClicks: 2,
          recoveryReturns: 1,
        });
        const all = await store.funnelReport(0, T0 + DAY);
        expect(all).toMatchObject({ sessions: 5, cartsAbandoned: 4, cartsLost: 2, recoveryClicks: 3 });
      });

      it('keeps the first and the latest click on a recovery link, and counts every one', async () => {
        await store.recordCartOutcome({ sessionId: 'a', at: T0, totalCents: 3995, currency: 'USD', linkExpiresAt: T0 + 7 * DAY });
        for (const at of [T0 + 1000, T0 + 5000, T0 + 9000]) await store.recordRecoveryClick('a', at);
        const rows = await store.sql().all<Record<string, unknown>>('SELECT clicks, first_click_at, last_click_at FROM session_outcomes WHERE session_id = ?', ['a']);
        expect(rows.map((row) => [Number(row.clicks), Number(row.first_click_at), Number(row.last_click_at)])).toEqual([[3, T0 + 1000, T0 + 9000]]);
      });

      it('reports zeros on an empty store', async () => {
        expect(await store.funnelReport(0, T0)).toMatchObject({ sessions: 0, leads: 0, cartsAbandoned: 0, recoverableRevenue: {}, orders: 0, revenue: {} });
      });
    });

    if (backend.name === 'postgres') {
      describe('postgres only', () => {
        it('runs a commit group again when PostgreSQL breaks a deadlock, so no request fails', async () => {
          const peer = openPeer();
          await store.transaction(async (tx) => {
            await tx.insertSession(newSession('x'));
            await tx.insertSession(newSession('y'));
          });
          const lead = (sessionId: string, value: string) => ({
            mode: 'existing' as const, sessionId, campaignId: '42', ip: '203.0.113.7', userAgent: 'UA', isBot: false, receivedAt: T0,
            events: [{ id: randomUUID(), type: 'lead' as const, fields: { city: value } }],
          });
          for (let round = 0; round < 3; round++) {
            const one = new GroupCommitter(store);
            const two = new GroupCommitter(peer);
            // Opposite lock orders: x then y in one group, y then x in the other.
            const outcomes = await Promise.all([
              one.submit(lead('x', `a${round}`)), one.submit(lead('y', `a${round}`)),
              two.submit(lead('y', `b${round}`)), two.submit(lead('x', `b${round}`)),
            ]);
            expect(outcomes.every((outcome) => outcome.ok)).toBe(true);
          }
        }, 20_000);

        it('keeps every lead field when two collectors apply events of one session at once', async () => {
          const peer = openPeer();
          await store.transaction((tx) => tx.insertSession(newSession('s1')));
          for (let round = 0; round < 10; round++) {
            const lead = (field: string) => ({
              mode: 'existing' as const, sessionId: 's1', campaignId: '42', ip: '203.0.113.7', userAgent: 'UA', isBot: false, receivedAt: T0 + round,
              events: [{ id: randomUUID(), type: 'lead' as const, fields: { [field]: `${field}-${round}` } }],
            });
            await Promise.all([
              store.transaction((tx) => applyBatch(tx, lead('city'))),
              peer.transaction((tx) => applyBatch(tx, lead('state'))),
            ]);
            expect((await store.getSession('s1'))?.lead).toMatchObject({ city: `city-${round}`, state: `state-${round}` });
          }
        });

        it('gives each due session to one of several sweepers racing for them', async () => {
          await store.transaction(async (tx) => {
            for (let i = 0; i < 60; i++) {
              await tx.insertSession(newSession(`s${i}`));
              await tx.updateSession(`s${i}`, { dueAt: T0 });
            }
          });
          const sweepers = [store, openPeer(), openPeer()];
          const taken = await Promise.all(
            sweepers.map(async (sweeper) => {
              const ids: string[] = [];
              for (;;) {
                const batch = await sweeper.transaction((tx) => tx.claimDueSessions(T0, 7));
                if (batch.length === 0) return ids;
                ids.push(...batch.map((session) => session.id));
              }
            }),
          );
          const all = taken.flat();
          expect(all).toHaveLength(60);
          expect(new Set(all).size).toBe(60);
        });

        it('applies migrations once when several collectors start at once on a new schema', async () => {
          const fresh = backend.open();
          const starting = [fresh.store, fresh.openPeer(), fresh.openPeer(), fresh.openPeer()];
          opened.push(...starting);
          await Promise.all(starting.map((each) => each.migrate()));
          await starting[0]!.transaction((tx) => tx.insertSession(newSession('s1')));
          expect(await starting[3]!.countSessions()).toBe(1);
        });

        it('takes the schema from a ?schema= URL parameter', async () => {
          const fresh = backend.open({ viaUrl: true });
          const peer = fresh.openPeer();
          opened.push(fresh.store, peer);
          await fresh.store.migrate();
          await fresh.store.transaction((tx) => tx.insertSession(newSession('s1')));
          // The peer names the schema through the options: the same tables, not the test's own.
          expect(await peer.countSessions()).toBe(1);
          expect(await store.countSessions()).toBe(0);
        });

        it('refuses to report a commit after a caught statement failure (the transaction was aborted)', async () => {
          await expect(
            store.transaction(async (tx) => {
              await tx.insertSession(newSession('s1'));
              await tx.insertSession(newSession('s1')).catch(() => {});
            }),
          ).rejects.toThrow(/rolled back/);
          expect(await store.countSessions()).toBe(0);
        });

        it('settles concurrent setMetaIfAbsent calls from two stores on one value', async () => {
          const peer = openPeer();
          const values = await Promise.all(
            Array.from({ length: 10 }, (_, i) => (i % 2 ? store : peer).setMetaIfAbsent('instance', `v${i}`)),
          );
          expect(new Set(values).size).toBe(1);
        });

        it('two collectors claiming at once never share a job and never run two jobs of one session', { timeout: 60_000 }, async () => {
          const sessions = 20;
          const perSession = 3;
          // Interleaved across sessions, so a session's jobs are not adjacent ids.
          const jobs: NewJob[] = [];
          for (let n = 0; n < perSession; n++) {
            for (let s = 0; s < sessions; s++) jobs.push(newJob(`s${s}`, { runAt: 0, payload: { n } }));
          }
          await enqueueAll(jobs);
          const peer = openPeer();

          const claimedBy = new Map<number, string>();
          const runningSessions = new Set<string>();
          const runOrder = new Map<string, number[]>();
          const violations: string[] = [];

          const worker = async (claimer: Store, owner: string): Promise<void> => {
            for (;;) {
              const batch = await claimer.claimJobs({ now: Date.now(), limit: 4, leaseMs: 60_000, owner, skipUpstreams: [] });
              if (batch.length === 0) {
                const counts = await claimer.countJobsByState();
                if (counts.pending + counts.running === 0) return;
                await sleep(1);
                continue;
              }
              for (const job of batch) {
                const previous = claimedBy.get(job.id);
                if (previous) violations.push(`job ${job.id} claimed by ${previous} and ${owner}`);
                claimedBy.set(job.id, owner);
                if (runningSessions.has(job.sessionId)) violations.push(`session ${job.sessionId} ran two jobs at once (${owner})`);
                runningSessions.add(job.sessionId);
                runOrder.set(job.sessionId, [...(runOrder.get(job.sessionId) ?? []), job.id]);
              }
              await sleep(Math.random() * 3);
              // Leave the set before completing: the next job of a session becomes claimable
              // only once the completion commits.
              for (const job of batch) runningSessions.delete(job.sessionId);
              const held = await claimer.completeJobs(
                owner,
                batch.map((job) => ({ id: job.id, sessionId: job.sessionId, completion: { state: 'done' }, attempts: [], sessionPatch: undefined })),
              );
              held.forEach((ok, i) => {
                if (!ok) violations.push(`job ${batch[i]!.id}: completion ignored`);
              });
            }
          };

          await Promise.all([worker(store, 'a1'), worker(store, 'a2'), worker(peer, 'b1'), worker(peer, 'b2')]);

          expect(violations).toEqual([]);
          expect(claimedBy.size).toBe(sessions * perSession);
          for (const [sessionId, order] of runOrder) {
            expect(order, sessionId).toEqual([...order].sort((a, b) => a - b));
            expect(order).toHaveLength(perSession);
          }
          expect(await store.countJobsByState()).toEqual({ pending: 0, running: 0, done: sessions * perSession, dead: 0 });
          // Both collectors took part.
          const owners = new Set(claimedBy.values());
          expect([...owners].some((owner) => owner.startsWith('a')) && [...owners].some((owner) => owner.startsWith('b'))).toBe(true);
        });
      });
    }
  });
}
