/**
 * @module outbox-worker
 * Delivers outbox jobs. It claims due jobs with a lease (one per session, a funnel's before
 * lifecycle deliveries, then oldest first, so a session's calls keep their order), runs them
 * concurrently, and records each outcome as soon as that job finishes:
 * done, retry after a capped exponential backoff with jitter, or a dead letter after the last
 * attempt. A job held by a worker that died becomes claimable again when its lease expires.
 *
 * The running worker has one lane per upstream (relay-lane.ts), each with `concurrency` places
 * of its own, refilled as each call ends: a CART queued while long lifecycle deliveries run is
 * claimed as soon as any of them finishes, and Konnektive's places never wait on
 * ActiveCampaign's answers or its rate limit. A rate-limited upstream is throttled at pickup
 * (`throttles`): its jobs stay in the outbox until the shared schedule has room for them.
 *
 * Each lane survives every error: a failed claim counts as no work, so trouble backs off to the
 * normal poll interval instead of spinning. `notify()` wakes the lanes early; `stop()` waits for
 * the jobs in flight, then gives back any claim it still holds.
 */
import { randomUUID } from 'node:crypto';
import { systemClock, type Clock } from '../clock.js';
import type { Logger } from '../logger.js';
import type { Job, JobFinish, Store, Upstream } from '../store/store.js';
import type { UpstreamHealth } from '../upstream-health.js';
import { backoffDelay, DEFAULT_BACKOFF, type BackoffPolicy } from './backoff.js';
import { RelayWriter } from './relay-writer.js';
import { JobEffects, type JobHandler, type JobOutcome } from './job-outcome.js';
import { isJobKind, type JobKind } from './job-kinds.js';
import { runWithPriority } from './job-priority.js';
import { RelayLane, type PickupThrottle } from './relay-lane.js';

/** Places per upstream when none are configured (`RELAY_CONCURRENCY`). */
export const DEFAULT_RELAY_CONCURRENCY = 32;

export interface OutboxWorkerOptions {
  store: Store;
  /** One handler per job kind: a kind without one does not compile. */
  handlers: Readonly<Record<JobKind, JobHandler>>;
  health: UpstreamHealth;
  logger: Logger;
  owner?: string;
  /** Jobs run at once per upstream (each from a different session); `runOnce` claims this many in all. */
  concurrency?: number;
  /** The upstreams this collector has work for, one relay lane each (Konnektive and ActiveCampaign unless told). */
  upstreams?: readonly Upstream[];
  /** Upstreams whose rate limit decides at pickup whether their jobs are claimed (ActiveCampaign's). */
  throttles?: Partial<Record<Upstream, PickupThrottle>>;
  leaseMs?: number;
  pollMs?: number;
  backoff?: BackoffPolicy;
  /** Time for run-at and lease times, the idle poll and lease renewal. */
  clock?: Clock;
  random?: () => number;
}

export class OutboxWorker {
  readonly owner: string;
  readonly #o: Required<Omit<OutboxWorkerOptions, 'owner'>>;
  #running: Promise<void> | undefined;
  readonly #writer: RelayWriter;
  readonly #lanes: RelayLane[];

  constructor(options: OutboxWorkerOptions) {
    this.owner = options.owner ?? `worker-${randomUUID().slice(0, 8)}`;
    this.#o = {
      concurrency: DEFAULT_RELAY_CONCURRENCY,
      throttles: {},
      upstreams: ['konnektive', 'activecampaign'],
      leaseMs: 60_000,
      pollMs: 1_000,
      backoff: DEFAULT_BACKOFF,
      clock: systemClock,
      random: Math.random,
      ...options,
    };
    this.#writer = new RelayWriter(this.#o.store, this.owner);
    const { health, logger, clock, concurrency, leaseMs, pollMs, throttles, upstreams } = this.#o;
    this.#lanes = upstreams.map(
      (upstream) =>
        new RelayLane({
          upstream,
          health,
          logger,
          clock,
          owner: this.owner,
          concurrency,
          leaseMs,
          pollMs,
          throttle: throttles[upstream],
          claim: (options) => this.#writer.claim(options),
          run: async (job, onRateSlot) => {
            await this.#writer.write(await this.#deliver(job, onRateSlot));
          },
          ended: () => this.#ended(upstream),
        }),
    );
  }

  start(): void {
    if (this.#running) return;
    for (const lane of this.#lanes) lane.start();
    this.#running = this.#renewWhileRunning();
  }

  /**
   * New work was queued: claim now instead of at the next poll. `upstreams`: the only lanes with
   * new work (ingest knows what each commit queued); all of them when not said.
   */
  notify(upstreams?: Iterable<Upstream>): void {
    if (upstreams === undefined) {
      for (const lane of this.#lanes) lane.notify();
      return;
    }
    for (const upstream of upstreams) this.#lanes.find((lane) => lane.upstream === upstream)?.notify();
  }

  /**
   * A job of `upstream` ended: its lane has a free place at once. The other lanes may have work
   * that waited behind it (the session's next job, or one its handler queued), so they look
   * again too, but at most once per NUDGE_GAP_MS each (relay-lane.ts): under load jobs end by
   * the thousand a second, and every look of a lane with nothing to do is a query.
   */
  #ended(upstream: Upstream): void {
    for (const lane of this.#lanes) {
      if (lane.upstream === upstream) lane.notify();
      else lane.nudge();
    }
  }

  async stop(): Promise<void> {
    const running = this.#running;
    this.#stopRenewal?.();
    await Promise.all(this.#lanes.map((lane) => lane.stop()));
    await running;
    this.#running = undefined;
    await this.#o.store.releaseClaims(this.owner);
  }

  /** Jobs in flight per upstream (the running worker's). */
  inFlight(): Record<Upstream, number> {
    return Object.fromEntries(this.#lanes.map((lane) => [lane.upstream, lane.inFlight.size])) as Record<Upstream, number>;
  }

  /** One round: claim, deliver, record. Returns how many jobs it handled. */
  async runOnce(): Promise<number> {
    const { store, health, concurrency, leaseMs, clock } = this.#o;
    const now = () => clock.now();
    const jobs = await store.claimJobs({
      now: now(),
      limit: concurrency,
      leaseMs,
      owner: this.owner,
      skipUpstreams: health.paused(),
    });
    if (jobs.length === 0) return 0;
    // A round can outlast a lease (a rate limit's wait, a long Retry-After): while it runs, its
    // leases are renewed, so no other worker takes a job that is still being delivered.
    const ids = jobs.map((job) => job.id);
    const every = Math.max(10, leaseMs / 3);
    const renew = () => {
      cancelRenewal = clock.setTimer(renew, every);
      store.renewLeases(this.owner, ids, now() + leaseMs).catch((error: unknown) => {
        this.#o.logger.error({ err: describe(error), owner: this.owner }, 'lease renewal failed');
      });
    };
    let cancelRenewal = clock.setTimer(renew, every);
    try {
      // Each job's result is stored the moment its upstream answers (with the others that finish
      // at the same time, see relay-writer.ts), never held for the rest of the round: a job
      // waiting on ActiveCampaign's rate gate must not hold back the order id Konnektive just
      // returned, or a crash in between would repeat a call that is not idempotent.
      const results = await Promise.allSettled(
        jobs.map(async (job) => {
          const finished = await this.#deliver(job);
          await this.#writer.write(finished);
        }),
      );
      const failed = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
      if (failed) throw failed.reason;
    } finally {
      cancelRenewal();
    }
    return jobs.length;
  }

  #stopRenewal: (() => void) | undefined;

  /** One lease renewal for every job in flight in any lane: a job can outlast a lease (a long Retry-After). */
  async #renewWhileRunning(): Promise<void> {
    const { store, leaseMs, clock, logger } = this.#o;
    const every = Math.max(10, leaseMs / 3);
    const renew = () => {
      cancel = clock.setTimer(renew, every);
      const ids = this.#lanes.flatMap((lane) => [...lane.inFlight.keys()]);
      if (ids.length === 0) return;
      store.renewLeases(this.owner, ids, clock.now() + leaseMs).catch((error: unknown) => {
        logger.error({ err: describe(error), owner: this.owner }, 'lease renewal failed');
      });
    };
    let cancel = clock.setTimer(renew, every);
    await new Promise<void>((resolve) => {
      this.#stopRenewal = () => {
        this.#stopRenewal = undefined;
        resolve();
      };
    });
    // Jobs still finishing keep their leases until the lanes have stopped.
    await Promise.all(this.#lanes.map((lane) => lane.stop()));
    cancel();
  }

  /** Runs one job's handler and decides its next state; the caller writes it. */
  async #deliver(job: Job, onRateSlot?: () => void): Promise<JobFinish> {
    const { handlers, logger, clock, backoff, random } = this.#o;
    const now = () => clock.now();
    const handler = isJobKind(job.kind) ? handlers[job.kind] : undefined;
    const effects = new JobEffects((patch) =>
      this.#writer.write({ id: job.id, sessionId: job.sessionId, completion: { state: 'running' }, attempts: [], sessionPatch: patch }),
    );
    let outcome: JobOutcome;
    if (!handler) {
      outcome = { type: 'dead', error: `no handler for job kind ${job.kind}` };
    } else {
      try {
        // The job's priority goes with its calls, so the rate gate serves a funnel's first. Only
        // ActiveCampaign's calls pass a rate gate; the others need no context (job-priority.ts).
        outcome = await (job.upstream === 'activecampaign' ? runWithPriority(job.kind, () => handler(job, effects), onRateSlot) : handler(job, effects));
      } catch (error) {
        // A handler bug is treated like a transient failure: it is retried, then dead-lettered.
        outcome = { type: 'retry', error: `handler error: ${describe(error)}` };
      }
    }
    const finish = (completion: JobFinish['completion']): JobFinish => ({
      id: job.id,
      sessionId: job.sessionId,
      completion,
      attempts: effects.attempts,
      sessionPatch: effects.sessionPatch,
    });
    const log = { jobId: job.id, kind: job.kind, attempt: job.attempts + 1 };
    switch (outcome.type) {
      case 'done':
        logger.debug(log, 'job delivered');
        return finish({ state: 'done' });
      case 'paused':
        logger.warn({ ...log, error: outcome.error }, 'job held back: upstream paused');
        return finish({ state: 'pending', runAt: Math.max(now(), outcome.notBeforeMs ?? 0), error: outcome.error, countAttempt: false });
      case 'retry': {
        const failures = job.attempts + 1;
        if (failures >= backoff.maxAttempts) {
          logger.error({ ...log, error: outcome.error }, 'job dead-lettered after its last attempt');
          return finish({ state: 'dead', error: outcome.error });
        }
        const runAt = Math.max(now() + backoffDelay(failures, backoff, random), outcome.notBeforeMs ?? 0);
        logger.warn({ ...log, error: outcome.error, retryInMs: runAt - now() }, 'job failed; will retry');
        return finish({ state: 'pending', runAt, error: outcome.error, countAttempt: true });
      }
      case 'dead':
        logger.error({ ...log, error: outcome.error }, 'job rejected upstream; dead-lettered');
        return finish({ state: 'dead', error: outcome.error });
    }
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
