import { describe, expect, it } from 'vitest';
import type { ClaimOptions, Job, JobFinish, RelayRound } from '../store/store.js';
import { RelayWriter } from './relay-writer.js';

const finish = (id: number): JobFinish => ({ id, sessionId: `s${id}`, completion: { state: 'done' }, attempts: [], sessionPatch: undefined });
const claimOf = (upstream: 'konnektive' | 'activecampaign', limit: number): ClaimOptions => ({ now: 1, limit, leaseMs: 60_000, owner: 'w1', skipUpstreams: [], upstream });
const job = (id: number): Job => ({ id, sessionId: `s${id}`, upstream: 'konnektive', kind: 'konnektive.click', payload: {}, state: 'running', attempts: 0, runAt: 1, lastError: undefined, createdAt: 1 });

describe('RelayWriter', () => {
  it('writes the jobs that finish together in one transaction, and a later one without waiting for others', async () => {
    const writes: number[][] = [];
    let release: (() => void) | undefined;
    const writer = new RelayWriter(
      {
        relayRound: async (_owner: string, jobs: readonly JobFinish[]): Promise<RelayRound> => {
          writes.push(jobs.map((each) => each.id));
          if (writes.length === 1) await new Promise<void>((resolve) => (release = resolve));
          return { held: jobs.map(() => true), claimed: [] };
        },
      },
      'w1',
    );
    const together = [writer.write(finish(1)), writer.write(finish(2)), writer.write(finish(3))];
    await new Promise((resolve) => setImmediate(resolve));
    // While the first write is on its way, two more finish: they go in the next write, together.
    const later = [writer.write(finish(4)), writer.write(finish(5))];
    release!();
    await Promise.all([...together, ...later]);
    expect(writes).toEqual([[1, 2, 3], [4, 5]]);
  });

  it('claims with the completions written next, and hands each claim its own jobs', async () => {
    const rounds: { finished: number[]; claims: (string | undefined)[] }[] = [];
    const writer = new RelayWriter(
      {
        relayRound: async (_owner: string, jobs: readonly JobFinish[], claims: readonly ClaimOptions[]): Promise<RelayRound> => {
          rounds.push({ finished: jobs.map((each) => each.id), claims: claims.map((claim) => claim.upstream) });
          return { held: jobs.map(() => true), claimed: claims.map((claim) => (claim.upstream === 'konnektive' ? [job(10), job(11)] : [])) };
        },
      },
      'w1',
    );
    const [held, konnektive, activecampaign] = await Promise.all([writer.write(finish(1)), writer.claim(claimOf('konnektive', 2)), writer.claim(claimOf('activecampaign', 5))]);
    expect(rounds).toEqual([{ finished: [1], claims: ['konnektive', 'activecampaign'] }]);
    expect(held).toBe(true);
    expect(konnektive.map((each) => each.id)).toEqual([10, 11]);
    expect(activecampaign).toEqual([]);
  });

  it('fails what a write held when it failed, and goes on with the next', async () => {
    let calls = 0;
    const writer = new RelayWriter(
      {
        relayRound: async (_owner: string, jobs: readonly JobFinish[], claims: readonly ClaimOptions[]): Promise<RelayRound> => {
          if (++calls === 1) throw new Error('disk full');
          return { held: jobs.map(() => true), claimed: claims.map(() => []) };
        },
      },
      'w1',
    );
    const first = [writer.write(finish(1)), writer.claim(claimOf('konnektive', 1))];
    await expect(first[0]).rejects.toThrow('disk full');
    await expect(first[1]).rejects.toThrow('disk full');
    await expect(writer.write(finish(2))).resolves.toBe(true);
  });

  it('answers each write whether the worker still held its job: a write-ahead mark of a job taken over is not written', async () => {
    const writer = new RelayWriter({ relayRound: async (_owner: string, jobs: readonly JobFinish[]) => ({ held: jobs.map((each) => each.id !== 2), claimed: [] }) }, 'w1');
    const mark = (id: number): JobFinish => ({ ...finish(id), completion: { state: 'running' }, sessionPatch: { konnektive: { clickInFlight: id } } });
    expect(await Promise.all([writer.write(mark(1)), writer.write(mark(2)), writer.write(finish(3))])).toEqual([true, false, true]);
  });
});
