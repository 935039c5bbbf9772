import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../logger.js';
import { SqliteStore } from '../store/sqlite-store.js';
import { UpstreamHealth } from '../upstream-health.js';
import type { JobHandler } from './job-outcome.js';
import { OutboxWorker } from './outbox-worker.js';

let store: SqliteStore;
const health = () => new UpstreamHealth({ konnektive: 'ok', activecampaign: 'ok' });
const logger = createLogger('silent');
const policy = { baseMs: 1, capMs: 5, maxAttempts: 3 };

beforeEach(async () => {
  store = SqliteStore.fromUrl('file::memory:');
  await store.migrate();
});
afterEach(async () => {
  await store.close();
});

async function enqueue(kind: string, sessionId = 's1'): Promise<number> {
  return store.transaction((tx) => tx.enqueue({ sessionId, upstream: 'konnektive', kind, payload: {}, runAt: 0 }));
}

const worker = (handlers: Record<string, JobHandler>, owner = 'w1', leaseMs = 60_000) =>
  new OutboxWorker({ store, handlers, health: health(), logger, owner, leaseMs, backoff: policy });

describe('OutboxWorker', () => {
  it('retries a failing job with backoff and dead-letters it after its last attempt, with the error', async () => {
    let calls = 0;
    const w = worker({ flaky: async () => (calls++, { type: 'retry', error: 'HTTP 503' }) });
    const id = await enqueue('flaky');
    for (let round = 0; round < 50 && (await store.listJobs({ state: 'dead' })).length === 0; round++) {
      await w.runOnce();
      await new Promise((resolve) => setTimeout(resolve, 6));
    }
    expect(calls).toBe(3);
    expect((await store.listJobs({}))[0]).toMatchObject({ id, state: 'dead', attempts: 3, lastError: 'HTTP 503' });
  });

  it('treats a handler that throws as a transient failure, and a job of no known kind as dead', async () => {
    const w = worker({ broken: async () => { throw new Error('bug'); } });
    await enqueue('broken', 's1');
    await enqueue('nobody-handles-this', 's2');
    await w.runOnce();
    const jobs = await store.listJobs({});
    expect(jobs.map((job) => [job.kind, job.state, job.lastError])).toEqual([
      ['broken', 'pending', 'handler error: bug'],
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
    await enqueue('slow');
    const first = worker({ slow }, 'w1', 1_000);
    const second = worker({ slow }, 'w2', 1_000);
    const round = first.runOnce();
    // Checks over three seconds: three times the lease.
    for (let i = 0; i < 10; i++) {
      await new Promise((resolve) => setTimeout(resolve, 300));
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
    await enqueue('slow', 's1');
    await enqueue('fast', 's2');
    const round = worker({ slow, fast }).runOnce();
    // The fast job's answer (an order id Konnektive returned) is durable while the slow job still runs.
    for (let i = 0; i < 100 && (await store.getSession('s2'))?.konnektive.orderId === undefined; i++) await new Promise((resolve) => setTimeout(resolve, 5));
    expect((await store.getSession('s2'))?.konnektive.orderId).toBe('P1');
    expect((await store.listJobs({ sessionId: 's2' }))[0]?.state).toBe('done');
    expect((await store.listJobs({ sessionId: 's1' }))[0]?.state).toBe('running');
    release();
    await round;
    expect((await store.listJobs({ sessionId: 's1' }))[0]?.state).toBe('done');
  });

  it('gives back what it holds when stopped', async () => {
    await enqueue('x');
    await store.claimJobs({ now: Date.now(), limit: 1, leaseMs: 60_000, owner: 'w1', skipUpstreams: [] });
    await worker({}, 'w1').stop();
    expect((await store.listJobs({}))[0]?.state).toBe('pending');
  });
});
