import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { VirtualClock } from '../../test/support/virtual-clock.js';
import { createLogger } from '../logger.js';
import { SqliteStore } from '../store/sqlite-store.js';
import { UpstreamHealth } from '../upstream-health.js';
import { JOB_KINDS, type JobKind } from './job-kinds.js';
import type { JobHandler } from './job-outcome.js';
import { OutboxWorker } from './outbox-worker.js';

let store: SqliteStore;
let clock: VirtualClock;
const health = () => new UpstreamHealth({ konnektive: 'ok', activecampaign: 'ok' });
const logger = createLogger('silent');
const policy = { baseMs: 1, capMs: 5, maxAttempts: 3 };

beforeEach(async () => {
  clock = new VirtualClock();
  store = SqliteStore.fromUrl('file::memory:');
  await store.migrate();
});
afterEach(async () => {
  await store.close();
});

/** Test handlers stand in for real job kinds; the kinds they leave out must not run. */
const FLAKY = JOB_KINDS.konnektiveClick;
const BROKEN = JOB_KINDS.konnektiveLead;
const SLOW = JOB_KINDS.purchaseRecheck;
const FAST = JOB_KINDS.orderFinalize;

/** `kind` may be one no handler knows: a job stored by another version of the collector. */
async function enqueue(kind: string, sessionId = 's1'): Promise<number> {
  return store.transaction((tx) => tx.enqueue({ sessionId, upstream: 'konnektive', kind: kind as JobKind, payload: {}, runAt: 0 }));
}

const unexpected: JobHandler = async (job) => {
  throw new Error(`unexpected job ${job.kind}`);
};
const allKinds = (handlers: Partial<Record<JobKind, JobHandler>>): Record<JobKind, JobHandler> =>
  Object.fromEntries(Object.values(JOB_KINDS).map((kind) => [kind, handlers[kind] ?? unexpected])) as Record<JobKind, JobHandler>;

const worker = (handlers: Partial<Record<JobKind, JobHandler>>, owner = 'w1', leaseMs = 60_000) =>
  new OutboxWorker({ store, handlers: allKinds(handlers), health: health(), logger, owner, leaseMs, backoff: policy, clock });

/** Lets timers' async work (a lease renewal's write) reach the store. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('OutboxWorker', () => {
  it('retries a failing job with backoff and dead-letters it after its last attempt, with the error', async () => {
    let calls = 0;
    const w = worker({ [FLAKY]: async () => (calls++, { type: 'retry', error: 'HTTP 503' }) });
    const id = await enqueue(FLAKY);
    for (let round = 0; round < 50 && (await store.listJobs({ state: 'dead' })).length === 0; round++) {
      await w.runOnce();
      clock.advance(6);
    }
    expect(calls).toBe(3);
    expect((await store.listJobs({}))[0]).toMatchObject({ id, state: 'dead', attempts: 3, lastError: 'HTTP 503' });
  });

  it('treats a handler that throws as a transient failure, and a job of no known kind as dead', async () => {
    const w = worker({ [BROKEN]: async () => { throw new Error('bug'); } });
    await enqueue(BROKEN, 's1');
    await enqueue('nobody-handles-this', 's2');
    await w.runOnce();
    const jobs = await store.listJobs({});
    expect(jobs.map((job) => [job.kind, job.state, job.lastError])).toEqual([
      [BROKEN, 'pending', 'handler error: bug'],
      ['nobody-handles-this', 'dead', 'no handler for job kind nobody-handles-this'],
    ]);
  });

  it('renews the leases of a round that outlasts them, so no other worker takes its jobs', async () => {
    let deliveries = 0;
    let release!: () => void;
    const slow: JobHandler = async () => {
      deliveries++;
      await new Promise<void>((resolve) => (release = resolve));
      return { type: 'done' };
    };
    await enqueue(SLOW);
    const first = worker({ [SLOW]: slow }, 'w1', 1_000);
    const second = worker({ [SLOW]: slow }, 'w2', 1_000);
    const round = first.runOnce();
    await settle();
    // Checks over three seconds of the worker's clock: three times the lease.
    for (let i = 0; i < 10; i++) {
      clock.advance(300);
      await settle();
      expect(await second.runOnce()).toBe(0);
    }
    release();
    await round;
    expect(deliveries).toBe(1);
    expect((await store.listJobs({}))[0]?.state).toBe('done');
  });

  it('stores each job\'s result as soon as it finishes, whatever else the round still waits for', async () => {
    let release!: () => void;
    const slow: JobHandler = async () => {
      await new Promise<void>((resolve) => (release = resolve));
      return { type: 'done' };
    };
    const fast: JobHandler = async (_job, effects) => {
      effects.patchSession({ konnektive: { orderId: 'P1' } });
      return { type: 'done' };
    };
    await store.transaction((tx) => tx.insertSession({ id: 's2', campaignId: '12', createdAt: 0, lastSeenAt: 0, landingUrl: undefined, referrer: undefined, userAgent: 'UA', ip: '203.0.113.7', isBot: false }));
    await enqueue(SLOW, 's1');
    await enqueue(FAST, 's2');
    const round = worker({ [SLOW]: slow, [FAST]: fast }).runOnce();
    // The fast job's answer (an order id Konnektive returned) is durable while the slow job still runs.
    for (let i = 0; i < 100 && (await store.getSession('s2'))?.konnektive.orderId === undefined; i++) await new Promise((resolve) => setTimeout(resolve, 5));
    expect((await store.getSession('s2'))?.konnektive.orderId).toBe('P1');
    expect((await store.listJobs({ sessionId: 's2' }))[0]?.state).toBe('done');
    expect((await store.listJobs({ sessionId: 's1' }))[0]?.state).toBe('running');
    release();
    await round;
    expect((await store.listJobs({ sessionId: 's1' }))[0]?.state).toBe('done');
  });

  it('claims a funnel job before older lifecycle deliveries, and a running worker claims it while the slow ones still run', async () => {
    const order = JOB_KINDS.emitOrder;
    const deliver = JOB_KINDS.lifecycleDeliver;
    const releases: Array<() => void> = [];
    const ran: string[] = [];
    const slow: JobHandler = async (job) => {
      ran.push(job.sessionId);
      await new Promise<void>((resolve) => releases.push(resolve));
      return { type: 'done' };
    };
    const quick: JobHandler = async (job) => (ran.push(job.sessionId), { type: 'done' });
    for (let i = 0; i < 12; i++) await enqueue(deliver, `customer:${i}`);
    const w = new OutboxWorker({ store, handlers: allKinds({ [deliver]: slow, [order]: quick }), health: health(), logger, owner: 'w1', backoff: policy, clock, concurrency: 4, pollMs: 10 });
    w.start();
    for (let i = 0; i < 100 && ran.length < 4; i++) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(ran).toEqual(['customer:0', 'customer:1', 'customer:2', 'customer:3']);
    // The ORDER is queued after eight more deliveries are due; one of the four running ones finishes.
    await enqueue(order, 'funnel-session');
    releases.shift()?.();
    for (let i = 0; i < 100 && !ran.includes('funnel-session'); i++) await new Promise((resolve) => setTimeout(resolve, 5));
    // Claimed next, ahead of the eight older deliveries, while three deliveries still run.
    expect(ran[4]).toBe('funnel-session');
    expect((await store.listJobs({ sessionId: 'funnel-session' }))[0]?.state).toBe('done');
    expect((await store.listJobs({ state: 'running' })).length).toBeGreaterThanOrEqual(3);
    for (let i = 0; i < 200 && ran.length < 13; i++) {
      releases.splice(0).forEach((release) => release());
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    releases.splice(0).forEach((release) => release());
    await w.stop();
    expect(ran).toHaveLength(13);
  });

  it('gives back what it holds when stopped', async () => {
    await enqueue(SLOW);
    await store.claimJobs({ now: clock.now(), limit: 1, leaseMs: 60_000, owner: 'w1', skipUpstreams: [] });
    await worker({}, 'w1').stop();
    expect((await store.listJobs({}))[0]?.state).toBe('pending');
  });
});
