/**
 * @module job-outcome
 * What a job handler reports back to the worker. Handlers never throw for upstream trouble;
 * they return one of these, and the worker turns it into the job's next state.
 */
import type { Job } from '../store/store.js';

export type JobOutcome =
  /** Delivered (or nothing left to deliver). */
  | { type: 'done' }
  /** A transient failure: try again after the backoff (or `notBeforeMs`, if later). */
  | { type: 'retry'; error: string; notBeforeMs?: number }
  /** The upstream refused the request itself: retrying cannot help. */
  | { type: 'dead'; error: string }
  /** The upstream is paused (bad credentials, rate-limit pause): give the job back untouched. */
  | { type: 'paused'; error: string; notBeforeMs?: number };

export type JobHandler = (job: Job) => Promise<JobOutcome>;
