/**
 * @module outbox-worker
 * Delivers outbox jobs. It claims due jobs with a lease (one per session, a funnel's before
 * lifecycle deliveries, then oldest first, so a session's calls keep their order), runs them
 * concurrently, and records each outcome as soon as that job finishes:
 * done, retry after a capped exponential backoff with jitter, or a dead letter after the last
 * attempt. A job held by a worker that died becomes claimable again when its lease expires.
 *
 * The running loop claims again whenever one of its `concurrency` places is free (a job finished,
 * `notify()`), never waiting for the slowest job of a batch: a CART queued while long lifecycle
 * deliveries run is claimed as soon as any of them finishes, not after all of them.
 *
 * The loop survives every error: a failed claim counts as no work, so trouble backs off to the
 * normal poll interval instead of spinning. `notify()` wakes it early; `stop()` waits for the
 * jobs in flight, then gives back any claim it still holds.
 */
import { randomUUID } from 'node:crypto';
import { systemClock, type Clock } from '../clock.js';
import type { Logger } from '../logger.js';
import type { Job, JobFinish, Store } from '../store/store.js';
import type { UpstreamHealth } from '../upstream-health.js';
import { backoffDelay, DEFAULT_BACKOFF, type BackoffPolicy } from './backoff.js';
import { CompletionWriter } from './completion-writer.js';
import { JobEffects, type JobHandler, type JobOutcome } from './job-outcome.js';
import { isJobKind, type JobKind } from './job-kinds.js';
import { runWithPriority } from './job-priority.js';

export interface OutboxWorkerOptions {
  store: Store;
  /** One handler per job kind: a kind without one does not compile. */
  handlers: Readonly<Record<JobKind, JobHandler>>;
  health: UpstreamHealth;
  logger: Logger;
  owner?: string;
  /** Jobs run at once (each from a different session). */
  concurrency?: number;
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
  #stopping = false;
  #running: Promise<void> | undefined;
  #wake: (() => void) | undefined;
  #pendingWake = false;
  readonly #completions: CompletionWriter;
  /** The running loop's jobs in flight, by id. */
  readonly #inFlight = new Map<number, Promise<void>>();

  constructor(options: OutboxWorkerOptions) {
    this.owner = options.owner ?? `worker-${randomUUID().slice(0, 8)}`;
    this.#o = {
      concurrency: 16,
      leaseMs: 60_000,
      pollMs: 1_000,
      backoff: DEFAULT_BACKOFF,
      clock: systemClock,
      random: Math.random,
      ...options,
    };
    this.#completions = new CompletionWriter(this.#o.store, this.owner);
  }

  start(): void {
    if (this.#running) return;
    this.#stopping = false;
    this.#running = this.#loop();
  }

  /** New work was queued: run a round now instead of at the next poll. */
  notify(): void {
    this.#pendingWake = true;
    this.#wake?.();
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    this.#wake?.();
    await this.#running;
    this.#running = undefined;
    await this.#o.store.releaseClaims(this.owner);
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
      // at the same time, see completion-writer.ts), never held for the rest of the round: a job
      // waiting on ActiveCampaign's rate gate must not hold back the order id Konnektive just
      // returned, or a crash in between would repeat a call that is not idempotent.
      const results = await Promise.allSettled(
        jobs.map(async (job) => {
          const finished = await this.#deliver(job);
          await this.#completions.write(finished);
        }),
      );
      const failed = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
      if (failed) throw failed.reason;
    } finally {
      cancelRenewal();
    }
    return jobs.length;
  }

  async #loop(): Promise<void> {
    const { store, leaseMs, clock, concurrency, logger } = this.#o;
    // One renewal for every job in flight: a job can outlast a lease (a rate limit's wait).
    const renew = () => {
      cancelRenewal = clock.setTimer(renew, Math.max(10, leaseMs / 3));
      const ids = [...this.#inFlight.keys()];
      if (ids.length === 0) return;
      store.renewLeases(this.owner, ids, clock.now() + leaseMs).catch((error: unknown) => {
        logger.error({ err: describe(error), owner: this.owner }, 'lease renewal failed');
      });
    };
    let cancelRenewal = clock.setTimer(renew, Math.max(10, leaseMs / 3));
    try {
      while (!this.#stopping) {
        this.#pendingWake = false;
        const free = concurrency - this.#inFlight.size;
        let claimed = 0;
        if (free > 0) {
          try {
            claimed = await this.#claimAndStart(free);
          } catch (error) {
            logger.error({ err: describe(error), owner: this.owner }, 'outbox round failed');
          }
        }
        // Full, or nothing due: wait for a job to finish, a notify() or the poll interval.
        if ((free === 0 || claimed === 0) && !this.#stopping && !this.#pendingWake) await this.#sleep(this.#o.pollMs);
      }
      await Promise.allSettled(this.#inFlight.values());
    } finally {
      cancelRenewal();
    }
  }

  /** Claims up to `limit` due jobs and starts each; returns how many. */
  async #claimAndStart(limit: number): Promise<number> {
    const { store, health, leaseMs, clock, logger } = this.#o;
    const jobs = await store.claimJobs({ now: clock.now(), limit, leaseMs, owner: this.owner, skipUpstreams: health.paused() });
    for (const job of jobs) {
      const run = (async () => {
        try {
          await this.#completions.write(await this.#deliver(job));
        } catch (error) {
          // Its lease runs out and another round delivers it again, as after a crash.
          logger.error({ err: describe(error), owner: this.owner, jobId: job.id }, 'outbox round failed');
        } finally {
          this.#inFlight.delete(job.id);
          this.notify();
        }
      })();
      this.#inFlight.set(job.id, run);
    }
    return jobs.length;
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const cancel = this.#o.clock.setTimer(done, ms);
      function done() {
        cancel();
        resolve();
      }
      this.#wake = () => {
        this.#wake = undefined;
        done();
      };
    });
  }

  /** Runs one job's handler and decides its next state; the caller writes it. */
  async #deliver(job: Job): Promise<JobFinish> {
    const { handlers, logger, clock, backoff, random } = this.#o;
    const now = () => clock.now();
    const handler = isJobKind(job.kind) ? handlers[job.kind] : undefined;
    const effects = new JobEffects();
    let outcome: JobOutcome;
    if (!handler) {
      outcome = { type: 'dead', error: `no handler for job kind ${job.kind}` };
    } else {
      try {
        // The job's priority goes with its calls, so the rate gate serves a funnel's first.
        outcome = await runWithPriority(job.kind, () => handler(job, effects));
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
