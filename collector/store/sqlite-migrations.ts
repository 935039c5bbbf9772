/**
 * @module sqlite-migrations
 * Versioned schema for the embedded store. Append new versions; never edit an applied one.
 */
export const SQLITE_MIGRATIONS: readonly { version: number; sql: string }[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

      CREATE TABLE sessions (
        id TEXT PRIMARY KEY,
        campaign_id TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        last_seen_at INTEGER NOT NULL,
        landing_url TEXT,
        referrer TEXT,
        user_agent TEXT NOT NULL,
        ip TEXT NOT NULL,
        is_bot INTEGER NOT NULL DEFAULT 0,
        last_page TEXT,
        lead TEXT NOT NULL DEFAULT '{}',
        lead_version INTEGER NOT NULL DEFAULT 0,
        lead_synced_version INTEGER NOT NULL DEFAULT 0,
        cart TEXT,
        claimed_order_id TEXT,
        konnektive TEXT NOT NULL DEFAULT '{}'
      );

      CREATE TABLE session_clicks (
        session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        page TEXT NOT NULL,
        PRIMARY KEY (session_id, page)
      ) WITHOUT ROWID;

      -- Append-only event log. The client-made id makes a resend a no-op.
      CREATE TABLE events (
        id TEXT PRIMARY KEY,
        session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        type TEXT NOT NULL,
        received_at INTEGER NOT NULL,
        payload TEXT NOT NULL
      );
      CREATE INDEX events_by_session ON events (session_id, received_at);

      CREATE TABLE outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        session_id TEXT NOT NULL,
        upstream TEXT NOT NULL,
        kind TEXT NOT NULL,
        payload TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        run_at INTEGER NOT NULL,
        lease_owner TEXT,
        lease_until INTEGER,
        last_error TEXT,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      );
      -- Unfinished jobs only: the claim query and the per-session ordering read these.
      CREATE INDEX outbox_open_by_session ON outbox (session_id, id) WHERE state IN ('pending', 'running');
      CREATE INDEX outbox_due ON outbox (run_at) WHERE state = 'pending';
      CREATE INDEX outbox_leased ON outbox (lease_until) WHERE state = 'running';
      CREATE INDEX outbox_dead ON outbox (id) WHERE state = 'dead';

      CREATE TABLE delivery_attempts (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        job_id INTEGER NOT NULL,
        upstream TEXT NOT NULL,
        endpoint TEXT NOT NULL,
        request TEXT NOT NULL,
        response TEXT NOT NULL,
        outcome TEXT NOT NULL,
        http_status INTEGER,
        latency_ms INTEGER NOT NULL,
        created_at INTEGER NOT NULL
      );
      CREATE INDEX delivery_attempts_by_job ON delivery_attempts (job_id);
    `,
  },
  {
    version: 2,
    sql: `
      -- Abandonment: each session's state, and when the sweeper should look at it next.
      ALTER TABLE sessions ADD COLUMN state TEXT NOT NULL DEFAULT 'open';
      ALTER TABLE sessions ADD COLUMN state_changed_at INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE sessions ADD COLUMN due_at INTEGER;
      ALTER TABLE sessions ADD COLUMN funnel_done INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE sessions ADD COLUMN order_check TEXT;
      CREATE INDEX sessions_due ON sessions (due_at) WHERE due_at IS NOT NULL;

      -- At most one CART, ORDER and CUSTOMER per session, whatever happens.
      CREATE TABLE emissions (
        session_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        status TEXT NOT NULL,
        remote_id TEXT,
        payload TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (session_id, kind)
      );

      -- Shared rate limits: the next free slot per key (one ActiveCampaign account each).
      CREATE TABLE rate_slots (key TEXT PRIMARY KEY, next_at INTEGER NOT NULL);
    `,
  },
  {
    version: 3,
    sql: `
      -- Every state a session passed through, with when (the session row keeps only the latest).
      CREATE TABLE session_states (session_id TEXT NOT NULL, state TEXT NOT NULL, at INTEGER NOT NULL);
      CREATE INDEX session_states_by_session ON session_states (session_id, at);
    `,
  },
  {
    version: 4,
    sql: `
      -- Shared rate limits: when each recent request left (a sliding-window log per key), so that
      -- no window holds more than the limit even when a request leaves late.
      CREATE TABLE rate_sends (id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL, at INTEGER NOT NULL);
      CREATE INDEX rate_sends_by_key ON rate_sends (key, at);
    `,
  },
  {
    version: 5,
    sql: `
      -- Open carts, looked up by email when the same buyer pays anywhere else.
      CREATE INDEX sessions_abandoned_by_email ON sessions (lower(json_extract(lead, '$.emailAddress'))) WHERE state = 'abandoned';
    `,
  },
  {
    version: 6,
    sql: `
      -- Retention: old finished sessions are found in creation order (an immutable column, so
      -- ingest never updates this index), and dead letters by session (they keep their session).
      CREATE INDEX sessions_by_created ON sessions (created_at, id);
      CREATE INDEX outbox_dead_by_session ON outbox (session_id) WHERE state = 'dead';
      -- The outbox's history is purged by age; these are written by the worker, never by ingest.
      CREATE INDEX outbox_done_by_time ON outbox (updated_at) WHERE state = 'done';
      CREATE INDEX delivery_attempts_by_time ON delivery_attempts (created_at);

      -- What reports need from purged sessions, per day (the UTC date a session began).
      CREATE TABLE daily_rollups (
        day TEXT NOT NULL,
        metric TEXT NOT NULL,
        currency TEXT NOT NULL DEFAULT '',
        value INTEGER NOT NULL,
        PRIMARY KEY (day, metric, currency)
      );
    `,
  },
  {
    version: 7,
    sql: `
      -- Recovery facts, one row per session that had a CART or an ORDER delivered: what the CART
      -- was worth and when its link expires, the clicks on that link, the buyer's return through
      -- it, and the ORDER. No personal data: the report and /metrics read only this table, and it
      -- outlives the retention purge of sessions and events.
      CREATE TABLE session_outcomes (
        session_id TEXT PRIMARY KEY,
        cart_at INTEGER,
        cart_cents INTEGER,
        cart_currency TEXT,
        link_expires_at INTEGER,
        clicks INTEGER NOT NULL DEFAULT 0,
        first_click_at INTEGER,
        last_click_at INTEGER,
        returned_at INTEGER,
        order_at INTEGER,
        order_cents INTEGER,
        order_currency TEXT,
        recovered INTEGER NOT NULL DEFAULT 0,
        recovered_by_link INTEGER NOT NULL DEFAULT 0
      );
      CREATE INDEX session_outcomes_by_cart ON session_outcomes (cart_at) WHERE cart_at IS NOT NULL;
      CREATE INDEX session_outcomes_by_order ON session_outcomes (order_at) WHERE order_at IS NOT NULL;
      CREATE INDEX IF NOT EXISTS sessions_created_for_report ON sessions (created_at);
    `,
  },
  {
    version: 8,
    sql: `
      -- Dashboard (collector/dashboard): lookups for the session search and timeline, and a small
      -- rollup of the overview's figures per hour, recomputed only for the hours whose sessions,
      -- clicks or emissions changed (the triggers below mark them), never by scanning every event.
      CREATE INDEX sessions_by_email ON sessions (lower(json_extract(lead, '$.emailAddress'))) WHERE json_extract(lead, '$.emailAddress') IS NOT NULL;
      CREATE INDEX sessions_by_claimed_order ON sessions (claimed_order_id) WHERE claimed_order_id IS NOT NULL;
      CREATE INDEX sessions_by_crm_order ON sessions (json_extract(konnektive, '$.orderId')) WHERE json_extract(konnektive, '$.orderId') IS NOT NULL;
      CREATE INDEX emissions_by_kind_time ON emissions (kind, created_at);
      CREATE INDEX outbox_by_session ON outbox (session_id, id);
      CREATE INDEX delivery_attempts_by_outcome ON delivery_attempts (outcome, id);

      CREATE TABLE dashboard_rollup (
        dim TEXT NOT NULL,
        bucket INTEGER NOT NULL,
        value TEXT NOT NULL,
        figures TEXT NOT NULL,
        PRIMARY KEY (dim, bucket, value)
      ) WITHOUT ROWID;
      CREATE TABLE dashboard_dirty (bucket INTEGER PRIMARY KEY) WITHOUT ROWID;
      -- Where each session came from, parsed once from its landing URL and user agent.
      CREATE TABLE dashboard_sources (session_id TEXT PRIMARY KEY, aff_id TEXT, device TEXT NOT NULL) WITHOUT ROWID;
      CREATE INDEX dashboard_sources_by_aff ON dashboard_sources (aff_id) WHERE aff_id IS NOT NULL;

      -- Trigger bodies avoid INSERT OR IGNORE: an outer upsert's conflict clause would override it.
      CREATE TRIGGER dashboard_mark_session_insert AFTER INSERT ON sessions BEGIN
        INSERT INTO dashboard_dirty (bucket) SELECT NEW.created_at / 3600000 WHERE NOT EXISTS (SELECT 1 FROM dashboard_dirty WHERE bucket = NEW.created_at / 3600000);
      END;
      CREATE TRIGGER dashboard_mark_session_update AFTER UPDATE OF state, lead, cart, landing_url, is_bot ON sessions
        WHEN NEW.state IS NOT OLD.state OR NEW.lead IS NOT OLD.lead OR NEW.cart IS NOT OLD.cart
          OR NEW.landing_url IS NOT OLD.landing_url OR NEW.is_bot IS NOT OLD.is_bot BEGIN
        INSERT INTO dashboard_dirty (bucket) SELECT NEW.created_at / 3600000 WHERE NOT EXISTS (SELECT 1 FROM dashboard_dirty WHERE bucket = NEW.created_at / 3600000);
      END;
      CREATE TRIGGER dashboard_mark_click AFTER INSERT ON session_clicks BEGIN
        INSERT INTO dashboard_dirty (bucket) SELECT DISTINCT t.created_at / 3600000 FROM sessions t WHERE t.id = NEW.session_id AND NOT EXISTS (SELECT 1 FROM dashboard_dirty d WHERE d.bucket = t.created_at / 3600000);
      END;
      CREATE TRIGGER dashboard_mark_emission_insert AFTER INSERT ON emissions BEGIN
        INSERT INTO dashboard_dirty (bucket) SELECT DISTINCT t.created_at / 3600000 FROM emissions t WHERE t.session_id = NEW.session_id AND NOT EXISTS (SELECT 1 FROM dashboard_dirty d WHERE d.bucket = t.created_at / 3600000);
        INSERT INTO dashboard_dirty (bucket) SELECT DISTINCT t.created_at / 3600000 FROM sessions t WHERE t.id = NEW.session_id AND NOT EXISTS (SELECT 1 FROM dashboard_dirty d WHERE d.bucket = t.created_at / 3600000);
      END;
      CREATE TRIGGER dashboard_mark_emission_update AFTER UPDATE OF status ON emissions WHEN NEW.status IS NOT OLD.status BEGIN
        INSERT INTO dashboard_dirty (bucket) SELECT DISTINCT t.created_at / 3600000 FROM emissions t WHERE t.session_id = NEW.session_id AND NOT EXISTS (SELECT 1 FROM dashboard_dirty d WHERE d.bucket = t.created_at / 3600000);
        INSERT INTO dashboard_dirty (bucket) SELECT DISTINCT t.created_at / 3600000 FROM sessions t WHERE t.id = NEW.session_id AND NOT EXISTS (SELECT 1 FROM dashboard_dirty d WHERE d.bucket = t.created_at / 3600000);
      END;
      INSERT OR IGNORE INTO dashboard_dirty (bucket) SELECT DISTINCT created_at / 3600000 FROM sessions;
      INSERT OR IGNORE INTO dashboard_dirty (bucket) SELECT DISTINCT created_at / 3600000 FROM emissions;
      -- Recovery facts (migration 7): a cart's, an order's and a click's hours change with them.
      CREATE TRIGGER dashboard_mark_outcome_insert AFTER INSERT ON session_outcomes BEGIN
        INSERT INTO dashboard_dirty (bucket) SELECT NEW.cart_at / 3600000 WHERE NEW.cart_at IS NOT NULL AND NOT EXISTS (SELECT 1 FROM dashboard_dirty WHERE bucket = NEW.cart_at / 3600000);
        INSERT INTO dashboard_dirty (bucket) SELECT NEW.order_at / 3600000 WHERE NEW.order_at IS NOT NULL AND NOT EXISTS (SELECT 1 FROM dashboard_dirty WHERE bucket = NEW.order_at / 3600000);
        INSERT INTO dashboard_dirty (bucket) SELECT DISTINCT t.created_at / 3600000 FROM sessions t WHERE t.id = NEW.session_id AND NOT EXISTS (SELECT 1 FROM dashboard_dirty d WHERE d.bucket = t.created_at / 3600000);
      END;
      CREATE TRIGGER dashboard_mark_outcome_update AFTER UPDATE ON session_outcomes BEGIN
        INSERT INTO dashboard_dirty (bucket) SELECT NEW.cart_at / 3600000 WHERE NEW.cart_at IS NOT NULL AND NOT EXISTS (SELECT 1 FROM dashboard_dirty WHERE bucket = NEW.cart_at / 3600000);
        INSERT INTO dashboard_dirty (bucket) SELECT NEW.order_at / 3600000 WHERE NEW.order_at IS NOT NULL AND NOT EXISTS (SELECT 1 FROM dashboard_dirty WHERE bucket = NEW.order_at / 3600000);
        INSERT INTO dashboard_dirty (bucket) SELECT DISTINCT t.created_at / 3600000 FROM sessions t WHERE t.id = NEW.session_id AND NOT EXISTS (SELECT 1 FROM dashboard_dirty d WHERE d.bucket = t.created_at / 3600000);
      END;
      INSERT OR IGNORE INTO dashboard_dirty (bucket) SELECT DISTINCT cart_at / 3600000 FROM session_outcomes WHERE cart_at IS NOT NULL;
      INSERT OR IGNORE INTO dashboard_dirty (bucket) SELECT DISTINCT order_at / 3600000 FROM session_outcomes WHERE order_at IS NOT NULL;
    `,
  },
  {
    version: 9,
    sql: `
      -- The dashboard's search by email (lower(email) = lower(?), newest first). Version 8's index
      -- was partial (emails only), which neither engine used for that query: SQLite cannot prove
      -- its condition from the search, and PostgreSQL keeps no statistics for the expression, so
      -- on 1,000,000 sessions both walked every session by creation time (about 1 s). A full
      -- expression index is used, and costs one NULL entry per session without an email.
      CREATE INDEX sessions_by_lower_email ON sessions (lower(json_extract(lead, '$.emailAddress')));
      DROP INDEX sessions_by_email;
    `,
  },
  {
    version: 10,
    sql: `
      -- The state history's insertion order as a column of its own (the tie-break between two
      -- states of one millisecond), the same in both stores: rowid is not kept by VACUUM unless a
      -- column names it. Existing rows keep their rowid as their place.
      CREATE TABLE session_states_v8 (seq INTEGER PRIMARY KEY, session_id TEXT NOT NULL, state TEXT NOT NULL, at INTEGER NOT NULL);
      INSERT INTO session_states_v8 (seq, session_id, state, at) SELECT rowid, session_id, state, at FROM session_states ORDER BY rowid;
      DROP TABLE session_states;
      ALTER TABLE session_states_v8 RENAME TO session_states;
      CREATE INDEX session_states_by_session ON session_states (session_id, at);
    `,
  },
  {
    version: 11,
    sql: `
      -- The dashboard's search by affiliate shows the newest sessions first: with the session's
      -- creation time beside its affiliate, a common affiliate's newest 50 are read from the
      -- index instead of sorting all of its sessions.
      ALTER TABLE dashboard_sources ADD COLUMN created_at INTEGER;
      UPDATE dashboard_sources SET created_at = (SELECT s.created_at FROM sessions s WHERE s.id = dashboard_sources.session_id);
      DROP INDEX dashboard_sources_by_aff;
      CREATE INDEX dashboard_sources_by_aff ON dashboard_sources (aff_id, created_at) WHERE aff_id IS NOT NULL;
    `,
  },
  {
    version: 12,
    sql: `
      -- Version 7's index on the creation time alone duplicates version 6's (created_at, id), which
      -- serves every range of creation times as well; each new session paid for both.
      DROP INDEX sessions_created_for_report;
    `,
  },
  {
    version: 13,
    sql: `
      -- What a session has stored, kept on its row so that ingest can refuse a batch past the
      -- per-session cap (SESSION_MAX_EVENTS, SESSION_MAX_BYTES) without counting its events: the
      -- number of events and the bytes of their stored payloads. Existing sessions are counted once.
      ALTER TABLE sessions ADD COLUMN event_count INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE sessions ADD COLUMN event_bytes INTEGER NOT NULL DEFAULT 0;
      UPDATE sessions SET event_count = c.n, event_bytes = c.bytes
        FROM (SELECT e.session_id, COUNT(*) AS n, SUM(length(CAST(e.payload AS BLOB))) AS bytes FROM events e GROUP BY e.session_id) AS c
       WHERE c.session_id = sessions.id;
    `,
  },
  {
    version: 14,
    sql: `
      -- Dashboard sign-in cookies ended by their logout, kept until they would have expired anyway
      -- (then the retention job deletes them): a copied cookie replayed after logout is refused by
      -- every collector sharing the store.
      CREATE TABLE dashboard_revocations (session_id TEXT PRIMARY KEY, expires_at INTEGER NOT NULL);
      CREATE INDEX dashboard_revocations_by_expiry ON dashboard_revocations (expires_at);
    `,
  },
  {
    version: 15,
    sql: `
      -- A session begun by a buyer's return through a recovery link names the abandoned session
      -- whose cart it carries: its order recovers that cart, and it never abandons a cart of its own.
      ALTER TABLE sessions ADD COLUMN recovers_session_id TEXT;
      CREATE INDEX sessions_by_recovered ON sessions (recovers_session_id) WHERE recovers_session_id IS NOT NULL;
      -- Single-use tokens (cross-domain and recovery link tokens, the once-per-cart prefill) spent
      -- so far, kept until they would have expired anyway; the retention job deletes them after.
      CREATE TABLE spent_tokens (id TEXT PRIMARY KEY, expires_at INTEGER NOT NULL);
      CREATE INDEX spent_tokens_by_expiry ON spent_tokens (expires_at);
    `,
  },
  {
    version: 16,
    sql: `
      -- Lifecycle sync: what was last seen of each Konnektive record (a transaction, purchase or
      -- order, by its id), so that only a real change becomes an event; group_key is the record's
      -- order id (a refund is matched with the sales of its order).
      CREATE TABLE lifecycle_snapshots (
        kind TEXT NOT NULL,
        record_id TEXT NOT NULL,
        group_key TEXT,
        snapshot TEXT NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (kind, record_id)
      );
      CREATE INDEX lifecycle_snapshots_by_group ON lifecycle_snapshots (kind, group_key) WHERE group_key IS NOT NULL;
      -- Each lifecycle event once, under its stable id (made from Konnektive's ids and the change).
      CREATE TABLE lifecycle_events (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        customer_key TEXT NOT NULL,
        payload TEXT NOT NULL,
        created_at INTEGER NOT NULL
      );
      CREATE INDEX lifecycle_events_by_customer ON lifecycle_events (customer_key, created_at);
      CREATE INDEX lifecycle_events_by_created ON lifecycle_events (created_at);
    `,
  },
  {
    version: 17,
    sql: `
      -- The outbox claim asks due funnel jobs and due lifecycle deliveries as separate ordered,
      -- limited parts (plans.ts): each walks its own index in run_at order and stops at the limit,
      -- instead of reading the whole due backlog to find the other kind's jobs.
      CREATE INDEX outbox_due_funnel ON outbox (run_at, id) WHERE state = 'pending' AND kind <> 'lifecycle.deliver';
      CREATE INDEX outbox_due_lifecycle ON outbox (run_at, id) WHERE state = 'pending' AND kind = 'lifecycle.deliver';
    `,
  },
  {
    version: 18,
    sql: `
      -- The Delivery view counts each ad platform's conversions and each affiliate postback's fires
      -- over a period (sent, skipped and why): only their attempts, by time, without reading the
      -- funnel's call log.
      CREATE INDEX delivery_attempts_destinations ON delivery_attempts (upstream, created_at) WHERE upstream IN ('meta', 'tiktok', 'postbacks');
      -- The delivery accuracy of each affiliate postback reads the events routed in a period.
      CREATE INDEX outbox_postback_routes ON outbox (created_at) WHERE kind = 'postback.route';
    `,
  },
  {
    version: 19,
    sql: `
      -- A job's attempts, newest first, from the index alone: the delivery accuracy reads the last
      -- attempt of each item's job (was it skipped, and why). With the job id alone indexed, a
      -- PostgreSQL store that had filled faster than its statistics were gathered walked the whole
      -- attempt log backwards by id for every item (minutes for 20,000 sessions).
      CREATE INDEX delivery_attempts_by_job_newest ON delivery_attempts (job_id, id);
      DROP INDEX delivery_attempts_by_job;
    `,
  },
  {
    version: 20,
    sql: `
      -- Each relay lane claims its own upstream's due jobs, oldest first, from this index alone.
      -- In the index of every upstream's due jobs a lane walked past the others' (an idle lane
      -- through the whole Konnektive backlog), and PostgreSQL, misjudging a table that grew faster
      -- than its statistics, gathered and sorted the whole backlog for each claim (10 ms with
      -- 2,500 jobs due, where this index answers in 0.1 ms).
      CREATE INDEX outbox_due_by_upstream ON outbox (upstream, run_at, id) WHERE state = 'pending' AND kind <> 'lifecycle.deliver';
    `,
  },
];
