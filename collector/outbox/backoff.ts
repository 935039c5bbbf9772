/**
 * @module backoff
 * The one retry-delay formula: exponential, with full-range jitter so that jobs failed together
 * do not come back together, and a ceiling.
 */
export interface BackoffPolicy {
  /** Delay before the first retry (before jitter). */
  baseMs: number;
  /** No delay is longer than this. */
  capMs: number;
  /** After this many failed attempts a job becomes a dead letter. */
  maxAttempts: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = Object.freeze({ baseMs: 2_000, capMs: 15 * 60_000, maxAttempts: 15 });

/** Delay before retry number `attempt` (1 = the first retry): base·2^(attempt-1)·(1 + random), capped. */
export function backoffDelay(attempt: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const exponential = policy.baseMs * 2 ** Math.min(30, Math.max(0, attempt - 1));
  return Math.min(policy.capMs, Math.round(exponential * (1 + random())));
}
