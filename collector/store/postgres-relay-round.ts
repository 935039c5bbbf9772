/**
 * @module postgres-relay-round
 * One moment of the outbox worker on PostgreSQL in one transaction of two round trips: the jobs
 * that finished (and the write-ahead marks of jobs about to call), then the claims that refill the
 * places they free. On PostgreSQL every statement is a round trip and every transaction a commit;
 * under load jobs finish and places free by the thousand a second, and a completion and a claim
 * of their own each cost a commit (collector/outbox/relay-writer.ts gathers them).
 *
 * Same rules as the statement-at-a-time `completeJobs` and `claimJobs` of sql-store.ts:
 * - every attempt is logged, whatever happened to the lease; a job's new state and its session
 *   patch are written only while `owner` still holds it; Konnektive ids merge into those known
 *   (read `FOR UPDATE`); a state change is recorded in the session's history;
 * - a claim selects the claimable head rows `FOR UPDATE SKIP LOCKED` (another collector's are
 *   skipped, not waited for), then updates only those and re-checks the whole condition with a
 *   fresh snapshot. It runs after the round's completions, so a session whose job just finished
 *   has its next job claimable in the same round.
 *
 * 1. BEGIN, the attempts, the jobs' new states (RETURNING the jobs still held), the patched
 *    sessions locked in id order, each claim's candidates, pipelined;
 * 2. the session patches and state history, each claim's UPDATE and its jobs' sessions (each
 *    handler reads its session first), COMMIT, pipelined.
 */
import type pg from 'pg';
import { postgresDialect } from './dialect.js';
import { POSTGRES_PLANS as P } from './plans.js';
import { POSTGRES_COMPLETION_PLANS as C, POSTGRES_GROUP_PLANS as G } from './postgres-group-plans.js';
import { updateName } from './postgres-group-write.js';
import { pipelinedTransaction, settle, type PipelineContext } from './postgres-pipeline.js';
import { patchToColumns, rowToJob, rowToSession } from './rows.js';
import type { ClaimOptions, Job, JobFinish, KonnektiveIds, RelayRound, Session, SessionPatch } from './store.js';

export interface RelayRoundContext extends PipelineContext {
  now: number;
}

export interface PipelinedRelayRound extends RelayRound {
  /** The sessions of the claimed jobs, as the round read them. */
  sessions: Map<string, Session>;
}

/**
 * The sessions of the claimed jobs: the job's queue key, or the funnel session its payload names
 * (a conversion's or a postback's key is not the session's).
 */
const CLAIMED_SESSIONS = `SELECT * FROM sessions WHERE id IN (
  SELECT COALESCE(payload::json ->> 'session', session_id) FROM outbox WHERE id = ANY($1::bigint[]))`;

// The claim's candidates keep one plan across claims (postgres-store.ts, plan_cache_mode):
// planning that query costs more than running it (2.4 ms against 0.1 ms), and the plan it needs
// (the upstream's index, in order) does not change as the outbox grows.
const GENERIC_PLAN = 'SET LOCAL plan_cache_mode = force_generic_plan';
const CUSTOM_PLANS = 'SET LOCAL plan_cache_mode = DEFAULT';

export function relayRoundPipelined(
  context: RelayRoundContext,
  owner: string,
  finishes: readonly JobFinish[],
  claims: readonly ClaimOptions[],
): Promise<PipelinedRelayRound> {
  const { now } = context;
  return pipelinedTransaction<PipelinedRelayRound>(context, 'relay round', async (client, begin) => {
    const first: Promise<pg.QueryResult>[] = [begin];
    let finished: Promise<pg.QueryResult> | undefined;
    let locked: Promise<pg.QueryResult> | undefined;
    if (finishes.length > 0) {
      const attempts = finishes.flatMap((job) => job.attempts);
      if (attempts.length > 0) first.push(client.query({ name: 'fb_complete_attempts', text: C.recordAttempts, values: attemptColumns(attempts) }));
      first.push((finished = client.query({ name: 'fb_complete_finish', text: C.finishJobs, values: finishColumns(finishes, now, owner) })));
      // Locked before it is known which jobs are still held: a job taken over is rare, and
      // locking its session too costs nothing, where asking first would cost a round trip.
      const patchedIds = [...new Set(finishes.filter(hasPatch).map((job) => job.sessionId))];
      if (patchedIds.length > 0) first.push((locked = client.query({ name: 'fb_complete_lock', text: C.lockPatched, values: [patchedIds] })));
    }
    const candidates = claims.map((claim) => {
      const background = claim.skipBackground ?? false;
      const query =
        claim.upstream === undefined
          ? { name: 'fb_claimable', text: P.claimableJobs, values: [claim.now, claim.now, postgresDialect.list(claim.skipUpstreams), claim.now, background, claim.limit] }
          : { name: 'fb_claimable_of', text: P.claimableJobsOf, values: [claim.now, claim.now, claim.upstream, claim.now, background, claim.limit] };
      return client.query(query);
    });
    if (candidates.length > 0) first.push(client.query(GENERIC_PLAN), ...candidates, client.query(CUSTOM_PLANS));
    await settle(first);
    context.roundTrip();

    const held = new Set(finished ? (await finished).rows.map((row) => Number(row.id)) : []);
    const writes = locked ? sessionWrites(client, finishes.filter((job) => held.has(job.id) && hasPatch(job)), (await locked).rows, now) : [];
    const claimIds: number[][] = [];
    // SKIP LOCKED skips rows other transactions hold, not this one's: two claims of one round
    // (two lanes, whose upstreams never overlap) could otherwise both take a job.
    const taken = new Set<number>();
    // Where the claims' answers stand among the writes' (the session patches come first).
    const claimsAt = writes.length;
    for (const [index, claim] of claims.entries()) {
      const ids = (await candidates[index]!).rows.map((row) => Number(row.id)).filter((id) => !taken.has(id));
      for (const id of ids) taken.add(id);
      claimIds.push(ids);
      if (ids.length === 0) continue;
      const skip = postgresDialect.list(claim.skipUpstreams);
      writes.push(client.query({ name: 'fb_claim', text: P.claimJobs, values: [claim.owner, claim.now + claim.leaseMs, claim.now, ids, claim.now, claim.now, skip, claim.now] }));
    }
    const sessionsAt = writes.length;
    const allClaimed = claimIds.flat();
    if (allClaimed.length > 0) writes.push(client.query({ name: 'fb_claimed_sessions', text: CLAIMED_SESSIONS, values: [allClaimed] }));
    return {
      writes,
      result: (answers) => {
        const byId = new Map<number, Job>();
        for (const answer of answers.slice(claimsAt, sessionsAt)) for (const row of answer.rows) byId.set(Number(row.id), rowToJob(row));
        const sessions = allClaimed.length > 0 ? answers[sessionsAt]!.rows : [];
        return {
          held: finishes.map((job) => held.has(job.id)),
          // RETURNING has no defined order: oldest due first.
          claimed: claimIds.map((ids) =>
            ids
              .map((id) => byId.get(id))
              .filter((job): job is Job => job !== undefined)
              .sort((a, b) => a.runAt - b.runAt || a.id - b.id),
          ),
          sessions: new Map(sessions.map((row) => [String(row.id), rowToSession(row)])),
        };
      },
    };
  });
}

function hasPatch(job: JobFinish): boolean {
  return job.sessionPatch !== undefined && patchToColumns(job.sessionPatch, Boolean).length > 0;
}

function attemptColumns(attempts: readonly JobFinish['attempts'][number][]): unknown[] {
  return [
    attempts.map((a) => a.jobId),
    attempts.map((a) => a.upstream),
    attempts.map((a) => a.endpoint),
    attempts.map((a) => a.request),
    attempts.map((a) => a.response),
    attempts.map((a) => a.outcome),
    attempts.map((a) => a.httpStatus ?? null),
    attempts.map((a) => Math.round(a.latencyMs)),
    attempts.map((a) => a.createdAt),
  ];
}

function finishColumns(jobs: readonly JobFinish[], now: number, owner: string): unknown[] {
  return [
    jobs.map((job) => job.id),
    jobs.map((job) => job.completion.state),
    jobs.map((job) => (job.completion.state === 'pending' ? job.completion.runAt : null)),
    jobs.map((job) => (job.completion.state === 'done' || job.completion.state === 'running' ? null : job.completion.error)),
    // A retry after a pause is not an attempt; a write-ahead mark is none yet.
    jobs.map((job) => ((job.completion.state === 'pending' && !job.completion.countAttempt) || job.completion.state === 'running' ? 0 : 1)),
    now,
    owner,
  ];
}

/** The held jobs' session patches, folded per session in job order onto the locked rows' Konnektive ids. */
function sessionWrites(client: pg.PoolClient, patched: readonly JobFinish[], lockedRows: readonly Record<string, unknown>[], now: number): Promise<pg.QueryResult>[] {
  const writes: Promise<pg.QueryResult>[] = [];
  if (patched.length === 0) return writes;
  const known = new Map(lockedRows.map((row) => [String(row.id), JSON.parse(String(row.konnektive)) as KonnektiveIds]));
  // Folded per session in job order, so a session patched twice in one round ends as the later patch says.
  const folded = new Map<string, SessionPatch>();
  const states: { id: string; state: string; at: number }[] = [];
  for (const job of patched) {
    const patch = job.sessionPatch as SessionPatch;
    let next: SessionPatch = patch;
    if (patch.konnektive) {
      const incoming = Object.fromEntries(Object.entries(patch.konnektive).filter(([, value]) => value !== undefined));
      const merged = { ...known.get(job.sessionId), ...incoming };
      known.set(job.sessionId, merged);
      next = { ...patch, konnektive: merged };
    }
    const defined = Object.fromEntries(Object.entries(next).filter(([, value]) => value !== undefined));
    folded.set(job.sessionId, { ...folded.get(job.sessionId), ...defined });
    if (patch.state !== undefined) states.push({ id: job.sessionId, state: patch.state, at: patch.stateChangedAt ?? now });
  }
  const byColumns = new Map<string, { ids: string[]; values: unknown[][] }>();
  for (const [id, patch] of folded) {
    const columns = patchToColumns(patch, Boolean);
    const key = columns.map(([name]) => name).join(',');
    let update = byColumns.get(key);
    if (!update) byColumns.set(key, (update = { ids: [], values: columns.map(() => []) }));
    update.ids.push(id);
    columns.forEach(([, value], index) => update.values[index]!.push(value));
  }
  for (const [key, update] of byColumns) writes.push(client.query({ name: updateName(key), text: G.updateSessions(key), values: [update.ids, ...update.values] }));
  if (states.length > 0) {
    writes.push(
      client.query({ name: 'fb_group_record_states', text: G.recordStates, values: [states.map((s) => s.id), states.map((s) => s.state), states.map((s) => s.at)] }),
    );
  }
  return writes;
}
