/**
 * @module relay-writer
 * The outbox worker's writes, one transaction per moment: the jobs that finished, the
 * write-ahead marks of jobs about to call, and the claims that refill the lanes' places, as they
 * arrive together (`Store.relayRound`). A job's result waits at most for the write already in
 * flight, never for another job's upstream: an order id Konnektive just returned is on disk
 * within one commit, whatever a job stuck behind ActiveCampaign's rate gate is doing. Group
 * commit, as ingest does it.
 *
 * Under load jobs end by the thousand a second, and each end frees a place its lane claims
 * again: a completion, a mark and a claim of their own were three commits per call (on
 * PostgreSQL four round trips each for an Import Lead's mark). Here a lane's claim rides with the
 * completions written next, and marks with both.
 */
import type { ClaimOptions, Job, JobFinish, Store } from '../store/store.js';

interface Settle<T> {
  resolve: (value: T) => void;
  reject: (error: unknown) => void;
}

export class RelayWriter {
  readonly #store: Pick<Store, 'relayRound'>;
  readonly #owner: string;
  #finishes: (Settle<boolean> & { finish: JobFinish })[] = [];
  #claims: (Settle<Job[]> & { claim: ClaimOptions })[] = [];
  #writing = false;

  constructor(store: Pick<Store, 'relayRound'>, owner: string) {
    this.#store = store;
    this.#owner = owner;
  }

  /**
   * Resolves once the job's outcome and effects are written: true while this worker still held
   * the job (a write-ahead mark, `completion.state` 'running', is written only then).
   */
  write(finish: JobFinish): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.#finishes.push({ finish, resolve, reject });
      this.#start();
    });
  }

  /** Claims with the next write (`Store.claimJobs`'s rules); resolves with the jobs taken. */
  claim(claim: ClaimOptions): Promise<Job[]> {
    return new Promise((resolve, reject) => {
      this.#claims.push({ claim, resolve, reject });
      this.#start();
    });
  }

  #start(): void {
    if (!this.#writing) void this.#drain();
  }

  async #drain(): Promise<void> {
    this.#writing = true;
    try {
      // One turn of the event loop lets what arrives together join the same write.
      await new Promise((resolve) => setImmediate(resolve));
      while (this.#finishes.length > 0 || this.#claims.length > 0) {
        const finishes = this.#finishes;
        const claims = this.#claims;
        this.#finishes = [];
        this.#claims = [];
        try {
          const round = await this.#store.relayRound(
            this.#owner,
            finishes.map((waiting) => waiting.finish),
            claims.map((waiting) => waiting.claim),
          );
          finishes.forEach((waiting, index) => waiting.resolve(round.held[index] ?? false));
          claims.forEach((waiting, index) => waiting.resolve(round.claimed[index] ?? []));
        } catch (error) {
          for (const waiting of [...finishes, ...claims]) waiting.reject(error);
        }
      }
    } finally {
      this.#writing = false;
    }
  }
}
