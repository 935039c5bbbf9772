/**
 * @module queries
 * The dashboard's reads outside the rollup: the session list and search, one session's
 * timeline, and the delivery view. Every query goes through an index (see migration 6): by
 * creation time, email, order id, affiliate, the outbox's partial indexes, or attempts by outcome.
 */
import { AD_PLATFORMS, type AdPlatform } from '../conversions/conversion.js';
import { conversionQueueKey, sessionOfQueueKey } from '../conversions/conversion-queue.js';
import { postbackRouteKey } from '../postbacks/postback-queue.js';
import { customerKey } from '../lifecycle/lifecycle-sync.js';
import { rowToAttempt, rowToEmission, rowToJob, rowToSession } from '../store/rows.js';
import type { JobState, SqlAccess, Store, Upstream } from '../store/store.js';
import { maskEmail, maskPhone } from './mask.js';
import { refreshRollup } from './rollup.js';
import { deviceClass, sourcesOf } from './sources.js';

type Row = Record<string, unknown>;

export interface SessionListItem {
  id: string;
  createdAt: number;
  lastSeenAt: number;
  state: string;
  lastPage: string | null;
  email: string | null;
  phone: string | null;
  orderId: string | null;
  affId: string | null;
  device: string;
  cartCents: number | null;
  currency: string | null;
}

function cartCents(cart: { items?: { price: number; qty: number }[] } | undefined): number | null {
  if (!cart?.items) return null;
  return cart.items.reduce((sum, item) => sum + Math.round(item.price * 100) * item.qty, 0);
}

function toListItem(row: Row): SessionListItem {
  const session = rowToSession(row);
  const sources = sourcesOf(session.landingUrl, session.userAgent);
  return {
    id: session.id,
    createdAt: session.createdAt,
    lastSeenAt: session.lastSeenAt,
    state: session.state,
    lastPage: session.lastPage ?? null,
    email: maskEmail(session.lead.emailAddress) ?? null,
    phone: maskPhone(session.lead.phoneNumber) ?? null,
    orderId: session.konnektive.orderId ?? session.claimedOrderId ?? null,
    affId: sources.affId === '(none)' ? null : sources.affId,
    device: deviceClass(session.userAgent),
    cartCents: cartCents(session.cart),
    currency: session.cart?.currency ?? null,
  };
}

/**
 * Recent sessions, or those matching `q`: an email (exact, any letter case), an order id (the
 * browser's or Konnektive's), an affiliate id, or a session id.
 *
 * Each session's affiliate is filed in `dashboard_sources` by the rollup, so a search that may be
 * an affiliate first brings the rollup up to date, within the same time budget as the overview:
 * sessions of the hours it could not reach yet are missing from that answer.
 */
export async function listSessions(
  sql: SqlAccess,
  { q, before, limit, refreshBudgetMs = 1_000 }: { q?: string; before?: number; limit: number; refreshBudgetMs?: number },
): Promise<SessionListItem[]> {
  // The expressions of the search indexes (migrations 8 and 9), spelled as they are there.
  const email = `lower(${sql.dialect.jsonText('lead', 'emailAddress')})`;
  const crmOrder = `(${sql.dialect.jsonText('konnektive', 'orderId')})`;
  let rows: Row[];
  if (q) {
    const term = q.trim();
    if (!term.includes('@')) await refreshRollup(sql, { budgetMs: refreshBudgetMs });
    rows = term.includes('@')
      ? await sql.all<Row>(`SELECT * FROM sessions WHERE ${email} = lower(?) ORDER BY created_at DESC LIMIT ?`, [term, limit])
      : await sql.all<Row>(
          `SELECT * FROM sessions WHERE id IN (
             SELECT id FROM sessions WHERE id = ?
             UNION SELECT id FROM sessions WHERE claimed_order_id = ?
             UNION SELECT id FROM sessions WHERE ${crmOrder} = ?
             UNION SELECT session_id FROM (SELECT session_id FROM dashboard_sources WHERE aff_id = ? ORDER BY created_at DESC LIMIT ?) AS by_affiliate)
           ORDER BY created_at DESC LIMIT ?`,
          // An affiliate may have sent a hundred thousand sessions: only its newest `limit` are
          // read, from the (aff_id, created_at) index.
          [term, term, term, term, limit, limit],
        );
  } else {
    rows = await sql.all<Row>('SELECT * FROM sessions WHERE created_at < ? ORDER BY created_at DESC LIMIT ?', [before ?? Number.MAX_SAFE_INTEGER, limit]);
  }
  return rows.map(toListItem);
}

/**
 * The outbox keys of a session's jobs, as SQL on `column`: its own, each ad platform's conversions
 * (conversions/conversion-queue.ts), and its affiliate postbacks' (`postbacks:<session>` and
 * `postbacks:<session>/<name>`, one range of keys: postbacks/postback-jobs.ts).
 */
function sessionJobs(column: string, id: string): { sql: string; params: string[] } {
  return {
    sql: `(${column} IN (?, ?, ?) OR (${column} >= ? AND ${column} < ?))`,
    params: [id, ...AD_PLATFORMS.map((platform) => conversionQueueKey(platform, id)), postbackRouteKey({ session: id, eventId: '' }), `${postbackRouteKey({ session: id, eventId: '' })}0`],
  };
}

export type TimelineEntry =
  | { at: number; kind: 'page'; page: string; url: string; referrer?: string }
  | { at: number; kind: 'lead'; fields: Record<string, string> }
  | { at: number; kind: 'cart'; items: { id: string; name?: string; price: number; qty: number }[]; currency: string }
  | { at: number; kind: 'order'; orderId: string }
  | { at: number; kind: 'exit' }
  /** What the snippet kept of the click (ids, cookies, affiliate and UTM values) and the visitor's marketing choice. */
  | { at: number; kind: 'attribution'; marketing: boolean; values: Record<string, string> }
  | { at: number; kind: 'state'; state: string }
  /** A click on the recovery link: the first, and the latest with the running count. */
  | { at: number; kind: 'recovery-click'; count: number }
  /** The buyer came back to the funnel through the recovery link. */
  | { at: number; kind: 'recovery-return' }
  | {
      at: number;
      kind: 'upstream';
      jobId: number;
      upstream: Upstream;
      endpoint: string;
      request: string;
      response: string;
      outcome: string;
      httpStatus: number | null;
      latencyMs: number;
    };

export interface SessionDetail {
  session: {
    id: string;
    campaignId: string;
    createdAt: number;
    lastSeenAt: number;
    state: string;
    lastPage: string | null;
    landingUrl: string | null;
    referrer: string | null;
    device: string;
    userAgent: string;
    lead: Record<string, string>;
    cart: { items: { id: string; name?: string; price: number; qty: number }[]; currency: string } | null;
    claimedOrderId: string | null;
    konnektive: { sessionId: string | null; orderId: string | null; customerId: string | null };
    orderCheck: { verified: boolean; reason: string | null; totalCents: number | null; currency: string | null } | null;
    sources: Record<string, string>;
    /** The abandoned session whose recovery link began this one. */
    recovers: string | null;
    /** The sessions begun through this one's recovery link (the first {@link SESSION_RETURNS}). */
    returns: string[];
  };
  emissions: { kind: string; status: string; remoteId: string | null; createdAt: number; updatedAt: number }[];
  /** The latest {@link SESSION_JOBS} jobs, oldest first; `totals.jobs` says how many there are. */
  jobs: { id: number; upstream: Upstream; kind: string; state: JobState; attempts: number; lastError: string | null; createdAt: number }[];
  /** The timeline's first page, oldest first. */
  timeline: TimelineEntry[];
  /** What the lifecycle sync found of the buyer after the order (by the lead's email), the latest {@link SESSION_LIFECYCLE}, oldest first. */
  lifecycle: LifecycleEntry[];
  /** The cursor of the next page (`GET /sessions/:id/timeline?after=`), null when this was the last. */
  timelineNext: string | null;
  totals: { events: number; timeline: number; jobs: number };
}

/** One lifecycle event as the session's page shows it: what happened, never the customer's details. */
export interface LifecycleEntry {
  id: string;
  kind: string;
  /** Konnektive's wall-clock time in the account's zone, as it wrote it. */
  occurredAt: string;
  /** When this collector found it. */
  foundAt: number;
  amountCents: number | null;
  currency: string | null;
  orderId: string | null;
  transactionId: string | null;
  reason: string | null;
  trackingNumber: string | null;
}

/** The lifecycle events a session's page lists (the buyer's latest). */
export const SESSION_LIFECYCLE = 50;

const textOrNull = (value: unknown): string | null => (typeof value === 'string' ? value : null);

/** The buyer's latest lifecycle events, oldest first, through the (customer_key, created_at) index. */
export async function buyerLifecycle(sql: SqlAccess, email: string | undefined, limit = SESSION_LIFECYCLE): Promise<LifecycleEntry[]> {
  if (!email?.trim()) return [];
  const rows = await sql.all<Row>('SELECT id, kind, payload, created_at FROM lifecycle_events WHERE customer_key = ? ORDER BY created_at DESC, id DESC LIMIT ?', [customerKey({ email }), limit]);
  return rows.reverse().map((row) => {
    const event = JSON.parse(String(row.payload)) as Record<string, unknown>;
    return {
      id: String(row.id),
      kind: String(row.kind),
      occurredAt: textOrNull(event.occurredAt) ?? '',
      foundAt: Number(row.created_at),
      amountCents: typeof event.amountCents === 'number' ? event.amountCents : null,
      currency: textOrNull(event.currency),
      orderId: textOrNull(event.orderId),
      transactionId: textOrNull(event.transactionId),
      reason: textOrNull(event.reason),
      trackingNumber: textOrNull(event.trackingNumber),
    };
  });
}

/** A page of a session's timeline, oldest first, at most this many entries by default. */
export const TIMELINE_PAGE = 200;
/** The jobs a session's page lists (its latest). */
export const SESSION_JOBS = 50;
/** The returns through a session's recovery link its page lists (each landing is one). */
export const SESSION_RETURNS = 20;

/**
 * Where an entry stands in the timeline: its time, then its source (events, state changes,
 * recovery, upstream calls: the order the page has always shown entries of one millisecond in),
 * then its place in that source (insertion order). A page resumes after the last entry it showed.
 */
interface TimelineKey {
  at: number;
  rank: number;
  seq: number;
}

const RANK = { event: 0, state: 1, recovery: 2, upstream: 3 } as const;

/** `at.rank.seq`: opaque to the UI, checked by `TimelineCursor` in api-schema.ts. */
export function timelineCursor(key: TimelineKey): string {
  return `${key.at}.${key.rank}.${key.seq}`;
}

function parseCursor(cursor: string | undefined): TimelineKey | undefined {
  if (cursor === undefined) return undefined;
  const [at, rank, seq] = cursor.split('.').map(Number);
  return { at: at!, rank: rank!, seq: seq! };
}

/** SQL that keeps only a source's rows after the cursor (`at` and `seq` are that source's columns). */
function afterCursor(at: string, seq: string, rank: number, cursor: TimelineKey | undefined): { sql: string; params: number[] } {
  if (!cursor) return { sql: 'TRUE', params: [] };
  if (rank > cursor.rank) return { sql: `${at} >= ?`, params: [cursor.at] };
  if (rank < cursor.rank) return { sql: `${at} > ?`, params: [cursor.at] };
  return { sql: `(${at} > ? OR (${at} = ? AND ${seq} > ?))`, params: [cursor.at, cursor.at, cursor.seq] };
}

const isAfter = (key: TimelineKey, cursor: TimelineKey | undefined) =>
  !cursor || key.at > cursor.at || (key.at === cursor.at && (key.rank > cursor.rank || (key.rank === cursor.rank && key.seq > cursor.seq)));

type Keyed = { key: TimelineKey; entry: TimelineEntry };

function eventEntry(type: string, at: number, payload: Record<string, unknown>): TimelineEntry | undefined {
  switch (type) {
    case 'page':
      return {
        at,
        kind: 'page',
        page: String(payload.page),
        url: String(payload.url),
        ...(typeof payload.referrer === 'string' ? { referrer: payload.referrer } : {}),
      };
    case 'lead':
      return { at, kind: 'lead', fields: (payload.fields ?? {}) as Record<string, string> };
    case 'cart':
      return { at, kind: 'cart', items: (payload.items ?? []) as { id: string; name?: string; price: number; qty: number }[], currency: String(payload.currency ?? 'USD') };
    case 'order':
      return { at, kind: 'order', orderId: String(payload.orderId) };
    case 'exit':
      return { at, kind: 'exit' };
    case 'attribution':
      return { at, kind: 'attribution', marketing: payload.marketing === true, values: (payload.values ?? {}) as Record<string, string> };
    default:
      return undefined;
  }
}

/**
 * One page of a session's timeline: at most `limit` entries after `after` (a cursor this returned
 * before), oldest first, and the cursor of the next page. Each source is read with its own bounded
 * query (at most `limit + 1` rows, through its index by session), so a page costs the same however
 * much the session holds.
 */
export async function sessionTimeline(
  sql: SqlAccess,
  id: string,
  { after, limit = TIMELINE_PAGE }: { after?: string; limit?: number } = {},
): Promise<{ timeline: TimelineEntry[]; next: string | null }> {
  const cursor = parseCursor(after);
  const order = sql.dialect.eventOrder;
  const take = limit + 1;
  const eventsAfter = afterCursor('received_at', order, RANK.event, cursor);
  const statesAfter = afterCursor('at', 'seq', RANK.state, cursor);
  const callsAfter = afterCursor('a.created_at', 'a.id', RANK.upstream, cursor);
  const [events, states, outcomes, calls] = await Promise.all([
    sql.all<Row>(
      `SELECT type, received_at, payload, ${order} AS seq FROM events WHERE session_id = ? AND ${eventsAfter.sql} ORDER BY received_at, ${order} LIMIT ?`,
      [id, ...eventsAfter.params, take],
    ),
    sql.all<Row>(`SELECT state, at, seq FROM session_states WHERE session_id = ? AND ${statesAfter.sql} ORDER BY at, seq LIMIT ?`, [id, ...statesAfter.params, take]),
    sql.all<Row>('SELECT clicks, first_click_at, last_click_at, returned_at FROM session_outcomes WHERE session_id = ?', [id]),
    sql.all<Row>(
      `SELECT a.* FROM delivery_attempts a JOIN outbox o ON o.id = a.job_id WHERE ${sessionJobs('o.session_id', id).sql} AND ${callsAfter.sql} ORDER BY a.created_at, a.id LIMIT ?`,
      [...sessionJobs('o.session_id', id).params, ...callsAfter.params, take],
    ),
  ]);
  const keyed: Keyed[] = [];
  for (const row of events) {
    const at = Number(row.received_at);
    const entry = eventEntry(String(row.type), at, JSON.parse(String(row.payload)) as Record<string, unknown>);
    if (entry) keyed.push({ key: { at, rank: RANK.event, seq: Number(row.seq) }, entry });
  }
  for (const row of states) {
    const at = Number(row.at);
    keyed.push({ key: { at, rank: RANK.state, seq: Number(row.seq) }, entry: { at, kind: 'state', state: String(row.state) } });
  }
  for (const { key, entry } of recoveryEntries(outcomes[0])) if (isAfter(key, cursor)) keyed.push({ key, entry });
  for (const row of calls) {
    const attempt = rowToAttempt(row);
    keyed.push({
      key: { at: attempt.createdAt, rank: RANK.upstream, seq: Number(row.id) },
      entry: {
        at: attempt.createdAt,
        kind: 'upstream',
        jobId: attempt.jobId,
        upstream: attempt.upstream,
        endpoint: attempt.endpoint,
        request: attempt.request,
        response: attempt.response,
        outcome: attempt.outcome,
        httpStatus: attempt.httpStatus ?? null,
        latencyMs: attempt.latencyMs,
      },
    });
  }
  keyed.sort((a, b) => a.key.at - b.key.at || a.key.rank - b.key.rank || a.key.seq - b.key.seq);
  const page = keyed.slice(0, limit);
  // More when any source had a row past this page (each read one more than a page).
  const more = keyed.length > limit;
  return { timeline: page.map((each) => each.entry), next: more ? timelineCursor(page[page.length - 1]!.key) : null };
}

/** A click on the recovery link (the first, and the latest with the count), and the buyer's return. */
function recoveryEntries(outcome: Row | undefined): Keyed[] {
  const entries: Keyed[] = [];
  if (!outcome) return entries;
  const add = (at: number, seq: number, entry: TimelineEntry) => entries.push({ key: { at, rank: RANK.recovery, seq }, entry });
  if (Number(outcome.clicks) > 0) {
    add(Number(outcome.first_click_at), 0, { at: Number(outcome.first_click_at), kind: 'recovery-click', count: 1 });
    if (Number(outcome.clicks) > 1 && outcome.last_click_at !== null) {
      add(Number(outcome.last_click_at), 1, { at: Number(outcome.last_click_at), kind: 'recovery-click', count: Number(outcome.clicks) });
    }
  }
  if (outcome.returned_at !== null && outcome.returned_at !== undefined) add(Number(outcome.returned_at), 2, { at: Number(outcome.returned_at), kind: 'recovery-return' });
  return entries;
}

/**
 * One session with the first page of what happened to it (oldest first) and how much there is in
 * all; `undefined` when unknown. Every read is bounded: a session holds at most its cap of events
 * (ingest/session-cap.ts), and even one stored before the cap existed is read a page at a time.
 */
export async function sessionDetail(store: Store, id: string): Promise<SessionDetail | undefined> {
  const session = await store.getSession(id);
  if (!session) return undefined;
  const sql = store.sql();
  const [page, jobRows, emissions, counts, returns] = await Promise.all([
    sessionTimeline(sql, id),
    sql.all<Row>(`SELECT * FROM (SELECT * FROM outbox WHERE ${sessionJobs('session_id', id).sql} ORDER BY id DESC LIMIT ?) latest ORDER BY id`, [...sessionJobs('session_id', id).params, SESSION_JOBS]),
    // At most one of each kind per session (the table's key): bounded as it is.
    sql.all<Row>('SELECT * FROM emissions WHERE session_id = ? ORDER BY created_at, kind', [id]),
    sql.all<Row>(
      `SELECT (SELECT COUNT(*) FROM session_states WHERE session_id = ?) AS states,
              (SELECT COUNT(*) FROM delivery_attempts a JOIN outbox o ON o.id = a.job_id WHERE ${sessionJobs('o.session_id', id).sql}) AS calls,
              (SELECT COUNT(*) FROM outbox WHERE ${sessionJobs('session_id', id).sql}) AS jobs,
              (SELECT clicks FROM session_outcomes WHERE session_id = ?) AS clicks,
              (SELECT returned_at FROM session_outcomes WHERE session_id = ?) AS returned_at`,
      [id, ...sessionJobs('o.session_id', id).params, ...sessionJobs('session_id', id).params, id, id],
    ),
    sql.all<Row>('SELECT id FROM sessions WHERE recovers_session_id = ? ORDER BY created_at, id LIMIT ?', [id, SESSION_RETURNS]),
  ]);
  const lifecycle = await buyerLifecycle(sql, session.lead.emailAddress);
  const count = counts[0] ?? {};
  const clicks = Number(count.clicks ?? 0);
  const recovery = (clicks > 0 ? 1 : 0) + (clicks > 1 ? 1 : 0) + (count.returned_at === null || count.returned_at === undefined ? 0 : 1);
  const jobs = jobRows.map(rowToJob);
  const verified = session.orderCheck;
  return {
    session: {
      id: session.id,
      campaignId: session.campaignId,
      createdAt: session.createdAt,
      lastSeenAt: session.lastSeenAt,
      state: session.state,
      lastPage: session.lastPage ?? null,
      landingUrl: session.landingUrl ?? null,
      referrer: session.referrer ?? null,
      device: deviceClass(session.userAgent),
      userAgent: session.userAgent,
      lead: session.lead as Record<string, string>,
      cart: session.cart ?? null,
      claimedOrderId: session.claimedOrderId ?? null,
      konnektive: {
        sessionId: session.konnektive.sessionId ?? null,
        orderId: session.konnektive.orderId ?? null,
        customerId: session.konnektive.customerId ?? null,
      },
      orderCheck: verified
        ? {
            verified: verified.verified,
            reason: verified.reason ?? null,
            totalCents: verified.order?.totalCents ?? null,
            currency: verified.order?.currency ?? null,
          }
        : null,
      sources: sourcesOf(session.landingUrl, session.userAgent),
      recovers: session.recoversSessionId ?? null,
      returns: returns.map((row) => String(row.id)),
    },
    emissions: emissions.map(rowToEmission).map((e) => ({ kind: e.kind, status: e.status, remoteId: e.remoteId ?? null, createdAt: e.createdAt, updatedAt: e.updatedAt })),
    jobs: jobs.map((job) => ({
      id: job.id,
      upstream: job.upstream,
      kind: job.kind,
      state: job.state,
      attempts: job.attempts,
      lastError: job.lastError ?? null,
      createdAt: job.createdAt,
    })),
    timeline: page.timeline,
    lifecycle,
    timelineNext: page.next,
    totals: {
      events: session.eventCount,
      timeline: session.eventCount + Number(count.states ?? 0) + recovery + Number(count.calls ?? 0),
      jobs: Number(count.jobs ?? 0),
    },
  };
}

/** Outbox jobs by state and upstream, through the partial indexes of unfinished and dead jobs. */
export async function jobCounts(sql: SqlAccess): Promise<{ state: 'pending' | 'running' | 'dead'; upstream: string; count: number }[]> {
  const rows = await sql.all<Row>(
    `SELECT 'pending' AS state, upstream, COUNT(*) AS n FROM outbox WHERE state = 'pending' GROUP BY upstream
     UNION ALL SELECT 'running', upstream, COUNT(*) FROM outbox WHERE state = 'running' GROUP BY upstream
     UNION ALL SELECT 'dead', upstream, COUNT(*) FROM outbox WHERE state = 'dead' GROUP BY upstream`,
  );
  return rows.map((row) => ({ state: row.state as 'pending' | 'running' | 'dead', upstream: String(row.upstream), count: Number(row.n) }));
}

export async function deadLetters(sql: SqlAccess, limit: number) {
  const rows = await sql.all<Row>("SELECT * FROM outbox WHERE state = 'dead' ORDER BY id DESC LIMIT ?", [limit]);
  return rows.map(rowToJob).map((job) => ({
    id: job.id,
    sessionId: sessionOfQueueKey(job.sessionId),
    upstream: job.upstream,
    kind: job.kind,
    attempts: job.attempts,
    lastError: job.lastError ?? null,
    createdAt: job.createdAt,
  }));
}

/** One ad platform's conversions of one kind since a time: what went, what was skipped and why, what failed. */
export interface ConversionCount {
  platform: AdPlatform;
  conversion: string;
  /** Accepted by the platform (or, in sandbox mode, recorded). */
  sent: number;
  /** Deliberately not sent, by reason (no_consent, bot, test_order, too_old, session_gone). */
  skipped: Record<string, number>;
  /** Calls the platform refused or that failed (each attempt; a retried conversion counts each time). */
  failedCalls: number;
}

/**
 * The ad platforms' conversions since `since`, from their delivery attempts (each conversion is
 * one call, its endpoint the conversion's name), through the partial index of their attempts.
 */
export async function conversionCounts(sql: SqlAccess, since: number): Promise<ConversionCount[]> {
  const rows = await sql.all<Row>(
    `SELECT upstream, endpoint, outcome, CASE WHEN outcome = 'skipped' THEN response ELSE '' END AS reason, COUNT(*) AS n
       FROM delivery_attempts WHERE upstream IN ('meta', 'tiktok') AND created_at >= ?
      GROUP BY upstream, endpoint, outcome, CASE WHEN outcome = 'skipped' THEN response ELSE '' END`,
    [since],
  );
  const counts = new Map<string, ConversionCount>();
  for (const row of rows) {
    const platform = String(row.upstream) as AdPlatform;
    const conversion = String(row.endpoint);
    const key = `${platform} ${conversion}`;
    const count = counts.get(key) ?? { platform, conversion, sent: 0, skipped: {}, failedCalls: 0 };
    counts.set(key, count);
    const n = Number(row.n);
    if (row.outcome === 'ok' || row.outcome === 'sandbox') count.sent += n;
    else if (row.outcome === 'skipped') count.skipped[String(row.reason)] = (count.skipped[String(row.reason)] ?? 0) + n;
    else count.failedCalls += n;
  }
  const order = (c: ConversionCount) => `${AD_PLATFORMS.indexOf(c.platform)} ${['Lead', 'InitiateCheckout', 'Purchase'].indexOf(c.conversion)}`;
  return [...counts.values()].sort((a, b) => order(a).localeCompare(order(b)));
}

/** One affiliate postback's fires since a time, and the network's last answer. */
export interface PostbackCount {
  postback: string;
  /** Answered 2xx by the network (or, in sandbox mode, recorded). */
  fired: number;
  /** Deliberately not fired, by reason (test_order, prepaid, sale_followed, removed). */
  skipped: Record<string, number>;
  /** Calls the network refused or that failed (a retried fire counts each time). */
  failedCalls: number;
  /** Fires that ran out of retries: dead letters on the Delivery view. */
  dead: number;
  lastAnswer: { at: number; outcome: string; httpStatus: number | null; response: string } | null;
}

/** Each postback's fires since `since`, from its delivery attempts (endpoint `<METHOD> <name>`). */
export async function postbackCounts(sql: SqlAccess, since: number): Promise<PostbackCount[]> {
  const [rows, dead] = await Promise.all([
    sql.all<Row>(
      `SELECT endpoint, outcome, CASE WHEN outcome = 'skipped' THEN response ELSE '' END AS reason, COUNT(*) AS n, MAX(id) AS last
         FROM delivery_attempts WHERE upstream = 'postbacks' AND created_at >= ?
        GROUP BY endpoint, outcome, CASE WHEN outcome = 'skipped' THEN response ELSE '' END`,
      [since],
    ),
    sql.all<Row>("SELECT payload FROM outbox WHERE state = 'dead' AND kind = 'postback.fire' ORDER BY id DESC LIMIT ?", [DEAD_POSTBACKS]),
  ]);
  const counts = new Map<string, PostbackCount & { lastId: number }>();
  const of = (postback: string) => {
    const found = counts.get(postback) ?? { postback, fired: 0, skipped: {}, failedCalls: 0, dead: 0, lastAnswer: null, lastId: 0 };
    counts.set(postback, found);
    return found;
  };
  for (const row of rows) {
    const count = of(String(row.endpoint).replace(/^\S+ /, ''));
    const n = Number(row.n);
    if (row.outcome === 'ok' || row.outcome === 'sandbox') count.fired += n;
    else if (row.outcome === 'skipped') count.skipped[String(row.reason)] = (count.skipped[String(row.reason)] ?? 0) + n;
    else count.failedCalls += n;
    if (row.outcome !== 'skipped') count.lastId = Math.max(count.lastId, Number(row.last));
  }
  for (const row of dead) of(String((JSON.parse(String(row.payload)) as { postback?: unknown }).postback ?? '?')).dead++;
  const lastIds = [...counts.values()].map((count) => count.lastId).filter((id) => id > 0);
  if (lastIds.length > 0) {
    const last = await sql.all<Row>(`SELECT * FROM delivery_attempts WHERE id IN (${lastIds.map(() => '?').join(', ')})`, lastIds);
    for (const row of last) {
      const attempt = rowToAttempt(row);
      const count = counts.get(attempt.endpoint.replace(/^\S+ /, ''));
      if (count) count.lastAnswer = { at: attempt.createdAt, outcome: attempt.outcome, httpStatus: attempt.httpStatus ?? null, response: attempt.response.slice(0, 300) };
    }
  }
  return [...counts.values()].map(({ lastId: _lastId, ...count }) => count).sort((a, b) => a.postback.localeCompare(b.postback));
}

/** How many dead postback fires {@link postbackCounts} reads to count them per postback. */
const DEAD_POSTBACKS = 1000;

/** Puts one dead letter back into the outbox; `false` when it is not (or no longer) dead. */
export async function replayJob(sql: SqlAccess, id: number, now: number): Promise<boolean> {
  return (await sql.run("UPDATE outbox SET state = 'pending', attempts = 0, run_at = ?, updated_at = ? WHERE id = ? AND state = 'dead'", [now, now, id])) === 1;
}

/** The last successful and the last failed call of each upstream. */
export async function lastCalls(sql: SqlAccess, upstream: Upstream) {
  const pick = async (outcomes: string[]) => {
    const rows = await sql.all<Row>(
      `SELECT * FROM delivery_attempts WHERE outcome IN (${outcomes.map(() => '?').join(', ')}) AND upstream = ? ORDER BY id DESC LIMIT 1`,
      [...outcomes, upstream],
    );
    return rows[0] ? rowToAttempt(rows[0]) : undefined;
  };
  const [ok, failed] = await Promise.all([pick(['ok', 'sandbox']), pick(['rejected', 'transient', 'auth'])]);
  return {
    lastSuccessAt: ok?.createdAt ?? null,
    lastErrorAt: failed?.createdAt ?? null,
    lastError: failed ? `${failed.endpoint}: ${failed.outcome}${failed.httpStatus ? ` (HTTP ${failed.httpStatus})` : ''} ${failed.response}`.slice(0, 300) : null,
  };
}

/**
 * What sandbox mode would have sent, newest first, a page at a time: `limit` requests recorded
 * before attempt `before` (through the (outcome, id) index), and the `before` of the next page.
 */
export async function sandboxRequests(sql: SqlAccess, limit: number, before = Number.MAX_SAFE_INTEGER) {
  const rows = await sql.all<Row>(
    "SELECT a.*, o.session_id FROM delivery_attempts a LEFT JOIN outbox o ON o.id = a.job_id WHERE a.outcome = 'sandbox' AND a.id < ? ORDER BY a.id DESC LIMIT ?",
    [before, limit + 1],
  );
  const more = rows.length > limit;
  const requests = rows.slice(0, limit).map((row) => {
    const attempt = rowToAttempt(row);
    return {
      id: Number(row.id),
      jobId: attempt.jobId,
      sessionId: row.session_id === null || row.session_id === undefined ? null : sessionOfQueueKey(String(row.session_id)),
      upstream: attempt.upstream,
      endpoint: attempt.endpoint,
      request: attempt.request,
      response: attempt.response,
      createdAt: attempt.createdAt,
    };
  });
  return { requests, next: more ? requests[requests.length - 1]!.id : null };
}

