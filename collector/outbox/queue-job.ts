/**
 * @module queue-job
 * The one way a job enters the outbox. It runs inside the transaction that causes the job (an
 * ingest batch, a sweep, a purchase check), so the job exists exactly when its cause does, and it
 * works out the job's upstream from its kind: emissions go where `EMIT_VIA` says, everything
 * else to Konnektive.
 */
import type { EmitVia } from '../config.js';
import type { StoreTx } from '../store/store.js';
import { jobUpstream, type ClickJobPayload, type EmitJobKind, type JobKind } from './job-kinds.js';

interface QueueOptionsBase {
  sessionId: string;
  runAt: number;
  /**
   * Queue nothing when the session already has an unclaimed job of this kind. For jobs that read
   * the session when they run (a lead sync, a purchase check), one waiting job stands for any
   * number of causes.
   */
  unlessPending?: boolean;
}

export type QueueOptions<K extends JobKind> = QueueOptionsBase &
  (K extends 'konnektive.click' ? { payload: ClickJobPayload } : { payload?: undefined }) &
  (K extends EmitJobKind ? { emitVia: EmitVia } : { emitVia?: undefined });

/** Queues one job; `false` when `unlessPending` found one already waiting. */
export async function queueJob<K extends JobKind>(tx: StoreTx, kind: K, options: QueueOptions<K>): Promise<boolean> {
  const { sessionId, runAt, unlessPending, payload, emitVia } = options as QueueOptionsBase & { payload?: ClickJobPayload; emitVia?: EmitVia };
  if (unlessPending && (await tx.findPendingJob(sessionId, kind))) return false;
  await tx.enqueue({ sessionId, upstream: jobUpstream(kind, emitVia ?? 'konnektive'), kind, payload: payload ? { ...payload } : {}, runAt });
  return true;
}
