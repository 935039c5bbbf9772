/**
 * @module async-mutex
 * Serialises async sections. The SQLite store has one connection for the whole process; an
 * interleaved write from another caller while a transaction is open would join (and be rolled
 * back with) that transaction, so every store operation takes this lock.
 */
export class AsyncMutex {
  #tail: Promise<unknown> = Promise.resolve();

  run<T>(fn: () => Promise<T> | T): Promise<T> {
    const result = this.#tail.then(fn);
    // The next caller waits for this one to settle, whatever its outcome.
    this.#tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }
}
