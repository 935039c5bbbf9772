/**
 * @module postgres-migrations
 * Versioned schema for the PostgreSQL store: the same tables, columns and indexes as
 * `sqlite-migrations.ts`, so `rows.ts` maps rows of either backend. Append new versions; never edit
 * an applied one.
 *
 * Type choices:
 * - Millisecond timestamps are BIGINT (they overflow INTEGER); the store parses int8 to numbers.
 * - JSON columns are TEXT holding `JSON.stringify` output, exactly as in SQLite. JSONB would
 *   reject the `\u0000` escape that a visitor-supplied string can produce, and nothing queries
 *   inside these columns (cast to jsonb for ad-hoc inspection).
 * - `events.seq` gives the insertion order that SQLite's implicit rowid provides there.
 * - Booleans are BOOLEAN (SQLite: INTEGER 0/1); `rows.ts` lists them in `BOOLEAN_COLUMNS`.
 */
export const POSTGRES_MIGRATIONS: readonly { version: number; sql: string }[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

      CREATE TABLE sessions (
        id TEXT PRIMARY KEY,
        campaign_id TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        last_seen_at BIGINT NOT NULL,
        landing_url TEXT,
        referrer TEXT,
        user_agent TEXT NOT NULL,
        ip TEXT NOT NULL,
        is_bot BOOLEAN NOT NULL DEFAULT FALSE,
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
      );

      -- Append-only event log. The client-made id makes a resend a no-op.
      CREATE TABLE events (
        seq BIGSERIAL NOT NULL,
        id TEXT PRIMARY KEY,
        session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        type TEXT NOT NULL,
        received_at BIGINT NOT NULL,
        payload TEXT NOT NULL
      );
      CREATE INDEX events_by_session ON events (session_id, received_at);
      -- listEvents reads a session's events in insertion order.
      CREATE INDEX events_by_session_seq ON events (session_id, seq);

      CREATE TABLE outbox (
        id BIGSERIAL PRIMARY KEY,
        session_id TEXT NOT NULL,
        upstream TEXT NOT NULL,
        kind TEXT NOT NULL,
        payload TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        run_at BIGINT NOT NULL,
        lease_owner TEXT,
        lease_until BIGINT,
        last_error TEXT,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL
      );
      -- Unfinished jobs only: the claim query and the per-session ordering read these.
      CREATE INDEX outbox_open_by_session ON outbox (session_id, id) WHERE state IN ('pending', 'running');
      CREATE INDEX outbox_due ON outbox (run_at) WHERE state = 'pending';
      CREATE INDEX outbox_leased ON outbox (lease_until) WHERE state = 'running';
      CREATE INDEX outbox_dead ON outbox (id) WHERE state = 'dead';

      CREATE TABLE delivery_attempts (
        id BIGSERIAL PRIMARY KEY,
        job_id BIGINT NOT NULL,
        upstream TEXT NOT NULL,
        endpoint TEXT NOT NULL,
        request TEXT NOT NULL,
        response TEXT NOT NULL,
        outcome TEXT NOT NULL,
        http_status INTEGER,
        latency_ms INTEGER NOT NULL,
        created_at BIGINT NOT NULL
      );
      CREATE INDEX delivery_attempts_by_job ON delivery_attempts (job_id);
    `,
  },
  {
    version: 2,
    sql: `
      -- Abandonment: each session's state, and when the sweeper should look at it next.
      ALTER TABLE sessions ADD COLUMN state TEXT NOT NULL DEFAULT 'open';
      ALTER TABLE sessions ADD COLUMN state_changed_at BIGINT NOT NULL DEFAULT 0;
      ALTER TABLE sessions ADD COLUMN due_at BIGINT;
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
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        PRIMARY KEY (session_id, kind)
      );

      -- Shared rate limits: the next free slot per key (one ActiveCampaign account each).
      CREATE TABLE rate_slots (key TEXT PRIMARY KEY, next_at BIGINT NOT NULL);
    `,
  },
  {
    version: 3,
    sql: `
      -- Every state a session passed through, with when (the session row keeps only the latest).
      CREATE TABLE session_states (session_id TEXT NOT NULL, state TEXT NOT NULL, at BIGINT NOT NULL);
      CREATE INDEX session_states_by_session ON session_states (session_id, at);
    `,
  },
  {
    version: 4,
    sql: `
      -- Shared rate limits: when each recent request left (a sliding-window log per key), so that
      -- no window holds more than the limit even when a request leaves late.
      CREATE TABLE rate_sends (id BIGSERIAL PRIMARY KEY, key TEXT NOT NULL, at BIGINT NOT NULL);
      CREATE INDEX rate_sends_by_key ON rate_sends (key, at);
    `,
  },
  {
    version: 5,
    sql: `
      -- Open carts, looked up by email when the same buyer pays anywhere else.
      CREATE INDEX sessions_abandoned_by_email ON sessions (lower(lead::json ->> 'emailAddress')) WHERE state = 'abandoned';
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
        value BIGINT NOT NULL,
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
        cart_at BIGINT,
        cart_cents BIGINT,
        cart_currency TEXT,
        link_expires_at BIGINT,
        clicks INTEGER NOT NULL DEFAULT 0,
        first_click_at BIGINT,
        last_click_at BIGINT,
        returned_at BIGINT,
        order_at BIGINT,
        order_cents BIGINT,
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
      CREATE INDEX sessions_by_email ON sessions (lower(lead::json ->> 'emailAddress')) WHERE (lead::json ->> 'emailAddress') IS NOT NULL;
      CREATE INDEX sessions_by_claimed_order ON sessions (claimed_order_id) WHERE claimed_order_id IS NOT NULL;
      CREATE INDEX sessions_by_crm_order ON sessions ((konnektive::json ->> 'orderId')) WHERE (konnektive::json ->> 'orderId') IS NOT NULL;
      CREATE INDEX emissions_by_kind_time ON emissions (kind, created_at);
      CREATE INDEX outbox_by_session ON outbox (session_id, id);
      CREATE INDEX delivery_attempts_by_outcome ON delivery_attempts (outcome, id);

      CREATE TABLE dashboard_rollup (
        dim TEXT NOT NULL,
        bucket BIGINT NOT NULL,
        value TEXT NOT NULL,
        figures TEXT NOT NULL,
        PRIMARY KEY (dim, bucket, value)
      );
      CREATE TABLE dashboard_dirty (bucket BIGINT PRIMARY KEY);
      -- Where each session came from, parsed once from its landing URL and user agent.
      CREATE TABLE dashboard_sources (session_id TEXT PRIMARY KEY, aff_id TEXT, device TEXT NOT NULL);
      CREATE INDEX dashboard_sources_by_aff ON dashboard_sources (aff_id) WHERE aff_id IS NOT NULL;

      CREATE FUNCTION dashboard_mark_session() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        INSERT INTO dashboard_dirty (bucket) VALUES (NEW.created_at / 3600000) ON CONFLICT DO NOTHING;
        RETURN NULL;
      END $$;
      CREATE FUNCTION dashboard_mark_by_session() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        INSERT INTO dashboard_dirty (bucket) SELECT created_at / 3600000 FROM sessions WHERE id = NEW.session_id ON CONFLICT DO NOTHING;
        IF TG_TABLE_NAME = 'emissions' THEN
          INSERT INTO dashboard_dirty (bucket) SELECT DISTINCT created_at / 3600000 FROM emissions WHERE session_id = NEW.session_id
            ON CONFLICT DO NOTHING;
        END IF;
        RETURN NULL;
      END $$;
      CREATE TRIGGER dashboard_mark_session_insert AFTER INSERT ON sessions FOR EACH ROW EXECUTE FUNCTION dashboard_mark_session();
      CREATE TRIGGER dashboard_mark_session_update AFTER UPDATE OF state, lead, cart, landing_url, is_bot ON sessions FOR EACH ROW
        WHEN (NEW.state IS DISTINCT FROM OLD.state OR NEW.lead IS DISTINCT FROM OLD.lead OR NEW.cart IS DISTINCT FROM OLD.cart
          OR NEW.landing_url IS DISTINCT FROM OLD.landing_url OR NEW.is_bot IS DISTINCT FROM OLD.is_bot)
        EXECUTE FUNCTION dashboard_mark_session();
      CREATE TRIGGER dashboard_mark_click AFTER INSERT ON session_clicks FOR EACH ROW EXECUTE FUNCTION dashboard_mark_by_session();
      CREATE TRIGGER dashboard_mark_emission_insert AFTER INSERT ON emissions FOR EACH ROW EXECUTE FUNCTION dashboard_mark_by_session();
      CREATE TRIGGER dashboard_mark_emission_update AFTER UPDATE OF status ON emissions FOR EACH ROW
        WHEN (NEW.status IS DISTINCT FROM OLD.status) EXECUTE FUNCTION dashboard_mark_by_session();
      INSERT INTO dashboard_dirty (bucket) SELECT DISTINCT created_at / 3600000 FROM sessions ON CONFLICT DO NOTHING;
      INSERT INTO dashboard_dirty (bucket) SELECT DISTINCT created_at / 3600000 FROM emissions ON CONFLICT DO NOTHING;
      -- Recovery facts (migration 7): a cart's, an order's and a click's hours change with them.
      CREATE FUNCTION dashboard_mark_outcome() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.cart_at IS NOT NULL THEN
          INSERT INTO dashboard_dirty (bucket) VALUES (NEW.cart_at / 3600000) ON CONFLICT DO NOTHING;
        END IF;
        IF NEW.order_at IS NOT NULL THEN
          INSERT INTO dashboard_dirty (bucket) VALUES (NEW.order_at / 3600000) ON CONFLICT DO NOTHING;
        END IF;
        INSERT INTO dashboard_dirty (bucket) SELECT created_at / 3600000 FROM sessions WHERE id = NEW.session_id ON CONFLICT DO NOTHING;
        RETURN NULL;
      END $$;
      CREATE TRIGGER dashboard_mark_outcome AFTER INSERT OR UPDATE ON session_outcomes FOR EACH ROW EXECUTE FUNCTION dashboard_mark_outcome();
      INSERT INTO dashboard_dirty (bucket) SELECT DISTINCT cart_at / 3600000 FROM session_outcomes WHERE cart_at IS NOT NULL ON CONFLICT DO NOTHING;
      INSERT INTO dashboard_dirty (bucket) SELECT DISTINCT order_at / 3600000 FROM session_outcomes WHERE order_at IS NOT NULL ON CONFLICT DO NOTHING;
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
      CREATE INDEX sessions_by_lower_email ON sessions (lower(lead::json ->> 'emailAddress'));
      DROP INDEX sessions_by_email;
      ANALYZE sessions;
    `,
  },
  {
    version: 10,
    sql: `
      -- Booleans are BOOLEAN, as is_bot already was.
      ALTER TABLE sessions ALTER COLUMN funnel_done DROP DEFAULT;
      ALTER TABLE sessions ALTER COLUMN funnel_done TYPE BOOLEAN USING funnel_done <> 0;
      ALTER TABLE sessions ALTER COLUMN funnel_done SET DEFAULT FALSE;
      -- The state history's insertion order (the tie-break between two states of one
      -- millisecond), as in SQLite; ctid is a physical place, not an order. Existing rows are
      -- numbered in the order the table is read, the best order they have.
      ALTER TABLE session_states ADD COLUMN seq BIGSERIAL PRIMARY KEY;
    `,
  },
  {
    version: 11,
    sql: `
      -- The dashboard's search by affiliate shows the newest sessions first: with the session's
      -- creation time beside its affiliate, a common affiliate's newest 50 are read from the
      -- index instead of sorting all of its sessions.
      ALTER TABLE dashboard_sources ADD COLUMN created_at BIGINT;
      UPDATE dashboard_sources d SET created_at = s.created_at FROM sessions s WHERE s.id = d.session_id;
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
      ALTER TABLE sessions ADD COLUMN event_count BIGINT NOT NULL DEFAULT 0;
      ALTER TABLE sessions ADD COLUMN event_bytes BIGINT NOT NULL DEFAULT 0;
      UPDATE sessions SET event_count = c.n, event_bytes = c.bytes
        FROM (SELECT e.session_id, COUNT(*) AS n, SUM(octet_length(e.payload)) AS bytes FROM events e GROUP BY e.session_id) AS c
       WHERE c.session_id = sessions.id;
    `,
  },
  {
    version: 14,
    sql: `
      -- Dashboard sign-in cookies ended by their logout, kept until they would have expired anyway
      -- (then the retention job deletes them): a copied cookie replayed after logout is refused by
      -- every collector sharing the store.
      CREATE TABLE dashboard_revocations (session_id TEXT PRIMARY KEY, expires_at BIGINT NOT NULL);
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
      CREATE TABLE spent_tokens (id TEXT PRIMARY KEY, expires_at BIGINT NOT NULL);
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
        updated_at BIGINT NOT NULL,
        PRIMARY KEY (kind, record_id)
      );
      CREATE INDEX lifecycle_snapshots_by_group ON lifecycle_snapshots (kind, group_key) WHERE group_key IS NOT NULL;
      -- Each lifecycle event once, under its stable id (made from Konnektive's ids and the change).
      CREATE TABLE lifecycle_events (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        customer_key TEXT NOT NULL,
        payload TEXT NOT NULL,
        created_at BIGINT NOT NULL
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
