/**
 * @module upstream-health
 * Each upstream's state as this collector sees it, for `/healthz` and for the worker (which
 * does not claim jobs for a paused upstream). A relay pauses itself on an authentication
 * failure instead of burning its retries, and resumes when a probe call succeeds.
 */
import type { Upstream } from './store/store.js';

export type UpstreamState = 'ok' | 'paused' | 'sandbox' | 'off';

export interface UpstreamStatus {
  state: UpstreamState;
  /** Why it is paused; never contains credentials. */
  reason?: string;
  since: number;
}

export class UpstreamHealth {
  readonly #status = new Map<Upstream, UpstreamStatus>();
  readonly #now: () => number;
  readonly #listeners = new Set<(upstream: Upstream, status: UpstreamStatus) => void>();

  constructor(initial: Record<Upstream, UpstreamState>, now: () => number = Date.now) {
    this.#now = now;
    for (const [upstream, state] of Object.entries(initial) as [Upstream, UpstreamState][]) {
      this.#status.set(upstream, { state, since: now() });
    }
  }

  get(upstream: Upstream): UpstreamStatus {
    return this.#status.get(upstream) ?? { state: 'off', since: 0 };
  }

  all(): Record<Upstream, UpstreamStatus> {
    return Object.fromEntries(this.#status) as Record<Upstream, UpstreamStatus>;
  }

  paused(): Upstream[] {
    return [...this.#status].filter(([, status]) => status.state === 'paused').map(([upstream]) => upstream);
  }

  pause(upstream: Upstream, reason: string): void {
    if (this.get(upstream).state === 'paused') return;
    this.#set(upstream, { state: 'paused', reason, since: this.#now() });
  }

  resume(upstream: Upstream): void {
    if (this.get(upstream).state !== 'paused') return;
    this.#set(upstream, { state: 'ok', since: this.#now() });
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
