/**
 * The outbox worker's costs on PostgreSQL: a round of finished jobs and claims in two round trips
 * and one commit however many jobs it holds (postgres-relay-round.ts), and the sessions its jobs
 * read together in one (batched-reads.ts). What they write is the store contract's (store.contract.test.ts).
 */
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { testPostgres } from '../../test/support/postgres.js';
import { PostgresStore } from './postgres-store.js';
import type { JobFinish } from './store.js';

const postgres = await testPostgres();
const T0 = 1_700_000_000_000;

describe.skipIf(postgres.skip !== undefined)('PostgreSQL: the outbox worker in few round trips', () => {
  let store: PostgresStore;
  beforeEach(async () => {
    store = PostgresStore.fromUrl(postgres.url, { schema: postgres.newSchema() });
    await store.migrate();
    await store.transaction(async (tx) => {
      for (let i = 0; i < 20; i++) {
        await tx.insertSession({ id: `s${i}`, campaignId: '12', createdAt: T0, lastSeenAt: T0, landingUrl: undefined, referrer: undefined, userAgent: 'UA', ip: '203.0.113.7', isBot: false });
        await tx.enqueue({ sessionId: `s${i}`, upstream: 'konnektive', kind: 'konnektive.click', payload: { page: 'presell' }, runAt: T0 });
      }
    });
    await store.updateSession('s0', { konnektive: { sessionId: 'k-0' } });
  });
  afterEach(() => store.close());
  afterAll(() => postgres.dropSchemas());

  it('finishes a round of 20 jobs in two round trips and one commit', async () => {
    const jobs = await store.claimJobs({ now: T0, limit: 20, leaseMs: 60_000, owner: 'w1', skipUpstreams: [] });
    expect(jobs).toHaveLength(20);
    const finishes: JobFinish[] = jobs.map((job, index) => ({
      id: job.id,
      sessionId: job.sessionId,
      completion: index % 2 === 0 ? { state: 'done' } : { state: 'pending', runAt: T0 + 1000, error: 'HTTP 502', countAttempt: true },
      attempts: [{ jobId: job.id, upstream: 'konnektive', endpoint: 'importClick', request: '{}', response: '{}', outcome: index % 2 === 0 ? 'ok' : 'transient', httpStatus: 200, latencyMs: 3, createdAt: T0 }],
      sessionPatch: index % 2 === 0 ? { konnektive: { pixel: `p${index}` } } : undefined,
    }));
    const before = store.counts().other;
    expect(await store.completeJobs('w1', finishes)).toEqual(Array(20).fill(true));
    const after = store.counts().other;
    expect(after.roundTrips - before.roundTrips).toBe(2);
    expect(after.commits - before.commits).toBe(1);
    // Konnektive ids merge into those known, as one statement at a time would have them.
    const first = finishes[0]!.sessionId;
    expect((await store.getSession(first))?.konnektive).toEqual(first === 's0' ? { sessionId: 'k-0', pixel: 'p0' } : { pixel: 'p0' });
    expect(await store.countJobsByState()).toMatchObject({ done: 10, pending: 10 });
    expect(await store.listAttempts()).toHaveLength(20);
  });

  it("claims in the round that finishes the jobs before: each session's next job, and its session read with it", async () => {
    await store.transaction(async (tx) => {
      for (let i = 0; i < 4; i++) await tx.enqueue({ sessionId: `s${i}`, upstream: 'activecampaign', kind: 'emit.customer', payload: {}, runAt: T0 });
    });
    const clicks = await store.claimJobs({ now: T0, limit: 4, leaseMs: 60_000, owner: 'w1', skipUpstreams: [], upstream: 'konnektive' });
    expect(clicks.map((job) => job.sessionId)).toEqual(['s0', 's1', 's2', 's3']);
    const finishes: JobFinish[] = clicks.map((job) => ({ id: job.id, sessionId: job.sessionId, completion: { state: 'done' }, attempts: [], sessionPatch: { konnektive: { pixel: 'px' } } }));
    const before = store.counts().other;
    const claim = (upstream: 'konnektive' | 'activecampaign') => ({ now: T0, limit: 10, leaseMs: 60_000, owner: 'w1', skipUpstreams: [], upstream });
    const round = await store.relayRound('w1', finishes, [claim('activecampaign'), claim('konnektive')]);
    const after = store.counts().other;
    expect(after.roundTrips - before.roundTrips).toBe(2);
    expect(after.commits - before.commits).toBe(1);
    expect(round.held).toEqual([true, true, true, true]);
    // The four sessions' CUSTOMER jobs became their heads in this very round.
    expect(round.claimed[0]!.map((job) => [job.sessionId, job.kind])).toEqual(['s0', 's1', 's2', 's3'].map((id) => [id, 'emit.customer']));
    expect(round.claimed[1]!.map((job) => job.sessionId)).toEqual(['s4', 's5', 's6', 's7', 's8', 's9', 's10', 's11', 's12', 's13']);
    // Each handler's first read, its session, comes from the round.
    const reads = store.counts().other.roundTrips;
    expect((await store.getSession('s0'))?.konnektive).toEqual({ sessionId: 'k-0', pixel: 'px' });
    expect(store.counts().other.roundTrips).toBe(reads);
  });

  it('answers the sessions read in one turn of the event loop with one query', async () => {
    const before = store.counts().other.roundTrips;
    const sessions = await Promise.all(['s1', 's2', 's3', 'nope', 's1'].map((id) => store.getSession(id)));
    expect(sessions.map((session) => session?.id)).toEqual(['s1', 's2', 's3', undefined, 's1']);
    expect(store.counts().other.roundTrips - before).toBe(1);
  });
});
