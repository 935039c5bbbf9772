/**
 * The bench's durability switch (open-store.ts `unsafeSkipDurability`) turns PostgreSQL's
 * synchronous commit off only when code asks for it; a store opened from a URL alone, as the
 * collector opens it from `DATABASE_URL`, leaves the server's durable default in place.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../config.js';
import { testPostgres, type TestPostgres } from '../../test/support/postgres.js';
import { openStore } from './open-store.js';

let postgres: TestPostgres;
beforeAll(async () => {
  postgres = await testPostgres();
});
afterAll(async () => {
  await postgres?.dropSchemas();
});

async function synchronousCommit(options: { unsafeSkipDurability?: boolean }): Promise<string> {
  const store = await openStore(postgres.newSchemaUrl(), options);
  try {
    await store.migrate();
    const [row] = await store.sql().all<{ synchronous_commit: string }>('SHOW synchronous_commit');
    return row!.synchronous_commit;
  } finally {
    await store.close();
  }
}

describe('the bench-only durability switch', () => {
  it('PostgreSQL commits synchronously unless the code that opens the store asks otherwise', async (context) => {
    if (postgres.skip) return context.skip(postgres.skip);
    expect(await synchronousCommit({})).toBe('on');
    expect(await synchronousCommit({ unsafeSkipDurability: true })).toBe('off');
  });

  it('no setting of the configuration reaches it', () => {
    const parsed = parseConfig({ DATABASE_URL: 'file:./data/x.db', UNSAFE_SKIP_DURABILITY: 'true', unsafeSkipDurability: 'true' });
    expect(parsed.ok).toBe(true);
    if (parsed.ok) expect(JSON.stringify(parsed.config)).not.toMatch(/durab/i);
  });
});
