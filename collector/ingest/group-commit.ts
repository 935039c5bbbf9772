/**
 * @module group-commit
 * Concurrent ingest requests are written together: requests that arrive within a short window
 * share one transaction (and so one fsync). A request's promise settles only after the
 * transaction is durable, so the route answers 2xx only for events that survive a crash.
 *
 * One bad request cannot undo the others: the route has checked everything a request carries
 * (schema, tokens, campaign) before it gets here, so a group is written without a savepoint per
 * request (two statements each, 4-6% of the collector's CPU when every request had them on
 * SQLite, two round trips each on PostgreSQL); if a request fails anyway, the transaction
 * is rolled back, that request alone is refused, and the rest of its group is written again,
 * each request in its own savepoint.
 *
 * Groups are not chained: the store serialises the writes themselves, and a group written while
 * the previous one waits for its fsync is made durable by the next fsync (the SQLite store shares
 * one fsync among every commit before it), so writing and syncing overlap.
 *
 * On a store that writes groups set-based (PostgreSQL, store/group-writer.ts) every statement is
 * a round trip, so a group is not written statement by statement: what its requests may read is
 * fetched at once, `applyBatch` runs on that in memory (each request in its own `nested`, which
 * costs nothing there, so a failing request is refused alone in the same transaction), and the
 * rows are written in one pipelined batch with the COMMIT. Only a few groups are written at once
 * (`groupWriters`): requests arriving meanwhile wait and make the next group larger, which is
 * what keeps commits and round trips per request low under load. A group whose set-based writes
 * fail (a value the database refuses, which no request can be blamed for yet) is written again
 * the statement-at-a-time way, with a savepoint per request.
 */
import { GroupWriteFailed, isGroupWriter, type GroupReads, type GroupWriter } from '../store/group-writer.js';
import { isTransactionConflict, type Store, type Upstream } from '../store/store.js';
import { applyBatch, DEFAULT_INGEST_POLICY, type IngestOutcome, type IngestPolicy, type IngestRequest } from './apply-batch.js';

export interface GroupCommitOptions {
  /**
   * How long the first request of a group waits for company. The default, 0, still groups every
   * request that arrived in the same turn of the event loop (the flush runs on `setImmediate`).
   */
  maxWaitMs?: number;
  /** A group this large is written at once. */
  maxBatch?: number;
  /** Called after each commit that queued jobs, with their number and the upstreams they call, so those relay lanes wake up. */
  onCommitted?: (jobsQueued: number, upstreams: ReadonlySet<Upstream>) => void;
  policy?: IngestPolicy;
}

interface Waiting {
  request: IngestRequest;
  resolve: (outcome: IngestOutcome) => void;
  reject: (error: unknown) => void;
}

export class GroupCommitter {
  readonly #store: Store;
  readonly #maxWaitMs: number;
  readonly #maxBatch: number;
  readonly #onCommitted: (jobsQueued: number, upstreams: ReadonlySet<Upstream>) => void;
  readonly #policy: IngestPolicy;
  #queue: Waiting[] = [];
  #timer: NodeJS.Timeout | NodeJS.Immediate | undefined;
  readonly #inFlight = new Set<Promise<void>>();
  readonly #groupWriter: GroupWriter | undefined;
  /** Groups written at once; a group is formed only when one of these is free. */
  readonly #writers: number;

  constructor(store: Store, { maxWaitMs = 0, maxBatch = 128, onCommitted = () => {}, policy = DEFAULT_INGEST_POLICY }: GroupCommitOptions = {}) {
    this.#policy = policy;
    this.#store = store;
    this.#maxWaitMs = maxWaitMs;
    this.#maxBatch = maxBatch;
    this.#onCommitted = onCommitted;
    this.#groupWriter = isGroupWriter(store) ? store : undefined;
    this.#writers = this.#groupWriter?.groupWriters ?? Number.POSITIVE_INFINITY;
  }

  submit(request: IngestRequest): Promise<IngestOutcome> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ request, resolve, reject });
      this.#flushSoon(this.#queue.length >= this.#maxBatch ? 0 : this.#maxWaitMs);
    });
  }

  /** Writes whatever is waiting and resolves when every accepted request is durable. */
  async drain(): Promise<void> {
    this.#cancelTimer();
    this.#timer = undefined;
    while (this.#queue.length > 0) await this.#flush();
    await Promise.all([...this.#inFlight]);
  }

  #flushSoon(delayMs: number): void {
    if (this.#timer && delayMs > 0) return;
    this.#cancelTimer();
    const flush = () => {
      this.#timer = undefined;
      // All writers busy: the first to finish forms the next group (see #flush).
      if (this.#inFlight.size >= this.#writers) return;
      void this.#flush();
    };
    this.#timer = delayMs > 0 ? setTimeout(flush, delayMs) : setImmediate(flush);
  }

  #cancelTimer(): void {
    if (this.#timer === undefined) return;
    if ('hasRef' in this.#timer && 'refresh' in this.#timer) clearTimeout(this.#timer as NodeJS.Timeout);
    else clearImmediate(this.#timer as NodeJS.Immediate);
  }

  #flush(): Promise<void> {
    const writing = this.#writeGroup();
    this.#inFlight.add(writing);
    void writing.finally(() => {
      this.#inFlight.delete(writing);
      if (this.#queue.length > 0) this.#flushSoon(0);
    });
    return writing;
  }

  async #writeGroup(): Promise<void> {
    let group = this.#queue.splice(0, this.#maxBatch);
    if (group.length === 0) return;
    let outcomes: (IngestOutcome | { failed: unknown })[];
    if (this.#groupWriter) {
      try {
        outcomes = await this.#writeSetBased(this.#groupWriter, group);
      } catch (error) {
        if (!(error instanceof GroupWriteFailed)) {
          for (const waiting of group) waiting.reject(error);
          return;
        }
        try {
          outcomes = await this.#write(group, true);
        } catch (again) {
          for (const waiting of group) waiting.reject(again);
          return;
        }
      }
    } else {
      try {
        outcomes = await this.#write(group, false);
      } catch (error) {
        if (!(error instanceof RequestFailed)) {
          for (const waiting of group) waiting.reject(error);
          return;
        }
        // One request broke the group: it alone fails, the others are written again without it,
        // each in a savepoint this time, so a second bad one cannot cost a third transaction.
        group[error.index]!.reject(error.cause);
        group = group.filter((_, index) => index !== error.index);
        try {
          outcomes = await this.#write(group, true);
        } catch (again) {
          for (const waiting of group) waiting.reject(again);
          return;
        }
      }
    }
    let jobs = 0;
    const upstreams = new Set<Upstream>();
    group.forEach((waiting, index) => {
      const outcome = outcomes[index]!;
      if ('failed' in outcome) waiting.reject(outcome.failed);
      else {
        if (outcome.ok) {
          jobs += outcome.jobs;
          for (const upstream of outcome.upstreams) upstreams.add(upstream);
        }
        waiting.resolve(outcome);
      }
    });
    if (jobs > 0) this.#onCommitted(jobs, upstreams);
    if (this.#queue.length > 0) this.#flushSoon(0);
  }

  /** The group on a {@link GroupWriter}: each request contained in memory, one transaction in all. */
  #writeSetBased(writer: GroupWriter, group: readonly Waiting[]): Promise<(IngestOutcome | { failed: unknown })[]> {
    return writer.groupTransaction(readsOf(group), async (tx) => {
      // Run again from the start after a conflict: a fresh array each time.
      const outcomes: (IngestOutcome | { failed: unknown })[] = [];
      for (const { request } of group) {
        try {
          outcomes.push(await tx.nested(() => applyBatch(tx, request, this.#policy)));
        } catch (error) {
          if (isTransactionConflict(error)) throw error;
          outcomes.push({ failed: error });
        }
      }
      return outcomes;
    });
  }

  /**
   * One transaction for the group. Without savepoints (the common path: a request that passed
   * the route's checks has nothing left to fail on), the first request that throws aborts the
   * transaction with {@link RequestFailed}; with them, each failure is contained and reported in
   * its place.
   */
  async #write(group: readonly Waiting[], contained: boolean): Promise<(IngestOutcome | { failed: unknown })[]> {
    const outcomes: (IngestOutcome | { failed: unknown })[] = [];
    await this.#store.transaction(async (tx) => {
      // The store runs this again after a deadlock: start over.
      outcomes.length = 0;
      for (let index = 0; index < group.length; index++) {
        const request = group[index]!.request;
        try {
          outcomes.push(contained ? await tx.nested(() => applyBatch(tx, request, this.#policy)) : await applyBatch(tx, request, this.#policy));
        } catch (error) {
          // A deadlock aborts the whole group's transaction; the store runs it again.
          if (isTransactionConflict(error)) throw error;
          if (!contained) throw new RequestFailed(index, error);
          outcomes.push({ failed: error });
        }
      }
    });
    return outcomes;
  }
}

/**
 * What a group's requests may read, fetched before they run: their sessions, their events' ids
 * (a resend finds its session by them) and the link tokens they may spend, named as `applyBatch`
 * spends them. Anything missed is still read, one round trip at a time (group-tx.ts).
 */
function readsOf(group: readonly Waiting[]): GroupReads {
  const sessionIds: string[] = [];
  const eventIds: string[] = [];
  const tokenIds: string[] = [];
  for (const { request } of group) {
    sessionIds.push(request.sessionId);
    for (const event of request.events) eventIds.push(event.id);
    if (request.link) tokenIds.push(`link.${request.link.nonce}`);
  }
  return { sessionIds, eventIds, tokenIds };
}

/** The request at `index` of a group written without savepoints failed; the transaction is void. */
class RequestFailed extends Error {
  constructor(
    readonly index: number,
    override readonly cause: unknown,
  ) {
    super('a request of the group failed');
  }
}
