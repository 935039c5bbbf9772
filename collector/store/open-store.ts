/**
 * @module open-store
 * Chooses the store implementation once, from `DATABASE_URL`.
 */
import type { Clock } from '../clock.js';
import type { Store } from './store.js';
import { SqliteStore } from './sqlite-store.js';

export interface OpenStoreOptions {
  /** The time the store writes; the wall clock by default. */
  clock?: Clock;
  /**
   * Bench only: commits stop being durable (SQLite skips its fsync, PostgreSQL runs with
   * `synchronous_commit=off`), so `npm run bench` can show what durability costs. Nothing in the
   * configuration sets it: only `bench/ingest/collector-entry.ts` passes it, in code.
   */
  unsafeSkipDurability?: boolean;
}

export async function openStore(databaseUrl: string, options: OpenStoreOptions = {}): Promise<Store> {
  if (databaseUrl.startsWith('file:')) return SqliteStore.fromUrl(databaseUrl, options);
  const { PostgresStore } = await import('./postgres-store.js');
  return PostgresStore.fromUrl(databaseUrl, options);
}
