/**
 * The outbox worker's lanes (relay-lane.ts) on both real stores: each upstream's places refill as
 * its calls end, a rate-limited upstream is throttled at pickup (its jobs wait in the outbox, not
 * in places), the ActiveCampaign limit holds across workers sharing a store, and stop() still
 * waits for every lane's jobs and gives back what the worker holds. ActiveCampaign is its HTTP
 * double; the rate gate, its schedule and the store are the real ones, on the wall clock.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startActiveCampaignDouble, type ActiveCampaignDouble } from '../../test/doubles/activecampaign-double.js';
import { testPostgres } from '../../test/support/postgres.js';
import { systemClock } from '../clock.js';
import { activeCampaignClient } from '../emit/activecampaign-client.js';
import { activeCampaignRateKey } from '../emit/activecampaign-emitter.js';
import { pickupThrottle, RateGate } from '../emit/rate-gate.js';
import { createLogger } from '../logger.js';
import { PostgresStore } from '../store/postgres-store.js';
import { SqliteStore } from '../store/sqlite-store.js';
import type { Job, Store, Upstream } from '../store/store.js';
import { UpstreamHealth } from '../upstream-health.js';
import { JOB_KINDS, type JobKind } from './job-kinds.js';
import type { JobHandler } from './job-outcome.js';
import { OutboxWorker, type OutboxWorkerOptions } from './outbox-worker.js';

interface Backend {
  name: 'sqlite' | 'postgres';
  skip: string | undefined;
  /** A fresh store and a way to open another one on the same database (a second collector). */
  open(): { store: Store; openPeer: () => Store };
  cleanup(): Promise<void>;
}

const dirs: string[] = [];
const sqlite: Backend = {
  name: 'sqlite',
  skip: undefined,
  open() {
    const dir = mkdtempSync(join(tmpdir(), 'funnelbeacon-lanes-'));
    dirs.push(dir);
    const path = join(dir, 'store.db');
    return { store: new SqliteStore(path), openPeer: () => new SqliteStore(path) };
  },
  async cleanup() {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  },
};
const pg = await testPostgres();
const postgres: Backend = {
  name: 'postgres',
  skip: pg.skip,
  open() {
    const schema = pg.newSchema();
    return { store: PostgresStore.fromUrl(pg.url, { schema }), openPeer: () => PostgresStore.fromUrl(pg.url, { schema }) };
  },
  cleanup: () => pg.dropSchemas(),
};

const logger = createLogger('silent');
const KONNEKTIVE_KIND = JOB_KINDS.konnektiveClick;
const AC_KIND = JOB_KINDS.emitCart;
const LIFECYCLE_KIND = JOB_KINDS.lifecycleDeliver;

const unexpected: JobHandler = async (job) => {
  throw new Error(`unexpected job ${job.kind}`);
};
const allKinds = (handlers: Partial<Record<JobKind, JobHandler>>): Record<JobKind, JobHandler> =>
  Object.fromEntries(Object.values(JOB_KINDS).map((kind) => [kind, handlers[kind] ?? unexpected])) as Record<JobKind, JobHandler>;

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(10);
  }
}

/** A latch a handler waits on until the test lets it finish. */
function gateOf() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
}

for (const backend of [sqlite, postgres]) {
  describe.skipIf(backend.skip !== undefined)(`outbox lanes: ${backend.name}`, () => {
    let store: Store;
    let openPeer: () => Store;
    const closing: Array<() => Promise<void>> = [];

    beforeEach(async () => {
      ({ store, openPeer } = backend.open());
      await store.migrate();
    });
    afterEach(async () => {
      for (const close of closing.splice(0).reverse()) await close();
      await store.close();
    });
    afterAll(() => backend.cleanup());

    const enqueue = (kind: JobKind, upstream: Upstream, sessionId: string, on: Store = store) =>
      on.transaction((tx) => tx.enqueue({ sessionId, upstream, kind, payload: {}, runAt: 0 }));
    const jobs = async (filter: (job: Job) => boolean) => (await store.listJobs({ limit: 1000 })).filter(filter);
    const worker = (options: Partial<OutboxWorkerOptions> & Pick<OutboxWorkerOptions, 'handlers'>) => {
      const w = new OutboxWorker({
        store,
        health: new UpstreamHealth({ konnektive: 'ok', activecampaign: 'ok' }),
        logger,
        clock: systemClock,
        pollMs: 50,
        backoff: { baseMs: 10, capMs: 50, maxAttempts: 3 },
        ...options,
      });
      closing.push(() => w.stop());
      return w;
    };
    async function acDouble(): Promise<ActiveCampaignDouble> {
      const ac = await startActiveCampaignDouble({ apiKey: 'lanes-key', rateLimitPerSecond: 5 });
      closing.push(() => ac.close());
      return ac;
    }
    /** A collector's ActiveCampaign side on `on`: its gate, pickup throttle, and a one-call job handler. */
    function acSide(ac: ActiveCampaignDouble, on: Store) {
      const key = activeCampaignRateKey(ac.apiUrl);
      const gate = new RateGate({ store: on, clock: systemClock, key, perSecond: 5 });
      const client = activeCampaignClient({ apiUrl: ac.apiUrl, apiKey: 'lanes-key', gate, clock: systemClock });
      const handler: JobHandler = async () => {
        const response = await client.request('GET', '/connections');
        return response.ok ? { type: 'done' } : { type: 'retry', error: response.message };
      };
      return { gate, throttle: pickupThrottle({ store: on, clock: systemClock, key, perSecond: 5 }), handler };
    }

    it('gives each upstream its own places, refilled as each call ends: a slow call holds one place, never the next job', async () => {
      const held = gateOf();
      const slow = (id: string) => id === 'k-slow' || id.startsWith('a-slow');
      const handler: JobHandler = async (job) => {
        if (slow(job.sessionId)) await held.opened;
        return { type: 'done' };
      };
      await enqueue(KONNEKTIVE_KIND, 'konnektive', 'k-slow');
      for (let i = 0; i < 5; i++) await enqueue(KONNEKTIVE_KIND, 'konnektive', `k-${i}`);
      await enqueue(AC_KIND, 'activecampaign', 'a-slow-1');
      await enqueue(AC_KIND, 'activecampaign', 'a-slow-2');
      await enqueue(AC_KIND, 'activecampaign', 'a-next');
      const w = worker({ handlers: allKinds({ [KONNEKTIVE_KIND]: handler, [AC_KIND]: handler }), concurrency: 2 });
      w.start();
      // Two Konnektive places: the slow call holds one, the other serves the five quick jobs in turn.
      await until(async () => (await jobs((job) => /^k-\d$/.test(job.sessionId) && job.state === 'done')).length === 5, 'the quick Konnektive jobs');
      // ActiveCampaign's two places are both held; its third job waits, and Konnektive never noticed.
      expect(w.inFlight()).toEqual({ konnektive: 1, activecampaign: 2 });
      expect((await jobs((job) => job.sessionId === 'a-next'))[0]?.state).toBe('pending');
      held.open();
      await until(async () => (await jobs((job) => job.state !== 'done')).length === 0, 'every job');
    });

    it('throttles a rate-limited upstream at pickup: while its schedule is paused it holds no place, and the other upstream runs', { timeout: 30_000 }, async () => {
      const ac = await acDouble();
      const side = acSide(ac, store);
      const pausedUntil = Date.now() + 2_500;
      // As after a 429 with Retry-After: every collector's schedule for the account is pushed back.
      await side.gate.pauseUntil(pausedUntil);
      for (let i = 0; i < 6; i++) await enqueue(AC_KIND, 'activecampaign', `a-${i}`);
      for (let i = 0; i < 20; i++) await enqueue(KONNEKTIVE_KIND, 'konnektive', `k-${i}`);
      const konnektive: JobHandler = async () => (await delay(20), { type: 'done' });
      const w = worker({ handlers: allKinds({ [KONNEKTIVE_KIND]: konnektive, [AC_KIND]: side.handler }), concurrency: 4, throttles: { activecampaign: side.throttle } });
      w.start();
      let samples = 0;
      while (Date.now() < pausedUntil - 500) {
        expect(w.inFlight().activecampaign).toBe(0);
        expect(await jobs((job) => job.upstream === 'activecampaign' && job.state !== 'pending')).toEqual([]);
        samples++;
        await delay(50);
      }
      expect(samples).toBeGreaterThan(0);
      expect(await jobs((job) => job.upstream === 'konnektive' && job.state !== 'done')).toEqual([]);
      expect(ac.requests).toEqual([]);
      // Then the schedule has room again, and the jobs go at the account's pace.
      await until(async () => (await jobs((job) => job.state !== 'done')).length === 0, 'the ActiveCampaign jobs');
      expect(ac.stats.rateLimited).toBe(0);
      expect(ac.maxRequestsInAnyWindow()).toBeLessThanOrEqual(5);
    });

    it('holds the ActiveCampaign limit across two workers sharing one store, with the backlog waiting in the outbox', { timeout: 30_000 }, async () => {
      const ac = await acDouble();
      const peer = openPeer();
      closing.push(() => peer.close());
      const sides = [acSide(ac, store), acSide(ac, peer)];
      const total = 16;
      for (let i = 0; i < total; i++) await enqueue(AC_KIND, 'activecampaign', `a-${i}`);
      const workers = sides.map((side, i) =>
        worker({ store: i === 0 ? store : peer, owner: `w${i + 1}`, handlers: allKinds({ [AC_KIND]: side.handler }), concurrency: 32, throttles: { activecampaign: side.throttle } }),
      );
      for (const w of workers) w.start();
      let mostRunning = 0;
      await until(async () => {
        mostRunning = Math.max(mostRunning, workers.reduce((sum, w) => sum + w.inFlight().activecampaign, 0));
        return (await jobs((job) => job.state !== 'done')).length === 0;
      }, 'the backlog');
      expect(ac.requests.filter((request) => request.status === 200)).toHaveLength(total);
      expect(ac.stats.rateLimited).toBe(0);
      expect(ac.maxRequestsInAnyWindow()).toBeLessThanOrEqual(5);
      // 64 places, 16 jobs: without throttling at pickup all of them would have been claimed at
      // once to wait in the gate. Each worker takes what half a second of the schedule holds.
      expect(mostRunning).toBeLessThan(total / 2 + 2);
      // Both workers delivered: the limit is the account's, not a worker's.
      expect(new Set((await store.listJobs({ limit: 1000 })).map((job) => job.state))).toEqual(new Set(['done']));
    });

    it("claims a session's next job in another upstream's lane as soon as the job before it ends, not at the next poll", async () => {
      const done: string[] = [];
      const handler: JobHandler = async (job) => (done.push(job.kind), { type: 'done' });
      await enqueue(JOB_KINDS.purchaseRecheck, 'konnektive', 's1');
      await enqueue(AC_KIND, 'activecampaign', 's1');
      const w = worker({ handlers: allKinds({ [JOB_KINDS.purchaseRecheck]: handler, [AC_KIND]: handler }), pollMs: 60_000 });
      w.start();
      await until(() => done.length === 2, 'both jobs of the session', 5_000);
      expect(done).toEqual([JOB_KINDS.purchaseRecheck, AC_KIND]);
    });

    it("keeps a lifecycle backlog out of ActiveCampaign's places: a CART queued behind it goes within the next few calls", { timeout: 30_000 }, async () => {
      const ac = await acDouble();
      const side = acSide(ac, store);
      for (let i = 0; i < 12; i++) await enqueue(LIFECYCLE_KIND, 'activecampaign', `customer:${i}`);
      const w = worker({ handlers: allKinds({ [LIFECYCLE_KIND]: side.handler, [AC_KIND]: side.handler }), concurrency: 32, throttles: { activecampaign: side.throttle } });
      w.start();
      await until(() => ac.requests.length >= 3, 'the backfill under way');
      // Throttled at pickup: of 12 due deliveries, only those the next half second holds are claimed.
      expect(w.inFlight().activecampaign).toBeLessThan(6);
      const before = ac.requests.length;
      await enqueue(AC_KIND, 'activecampaign', 'funnel-1');
      w.notify();
      await until(async () => (await jobs((job) => job.sessionId === 'funnel-1'))[0]?.state === 'done', 'the CART');
      const cartCall = (await store.listJobs({ limit: 1000 })).filter((job) => job.kind === LIFECYCLE_KIND && job.state === 'done').length;
      // Only deliveries already booked when it was queued went before it, never the whole backlog.
      expect(cartCall - before).toBeLessThanOrEqual(4);
      await until(async () => (await jobs((job) => job.state !== 'done')).length === 0, 'the backfill');
      expect(ac.maxRequestsInAnyWindow()).toBeLessThanOrEqual(5);
    });

    it('claims no lifecycle deliveries when their schedule has no room, while the funnel\'s jobs are still claimed', async () => {
      await enqueue(LIFECYCLE_KIND, 'activecampaign', 'customer:1');
      await enqueue(AC_KIND, 'activecampaign', 'funnel-1');
      const claimed = await store.claimJobs({ now: Date.now(), limit: 10, leaseMs: 60_000, owner: 'w1', skipUpstreams: [], skipBackground: true });
      expect(claimed.map((job) => job.sessionId)).toEqual(['funnel-1']);
      const rest = await store.claimJobs({ now: Date.now(), limit: 10, leaseMs: 60_000, owner: 'w1', skipUpstreams: [] });
      expect(rest.map((job) => job.sessionId)).toEqual(['customer:1']);
    });

    it('stop() waits for the jobs in flight in every lane, then gives back every claim it holds', async () => {
      const held = gateOf();
      let finished = 0;
      const handler: JobHandler = async () => {
        await held.opened;
        finished++;
        return { type: 'done' };
      };
      await enqueue(KONNEKTIVE_KIND, 'konnektive', 'k-1');
      await enqueue(AC_KIND, 'activecampaign', 'a-1');
      await enqueue(KONNEKTIVE_KIND, 'konnektive', 'k-2');
      const w = worker({ owner: 'w1', handlers: allKinds({ [KONNEKTIVE_KIND]: handler, [AC_KIND]: handler }), concurrency: 1 });
      w.start();
      await until(() => w.inFlight().konnektive === 1 && w.inFlight().activecampaign === 1, 'one job in each lane');
      // A claim the worker holds but does not run (a round cut short): stop() gives it back.
      await store.claimJobs({ now: Date.now(), limit: 1, leaseMs: 60_000, owner: 'w1', skipUpstreams: [] });
      let stopped = false;
      const stopping = w.stop().then(() => (stopped = true));
      await delay(100);
      expect(stopped).toBe(false);
      held.open();
      await stopping;
      expect(finished).toBe(2);
      const states = Object.fromEntries((await store.listJobs({})).map((job) => [job.sessionId, job.state]));
      expect(states).toEqual({ 'k-1': 'done', 'a-1': 'done', 'k-2': 'pending' });
    });
  });
}
