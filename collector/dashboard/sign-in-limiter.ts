/**
 * @module sign-in-limiter
 * How many wrong dashboard tokens the collector hears before it stops listening: per address
 * (an IPv6 client by its /64, which one subscriber can rotate through at will), and from all
 * addresses together, so that a flood from many addresses is bounded too.
 *
 * Only failures are counted, and only a request without a valid credential is ever held back:
 * the collector checks a presented token or cookie first, so nobody can lock the owner out by
 * failing in their name. Memory is bounded whatever the flood: at most `maxAddresses` addresses
 * are counted at once (the oldest dropped first, {@link WindowCounts}), and past the global
 * budget no new address is counted at all.
 */
import { addressKey } from '../http/client-ip.js';
import { WindowCounts } from '../http/window-counts.js';

export interface SignInLimits {
  /** Wrong tokens allowed per address (an IPv6 /64) per window. */
  perAddress: number;
  /** Wrong tokens allowed from all addresses together per window. */
  global: number;
  windowMs: number;
  /** Addresses counted at once. */
  maxAddresses: number;
}

export const DEFAULT_SIGN_IN_LIMITS: Readonly<SignInLimits> = Object.freeze({
  perAddress: 10,
  global: 500,
  windowMs: 15 * 60_000,
  maxAddresses: 10_000,
});

const EVERYONE = '*';

export class SignInLimiter {
  readonly limits: Readonly<SignInLimits>;
  readonly #byAddress: WindowCounts;
  readonly #everyone: WindowCounts;

  constructor(limits: Partial<SignInLimits> = {}) {
    this.limits = Object.freeze({ ...DEFAULT_SIGN_IN_LIMITS, ...limits });
    this.#byAddress = new WindowCounts(this.limits.windowMs, this.limits.maxAddresses);
    this.#everyone = new WindowCounts(this.limits.windowMs, 1);
  }

  /** Addresses counted now (what a flood from many addresses can grow, up to `maxAddresses`). */
  get trackedAddresses(): number {
    return this.#byAddress.size;
  }

  /**
   * How long a request without a valid credential from `ip` must wait at `at` (ms), or 0: its
   * address, or everyone, is past the budget.
   */
  waitMs(ip: string, at: number): number {
    return this.#waitMs(addressKey(ip), at);
  }

  #waitMs(key: string, at: number): number {
    let until = 0;
    const own = this.#byAddress.peek(key, at);
    if (own && own.count >= this.limits.perAddress) until = own.until;
    const all = this.#everyone.peek(EVERYONE, at);
    if (all && all.count >= this.limits.global) until = Math.max(until, all.until);
    return until > 0 ? until - at : 0;
  }

  /**
   * A wrong token from `ip` at `at`: counted, unless its address or everyone is already past the
   * budget; then nothing is counted (nor remembered) and the answer is how long to wait (ms).
   */
  failed(ip: string, at: number): number {
    const key = addressKey(ip);
    const wait = this.#waitMs(key, at);
    if (wait > 0) return wait;
    this.#everyone.add(EVERYONE, at);
    this.#byAddress.add(key, at);
    return 0;
  }
}
