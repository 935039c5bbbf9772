/**
 * @module rate-limit
 * Per-IP limits for the ingest route, in requests and in bytes ({@link ByteBudget}): a fixed
 * one-minute window per address, each limit counted in one bounded map. Each collector counts for
 * itself; behind a load balancer the effective limit is per instance.
 *
 * Why not rate-limiter-flexible's `RateLimiterMemory`: it arms a timer per address and builds a
 * result object per request (measured: 6.7% of the collector's CPU under the ingest benchmark,
 * all of it from one address), and the map of addresses it keeps has no bound of its own. Here the
 * windows are {@link WindowCounts} (shared with the dashboard's sign-in limit): past
 * {@link MAX_TRACKED} addresses the oldest window is dropped first, so a flood from many
 * addresses costs bounded memory, at worst forgetting the count of its oldest address.
 */
import type { Context, MiddlewareHandler } from 'hono';
import { systemClock, type Clock } from '../clock.js';
import { fail } from './errors.js';
import { WindowCounts } from './window-counts.js';

export interface RateLimitOptions {
  perMinute: number;
  keyOf: (c: Parameters<MiddlewareHandler>[0]) => string;
  onLimited?: () => void;
  clock?: Clock;
}

/** Addresses counted at once (about 100 B each), by each limit. */
export const MAX_TRACKED = 50_000;
const WINDOW_MS = 60_000;

export function rateLimit({ perMinute, keyOf, onLimited = () => {}, clock = systemClock }: RateLimitOptions): MiddlewareHandler {
  const windows = new WindowCounts(WINDOW_MS, MAX_TRACKED);
  return async function rateLimitByIp(c, next) {
    const at = clock.now();
    const window = windows.add(keyOf(c), at);
    if (window.count > perMinute) {
      onLimited();
      const retryAfter = Math.max(1, Math.ceil((window.until - at) / 1000));
      fail(429, 'rate_limited', 'Too many requests from this address; try again later.', { 'retry-after': String(retryAfter) });
    }
    await next();
  };
}

export interface ByteBudgetOptions {
  bytesPerMinute: number;
  keyOf: (c: Context) => string;
  onLimited?: () => void;
  clock?: Clock;
}

/**
 * Per-IP bytes per minute, beside the request limit: requests alone let one address write 64 KiB
 * bodies at the full request rate (tens of megabytes a minute into the store). Counted in the same
 * kind of bounded window as the request limit ({@link WindowCounts}, {@link MAX_TRACKED}
 * addresses, oldest dropped first). An address over its budget is refused before its body is read
 * (`beforeBody`), and a body that takes it over is refused once read (`charge`): 429 with
 * Retry-After, as the request limit answers, and nothing of it stored.
 */
export class ByteBudget {
  readonly #windows = new WindowCounts(WINDOW_MS, MAX_TRACKED);
  readonly #perMinute: number;
  readonly #keyOf: (c: Context) => string;
  readonly #onLimited: () => void;
  readonly #clock: Clock;

  constructor({ bytesPerMinute, keyOf, onLimited = () => {}, clock = systemClock }: ByteBudgetOptions) {
    this.#perMinute = bytesPerMinute;
    this.#keyOf = keyOf;
    this.#onLimited = onLimited;
    this.#clock = clock;
  }

  /** Middleware: refuses an address whose budget for this minute is spent, before reading its body. */
  readonly beforeBody: MiddlewareHandler = async (c, next) => {
    const at = this.#clock.now();
    const window = this.#windows.peek(this.#keyOf(c), at);
    if (window !== undefined && window.count >= this.#perMinute) this.#refuse(window.until, at);
    await next();
  };

  /** Counts a body read from this request's address; refuses the request when it passes the budget. */
  charge(c: Context, bytes: number): void {
    const at = this.#clock.now();
    const window = this.#windows.add(this.#keyOf(c), at, bytes);
    if (window.count > this.#perMinute) this.#refuse(window.until, at);
  }

  #refuse(until: number, at: number): never {
    this.#onLimited();
    const retryAfter = Math.max(1, Math.ceil((until - at) / 1000));
    fail(429, 'rate_limited', 'Too much data from this address; try again later.', { 'retry-after': String(retryAfter) });
  }
}
