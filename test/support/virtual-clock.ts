/**
 * Virtual time for tests of abandonment and rate limits, shared by the collector (its sweeper,
 * outbox and rate gate) and the upstream doubles. Tests move it with `advance()`; the rate gate's
 * `sleep` parks the caller until time reaches its target. Timers (the outbox's poll and lease
 * renewal) fire whenever time moves past them, and never move time themselves. Sleepers wake one at a time in target
 * order, and time moves only once every request sent through `fetch` has been answered, so a
 * request reaches a double at exactly the virtual time its slot allowed.
 */
import type { Clock } from '../../collector/clock.js';

export class VirtualClock implements Clock {
  #now: number;
  #seq = 0;
  #pumping = false;
  readonly #sleepers: { at: number; seq: number; wake: () => void }[] = [];
  readonly #inflight = new Set<Promise<unknown>>();
  readonly #timers = new Set<{ at: number; seq: number; fire: () => void }>();

  constructor(start = Date.UTC(2026, 10, 23, 12, 0, 0)) {
    this.#now = start;
  }

  now = (): number => this.#now;

  sleep = (ms: number): Promise<void> =>
    new Promise<void>((wake) => {
      this.#sleepers.push({ at: this.#now + Math.max(0, ms), seq: ++this.#seq, wake });
      void this.#pump();
    });

  setTimer = (fire: () => void, ms: number): (() => void) => {
    const timer = { at: this.#now + Math.max(0, ms), seq: ++this.#seq, fire };
    this.#timers.add(timer);
    return () => void this.#timers.delete(timer);
  };

  /** Idle time passing: the visitor is away, the sweeper's interval goes by. */
  advance(ms: number): void {
    this.#moveTo(this.#now + ms);
  }

  /** Moves time to `at`, firing every timer due by then in time order, each at its own time. */
  #moveTo(at: number): void {
    for (;;) {
      let next: { at: number; seq: number; fire: () => void } | undefined;
      for (const timer of this.#timers) if (timer.at <= at && (!next || timer.at < next.at || (timer.at === next.at && timer.seq < next.seq))) next = timer;
      if (!next) break;
      this.#timers.delete(next);
      this.#now = Math.max(this.#now, next.at);
      next.fire();
    }
    this.#now = Math.max(this.#now, at);
  }

  /** `fetch` whose requests the clock waits for before moving time. */
  fetch: typeof fetch = (input, init) => {
    const pending = fetch(input, init);
    this.#inflight.add(pending);
    const done = () => this.#inflight.delete(pending);
    pending.then(done, done);
    return pending;
  };

  async #settle(): Promise<void> {
    const tick = () => new Promise<void>((resolve) => setImmediate(resolve));
    for (;;) {
      for (let i = 0; i < 3; i++) await tick();
      if (this.#inflight.size === 0) return;
      await Promise.allSettled([...this.#inflight]);
    }
  }

  async #pump(): Promise<void> {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      for (;;) {
        await this.#settle();
        this.#sleepers.sort((a, b) => a.at - b.at || a.seq - b.seq);
        const next = this.#sleepers.shift();
        if (!next) return;
        this.#moveTo(next.at);
        next.wake();
      }
    } finally {
      this.#pumping = false;
    }
  }
}
