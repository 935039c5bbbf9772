/**
 * The two store reads the purchase checks rely on, on SQLite and on PostgreSQL: which other
 * session holds a Konnektive order id, and which sessions of an email still have an open cart.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { testPostgres } from '../../test/support/postgres.js';
import { PostgresStore } from './postgres-store.js';
import { SqliteStore } from './sqlite-store.js';
import type { Store } from './store.js';

const postgres = await testPostgres();
const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  if (!postgres.skip) await postgres.dropSchemas();
});

const backends: { name: string; skip: string | undefined; open: () => Store }[] = [
  {
    name: 'sqlite',
    skip: undefined,
    open: () => {
      const dir = mkdtempSync(join(tmpdir(), 'funnelbeacon-purchase-'));
      dirs.push(dir);
      return new SqliteStore(join(dir, 'store.db'));
    },
  },
  { name: 'postgres', skip: postgres.skip, open: () => PostgresStore.fromUrl(postgres.url, { schema: postgres.newSchema() }) },
];

const T0 = 1_700_000_000_000;
const cart = { items: [{ id: '41', name: 'Bottle', price: 39.95, qty: 1 }], currency: 'USD' };

for (const backend of backends) {
  describe.skipIf(backend.skip !== undefined)(`purchase-check queries on ${backend.name}`, () => {
    async function withStore(fn: (store: Store) => Promise<void>): Promise<void> {
      const store = backend.open();
      await store.migrate();
      try {
        await fn(store);
      } finally {
        await store.close();
      }
    }

    async function add(store: Store, id: string, createdAt = T0): Promise<void> {
      await store.transaction((tx) =>
        tx.insertSession({ id, campaignId: '12', createdAt, lastSeenAt: createdAt, landingUrl: undefined, referrer: undefined, userAgent: 'UA', ip: '203.0.113.7', isBot: false }),
      );
    }

    it('tells whether another session holds an order id, as reported or as created by its Import Lead', async () => {
      await withStore(async (store) => {
        await add(store, 'a');
        await add(store, 'b');
        await store.updateSession('a', { claimedOrderId: 'R1' });
        await store.updateSession('b', { konnektive: { orderId: 'P1' } });
        expect(await store.orderHeldElsewhere('R1', 'b')).toBe(true);
        expect(await store.orderHeldElsewhere('R1', 'a')).toBe(false);
        expect(await store.orderHeldElsewhere('P1', 'a')).toBe(true);
        expect(await store.orderHeldElsewhere('P1', 'b')).toBe(false);
        expect(await store.orderHeldElsewhere('NOPE', 'a')).toBe(false);
      });
    });

    it('lists the open sessions of an email that hold a cart, any letter case, oldest first', async () => {
      await withStore(async (store) => {
        await add(store, 'late', T0 + 2);
        await add(store, 'early', T0 + 1);
        await add(store, 'no-cart', T0);
        await add(store, 'abandoned', T0);
        await add(store, 'other', T0);
        for (const id of ['late', 'early', 'no-cart', 'abandoned']) await store.updateSession(id, { lead: { emailAddress: id === 'late' ? 'ANN@example.com' : 'ann@example.com' } });
        await store.updateSession('other', { lead: { emailAddress: 'bob@example.com' }, cart });
        for (const id of ['late', 'early', 'abandoned']) await store.updateSession(id, { cart });
        await store.updateSession('abandoned', { state: 'abandoned', stateChangedAt: T0 + 5 });
        const open = await store.transaction((tx) => tx.listOpenCartsByEmail('Ann@Example.com'));
        expect(open.map((session) => session.id)).toEqual(['early', 'late']);
      });
    });
  });
}
