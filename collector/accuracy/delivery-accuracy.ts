/**
 * @module delivery-accuracy
 * Did every lead, cart and order reach every destination, and if not, why? For each destination
 * funnelbeacon sends to, over a period, what should have gone, counted from the source of truth
 * (sessions, their page views and leads, Konnektive's verified orders, the lifecycle events found)
 * rather than from the jobs queued, so that a cause that queued nothing shows as missing; and for
 * each such item what became of it: sent, deliberately skipped (and why), failed (a dead letter, or
 * a job still failing), still waiting, or missing.
 *
 * Each destination is one entry of {@link DESTINATIONS}: the SQL of its expected items and how
 * each is matched with the outbox jobs that deliver it. Every item is classified once, in SQL
 * (one row per status and reason comes back, never one per item), so the figures always add up:
 * expected = sent + skipped + failed + waiting + missing. Accuracy = (sent + skipped) / expected,
 * where an item still waiting for its first attempt counts neither way (it is left out of
 * expected): a lead postback held for its `leadDelay`, or a Lead conversion waiting for the rest of
 * the form, is on time, not inaccurate. A job that was tried and failed is failed at once.
 *
 * A period is chosen by the cause's time: the session's creation for what a session causes (its
 * page views, lead, cart and order come within its first hours), the time a lifecycle event was
 * found for a lifecycle delivery. Every read walks an index: sessions by creation time, then, per
 * session, its events, states, emission and jobs by session (`outbox_by_session`), and attempts by
 * job; lifecycle events by creation time.
 */
import type { Postback } from '../postbacks/postback-file.js';
import type { Config } from '../config.js';
import { AD_PLATFORMS, activeAdPlatforms, type AdPlatform } from '../conversions/conversion.js';
import { CONVERSION_JOB_KIND } from '../conversions/conversion-queue.js';
import { EMIT_JOB_KIND, JOB_KINDS, emissionUpstream } from '../outbox/job-kinds.js';
import type { Dialect } from '../store/dialect.js';
import type { SqlAccess, Upstream } from '../store/store.js';
import type { ConversionName } from '../wire-schema.js';

type Row = Record<string, unknown>;

/** What became of one expected item. `failed` is a dead letter or a job whose attempts keep failing. */
export type ItemStatus = 'sent' | 'skipped' | 'failed' | 'waiting' | 'missing';

/**
 * The expected items of one destination, as SQL over the period's two `?` (start, end).
 * `job` is an SQL expression naming the state of the item's delivery: `done`, `dead`, `failing`
 * (unfinished, with attempts that failed), `waiting` (unfinished, not attempted yet), or NULL (no
 * job: missing). `skip`: the reason it was deliberately not sent, or NULL.
 */
export interface ItemSource {
  /** `FROM … WHERE …`, with `?` for the period's start and end, in that order. */
  rows: string;
  /** The funnel session the item belongs to (NULL when none: a lifecycle event). */
  sessionId: string;
  /** What the item is within its session (a page, an order, an event id). */
  item: string;
  /** The cause's time (ms). */
  at: string;
  job: string;
  skip: string;
  /** The last error of the item's job (read only for the drill-down). */
  detail: string;
}

export interface Destination {
  /** Stable id, used in URLs, metric labels and alert tokens. */
  id: string;
  /** How people see it named. */
  label: string;
  /** The upstream whose paused credentials alert for this destination. */
  upstream: Upstream | string;
  items(dialect: Dialect): ItemSource;
}

const NULL_TEXT = 'CAST(NULL AS TEXT)';

/** The state of the best of the jobs matching `match` (a condition on `o`): done, else dead, else the newest unfinished. */
export function jobState(match: string): string {
  return `(SELECT CASE WHEN o.state = 'done' THEN 'done' WHEN o.state = 'dead' THEN 'dead' WHEN o.attempts > 0 THEN 'failing' ELSE 'waiting' END
     FROM outbox o WHERE ${match} ORDER BY CASE o.state WHEN 'done' THEN 0 WHEN 'dead' THEN 1 ELSE 2 END, o.id DESC LIMIT 1)`;
}

/** The last error of the newest job matching `match` that is not done. */
export function jobError(match: string): string {
  return `(SELECT o.last_error FROM outbox o WHERE ${match} AND o.state <> 'done' ORDER BY o.id DESC LIMIT 1)`;
}

/**
 * The reason the newest job of `match` recorded for skipping its call: the response of its last
 * attempt when that was `skipped` (a skip is always a done job's last attempt, so the job's state
 * needs no test). Read through the job's attempts (by job id), never through the attempts by
 * outcome, which would read every skip ever recorded for each item. No `state = 'done'` term
 * either: on PostgreSQL, with statistics not yet gathered on a fast-growing outbox, the planner
 * joined it with the partial index of done jobs and read every done job once per item (11 s for
 * 20,000 sessions, minutes for a soak's 100,000).
 */
export function attemptSkip(match: string): string {
  return `(SELECT CASE WHEN a.outcome = 'skipped' THEN a.response END FROM delivery_attempts a
     WHERE a.job_id = (SELECT o.id FROM outbox o WHERE ${match} ORDER BY o.id DESC LIMIT 1)
     ORDER BY a.id DESC LIMIT 1)`;
}

/** A text field of a JSON column is present and not empty. */
const filled = (d: Dialect, column: string, key: string) => `COALESCE(${d.jsonText(column, key)}, '') <> ''`;

/** The session's last order check verified the order with Konnektive. */
export function verifiedOrder(d: Dialect, table: string): string {
  return d.name === 'sqlite' ? `json_extract(${table}.order_check, '$.verified') = 1` : `(${table}.order_check::json ->> 'verified') = 'true'`;
}

/** Sessions begun in the period (the `(created_at, id)` index). */
const SESSIONS_IN_PERIOD = 's.created_at >= ? AND s.created_at < ?';

const hasContact = (d: Dialect) => `(${filled(d, 's.lead', 'emailAddress')} OR ${filled(d, 's.lead', 'phoneNumber')})`;

/** Konnektive Import Click: one per page type a person's session viewed (bots never get one). */
const konnektiveClick: Destination = {
  id: 'konnektive-click',
  label: 'Konnektive Import Click',
  upstream: 'konnektive',
  items: (d) => {
    const match = `o.session_id = c.session_id AND o.kind = '${JOB_KINDS.konnektiveClick}' AND ${d.jsonText('o.payload', 'page')} = c.page`;
    return {
      rows: `FROM (SELECT DISTINCT s.id AS session_id, s.created_at, ${d.jsonText('e.payload', 'page')} AS page
                FROM sessions s JOIN events e ON e.session_id = s.id
               WHERE ${SESSIONS_IN_PERIOD} AND NOT s.is_bot AND e.type = 'page') c`,
      sessionId: 'c.session_id',
      item: 'c.page',
      at: 'c.created_at',
      job: jobState(match),
      skip: NULL_TEXT,
      detail: jobError(match),
    };
  },
};

/**
 * Konnektive Import Lead: a person's session whose lead has an email or a phone. Konnektive takes
 * a lead only with a first and a last name too: without them it is skipped (`no_name`).
 */
const konnektiveLead: Destination = {
  id: 'konnektive-lead',
  label: 'Konnektive Import Lead',
  upstream: 'konnektive',
  items: (d) => {
    const match = `o.session_id = s.id AND o.kind = '${JOB_KINDS.konnektiveLead}'`;
    return {
      rows: `FROM sessions s WHERE ${SESSIONS_IN_PERIOD} AND NOT s.is_bot AND ${hasContact(d)}`,
      sessionId: 's.id',
      item: "'lead'",
      at: 's.created_at',
      job: jobState(match),
      skip: `CASE WHEN ${filled(d, 's.lead', 'firstName')} AND ${filled(d, 's.lead', 'lastName')} THEN ${NULL_TEXT} ELSE 'no_name' END`,
      detail: jobError(match),
    };
  },
};

/**
 * An emission (one row per session and kind, emissions table): sent once its status is `sent`;
 * `cancelled` is a CART held back because the buyer reported an order; otherwise its job says.
 */
function emissionItems(kind: 'cart' | 'order', rows: string): ItemSource {
  const match = `o.session_id = s.id AND o.kind = '${EMIT_JOB_KIND[kind]}'`;
  return {
    rows: `FROM sessions s LEFT JOIN emissions em ON em.session_id = s.id AND em.kind = '${kind}' ${rows}`,
    sessionId: 's.id',
    item: `'${kind.toUpperCase()}'`,
    at: 's.created_at',
    job: `CASE WHEN em.status = 'sent' THEN 'done' WHEN em.status IS NULL OR em.status = 'cancelled' THEN ${NULL_TEXT} ELSE ${jobState(match)} END`,
    skip: `CASE WHEN em.status = 'cancelled' THEN 'order_reported' ELSE ${NULL_TEXT} END`,
    detail: jobError(match),
  };
}

/** ActiveCampaign CART: a session whose cart was abandoned (its state history says so). */
const activeCampaignCart = (upstream: Upstream): Destination => ({
  id: 'activecampaign-cart',
  label: 'ActiveCampaign CART',
  upstream,
  items: () =>
    emissionItems('cart', `WHERE ${SESSIONS_IN_PERIOD} AND EXISTS (SELECT 1 FROM session_states st WHERE st.session_id = s.id AND st.state = 'abandoned')`),
});

/**
 * ActiveCampaign ORDER: a session whose order Konnektive verified. A buyer back through a
 * recovery link pays on a new session, and the ORDER is the abandoned session's (both hold the
 * verified order): the new session is not counted then.
 */
const activeCampaignOrder = (upstream: Upstream): Destination => ({
  id: 'activecampaign-order',
  label: 'ActiveCampaign ORDER',
  upstream,
  items: (d) =>
    emissionItems(
      'order',
      `WHERE ${SESSIONS_IN_PERIOD} AND ${verifiedOrder(d, 's')}
         AND NOT EXISTS (SELECT 1 FROM sessions r WHERE r.id = s.recovers_session_id AND ${verifiedOrder(d, 'r')})`,
    ),
});

/** ActiveCampaign lifecycle calls: each lifecycle event found (by when it was found), delivered by its own job. */
const activeCampaignLifecycle: Destination = {
  id: 'activecampaign-lifecycle',
  label: 'ActiveCampaign lifecycle',
  upstream: 'activecampaign',
  items: (d) => {
    const match = `o.session_id = le.customer_key AND o.kind = '${JOB_KINDS.lifecycleDeliver}' AND ${d.jsonText('o.payload', 'id')} = le.id`;
    return {
      rows: 'FROM lifecycle_events le WHERE le.created_at >= ? AND le.created_at < ?',
      sessionId: NULL_TEXT,
      item: "le.kind || ' ' || le.id",
      at: 'le.created_at',
      job: jobState(match),
      skip: NULL_TEXT,
      detail: jobError(match),
    };
  },
};

/** Which sessions are expected to send each conversion. */
const CONVERSION_CAUSES: Record<ConversionName, (d: Dialect) => string> = {
  // Bots' sessions included: they queue nothing, and count as skipped (bot).
  Lead: (d) => hasContact(d),
  InitiateCheckout: (d) =>
    `s.cart IS NOT NULL AND EXISTS (SELECT 1 FROM events e WHERE e.session_id = s.id AND e.type = 'page' AND ${d.jsonText('e.payload', 'page')} = 'checkout')`,
  // The session that paid; not the abandoned one a buyer came back to through its recovery link.
  Purchase: (d) =>
    `${verifiedOrder(d, 's')} AND NOT EXISTS (SELECT 1 FROM sessions r WHERE r.recovers_session_id = s.id AND ${verifiedOrder(d, 'r')})`,
};

const PLATFORM_LABEL: Record<AdPlatform, string> = { meta: 'Meta', tiktok: 'TikTok' };

/**
 * One ad platform's conversion: skipped when its delivery recorded why (no consent, bot, test
 * order, too old). A Purchase's job may be queued on the abandoned session the buyer came back to.
 */
const adConversion = (platform: AdPlatform, name: ConversionName): Destination => ({
  id: `${platform}-${name.toLowerCase()}`,
  label: `${PLATFORM_LABEL[platform]} ${name}`,
  upstream: platform,
  items: (d) => {
    const keys =
      name === 'Purchase'
        ? `o.session_id IN ('${platform}:' || s.id, '${platform}:' || COALESCE(s.recovers_session_id, ''))`
        : `o.session_id = '${platform}:' || s.id`;
    const match = `${keys} AND o.kind = '${CONVERSION_JOB_KIND[platform]}' AND ${d.jsonText('o.payload', 'name')} = '${name}'`;
    return {
      rows: `FROM sessions s WHERE ${SESSIONS_IN_PERIOD} AND ${CONVERSION_CAUSES[name](d)}`,
      sessionId: 's.id',
      item: `'${name}'`,
      at: 's.created_at',
      job: jobState(match),
      // A bot's session queues none: skipped, `bot`, from the session's own flag.
      skip: `CASE WHEN s.is_bot THEN 'bot' ELSE ${attemptSkip(match)} END`,
      detail: jobError(match),
    };
  },
});

/**
 * One affiliate postback: each event of its kind (`on`) the collector saw in the period, as the
 * `postback.route` job its cause queued (in the cause's own transaction: a lead, a verified order,
 * a refund the lifecycle sync found). An event still being routed is waiting; one routed is
 * expected of this postback when the routing found it covers the event's affiliate and campaign
 * (it queued a fire); a routing that failed is failed. The fire says the rest: sent, skipped with
 * its reason (test order, prepaid, a sale followed the lead, interrupted), failed.
 */
const affiliatePostback = (postback: Pick<Postback, 'name' | 'on'>): Destination => ({
  id: `postback-${postback.name}`,
  label: `Postback ${postback.name}`,
  upstream: 'postbacks',
  items: (d) => {
    // The fire's key is the routing's and the postback's name (postbacks/postback-jobs.ts): found through the outbox's session index.
    const fire = `o.session_id = r.session_id || '/${postback.name.replace(/'/g, "''")}' AND o.kind = '${JOB_KINDS.postbackFire}' AND ${d.jsonText('o.payload', 'eventId')} = ${d.jsonText('r.payload', 'eventId')}`;
    return {
      rows: `FROM outbox r WHERE r.kind = '${JOB_KINDS.postbackRoute}' AND r.created_at >= ? AND r.created_at < ? AND ${d.jsonText('r.payload', 'event')} = '${postback.on}'
        AND (r.state <> 'done' OR EXISTS (SELECT 1 FROM outbox o WHERE ${fire}))`,
      sessionId: d.jsonText('r.payload', 'session'),
      item: d.jsonText('r.payload', 'eventId'),
      at: 'r.created_at',
      job: `CASE WHEN r.state = 'dead' THEN 'dead' WHEN r.state <> 'done' THEN (CASE WHEN r.attempts > 0 THEN 'failing' ELSE 'waiting' END) ELSE ${jobState(fire)} END`,
      skip: attemptSkip(fire),
      detail: `COALESCE(r.last_error, ${jobError(fire)})`,
    };
  },
});

/**
 * Every destination this collector's configuration sends to, in the order the dashboard lists
 * them: a new destination is one more entry here. `postbacks`: those of `POSTBACKS_FILE` in force.
 */
export function destinations(
  config: Pick<Config, 'emitVia' | 'activeCampaign' | 'lifecycle' | 'sandbox' | 'adPlatforms'>,
  postbacks: readonly Pick<Postback, 'name' | 'on'>[] = [],
): Destination[] {
  const emits = config.emitVia !== 'activecampaign' || config.activeCampaign !== undefined;
  const ac = emissionUpstream(config.emitVia);
  const platforms = activeAdPlatforms(config);
  return [
    konnektiveClick,
    konnektiveLead,
    ...(emits ? [activeCampaignCart(ac), activeCampaignOrder(ac)] : []),
    ...(config.lifecycle.enabled ? [activeCampaignLifecycle] : []),
    ...AD_PLATFORMS.filter((platform) => platforms.includes(platform)).flatMap((platform) =>
      (['Lead', 'InitiateCheckout', 'Purchase'] as const).map((name) => adConversion(platform, name)),
    ),
    ...postbacks.map(affiliatePostback),
  ];
}

/** The classification of an item, from its source's `job` and `skip` columns. */
const STATUS = `CASE WHEN x.skip IS NOT NULL THEN 'skipped' WHEN x.job = 'done' THEN 'sent' WHEN x.job IN ('dead', 'failing') THEN 'failed'
                     WHEN x.job = 'waiting' THEN 'waiting' ELSE 'missing' END`;

function itemsSql(source: ItemSource, withDetail: boolean): string {
  return `SELECT ${source.sessionId} AS session_id, ${source.item} AS item, ${source.at} AS at, ${source.job} AS job, ${source.skip} AS skip${withDetail ? `, ${source.detail} AS detail` : ''} ${source.rows}`;
}

/** One destination's figures over a period. */
export interface DestinationAccuracy {
  destination: string;
  label: string;
  expected: number;
  sent: number;
  /** Deliberately not sent, in all and by reason. */
  skipped: number;
  skippedBy: Record<string, number>;
  failed: number;
  waiting: number;
  missing: number;
  /** (sent + skipped) / (expected − waiting); 1 when nothing but waiting items was expected. */
  accuracy: number;
}

export interface Period {
  from: number;
  to: number;
}

/** One destination's figures over `[from, to)`: one grouped query. */
export async function destinationAccuracy(sql: SqlAccess, destination: Destination, { from, to }: Period): Promise<DestinationAccuracy> {
  const source = destination.items(sql.dialect);
  const rows = await sql.all<Row>(
    `SELECT y.status, y.reason, COUNT(*) AS n FROM (SELECT ${STATUS} AS status, COALESCE(x.skip, '') AS reason FROM (${itemsSql(source, false)}) x) y GROUP BY y.status, y.reason`,
    [from, to],
  );
  const figures: DestinationAccuracy = { destination: destination.id, label: destination.label, expected: 0, sent: 0, skipped: 0, skippedBy: {}, failed: 0, waiting: 0, missing: 0, accuracy: 1 };
  for (const row of rows) {
    const n = Number(row.n);
    const status = String(row.status) as ItemStatus;
    figures.expected += n;
    figures[status] += n;
    if (status === 'skipped') figures.skippedBy[String(row.reason)] = (figures.skippedBy[String(row.reason)] ?? 0) + n;
  }
  const due = figures.expected - figures.waiting;
  figures.accuracy = due === 0 ? 1 : (figures.sent + figures.skipped) / due;
  return figures;
}

/** Every destination's figures over `[from, to)`, one row each, in {@link destinations}' order. */
export async function deliveryAccuracy(sql: SqlAccess, list: readonly Destination[], period: Period): Promise<DestinationAccuracy[]> {
  const figures: DestinationAccuracy[] = [];
  // One after the other: each is a scan of the period, and the store serves ingest meanwhile.
  for (const destination of list) figures.push(await destinationAccuracy(sql, destination, period));
  return figures;
}

/** One item that failed or is missing, for the drill-down. */
export interface AccuracyItem {
  sessionId: string | null;
  item: string;
  at: number;
  status: 'failed' | 'missing';
  /** `dead` (a dead letter, replayable), `failing` (still retried), or null (nothing was queued). */
  job: 'dead' | 'failing' | null;
  /** The job's last error, if any. */
  error: string | null;
}

/** The most items a drill-down lists. */
export const DRILL_DOWN_LIMIT = 100;

/** The items of one destination that failed or are missing over `[from, to)`, newest first, at most `limit`. */
export async function accuracyItems(sql: SqlAccess, destination: Destination, { from, to }: Period, limit = DRILL_DOWN_LIMIT): Promise<AccuracyItem[]> {
  const source = destination.items(sql.dialect);
  const rows = await sql.all<Row>(
    `SELECT x.session_id, x.item, x.at, x.job, x.detail FROM (${itemsSql(source, true)}) x
      WHERE x.skip IS NULL AND (x.job IS NULL OR x.job IN ('dead', 'failing'))
      ORDER BY x.at DESC, x.session_id, x.item LIMIT ?`,
    [from, to, limit],
  );
  return rows.map((row) => ({
    sessionId: row.session_id === null || row.session_id === undefined ? null : String(row.session_id),
    item: String(row.item),
    at: Number(row.at),
    status: row.job === null || row.job === undefined ? 'missing' : 'failed',
    job: row.job === 'dead' || row.job === 'failing' ? row.job : null,
    error: typeof row.detail === 'string' ? row.detail.slice(0, 300) : null,
  }));
}
