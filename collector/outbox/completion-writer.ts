/**
 * @module completion-writer
 * Writes each finished job the moment it finishes, and the jobs that finish together in one
 * transaction. A job's result waits at most for the write already in flight, never for another
 * job's upstream: an order id Konnektive just returned is on disk within one commit, whatever a
 * job stuck behind ActiveCampaign's rate gate is doing. Group commit, as ingest does it.
 */
import type { JobFinish, Store } from '../store/store.js';

interface Waiting {
  finish: JobFinish;
  resolve: () => void;
  reject: (error: unknown) => void;
}

export class CompletionWriter {
  readonly #store: Pick<Store, 'completeJobs'>;
  readonly #owner: string;
  #waiting: Waiting[] = [];
  #writing = false;

  constructor(store: Pick<Store, 'completeJobs'>, owner: string) {
    this.#store = store;
    this.#owner = owner;
  }

  /** Resolves once the job's outcome and effects are written. */
  write(finish: JobFinish): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#waiting.push({ finish, resolve, reject });
      if (!this.#writing) void this.#drain();
    });
  }

  async #drain(): Promise<void> {
    this.#writing = true;
    try {
      // One turn of the event loop lets the jobs that finish together join the same write.
      await new Promise((resolve) => setImmediate(resolve));
      while (this.#waiting.length > 0) {
        const group = this.#waiting;
        this.#waiting = [];
        try {
          await this.#store.completeJobs(
            this.#owner,
            group.map((waiting) => waiting.finish),
          );
          for (const waiting of group) waiting.resolve();
        } catch (error) {
          for (const waiting of group) waiting.reject(error);
        }
      }
    } finally {
      this.#writing = false;
    }
  }
}
