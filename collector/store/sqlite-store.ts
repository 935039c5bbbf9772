/**
 * @module sqlite-store
 * The embedded store: one SQLite file in WAL mode. better-sqlite3 is synchronous; every operation runs under
 * one {@link AsyncMutex} so that a transaction spanning `await`s never interleaves with another
 * caller's writes.
 *
 * Durability without blocking: SQLite runs with `synchronous=NORMAL` (a commit is written to the
 * WAL but not fsynced), and writes that must survive a power cut (ingest transactions, an emission
 * marked `sending`) then fsync the WAL file on libuv's thread pool before they resolve. The
 * outcome is the same as `synchronous=FULL`, but the event loop keeps serving requests during the
 * fsync, and one fsync covers every commit written before it started. Worker bookkeeping (claims,
 * completions) skips the fsync: losing one to a power cut only means a job runs again, which the
 * outbox allows anyway.
 */
import { mkdirSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { AsyncMutex } from './async-mutex.js';
import { SQLITE_MIGRATIONS } from './sqlite-migrations.js';
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
  CartOutcome,
  FunnelReport,
  OrderOutcome,
} from './store.js';
import { RATE_SEND_HORIZON_MS } from './store.js';
import { foldReport, OUTCOME_SQL, reportParams } from './outcome-queries.js';
import { patchToColumns, rowToAttempt, rowToEmission, rowToJob, rowToSession, type Row } from './rows.js';

type Db = Database.Database;

export class SqliteStore implements Store {
  readonly kind = 'sqlite' as const;
  readonly #db: Db;
  readonly #lock = new AsyncMutex();
  #savepoints = 0;

  readonly #path: string;

  constructor(path: string) {
    this.#path = path;
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.#db = new Database(path);
    this.#db.pragma('journal_mode = WAL');
    this.#db.pragma('synchronous = NORMAL');
    this.#db.pragma('foreign_keys = ON');
    this.#db.pragma('busy_timeout = 5000');
    // Each ingest request runs in a savepoint; its journal of touched pages stays in memory.
    this.#db.pragma('temp_store = MEMORY');
    // Random ids dirty many pages per commit; checkpoint the WAL every ~40 MB instead of ~4 MB.
    this.#db.pragma('wal_autocheckpoint = 10000');
  }

  /** `file:./data/x.db` or `file::memory:` to a path better-sqlite3 understands. */
  static fromUrl(url: string): SqliteStore {
    const path = url.replace(/^file:(\/\/)?/, '');
    return new SqliteStore(path === ':memory:' || path === '' ? ':memory:' : path);
  }

  migrate(): Promise<void> {
    return this.#lock.run(() => {
      this.#db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)');
      const applied = new Set(
        this.#db.prepare('SELECT version FROM schema_migrations').all().map((row) => (row as { version: number }).version),
      );
      for (const migration of SQLITE_MIGRATIONS) {
        if (applied.has(migration.version)) continue;
        this.#db.transaction(() => {
          this.#db.exec(migration.sql);
          this.#db.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)').run(migration.version, Date.now());
        }).immediate();
      }
    });
  }

  async transaction<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> {
    const result = await this.#lock.run(async () => {
      this.#db.exec('BEGIN IMMEDIATE');
      try {
        const value = await fn(this.#tx);
        this.#db.exec('COMMIT');
        return value;
      } catch (error) {
        if (this.#db.inTransaction) this.#db.exec('ROLLBACK');
        throw error;
      }
    });
    await this.#syncWal();
    return result;
  }

  readonly #tx: StoreTx = {
    getSession: async (id) => this.#getSession(id),
    insertSession: async (session) => this.#insertSession(session),
    updateSession: async (id, patch) => this.#updateSession(id, patch),
    insertEvent: async (event) => this.#insertEvent(event),
    findEventsSession: async (eventIds) => {
      if (eventIds.length === 0) return undefined;
      const row = this.#stmt(`SELECT session_id FROM events WHERE id IN (${eventIds.map(() => '?').join(', ')}) LIMIT 1`).get(...eventIds) as
        | Row
        | undefined;
      return row === undefined ? undefined : String(row.session_id);
    },
    markPageClicked: async (sessionId, page) =>
      this.#stmt('INSERT OR IGNORE INTO session_clicks (session_id, page) VALUES (?, ?)').run(sessionId, page).changes === 1,
    enqueue: async (job) => this.#enqueue(job),
    findPendingJob: async (sessionId, kind) => {
      const row = this.#stmt(
        // The redundant IN term lets SQLite use the partial index of unfinished jobs (else: a full scan).
        "SELECT * FROM outbox WHERE session_id = ? AND kind = ? AND state IN ('pending', 'running') AND state = 'pending' ORDER BY id LIMIT 1",
      ).get(sessionId, kind) as Row | undefined;
      return row && rowToJob(row);
    },
    claimDueSessions: async (now, limit) => {
      const rows = this.#stmt('SELECT * FROM sessions WHERE due_at IS NOT NULL AND due_at <= ? ORDER BY due_at LIMIT ?').all(now, limit) as Row[];
      const clear = this.#stmt('UPDATE sessions SET due_at = NULL WHERE id = ?');
      for (const row of rows) clear.run(row.id);
      return rows.map((row) => ({ ...rowToSession(row), dueAt: undefined }));
    },
    insertEmission: async ({ sessionId, kind, payload, now }) =>
      this.#stmt(
        `INSERT INTO emissions (session_id, kind, status, payload, created_at, updated_at) VALUES (?, ?, 'queued', ?, ?, ?)
         ON CONFLICT (session_id, kind) DO UPDATE SET status = 'queued', payload = excluded.payload, updated_at = excluded.updated_at
         WHERE emissions.status = 'cancelled'`,
      ).run(sessionId, kind, JSON.stringify(payload), now, now).changes === 1,
    getEmission: async (sessionId, kind) => this.#getEmission(sessionId, kind),
    listAbandonedByEmail: async (email) =>
      (
        this.#stmt(
          "SELECT * FROM sessions WHERE state = 'abandoned' AND lower(json_extract(lead, '$.emailAddress')) = lower(?) ORDER BY created_at, id",
        ).all(email) as Row[]
      ).map(rowToSession),
    nested: async (fn) => {
      const name = `sp${++this.#savepoints}`;
      this.#db.exec(`SAVEPOINT ${name}`);
      try {
        const result = await fn();
        this.#db.exec(`RELEASE ${name}`);
        return result;
      } catch (error) {
        this.#db.exec(`ROLLBACK TO ${name}`);
        this.#db.exec(`RELEASE ${name}`);
        throw error;
      }
    },
  };

  sql(): SqlAccess {
    const inside: SqlAccess = {
      dialect: 'sqlite',
      all: async <R>(sql: string, params: readonly unknown[] = []) => this.#stmt(sql).all(...params) as R[],
      run: async (sql, params = []) => this.#stmt(sql).run(...params).changes,
      transaction: (fn) => fn(inside),
    };
    return {
      dialect: 'sqlite',
      all: <R>(sql: string, params: readonly unknown[] = []) => this.#lock.run(() => this.#stmt(sql).all(...params) as R[]),
      run: (sql, params = []) => this.#lock.run(() => this.#stmt(sql).run(...params).changes),
      transaction: (fn) =>
        this.#lock.run(async () => {
          this.#db.exec('BEGIN IMMEDIATE');
          try {
            const value = await fn(inside);
            this.#db.exec('COMMIT');
            return value;
          } catch (error) {
            if (this.#db.inTransaction) this.#db.exec('ROLLBACK');
            throw error;
          }
        }),
    };
  }

  getSession(id: string): Promise<Session | undefined> {
    return this.#lock.run(() => this.#getSession(id));
  }

  updateSession(id: string, patch: SessionPatch): Promise<void> {
    return this.#lock.run(() => this.#updateSession(id, patch));
  }

  claimJobs(options: ClaimOptions): Promise<Job[]> {
    return this.#lock.run(() =>
      (() => {
        const claim = this.#db.transaction(() => {
          const skip = options.skipUpstreams.map(() => '?').join(', ');
          const rows = this.#stmt(
            `SELECT o.* FROM outbox o
              WHERE ((o.state = 'pending' AND o.run_at <= ?) OR (o.state = 'running' AND o.lease_until < ?))
                ${skip ? `AND o.upstream NOT IN (${skip})` : ''}
                AND o.id = (SELECT MIN(h.id) FROM outbox h WHERE h.session_id = o.session_id AND h.state IN ('pending', 'running'))
                -- A replayed dead letter can become the head while a later job of its session still runs.
                AND NOT EXISTS (SELECT 1 FROM outbox r WHERE r.session_id = o.session_id AND r.id <> o.id
                                AND r.state IN ('pending', 'running') AND r.state = 'running' AND r.lease_until >= ?)
              ORDER BY o.run_at, o.id
              LIMIT ?`,
          ).all(options.now, options.now, ...options.skipUpstreams, options.now, options.limit) as Row[];
          const lease = this.#stmt(
            "UPDATE outbox SET state = 'running', lease_owner = ?, lease_until = ?, updated_at = ? WHERE id = ?",
          );
          for (const row of rows) lease.run(options.owner, options.now + options.leaseMs, options.now, row.id);
          return rows.map((row) => ({ ...rowToJob(row), state: 'running' as const }));
        });
        return claim.immediate();
      })(),
    );
  }

  completeJobs(owner: string, jobs: readonly JobFinish[]): Promise<boolean[]> {
    return this.#lock.run(() =>
      this.#db
        .transaction(() =>
          jobs.map((job) => {
            for (const attempt of job.attempts) this.#recordAttempt(attempt);
            const held = this.#completeJob(job.id, owner, job.completion);
            if (held && job.sessionPatch) this.#updateSession(job.sessionId, job.sessionPatch);
            return held;
          }),
        )
        .immediate(),
    );
  }

  renewLeases(owner: string, jobIds: readonly number[], leaseUntil: number): Promise<void> {
    return this.#lock.run(() => {
      const renew = this.#stmt("UPDATE outbox SET lease_until = ? WHERE id = ? AND state = 'running' AND lease_owner = ?");
      for (const id of jobIds) renew.run(leaseUntil, id, owner);
    });
  }

  releaseClaims(owner: string): Promise<number> {
    return this.#lock.run(
      () =>
        this.#stmt(
          "UPDATE outbox SET state = 'pending', lease_owner = NULL, lease_until = NULL, updated_at = ? WHERE state = 'running' AND lease_owner = ?",
        ).run(Date.now(), owner).changes,
    );
  }

  replayDeadJobs(now: number): Promise<number> {
    return this.#lock.run(
      () =>
        this.#stmt("UPDATE outbox SET state = 'pending', attempts = 0, run_at = ?, updated_at = ? WHERE state = 'dead'").run(now, now)
          .changes,
    );
  }

  countJobsByState(): Promise<Record<JobState, number>> {
    return this.#lock.run(() => {
      const counts: Record<JobState, number> = { pending: 0, running: 0, done: 0, dead: 0 };
      for (const row of this.#stmt('SELECT state, COUNT(*) AS n FROM outbox GROUP BY state').all() as { state: JobState; n: number }[]) {
        counts[row.state] = row.n;
      }
      return counts;
    });
  }

  listJobs(filter: { sessionId?: string; state?: JobState }): Promise<Job[]> {
    return this.#lock.run(() =>
      (
        this.#stmt('SELECT * FROM outbox WHERE (? IS NULL OR session_id = ?) AND (? IS NULL OR state = ?) ORDER BY id').all(
          filter.sessionId ?? null,
          filter.sessionId ?? null,
          filter.state ?? null,
          filter.state ?? null,
        ) as Row[]
      ).map(rowToJob),
    );
  }

  listEvents(sessionId: string): Promise<StoredEvent[]> {
    return this.#lock.run(() =>
      (this.#stmt('SELECT * FROM events WHERE session_id = ? ORDER BY rowid').all(sessionId) as Row[]).map((row) => ({
        id: String(row.id),
        sessionId: String(row.session_id),
        type: String(row.type),
        receivedAt: Number(row.received_at),
        payload: JSON.parse(String(row.payload)),
      })),
    );
  }

  listAttempts(jobId?: number): Promise<DeliveryAttempt[]> {
    return this.#lock.run(() =>
      (this.#stmt('SELECT * FROM delivery_attempts WHERE (? IS NULL OR job_id = ?) ORDER BY id').all(jobId ?? null, jobId ?? null) as Row[]).map(
        rowToAttempt,
      ),
    );
  }

  countSessions(): Promise<number> {
    return this.#lock.run(() => Number((this.#stmt('SELECT COUNT(*) AS n FROM sessions').get() as Row).n));
  }

  getEmission(sessionId: string, kind: EmissionKind): Promise<Emission | undefined> {
    return this.#lock.run(() => this.#getEmission(sessionId, kind));
  }

  async updateEmission(sessionId: string, kind: EmissionKind, change: { status: EmissionStatus; remoteId?: string; now: number }): Promise<void> {
    await this.#lock.run(() => {
      // `sending` must be on disk before the upstream call it announces.
      this.#stmt('UPDATE emissions SET status = ?, remote_id = COALESCE(?, remote_id), updated_at = ? WHERE session_id = ? AND kind = ?').run(
        change.status,
        change.remoteId ?? null,
        change.now,
        sessionId,
        kind,
      );
    });
    await this.#syncWal();
  }

  listEmissions(filter: { sessionId?: string } = {}): Promise<Emission[]> {
    return this.#lock.run(() =>
      (this.#stmt('SELECT * FROM emissions WHERE (? IS NULL OR session_id = ?) ORDER BY created_at, session_id, kind').all(
        filter.sessionId ?? null,
        filter.sessionId ?? null,
      ) as Row[]).map(rowToEmission),
    );
  }

  listStateChanges(sessionId: string): Promise<{ state: SessionState; at: number }[]> {
    return this.#lock.run(() =>
      (this.#stmt('SELECT state, at FROM session_states WHERE session_id = ? ORDER BY at, rowid').all(sessionId) as Row[]).map((row) => ({
        state: String(row.state) as SessionState,
        at: Number(row.at),
      })),
    );
  }

  reserveRateSlot(key: string, now: number, intervalMs: number): Promise<number> {
    return this.#lock.run(() => {
      const row = this.#stmt(
        `INSERT INTO rate_slots (key, next_at) VALUES (?, ? + ?)
         ON CONFLICT (key) DO UPDATE SET next_at = MAX(next_at, ?) + ?
         RETURNING next_at`,
      ).get(key, now, intervalMs, now, intervalMs) as Row;
      return Number(row.next_at) - intervalMs;
    });
  }

  deferRateSlots(key: string, until: number): Promise<void> {
    return this.#lock.run(() => {
      this.#stmt('INSERT INTO rate_slots (key, next_at) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET next_at = MAX(next_at, excluded.next_at)').run(
        key,
        until,
      );
    });
  }

  recordRateSend(key: string, now: number, limit: number, windowMs: number): Promise<RateSendResult> {
    return this.#lock.run(() =>
      this.#db
        .transaction((): RateSendResult => {
          this.#stmt('DELETE FROM rate_sends WHERE key = ? AND at < ?').run(key, now - RATE_SEND_HORIZON_MS);
          const recent = this.#stmt('SELECT at FROM rate_sends WHERE key = ? AND at > ? ORDER BY at DESC LIMIT ?').all(
            key,
            now - windowMs,
            limit,
          ) as Row[];
          if (recent.length >= limit) return { sent: false, retryAt: Number(recent[limit - 1]!.at) + windowMs };
          const inserted = this.#stmt('INSERT INTO rate_sends (key, at) VALUES (?, ?)').run(key, now);
          return { sent: true, id: Number(inserted.lastInsertRowid) };
        })
        .immediate(),
    );
  }

  /**
   * Each purge batch fsyncs the WAL before it returns: otherwise its pages would wait for the
   * next ingest commit's fsync, and a run of batches would make one request pay for flushing
   * megabytes (measured: answers held for 1.5 s). This way an ingest fsync carries at most one
   * batch of purge writes.
   */
  async purgeSessions(options: PurgeSessionsOptions): Promise<SessionPurge> {
    const result = await this.#purgeSessions(options);
    await this.#syncWal();
    return result;
  }

  async purgeHistory(options: { cutoff: number; limit: number }): Promise<number> {
    const result = await this.#purgeHistory(options);
    await this.#syncWal();
    return result;
  }

  #purgeSessions({ cutoff, limit, after }: PurgeSessionsOptions): Promise<SessionPurge> {
    return this.#lock.run(() =>
      this.#db
        .transaction((): SessionPurge => {
          const rows = this.#stmt(
            `SELECT s.id, s.created_at, s.is_bot, s.lead FROM sessions s
              WHERE s.created_at < ? AND (s.created_at, s.id) > (?, ?)
                AND s.last_seen_at < ? AND s.state_changed_at < ? AND s.due_at IS NULL
                AND (s.state IN ('complete', 'expired', 'closed') OR (s.state = 'open' AND s.is_bot = 1)
                     OR (s.state = 'abandoned' AND EXISTS (SELECT 1 FROM emissions e WHERE e.session_id = s.id AND e.kind = 'cart' AND e.status = 'sent')))
                AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.session_id = s.id AND o.state IN ('pending', 'running'))
                AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.session_id = s.id AND o.state = 'dead')
                AND NOT EXISTS (SELECT 1 FROM emissions e WHERE e.session_id = s.id AND e.status IN ('queued', 'sending'))
              ORDER BY s.created_at, s.id
              LIMIT ?`,
          ).all(cutoff, after?.createdAt ?? Number.MIN_SAFE_INTEGER, after?.id ?? '', cutoff, cutoff, limit) as Row[];
          const pages = this.#stmt('SELECT page FROM session_clicks WHERE session_id = ?').pluck();
          const emissions = this.#stmt('SELECT kind, status, payload FROM emissions WHERE session_id = ?');
          const purged: PurgedSession[] = rows.map((row) => ({
            session: { id: String(row.id), createdAt: Number(row.created_at), isBot: Boolean(row.is_bot), lead: JSON.parse(String(row.lead)) },
            pages: pages.all(row.id) as string[],
            emissions: (emissions.all(row.id) as Row[]).map((e) => ({
              kind: String(e.kind) as EmissionKind,
              status: String(e.status) as EmissionStatus,
              payload: JSON.parse(String(e.payload)) as Record<string, unknown>,
            })),
          }));
          const add = this.#stmt(
            `INSERT INTO daily_rollups (day, metric, currency, value) VALUES (?, ?, ?, ?)
             ON CONFLICT (day, metric, currency) DO UPDATE SET value = value + excluded.value`,
          );
          for (const [key, value] of rollupsOf(purged)) {
            const { day, metric, currency } = splitRollupKey(key);
            add.run(day, metric, currency, value);
          }
          let deleted = 0;
          for (const table of ['events', 'session_clicks', 'session_states', 'emissions']) {
            const remove = this.#stmt(`DELETE FROM ${table} WHERE session_id = ?`);
            for (const row of rows) deleted += remove.run(row.id).changes;
          }
          const removeSession = this.#stmt('DELETE FROM sessions WHERE id = ?');
          for (const row of rows) deleted += removeSession.run(row.id).changes;
          const last = rows.at(-1);
          return {
            sessions: rows.length,
            rows: deleted,
            next: rows.length === limit && last ? { createdAt: Number(last.created_at), id: String(last.id) } : undefined,
          };
        })
        .immediate(),
    );
  }

  forgetRateSend(key: string, id: number): Promise<void> {
    return this.#lock.run(() => {
      this.#stmt('DELETE FROM rate_sends WHERE key = ? AND id = ?').run(key, id);
    });
  }

  #purgeHistory({ cutoff, limit }: { cutoff: number; limit: number }): Promise<number> {
    return this.#lock.run(() =>
      this.#db
        .transaction(() => {
          const attempts = this.#stmt(
            `DELETE FROM delivery_attempts WHERE id IN (
               SELECT a.id FROM delivery_attempts a
                WHERE a.created_at < ? AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.id = a.job_id AND o.state <> 'done')
                ORDER BY a.created_at LIMIT ?)`,
          ).run(cutoff, limit).changes;
          const jobs = this.#stmt(
            "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE state = 'done' AND updated_at < ? ORDER BY updated_at LIMIT ?)",
          ).run(cutoff, limit).changes;
          return attempts + jobs;
        })
        .immediate(),
    );
  }

  listDailyRollups(filter: { fromDay?: string; toDay?: string } = {}): Promise<DailyRollup[]> {
    return this.#lock.run(() =>
      (
        this.#stmt(
          'SELECT day, metric, currency, value FROM daily_rollups WHERE (? IS NULL OR day >= ?) AND (? IS NULL OR day <= ?) ORDER BY day, metric, currency',
        ).all(filter.fromDay ?? null, filter.fromDay ?? null, filter.toDay ?? null, filter.toDay ?? null) as Row[]
      ).map((row) => ({ day: String(row.day), metric: String(row.metric), currency: String(row.currency), value: Number(row.value) })),
    );
  }

  recordCartOutcome(cart: CartOutcome): Promise<void> {
    return this.#lock.run(() => {
      this.#stmt(OUTCOME_SQL.cart).run(cart.sessionId, cart.at, cart.totalCents, cart.currency, cart.linkExpiresAt);
    });
  }

  recordRecoveryClick(sessionId: string, at: number): Promise<void> {
    return this.#lock.run(() => {
      this.#stmt(OUTCOME_SQL.click).run(sessionId, at, at);
    });
  }

  recordRecoveryReturn(sessionId: string, at: number): Promise<void> {
    return this.#lock.run(() => {
      this.#stmt(OUTCOME_SQL.return).run(sessionId, at);
    });
  }

  recordOrderOutcome(order: OrderOutcome): Promise<void> {
    return this.#lock.run(() => {
      this.#stmt(OUTCOME_SQL.order).run(order.sessionId, order.at, order.totalCents, order.currency, order.recoversCart ? 1 : 0);
    });
  }

  funnelReport(since: number, until: number): Promise<FunnelReport> {
    return this.#lock.run(() =>
      foldReport(since, until, {
        sessions: this.#stmt(OUTCOME_SQL.sessions.replace('{notBot}', 'is_bot = 0')).get(...reportParams.sessions(since, until)) as Row,
        carts: this.#stmt(OUTCOME_SQL.carts).all(...reportParams.carts(since, until)) as Row[],
        recovered: this.#stmt(OUTCOME_SQL.recovered).all(...reportParams.recovered(since, until)) as Row[],
        orders: this.#stmt(OUTCOME_SQL.orders).all(...reportParams.orders(since, until)) as Row[],
      }),
    );
  }

  getMeta(key: string): Promise<string | undefined> {
    return this.#lock.run(() => {
      const row = this.#stmt('SELECT value FROM meta WHERE key = ?').get(key) as Row | undefined;
      return row === undefined ? undefined : String(row.value);
    });
  }

  setMetaIfAbsent(key: string, value: string): Promise<string> {
    return this.#lock.run(() => {
      this.#stmt('INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)').run(key, value);
      return String((this.#stmt('SELECT value FROM meta WHERE key = ?').get(key) as Row).value);
    });
  }

  ping(): Promise<void> {
    return this.#lock.run(() => {
      this.#stmt('SELECT 1').get();
    });
  }

  async close(): Promise<void> {
    await this.#syncing;
    await this.#lock.run(() => {
      if (this.#db.open) this.#db.close();
    });
    const wal = await this.#wal;
    this.#wal = undefined;
    await wal?.close();
  }

  // --- durability ---------------------------------------------------------------------------

  #wal: Promise<FileHandle | undefined> | undefined;
  #syncing: Promise<void> | undefined;
  #syncAgain = false;

  /**
   * Makes every commit so far durable: fsyncs the WAL file off the event loop. Callers arriving
   * while an fsync runs share the next one (it starts after theirs committed).
   */
  async #syncWal(): Promise<void> {
    if (this.#path === ':memory:') return;
    if (this.#syncing) {
      this.#syncAgain = true;
      while (this.#syncing) await this.#syncing;
      return;
    }
    this.#syncing = (async () => {
      try {
        do {
          this.#syncAgain = false;
          this.#wal ??= open(`${this.#path}-wal`, 'r').catch(() => undefined);
          const wal = await this.#wal;
          if (wal) await wal.sync();
          else this.#wal = undefined;
        } while (this.#syncAgain);
      } finally {
        this.#syncing = undefined;
      }
    })();
    await this.#syncing;
  }

  // --- unlocked helpers, called only while the lock is held ---------------------------------



  readonly #statements = new Map<string, Database.Statement>();

  #stmt(sql: string): Database.Statement {
    let statement = this.#statements.get(sql);
    if (!statement) {
      statement = this.#db.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  #getSession(id: string): Session | undefined {
    const row = this.#stmt('SELECT * FROM sessions WHERE id = ?').get(id) as Row | undefined;
    return row && rowToSession(row);
  }

  #insertSession(session: NewSession): void {
    this.#stmt(
      `INSERT INTO sessions (id, campaign_id, created_at, state_changed_at, last_seen_at, landing_url, referrer, user_agent, ip, is_bot)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      session.id,
      session.campaignId,
      session.createdAt,
      session.createdAt,
      session.lastSeenAt,
      session.landingUrl ?? null,
      session.referrer ?? null,
      session.userAgent,
      session.ip,
      session.isBot ? 1 : 0,
    );
    this.#recordState(session.id, 'open', session.createdAt);
  }

  #updateSession(id: string, patch: SessionPatch): void {
    const columns = patchToColumns(patch);
    if (columns.length === 0) return;
    if (patch.konnektive) {
      // Konnektive ids merge into what is known; a later response never erases an earlier id
      // (keys whose value is undefined are dropped first, or the spread would blank them).
      const current = this.#getSession(id);
      const index = columns.findIndex(([name]) => name === 'konnektive');
      const incoming = Object.fromEntries(Object.entries(patch.konnektive).filter(([, value]) => value !== undefined));
      columns[index] = ['konnektive', JSON.stringify({ ...current?.konnektive, ...incoming })];
    }
    this.#stmt(`UPDATE sessions SET ${columns.map(([name]) => `${name} = ?`).join(', ')} WHERE id = ?`).run(
      ...columns.map(([, value]) => value),
      id,
    );
    if (patch.state !== undefined) this.#recordState(id, patch.state, patch.stateChangedAt ?? Date.now());
  }

  #recordState(sessionId: string, state: SessionState, at: number): void {
    this.#stmt('INSERT INTO session_states (session_id, state, at) VALUES (?, ?, ?)').run(sessionId, state, at);
  }

  #getEmission(sessionId: string, kind: EmissionKind): Emission | undefined {
    const row = this.#stmt('SELECT * FROM emissions WHERE session_id = ? AND kind = ?').get(sessionId, kind) as Row | undefined;
    return row && rowToEmission(row);
  }

  #insertEvent(event: StoredEvent): boolean {
    return (
      this.#stmt('INSERT OR IGNORE INTO events (id, session_id, type, received_at, payload) VALUES (?, ?, ?, ?, ?)').run(
        event.id,
        event.sessionId,
        event.type,
        event.receivedAt,
        JSON.stringify(event.payload),
      ).changes === 1
    );
  }

  #completeJob(id: number, owner: string, completion: JobCompletion): boolean {
    const now = Date.now();
    const guard = "WHERE id = ? AND state = 'running' AND lease_owner = ?";
    if (completion.state === 'done') {
      return (
        this.#stmt(`UPDATE outbox SET state = 'done', lease_owner = NULL, lease_until = NULL, attempts = attempts + 1, updated_at = ? ${guard}`).run(
          now,
          id,
          owner,
        ).changes === 1
      );
    }
    if (completion.state === 'pending') {
      return (
        this.#stmt(
          `UPDATE outbox SET state = 'pending', lease_owner = NULL, lease_until = NULL, run_at = ?, last_error = ?,
             attempts = attempts + ?, updated_at = ? ${guard}`,
        ).run(completion.runAt, completion.error, completion.countAttempt ? 1 : 0, now, id, owner).changes === 1
      );
    }
    return (
      this.#stmt(
        `UPDATE outbox SET state = 'dead', lease_owner = NULL, lease_until = NULL, last_error = ?, attempts = attempts + 1,
           updated_at = ? ${guard}`,
      ).run(completion.error, now, id, owner).changes === 1
    );
  }

  #recordAttempt(attempt: DeliveryAttempt): void {
    this.#stmt(
      `INSERT INTO delivery_attempts (job_id, upstream, endpoint, request, response, outcome, http_status, latency_ms, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      attempt.jobId,
      attempt.upstream,
      attempt.endpoint,
      attempt.request,
      attempt.response,
      attempt.outcome,
      attempt.httpStatus ?? null,
      Math.round(attempt.latencyMs),
      attempt.createdAt,
    );
  }

  #enqueue(job: NewJob): number {
    const now = Date.now();
    return Number(
      this.#stmt(
        'INSERT INTO outbox (session_id, upstream, kind, payload, run_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
      ).run(job.sessionId, job.upstream, job.kind, JSON.stringify(job.payload), job.runAt, now, now).lastInsertRowid,
    );
  }
}
