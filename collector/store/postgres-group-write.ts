/**
 * @module postgres-group-write
 * A commit group on PostgreSQL in two round trips, whatever its size: one round trip after BEGIN
 * reads everything the group's requests may look at (sessions locked `FOR UPDATE`, in id order),
 * the requests run in memory ({@link GroupTx}), and one round trip writes every row with
 * set-based statements and COMMITs, pipelined on one connection (`pg`'s `pipeline: true`).
 *
 * The guarantees of the statement-at-a-time path hold:
 * - the caller is answered only after COMMIT returned (`synchronous_commit=on`: on disk);
 * - a session's job ids follow commit order: the group takes `enqueue`'s per-session advisory
 *   locks (sorted) before its outbox insert and holds them until COMMIT;
 * - a row another collector wrote between the read and the write (an event id, a spent token, a
 *   clicked page, a session id) makes the insert write fewer rows than expected; the statement
 *   then fails, the transaction rolls back, and the group runs again from the reads, as after a
 *   deadlock;
 * - any other failure of the writes (a value PostgreSQL refuses) cannot be pinned on one request:
 *   it is reported as {@link GroupWriteFailed}, and the caller writes the group the slow way, one
 *   statement at a time with a savepoint per request, so only the request at fault is refused.
 */
import type pg from 'pg';
import type { JobKind } from '../outbox/job-kinds.js';
import type { PageName } from '../wire-schema.js';
import { GroupWriteFailed } from './group-writer.js';
import { GroupTx, type GroupReader, type GroupReads, type GroupSnapshot, type GroupWrites } from './group-tx.js';
import { GROUP_CONFLICT, GROUP_SESSION_COLUMNS, POSTGRES_GROUP_PLANS as G } from './postgres-group-plans.js';
import { LOCK_SESSION_OUTBOX, POSTGRES_PLANS as P } from './plans.js';
import { patchToColumns, rowToJob, rowToSession, type Row } from './rows.js';
import { isTransactionConflict, type Session, type StoreTx } from './store.js';

export interface GroupWriteContext {
  /** Connections with `pipeline: true`. */
  pool: pg.Pool;
  now: () => number;
  /** Called each time the writer waits on the server (a pipelined batch counts once). */
  roundTrip: () => void;
  /** Called for each group committed. */
  committed: () => void;
}


/** Another collector wrote a row the group meant to write: run the group again. */
class GroupConflict extends Error {
  readonly code = '40001';
}

/**
 * Runs `fn` once per attempt on a fresh {@link GroupTx}; like the store's `transaction`, it runs
 * again after a deadlock or a raced insert, so `fn` must start over each time.
 */
export async function writeGroup<T>(context: GroupWriteContext, reads: GroupReads, fn: (tx: StoreTx) => Promise<T>, tries = 6): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await writeOnce(context, reads, fn);
    } catch (error) {
      if (attempt >= tries || !isTransactionConflict(error)) throw error;
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 10 * attempt));
    }
  }
}

async function writeOnce<T>(context: GroupWriteContext, reads: GroupReads, fn: (tx: StoreTx) => Promise<T>): Promise<T> {
  const client = await context.pool.connect();
  let broken = false;
  let open = false;
  try {
    const sessionIds = [...new Set(reads.sessionIds)];
    const eventIds = [...new Set(reads.eventIds)];
    const tokenIds = [...new Set(reads.tokenIds)];
    const reading = [
      client.query('BEGIN'),
      query(client, 'fb_group_lock_sessions', G.lockSessions, [sessionIds, eventIds]),
      query(client, 'fb_group_event_owners', G.eventOwners, [eventIds]),
      tokenIds.length > 0 ? query(client, 'fb_group_spent_tokens', G.spentTokens, [tokenIds]) : undefined,
      query(client, 'fb_group_clicks', G.clicks, [sessionIds, eventIds]),
      query(client, 'fb_group_pending_jobs', G.pendingJobs, [sessionIds, eventIds]),
    ];
    open = true;
    const [, sessions, owners, tokens, clicks, jobs] = await settle(reading);
    context.roundTrip();
    const snapshot: GroupSnapshot = {
      sessions: new Map(sessions!.rows.map((row) => [String(row.id), rowToSession(row)])),
      eventOwners: new Map(owners!.rows.map((row) => [String(row.id), String(row.session_id)])),
      spentTokens: new Set((tokens?.rows ?? []).map((row) => String(row.id))),
      clicks: new Set(clicks!.rows.map((row) => `${String(row.session_id)}\u0000${String(row.page)}`)),
      pendingJobs: jobs!.rows.map(rowToJob),
    };
    const tx = new GroupTx(reads, snapshot, reader(client, context), context.now);
    const result = await fn(tx);

    const writing = writeStatements(tx.writes(), context.now()).map(([name, text, values]) => query(client, name, text, values));
    const commit = client.query('COMMIT');
    const settled = await Promise.allSettled([...writing, commit]);
    context.roundTrip();
    open = false;
    const committed = settled.at(-1)!;
    if (committed.status === 'rejected') {
      // The connection failed at COMMIT: whether it committed is unknown, and the caller is told so.
      broken = true;
      throw committed.reason;
    }
    const failed = settled.find((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
    if (!failed && committed.value.command === 'COMMIT') {
      context.committed();
      return result;
    }
    const cause: unknown = failed?.reason ?? new Error('commit group rolled back at COMMIT');
    if (isGroupConflict(cause)) throw new GroupConflict('another collector wrote a row of this group first');
    if (isTransactionConflict(cause)) throw cause;
    throw new GroupWriteFailed(cause);
  } catch (error) {
    if (open) {
      try {
        await client.query('ROLLBACK');
        context.roundTrip();
      } catch {
        broken = true;
      }
    }
    throw error;
  } finally {
    client.release(broken);
  }
}

/** Every statement's answer, or the first failure (the others are settled, so none is left unhandled). */
async function settle(queries: (Promise<pg.QueryResult> | undefined)[]): Promise<(pg.QueryResult | undefined)[]> {
  const settled = await Promise.allSettled(queries.map((q) => q ?? Promise.resolve(undefined)));
  const failed = settled.find((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
  if (failed) throw failed.reason;
  return settled.map((outcome) => (outcome as PromiseFulfilledResult<pg.QueryResult | undefined>).value);
}

function isGroupConflict(error: unknown): boolean {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  return code === '22P02' && typeof message === 'string' && message.includes(GROUP_CONFLICT);
}

/** Named statements are parsed once per connection; the pipelined batch then only binds and runs them. */
function query(client: pg.PoolClient, name: string, text: string, values: unknown[]): Promise<pg.QueryResult<Row>> {
  return client.query({ name, text, values });
}

/** Reads of what the group's fetch did not cover (rare: a session found mid-request), one round trip each. */
function reader(client: pg.PoolClient, context: GroupWriteContext): GroupReader {
  const rows = async (name: string, text: string, values: unknown[]) => {
    const result = await query(client, name, text, values);
    context.roundTrip();
    return result.rows;
  };
  return {
    session: async (id) => {
      const [row] = await rows('fb_group_session', P.getSessionForUpdate, [id]);
      return row ? rowToSession(row) : undefined;
    },
    eventsSession: async (eventIds) => {
      const [row] = await rows('fb_group_event_owners', G.eventOwners, [[...eventIds]]);
      return row ? String(row.session_id) : undefined;
    },
    tokenSpent: async (id) => (await rows('fb_group_spent_tokens', G.spentTokens, [[id]])).length > 0,
    pageClicked: async (sessionId: string, page: PageName) =>
      (await rows('fb_group_clicks', G.clicks, [[sessionId], []])).some((row) => String(row.page) === page),
    pendingJob: async (sessionId: string, kind: JobKind) => {
      const [row] = await rows('fb_group_pending_job', P.pendingJob, [sessionId, kind]);
      return row ? rowToJob(row) : undefined;
    },
  };
}

type Statement = [name: string, text: string, values: unknown[]];

/** The group's writes as set-based statements, in an order the foreign keys and locks need. */
export function writeStatements(w: GroupWrites, now: number): Statement[] {
  const statements: Statement[] = [];
  if (w.jobs.length > 0) {
    statements.push(['fb_group_lock_outboxes', G.lockOutboxes, [LOCK_SESSION_OUTBOX, [...new Set(w.jobs.map((job) => job.sessionId))]]]);
  }
  if (w.newSessions.length > 0) {
    const columns = GROUP_SESSION_COLUMNS.map(([name]) => w.newSessions.map((session) => sessionColumn(session, name)));
    statements.push(['fb_group_insert_sessions', G.insertSessions, [...columns, w.newSessions.length]]);
  }
  if (w.states.length > 0) {
    statements.push(['fb_group_record_states', G.recordStates, [w.states.map((s) => s.sessionId), w.states.map((s) => s.state), w.states.map((s) => s.at)]]);
  }
  // Sessions that changed the same columns share one UPDATE.
  const byColumns = new Map<string, { ids: string[]; values: unknown[][] }>();
  for (const [id, patch] of w.patches) {
    const columns = patchToColumns(patch, Boolean);
    if (columns.length === 0) continue;
    const key = columns.map(([name]) => name).join(',');
    let update = byColumns.get(key);
    if (!update) byColumns.set(key, (update = { ids: [], values: columns.map(() => []) }));
    update.ids.push(id);
    columns.forEach(([, value], index) => update.values[index]!.push(value));
  }
  for (const [key, update] of byColumns) statements.push([updateName(key), G.updateSessions(key), [update.ids, ...update.values]]);
  if (w.events.length > 0) {
    const { events } = w;
    statements.push([
      'fb_group_insert_events',
      G.insertEvents,
      [
        events.map((e) => e.event.id),
        events.map((e) => e.event.sessionId),
        events.map((e) => e.event.type),
        events.map((e) => e.event.receivedAt),
        events.map((e) => e.payloadJson),
        events.length,
      ],
    ]);
  }
  if (w.clicks.length > 0) {
    statements.push(['fb_group_mark_clicked', G.markClicked, [w.clicks.map((c) => c.sessionId), w.clicks.map((c) => c.page), w.clicks.length]]);
  }
  if (w.tokens.length > 0) {
    statements.push(['fb_group_spend_tokens', G.spendTokens, [w.tokens.map((t) => t.id), w.tokens.map((t) => t.expiresAt), w.tokens.length]]);
  }
  if (w.jobs.length > 0) {
    const { jobs } = w;
    statements.push([
      'fb_group_enqueue',
      G.enqueue,
      [
        jobs.map((job) => job.sessionId),
        jobs.map((job) => job.upstream),
        jobs.map((job) => job.kind),
        jobs.map((job) => JSON.stringify(job.payload)),
        jobs.map((job) => job.runAt),
        jobs.map(() => now),
        jobs.map(() => now),
      ],
    ]);
  }
  return statements;
}

const updateNames = new Map<string, string>();
/** A statement name per set of columns (names are limited to 63 bytes; column lists are longer). */
export function updateName(columns: string): string {
  let name = updateNames.get(columns);
  if (name === undefined) updateNames.set(columns, (name = `fb_group_update_${updateNames.size}`));
  return name;
}

/** A session column's value as the INSERT binds it (JSON columns as text, absent values as NULL). */
function sessionColumn(session: Session, column: string): unknown {
  switch (column) {
    case 'id':
      return session.id;
    case 'campaign_id':
      return session.campaignId;
    case 'created_at':
      return session.createdAt;
    case 'last_seen_at':
      return session.lastSeenAt;
    case 'landing_url':
      return session.landingUrl ?? null;
    case 'referrer':
      return session.referrer ?? null;
    case 'user_agent':
      return session.userAgent;
    case 'ip':
      return session.ip;
    case 'is_bot':
      return session.isBot;
    case 'last_page':
      return session.lastPage ?? null;
    case 'lead':
      return JSON.stringify(session.lead);
    case 'lead_version':
      return session.leadVersion;
    case 'lead_synced_version':
      return session.leadSyncedVersion;
    case 'cart':
      return session.cart === undefined ? null : JSON.stringify(session.cart);
    case 'claimed_order_id':
      return session.claimedOrderId ?? null;
    case 'konnektive':
      return JSON.stringify(session.konnektive);
    case 'state':
      return session.state;
    case 'state_changed_at':
      return session.stateChangedAt;
    case 'due_at':
      return session.dueAt ?? null;
    case 'funnel_done':
      return session.funnelDone;
    case 'order_check':
      return session.orderCheck === undefined ? null : JSON.stringify(session.orderCheck);
    case 'event_count':
      return session.eventCount;
    case 'event_bytes':
      return session.eventBytes;
    case 'recovers_session_id':
      return session.recoversSessionId ?? null;
    default:
      throw new Error(`no value for session column ${column}`);
  }
}
