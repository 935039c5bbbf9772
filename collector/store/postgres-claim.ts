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
import { postgresDialect } from './dialect.js';
import { pipelinedTransaction, settle, type PipelineContext } from './postgres-pipeline.js';
import { POSTGRES_PLANS as P } from './plans.js';
import { rowToJob, rowToSession } from './rows.js';
import type { ClaimOptions, Job, Session } from './store.js';

/**
 * The sessions of the claimed jobs, as the claim's transaction read them: the job's queue key, or
 * the funnel session its payload names (a conversion's or a postback's key is not the session's).
 */
const CLAIMED_SESSIONS = `SELECT * FROM sessions WHERE id IN (
  SELECT COALESCE(payload::json ->> 'session', session_id) FROM outbox WHERE id = ANY($1::bigint[]))`;

const GENERIC_PLAN = 'SET LOCAL plan_cache_mode = force_generic_plan';
const CUSTOM_PLANS = 'SET LOCAL plan_cache_mode = DEFAULT';

export interface Claimed {
  jobs: Job[];
  sessions: Map<string, Session>;
}

export async function claimJobsPipelined(context: PipelineContext, options: ClaimOptions): Promise<Claimed> {
  const { now, limit, owner, leaseMs } = options;
  const skip = postgresDialect.list(options.skipUpstreams);
  return pipelinedTransaction<Claimed>(context, 'claim', async (client, begin) => {
    const background = options.skipBackground ?? false;
    // The candidates' plan is the one plan kept across claims (postgres-store.ts, plan_cache_mode):
    // planning this query costs more than running it (2.4 ms against 0.1 ms), and the plan it
    // needs (the upstream's index, in order) does not change as the outbox grows.
    const generic = client.query(GENERIC_PLAN);
    const candidates =
      options.upstream === undefined
        ? client.query({ name: 'fb_claimable', text: P.claimableJobs, values: [now, now, skip, now, background, limit] })
        : client.query({ name: 'fb_claimable_of', text: P.claimableJobsOf, values: [now, now, options.upstream, now, background, limit] });
    const [, , selected] = await settle([begin, generic, candidates]);
    context.roundTrip();
    const ids = selected!.rows.map((row) => Number(row.id));
    if (ids.length === 0) return { writes: [], result: () => ({ jobs: [], sessions: new Map() }) };
    return {
      writes: [
        client.query(CUSTOM_PLANS),
        client.query({ name: 'fb_claim', text: P.claimJobs, values: [owner, now + leaseMs, now, ids, now, now, skip, now] }),
        client.query({ name: 'fb_claimed_sessions', text: CLAIMED_SESSIONS, values: [ids] }),
      ],
      result: ([, claimed, sessions]) => ({
        // RETURNING has no defined order: oldest due first.
        jobs: claimed!.rows.map(rowToJob).sort((a, b) => a.runAt - b.runAt || a.id - b.id),
        sessions: new Map(sessions!.rows.map((row) => [String(row.id), rowToSession(row)])),
      }),
    };
  });
}
