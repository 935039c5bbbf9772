/**
 * @module clock
 * Time as the collector's background work sees it. Production uses the wall clock; tests of
 * abandonment and rate limits drive a virtual one, so hours of idle time and seconds of
 * rate-limit waiting pass without sleeping.
 */
export interface Clock {
  now(): number;
  /** Resolves once `ms` have passed on this clock. */
  sleep(ms: number): Promise<void>;
}

export const systemClock: Clock = Object.freeze({
  now: () => Date.now(),
  sleep: (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, ms))),
});
