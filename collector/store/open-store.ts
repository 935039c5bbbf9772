/**
 * @module open-store
 * Chooses the store implementation once, from `DATABASE_URL`.
 */
import type { Store } from './store.js';
import { SqliteStore } from './sqlite-store.js';

export async function openStore(databaseUrl: string): Promise<Store> {
  if (databaseUrl.startsWith('file:')) return SqliteStore.fromUrl(databaseUrl);
  const { PostgresStore } = await import('./postgres-store.js');
  return PostgresStore.fromUrl(databaseUrl);
}
