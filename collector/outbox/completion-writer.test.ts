import { describe, expect, it } from 'vitest';
import type { JobFinish } from '../store/store.js';
import { CompletionWriter } from './completion-writer.js';

const finish = (id: number): JobFinish => ({ id, sessionId: `s${id}`, completion: { state: 'done' }, attempts: [], sessionPatch: undefined });

describe('CompletionWriter', () => {
  it('writes the jobs that finish together in one transaction, and a later one without waiting for others', async () => {
    const writes: number[][] = [];
    let release: (() => void) | undefined;
    const writer = new CompletionWriter(
      {
        completeJobs: async (_owner, jobs) => {
          writes.push(jobs.map((job) => job.id));
          if (writes.length === 1) await new Promise<void>((resolve) => (release = resolve));
          return jobs.map(() => true);
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

  it('fails the jobs of a write that failed, and goes on with the next', async () => {
    let calls = 0;
    const writer = new CompletionWriter(
      {
        completeJobs: async (_owner, jobs) => {
          if (++calls === 1) throw new Error('disk full');
          return jobs.map(() => true);
        },
      },
      'w1',
    );
    await expect(writer.write(finish(1))).rejects.toThrow('disk full');
    await expect(writer.write(finish(2))).resolves.toBeUndefined();
  });
});
