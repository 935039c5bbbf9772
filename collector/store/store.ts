/**
 * @module store
 * The one storage interface the collector uses. Two implementations (SQLite, PostgreSQL) are
 * chosen once at start-up by `DATABASE_URL`; callers never know which one they hold.
 *
 * Domain rules (what an event causes) live outside the store, in code that runs against a
 * {@link StoreTx}; the store only knows how to read and write rows.
 */
import type { JobKind } from '../outbox/job-kinds.js';
import type { Dialect } from './dialect.js';
import type { CartItem, LeadFields, PageName } from '../wire-schema.js';

export const JOB_STATES = Object.freeze({
  pending: 'pending',
  running: 'running',
  done: 'done',
  dead: 'dead',
} as const);
export type JobState = (typeof JOB_STATES)[keyof typeof JOB_STATES];

import type { Upstream } from '../upstreams.js';
export { UPSTREAMS, UPSTREAM_NAMES, type Upstream } from '../upstreams.js';

export interface KonnektiveIds {
  sessionId?: string;
  orderId?: string;
  customerId?: string;
  pixel?: string;
  affVals?: Record<string, string>;
  /**
   * An Import Lead without `orderId` (it creates a partial) was started at this time. Until the
   * answer's `orderId` is stored, a later attempt first looks for the partial that call may have
   * created, instead of creating a second one.
   */
  leadCreateStartedAt?: number;
  /**
   * The outbox job whose later Import Click (not idempotent: Konnektive counts every one) was
   * started and has no recorded answer yet; `null` once it has one. A job that finds its own id
   * here ran before and died mid-call: the click is not sent again.
   */
  clickInFlight?: number | null;
}

export interface Cart {
  items: CartItem[];
  currency: string;
}

/**
 * Where a session stands on its way to a CART or an ORDER (see abandonment/session-rules.ts).
 * `closed`: its CART went out, then the buyer paid with another order (another session, another
 * device, by phone); the cart was closed without revenue of its own.
 */
export type SessionState = 'open' | 'abandoned' | 'ordered' | 'complete' | 'expired' | 'closed';

/** A Konnektive order as Query Order reported it: the only source of an ORDER's items and totals. */
export interface VerifiedOrder {
  orderId: string;
  customerId: string | undefined;
  email: string | undefined;
  status: string;
  items: { productId: string; name: string; qty: number; priceCents: number }[];
  totalCents: number;
  currency: string;
  createdAt: string;
  /** Placed with the account's test card (abandonment/order-check.ts): never sent to the ad platforms. */
  test?: boolean;
  /** Paid with a prepaid card (Konnektive's `paySource`): affiliate postbacks may skip it (`skipPrepaid`). */
  prepaid?: boolean;
}

/** The last order check against Konnektive, kept whether or not the order verified. */
export interface OrderCheck {
  orderId: string | undefined;
  checkedAt: number;
  verified: boolean;
  /** Why it did not verify (status, not found), for the dashboard. */
  reason?: string;
  order?: VerifiedOrder;
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
  state: SessionState;
  stateChangedAt: number;
  /** When the sweeper should next look at this session; undefined when nothing is pending. */
  dueAt: number | undefined;
  /** The thank-you page was seen: the funnel is over. */
  funnelDone: boolean;
  orderCheck: OrderCheck | undefined;
  /** Events stored for this session, and the bytes of their stored payloads (ingest/session-cap.ts). */
  eventCount: number;
  eventBytes: number;
  /**
   * Begun by a buyer's return through the recovery link of this abandoned session: its order
   * recovers that session's cart, and it never abandons a cart of its own.
   */
  recoversSessionId: string | undefined;
}

export type NewSession = Pick<
  Session,
  'id' | 'campaignId' | 'createdAt' | 'lastSeenAt' | 'landingUrl' | 'referrer' | 'userAgent' | 'ip' | 'isBot'
> & { recoversSessionId?: string };

/**
 * A just-inserted session as the store will read it back (every column at its default).
 *
 * Written out field by field, not spread from `session`: a spread followed by a dozen more
 * properties leaves V8 a dictionary-mode object (about 8 KB per new session, the largest single
 * allocation of the ingest path under load), and every object later spread from it is one too.
 */
export function newSessionDefaults(session: NewSession): Session {
  return {
    id: session.id,
    campaignId: session.campaignId,
    createdAt: session.createdAt,
    lastSeenAt: session.lastSeenAt,
    landingUrl: session.landingUrl,
    referrer: session.referrer,
    userAgent: session.userAgent,
    ip: session.ip,
    isBot: session.isBot,
    lastPage: undefined,
    lead: {},
    leadVersion: 0,
    leadSyncedVersion: 0,
    cart: undefined,
    claimedOrderId: undefined,
    konnektive: {},
    state: 'open',
    stateChangedAt: session.createdAt,
    dueAt: undefined,
    funnelDone: false,
    orderCheck: undefined,
    eventCount: 0,
    eventBytes: 0,
    recoversSessionId: session.recoversSessionId,
  };
}

export type SessionPatch = Partial<
  Pick<
    Session,
    | 'lastSeenAt'
    | 'lastPage'
    | 'lead'
    | 'leadVersion'
    | 'leadSyncedVersion'
    | 'cart'
    | 'claimedOrderId'
    | 'landingUrl'
    | 'referrer'
    | 'state'
    | 'stateChangedAt'
    | 'funnelDone'
    | 'orderCheck'
    | 'eventCount'
    | 'eventBytes'
  >
> & {
  konnektive?: KonnektiveIds;
  /** `null` clears it: nothing left for the sweeper. */
  dueAt?: number | null;
};

/** `close`: a CART's buyer paid with another order; the abandoned cart is closed upstream. */
export type EmissionKind = 'cart' | 'order' | 'customer' | 'close';
/**
 * `sending` is written before the upstream call: after a crash it means "look before posting".
 * `cancelled`: a CART not sent because the buyer reported an order before it went out.
 */
export type EmissionStatus = 'queued' | 'sending' | 'sent' | 'cancelled';

/** One CART, ORDER or CUSTOMER for ActiveCampaign, at most one of each kind per session. */
export interface Emission {
  sessionId: string;
  kind: EmissionKind;
  status: EmissionStatus;
  /** ActiveCampaign's id of the record, once known (the ORDER of a recovered cart PUTs to it). */
  remoteId: string | undefined;
  payload: Record<string, unknown>;
  createdAt: number;
  updatedAt: number;
}

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
  /** Read back as stored: the worker still checks it is a kind it knows (an older version's job). */
  kind: JobKind;
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
  kind: JobKind;
  payload: Record<string, unknown>;
  runAt: number;
}

export interface DeliveryAttempt {
  jobId: number;
  upstream: Upstream;
  endpoint: string;
  /**
   * Summaries with personal data and credentials redacted before they get here; in sandbox mode
   * (nothing is sent, the dashboard is loopback-only) ActiveCampaign requests are kept in full,
   * as the Delivery view shows what would have been sent (see emit/sandbox-emitter.ts).
   */
  request: string;
  response: string;
  /** `skipped`: a conversion deliberately not sent (no consent, a bot, a test order, too old); the reason is its `response`. */
  outcome: 'ok' | 'rejected' | 'transient' | 'auth' | 'sandbox' | 'skipped';
  httpStatus: number | undefined;
  latencyMs: number;
  createdAt: number;
}

/** Where a purge of old sessions resumes: the last session it took, in (createdAt, id) order. */
export interface PurgeCursor {
  createdAt: number;
  id: string;
}

export interface PurgeSessionsOptions {
  /** Sessions whose creation, last event and last state change are all before this are old. */
  cutoff: number;
  /** Sessions per transaction. */
  limit: number;
  /** Resume after this session (the previous batch's `next`). */
  after: PurgeCursor | undefined;
}

export interface SessionPurge {
  sessions: number;
  /** Rows deleted in all tables (sessions, events, clicks, states, emissions). */
  rows: number;
  /** Where the next batch starts; undefined when this batch found fewer than `limit`. */
  next: PurgeCursor | undefined;
}

/**
 * One figure of one day, kept after the rows it was counted from are purged. `day` is the UTC
 * date the session began (`YYYY-MM-DD`); `currency` is '' for counts and the ISO code for
 * amounts in cents. See retention/rollups.ts for the metrics.
 */
export interface DailyRollup {
  day: string;
  metric: string;
  currency: string;
  value: number;
}

/** Most snapshots read of one group (an order's transactions: sales, rebills, refunds). */
export const LIFECYCLE_GROUP_LIMIT = 500;

/** Operations available inside one transaction. */
export interface StoreTx {
  getSession(id: string): Promise<Session | undefined>;
  insertSession(session: NewSession): Promise<void>;
  updateSession(id: string, patch: SessionPatch): Promise<void>;
  /**
   * Appends an event; `false` when an event with this id was stored before (a resend).
   * `payloadJson`: the payload already serialised (ingest measures it against the session's cap).
   */
  insertEvent(event: StoredEvent, payloadJson?: string): Promise<boolean>;
  /** The session that already holds one of these events, if any (a resent first batch). */
  findEventsSession(eventIds: readonly string[]): Promise<string | undefined>;
  /**
   * Spends a single-use token (its nonce, or another name for something given once): `true` the
   * first time, `false` when it was spent before, on this collector or another sharing the store.
   * Kept until `expiresAt`, after which the token is refused for its age anyway.
   */
  spendToken(id: string, expiresAt: number): Promise<boolean>;
  /**
   * Lifecycle sync: what was last seen of a Konnektive record (`kind` is its source), as stored
   * JSON. Locks the row until commit on PostgreSQL, so two collectors take turns on one record.
   */
  getLifecycleSnapshot(kind: string, recordId: string): Promise<string | undefined>;
  /** The snapshots of one group (a transaction's order), at most {@link LIFECYCLE_GROUP_LIMIT}. */
  listLifecycleSnapshots(kind: string, groupKey: string): Promise<Array<{ recordId: string; snapshot: string }>>;
  putLifecycleSnapshot(snapshot: { kind: string; recordId: string; groupKey?: string; snapshot: string; now: number }): Promise<void>;
  /** Stores a lifecycle event; `false` when one with its id was stored before (by any collector). */
  insertLifecycleEvent(event: { id: string; kind: string; customerKey: string; payload: Record<string, unknown>; now: number }): Promise<boolean>;
  /** Records that a page type got its click; `false` when it already had one. */
  markPageClicked(sessionId: string, page: PageName): Promise<boolean>;
  enqueue(job: NewJob): Promise<number>;
  /** A job of this kind for the session that has not been claimed yet. */
  findPendingJob(sessionId: string, kind: JobKind): Promise<Job | undefined>;
  /** Runs `fn` so that a failure undoes only its own writes (a savepoint). */
  nested<T>(fn: () => Promise<T>): Promise<T>;
  /**
   * Takes up to `limit` sessions whose `dueAt` has passed and clears their `dueAt`, so that no
   * other sweeper (in this or another collector) takes them too. Oldest due first.
   */
  claimDueSessions(now: number, limit: number): Promise<Session[]>;
  /**
   * Records an emission; `false` when the session already has one of this kind. A `cancelled`
   * one (a CART held back for an order that then did not verify) is queued again instead.
   */
  insertEmission(emission: Pick<Emission, 'sessionId' | 'kind' | 'payload'> & { now: number }): Promise<boolean>;
  getEmission(sessionId: string, kind: EmissionKind): Promise<Emission | undefined>;
  /**
   * Sessions whose CART is out and unpaid (`abandoned`) with this lead email, any letter case:
   * the oldest {@link SESSIONS_PER_EMAIL} (anyone can type an email into any number of sessions).
   */
  listAbandonedByEmail(email: string): Promise<Session[]>;
  /** Sessions still `open` with a cart (no CART yet) with this lead email, any letter case: the oldest {@link SESSIONS_PER_EMAIL}. */
  listOpenCartsByEmail(email: string): Promise<Session[]>;
}

export interface ClaimOptions {
  now: number;
  limit: number;
  leaseMs: number;
  owner: string;
  /** Upstreams whose jobs must not be claimed now (a paused relay). */
  skipUpstreams: readonly Upstream[];
  /**
   * Claim only this upstream's jobs (a relay lane's claim): they are found in the upstream's own
   * index instead of among every upstream's due jobs.
   */
  upstream?: Upstream;
  /**
   * Claim no background jobs (lifecycle deliveries, collector/outbox/job-priority.ts): their
   * upstream's rate limit has no room for them now, while the funnel's calls still find one.
   */
  skipBackground?: boolean;
}

export type JobCompletion =
  /**
   * The job goes on running: only its session patch is written, now (a write-ahead mark before a
   * call that must not be made twice), and only while the owner still holds the job.
   */
  | { state: 'running' }
  | { state: 'done' }
  | { state: 'pending'; runAt: number; error: string; countAttempt: boolean }
  | { state: 'dead'; error: string };

/** What a {@link Store.relayRound} wrote and took. */
export interface RelayRound {
  /** Per finished job: whether the owner still held it (its state and patch were written). */
  held: boolean[];
  /** Per claim: the jobs it took, oldest due first. */
  claimed: Job[][];
}

/** One finished job of a worker round, with what its handler asked to remember. */
export interface JobFinish {
  id: number;
  sessionId: string;
  completion: JobCompletion;
  attempts: readonly DeliveryAttempt[];
  sessionPatch: SessionPatch | undefined;
}

/**
 * A transaction the database aborted to break a deadlock or a serialization conflict: running the
 * whole transaction again is the cure, so it must not be swallowed as one request's failure.
 */
export function isTransactionConflict(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === '40P01' || code === '40001';
}

/** {@link Store.recordRateSend}: the send was recorded (go now), or the window is full until `retryAt`. */
export type RateSendResult = { sent: true; id: number } | { sent: false; retryAt: number };

/**
 * The most rows a list of the store reads at once ({@link Store.listEvents} and the other lists):
 * a visitor can grow what some of them list, and no read may grow with it. What a user sees in
 * full is paged (the dashboard's timeline, collector/dashboard/queries.ts).
 */
export const LIST_LIMIT = 1_000;

/**
 * The most sessions {@link StoreTx.listAbandonedByEmail} and {@link StoreTx.listOpenCartsByEmail}
 * read: a buyer has a few carts, and anyone can type the buyer's email into any number of
 * sessions. The oldest are read first, so sessions made after the buyer's cannot crowd it out; a
 * cart left unread is still rechecked with Konnektive before any email (session-rules.ts).
 */
export const SESSIONS_PER_EMAIL = 100;

/** The most attribution events {@link Store.listAttributionEvents} reads: later ones add nothing a conversion uses. */
export const ATTRIBUTION_EVENTS = 20;

/**
 * How far back {@link Store.lastPageView} looks for a page: a real funnel has a handful of page
 * views, and a buyer's checkout is among the last few; a session that posted thousands of page
 * views gets its latest one instead, read in one bounded query.
 */
export const RECENT_PAGE_VIEWS = 50;

/** Recorded sends older than this are deleted: far past any window, even with collectors' clocks apart. */
export const RATE_SEND_HORIZON_MS = 60_000;

/**
 * Plain SQL for the read models that keep their own queries (collector/dashboard/): `?`
 * placeholders on both backends, and the store's dialect seam for what is spelled differently.
 * Not for domain writes, which go through {@link StoreTx}.
 */
export interface SqlAccess {
  readonly dialect: Dialect;
  all<R = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<R[]>;
  /** Returns the number of rows changed. */
  run(sql: string, params?: readonly unknown[]): Promise<number>;
  /** Runs `fn` in one transaction (on SQLite, holding the store's lock throughout). */
  transaction<T>(fn: (sql: SqlAccess) => Promise<T>): Promise<T>;
}

/** A CART delivered: the cart's worth and the lifetime of its recovery link. */
export interface CartOutcome {
  sessionId: string;
  /** When the CART was queued (the cart abandoned). */
  at: number;
  totalCents: number;
  currency: string;
  linkExpiresAt: number;
}

/** An ORDER delivered; `recoversCart` when a CART of the same session went out before it. */
export interface OrderOutcome {
  sessionId: string;
  at: number;
  totalCents: number;
  currency: string;
  recoversCart: boolean;
}

/** Amounts in integer cents, by ISO currency. */
export type CentsByCurrency = Record<string, number>;

/**
 * The figures of `funnelbeacon report` and `/metrics`. Carts are the cohort abandoned since
 * `since` (a CART delivered); recovered, lost and clicks are counted within that cohort. Orders
 * are the ORDERs delivered since `since`.
 */
export interface FunnelReport {
  since: number;
  until: number;
  sessions: number;
  leads: number;
  cartsAbandoned: number;
  recoverableRevenue: CentsByCurrency;
  cartsRecovered: number;
  recoveredRevenue: CentsByCurrency;
  cartsRecoveredByLink: number;
  recoveredByLinkRevenue: CentsByCurrency;
  /** Abandoned longer than the recovery link's lifetime, without an order. */
  cartsLost: number;
  orders: number;
  revenue: CentsByCurrency;
  /** Clicks on the recovery links of the cohort's carts (email scanners included). */
  recoveryClicks: number;
  /** Carts whose buyer came back through the recovery link (the snippet's page view). */
  recoveryReturns: number;
}

export interface Store {
  readonly kind: 'sqlite' | 'postgres';
  /** Raw SQL access for the dashboard's read models. */
  sql(): SqlAccess;
  migrate(): Promise<void>;
  transaction<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T>;
  getSession(id: string): Promise<Session | undefined>;
  updateSession(id: string, patch: SessionPatch): Promise<void>;
  /**
   * Whether a session other than `sessionId` holds this Konnektive order id: the browser reported
   * it there, or that session's Import Lead created it. Such an order is that session's purchase.
   */
  orderHeldElsewhere(orderId: string, sessionId: string): Promise<boolean>;
  /** The funnel session holding a Konnektive order (the postbacks of its refund take its affiliate values). */
  sessionOfOrder(orderId: string): Promise<string | undefined>;
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
  /**
   * {@link completeJobs}, then each of `claims` ({@link claimJobs}), in one transaction: the
   * outbox worker's writes of one moment (collector/outbox/relay-writer.ts). The claims see the
   * completions: a session whose job just finished has its next job claimable.
   */
  relayRound(owner: string, finishes: readonly JobFinish[], claims: readonly ClaimOptions[]): Promise<RelayRound>;
  /** Extends the leases `owner` still holds on these jobs (a round that runs long). */
  renewLeases(owner: string, jobIds: readonly number[], leaseUntil: number): Promise<void>;
  /** Gives back every job `owner` holds so another worker can take it at once. */
  releaseClaims(owner: string): Promise<number>;
  /** Puts dead letters back into the outbox; returns how many. */
  replayDeadJobs(now: number): Promise<number>;
  countJobsByState(): Promise<Record<JobState, number>>;
  /** The latest `limit` (default {@link LIST_LIMIT}) jobs of the filter, oldest first. */
  listJobs(filter: { sessionId?: string; state?: JobState; limit?: number }): Promise<Job[]>;
  /** The session's latest `limit` (default {@link LIST_LIMIT}) events, oldest first. */
  listEvents(sessionId: string, limit?: number): Promise<StoredEvent[]>;
  /**
   * The session's latest page view of `page` among its latest {@link RECENT_PAGE_VIEWS} page
   * views, else its latest page view; undefined when it has none. One bounded read, whatever the
   * session holds (the recovery link's target).
   */
  lastPageView(sessionId: string, page: PageName): Promise<StoredEvent | undefined>;
  /**
   * The session's attribution events (click ids, the marketing choice), oldest first, at most
   * {@link ATTRIBUTION_EVENTS}: the snippet sends one per funnel domain and one per change of choice.
   */
  listAttributionEvents(sessionId: string): Promise<StoredEvent[]>;
  /** The latest `limit` (default {@link LIST_LIMIT}) delivery attempts, of one job or of all, oldest first. */
  listAttempts(jobId?: number, limit?: number): Promise<DeliveryAttempt[]>;
  countSessions(): Promise<number>;
  getEmission(sessionId: string, kind: EmissionKind): Promise<Emission | undefined>;
  updateEmission(sessionId: string, kind: EmissionKind, change: { status: EmissionStatus; remoteId?: string; now: number }): Promise<void>;
  /** The latest `limit` (default {@link LIST_LIMIT}) emissions, of one session or of all, oldest first. */
  listEmissions(filter?: { sessionId?: string; limit?: number }): Promise<Emission[]>;
  /** The latest `limit` (default {@link LIST_LIMIT}) states a session passed through, oldest first (written by every state change). */
  listStateChanges(sessionId: string, limit?: number): Promise<{ state: SessionState; at: number }[]>;
  /**
   * Reserves the next free slot of a shared rate limit: returns when the caller may go (now or
   * later) and moves the key's next slot `intervalMs` past it. Atomic across collectors.
   */
  reserveRateSlot(key: string, now: number, intervalMs: number): Promise<number>;
  /** Pushes a key's next slot to at least `until` (an upstream said Retry-After). */
  deferRateSlots(key: string, until: number): Promise<void>;
  /**
   * The sliding-window log of a shared rate limit: records one request of `key` as sent at
   * `now`, unless `limit` recorded sends already fall after `now - windowMs` (later ones count
   * too, since collectors' clocks differ a little); then it answers when to ask again. Atomic
   * across collectors, so no window of `windowMs` ever holds more than `limit` recorded sends.
   */
  recordRateSend(key: string, now: number, limit: number, windowMs: number): Promise<RateSendResult>;
  /** Takes back a recorded send that did not happen (its caller stalled before sending). */
  forgetRateSend(key: string, id: number): Promise<void>;
  /** When the key's next slot is, as {@link reserveRateSlot} left it; undefined before the first. Reads only. */
  nextRateSlot(key: string): Promise<number | undefined>;
  /**
   * Retention, one batch in one transaction: takes up to `limit` finished sessions older than the
   * cutoff (complete, expired or closed; abandoned once their CART was sent; bots), adds them to the daily
   * rollups, and deletes them with their events, clicks, states and emissions. Never takes a
   * session the sweeper still has to look at (a due time), nor one with an unfinished or
   * dead-lettered job or an emission not yet sent.
   */
  purgeSessions(options: PurgeSessionsOptions): Promise<SessionPurge>;
  /**
   * Retention of the outbox's history, one batch: up to `limit` delivery attempts older than the
   * cutoff (except those of jobs not done: pending, running and dead letters keep theirs), then up
   * to `limit` done jobs last updated before it, then up to `limit` spent single-use tokens that
   * expired before it. Returns the rows deleted.
   */
  purgeHistory(options: { cutoff: number; limit: number }): Promise<number>;
  /** Daily rollups, by day then metric then currency; days as `YYYY-MM-DD`, both ends included. */
  listDailyRollups(filter?: { fromDay?: string; toDay?: string }): Promise<DailyRollup[]>;
  /** Recovery facts (table `session_outcomes`); each write is idempotent per session. */
  recordCartOutcome(cart: CartOutcome): Promise<void>;
  /** A click on a session's recovery link: counted, with the first and the latest time. */
  recordRecoveryClick(sessionId: string, at: number): Promise<void>;
  /** The buyer came back through the recovery link (the first time is kept). */
  recordRecoveryReturn(sessionId: string, at: number): Promise<void>;
  /**
   * An ORDER delivered. It is recovered when it recovers a CART, and recovered by link when the
   * buyer had come back through the recovery link before it.
   */
  recordOrderOutcome(order: OrderOutcome): Promise<void>;
  funnelReport(since: number, until: number): Promise<FunnelReport>;
  getMeta(key: string): Promise<string | undefined>;
  setMetaIfAbsent(key: string, value: string): Promise<string>;
  /**
   * Ends a dashboard sign-in cookie (by its session id) for every collector sharing the store; kept
   * until `expiresAt`, when the cookie is refused for its age anyway. Idempotent.
   */
  revokeDashboardSession(id: string, expiresAt: number): Promise<void>;
  /** Whether a dashboard sign-in cookie was ended by its logout. */
  isDashboardSessionRevoked(id: string): Promise<boolean>;
  /** Retention: deletes up to `limit` revocations of cookies expired by `now`; returns how many. */
  purgeDashboardRevocations(now: number, limit: number): Promise<number>;
  ping(): Promise<void>;
  close(): Promise<void>;
}
