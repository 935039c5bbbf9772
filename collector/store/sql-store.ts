/**
 * @module sql-store
 * The store's operations, written once over the statements of `plans.ts`. The two engines
 * (`sqlite-store.ts`, `postgres-store.ts`) supply only how statements run: one at a time, in a
 * transaction (with SQLite's fsync or PostgreSQL's deadlock retry), and in a savepoint.
 */
import type { Clock } from '../clock.js';
import { DAY_MS, rollupsOf, splitRollupKey, utcDay, type PurgedSession } from '../retention/rollups.js';
import type { Dialect } from './dialect.js';
import { foldReport } from './funnel-report.js';
import { LOCK_MIGRATE, LOCK_RATE_SENDS, LOCK_SESSION_OUTBOX, type Plans } from './plans.js';
import { patchToColumns, rowToAttempt, rowToEmission, rowToEvent, rowToJob, rowToSession, type Row } from './rows.js';
import type { PageName } from '../wire-schema.js';
import {
  RATE_SEND_HORIZON_MS,
  RECENT_PAGE_VIEWS,
  ATTRIBUTION_EVENTS,
  LIST_LIMIT,
  SESSIONS_PER_EMAIL,
  LIFECYCLE_GROUP_LIMIT,
  type CartOutcome,
  type ClaimOptions,
  type DailyRollup,
  type DeliveryAttempt,
  type Emission,
  type EmissionKind,
  type EmissionStatus,
  type FunnelReport,
  type Job,
  type JobCompletion,
  type RelayRound,
  type JobFinish,
  type JobState,
  type KonnektiveIds,
  type NewSession,
  type OrderOutcome,
  type PurgeSessionsOptions,
  type RateSendResult,
  type Session,
  type SessionPatch,
  type SessionPurge,
  type SessionState,
  type Store,
  type StoreTx,
  type StoredEvent,
  type SqlAccess,
} from './store.js';

/**
 * Runs one statement of `plans.ts` (already in the engine's placeholders). SQLite answers at once,
 * PostgreSQL with a promise; the operations `await` either.
 */
export interface Exec {
  /** Rows of a query, or of a statement with `RETURNING`. */
  rows(sql: string, params?: readonly unknown[]): Row[] | Promise<Row[]>;
  /** Runs a statement; the number of rows it changed. */
  run(sql: string, params?: readonly unknown[]): number | Promise<number>;
  /** Runs an INSERT ending in the dialect's `returningId`; the new row's id. */
  insert(sql: string, params: readonly unknown[]): number | Promise<number>;
  /** Runs SQL text without parameters, several statements allowed (migrations, savepoints). */
  script(sql: string): unknown;
}

export interface Migration {
  version: number;
  sql: string;
}

export abstract class SqlStore implements Store {
  abstract readonly kind: 'sqlite' | 'postgres';
  protected readonly plans: Plans;

  protected constructor(
    protected readonly dialect: Dialect,
    plans: Plans,
    protected readonly clock: Clock,
    private readonly migrations: readonly Migration[],
  ) {
    this.plans = plans;
  }

  // --- what each engine supplies ---------------------------------------------------------------

  /** Statements outside any transaction. */
  protected abstract readonly db: Exec;
  /**
   * Runs `fn` in one transaction. `durable`: the commit survives a power cut before this resolves
   * (SQLite fsyncs its WAL; PostgreSQL commits durably anyway).
   */
  protected abstract atomically<T>(fn: (x: Exec) => Promise<T>, durable?: boolean): Promise<T>;
  /** The transaction's operations; SQLite keeps one object for its one connection. */
  protected txOf(x: Exec): StoreTx {
    return this.txOperations(x);
  }
  /** Work before migrating inside the migration's transaction (PostgreSQL: lock, schema). */
  protected async beforeMigrate(_x: Exec): Promise<void> {}
  abstract close(): Promise<void>;

  // --- transactions ----------------------------------------------------------------------------

  async migrate(): Promise<void> {
    const p = this.plans;
    await this.atomically(async (x) => {
      await this.beforeMigrate(x);
      await x.script(p.createMigrations);
      const applied = new Set((await x.rows(p.appliedMigrations)).map((row) => Number(row.version)));
      for (const migration of this.migrations) {
        if (applied.has(migration.version)) continue;
        await x.script(migration.sql);
        await x.run(p.recordMigration, [migration.version, this.clock.now()]);
      }
    }, true);
  }

  transaction<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> {
    return this.atomically((x) => fn(this.txOf(x)), true);
  }

  /** Plain SQL for the dashboard's read models (`?` placeholders on both backends). */
  sql(): SqlAccess {
    const over = (x: Exec, inside: boolean): SqlAccess => ({
      dialect: this.dialect,
      all: async <R>(sql: string, params: readonly unknown[] = []) => (await x.rows(this.dialect.placeholders(sql), [...params])) as R[],
      run: async (sql, params = []) => x.run(this.dialect.placeholders(sql), [...params]),
      transaction: (fn) => (inside ? fn(over(x, true)) : this.atomically((inner) => fn(over(inner, true)))),
    });
    return over(this.db, false);
  }

  protected txOperations(x: Exec): StoreTx {
    const p = this.plans;
    const d = this.dialect;
    let savepoints = 0;
    return {
      getSession: async (id) => first(await x.rows(p.getSessionForUpdate, [id]), rowToSession),
      insertSession: (session) => this.#insertSession(x, session),
      updateSession: (id, patch) => this.#updateSession(x, id, patch),
      insertEvent: async (event, payloadJson) => {
        const changed = x.run(p.insertEvent, [event.id, event.sessionId, event.type, event.receivedAt, payloadJson ?? JSON.stringify(event.payload)]);
        return (isPromise(changed) ? await changed : changed) === 1;
      },
      findEventsSession: async (eventIds) => {
        if (eventIds.length === 0) return undefined;
        const rows = x.rows(p.eventsSession(String(eventIds.length)), eventIds);
        return first(isPromise(rows) ? await rows : rows, (row) => String(row.session_id));
      },
      spendToken: async (id, expiresAt) => {
        const changed = x.run(p.spendToken, [id, expiresAt]);
        return (isPromise(changed) ? await changed : changed) === 1;
      },
      getLifecycleSnapshot: async (kind, recordId) => first(await x.rows(p.getLifecycleSnapshot, [kind, recordId]), (row) => String(row.snapshot)),
      listLifecycleSnapshots: async (kind, groupKey) =>
        (await x.rows(p.lifecycleSnapshotsOfGroup, [kind, groupKey, LIFECYCLE_GROUP_LIMIT])).map((row) => ({ recordId: String(row.record_id), snapshot: String(row.snapshot) })),
      putLifecycleSnapshot: async ({ kind, recordId, groupKey, snapshot, now }) => {
        await x.run(p.putLifecycleSnapshot, [kind, recordId, groupKey ?? null, snapshot, now]);
      },
      insertLifecycleEvent: async ({ id, kind, customerKey, payload, now }) =>
        (await x.run(p.insertLifecycleEvent, [id, kind, customerKey, JSON.stringify(payload), now])) === 1,
      markPageClicked: async (sessionId, page) => {
        const changed = x.run(p.markPageClicked, [sessionId, page]);
        return (isPromise(changed) ? await changed : changed) === 1;
      },
      enqueue: async (job) => {
        // PostgreSQL: serialise enqueues per session until commit. Otherwise two transactions
        // could take ids 10 and 11 for one session and commit 11 first; a claimer would run 11,
        // then find 10 as the head and run it alongside. (SQLite's one writer already does this.)
        if (p.advisoryLock) await x.rows(p.advisoryLock, [LOCK_SESSION_OUTBOX, job.sessionId]);
        const now = this.clock.now();
        return x.insert(p.enqueue, [job.sessionId, job.upstream, job.kind, JSON.stringify(job.payload), job.runAt, now, now]);
      },
      findPendingJob: async (sessionId, kind) => first(await x.rows(p.pendingJob, [sessionId, kind]), rowToJob),
      claimDueSessions: async (now, limit) => {
        const rows = await x.rows(p.dueSessions, [now, limit]);
        if (rows.length > 0) await x.run(p.clearDue, [d.list(rows.map((row) => String(row.id)))]);
        return rows.map((row) => ({ ...rowToSession(row), dueAt: undefined }));
      },
      insertEmission: async ({ sessionId, kind, payload, now }) =>
        (await x.run(p.insertEmission, [sessionId, kind, JSON.stringify(payload), now, now])) === 1,
      getEmission: async (sessionId, kind) => first(await x.rows(p.getEmission, [sessionId, kind]), rowToEmission),
      listAbandonedByEmail: async (email) => (await x.rows(p.abandonedByEmail, [email, SESSIONS_PER_EMAIL])).map(rowToSession),
      listOpenCartsByEmail: async (email) => (await x.rows(p.openCartsByEmail, [email, SESSIONS_PER_EMAIL])).map(rowToSession),
      nested: async (fn) => {
        // On PostgreSQL a failed statement aborts the whole transaction; rolling back to the
        // savepoint is what makes it usable again. On SQLite it undoes the failed part's writes.
        const name = `sp${++savepoints}`;
        const begun = x.script(`SAVEPOINT ${name}`);
        if (isPromise(begun)) await begun;
        try {
          const result = await fn();
          const released = x.script(`RELEASE SAVEPOINT ${name}`);
          if (isPromise(released)) await released;
          return result;
        } catch (error) {
          await x.script(`ROLLBACK TO SAVEPOINT ${name}`);
          await x.script(`RELEASE SAVEPOINT ${name}`);
          throw error;
        }
      },
    };
  }

  // --- sessions --------------------------------------------------------------------------------

  async getSession(id: string): Promise<Session | undefined> {
    return first(await this.db.rows(this.plans.getSession, [id]), rowToSession);
  }

  async updateSession(id: string, patch: SessionPatch): Promise<void> {
    // The Konnektive merge reads then writes, and a state change writes its history too.
    if (patch.konnektive || patch.state !== undefined) await this.atomically((x) => this.#updateSession(x, id, patch));
    else await this.#updateSession(this.db, id, patch);
  }

  async sessionOfOrder(orderId: string): Promise<string | undefined> {
    const row = (await this.db.rows(this.plans.sessionOfOrder, [orderId, orderId]))[0];
    return row ? String(row.id) : undefined;
  }

  async orderHeldElsewhere(orderId: string, sessionId: string): Promise<boolean> {
    return (await this.db.rows(this.plans.orderHolder, [orderId, orderId, sessionId])).length > 0;
  }

  async countSessions(): Promise<number> {
    return Number((await this.db.rows(this.plans.countSessions))[0]?.n ?? 0);
  }

  async listStateChanges(sessionId: string, limit = LIST_LIMIT): Promise<{ state: SessionState; at: number }[]> {
    return (await this.db.rows(this.plans.listStateChanges, [sessionId, limit])).map((row) => ({ state: String(row.state) as SessionState, at: Number(row.at) }));
  }

  async listEvents(sessionId: string, limit = LIST_LIMIT): Promise<StoredEvent[]> {
    return (await this.db.rows(this.plans.listEvents, [sessionId, limit])).map(rowToEvent);
  }

  async listAttributionEvents(sessionId: string): Promise<StoredEvent[]> {
    return (await this.db.rows(this.plans.attributionEvents, [sessionId, ATTRIBUTION_EVENTS])).map(rowToEvent);
  }

  async lastPageView(sessionId: string, page: PageName): Promise<StoredEvent | undefined> {
    return first(await this.db.rows(this.plans.lastPageView, [sessionId, RECENT_PAGE_VIEWS, page]), rowToEvent);
  }

  async #insertSession(x: Exec, session: NewSession): Promise<void> {
    const p = this.plans;
    const inserted = x.run(p.insertSession, [
      session.id,
      session.campaignId,
      session.createdAt,
      session.createdAt,
      session.lastSeenAt,
      session.landingUrl ?? null,
      session.referrer ?? null,
      session.userAgent,
      session.ip,
      this.dialect.bool(session.isBot),
      session.recoversSessionId ?? null,
    ]);
    if (isPromise(inserted)) await inserted;
    const recorded = x.run(p.recordState, [session.id, 'open', session.createdAt]);
    if (isPromise(recorded)) await recorded;
  }

  /** Inside a transaction when `patch.konnektive` is set (the merge reads, then writes). */
  async #updateSession(x: Exec, id: string, patch: SessionPatch): Promise<void> {
    const p = this.plans;
    const columns = patchToColumns(patch, this.dialect.bool);
    if (columns.length === 0) return;
    if (patch.konnektive) {
      // Konnektive ids merge into what is known; a later response never erases an earlier id
      // (keys whose value is undefined are dropped first, or the spread would blank them). The
      // row is read FOR UPDATE on PostgreSQL, so a concurrent merge from another collector waits.
      const known = first(await x.rows(p.konnektiveForUpdate, [id]), (row) => JSON.parse(String(row.konnektive)) as KonnektiveIds);
      const incoming = Object.fromEntries(Object.entries(patch.konnektive).filter(([, value]) => value !== undefined));
      columns[columns.findIndex(([name]) => name === 'konnektive')] = ['konnektive', JSON.stringify({ ...known, ...incoming })];
    }
    const updated = x.run(p.updateSession(columns.map(([name]) => name).join(',')), [...columns.map(([, value]) => value), id]);
    if (isPromise(updated)) await updated;
    if (patch.state !== undefined) await x.run(p.recordState, [id, patch.state, patch.stateChangedAt ?? this.clock.now()]);
  }

  // --- outbox ----------------------------------------------------------------------------------

  /**
   * PostgreSQL: several collectors may claim at once; a job goes to one claimer only, and a
   * session never has two jobs running. The first statement selects the claimable head rows
   * `FOR UPDATE SKIP LOCKED`: a head another claimer is taking is skipped, not waited for, and
   * a row changed by a transaction that committed after our snapshot is re-evaluated on its new
   * version (a job just claimed or finished drops out). Only a session's oldest unfinished job
   * is selected; a stale snapshot can only hide a newer head, never expose a wrong one, since
   * `enqueue`'s per-session lock makes a session's ids follow commit order. The second statement
   * updates only rows we hold locks on and re-checks the whole condition with a fresh snapshot.
   * SQLite's one writer makes both trivially true.
   */
  async claimJobs(options: ClaimOptions): Promise<Job[]> {
    return (await this.relayRound(options.owner, [], [options])).claimed[0]!;
  }

  /**
   * One transaction for the round. Attempts are logged whatever happened to the lease (they
   * record calls that were made); state and session patch only while `owner` still holds the job.
   */
  async completeJobs(owner: string, jobs: readonly JobFinish[]): Promise<boolean[]> {
    return (await this.relayRound(owner, jobs, [])).held;
  }

  relayRound(owner: string, finishes: readonly JobFinish[], claims: readonly ClaimOptions[]): Promise<RelayRound> {
    return this.atomically(async (x) => {
      const held: boolean[] = [];
      for (const job of finishes) {
        for (const attempt of job.attempts) await this.#recordAttempt(x, attempt);
        const stillOurs = await this.#completeJob(x, job.id, owner, job.completion);
        if (stillOurs && job.sessionPatch) await this.#updateSession(x, job.sessionId, job.sessionPatch);
        held.push(stillOurs);
      }
      const claimed: Job[][] = [];
      for (const claim of claims) claimed.push(await this.#claim(x, claim));
      return { held, claimed };
    });
  }

  async #claim(x: Exec, options: ClaimOptions): Promise<Job[]> {
    const { now, limit, owner, leaseMs } = options;
    const skip = this.dialect.list(options.skipUpstreams);
    const noBackground = this.dialect.bool(options.skipBackground ?? false);
    const [plan, upstreams] = options.upstream === undefined ? [this.plans.claimableJobs, skip] : [this.plans.claimableJobsOf, options.upstream];
    const ids = (await x.rows(plan, [now, now, upstreams, now, noBackground, limit])).map((row) => Number(row.id));
    if (ids.length === 0) return [];
    const rows = await x.rows(this.plans.claimJobs, [owner, now + leaseMs, now, this.dialect.list(ids), now, now, skip, now]);
    // RETURNING has no defined order: oldest due first.
    return rows.map(rowToJob).sort((a, b) => a.runAt - b.runAt || a.id - b.id);
  }

  async renewLeases(owner: string, jobIds: readonly number[], leaseUntil: number): Promise<void> {
    if (jobIds.length > 0) await this.db.run(this.plans.renewLeases, [leaseUntil, this.dialect.list(jobIds), owner]);
  }

  releaseClaims(owner: string): Promise<number> {
    return Promise.resolve(this.db.run(this.plans.releaseClaims, [this.clock.now(), owner]));
  }

  replayDeadJobs(now: number): Promise<number> {
    return Promise.resolve(this.db.run(this.plans.replayDead, [now, now]));
  }

  async countJobsByState(): Promise<Record<JobState, number>> {
    const counts: Record<JobState, number> = { pending: 0, running: 0, done: 0, dead: 0 };
    for (const row of await this.db.rows(this.plans.countJobs)) counts[String(row.state) as JobState] = Number(row.n);
    return counts;
  }

  async listJobs(filter: { sessionId?: string; state?: JobState; limit?: number }): Promise<Job[]> {
    const { sessionId = null, state = null, limit = LIST_LIMIT } = filter;
    return (await this.db.rows(this.plans.listJobs, [sessionId, sessionId, state, state, limit])).map(rowToJob);
  }

  async listAttempts(jobId?: number, limit = LIST_LIMIT): Promise<DeliveryAttempt[]> {
    return (await this.db.rows(this.plans.listAttempts, [jobId ?? null, jobId ?? null, limit])).map(rowToAttempt);
  }

  /** Finishes one job; `false` (and no change) when `owner` no longer holds its lease. */
  async #completeJob(x: Exec, id: number, owner: string, completion: JobCompletion): Promise<boolean> {
    const p = this.plans;
    const now = this.clock.now();
    const changed =
      completion.state === 'running'
        ? await x.run(p.jobMarked, [now, id, owner])
        : completion.state === 'done'
        ? await x.run(p.jobDone, [now, id, owner])
        : completion.state === 'pending'
          ? await x.run(p.jobRetry, [completion.runAt, completion.error, completion.countAttempt ? 1 : 0, now, id, owner])
          : await x.run(p.jobDead, [completion.error, now, id, owner]);
    return changed === 1;
  }

  async #recordAttempt(x: Exec, a: DeliveryAttempt): Promise<void> {
    await x.run(this.plans.recordAttempt, [
      a.jobId,
      a.upstream,
      a.endpoint,
      a.request,
      a.response,
      a.outcome,
      a.httpStatus ?? null,
      Math.round(a.latencyMs),
      a.createdAt,
    ]);
  }

  // --- emissions -------------------------------------------------------------------------------

  async getEmission(sessionId: string, kind: EmissionKind): Promise<Emission | undefined> {
    return first(await this.db.rows(this.plans.getEmission, [sessionId, kind]), rowToEmission);
  }

  async updateEmission(sessionId: string, kind: EmissionKind, change: { status: EmissionStatus; remoteId?: string; now: number }): Promise<void> {
    // Durable: `sending` must be on disk before the upstream call it announces.
    const values = [change.status, change.remoteId ?? null, change.now, sessionId, kind];
    await this.atomically(async (x) => x.run(this.plans.updateEmission, values), true);
  }

  async listEmissions(filter: { sessionId?: string; limit?: number } = {}): Promise<Emission[]> {
    const sessionId = filter.sessionId ?? null;
    return (await this.db.rows(this.plans.listEmissions, [sessionId, sessionId, filter.limit ?? LIST_LIMIT])).map(rowToEmission);
  }

  // --- shared rate limits ----------------------------------------------------------------------

  async reserveRateSlot(key: string, now: number, intervalMs: number): Promise<number> {
    const [row] = await this.db.rows(this.plans.reserveRateSlot, [key, now, intervalMs, now, intervalMs]);
    return Number(row!.next_at) - intervalMs;
  }

  async deferRateSlots(key: string, until: number): Promise<void> {
    await this.db.run(this.plans.deferRateSlots, [key, until]);
  }

  recordRateSend(key: string, now: number, limit: number, windowMs: number): Promise<RateSendResult> {
    const p = this.plans;
    return this.atomically(async (x): Promise<RateSendResult> => {
      // PostgreSQL: a per-key lock, or two collectors checking the same window at once would both see room.
      if (p.advisoryLock) await x.rows(p.advisoryLock, [LOCK_RATE_SENDS, key]);
      await x.run(p.forgetOldRateSends, [key, now - RATE_SEND_HORIZON_MS]);
      const recent = await x.rows(p.recentRateSends, [key, now - windowMs, limit]);
      if (recent.length >= limit) return { sent: false, retryAt: Number(recent[limit - 1]!.at) + windowMs };
      return { sent: true, id: await x.insert(p.recordRateSend, [key, now]) };
    });
  }

  async forgetRateSend(key: string, id: number): Promise<void> {
    await this.db.run(this.plans.forgetRateSend, [key, id]);
  }

  async nextRateSlot(key: string): Promise<number | undefined> {
    const [row] = await this.db.rows(this.plans.nextRateSlot, [key]);
    return row ? Number(row.next_at) : undefined;
  }

  // --- retention -------------------------------------------------------------------------------

  /**
   * Durable per batch: on SQLite, otherwise a batch's pages would wait for the next ingest
   * commit's fsync, and a run of batches would make one request pay for flushing megabytes
   * (measured: answers held for 1.5 s). On PostgreSQL the sessions are locked `FOR UPDATE SKIP
   * LOCKED`: one an ingest transaction or a sweeper holds right now is left for the next run, and
   * no job can be queued for a session while its purge holds it.
   */
  purgeSessions({ cutoff, limit, after }: PurgeSessionsOptions): Promise<SessionPurge> {
    const p = this.plans;
    return this.atomically(async (x): Promise<SessionPurge> => {
      const rows = await x.rows(p.purgeableSessions, [cutoff, after?.createdAt ?? Number.MIN_SAFE_INTEGER, after?.id ?? '', cutoff, cutoff, limit]);
      if (rows.length === 0) return { sessions: 0, rows: 0, next: undefined };
      const ids = this.dialect.list(rows.map((row) => String(row.id)));
      const pages = groupBy(await x.rows(p.clicksOf, [ids]), (row) => String(row.page));
      const emissions = groupBy(await x.rows(p.emissionsOf, [ids]), (row) => ({
        kind: String(row.kind) as EmissionKind,
        status: String(row.status) as EmissionStatus,
        payload: JSON.parse(String(row.payload)) as Record<string, unknown>,
      }));
      const purged: PurgedSession[] = rows.map((row) => ({
        session: { id: String(row.id), createdAt: Number(row.created_at), isBot: Boolean(row.is_bot), lead: JSON.parse(String(row.lead)) },
        pages: pages.get(String(row.id)) ?? [],
        emissions: emissions.get(String(row.id)) ?? [],
      }));
      for (const [key, value] of rollupsOf(purged)) {
        const { day, metric, currency } = splitRollupKey(key);
        await x.run(p.addRollup, [day, metric, currency, value]);
      }
      let deleted = 0;
      for (const statement of p.deleteSessions) deleted += await x.run(statement, [ids]);
      const last = rows.at(-1)!;
      return {
        sessions: rows.length,
        rows: deleted,
        next: rows.length === limit ? { createdAt: Number(last.created_at), id: String(last.id) } : undefined,
      };
    }, true);
  }

  purgeHistory({ cutoff, limit }: { cutoff: number; limit: number }): Promise<number> {
    return this.atomically(
      async (x) =>
        (await x.run(this.plans.purgeAttempts, [cutoff, limit])) +
        (await x.run(this.plans.purgeDoneJobs, [cutoff, limit])) +
        (await x.run(this.plans.purgeSpentTokens, [cutoff, limit])),
      true,
    );
  }

  async listDailyRollups(filter: { fromDay?: string; toDay?: string } = {}): Promise<DailyRollup[]> {
    const { fromDay = null, toDay = null } = filter;
    return (await this.db.rows(this.plans.listDailyRollups, [fromDay, fromDay, toDay, toDay])).map((row) => ({
      day: String(row.day),
      metric: String(row.metric),
      currency: String(row.currency),
      value: Number(row.value),
    }));
  }

  // --- recovery outcomes and the report --------------------------------------------------------

  async recordCartOutcome(cart: CartOutcome): Promise<void> {
    await this.db.run(this.plans.cartOutcome, [cart.sessionId, cart.at, cart.totalCents, cart.currency, cart.linkExpiresAt]);
  }

  async recordRecoveryClick(sessionId: string, at: number): Promise<void> {
    await this.db.run(this.plans.clickOutcome, [sessionId, at, at]);
  }

  async recordRecoveryReturn(sessionId: string, at: number): Promise<void> {
    await this.db.run(this.plans.returnOutcome, [sessionId, at]);
  }

  async recordOrderOutcome(order: OrderOutcome): Promise<void> {
    await this.db.run(this.plans.orderOutcome, [order.sessionId, order.at, order.totalCents, order.currency, order.recoversCart ? 1 : 0]);
  }

  /**
   * Carts and orders come from `session_outcomes`, which the retention purge keeps. Sessions and
   * leads come from the sessions still stored plus the daily rollups of purged ones (a session is
   * in one or the other, never both), counting a rolled-up day when it begins inside the period.
   */
  async funnelReport(since: number, until: number): Promise<FunnelReport> {
    const p = this.plans;
    const [sessions, rolledUp, carts, recovered, orders] = await Promise.all([
      this.db.rows(p.reportSessions, [since, until]),
      this.db.rows(p.reportRolledUp, [utcDay(since + DAY_MS - 1), utcDay(until - 1)]),
      this.db.rows(p.reportCarts, [until, since, until]),
      this.db.rows(p.reportRecovered, [since, until]),
      this.db.rows(p.reportOrders, [since, until]),
    ]);
    return foldReport(since, until, { sessions: sessions[0] ?? {}, rolledUp, carts, recovered, orders });
  }

  // --- meta ------------------------------------------------------------------------------------

  async getMeta(key: string): Promise<string | undefined> {
    return first(await this.db.rows(this.plans.getMeta, [key]), (row) => String(row.value));
  }

  async setMetaIfAbsent(key: string, value: string): Promise<string> {
    await this.db.run(this.plans.insertMetaIfAbsent, [key, value]);
    return (await this.getMeta(key))!;
  }

  async revokeDashboardSession(id: string, expiresAt: number): Promise<void> {
    await this.db.run(this.plans.revokeDashboardSession, [id, expiresAt]);
  }

  async isDashboardSessionRevoked(id: string): Promise<boolean> {
    return (await this.db.rows(this.plans.dashboardSessionRevoked, [id])).length > 0;
  }

  async purgeDashboardRevocations(now: number, limit: number): Promise<number> {
    return this.db.run(this.plans.purgeDashboardRevocations, [now, limit]);
  }

  async ping(): Promise<void> {
    await this.db.rows(this.plans.ping);
  }

  /** The migration lock of PostgreSQL's `beforeMigrate`, keyed by schema. */
  protected async lockMigrations(x: Exec, schema: string): Promise<void> {
    if (this.plans.advisoryLock) await x.rows(this.plans.advisoryLock, [LOCK_MIGRATE, schema]);
  }
}

/**
 * Ingest runs many small statements per request; on SQLite each answers at once, and an `await`
 * of that answer would still suspend the caller (measured: a few µs per request). The hot
 * operations therefore await only a promise.
 */
function isPromise<T>(value: T | Promise<T>): value is Promise<T> {
  return value instanceof Promise;
}

function first<T>(rows: Row[], map: (row: Row) => T): T | undefined {
  return rows.length === 0 ? undefined : map(rows[0]!);
}

/** Rows of several sessions, grouped by `session_id`. */
function groupBy<T>(rows: Row[], map: (row: Row) => T): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const row of rows) {
    const list = groups.get(String(row.session_id)) ?? [];
    list.push(map(row));
    groups.set(String(row.session_id), list);
  }
  return groups;
}
