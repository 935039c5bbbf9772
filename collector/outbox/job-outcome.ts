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

/**
 * Writes a session patch before the call it guards, with the other jobs' writes of the moment
 * (relay-writer.ts); resolves false when the job is no longer this worker's (its lease was
 * taken over): the call must then not be made.
 */
export type WriteAhead = (patch: SessionPatch) => Promise<boolean>;

const noWriteAhead: WriteAhead = () => Promise.reject(new Error('this job runs without a write-ahead writer'));

/** Writes a handler asks for; committed together with the job's new state. */
export class JobEffects {
  readonly attempts: DeliveryAttempt[] = [];
  sessionPatch: SessionPatch | undefined;

  /** `writeAhead`: the worker's, for marks a handler must have on disk before it calls. */
  constructor(readonly writeAhead: WriteAhead = noWriteAhead) {}

  recordAttempt(attempt: DeliveryAttempt): void {
    this.attempts.push(attempt);
  }

  patchSession(patch: SessionPatch): void {
    const konnektive = patch.konnektive || this.sessionPatch?.konnektive ? { ...this.sessionPatch?.konnektive, ...patch.konnektive } : undefined;
    this.sessionPatch = { ...this.sessionPatch, ...patch, ...(konnektive ? { konnektive } : {}) };
  }
}

export type JobHandler = (job: Job, effects: JobEffects) => Promise<JobOutcome>;
