/**
 * @module postgres-store
 * The shared store: PostgreSQL through a `pg.Pool`, for running several collectors against one
 * database. Semantics mirror `sqlite-store.ts` operation by operation; where SQLite relies on its
 * single writer (one process, one mutex), this file uses PostgreSQL locks instead:
 *
 * - migrations run under a transaction-scoped advisory lock, so collectors starting together
 *   apply each version once;
 * - `enqueue` takes a per-session advisory lock, so a session's job ids follow commit order;
 * - `claimJobs` locks the rows it hands out with `FOR UPDATE SKIP LOCKED` (see there).
 *
 * `int8` values (BIGINT timestamps, BIGSERIAL ids, COUNT(*)) are parsed to numbers by a type
 * parser private to this pool; the process-wide pg parsers are left alone.
 */
import pg from 'pg';
import { POSTGRES_MIGRATIONS } from './postgres-migrations.js';
import { rollupsOf, splitRollupKey, type PurgedSession } from '../retention/rollups.js';
import type {
  ClaimOptions,
  DailyRollup,
  DeliveryAttempt,
  Emission,
  EmissionKind,
  EmissionStatus,
  Job,
  JobCompletion,
  JobFinish,
  JobState,
  KonnektiveIds,
  NewJob,
  NewSession,
  RateSendResult,
  PurgeSessionsOptions,
  Session,
  SessionPatch,
  SessionPurge,
  SessionState,
  Store,
  StoreTx,
  SqlAccess,
  StoredEvent,
} from './store.js';
import { isTransactionConflict, RATE_SEND_HORIZON_MS, type CartOutcome, type FunnelReport, type OrderOutcome } from './store.js';
import { foldReport, numbered, OUTCOME_SQL, reportParams } from './outcome-queries.js';
import { patchToColumns, rowToAttempt, rowToEmission, rowToJob, rowToSession, type Row } from './rows.js';

/** A pool or one checked-out client: both run a parameterised query the same way. */
interface Queryable {
  query<R extends pg.QueryResultRow = Row>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>>;
}

/** Advisory lock namespaces (first key of the two-key form); the value spells "FB" + a number. */
const LOCK_MIGRATE = 0x4642_0001;
const LOCK_SESSION_OUTBOX = 0x4642_0002;
const LOCK_RATE_SENDS = 0x4642_0003;

/** Schema names are put into a connection option and DDL, so only plain identifiers are accepted. */
const SCHEMA_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

export interface PostgresStoreOptions {
  /** Schema holding funnelbeacon's tables; created by `migrate`. Overrides `?schema=` in the URL. */
  schema?: string;
}

export class PostgresStore implements Store {
  readonly kind = 'postgres' as const;
  readonly #pool: pg.Pool;
  readonly #schema: string | undefined;
  #closed = false;

  private constructor(pool: pg.Pool, schema: string | undefined) {
    this.#pool = pool;
    this.#schema = schema;
    // An idle pooled connection that breaks (server restart) is dropped by the pool; without a
    // listener the 'error' event would crash the process. The next query opens a fresh
    // connection and reports any lasting failure to its own caller.
    this.#pool.on('error', () => {});
  }

  /**
   * `postgres://user@host:5432/db?schema=NAME`. The schema (from `options.schema`, else the URL)
   * becomes the `search_path` of every pooled connection, set in the startup packet so that no
   * query can run before it applies.
   */
  static fromUrl(url: string, options: PostgresStoreOptions = {}): PostgresStore {
    const parsed = new URL(url);
    const schema = options.schema ?? (parsed.searchParams.get('schema') || undefined);
    parsed.searchParams.delete('schema');
    if (schema !== undefined && !SCHEMA_NAME.test(schema)) {
      throw new Error(`invalid PostgreSQL schema name ${JSON.stringify(schema)}: use letters, digits and _`);
    }
    // pg lets connection-string parameters override the config object, so an `options` parameter
    // already in the URL is moved out and combined with ours instead of silently replacing it.
    const urlOptions = parsed.searchParams.get('options');
    parsed.searchParams.delete('options');
    const startupOptions = [urlOptions, schema && `-c search_path=${pg.escapeIdentifier(schema)}`].filter(Boolean).join(' ');

    // int8 -> number for this pool only. Millisecond timestamps and row ids stay far below 2^53.
    const types = new pg.TypeOverrides();
    types.setTypeParser(pg.types.builtins.INT8, (value: string) => Number(value));

    const pool = new pg.Pool({
      connectionString: parsed.toString(),
      ...(startupOptions ? { options: startupOptions } : {}),
      types,
    });
    return new PostgresStore(pool, schema);
  }

  async migrate(): Promise<void> {
    await this.#inTransaction(async (client) => {
      // Held until COMMIT: a second collector starting now waits here, then finds every version
      // applied. Keyed by schema so test runs in separate schemas do not queue behind each other.
      await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [LOCK_MIGRATE, this.#schema ?? '']);
      if (this.#schema !== undefined) await client.query(`CREATE SCHEMA IF NOT EXISTS ${pg.escapeIdentifier(this.#schema)}`);
      await client.query('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)');
      const applied = new Set(
        (await client.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map((row) => row.version),
      );
      // DDL is transactional in PostgreSQL: all pending versions apply together or not at all.
      for (const migration of POSTGRES_MIGRATIONS) {
        if (applied.has(migration.version)) continue;
        await client.query(migration.sql);
        await client.query('INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)', [migration.version, Date.now()]);
      }
    });
  }

  /**
   * Inside a transaction a session is read `FOR UPDATE`: two collectors (or two commit groups)
   * applying events of one session would otherwise both merge into the row they read and the
   * second write would drop the first one's lead fields. Locks taken in different orders can
   * deadlock; PostgreSQL then aborts one transaction, which is run again (it wrote nothing).
   */
  transaction<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> {
    return retryOnDeadlock(() => this.#inTransaction((client) => fn(this.#txFor(client))));
  }

  sql(): SqlAccess {
    const over = (db: Queryable): SqlAccess => ({
      dialect: 'postgres',
      all: async <R>(sql: string, params: readonly unknown[] = []) => (await db.query(numbered(sql), [...params])).rows as R[],
      run: async (sql, params = []) => (await db.query(numbered(sql), [...params])).rowCount ?? 0,
      transaction: (fn) => (db === this.#pool ? this.#inTransaction((client) => fn(over(client))) : fn(over(db))),
    });
    return over(this.#pool);
  }

  getSession(id: string): Promise<Session | undefined> {
    return getSession(this.#pool, id);
  }

  async updateSession(id: string, patch: SessionPatch): Promise<void> {
    // The Konnektive merge reads then writes the row, which needs a transaction of its own.
    if (patch.konnektive) await this.#inTransaction((client) => updateSession(client, id, patch));
    else await updateSession(this.#pool, id, patch);
  }

  /**
   * Concurrency design. Several collectors may claim at once; two rules must hold: a job is
   * handed to one claimer only, and a session never has two jobs running.
   *
   * Step 1 selects the claimable head rows (same predicate as SQLite) `FOR UPDATE SKIP LOCKED`:
   * a head another claimer is taking right now is skipped rather than waited for, and LIMIT
   * fills up from the remaining heads. When a selected row was changed by a transaction that
   * committed after our snapshot, PostgreSQL re-evaluates the row predicate on the new version,
   * so a job just claimed (live lease) or finished is dropped. That gives rule one.
   *
   * Rule two: only a session's oldest unfinished job is ever selected, and the head subquery
   * reads the statement snapshot. A stale snapshot can only hide a newer head, never expose a
   * wrong one: a job older than the head stops being unfinished only by becoming done or dead,
   * and `enqueue`'s per-session lock means no older job can still be uncommitted (ids of one
   * session are assigned in commit order). So a stale view makes us miss a job until the next
   * poll, never run one early.
   *
   * Step 2 updates only the rows we hold locks on and re-checks the whole head condition with a
   * fresh snapshot (READ COMMITTED takes one per statement), which also covers a head change that
   * committed between the two statements. A per-session advisory lock was the alternative; row
   * locks need no extra lock bookkeeping and skip busy sessions without blocking.
   */
  claimJobs(options: ClaimOptions): Promise<Job[]> {
    return this.#inTransaction(async (client) => {
      const claimable = `((o.state = 'pending' AND o.run_at <= $1) OR (o.state = 'running' AND o.lease_until < $1))
        AND o.upstream <> ALL($2::text[])
        AND o.id = (SELECT MIN(h.id) FROM outbox h WHERE h.session_id = o.session_id AND h.state IN ('pending', 'running'))
        AND NOT EXISTS (SELECT 1 FROM outbox r WHERE r.session_id = o.session_id AND r.id <> o.id
                        AND r.state = 'running' AND r.lease_until >= $1)`;
      const locked = await client.query<{ id: number }>(
        `SELECT o.id FROM outbox o WHERE ${claimable} ORDER BY o.run_at, o.id LIMIT $3 FOR UPDATE SKIP LOCKED`,
        [options.now, [...options.skipUpstreams], options.limit],
      );
      if (locked.rows.length === 0) return [];
      const claimed = await client.query(
        `UPDATE outbox o SET state = 'running', lease_owner = $4, lease_until = $5, updated_at = $1
          WHERE o.id = ANY($3::bigint[]) AND ${claimable}
          RETURNING o.*`,
        [options.now, [...options.skipUpstreams], locked.rows.map((row) => row.id), options.owner, options.now + options.leaseMs],
      );
      // RETURNING has no defined order; hand jobs out in the order SQLite does.
      return claimed.rows.map(rowToJob).sort((a, b) => a.runAt - b.runAt || a.id - b.id);
    });
  }

  /**
   * One transaction for the whole round, as in SQLite. Attempts are logged whatever happens to
   * the lease (they record calls that were made); state and session patch only while `owner`
   * still holds the job.
   */
  completeJobs(owner: string, jobs: readonly JobFinish[]): Promise<boolean[]> {
    return retryOnDeadlock(() =>
      this.#inTransaction(async (client) => {
        const held: boolean[] = [];
        for (const job of jobs) {
          for (const attempt of job.attempts) await recordAttempt(client, attempt);
          const stillOurs = await completeJob(client, job.id, owner, job.completion);
          if (stillOurs && job.sessionPatch) await updateSession(client, job.sessionId, job.sessionPatch);
          held.push(stillOurs);
        }
        return held;
      }),
    );
  }

  async renewLeases(owner: string, jobIds: readonly number[], leaseUntil: number): Promise<void> {
    await this.#pool.query("UPDATE outbox SET lease_until = $1 WHERE id = ANY($2::bigint[]) AND state = 'running' AND lease_owner = $3", [
      leaseUntil,
      [...jobIds],
      owner,
    ]);
  }

  async releaseClaims(owner: string): Promise<number> {
    const result = await this.#pool.query(
      "UPDATE outbox SET state = 'pending', lease_owner = NULL, lease_until = NULL, updated_at = $1 WHERE state = 'running' AND lease_owner = $2",
      [Date.now(), owner],
    );
    return result.rowCount ?? 0;
  }

  async replayDeadJobs(now: number): Promise<number> {
    const result = await this.#pool.query(
      "UPDATE outbox SET state = 'pending', attempts = 0, run_at = $1, updated_at = $1 WHERE state = 'dead'",
      [now],
    );
    return result.rowCount ?? 0;
  }

  async countJobsByState(): Promise<Record<JobState, number>> {
    const counts: Record<JobState, number> = { pending: 0, running: 0, done: 0, dead: 0 };
    const result = await this.#pool.query<{ state: JobState; n: number }>('SELECT state, COUNT(*) AS n FROM outbox GROUP BY state');
    for (const row of result.rows) counts[row.state] = row.n;
    return counts;
  }

  async listJobs(filter: { sessionId?: string; state?: JobState }): Promise<Job[]> {
    const result = await this.#pool.query(
      'SELECT * FROM outbox WHERE ($1::text IS NULL OR session_id = $1) AND ($2::text IS NULL OR state = $2) ORDER BY id',
      [filter.sessionId ?? null, filter.state ?? null],
    );
    return result.rows.map(rowToJob);
  }

  async listEvents(sessionId: string): Promise<StoredEvent[]> {
    const result = await this.#pool.query('SELECT * FROM events WHERE session_id = $1 ORDER BY seq', [sessionId]);
    return result.rows.map((row) => ({
      id: String(row.id),
      sessionId: String(row.session_id),
      type: String(row.type),
      receivedAt: Number(row.received_at),
      payload: JSON.parse(String(row.payload)),
    }));
  }

  async listAttempts(jobId?: number): Promise<DeliveryAttempt[]> {
    const result = await this.#pool.query('SELECT * FROM delivery_attempts WHERE ($1::bigint IS NULL OR job_id = $1) ORDER BY id', [
      jobId ?? null,
    ]);
    return result.rows.map(rowToAttempt);
  }

  async countSessions(): Promise<number> {
    const result = await this.#pool.query<{ n: number }>('SELECT COUNT(*) AS n FROM sessions');
    return Number(result.rows[0]?.n ?? 0);
  }

  /**
   * As in SQLite. The sessions are locked `FOR UPDATE SKIP LOCKED`: one an ingest transaction or
   * a sweeper holds right now is left for the next run, and no job can be queued for a session
   * while its purge holds it (ingest and the sweeper lock the session before they enqueue).
   */
  purgeSessions({ cutoff, limit, after }: PurgeSessionsOptions): Promise<SessionPurge> {
    return retryOnDeadlock(() =>
      this.#inTransaction(async (client) => {
        const { rows } = await client.query(
          `SELECT s.id, s.created_at, s.is_bot, s.lead FROM sessions s
            WHERE s.created_at < $1 AND (s.created_at, s.id) > ($2::bigint, $3::text)
              AND s.last_seen_at < $1 AND s.state_changed_at < $1 AND s.due_at IS NULL
              AND (s.state IN ('complete', 'expired', 'closed') OR (s.state = 'open' AND s.is_bot)
                   OR (s.state = 'abandoned' AND EXISTS (SELECT 1 FROM emissions e WHERE e.session_id = s.id AND e.kind = 'cart' AND e.status = 'sent')))
              AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.session_id = s.id AND o.state IN ('pending', 'running'))
              AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.session_id = s.id AND o.state = 'dead')
              AND NOT EXISTS (SELECT 1 FROM emissions e WHERE e.session_id = s.id AND e.status IN ('queued', 'sending'))
            ORDER BY s.created_at, s.id
            LIMIT $4
            FOR UPDATE OF s SKIP LOCKED`,
          [cutoff, after?.createdAt ?? Number.MIN_SAFE_INTEGER, after?.id ?? '', limit],
        );
        if (rows.length === 0) return { sessions: 0, rows: 0, next: undefined };
        const ids = rows.map((row) => String(row.id));
        const pages = new Map<string, string[]>();
        for (const row of (await client.query('SELECT session_id, page FROM session_clicks WHERE session_id = ANY($1::text[])', [ids])).rows) {
          const list = pages.get(String(row.session_id)) ?? [];
          list.push(String(row.page));
          pages.set(String(row.session_id), list);
        }
        const emissions = new Map<string, PurgedSession['emissions'][number][]>();
        for (const row of (await client.query('SELECT session_id, kind, status, payload FROM emissions WHERE session_id = ANY($1::text[])', [ids])).rows) {
          const list = emissions.get(String(row.session_id)) ?? [];
          list.push({ kind: String(row.kind) as EmissionKind, status: String(row.status) as EmissionStatus, payload: JSON.parse(String(row.payload)) });
          emissions.set(String(row.session_id), list);
        }
        const purged: PurgedSession[] = rows.map((row) => ({
          session: { id: String(row.id), createdAt: Number(row.created_at), isBot: Boolean(row.is_bot), lead: JSON.parse(String(row.lead)) },
          pages: pages.get(String(row.id)) ?? [],
          emissions: emissions.get(String(row.id)) ?? [],
        }));
        const increments = [...rollupsOf(purged)].map(([key, value]) => ({ ...splitRollupKey(key), value }));
        if (increments.length > 0) {
          await client.query(
            `INSERT INTO daily_rollups (day, metric, currency, value)
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::bigint[])
             ON CONFLICT (day, metric, currency) DO UPDATE SET value = daily_rollups.value + excluded.value`,
            [increments.map((i) => i.day), increments.map((i) => i.metric), increments.map((i) => i.currency), increments.map((i) => i.value)],
          );
        }
        let deleted = 0;
        for (const table of ['events', 'session_clicks', 'session_states', 'emissions']) {
          deleted += (await client.query(`DELETE FROM ${table} WHERE session_id = ANY($1::text[])`, [ids])).rowCount ?? 0;
        }
        deleted += (await client.query('DELETE FROM sessions WHERE id = ANY($1::text[])', [ids])).rowCount ?? 0;
        const last = rows.at(-1)!;
        return {
          sessions: rows.length,
          rows: deleted,
          next: rows.length === limit ? { createdAt: Number(last.created_at), id: String(last.id) } : undefined,
        };
      }),
    );
  }

  async purgeHistory({ cutoff, limit }: { cutoff: number; limit: number }): Promise<number> {
    const attempts = await this.#pool.query(
      `DELETE FROM delivery_attempts WHERE id IN (
         SELECT a.id FROM delivery_attempts a
          WHERE a.created_at < $1 AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.id = a.job_id AND o.state <> 'done')
          ORDER BY a.created_at LIMIT $2)`,
      [cutoff, limit],
    );
    const jobs = await this.#pool.query(
      "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE state = 'done' AND updated_at < $1 ORDER BY updated_at LIMIT $2 FOR UPDATE SKIP LOCKED)",
      [cutoff, limit],
    );
    return (attempts.rowCount ?? 0) + (jobs.rowCount ?? 0);
  }

  async listDailyRollups(filter: { fromDay?: string; toDay?: string } = {}): Promise<DailyRollup[]> {
    const result = await this.#pool.query(
      `SELECT day, metric, currency, value FROM daily_rollups
        WHERE ($1::text IS NULL OR day >= $1) AND ($2::text IS NULL OR day <= $2)
        ORDER BY day, metric, currency`,
      [filter.fromDay ?? null, filter.toDay ?? null],
    );
    return result.rows.map((row) => ({ day: String(row.day), metric: String(row.metric), currency: String(row.currency), value: Number(row.value) }));
  }

  async recordCartOutcome(cart: CartOutcome): Promise<void> {
    await this.#pool.query(numbered(OUTCOME_SQL.cart), [cart.sessionId, cart.at, cart.totalCents, cart.currency, cart.linkExpiresAt]);
  }

  async recordRecoveryClick(sessionId: string, at: number): Promise<void> {
    await this.#pool.query(numbered(OUTCOME_SQL.click), [sessionId, at, at]);
  }

  async recordRecoveryReturn(sessionId: string, at: number): Promise<void> {
    await this.#pool.query(numbered(OUTCOME_SQL.return), [sessionId, at]);
  }

  async recordOrderOutcome(order: OrderOutcome): Promise<void> {
    await this.#pool.query(numbered(OUTCOME_SQL.order), [order.sessionId, order.at, order.totalCents, order.currency, order.recoversCart ? 1 : 0]);
  }

  async funnelReport(since: number, until: number): Promise<FunnelReport> {
    const [sessions, carts, recovered, orders] = await Promise.all([
      this.#pool.query(numbered(OUTCOME_SQL.sessions.replace('{notBot}', 'NOT is_bot')), reportParams.sessions(since, until)),
      this.#pool.query(numbered(OUTCOME_SQL.carts), reportParams.carts(since, until)),
      this.#pool.query(numbered(OUTCOME_SQL.recovered), reportParams.recovered(since, until)),
      this.#pool.query(numbered(OUTCOME_SQL.orders), reportParams.orders(since, until)),
    ]);
    return foldReport(since, until, { sessions: sessions.rows[0] ?? {}, carts: carts.rows, recovered: recovered.rows, orders: orders.rows });
  }

  async getMeta(key: string): Promise<string | undefined> {
    const result = await this.#pool.query<{ value: string }>('SELECT value FROM meta WHERE key = $1', [key]);
    return result.rows[0]?.value;
  }

  async setMetaIfAbsent(key: string, value: string): Promise<string> {
    // Two statements on purpose: ON CONFLICT waits for a concurrent inserter of the same key to
    // commit, and only a statement started after that (a fresh snapshot) is sure to see its row.
    await this.#pool.query('INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING', [key, value]);
    const result = await this.#pool.query<{ value: string }>('SELECT value FROM meta WHERE key = $1', [key]);
    return result.rows[0]!.value;
  }

  async ping(): Promise<void> {
    await this.#pool.query('SELECT 1');
  }

  async close(): Promise<void> {
    // pg throws when a pool is ended twice; closing is idempotent here, as in the SQLite store.
    if (this.#closed) return;
    this.#closed = true;
    await this.#pool.end();
  }

  // --- helpers -------------------------------------------------------------------------------

  /** Runs `fn` on one dedicated connection between BEGIN and COMMIT; ROLLBACK when it throws. */
  async #inTransaction<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.#pool.connect();
    let broken = false;
    try {
      await client.query('BEGIN');
      try {
        const result = await fn(client);
        // COMMIT of a transaction in which a statement failed (and the caller caught the error)
        // silently rolls back; PostgreSQL reports that as the ROLLBACK command. Make it loud,
        // otherwise the caller would believe its writes were durable.
        const commit = await client.query('COMMIT');
        if (commit.command === 'ROLLBACK') {
          throw new Error('transaction rolled back at COMMIT: a statement inside it failed; use tx.nested() to contain failures');
        }
        return result;
      } catch (error) {
        try {
          await client.query('ROLLBACK');
        } catch {
          // The connection is unusable; it is destroyed below instead of going back to the pool.
          broken = true;
        }
        throw error;
      }
    } finally {
      client.release(broken);
    }
  }

  getEmission(sessionId: string, kind: EmissionKind): Promise<Emission | undefined> {
    return getEmission(this.#pool, sessionId, kind);
  }

  async updateEmission(sessionId: string, kind: EmissionKind, change: { status: EmissionStatus; remoteId?: string; now: number }): Promise<void> {
    await this.#pool.query(
      'UPDATE emissions SET status = $1, remote_id = COALESCE($2, remote_id), updated_at = $3 WHERE session_id = $4 AND kind = $5',
      [change.status, change.remoteId ?? null, change.now, sessionId, kind],
    );
  }

  async listEmissions(filter: { sessionId?: string } = {}): Promise<Emission[]> {
    const result = await this.#pool.query(
      'SELECT * FROM emissions WHERE ($1::text IS NULL OR session_id = $1) ORDER BY created_at, session_id, kind',
      [filter.sessionId ?? null],
    );
    return result.rows.map(rowToEmission);
  }

  async listStateChanges(sessionId: string): Promise<{ state: SessionState; at: number }[]> {
    const result = await this.#pool.query<{ state: SessionState; at: string | number }>(
      'SELECT state, at FROM session_states WHERE session_id = $1 ORDER BY at, ctid',
      [sessionId],
    );
    return result.rows.map((row) => ({ state: row.state, at: Number(row.at) }));
  }

  async reserveRateSlot(key: string, now: number, intervalMs: number): Promise<number> {
    // One statement: the row lock serialises collectors sharing the key.
    const result = await this.#pool.query<{ next_at: string | number }>(
      `INSERT INTO rate_slots (key, next_at) VALUES ($1, $2::bigint + $3::bigint)
       ON CONFLICT (key) DO UPDATE SET next_at = GREATEST(rate_slots.next_at, $2::bigint) + $3::bigint
       RETURNING next_at`,
      [key, now, intervalMs],
    );
    return Number(result.rows[0]!.next_at) - intervalMs;
  }

  async deferRateSlots(key: string, until: number): Promise<void> {
    await this.#pool.query(
      `INSERT INTO rate_slots (key, next_at) VALUES ($1, $2)
       ON CONFLICT (key) DO UPDATE SET next_at = GREATEST(rate_slots.next_at, excluded.next_at)`,
      [key, until],
    );
  }

  async recordRateSend(key: string, now: number, limit: number, windowMs: number): Promise<RateSendResult> {
    return this.#inTransaction(async (client) => {
      // A per-key lock: two collectors checking the same window at once would both see room.
      await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [LOCK_RATE_SENDS, key]);
      await client.query('DELETE FROM rate_sends WHERE key = $1 AND at < $2::bigint', [key, now - RATE_SEND_HORIZON_MS]);
      const recent = await client.query<{ at: number }>(
        'SELECT at FROM rate_sends WHERE key = $1 AND at > $2::bigint ORDER BY at DESC LIMIT $3',
        [key, now - windowMs, limit],
      );
      if (recent.rows.length >= limit) return { sent: false, retryAt: Number(recent.rows[limit - 1]!.at) + windowMs };
      const inserted = await client.query<{ id: number }>('INSERT INTO rate_sends (key, at) VALUES ($1, $2) RETURNING id', [key, now]);
      return { sent: true, id: Number(inserted.rows[0]!.id) };
    });
  }

  async forgetRateSend(key: string, id: number): Promise<void> {
    await this.#pool.query('DELETE FROM rate_sends WHERE key = $1 AND id = $2', [key, id]);
  }

  #txFor(client: pg.PoolClient): StoreTx {
    let savepoints = 0;
    return {
      getSession: (id) => getSession(client, id, { forUpdate: true }),
      insertSession: (session) => insertSession(client, session),
      updateSession: (id, patch) => updateSession(client, id, patch),
      insertEvent: (event) => insertEvent(client, event),
      findEventsSession: async (eventIds) => {
        if (eventIds.length === 0) return undefined;
        const result = await client.query<{ session_id: string }>('SELECT session_id FROM events WHERE id = ANY($1::text[]) LIMIT 1', [eventIds]);
        return result.rows[0]?.session_id;
      },
      markPageClicked: async (sessionId, page) =>
        (
          await client.query('INSERT INTO session_clicks (session_id, page) VALUES ($1, $2) ON CONFLICT DO NOTHING', [
            sessionId,
            page,
          ])
        ).rowCount === 1,
      enqueue: (job) => enqueue(client, job),
      findPendingJob: async (sessionId, kind) => {
        const result = await client.query(
          "SELECT * FROM outbox WHERE session_id = $1 AND kind = $2 AND state = 'pending' ORDER BY id LIMIT 1",
          [sessionId, kind],
        );
        return result.rows[0] && rowToJob(result.rows[0]);
      },
      claimDueSessions: async (now, limit) => {
        // SKIP LOCKED: a session another sweeper is taking right now is left to it.
        const result = await client.query(
          `UPDATE sessions SET due_at = NULL WHERE id IN (
             SELECT id FROM sessions WHERE due_at IS NOT NULL AND due_at <= $1 ORDER BY due_at LIMIT $2 FOR UPDATE SKIP LOCKED
           ) RETURNING *`,
          [now, limit],
        );
        return result.rows.map(rowToSession).sort((a, b) => a.lastSeenAt - b.lastSeenAt);
      },
      insertEmission: async ({ sessionId, kind, payload, now }) =>
        (
          await client.query(
            `INSERT INTO emissions (session_id, kind, status, payload, created_at, updated_at) VALUES ($1, $2, 'queued', $3, $4, $4)
             ON CONFLICT (session_id, kind) DO UPDATE SET status = 'queued', payload = excluded.payload, updated_at = excluded.updated_at
             WHERE emissions.status = 'cancelled'`,
            [sessionId, kind, JSON.stringify(payload), now],
          )
        ).rowCount === 1,
      getEmission: (sessionId, kind) => getEmission(client, sessionId, kind),
      listAbandonedByEmail: async (email) =>
        (
          await client.query(
            `SELECT * FROM sessions WHERE state = 'abandoned' AND lower(lead::json ->> 'emailAddress') = lower($1)
              ORDER BY created_at, id FOR UPDATE`,
            [email],
          )
        ).rows.map(rowToSession),
      nested: async (fn) => {
        // Unlike SQLite, a failed statement aborts the whole PostgreSQL transaction; rolling back
        // to the savepoint is what makes the transaction usable again.
        const name = `sp${++savepoints}`;
        await client.query(`SAVEPOINT ${name}`);
        try {
          const result = await fn();
          await client.query(`RELEASE SAVEPOINT ${name}`);
          return result;
        } catch (error) {
          await client.query(`ROLLBACK TO SAVEPOINT ${name}`);
          await client.query(`RELEASE SAVEPOINT ${name}`);
          throw error;
        }
      },
    };
  }
}

// --- statements shared by the pool and transaction paths ---------------------------------------

async function getSession(db: Queryable, id: string, { forUpdate = false } = {}): Promise<Session | undefined> {
  const result = await db.query(`SELECT * FROM sessions WHERE id = $1${forUpdate ? ' FOR UPDATE' : ''}`, [id]);
  return result.rows[0] && rowToSession(result.rows[0]);
}

async function insertSession(db: Queryable, session: NewSession): Promise<void> {
  await db.query(
    `INSERT INTO sessions (id, campaign_id, created_at, state_changed_at, last_seen_at, landing_url, referrer, user_agent, ip, is_bot)
     VALUES ($1, $2, $3, $3, $4, $5, $6, $7, $8, $9)`,
    [
      session.id,
      session.campaignId,
      session.createdAt,
      session.lastSeenAt,
      session.landingUrl ?? null,
      session.referrer ?? null,
      session.userAgent,
      session.ip,
      session.isBot,
    ],
  );
  await db.query("INSERT INTO session_states (session_id, state, at) VALUES ($1, 'open', $2)", [session.id, session.createdAt]);
}

/** Call inside a transaction when `patch.konnektive` is set (the merge reads, then writes). */
async function updateSession(db: Queryable, id: string, patch: SessionPatch): Promise<void> {
  const columns = patchToColumns(patch);
  if (columns.length === 0) return;
  if (patch.konnektive) {
    // Konnektive ids merge into what is known; a later response never erases an earlier id.
    // FOR UPDATE keeps a concurrent merge from another collector from being lost.
    const current = await db.query<{ konnektive: string }>('SELECT konnektive FROM sessions WHERE id = $1 FOR UPDATE', [id]);
    const known = current.rows[0] ? (JSON.parse(current.rows[0].konnektive) as KonnektiveIds) : {};
    const index = columns.findIndex(([name]) => name === 'konnektive');
    columns[index] = ['konnektive', JSON.stringify({ ...known, ...definedOnly(patch.konnektive) })];
  }
  await db.query(`UPDATE sessions SET ${columns.map(([name], i) => `${name} = $${i + 1}`).join(', ')} WHERE id = $${columns.length + 1}`, [
    ...columns.map(([, value]) => value),
    id,
  ]);
  if (patch.state !== undefined) {
    await db.query('INSERT INTO session_states (session_id, state, at) VALUES ($1, $2, $3)', [id, patch.state, patch.stateChangedAt ?? Date.now()]);
  }
}

/** Drops keys whose value is `undefined`, so spreading the result never blanks a known id. */
function definedOnly(ids: KonnektiveIds): KonnektiveIds {
  return Object.fromEntries(Object.entries(ids).filter(([, value]) => value !== undefined)) as KonnektiveIds;
}

async function getEmission(db: Queryable, sessionId: string, kind: EmissionKind): Promise<Emission | undefined> {
  const result = await db.query('SELECT * FROM emissions WHERE session_id = $1 AND kind = $2', [sessionId, kind]);
  return result.rows[0] && rowToEmission(result.rows[0]);
}

async function insertEvent(db: Queryable, event: StoredEvent): Promise<boolean> {
  const result = await db.query(
    'INSERT INTO events (id, session_id, type, received_at, payload) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING',
    [event.id, event.sessionId, event.type, event.receivedAt, JSON.stringify(event.payload)],
  );
  return result.rowCount === 1;
}

/** Finishes one job; `false` (and no change) when `owner` no longer holds its lease. */
async function completeJob(db: Queryable, id: number, owner: string, completion: JobCompletion): Promise<boolean> {
  const now = Date.now();
  // A worker whose lease expired and was taken over changes nothing: the job belongs to whoever
  // claimed it next.
  const guard = "WHERE id = $1 AND state = 'running' AND lease_owner = $2";
  let result: pg.QueryResult;
  if (completion.state === 'done') {
    result = await db.query(
      `UPDATE outbox SET state = 'done', lease_owner = NULL, lease_until = NULL, attempts = attempts + 1, updated_at = $3 ${guard}`,
      [id, owner, now],
    );
  } else if (completion.state === 'pending') {
    result = await db.query(
      `UPDATE outbox SET state = 'pending', lease_owner = NULL, lease_until = NULL, run_at = $3, last_error = $4,
         attempts = attempts + $5, updated_at = $6 ${guard}`,
      [id, owner, completion.runAt, completion.error, completion.countAttempt ? 1 : 0, now],
    );
  } else {
    result = await db.query(
      `UPDATE outbox SET state = 'dead', lease_owner = NULL, lease_until = NULL, last_error = $3, attempts = attempts + 1,
         updated_at = $4 ${guard}`,
      [id, owner, completion.error, now],
    );
  }
  return result.rowCount === 1;
}

async function recordAttempt(db: Queryable, attempt: DeliveryAttempt): Promise<void> {
  await db.query(
    `INSERT INTO delivery_attempts (job_id, upstream, endpoint, request, response, outcome, http_status, latency_ms, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
    [
      attempt.jobId,
      attempt.upstream,
      attempt.endpoint,
      attempt.request,
      attempt.response,
      attempt.outcome,
      attempt.httpStatus ?? null,
      Math.round(attempt.latencyMs),
      attempt.createdAt,
    ],
  );
}

/**
 * A round's session patches lock session rows in job order while ingest transactions lock them
 * in request order, so the two can deadlock now and then; PostgreSQL then aborts one of them.
 * The aborted round changed nothing, so running it again is safe and saves the jobs from being
 * redone after their leases expire.
 */
async function retryOnDeadlock<T>(fn: () => Promise<T>, tries = 6): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (error) {
      if (attempt >= tries || !isTransactionConflict(error)) throw error;
      // Both victims of a deadlock run again; at the same instant they can meet again. A short
      // random wait, growing with each attempt, lets one of them go first.
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 10 * attempt));
    }
  }
}

async function enqueue(db: Queryable, job: NewJob): Promise<number> {
  // Serialise enqueues per session until commit. Without this, two transactions could take ids
  // 10 and 11 for one session and commit 11 first; a claimer would run 11, then find 10 as the
  // head and run it alongside. Held to commit, the lock makes a session's ids follow commit order.
  await db.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [LOCK_SESSION_OUTBOX, job.sessionId]);
  const now = Date.now();
  const result = await db.query<{ id: number }>(
    'INSERT INTO outbox (session_id, upstream, kind, payload, run_at, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id',
    [job.sessionId, job.upstream, job.kind, JSON.stringify(job.payload), job.runAt, now, now],
  );
  return result.rows[0]!.id;
}
