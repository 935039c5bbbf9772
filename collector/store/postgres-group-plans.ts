/**
 * @module postgres-group-plans
 * The statements of PostgreSQL's commit groups (postgres-group-write.ts), beside `plans.ts`:
 * they exist on PostgreSQL only (column arrays, `unnest`, advisory locks for a whole group).
 */

/** The text a group's raced insert fails with (see POSTGRES_GROUP_PLANS). */
export const GROUP_CONFLICT = 'funnelbeacon commit group conflict';

function sqlLiteral(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

/** The session columns a commit group writes, with their PostgreSQL types (rows.ts names them the same). */
export const GROUP_SESSION_COLUMNS: readonly (readonly [string, string])[] = [
  ['id', 'text'],
  ['campaign_id', 'text'],
  ['created_at', 'bigint'],
  ['last_seen_at', 'bigint'],
  ['landing_url', 'text'],
  ['referrer', 'text'],
  ['user_agent', 'text'],
  ['ip', 'text'],
  ['is_bot', 'boolean'],
  ['last_page', 'text'],
  ['lead', 'text'],
  ['lead_version', 'integer'],
  ['lead_synced_version', 'integer'],
  ['cart', 'text'],
  ['claimed_order_id', 'text'],
  ['konnektive', 'text'],
  ['state', 'text'],
  ['state_changed_at', 'bigint'],
  ['due_at', 'bigint'],
  ['funnel_done', 'boolean'],
  ['order_check', 'text'],
  ['event_count', 'bigint'],
  ['event_bytes', 'bigint'],
  ['recovers_session_id', 'text'],
];

/**
 * PostgreSQL's commit groups (postgres-group-write.ts): what a group's requests may read, in one
 * pipelined round trip after BEGIN, and its writes, one set-based statement per table with a
 * column array per column (`unnest`), so one text serves any group size and stays prepared.
 * `$1` is the group's session ids and `$2` its event ids wherever both appear: the sessions of
 * a resent first batch (found by its event ids) are read and locked with the others.
 */
export const POSTGRES_GROUP_PLANS = (() => {
  const memo = (make: (key: string) => string) => {
    const made = new Map<string, string>();
    return (key: string) => {
      let text = made.get(key);
      if (text === undefined) made.set(key, (text = make(key)));
      return text;
    };
  };
  const owners = 'SELECT session_id FROM events WHERE id = ANY($2::text[])';
  // One array (the owners read once, as an InitPlan), so the index answers: `OR id IN (...)` made
  // PostgreSQL scan the whole table (measured: reads of a group of 15 took 7-15 ms, growing with it).
  const ofGroup = (column: string) => `${column} = ANY($1::text[] || ARRAY(${owners}))`;
  /**
   * An insert that another collector may have raced (an event id, a token, a clicked page taken
   * between the read and the write) writes fewer rows than the group expects: the statement
   * then fails, which aborts the transaction (the pipelined COMMIT answers ROLLBACK), and the
   * group is run again on what is committed now. `count` is the rows expected.
   */
  const checked = (insert: string, count: string) => `WITH written AS (${insert} RETURNING 1)
    SELECT CASE WHEN count(*) = ${count}::bigint THEN count(*)
      ELSE (${sqlLiteral(GROUP_CONFLICT)} || ': ' || count(*) || ' of ' || ${count}::bigint)::bigint END AS written FROM written`;
  const arrays = (types: readonly string[], from = 1) => types.map((type, i) => `$${i + from}::${type}[]`).join(', ');
  return {
    /** Sorted, so two groups locking overlapping sessions take the locks in one order and never deadlock. */
    lockSessions: `SELECT * FROM sessions WHERE ${ofGroup('id')} ORDER BY id FOR UPDATE`,
    eventOwners: 'SELECT id, session_id FROM events WHERE id = ANY($1::text[])',
    spentTokens: 'SELECT id FROM spent_tokens WHERE id = ANY($1::text[])',
    clicks: `SELECT session_id, page FROM session_clicks WHERE ${ofGroup('session_id')}`,
    /**
     * Locked for the group's transaction (`FOR SHARE`): a worker claiming one meanwhile skips it
     * (its claim locks `FOR UPDATE SKIP LOCKED`), so a pending Import Lead that stands for this
     * group's lead change cannot be claimed and read the session before the change commits. A job
     * whose claim is being committed makes the read wait, then drops out as no longer pending, and
     * the group queues a new one.
     */
    pendingJobs: `SELECT * FROM outbox WHERE ${ofGroup('session_id')} AND state IN ('pending', 'running') AND state = 'pending' ORDER BY id FOR SHARE`,
    /** `enqueue`'s per-session lock (sql-store.ts), for all the group's sessions at once, in one order. */
    lockOutboxes: `WITH keys AS MATERIALIZED (SELECT DISTINCT hashtext(s) AS k FROM unnest($2::text[]) AS s ORDER BY 1)
      SELECT count(pg_advisory_xact_lock($1::int, k)) AS locked FROM keys`,
    insertSessions: checked(
      `INSERT INTO sessions (${GROUP_SESSION_COLUMNS.map(([name]) => name).join(', ')})
        SELECT * FROM unnest(${arrays(GROUP_SESSION_COLUMNS.map(([, type]) => type))}) ON CONFLICT (id) DO NOTHING`,
      `$${GROUP_SESSION_COLUMNS.length + 1}`,
    ),
    recordStates: `INSERT INTO session_states (session_id, state, at) SELECT * FROM unnest(${arrays(['text', 'text', 'bigint'])})`,
    /** One text per set of columns a group changed (a handful: page views, lead updates, ...). */
    updateSessions: memo((columns: string) => {
      const names = columns.split(',');
      const types = names.map((name) => GROUP_SESSION_COLUMNS.find(([column]) => column === name)![1]);
      return `UPDATE sessions AS s SET ${names.map((name) => `${name} = u.${name}`).join(', ')}
        FROM unnest(${arrays(['text', ...types])}) AS u(id, ${names.join(', ')}) WHERE s.id = u.id`;
    }),
    insertEvents: checked(
      `INSERT INTO events (id, session_id, type, received_at, payload) SELECT * FROM unnest(${arrays(['text', 'text', 'text', 'bigint', 'text'])})
        ON CONFLICT (id) DO NOTHING`,
      '$6',
    ),
    markClicked: checked(`INSERT INTO session_clicks (session_id, page) SELECT * FROM unnest(${arrays(['text', 'text'])}) ON CONFLICT DO NOTHING`, '$3'),
    spendTokens: checked(`INSERT INTO spent_tokens (id, expires_at) SELECT * FROM unnest(${arrays(['text', 'bigint'])}) ON CONFLICT (id) DO NOTHING`, '$3'),
    /** In the order queued: ids follow it, and so does each session's job order. */
    enqueue: `INSERT INTO outbox (session_id, upstream, kind, payload, run_at, created_at, updated_at)
      SELECT * FROM unnest(${arrays(['text', 'text', 'text', 'text', 'bigint', 'bigint', 'bigint'])})`,
  };
})();

/**
 * The outbox worker's completions on PostgreSQL (postgres-relay-round.ts): a round's finished jobs
 * in a few set-based statements, as `jobDone`, `jobRetry`, `jobDead` and `recordAttempt` of
 * plans.ts write them one job at a time.
 */
export const POSTGRES_COMPLETION_PLANS = {
  recordAttempts: `INSERT INTO delivery_attempts (job_id, upstream, endpoint, request, response, outcome, http_status, latency_ms, created_at)
    SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::integer[], $8::integer[], $9::bigint[])`,
  /** Only while `owner` ($7) still holds the lease; `done` keeps the last error, the others set it; `running` (a write-ahead mark) keeps the lease. */
  finishJobs: `UPDATE outbox AS o SET state = u.state,
      lease_owner = CASE WHEN u.state = 'running' THEN o.lease_owner END, lease_until = CASE WHEN u.state = 'running' THEN o.lease_until END,
      run_at = COALESCE(u.run_at, o.run_at), last_error = CASE WHEN u.state IN ('done', 'running') THEN o.last_error ELSE u.error END,
      attempts = o.attempts + u.counted, updated_at = $6
    FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::text[], $5::integer[]) AS u(id, state, run_at, error, counted)
    WHERE o.id = u.id AND o.state = 'running' AND o.lease_owner = $7 RETURNING o.id`,
  /** The sessions the round patches, locked in id order (fewer deadlocks with ingest's groups); their Konnektive ids merge in. */
  lockPatched: 'SELECT id, konnektive FROM sessions WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE',
  /** Many sessions at once (`getSession` calls that arrive together). */
  sessions: 'SELECT * FROM sessions WHERE id = ANY($1::text[])',
  /** Many sessions' attribution events at once (`listAttributionEvents` calls that arrive together), each's first `$2`. */
  attributionEvents: `SELECT e.* FROM unnest($1::text[]) AS q(session_id) CROSS JOIN LATERAL (
      SELECT id, session_id, type, received_at, payload, seq FROM events
       WHERE session_id = q.session_id AND type = 'attribution' ORDER BY received_at, seq LIMIT $2) e
    ORDER BY e.session_id, e.received_at, e.seq`,
  /** Many sessions' latest view of a page at once (`lastPageView` calls that arrive together); the rule of plans.ts's `lastPageView` for each. */
  lastPageViews: `SELECT q.n, e.* FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS q(session_id, page, n) CROSS JOIN LATERAL (
      SELECT id, session_id, type, received_at, payload FROM (
        SELECT id, session_id, type, received_at, payload, seq FROM events
         WHERE session_id = q.session_id AND type = 'page' ORDER BY received_at DESC, seq DESC LIMIT $3) recent
      ORDER BY CASE WHEN payload::json ->> 'page' = q.page THEN 0 ELSE 1 END, received_at DESC, seq DESC LIMIT 1) e`,
};
