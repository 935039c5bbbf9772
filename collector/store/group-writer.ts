/**
 * @module group-writer
 * What a store offers when it writes a commit group faster than one statement at a time
 * (PostgreSQL: postgres-group-write.ts). The ingest group commit uses it when the store has it;
 * SQLite, whose statements cost no round trip, keeps its plain transaction.
 */
import type { GroupReads } from './group-tx.js';
import type { StoreTx } from './store.js';

export type { GroupReads } from './group-tx.js';

export interface GroupWriter {
  /** How many groups may be written at once. */
  readonly groupWriters: number;
  /**
   * Runs `fn` over a transaction that answers from what `reads` names, fetched beforehand, and
   * writes what `fn` wrote in one go; commits before it resolves. `fn` runs again after a
   * conflict. Throws {@link GroupWriteFailed} when the writes fail for a reason a retry cannot
   * cure (the caller then writes the group one statement at a time).
   */
  groupTransaction<T>(reads: GroupReads, fn: (tx: StoreTx) => Promise<T>): Promise<T>;
}

/** A group's writes failed for a reason no retry cures (a value the database refuses); `cause` is its error. */
export class GroupWriteFailed extends Error {
  constructor(override readonly cause: unknown) {
    super(`a commit group's writes failed: ${(cause as Error | undefined)?.message ?? String(cause)}`);
  }
}

export function isGroupWriter(store: object): store is GroupWriter {
  return typeof (store as Partial<GroupWriter>).groupTransaction === 'function';
}

/**
 * Round trips to the database (a pipelined batch counts once) and commits, of the ingest commit
 * groups and of everything else (the outbox worker, the sweeper, reads): `/metrics`.
 */
export type StoreCounts = Record<'ingest' | 'other', { roundTrips: number; commits: number }>;

/** A store that counts its round trips and commits (PostgreSQL's, where each costs a wait). */
export interface CountsRoundTrips {
  readonly roundTrips: number;
  counts(): StoreCounts;
}

export function countsRoundTrips(store: object): store is CountsRoundTrips {
  return typeof (store as Partial<CountsRoundTrips>).counts === 'function';
}
