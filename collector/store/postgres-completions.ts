/**
 * @module postgres-completions
 * The outbox worker's round of finished jobs on PostgreSQL in three round trips, however many
 * jobs it holds, instead of four statements per job: on PostgreSQL every statement is a round
 * trip and a write on the socket, and the worker's per-job statements cost the collector more
 * CPU than ingest itself (a collector delivering the Import Click of every new visitor).
 *
 * Same rules as the statement-at-a-time `completeJobs` of sql-store.ts: every attempt is logged,
 * whatever happened to the lease; a job's new state and its session patch are written only while
 * `owner` still holds it; Konnektive ids merge into those known (read `FOR UPDATE`); a state
 * change is recorded in the session's history.
 *
 * 1. BEGIN, the attempts, the jobs' new states (RETURNING the jobs still held), pipelined;
 * 2. the patched sessions locked in id order (their Konnektive ids read);
 * 3. one UPDATE per set of patched columns, the state history, COMMIT, pipelined.
 */
import type pg from 'pg';
import { POSTGRES_COMPLETION_PLANS as C, POSTGRES_GROUP_PLANS as G } from './postgres-group-plans.js';
import { updateName } from './postgres-group-write.js';
import { pipelinedTransaction, settle, type PipelineContext } from './postgres-pipeline.js';
import { patchToColumns } from './rows.js';
import type { JobFinish, KonnektiveIds, SessionPatch } from './store.js';

export interface CompletionContext extends PipelineContext {
  now: number;
}

export async function completeJobsSetBased(context: CompletionContext, owner: string, jobs: readonly JobFinish[]): Promise<boolean[]> {
  return pipelinedTransaction(context, 'completions', async (client, begin) => {
    const attempts = jobs.flatMap((job) => job.attempts);
    const { now } = context;
    const first: Promise<pg.QueryResult>[] = [begin];
    if (attempts.length > 0) {
      first.push(
        client.query({
          name: 'fb_complete_attempts',
          text: C.recordAttempts,
          values: [
            attempts.map((a) => a.jobId),
            attempts.map((a) => a.upstream),
            attempts.map((a) => a.endpoint),
            attempts.map((a) => a.request),
            attempts.map((a) => a.response),
            attempts.map((a) => a.outcome),
            attempts.map((a) => a.httpStatus ?? null),
            attempts.map((a) => Math.round(a.latencyMs)),
            attempts.map((a) => a.createdAt),
          ],
        }),
      );
    }
    const state = (job: JobFinish) => job.completion.state;
    first.push(
      client.query({
        name: 'fb_complete_finish',
        text: C.finishJobs,
        values: [
          jobs.map((job) => job.id),
          jobs.map(state),
          jobs.map((job) => (job.completion.state === 'pending' ? job.completion.runAt : null)),
          jobs.map((job) => (job.completion.state === 'done' ? null : job.completion.error)),
          jobs.map((job) => (job.completion.state === 'pending' && !job.completion.countAttempt ? 0 : 1)),
          now,
          owner,
        ],
      }),
    );
    const answers = await settle(first);
    context.roundTrip();
    const held = new Set(answers.at(-1)!.rows.map((row) => Number(row.id)));

    const patched = jobs.filter((job) => held.has(job.id) && job.sessionPatch && patchToColumns(job.sessionPatch, Boolean).length > 0);
    const writes: Promise<pg.QueryResult>[] = [];
    if (patched.length > 0) {
      const ids = patched.map((job) => job.sessionId);
      const locked = await client.query({ name: 'fb_complete_lock', text: C.lockPatched, values: [ids] });
      context.roundTrip();
      const known = new Map(locked.rows.map((row) => [String(row.id), JSON.parse(String(row.konnektive)) as KonnektiveIds]));
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
      for (const [key, update] of byColumns) {
        writes.push(client.query({ name: updateName(key), text: G.updateSessions(key), values: [update.ids, ...update.values] }));
      }
      if (states.length > 0) {
        writes.push(
          client.query({
            name: 'fb_group_record_states',
            text: G.recordStates,
            values: [states.map((s) => s.id), states.map((s) => s.state), states.map((s) => s.at)],
          }),
        );
      }
    }
    return { writes, result: () => jobs.map((job) => held.has(job.id)) };
  });
}
