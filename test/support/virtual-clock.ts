/**
 * A clock tests move by hand. `sleep` (the rate gate's wait) jumps time to the sleeper's target
 * at once; time never goes backwards, so concurrent sleepers all wake at or after their target.
 */
import type { Clock } from '../../collector/clock.js';

export class VirtualClock implements Clock {
  #now: number;

  constructor(start = Date.UTC(2026, 10, 23, 12, 0, 0)) {
    this.#now = start;
  }

  now = (): number => this.#now;

  sleep = async (ms: number): Promise<void> => {
    this.#now = Math.max(this.#now, this.#now + Math.max(0, ms));
  };

  advance(ms: number): void {
    this.#now += ms;
  }
}
