/**
 * @module job-priority
 * Which outbox jobs go first when they share an upstream account. A funnel's own calls (CARTs,
 * ORDERs, lead syncs) are what a buyer is waiting on; lifecycle deliveries are background work
 * that can be hours deep during a backfill. So a lifecycle delivery is `background`: the outbox
 * claims it after every due funnel job, and ActiveCampaign's rate gate never gives it the last
 * slot of a second (collector/emit/rate-gate.ts), so a funnel call always finds one.
 *
 * The outbox worker runs each rate-gated handler inside {@link runWithPriority}; the rate gate reads
 * {@link currentPriority} for the call being made. One queue, one gate: only the order changes.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { JOB_KINDS } from './job-kinds.js';

export type JobPriority = 'funnel' | 'background';

/** The kinds that give way to the funnel's. */
export const BACKGROUND_KINDS: readonly string[] = Object.freeze([JOB_KINDS.lifecycleDeliver]);

export function jobPriority(kind: string): JobPriority {
  return BACKGROUND_KINDS.includes(kind) ? 'background' : 'funnel';
}

interface JobContext {
  priority: JobPriority;
  /** Told once, when the job first holds a place in its upstream's rate schedule. */
  onRateSlot: (() => void) | undefined;
}

const context = new AsyncLocalStorage<JobContext>();

/** Handlers running inside {@link context}. */
let running = 0;

/**
 * Runs `fn` (a job's handler) with the priority of its job kind. `onRateSlot` is how the worker
 * learns that a job it picked up has taken its place in the rate gate's schedule
 * (outbox/relay-lane.ts): until then, the schedule does not show the job, so it picks up no more.
 *
 * Only for jobs whose calls pass a rate gate (the worker runs the others plainly). On Node 20 an
 * AsyncLocalStorage in use makes every promise of the process pay an async hook: 55-93 µs of
 * CPU per ingest request in the bench while it stayed on. So the storage is disabled again as
 * soon as no such handler runs, and a collector relaying only Konnektive calls never pays it.
 */
export async function runWithPriority<T>(kind: string, fn: () => Promise<T>, onRateSlot?: () => void): Promise<T> {
  running++;
  try {
    return await context.run({ priority: jobPriority(kind), onRateSlot }, fn);
  } finally {
    if (--running === 0) context.disable();
  }
}

/** The priority of the job whose handler is running; outside any job (a CLI's own call), `funnel`. */
export function currentPriority(): JobPriority {
  return context.getStore()?.priority ?? 'funnel';
}

/** The rate gate reserved a slot for the running job's call (once per job is enough). */
export function rateSlotReserved(): void {
  const job = context.getStore();
  const tell = job?.onRateSlot;
  if (!job || !tell) return;
  job.onRateSlot = undefined;
  tell();
}
