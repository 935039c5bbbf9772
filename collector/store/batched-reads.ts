/**
 * @module batched-reads
 * Reads of one session each that arrive in the same turn of the event loop, answered by one
 * query. The outbox worker starts the jobs it claimed together, and each handler first reads its
 * session: on PostgreSQL that was one round trip (and one commit) per job.
 */
export class BatchedReads<K, V> {
  readonly #fetch: (keys: K[]) => Promise<Map<K, V>>;
  #waiting = new Map<K, { resolve: (value: V | undefined) => void; reject: (error: unknown) => void }[]>();
  #scheduled = false;

  /** `fetch` answers a map of the keys found; a key it leaves out reads as undefined. */
  constructor(fetch: (keys: K[]) => Promise<Map<K, V>>) {
    this.#fetch = fetch;
  }

  read(key: K): Promise<V | undefined> {
    return new Promise((resolve, reject) => {
      const list = this.#waiting.get(key);
      if (list) list.push({ resolve, reject });
      else this.#waiting.set(key, [{ resolve, reject }]);
      if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(() => void this.#run());
      }
    });
  }

  async #run(): Promise<void> {
    const waiting = this.#waiting;
    this.#waiting = new Map();
    this.#scheduled = false;
    try {
      const found = await this.#fetch([...waiting.keys()]);
      for (const [key, list] of waiting) for (const { resolve } of list) resolve(found.get(key));
    } catch (error) {
      for (const list of waiting.values()) for (const { reject } of list) reject(error);
    }
  }
}
