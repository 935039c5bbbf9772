/**
 * @module upstream-health
 * Each upstream's state as this collector sees it, for `/healthz` and for the worker (which
 * does not claim jobs for a paused upstream). A relay pauses itself on an authentication
 * failure instead of burning its retries, and resumes when a probe call succeeds.
 */
import { systemClock, type Clock } from './clock.js';
import type { Upstream } from './store/store.js';

export type UpstreamState = 'ok' | 'paused' | 'sandbox' | 'off';

export interface UpstreamStatus {
  state: UpstreamState;
  /** Why it is paused; never contains credentials. */
  reason?: string;
  since: number;
  /** A pause with no probe to lift it ends by itself at this time. */
  until?: number;
}

export class UpstreamHealth {
  readonly #status = new Map<Upstream, UpstreamStatus>();
  readonly #clock: Clock;
  readonly #listeners = new Set<(upstream: Upstream, status: UpstreamStatus) => void>();

  /** An upstream left out of `initial` is `off` (an ad platform without credentials). */
  constructor(initial: Partial<Record<Upstream, UpstreamState>>, clock: Clock = systemClock) {
    this.#clock = clock;
    for (const [upstream, state] of Object.entries(initial) as [Upstream, UpstreamState][]) {
      this.#status.set(upstream, { state, since: clock.now() });
    }
  }

  get(upstream: Upstream): UpstreamStatus {
    const status = this.#status.get(upstream) ?? { state: 'off', since: 0 };
    if (status.state === 'paused' && status.until !== undefined && this.#clock.now() >= status.until) {
      this.resume(upstream);
      return this.#status.get(upstream)!;
    }
    return status;
  }

  all(): Record<Upstream, UpstreamStatus> {
    return Object.fromEntries([...this.#status.keys()].map((upstream) => [upstream, this.get(upstream)])) as Record<Upstream, UpstreamStatus>;
  }

  paused(): Upstream[] {
    return [...this.#status.keys()].filter((upstream) => this.get(upstream).state === 'paused');
  }

  /** Pauses an upstream, until a probe resumes it or, with `until`, until then. */
  pause(upstream: Upstream, reason: string, until?: number): void {
    if (this.#status.get(upstream)?.state === 'paused') return;
    this.#set(upstream, { state: 'paused', reason, since: this.#clock.now(), ...(until !== undefined ? { until } : {}) });
  }

  resume(upstream: Upstream): void {
    if (this.#status.get(upstream)?.state !== 'paused') return;
    this.#set(upstream, { state: 'ok', since: this.#clock.now() });
  }

  onChange(listener: (upstream: Upstream, status: UpstreamStatus) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #set(upstream: Upstream, status: UpstreamStatus): void {
    this.#status.set(upstream, status);
    for (const listener of this.#listeners) listener(upstream, status);
  }
}
