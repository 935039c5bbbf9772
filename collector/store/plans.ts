/**
 * @module plans
 * Every statement of the store, written once with `?` placeholders and spelled for one engine by
 * its {@link Dialect} (pg-boss's `plans.ts` is the model). The stores run these texts and nothing
 * else; their own code is only how to run them (transactions, durability, pools, retries).
 *
 * Statements are built once per dialect, so each text is a constant a store can keep prepared.
 */
import { postgresDialect, sqliteDialect, type Dialect } from './dialect.js';

/** Advisory lock namespaces (first key of the two-key form); the value spells "FB" + a number. */
export const LOCK_MIGRATE = 0x4642_0001;
export const LOCK_SESSION_OUTBOX = 0x4642_0002;
export const LOCK_RATE_SENDS = 0x4642_0003;

/** Sessions the retention purge may take: finished, and nothing left to send or look at. */
const purgeable = `s.created_at < ? AND (s.created_at, s.id) > (CAST(? AS BIGINT), CAST(? AS TEXT))
    AND s.last_seen_at < ? AND s.state_changed_at < ? AND s.due_at IS NULL
    AND (s.state IN ('complete', 'expired', 'closed') OR (s.state = 'open' AND s.is_bot)
         OR (s.state = 'abandoned' AND EXISTS (SELECT 1 FROM emissions e WHERE e.session_id = s.id AND e.kind = 'cart' AND e.status = 'sent')))
    AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.session_id = s.id AND o.state IN ('pending', 'running'))
    AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.session_id = s.id AND o.state = 'dead')
    AND NOT EXISTS (SELECT 1 FROM emissions e WHERE e.session_id = s.id AND e.status IN ('queued', 'sending'))`;

/**
 * A job a claimer may take (parameters: now, now, upstreams to skip, now): due or with an expired
 * lease, not of a paused upstream, its session's oldest unfinished job, and no other job of that
 * session running under a live lease (a replayed dead letter can become the head while a later
 * job of its session still runs). The redundant `IN` terms let SQLite use the partial index of
 * unfinished jobs.
 */
const claimable = (d: Dialect) => `((o.state = 'pending' AND o.run_at <= ?) OR (o.state = 'running' AND o.lease_until < ?))
    AND ${isClaimableHead(d.notInList('o.upstream', 'text'), '?')}`;

/** The part of {@link claimable} after due-or-expired: not skipped, the session's head, none running. */
const isClaimableHead = (notSkipped: string, now: string) => `${notSkipped}
    AND o.id = (SELECT MIN(h.id) FROM outbox h WHERE h.session_id = o.session_id AND h.state IN ('pending', 'running'))
    AND NOT EXISTS (SELECT 1 FROM outbox r WHERE r.session_id = o.session_id AND r.id <> o.id
                    AND r.state IN ('pending', 'running') AND r.state = 'running' AND r.lease_until >= ${now})`;

/**
 * Claim order: a funnel's jobs before lifecycle deliveries (collector/outbox/job-priority.ts), so
 * a backfill's thousands of due deliveries never stand in front of a CART or an ORDER; then the
 * oldest due first.
 */
const claimPriority = "CASE WHEN o.kind = 'lifecycle.deliver' THEN 1 ELSE 0 END";

/**
 * SQLite's claim query: the same jobs as {@link claimable} in the same order (same parameters:
 * now, now, upstreams to skip, now, skip background, limit), asked as ordered, limited parts. With the `OR`
 * of pending and expired jobs, SQLite gathered every due job, checked each one's session, then
 * sorted them all: a claim cost time in proportion to the backlog (1.5 ms with 600 jobs due, the
 * worker falling further behind the more it had to do). Each part walks its partial index in
 * `run_at, id` order and stops at the limit (PostgreSQL asks the same parts, then locks what
 * they found: {@link postgresClaimableJobs}). Due jobs are asked
 * apart for the funnel's and for lifecycle deliveries, so neither half sorts a backfill's backlog.
 */
const sqliteClaimableJobs = (upstream: 'skip' | 'only') => {
  const head = isClaimableHead(
    upstream === 'only' ? 'o.upstream = (SELECT upstreams FROM p)' : 'o.upstream NOT IN (SELECT value FROM json_each((SELECT upstreams FROM p)))',
    '(SELECT live FROM p)',
  );
  const half = (due: string) => `SELECT * FROM (SELECT o.id, o.run_at, ${claimPriority} AS background FROM outbox o WHERE ${due} AND ${head}
      ORDER BY o.run_at, o.id LIMIT (SELECT lim FROM p))`;
  const pending = "o.state = 'pending' AND o.run_at <= (SELECT due FROM p)";
  return `WITH p (due, expired, upstreams, live, nobg, lim) AS (SELECT ?, ?, ?, ?, ?, ?)
    SELECT id FROM (${half(`${pending} AND o.kind <> 'lifecycle.deliver'`)}
      UNION ALL ${half(`${pending} AND o.kind = 'lifecycle.deliver' AND NOT (SELECT nobg FROM p)`)}
      UNION ALL ${half(`o.state = 'running' AND o.lease_until < (SELECT expired FROM p) AND ${notBackground('(SELECT nobg FROM p)')}`)})
    ORDER BY background, run_at, id LIMIT (SELECT lim FROM p)`;
};

/**
 * PostgreSQL's claim query: the same parts as SQLite's, each walking its partial index in
 * `run_at` order and stopping at the limit, so a claim no longer checks every due job's session
 * and sorts them all (14 ms of server CPU per claim with 3,354 due, in a query the outbox worker
 * runs whenever one of its places comes free). The parts pick candidates without locks; the
 * outer query locks those still free (`FOR UPDATE SKIP LOCKED`, which a compound query cannot
 * take), and the claim's UPDATE re-checks the whole condition. A candidate another collector
 * holds is skipped, so a claim may return fewer than asked; the next claim asks again.
 */
const postgresClaimableJobs = (upstream: 'skip' | 'only') => {
  // `$3` itself: `<> ALL` of a subquery would compare with each row (one array), not each element.
  const head = isClaimableHead(upstream === 'only' ? 'o.upstream = CAST($3 AS TEXT)' : 'o.upstream <> ALL(CAST($3 AS TEXT[]))', '(SELECT live FROM p)');
  const part = (due: string) => `(SELECT o.id, o.run_at, ${claimPriority} AS background FROM outbox o WHERE ${due} AND ${head}
      ORDER BY o.run_at, o.id LIMIT (SELECT lim FROM p))`;
  const pending = "o.state = 'pending' AND o.run_at <= (SELECT due FROM p)";
  return `WITH p (due, expired, live, nobg, lim) AS (SELECT CAST($1 AS BIGINT), CAST($2 AS BIGINT), CAST($4 AS BIGINT), CAST($5 AS BOOLEAN), CAST($6 AS BIGINT)),
    candidates AS (SELECT id, run_at, background FROM (${part(`${pending} AND o.kind <> 'lifecycle.deliver'`)}
      UNION ALL ${part(`${pending} AND o.kind = 'lifecycle.deliver' AND NOT (SELECT nobg FROM p)`)}
      UNION ALL ${part(`o.state = 'running' AND o.lease_until < (SELECT expired FROM p) AND ${notBackground('(SELECT nobg FROM p)')}`)}) AS parts
      ORDER BY background, run_at, id LIMIT (SELECT lim FROM p))
    SELECT o.id FROM outbox o JOIN candidates c ON c.id = o.id
    ORDER BY c.background, c.run_at, c.id FOR UPDATE OF o SKIP LOCKED`;
};

/** Not a lifecycle delivery, or `skip` (ClaimOptions.skipBackground) is false. */
function notBackground(skip: string): string {
  return `(o.kind <> 'lifecycle.deliver' OR NOT ${skip})`;
}

const releaseLease = "lease_owner = NULL, lease_until = NULL";
/** Only while `owner` holds the lease: a job whose lease was taken over belongs to its new claimer. */
const leaseHeld = "WHERE id = ? AND state = 'running' AND lease_owner = ?";

function build(d: Dialect) {
  const q = d.placeholders;
  return {
    // --- migrations and meta ---------------------------------------------------------------
    createMigrations: 'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)',
    appliedMigrations: 'SELECT version FROM schema_migrations',
    recordMigration: q('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)'),
    advisoryLock: d.advisoryLock && q(d.advisoryLock),
    getMeta: q('SELECT value FROM meta WHERE key = ?'),
    // ON CONFLICT waits for a concurrent inserter of the key to commit; only a statement started
    // after that (a fresh snapshot) is sure to see its row, so the read is a second statement.
    insertMetaIfAbsent: q('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING'),
    ping: 'SELECT 1',

    // --- dashboard sign-in cookies ended by their logout ---------------------------------------
    revokeDashboardSession: q('INSERT INTO dashboard_revocations (session_id, expires_at) VALUES (?, ?) ON CONFLICT (session_id) DO NOTHING'),
    dashboardSessionRevoked: q('SELECT 1 AS revoked FROM dashboard_revocations WHERE session_id = ?'),
    purgeDashboardRevocations: q(
      'DELETE FROM dashboard_revocations WHERE session_id IN (SELECT session_id FROM dashboard_revocations WHERE expires_at <= ? ORDER BY expires_at LIMIT ?)',
    ),

    // --- sessions ----------------------------------------------------------------------------
    getSession: q('SELECT * FROM sessions WHERE id = ?'),
    /** Inside a transaction: two writers merging into one session must not both read the old row. */
    getSessionForUpdate: q(`SELECT * FROM sessions WHERE id = ?${d.forUpdate}`),
    konnektiveForUpdate: q(`SELECT konnektive FROM sessions WHERE id = ?${d.forUpdate}`),
    insertSession: q(`INSERT INTO sessions (id, campaign_id, created_at, state_changed_at, last_seen_at, landing_url, referrer, user_agent, ip, is_bot, recovers_session_id)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
    spendToken: q('INSERT INTO spent_tokens (id, expires_at) VALUES (?, ?) ON CONFLICT (id) DO NOTHING'),

    // --- lifecycle sync (collector/lifecycle/) ---------------------------------------------------
    /** Inside a transaction: a second collector reading the same record waits for the first's write. */
    getLifecycleSnapshot: q(`SELECT snapshot FROM lifecycle_snapshots WHERE kind = ? AND record_id = ?${d.forUpdate}`),
    lifecycleSnapshotsOfGroup: q('SELECT record_id, snapshot FROM lifecycle_snapshots WHERE kind = ? AND group_key = ? ORDER BY record_id LIMIT ?'),
    putLifecycleSnapshot: q(`INSERT INTO lifecycle_snapshots (kind, record_id, group_key, snapshot, updated_at) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT (kind, record_id) DO UPDATE SET group_key = excluded.group_key, snapshot = excluded.snapshot, updated_at = excluded.updated_at`),
    insertLifecycleEvent: q('INSERT INTO lifecycle_events (id, kind, customer_key, payload, created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING'),
    getLifecycleEvent: q('SELECT * FROM lifecycle_events WHERE id = ?'),
    purgeSpentTokens: q(`DELETE FROM spent_tokens WHERE id IN (SELECT id FROM spent_tokens WHERE expires_at < ? LIMIT ?)`),
    /** `UPDATE sessions` of these columns (one text per set of columns, so each stays prepared). */
    updateSession: memo((columns: string) => q(`UPDATE sessions SET ${columns.split(',').map((name) => `${name} = ?`).join(', ')} WHERE id = ?`)),
    recordState: q('INSERT INTO session_states (session_id, state, at) VALUES (?, ?, ?)'),
    // The lists below read the latest `limit` rows (parameter last), oldest first: see LIST_LIMIT.
    listStateChanges: q(`SELECT state, at FROM (SELECT state, at, seq FROM session_states WHERE session_id = ? ORDER BY at DESC, seq DESC LIMIT ?) latest
      ORDER BY at, seq`),
    countSessions: 'SELECT COUNT(*) AS n FROM sessions',
    /** Oldest due first; a session another sweeper is taking right now is left to it. */
    dueSessions: q(`SELECT * FROM sessions WHERE due_at IS NOT NULL AND due_at <= ? ORDER BY due_at, id LIMIT ?${d.forUpdateSkipLocked()}`),
    clearDue: q(`UPDATE sessions SET due_at = NULL WHERE ${d.inList('id', 'text')}`),
    abandonedByEmail: q(`SELECT * FROM sessions WHERE state = 'abandoned' AND lower(${d.jsonText('lead', 'emailAddress')}) = lower(?)
      ORDER BY created_at, id LIMIT ?${d.forUpdate}`),
    /** Sessions of this lead email still open with a cart (no CART yet), any letter case. */
    openCartsByEmail: q(`SELECT * FROM sessions WHERE state = 'open' AND cart IS NOT NULL AND lower(${d.jsonText('lead', 'emailAddress')}) = lower(?)
      ORDER BY created_at, id LIMIT ?${d.forUpdate}`),
    /** A session other than the given one that holds the order id: reported it, or its Import Lead created it. */
    /** The funnel session that holds a Konnektive order (reported it, or its Import Lead created it), oldest first. */
    sessionOfOrder: q(`SELECT id FROM sessions WHERE claimed_order_id = ? OR ${d.jsonText('konnektive', 'orderId')} = ? ORDER BY created_at, id LIMIT 1`),
    orderHolder: q(`SELECT id FROM sessions WHERE (claimed_order_id = ? OR ${d.jsonText('konnektive', 'orderId')} = ?) AND id <> ? LIMIT 1`),

    // --- events and clicks -------------------------------------------------------------------
    insertEvent: q('INSERT INTO events (id, session_id, type, received_at, payload) VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING'),
    /**
     * One text per number of ids (a batch holds a few): SQLite reads `IN (?)` as `id = ?`, where a
     * list parameter would cost it a JSON parse and a padded list an ephemeral table.
     */
    eventsSession: memo((count) => q(`SELECT session_id FROM events WHERE id IN (${Array(Number(count)).fill('?').join(', ')}) LIMIT 1`)),
    listEvents: q(`SELECT id, session_id, type, received_at, payload FROM (
        SELECT id, session_id, type, received_at, payload, ${d.eventOrder} AS ord FROM events WHERE session_id = ? ORDER BY ${d.eventOrder} DESC LIMIT ?) latest
      ORDER BY ord`),
    /**
     * The latest page view of one page among a session's latest `RECENT_PAGE_VIEWS` page views,
     * else the latest page view (parameters: session, limit, page). The inner query walks
     * `events_by_session` backwards and stops at the limit, so its cost does not grow with the
     * session; the outer one picks among at most that many rows.
     */
    lastPageView: q(`SELECT id, session_id, type, received_at, payload FROM (
        SELECT id, session_id, type, received_at, payload, ${d.eventOrder} AS ord FROM events
         WHERE session_id = ? AND type = 'page' ORDER BY received_at DESC, ${d.eventOrder} DESC LIMIT ?) recent
      ORDER BY CASE WHEN ${d.jsonText('payload', 'page')} = ? THEN 0 ELSE 1 END, received_at DESC, ord DESC LIMIT 1`),
    markPageClicked: q('INSERT INTO session_clicks (session_id, page) VALUES (?, ?) ON CONFLICT DO NOTHING'),
    /** A session's attribution events, oldest first (parameters: session, limit): a few per funnel domain. */
    attributionEvents: q(`SELECT id, session_id, type, received_at, payload FROM events
       WHERE session_id = ? AND type = 'attribution' ORDER BY received_at, ${d.eventOrder} LIMIT ?`),

    // --- outbox ------------------------------------------------------------------------------
    enqueue: q(`INSERT INTO outbox (session_id, upstream, kind, payload, run_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)${d.returningId}`),
    pendingJob: q(
      "SELECT * FROM outbox WHERE session_id = ? AND kind = ? AND state IN ('pending', 'running') AND state = 'pending' ORDER BY id LIMIT 1",
    ),
    claimableJobs: d.name === 'sqlite' ? sqliteClaimableJobs('skip') : postgresClaimableJobs('skip'),
    /**
     * A relay lane's claim: the same jobs of one upstream (parameter 3 is that upstream). Each part
     * walks the upstream's own index in `run_at, id` order, so a lane neither wades through the
     * other upstreams' due jobs nor, with a backlog, gathers and sorts them all.
     */
    claimableJobsOf: d.name === 'sqlite' ? sqliteClaimableJobs('only') : postgresClaimableJobs('only'),
    /** The claim itself re-checks the whole condition: on PostgreSQL with a fresh snapshot. */
    claimJobs: q(`UPDATE outbox AS o SET state = 'running', lease_owner = ?, lease_until = ?, updated_at = ?
      WHERE ${d.inList('o.id', 'bigint')} AND ${claimable(d)} RETURNING *`),
    /** A write-ahead mark's lease check: the job stays running, still held. */
    jobMarked: q(`UPDATE outbox SET updated_at = ? ${leaseHeld}`),
    jobDone: q(`UPDATE outbox SET state = 'done', ${releaseLease}, attempts = attempts + 1, updated_at = ? ${leaseHeld}`),
    jobRetry: q(`UPDATE outbox SET state = 'pending', ${releaseLease}, run_at = ?, last_error = ?, attempts = attempts + ?, updated_at = ? ${leaseHeld}`),
    jobDead: q(`UPDATE outbox SET state = 'dead', ${releaseLease}, last_error = ?, attempts = attempts + 1, updated_at = ? ${leaseHeld}`),
    renewLeases: q(`UPDATE outbox SET lease_until = ? WHERE ${d.inList('id', 'bigint')} AND state = 'running' AND lease_owner = ?`),
    releaseClaims: q(`UPDATE outbox SET state = 'pending', ${releaseLease}, updated_at = ? WHERE state = 'running' AND lease_owner = ?`),
    replayDead: q("UPDATE outbox SET state = 'pending', attempts = 0, run_at = ?, updated_at = ? WHERE state = 'dead'"),
    countJobs: 'SELECT state, COUNT(*) AS n FROM outbox GROUP BY state',
    listJobs: q(`SELECT * FROM (SELECT * FROM outbox WHERE (CAST(? AS TEXT) IS NULL OR session_id = ?) AND (CAST(? AS TEXT) IS NULL OR state = ?)
      ORDER BY id DESC LIMIT ?) latest ORDER BY id`),
    recordAttempt: q(`INSERT INTO delivery_attempts (job_id, upstream, endpoint, request, response, outcome, http_status, latency_ms, created_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`),
    listAttempts: q(`SELECT * FROM (SELECT * FROM delivery_attempts WHERE (CAST(? AS BIGINT) IS NULL OR job_id = ?) ORDER BY id DESC LIMIT ?) latest
      ORDER BY id`),

    // --- emissions ---------------------------------------------------------------------------
    /** A `cancelled` emission (a CART held back for an order that did not verify) is queued again. */
    insertEmission: q(`INSERT INTO emissions (session_id, kind, status, payload, created_at, updated_at) VALUES (?, ?, 'queued', ?, ?, ?)
      ON CONFLICT (session_id, kind) DO UPDATE SET status = 'queued', payload = excluded.payload, updated_at = excluded.updated_at
      WHERE emissions.status = 'cancelled'`),
    getEmission: q('SELECT * FROM emissions WHERE session_id = ? AND kind = ?'),
    updateEmission: q('UPDATE emissions SET status = ?, remote_id = COALESCE(?, remote_id), updated_at = ? WHERE session_id = ? AND kind = ?'),
    listEmissions: q(`SELECT * FROM (SELECT * FROM emissions WHERE (CAST(? AS TEXT) IS NULL OR session_id = ?)
      ORDER BY created_at DESC, session_id DESC, kind DESC LIMIT ?) latest ORDER BY created_at, session_id, kind`),

    // --- shared rate limits ------------------------------------------------------------------
    /** One statement: the row (SQLite: the database) lock serialises collectors sharing the key. */
    reserveRateSlot: q(`INSERT INTO rate_slots (key, next_at) VALUES (?, CAST(? AS BIGINT) + CAST(? AS BIGINT))
      ON CONFLICT (key) DO UPDATE SET next_at = ${d.greatest}(rate_slots.next_at, CAST(? AS BIGINT)) + CAST(? AS BIGINT)
      RETURNING next_at`),
    deferRateSlots: q(`INSERT INTO rate_slots (key, next_at) VALUES (?, ?)
      ON CONFLICT (key) DO UPDATE SET next_at = ${d.greatest}(rate_slots.next_at, excluded.next_at)`),
    forgetOldRateSends: q('DELETE FROM rate_sends WHERE key = ? AND at < CAST(? AS BIGINT)'),
    recentRateSends: q('SELECT at FROM rate_sends WHERE key = ? AND at > CAST(? AS BIGINT) ORDER BY at DESC LIMIT ?'),
    recordRateSend: q(`INSERT INTO rate_sends (key, at) VALUES (?, ?)${d.returningId}`),
    forgetRateSend: q('DELETE FROM rate_sends WHERE key = ? AND id = ?'),
    /** A read, so a worker deciding whether to pick up a job takes no slot and writes nothing. */
    nextRateSlot: q('SELECT next_at FROM rate_slots WHERE key = ?'),

    // --- retention ---------------------------------------------------------------------------
    purgeableSessions: q(`SELECT s.id, s.created_at, s.is_bot, s.lead FROM sessions s WHERE ${purgeable}
      ORDER BY s.created_at, s.id LIMIT ?${d.forUpdateSkipLocked('s')}`),
    clicksOf: q(`SELECT session_id, page FROM session_clicks WHERE ${d.inList('session_id', 'text')}`),
    emissionsOf: q(`SELECT session_id, kind, status, payload FROM emissions WHERE ${d.inList('session_id', 'text')}`),
    addRollup: q(`INSERT INTO daily_rollups (day, metric, currency, value) VALUES (?, ?, ?, ?)
      ON CONFLICT (day, metric, currency) DO UPDATE SET value = daily_rollups.value + excluded.value`),
    /**
     * Children first, then the sessions (events and clicks would cascade, states and emissions do
     * not). The dashboard's source row goes too: its hourly figures are already rolled up, and its
     * search must not list a session that is gone.
     */
    deleteSessions: ['events', 'session_clicks', 'session_states', 'emissions', 'dashboard_sources']
      .map((table) => q(`DELETE FROM ${table} WHERE ${d.inList('session_id', 'text')}`))
      .concat(q(`DELETE FROM sessions WHERE ${d.inList('id', 'text')}`)),
    /** Attempts of jobs not done (pending, running, dead letters) are kept with their job. */
    purgeAttempts: q(`DELETE FROM delivery_attempts WHERE id IN (
      SELECT a.id FROM delivery_attempts a
       WHERE a.created_at < ? AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.id = a.job_id AND o.state <> 'done')
       ORDER BY a.created_at LIMIT ?)`),
    purgeDoneJobs: q(
      `DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE state = 'done' AND updated_at < ? ORDER BY updated_at LIMIT ?${d.forUpdateSkipLocked()})`,
    ),
    listDailyRollups: q(`SELECT day, metric, currency, value FROM daily_rollups
      WHERE (CAST(? AS TEXT) IS NULL OR day >= ?) AND (CAST(? AS TEXT) IS NULL OR day <= ?)
      ORDER BY day, metric, currency`),

    // --- recovery outcomes and the funnel report (each write keeps the first time of what happened)
    cartOutcome: q(`INSERT INTO session_outcomes (session_id, cart_at, cart_cents, cart_currency, link_expires_at) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT (session_id) DO UPDATE SET
        cart_at = COALESCE(session_outcomes.cart_at, excluded.cart_at),
        cart_cents = COALESCE(session_outcomes.cart_cents, excluded.cart_cents),
        cart_currency = COALESCE(session_outcomes.cart_currency, excluded.cart_currency),
        link_expires_at = COALESCE(session_outcomes.link_expires_at, excluded.link_expires_at)`),
    clickOutcome: q(`INSERT INTO session_outcomes (session_id, clicks, first_click_at, last_click_at) VALUES (?, 1, ?, ?)
      ON CONFLICT (session_id) DO UPDATE SET
        clicks = session_outcomes.clicks + 1,
        first_click_at = COALESCE(session_outcomes.first_click_at, excluded.first_click_at),
        last_click_at = excluded.last_click_at`),
    returnOutcome: q(`INSERT INTO session_outcomes (session_id, returned_at) VALUES (?, ?)
      ON CONFLICT (session_id) DO UPDATE SET returned_at = COALESCE(session_outcomes.returned_at, excluded.returned_at)`),
    orderOutcome: q(`INSERT INTO session_outcomes (session_id, order_at, order_cents, order_currency, recovered) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT (session_id) DO UPDATE SET
        order_at = COALESCE(session_outcomes.order_at, excluded.order_at),
        order_cents = COALESCE(session_outcomes.order_cents, excluded.order_cents),
        order_currency = COALESCE(session_outcomes.order_currency, excluded.order_currency),
        recovered = excluded.recovered,
        recovered_by_link = CASE
          WHEN excluded.recovered = 1 AND session_outcomes.returned_at IS NOT NULL
            AND session_outcomes.returned_at <= COALESCE(session_outcomes.order_at, excluded.order_at) THEN 1
          ELSE 0 END`),
    /** Sessions and leads of purged sessions, per day (fromDay, toDay inclusive): see funnelReport. */
    reportRolledUp: q(`SELECT metric, COALESCE(SUM(value), 0) AS value FROM daily_rollups
      WHERE day >= ? AND day <= ? AND metric IN ('sessions', 'leads') AND currency = '' GROUP BY metric`),
    /** Sessions and leads (a session with an email) begun in the period (since, until); bots left out. */
    reportSessions: q(`SELECT COUNT(*) AS sessions,
        COALESCE(SUM(CASE WHEN lead LIKE '{"emailAddress":%' OR lead LIKE '%,"emailAddress":%' THEN 1 ELSE 0 END), 0) AS leads
      FROM sessions WHERE created_at >= ? AND created_at < ? AND NOT is_bot`),
    /** The cohort of carts abandoned in the period (until, since, until), by the cart's currency. */
    reportCarts: q(`SELECT cart_currency AS currency, COUNT(*) AS carts, COALESCE(SUM(cart_cents), 0) AS cents,
        COALESCE(SUM(CASE WHEN order_at IS NULL AND link_expires_at <= ? THEN 1 ELSE 0 END), 0) AS lost,
        COALESCE(SUM(clicks), 0) AS clicks,
        COALESCE(SUM(CASE WHEN returned_at IS NOT NULL THEN 1 ELSE 0 END), 0) AS returns
      FROM session_outcomes WHERE cart_at >= ? AND cart_at < ? GROUP BY cart_currency`),
    /** What the cohort's recovered carts (since, until) brought in, by the order's currency. */
    reportRecovered: q(`SELECT order_currency AS currency, COUNT(*) AS n, COALESCE(SUM(order_cents), 0) AS cents,
        COALESCE(SUM(recovered_by_link), 0) AS by_link,
        COALESCE(SUM(CASE WHEN recovered_by_link = 1 THEN order_cents ELSE 0 END), 0) AS by_link_cents
      FROM session_outcomes WHERE recovered = 1 AND cart_at >= ? AND cart_at < ? GROUP BY order_currency`),
    /** ORDERs delivered in the period (since, until). */
    reportOrders: q(`SELECT order_currency AS currency, COUNT(*) AS n, COALESCE(SUM(order_cents), 0) AS cents
      FROM session_outcomes WHERE order_at >= ? AND order_at < ? GROUP BY order_currency`),
  };
}

export type Plans = ReturnType<typeof build>;

/** A text per key, built the first time it is asked for. */
function memo(make: (key: string) => string): (key: string) => string {
  const made = new Map<string, string>();
  return (key) => {
    let text = made.get(key);
    if (text === undefined) made.set(key, (text = make(key)));
    return text;
  };
}

export const SQLITE_PLANS: Plans = build(sqliteDialect);
export const POSTGRES_PLANS: Plans = build(postgresDialect);
