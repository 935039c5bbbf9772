/**
 * @module queries
 * The dashboard's reads outside the rollup: the session list and search, one session's
 * timeline, and the delivery view. Every query goes through an index (see migration 6): by
 * creation time, email, order id, affiliate, the outbox's partial indexes, or attempts by outcome.
 */
import { rowToAttempt, rowToJob, rowToSession } from '../store/rows.js';
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

export type TimelineEntry =
  | { at: number; kind: 'page'; page: string; url: string; referrer?: string }
  | { at: number; kind: 'lead'; fields: Record<string, string> }
  | { at: number; kind: 'cart'; items: { id: string; name?: string; price: number; qty: number }[]; currency: string }
  | { at: number; kind: 'order'; orderId: string }
  | { at: number; kind: 'exit' }
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
  };
  emissions: { kind: string; status: string; remoteId: string | null; createdAt: number; updatedAt: number }[];
  jobs: { id: number; upstream: Upstream; kind: string; state: JobState; attempts: number; lastError: string | null; createdAt: number }[];
  timeline: TimelineEntry[];
}

/** One session with everything that happened to it, oldest first; `undefined` when unknown. */
export async function sessionDetail(store: Store, id: string): Promise<SessionDetail | undefined> {
  const session = await store.getSession(id);
  if (!session) return undefined;
  const [events, states, jobs, emissions] = await Promise.all([
    store.listEvents(id),
    store.listStateChanges(id),
    store.listJobs({ sessionId: id }),
    store.listEmissions({ sessionId: id }),
  ]);
  const timeline: TimelineEntry[] = [];
  for (const event of events) {
    const payload = event.payload as Record<string, unknown>;
    switch (event.type) {
      case 'page':
        timeline.push({
          at: event.receivedAt,
          kind: 'page',
          page: String(payload.page),
          url: String(payload.url),
          ...(typeof payload.referrer === 'string' ? { referrer: payload.referrer } : {}),
        });
        break;
      case 'lead':
        timeline.push({ at: event.receivedAt, kind: 'lead', fields: (payload.fields ?? {}) as Record<string, string> });
        break;
      case 'cart':
        timeline.push({
          at: event.receivedAt,
          kind: 'cart',
          items: (payload.items ?? []) as { id: string; name?: string; price: number; qty: number }[],
          currency: String(payload.currency ?? 'USD'),
        });
        break;
      case 'order':
        timeline.push({ at: event.receivedAt, kind: 'order', orderId: String(payload.orderId) });
        break;
      case 'exit':
        timeline.push({ at: event.receivedAt, kind: 'exit' });
        break;
    }
  }
  for (const change of states) timeline.push({ at: change.at, kind: 'state', state: change.state });
  const [outcome] = await store
    .sql()
    .all<Row>('SELECT clicks, first_click_at, last_click_at, returned_at FROM session_outcomes WHERE session_id = ?', [id]);
  if (outcome && Number(outcome.clicks) > 0) {
    timeline.push({ at: Number(outcome.first_click_at), kind: 'recovery-click', count: 1 });
    if (Number(outcome.clicks) > 1 && outcome.last_click_at !== null) {
      timeline.push({ at: Number(outcome.last_click_at), kind: 'recovery-click', count: Number(outcome.clicks) });
    }
  }
  if (outcome && outcome.returned_at !== null && outcome.returned_at !== undefined) {
    timeline.push({ at: Number(outcome.returned_at), kind: 'recovery-return' });
  }
  const attempts = await Promise.all(jobs.map((job) => store.listAttempts(job.id)));
  for (const attempt of attempts.flat()) {
    timeline.push({
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
    });
  }
  // Stable: events, then state changes, then calls, when two share a millisecond.
  timeline.sort((a, b) => a.at - b.at);
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
    },
    emissions: emissions.map((e) => ({ kind: e.kind, status: e.status, remoteId: e.remoteId ?? null, createdAt: e.createdAt, updatedAt: e.updatedAt })),
    jobs: jobs.map((job) => ({
      id: job.id,
      upstream: job.upstream,
      kind: job.kind,
      state: job.state,
      attempts: job.attempts,
      lastError: job.lastError ?? null,
      createdAt: job.createdAt,
    })),
    timeline,
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
    sessionId: job.sessionId,
    upstream: job.upstream,
    kind: job.kind,
    attempts: job.attempts,
    lastError: job.lastError ?? null,
    createdAt: job.createdAt,
  }));
}

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
      sessionId: row.session_id === null || row.session_id === undefined ? null : String(row.session_id),
      upstream: attempt.upstream,
      endpoint: attempt.endpoint,
      request: attempt.request,
      response: attempt.response,
      createdAt: attempt.createdAt,
    };
  });
  return { requests, next: more ? requests[requests.length - 1]!.id : null };
}

