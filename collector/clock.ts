/**
 * @module clock
 * Time as the collector sees it. Production uses the wall clock; tests drive a virtual one
 * (test/support/virtual-clock.ts), so hours of idle time, seconds of rate-limit waiting, the
 * outbox's polling and its lease renewal pass without sleeping.
 */
export interface Clock {
  now(): number;
  /** Resolves once `ms` have passed on this clock. On a virtual clock, waiting moves time on. */
  sleep(ms: number): Promise<void>;
  /**
   * Calls `fire` once `ms` have passed on this clock; returns the function that cancels it. Unlike
   * `sleep`, a timer never moves a virtual clock: it fires when something else moves time past it.
   */
  setTimer(fire: () => void, ms: number): () => void;
}

export const systemClock: Clock = Object.freeze({
  now: () => Date.now(),
  sleep: (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, ms))),
  setTimer: (fire: () => void, ms: number) => {
    const timer = setTimeout(fire, Math.max(0, ms));
    return () => clearTimeout(timer);
  },
});
