/**
 * How a double fails on purpose, the same for both: `set(mode, { times })` fails the next `times`
 * requests (or every one until `clear()`), with whatever else the mode needs (`extra`).
 */
export interface FailOptions {
  /** How many requests fail; every one until `recover()` when left out. */
  times?: number;
}

export class FailureSwitch<Mode extends string, Extra = Record<never, never>> {
  #armed: { mode: Mode; remaining: number | undefined; extra: Extra } | undefined;
  readonly #double: string;

  constructor(double: string) {
    this.#double = double;
  }

  /** The failure in force, without using one up. */
  get current(): (Extra & { mode: Mode }) | undefined {
    return this.#armed && { ...this.#armed.extra, mode: this.#armed.mode };
  }

  set(mode: Mode, { times }: FailOptions, extra: Extra): void {
    if (times !== undefined && (!Number.isInteger(times) || times < 1)) throw new Error(`${this.#double} double: times must be a positive integer`);
    this.#armed = { mode, remaining: times, extra };
  }

  /** The failure this request gets, counting it against `times`. */
  take(): (Extra & { mode: Mode }) | undefined {
    const taken = this.current;
    if (this.#armed?.remaining !== undefined && --this.#armed.remaining <= 0) this.#armed = undefined;
    return taken;
  }

  clear(): void {
    this.#armed = undefined;
  }
}
