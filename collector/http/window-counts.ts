/**
 * @module window-counts
 * Counts per key in fixed windows, in one map with a bound: what the ingest rate limit
 * (rate-limit.ts) and the dashboard's sign-in limit (dashboard/sign-in-limiter.ts) keep per
 * address.
 *
 * A window is two numbers. Windows are forgotten when they end (a sweep at most once per window
 * length), and past `maxKeys` keys the oldest window is dropped first: a flood from many
 * addresses costs bounded memory, at worst forgetting the count of its oldest address.
 * rate-limiter-flexible's `RateLimiterMemory` is not used for this: it arms a timer per key,
 * builds a result object per call, and its map has no bound of its own.
 */

export interface Window {
  /** When this window ends. */
  until: number;
  count: number;
}

export class WindowCounts {
  // Insertion order is window start order (a key is deleted before it is set again), so the
  // first entries are always the oldest windows.
  readonly #windows = new Map<string, Window>();
  #nextSweep = 0;

  constructor(
    readonly windowMs: number,
    readonly maxKeys: number,
  ) {}

  /** Keys counted now (live windows, and ended ones not swept yet). */
  get size(): number {
    return this.#windows.size;
  }

  /** The key's window if one is open at `at`; nothing is counted or created. */
  peek(key: string, at: number): Window | undefined {
    const window = this.#windows.get(key);
    return window !== undefined && window.until > at ? window : undefined;
  }

  /** Adds `n` to the key's window at `at` (opening one if none is open) and returns it. */
  add(key: string, at: number, n = 1): Window {
    this.#sweep(at);
    let window = this.#windows.get(key);
    if (window === undefined || window.until <= at) {
      if (window !== undefined) this.#windows.delete(key);
      else if (this.#windows.size >= this.maxKeys) this.#windows.delete(this.#windows.keys().next().value as string);
      window = { until: at + this.windowMs, count: 0 };
      this.#windows.set(key, window);
    }
    window.count += n;
    return window;
  }

  #sweep(at: number): void {
    if (at < this.#nextSweep) return;
    this.#nextSweep = at + this.windowMs;
    for (const [key, window] of this.#windows) {
      if (window.until > at) break;
      this.#windows.delete(key);
    }
  }
}
