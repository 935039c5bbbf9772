/**
 * @module postgres-store
 * The shared store: PostgreSQL through a `pg.Pool`, for running several collectors against one
 * database. The operations and their statements are shared with SQLite (sql-store.ts, plans.ts);
 * this file runs them. Where SQLite relies on its single writer (one process, one mutex),
 * PostgreSQL's statements take locks instead:
 *
 * - migrations run under a transaction-scoped advisory lock, so collectors starting together
 *   apply each version once;
 * - `enqueue` takes a per-session advisory lock, so a session's job ids follow commit order;
 * - `claimJobs` locks the rows it hands out with `FOR UPDATE SKIP LOCKED` (see sql-store.ts); the
 *   outbox worker's completions and claims of one moment take one transaction of two pipelined
 *   round trips (postgres-relay-round.ts);
 * - a transaction PostgreSQL aborts to break a deadlock is run again.
 *
 * `int8` values (BIGINT timestamps, BIGSERIAL ids, COUNT(*)) are parsed to numbers by a type
 * parser private to this pool; the process-wide pg parsers are left alone.
 */
import pg from 'pg';
import { systemClock, type Clock } from '../clock.js';
import { postgresDialect } from './dialect.js';
import { POSTGRES_PLANS } from './plans.js';
import { POSTGRES_MIGRATIONS } from './postgres-migrations.js';
import { SqlStore, type Exec } from './sql-store.js';
import { ATTRIBUTION_EVENTS, isTransactionConflict, RECENT_PAGE_VIEWS, type ClaimOptions, type JobFinish, type RelayRound, type Session, type StoredEvent, type StoreTx } from './store.js';
import { BatchedReads } from './batched-reads.js';
import { relayRoundPipelined } from './postgres-relay-round.js';
import { POSTGRES_COMPLETION_PLANS } from './postgres-group-plans.js';
import { rowToEvent, rowToSession } from './rows.js';
import type { GroupReads } from './group-tx.js';
import { writeGroup } from './postgres-group-write.js';
import type { PageName } from '../wire-schema.js';
import type { GroupWriter, StoreCounts } from './group-writer.js';

/** Schema names are put into a connection option and DDL, so only plain identifiers are accepted. */
const SCHEMA_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

export interface PostgresStoreOptions {
  /** Schema holding funnelbeacon's tables; created by `migrate`. Overrides `?schema=` in the URL. */
  schema?: string;
  /** The time the store writes (job timestamps, state changes without one); the wall clock by default. */
  clock?: Clock;
  /** Bench only (open-store.ts): `synchronous_commit=off` instead of `on`. */
  unsafeSkipDurability?: boolean;
}

export class PostgresStore extends SqlStore implements GroupWriter {
  readonly kind = 'postgres' as const;
  /**
   * Commit groups written at once, each on its own pipelined connection: while one waits for its
   * COMMIT, the next reads. More would only make groups smaller (more commits per request).
   */
  readonly groupWriters = 2;
  readonly #pool: pg.Pool;
  /** The commit groups' and the outbox worker's rounds' connections (`pipeline: true`; see postgres-group-write.ts, postgres-relay-round.ts). */
  readonly #groupPool: pg.Pool;
  readonly #schema: string | undefined;
  #closed = false;
  /** Round trips and commits, of the ingest commit groups and of everything else (`/metrics`). */
  readonly #counts: StoreCounts = { ingest: { roundTrips: 0, commits: 0 }, other: { roundTrips: 0, commits: 0 } };

  private constructor(pool: pg.Pool, groupPool: pg.Pool, schema: string | undefined, clock: Clock) {
    super(postgresDialect, POSTGRES_PLANS, clock, POSTGRES_MIGRATIONS);
    this.#pool = pool;
    this.#groupPool = groupPool;
    this.#schema = schema;
    // An idle pooled connection that breaks (server restart) is dropped by the pool; without a
    // listener the 'error' event would crash the process. The next query opens a fresh
    // connection and reports any lasting failure to its own caller.
    this.#pool.on('error', () => {});
    this.#groupPool.on('error', () => {});
  }

  /** Times this store waited on the server so far (a pipelined batch counts once). */
  get roundTrips(): number {
    return this.#counts.ingest.roundTrips + this.#counts.other.roundTrips;
  }

  /** Sessions read in the same turn of the event loop (the worker's jobs, started together) share one query. */
  readonly #sessionReads = new BatchedReads<string, Session>(async (ids) => {
    const rows = await this.db.rows(POSTGRES_COMPLETION_PLANS.sessions, [ids]);
    return new Map(rows.map((row) => [String(row.id), rowToSession(row)]));
  });

  /**
   * A session's attribution events and its latest view of a page, read by every conversion and
   * postback job's handler: the reads that arrive together share one query, as sessions do.
   */
  readonly #attributionReads = new BatchedReads<string, StoredEvent[]>(async (ids) => {
    const rows = await this.db.rows(POSTGRES_COMPLETION_PLANS.attributionEvents, [ids, ATTRIBUTION_EVENTS]);
    const found = new Map<string, StoredEvent[]>(ids.map((id) => [id, []]));
    for (const row of rows) found.get(String(row.session_id))?.push(rowToEvent(row));
    return found;
  });

  readonly #pageViewReads = new BatchedReads<string, StoredEvent>(async (keys) => {
    const asked = keys.map((key) => key.split('\u0000') as [string, string]);
    const rows = await this.db.rows(POSTGRES_COMPLETION_PLANS.lastPageViews, [asked.map(([id]) => id), asked.map(([, page]) => page), RECENT_PAGE_VIEWS]);
    return new Map(rows.map((row) => [keys[Number(row.n) - 1]!, rowToEvent(row)]));
  });

  override async listAttributionEvents(sessionId: string): Promise<StoredEvent[]> {
    return (await this.#attributionReads.read(sessionId)) ?? [];
  }

  override lastPageView(sessionId: string, page: PageName): Promise<StoredEvent | undefined> {
    return this.#pageViewReads.read(`${sessionId}\u0000${page}`);
  }

  /**
   * Sessions the last claims read for their jobs' handlers, each taken by the first read of it
   * and dropped at the next turn of the event loop: only a handler starting on its claim gets
   * the claim's reading, any later read asks the server.
   */
  readonly #claimedSessions = new Map<string, Session>();

  override getSession(id: string): Promise<Session | undefined> {
    const claimed = this.#claimedSessions.get(id);
    if (claimed) {
      this.#claimedSessions.delete(id);
      return Promise.resolve(claimed);
    }
    return this.#sessionReads.read(id);
  }

  /** The worker's finished jobs, then its claims, in one transaction of two round trips (postgres-relay-round.ts). */
  override async relayRound(owner: string, finishes: readonly JobFinish[], claims: readonly ClaimOptions[]): Promise<RelayRound> {
    if (finishes.length === 0 && claims.length === 0) return { held: [], claimed: [] };
    const counts = this.#counts.other;
    const { held, claimed, sessions } = await retryOnDeadlock(() =>
      relayRoundPipelined(
        { pool: this.#groupPool, now: this.clock.now(), roundTrip: () => counts.roundTrips++, committed: () => counts.commits++ },
        owner,
        finishes,
        claims,
      ),
    );
    if (sessions.size > 0) {
      for (const [id, session] of sessions) this.#claimedSessions.set(id, session);
      setImmediate(() => {
        for (const [id, session] of sessions) if (this.#claimedSessions.get(id) === session) this.#claimedSessions.delete(id);
      });
    }
    return { held, claimed };
  }

  counts(): StoreCounts {
    return { ingest: { ...this.#counts.ingest }, other: { ...this.#counts.other } };
  }

  /** A commit group in two round trips (postgres-group-write.ts); runs `fn` again after a conflict. */
  groupTransaction<T>(reads: GroupReads, fn: (tx: StoreTx) => Promise<T>): Promise<T> {
    const counts = this.#counts.ingest;
    return writeGroup({ pool: this.#groupPool, now: () => this.clock.now(), roundTrip: () => counts.roundTrips++, committed: () => counts.commits++ }, reads, fn);
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
    // The server's own `synchronous_commit` (on by default) decides when a commit is durable; the
    // bench's switch alone turns it off, to show what durability costs.
    const synchronousCommit = options.unsafeSkipDurability ? '-c synchronous_commit=off' : undefined;
    // Every statement is planned with its values and the tables as they are now. A plan kept for
    // a named statement (PostgreSQL keeps one after five runs when it looks no worse) was made
    // while the tables were small, and until the statistics are next gathered it scans them
    // whole: on a new store filling at 1,000 requests/s, the ingest's lookups by id became
    // sequential scans of every session and event (0.9k requests/s where 1.8k are possible).
    // These statements cost little to plan; the outbox claim's candidates keep theirs
    // (postgres-relay-round.ts).
    const customPlans = '-c plan_cache_mode=force_custom_plan';
    const startupOptions = [urlOptions, schema && `-c search_path=${pg.escapeIdentifier(schema)}`, customPlans, synchronousCommit].filter(Boolean).join(' ');

    // int8 -> number for this pool only. Millisecond timestamps and row ids stay far below 2^53.
    const types = new pg.TypeOverrides();
    types.setTypeParser(pg.types.builtins.INT8, (value: string) => Number(value));

    const config: pg.PoolConfig = {
      connectionString: parsed.toString(),
      ...(startupOptions ? { options: startupOptions } : {}),
      types,
    };
    // One connection per group writer, one for the outbox worker's rounds (relay-writer.ts writes
    // one at a time), one for a claim or completion of its own (`runOnce`).
    const groupPool = new pg.Pool({ ...config, pipeline: true, max: 4 });
    return new PostgresStore(new pg.Pool(config), groupPool, schema, options.clock ?? systemClock);
  }

  // Outside a transaction every statement commits on its own (PostgreSQL counts each in xact_commit).
  protected readonly db: Exec = on(
    () => this.#pool,
    () => {
      this.#counts.other.roundTrips++;
      this.#counts.other.commits++;
    },
  );

  /**
   * Inside a transaction a session is read `FOR UPDATE`: two collectors (or two commit groups)
   * applying events of one session would otherwise both merge into the row they read and the
   * second write would drop the first one's lead fields. Locks taken in different orders can
   * deadlock; PostgreSQL then aborts one transaction, which is run again (it wrote nothing).
   * Commits are durable on their own, so `durable` asks nothing more here.
   */
  protected atomically<T>(fn: (x: Exec) => Promise<T>): Promise<T> {
    return retryOnDeadlock(() => this.#inTransaction((client) => fn(on(() => client, () => this.#counts.other.roundTrips++))));
  }

  /**
   * Held until COMMIT: a second collector starting now waits here, then finds every version
   * applied (DDL is transactional: all pending versions apply together or not at all). Keyed by
   * schema so test runs in separate schemas do not queue behind each other.
   */
  protected override async beforeMigrate(x: Exec): Promise<void> {
    await this.lockMigrations(x, this.#schema ?? '');
    if (this.#schema !== undefined) await x.script(`CREATE SCHEMA IF NOT EXISTS ${pg.escapeIdentifier(this.#schema)}`);
  }

  async close(): Promise<void> {
    // pg throws when a pool is ended twice; closing is idempotent here, as in the SQLite store.
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([this.#pool.end(), this.#groupPool.end()]);
  }

  /** Runs `fn` on one dedicated connection between BEGIN and COMMIT; ROLLBACK when it throws. */
  async #inTransaction<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.#pool.connect();
    let broken = false;
    try {
      await client.query('BEGIN');
      this.#counts.other.roundTrips++;
      try {
        const result = await fn(client);
        // COMMIT of a transaction in which a statement failed (and the caller caught the error)
        // silently rolls back; PostgreSQL reports that as the ROLLBACK command. Make it loud,
        // otherwise the caller would believe its writes were durable.
        const commit = await client.query('COMMIT');
        this.#counts.other.roundTrips++;
        this.#counts.other.commits++;
        if (commit.command === 'ROLLBACK') {
          throw new Error('transaction rolled back at COMMIT: a statement inside it failed; use tx.nested() to contain failures');
        }
        return result;
      } catch (error) {
        try {
          await client.query('ROLLBACK');
          this.#counts.other.roundTrips++;
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
}

/** Statements on a pool or on one checked-out client; each is a round trip, `roundTrip` counts it. */
function on(db: () => pg.Pool | pg.PoolClient, roundTrip: () => void): Exec {
  const query = async (sql: string, params?: readonly unknown[]) => {
    const result = await db().query(sql, params as unknown[] | undefined);
    roundTrip();
    return result;
  };
  return {
    rows: async (sql, params) => (await query(sql, params)).rows,
    run: async (sql, params) => (await query(sql, params)).rowCount ?? 0,
    insert: async (sql, params) => Number((await query(sql, params)).rows[0].id),
    script: (sql) => query(sql),
  };
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
