/**
 * @module postgres-claim
 * The outbox claim on PostgreSQL in two round trips instead of four: BEGIN travels with the
 * select of the claimable jobs, and the claim's UPDATE with COMMIT, on a pipelined connection.
 * A relay lane claims whenever one of its places comes free, so under load the claim is the
 * worker's most frequent transaction; its statements and their rules are sql-store.ts's
 * (`claimJobs`): the first locks the free candidates `FOR UPDATE SKIP LOCKED`, the second updates
 * only those and re-checks the whole condition with a fresh snapshot.
 *
 * The sessions of the jobs it claims are read in the second round trip too: each job's handler
 * reads its session first, and that read was one more statement (and commit) per claim.
 */
import type pg from 'pg';
import { postgresDialect } from './dialect.js';
import { POSTGRES_PLANS as P } from './plans.js';
import { rowToJob, rowToSession } from './rows.js';
import type { ClaimOptions, Job, Session } from './store.js';

/**
 * The sessions of the claimed jobs, as the claim's transaction read them: the job's queue key, or
 * the funnel session its payload names (a conversion's or a postback's key is not the session's).
 */
const CLAIMED_SESSIONS = `SELECT * FROM sessions WHERE id IN (
  SELECT COALESCE(payload::json ->> 'session', session_id) FROM outbox WHERE id = ANY($1::bigint[]))`;

export interface Claimed {
  jobs: Job[];
  sessions: Map<string, Session>;
}

export interface ClaimContext {
  /** Connections with `pipeline: true`. */
  pool: pg.Pool;
  roundTrip: () => void;
  committed: () => void;
}

export async function claimJobsPipelined(context: ClaimContext, options: ClaimOptions): Promise<Claimed> {
  const { now, limit, owner, leaseMs } = options;
  const skip = postgresDialect.list(options.skipUpstreams);
  const client = await context.pool.connect();
  let broken = false;
  let open = false;
  try {
    const begin = client.query('BEGIN');
    open = true;
    const candidates = client.query({ name: 'fb_claimable', text: P.claimableJobs, values: [now, now, skip, now, options.skipBackground ?? false, limit] });
    const [, selected] = await settle([begin, candidates]);
    context.roundTrip();
    const ids = selected!.rows.map((row) => Number(row.id));
    const writes: Promise<pg.QueryResult>[] = [];
    if (ids.length > 0) {
      writes.push(client.query({ name: 'fb_claim', text: P.claimJobs, values: [owner, now + leaseMs, now, ids, now, now, skip, now] }));
      writes.push(client.query({ name: 'fb_claimed_sessions', text: CLAIMED_SESSIONS, values: [ids] }));
    }
    const settled = await Promise.allSettled([...writes, client.query('COMMIT')]);
    context.roundTrip();
    open = false;
    const committed = settled.at(-1)!;
    if (committed.status === 'rejected') {
      broken = true;
      throw committed.reason;
    }
    const failed = settled.find((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
    if (failed) throw failed.reason;
    if (committed.value.command !== 'COMMIT') throw new Error('claim rolled back at COMMIT');
    context.committed();
    if (ids.length === 0) return { jobs: [], sessions: new Map() };
    const [claimed, sessions] = settled.map((outcome) => (outcome as PromiseFulfilledResult<pg.QueryResult>).value.rows);
    return {
      // RETURNING has no defined order: oldest due first.
      jobs: claimed!.map(rowToJob).sort((a, b) => a.runAt - b.runAt || a.id - b.id),
      sessions: new Map(sessions!.map((row) => [String(row.id), rowToSession(row)])),
    };
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

async function settle(queries: Promise<pg.QueryResult>[]): Promise<pg.QueryResult[]> {
  const settled = await Promise.allSettled(queries);
  const failed = settled.find((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
  if (failed) throw failed.reason;
  return settled.map((outcome) => (outcome as PromiseFulfilledResult<pg.QueryResult>).value);
}
