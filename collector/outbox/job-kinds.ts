/**
 * @module job-kinds
 * Every kind of outbox job, and the upstream it calls. A job's payload is what the call needs
 * that is not in the session row at the time it runs.
 */
import type { Upstream } from '../store/store.js';

export const JOB_KINDS = Object.freeze({
  konnektiveClick: 'konnektive.click',
  konnektiveLead: 'konnektive.lead',
} as const);
export type JobKind = (typeof JOB_KINDS)[keyof typeof JOB_KINDS];

export const JOB_UPSTREAM: Record<JobKind, Upstream> = {
  'konnektive.click': 'konnektive',
  'konnektive.lead': 'konnektive',
};

/** Payload of a click job: the request as the browser made it, kept for the Import Click call. */
export interface ClickJobPayload {
  page: string;
  url: string;
  referrer?: string;
}
