/**
 * @module job-outcome
 * What a job handler reports back to the worker. Handlers never throw for upstream trouble;
 * they return an outcome, and leave what the store should remember in {@link JobEffects}. The
 * worker writes a job's outcome and effects in one transaction as soon as the job finishes.
 */
import type { DeliveryAttempt, Job, SessionPatch } from '../store/store.js';

export type JobOutcome =
  /** Delivered (or nothing left to deliver). */
  | { type: 'done' }
  /** A transient failure: try again after the backoff (or `notBeforeMs`, if later). */
  | { type: 'retry'; error: string; notBeforeMs?: number }
  /** The upstream refused the request itself: retrying cannot help. */
  | { type: 'dead'; error: string }
  /** The upstream is paused (bad credentials, rate-limit pause): give the job back untouched. */
  | { type: 'paused'; error: string; notBeforeMs?: number };

/** Writes a handler asks for; committed together with the job's new state. */
export class JobEffects {
  readonly attempts: DeliveryAttempt[] = [];
  sessionPatch: SessionPatch | undefined;

  recordAttempt(attempt: DeliveryAttempt): void {
    this.attempts.push(attempt);
  }

  patchSession(patch: SessionPatch): void {
    const konnektive = patch.konnektive || this.sessionPatch?.konnektive ? { ...this.sessionPatch?.konnektive, ...patch.konnektive } : undefined;
    this.sessionPatch = { ...this.sessionPatch, ...patch, ...(konnektive ? { konnektive } : {}) };
  }
}

export type JobHandler = (job: Job, effects: JobEffects) => Promise<JobOutcome>;
