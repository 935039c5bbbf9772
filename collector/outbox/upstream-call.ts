/**
 * @module upstream-call
 * What every upstream call made by a job leaves behind, and what its failure means for the job:
 * - the call is counted in `/metrics` (by upstream, endpoint and outcome, with its latency) and
 *   written to the delivery log as a redacted attempt, committed with the job's outcome;
 * - a failure becomes the job's outcome: transient → retry, rejected → dead letter, rate-limited
 *   → held back without spending an attempt, and bad credentials → the whole upstream paused.
 *   Konnektive's pause lasts until its probe call succeeds again; ActiveCampaign has no probe, so
 *   its pause ends by itself after {@link AUTH_PAUSE_MS} and the next job tries again (a one-off
 *   403 must not stop emissions for good).
 */
import type { Clock } from '../clock.js';
import type { KonnektiveApi, KonnektiveEndpoint, KonnektiveResult } from '../konnektive/konnektive-client.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { redactMessage, summariseMessage, summariseParams } from '../redact.js';
import { UPSTREAM_NAMES, type Job, type Upstream } from '../store/store.js';
import type { UpstreamHealth } from '../upstream-health.js';
import type { JobEffects, JobOutcome } from './job-outcome.js';

/** How long ActiveCampaign calls wait after it refused the API key. */
export const AUTH_PAUSE_MS = 5 * 60_000;


/** One HTTP call as the delivery log keeps it: redacted summaries only. */
export interface CallRecord {
  endpoint: string;
  request: string;
  response: string;
  outcome: 'ok' | 'rejected' | 'transient' | 'auth' | 'sandbox' | 'skipped';
  httpStatus?: number;
  latencyMs: number;
}

/** A failed call, as either upstream's client reports it. */
export interface CallFailure {
  failure: 'transient' | 'rejected' | 'auth' | 'rate_limited' | 'absent';
  message: string;
  /** The upstream asked to be left alone until then (`Retry-After`). */
  retryAt?: number;
}

export interface UpstreamCallDeps {
  metrics: Metrics;
  logger: Logger;
  health: UpstreamHealth;
  clock: Clock;
}

/** Counts a call in the metrics and adds it to the job's delivery attempts. */
export function recordCall(deps: UpstreamCallDeps, upstream: Upstream, job: Job, effects: JobEffects, call: CallRecord): void {
  deps.metrics.upstreamCalls.inc({ upstream, endpoint: call.endpoint, outcome: call.outcome });
  if (call.outcome !== 'sandbox') deps.metrics.upstreamLatency.observe({ upstream, endpoint: call.endpoint }, call.latencyMs / 1000);
  effects.recordAttempt({ jobId: job.id, upstream, createdAt: deps.clock.now(), httpStatus: call.httpStatus, ...call });
}

/** The delivery-log entry of one Konnektive call. */
export function konnektiveCallRecord(endpoint: string, params: Record<string, string>, result: KonnektiveResult, sandbox = false): CallRecord {
  return {
    endpoint,
    request: summariseParams(params),
    response: result.ok ? summariseMessage(result.message) : redactMessage(result.message),
    outcome: sandbox ? 'sandbox' : result.ok ? 'ok' : result.failure,
    ...(result.httpStatus === undefined ? {} : { httpStatus: result.httpStatus }),
    latencyMs: Math.round(result.latencyMs),
  };
}

/**
 * A Konnektive call made for a job, recorded. `answer` stands in for the call in sandbox mode
 * (Query Order answered from the session).
 */
export function konnektiveCaller(deps: UpstreamCallDeps & { api: KonnektiveApi }) {
  return async (
    job: Job,
    effects: JobEffects,
    endpoint: KonnektiveEndpoint,
    params: Record<string, string>,
    answer?: () => KonnektiveResult,
  ): Promise<KonnektiveResult> => {
    const result = deps.api.sandbox && answer ? answer() : await deps.api.call(endpoint, params);
    recordCall(deps, 'konnektive', job, effects, konnektiveCallRecord(endpoint, params, result, deps.api.sandbox));
    if (!result.ok && !deps.api.sandbox) deps.logger.warn({ jobId: job.id, endpoint, failure: result.failure, error: redactMessage(result.message) }, 'konnektive call failed');
    return result;
  };
}

/** What a failed call means for its job; bad credentials pause the whole upstream. */
export function failureOutcome(deps: Pick<UpstreamCallDeps, 'health' | 'logger' | 'clock'>, upstream: Upstream, failed: CallFailure): JobOutcome {
  const error = redactMessage(failed.message);
  const notBefore = failed.retryAt ? { notBeforeMs: failed.retryAt } : {};
  switch (failed.failure) {
    case 'rate_limited':
      // Not the job's fault: wait for the account to be free again without spending an attempt.
      return { type: 'paused', error, ...notBefore };
    case 'auth': {
      const until = upstream === 'konnektive' ? undefined : deps.clock.now() + AUTH_PAUSE_MS;
      if (deps.health.get(upstream).state !== 'paused') {
        deps.logger.error(
          { upstream },
          until ? `${UPSTREAM_NAMES[upstream]} refused the API credentials; relay paused for ${AUTH_PAUSE_MS / 60_000} minutes` : `${UPSTREAM_NAMES[upstream]} refused the API credentials; relay paused until they work again`,
        );
      }
      deps.health.pause(upstream, `${UPSTREAM_NAMES[upstream]} refused the API credentials`, until);
      return { type: 'paused', error, ...(until ? { notBeforeMs: until } : {}) };
    }
    case 'transient':
      return { type: 'retry', error, ...notBefore };
    case 'rejected':
    case 'absent':
      return { type: 'dead', error };
  }
}
