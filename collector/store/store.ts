/**
 * @module store
 * The one storage interface the collector uses. Two implementations (SQLite, PostgreSQL) are
 * chosen once at start-up by `DATABASE_URL`; callers never know which one they hold.
 *
 * Domain rules (what an event causes) live outside the store, in code that runs against a
 * {@link StoreTx}; the store only knows how to read and write rows.
 */
import type { CartItem, LeadFields, PageName } from '../wire-schema.js';

export const JOB_STATES = Object.freeze({
  pending: 'pending',
  running: 'running',
  done: 'done',
  dead: 'dead',
} as const);
export type JobState = (typeof JOB_STATES)[keyof typeof JOB_STATES];

export type Upstream = 'konnektive' | 'activecampaign';

export interface KonnektiveIds {
  sessionId?: string;
  orderId?: string;
  customerId?: string;
  pixel?: string;
  affVals?: Record<string, string>;
}

export interface Cart {
  items: CartItem[];
  currency: string;
}

export interface Session {
  id: string;
  campaignId: string;
  createdAt: number;
  lastSeenAt: number;
  landingUrl: string | undefined;
  referrer: string | undefined;
  userAgent: string;
  ip: string;
  isBot: boolean;
  lastPage: PageName | undefined;
  lead: LeadFields;
  /** Bumped on every lead change; the relay remembers which version Konnektive has. */
  leadVersion: number;
  leadSyncedVersion: number;
  cart: Cart | undefined;
  /** An order id the browser reported; not trusted until verified with Konnektive. */
  claimedOrderId: string | undefined;
  konnektive: KonnektiveIds;
}

export type NewSession = Pick<
  Session,
  'id' | 'campaignId' | 'createdAt' | 'lastSeenAt' | 'landingUrl' | 'referrer' | 'userAgent' | 'ip' | 'isBot'
>;

export type SessionPatch = Partial<
  Pick<Session, 'lastSeenAt' | 'lastPage' | 'lead' | 'leadVersion' | 'leadSyncedVersion' | 'cart' | 'claimedOrderId' | 'landingUrl' | 'referrer'>
> & { konnektive?: KonnektiveIds };

export interface StoredEvent {
  id: string;
  sessionId: string;
  type: string;
  receivedAt: number;
  payload: unknown;
}

export interface Job {
  id: number;
  sessionId: string;
  upstream: Upstream;
  kind: string;
  payload: Record<string, unknown>;
  state: JobState;
  attempts: number;
  runAt: number;
  lastError: string | undefined;
  createdAt: number;
}

export interface NewJob {
  sessionId: string;
  upstream: Upstream;
  kind: string;
  payload: Record<string, unknown>;
  runAt: number;
}

export interface DeliveryAttempt {
  jobId: number;
  upstream: Upstream;
  endpoint: string;
  /** Summaries only, with personal data and credentials redacted before they get here. */
  request: string;
  response: string;
  outcome: 'ok' | 'rejected' | 'transient' | 'auth' | 'sandbox';
  httpStatus: number | undefined;
  latencyMs: number;
  createdAt: number;
}

/** Operations available inside one transaction. */
export interface StoreTx {
  getSession(id: string): Promise<Session | undefined>;
  insertSession(session: NewSession): Promise<void>;
  updateSession(id: string, patch: SessionPatch): Promise<void>;
  /** Appends an event; `false` when an event with this id was stored before (a resend). */
  insertEvent(event: StoredEvent): Promise<boolean>;
  /** Records that a page type got its click; `false` when it already had one. */
  markPageClicked(sessionId: string, page: PageName): Promise<boolean>;
  enqueue(job: NewJob): Promise<number>;
  /** A job of this kind for the session that has not been claimed yet. */
  findPendingJob(sessionId: string, kind: string): Promise<Job | undefined>;
  /** Runs `fn` so that a failure undoes only its own writes (a savepoint). */
  nested<T>(fn: () => Promise<T>): Promise<T>;
}

export interface ClaimOptions {
  now: number;
  limit: number;
  leaseMs: number;
  owner: string;
  /** Upstreams whose jobs must not be claimed now (a paused relay). */
  skipUpstreams: readonly Upstream[];
}

export type JobCompletion =
  | { state: 'done' }
  | { state: 'pending'; runAt: number; error: string; countAttempt: boolean }
  | { state: 'dead'; error: string };

/** One finished job of a worker round, with what its handler asked to remember. */
export interface JobFinish {
  id: number;
  sessionId: string;
  completion: JobCompletion;
  attempts: readonly DeliveryAttempt[];
  sessionPatch: SessionPatch | undefined;
}

export interface Store {
  readonly kind: 'sqlite' | 'postgres';
  migrate(): Promise<void>;
  transaction<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T>;
  getSession(id: string): Promise<Session | undefined>;
  updateSession(id: string, patch: SessionPatch): Promise<void>;
  /**
   * Claims due jobs with a lease: at most one per session, and only the oldest unfinished job of
   * that session, so a session's jobs run strictly in order. A job whose lease expired (its
   * worker died) is claimable again.
   */
  claimJobs(options: ClaimOptions): Promise<Job[]>;
  /**
   * Finishes a round of claimed jobs in one transaction: each job's attempts are logged, and its
   * new state and session patch are written only while `owner` still holds its lease (a job
   * whose lease expired belongs to whoever claimed it next). Returns, per job, whether it was.
   */
  completeJobs(owner: string, jobs: readonly JobFinish[]): Promise<boolean[]>;
  /** Gives back every job `owner` holds so another worker can take it at once. */
  releaseClaims(owner: string): Promise<number>;
  recordAttempt(attempt: DeliveryAttempt): Promise<void>;
  /** Puts dead letters back into the outbox; returns how many. */
  replayDeadJobs(now: number): Promise<number>;
  countJobsByState(): Promise<Record<JobState, number>>;
  listJobs(filter: { sessionId?: string; state?: JobState }): Promise<Job[]>;
  listEvents(sessionId: string): Promise<StoredEvent[]>;
  listAttempts(jobId?: number): Promise<DeliveryAttempt[]>;
  countSessions(): Promise<number>;
  getMeta(key: string): Promise<string | undefined>;
  setMetaIfAbsent(key: string, value: string): Promise<string>;
  ping(): Promise<void>;
  close(): Promise<void>;
}
