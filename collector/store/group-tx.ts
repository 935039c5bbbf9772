/**
 * @module group-tx
 * A {@link StoreTx} held in memory for one commit group: what the group's requests read was
 * fetched before (one pipelined round trip, see postgres-group-write.ts), what they write is
 * kept here and written afterwards with one set-based statement per table. `applyBatch` runs on
 * it unchanged, so the ingest rules stay in one place for both stores.
 *
 * Reads answer from the group's own earlier writes first (two requests of one group on one
 * session see each other), then from what was fetched; anything the fetch did not cover is read
 * from the database at once ({@link GroupReader}), inside the same transaction. The sessions the
 * group reads are locked `FOR UPDATE` by that fetch, so nothing changes them before the commit,
 * and writing their final values is the same as writing each patch in turn.
 *
 * `nested` keeps an undo log instead of a savepoint: a request that throws leaves none of its
 * writes behind, at no cost to the database.
 */
import type { JobKind } from '../outbox/job-kinds.js';
import type { PageName } from '../wire-schema.js';
import { newSessionDefaults, type Job, type NewJob, type NewSession, type Session, type SessionPatch, type StoreTx, type StoredEvent } from './store.js';

/** What a group's requests may read, fetched before they run. */
export interface GroupReads {
  /** Sessions named by the requests (existing or not: a new one's id must be free). */
  sessionIds: readonly string[];
  /** Every event id of the group: their owners answer a resend, and their sessions are fetched too. */
  eventIds: readonly string[];
  /** Single-use tokens the requests may spend. */
  tokenIds: readonly string[];
}

/** What the fetch found; sessions include those owning one of the events. */
export interface GroupSnapshot {
  sessions: Map<string, Session>;
  /** Event id -> the session holding it. */
  eventOwners: Map<string, string>;
  spentTokens: Set<string>;
  /** `session\u0000page` of the fetched sessions' clicked pages. */
  clicks: Set<string>;
  /** Pending jobs of the fetched sessions, oldest first. */
  pendingJobs: Job[];
}

/** Reads for what the snapshot does not cover, in the group's open transaction. */
export interface GroupReader {
  session(id: string): Promise<Session | undefined>;
  eventsSession(eventIds: readonly string[]): Promise<string | undefined>;
  tokenSpent(id: string): Promise<boolean>;
  pageClicked(sessionId: string, page: PageName): Promise<boolean>;
  pendingJob(sessionId: string, kind: JobKind): Promise<Job | undefined>;
}

/** A state change to append to `session_states`. */
export interface StateRow {
  sessionId: string;
  state: string;
  at: number;
}

/** Everything the group writes, in the order it was written. */
export interface GroupWrites {
  /** Sessions the group created, as they are at the end of the group. */
  newSessions: Session[];
  /** Existing sessions changed: the group's patches folded into one, per session. */
  patches: Map<string, SessionPatch>;
  states: StateRow[];
  events: { event: StoredEvent; payloadJson: string }[];
  clicks: { sessionId: string; page: PageName }[];
  tokens: { id: string; expiresAt: number }[];
  jobs: NewJob[];
}

/** A second session with an id already taken: the error PostgreSQL would give. */
export class DuplicateSession extends Error {
  readonly code = '23505';
  constructor(id: string) {
    super(`duplicate key value violates unique constraint "sessions_pkey" (session ${id})`);
  }
}

const clickKey = (sessionId: string, page: string) => `${sessionId}\u0000${page}`;

export class GroupTx implements StoreTx {
  readonly #snapshot: GroupSnapshot;
  readonly #reader: GroupReader;
  readonly #now: () => number;
  /** Sessions whose clicks and pending jobs the snapshot holds (or that the group created). */
  readonly #covered: Set<string>;
  readonly #tokensCovered: Set<string>;
  readonly #eventsCovered: Set<string>;
  /** Sessions read or written by the group, as they are now (undefined: known not to exist). */
  readonly #sessions = new Map<string, Session | undefined>();
  readonly #created = new Set<string>();
  readonly #patches = new Map<string, SessionPatch>();
  readonly #states: StateRow[] = [];
  readonly #events = new Map<string, { event: StoredEvent; payloadJson: string }>();
  readonly #clicks = new Map<string, { sessionId: string; page: PageName }>();
  readonly #tokens = new Map<string, { id: string; expiresAt: number }>();
  readonly #jobs: NewJob[] = [];
  /** Undo steps of the writes so far; `nested` rolls back to a mark. */
  #undo: (() => void)[] = [];

  constructor(reads: GroupReads, snapshot: GroupSnapshot, reader: GroupReader, now: () => number) {
    this.#snapshot = snapshot;
    this.#reader = reader;
    this.#now = now;
    this.#covered = new Set([...reads.sessionIds, ...snapshot.sessions.keys()]);
    this.#tokensCovered = new Set(reads.tokenIds);
    this.#eventsCovered = new Set(reads.eventIds);
  }

  /** What to write; call once the group's requests have run. */
  writes(): GroupWrites {
    const newSessions = [...this.#created].map((id) => this.#sessions.get(id)!);
    const patches = new Map([...this.#patches].filter(([id]) => !this.#created.has(id)));
    return {
      newSessions,
      patches,
      states: [...this.#states],
      events: [...this.#events.values()],
      clicks: [...this.#clicks.values()],
      tokens: [...this.#tokens.values()],
      jobs: [...this.#jobs],
    };
  }

  async getSession(id: string): Promise<Session | undefined> {
    if (this.#sessions.has(id)) return this.#sessions.get(id);
    if (this.#covered.has(id)) return this.#snapshot.sessions.get(id);
    const session = await this.#reader.session(id);
    this.#sessions.set(id, session);
    return session;
  }

  async insertSession(fresh: NewSession): Promise<void> {
    if ((await this.getSession(fresh.id)) !== undefined) throw new DuplicateSession(fresh.id);
    const had = this.#sessions.has(fresh.id);
    const before = this.#sessions.get(fresh.id);
    this.#sessions.set(fresh.id, newSessionDefaults(fresh));
    this.#created.add(fresh.id);
    this.#covered.add(fresh.id);
    this.#states.push({ sessionId: fresh.id, state: 'open', at: fresh.createdAt });
    this.#undo.push(() => {
      if (had) this.#sessions.set(fresh.id, before);
      else this.#sessions.delete(fresh.id);
      this.#created.delete(fresh.id);
      this.#states.pop();
    });
  }

  async updateSession(id: string, patch: SessionPatch): Promise<void> {
    const session = await this.getSession(id);
    // As an UPDATE of a missing row: nothing changes.
    if (session === undefined) return;
    const merged = patch.konnektive ? { ...patch, konnektive: { ...session.konnektive, ...definedOnly(patch.konnektive) } } : patch;
    const previous = this.#patches.get(id);
    this.#sessions.set(id, applyPatch(session, merged));
    this.#patches.set(id, { ...previous, ...definedOnly(merged) });
    const stated = merged.state !== undefined;
    if (stated) this.#states.push({ sessionId: id, state: merged.state!, at: merged.stateChangedAt ?? this.#now() });
    this.#undo.push(() => {
      this.#sessions.set(id, session);
      if (previous) this.#patches.set(id, previous);
      else this.#patches.delete(id);
      if (stated) this.#states.pop();
    });
  }

  async insertEvent(event: StoredEvent, payloadJson?: string): Promise<boolean> {
    if (this.#events.has(event.id) || (await this.#eventOwner([event.id])) !== undefined) return false;
    this.#events.set(event.id, { event, payloadJson: payloadJson ?? JSON.stringify(event.payload) });
    this.#undo.push(() => this.#events.delete(event.id));
    return true;
  }

  async findEventsSession(eventIds: readonly string[]): Promise<string | undefined> {
    for (const id of eventIds) {
      const written = this.#events.get(id);
      if (written) return written.event.sessionId;
    }
    return this.#eventOwner(eventIds);
  }

  async spendToken(id: string, expiresAt: number): Promise<boolean> {
    if (this.#tokens.has(id)) return false;
    const spent = this.#tokensCovered.has(id) ? this.#snapshot.spentTokens.has(id) : await this.#reader.tokenSpent(id);
    if (spent) return false;
    this.#tokens.set(id, { id, expiresAt });
    this.#undo.push(() => this.#tokens.delete(id));
    return true;
  }

  async markPageClicked(sessionId: string, page: PageName): Promise<boolean> {
    const key = clickKey(sessionId, page);
    if (this.#clicks.has(key)) return false;
    const clicked = this.#covered.has(sessionId) ? this.#snapshot.clicks.has(key) : await this.#reader.pageClicked(sessionId, page);
    if (clicked) return false;
    this.#clicks.set(key, { sessionId, page });
    this.#undo.push(() => this.#clicks.delete(key));
    return true;
  }

  /** The job's id is given by the database when the group is written; 0 stands for it here. */
  async enqueue(job: NewJob): Promise<number> {
    this.#jobs.push(job);
    this.#undo.push(() => this.#jobs.pop());
    return 0;
  }

  async findPendingJob(sessionId: string, kind: JobKind): Promise<Job | undefined> {
    const mine = this.#jobs.find((job) => job.sessionId === sessionId && job.kind === kind);
    if (mine) {
      const now = this.#now();
      return { id: 0, sessionId, upstream: mine.upstream, kind, payload: mine.payload, state: 'pending', attempts: 0, runAt: mine.runAt, lastError: undefined, createdAt: now };
    }
    if (!this.#covered.has(sessionId)) return this.#reader.pendingJob(sessionId, kind);
    return this.#snapshot.pendingJobs.find((job) => job.sessionId === sessionId && job.kind === kind);
  }

  async nested<T>(fn: () => Promise<T>): Promise<T> {
    const mark = this.#undo.length;
    try {
      return await fn();
    } catch (error) {
      while (this.#undo.length > mark) this.#undo.pop()!();
      throw error;
    }
  }

  // Ingest needs none of these; the sweeper, the worker and the lifecycle sync use the store's own transactions.
  getLifecycleSnapshot(): never {
    throw unsupported('getLifecycleSnapshot');
  }
  listLifecycleSnapshots(): never {
    throw unsupported('listLifecycleSnapshots');
  }
  putLifecycleSnapshot(): never {
    throw unsupported('putLifecycleSnapshot');
  }
  insertLifecycleEvent(): never {
    throw unsupported('insertLifecycleEvent');
  }
  claimDueSessions(): never {
    throw unsupported('claimDueSessions');
  }
  insertEmission(): never {
    throw unsupported('insertEmission');
  }
  getEmission(): never {
    throw unsupported('getEmission');
  }
  listAbandonedByEmail(): never {
    throw unsupported('listAbandonedByEmail');
  }
  listOpenCartsByEmail(): never {
    throw unsupported('listOpenCartsByEmail');
  }

  async #eventOwner(eventIds: readonly string[]): Promise<string | undefined> {
    const unknown: string[] = [];
    for (const id of eventIds) {
      const owner = this.#snapshot.eventOwners.get(id);
      if (owner !== undefined) return owner;
      if (!this.#eventsCovered.has(id)) unknown.push(id);
    }
    if (unknown.length === 0) return undefined;
    return this.#reader.eventsSession(unknown);
  }
}

/** A group transaction offers only what ingest uses. */
function unsupported(operation: string): Error {
  return new Error(`${operation} is not available in a commit group's transaction`);
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, field]) => field !== undefined)) as Partial<T>;
}

/** The session after an UPDATE with this patch (`dueAt: null` clears it). */
export function applyPatch(session: Session, patch: SessionPatch): Session {
  const next: Session = { ...session };
  for (const [key, value] of Object.entries(patch)) {
    if (value === undefined) continue;
    if (key === 'dueAt') next.dueAt = value === null ? undefined : (value as number);
    else (next as unknown as Record<string, unknown>)[key] = value;
  }
  return next;
}
