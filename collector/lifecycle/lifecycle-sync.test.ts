/**
 * Recording Konnektive records on both stores (SQLite and, when reachable, PostgreSQL at
 * FUNNELBEACON_TEST_POSTGRES_URL): every event kind found once, through overlapping reads, a
 * restart and two stores racing on the same change.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { testPostgres } from '../../test/support/postgres.js';
import { PostgresStore } from '../store/postgres-store.js';
import { SqliteStore } from '../store/sqlite-store.js';
import type { Store } from '../store/store.js';
import type { KonnektiveRow, LifecycleSource } from './konnektive-lifecycle-client.js';
import type { LifecycleEvent } from './lifecycle-event.js';
import { recordChange } from './lifecycle-sync.js';

const T0 = 1_800_000_000_000;
const postgres = await testPostgres();
const dirs: string[] = [];

const backends = [
  {
    name: 'sqlite',
    skip: undefined as string | undefined,
    open() {
      const dir = mkdtempSync(join(tmpdir(), 'funnelbeacon-lifecycle-'));
      dirs.push(dir);
      const path = join(dir, 'store.db');
      return { store: new SqliteStore(path) as Store, openPeer: () => new SqliteStore(path) as Store };
    },
  },
  {
    name: 'postgres',
    skip: postgres.skip,
    open() {
      const schema = postgres.newSchema();
      return { store: PostgresStore.fromUrl(postgres.url, { schema }) as Store, openPeer: () => PostgresStore.fromUrl(postgres.url, { schema }) as Store };
    },
  },
];

afterAll(async () => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  await postgres.dropSchemas();
});

const ALICE = { customerId: '501', emailAddress: 'Alice@Example.com', firstName: 'Alice' };
const order = (over: KonnektiveRow = {}): KonnektiveRow => ({ orderId: 'ORD1', orderStatus: 'COMPLETE', dateUpdated: '2026-12-01 10:00:00', ...ALICE, ...over });
const txn = (over: KonnektiveRow): KonnektiveRow => ({ orderId: 'ORD1', customerId: '501', responseType: 'SUCCESS', dateUpdated: '2026-12-01 10:00:00', ...over });
const purchase = (over: KonnektiveRow): KonnektiveRow => ({ purchaseId: 'P9', orderId: 'ORD1', status: 'ACTIVE', billingCycleNumber: 1, price: '29.95', ...ALICE, ...over });

/** A customer's life: buys, rebills twice (one declined, then recovered), partial refund, chargeback and its reversal, pause, reactivation, cancel, shipping. */
const LIFE: Array<[LifecycleSource, KonnektiveRow]> = [
  ['orders', order()],
  ['transactions', txn({ transactionId: '100', txnType: 'SALE', totalAmount: '49.95', purchaseId: 'P9', billingCycleNumber: 1, dateCreated: '2026-12-01 10:00:00' })],
  ['transactions', txn({ transactionId: '90', txnType: 'SALE', responseType: 'SOFT_DECLINE', responseText: 'Insufficient funds', totalAmount: '49.95' })],
  ['purchases', purchase({})],
  ['transactions', txn({ transactionId: '101', txnType: 'SALE', totalAmount: '29.95', purchaseId: 'P9', billingCycleNumber: 2 })],
  ['purchases', purchase({ billingCycleNumber: 2 })],
  ['transactions', txn({ transactionId: '102', txnType: 'SALE', responseType: 'HARD_DECLINE', responseText: 'Do not honor', totalAmount: '29.95', purchaseId: 'P9', billingCycleNumber: 3 })],
  ['purchases', purchase({ status: 'RECYCLE_BILLING', billingCycleNumber: 3 })],
  ['transactions', txn({ transactionId: '103', txnType: 'SALE', responseType: 'SOFT_DECLINE', totalAmount: '29.95', purchaseId: 'P9', billingCycleNumber: 3 })],
  ['purchases', purchase({ status: 'RECYCLE_FAILED', billingCycleNumber: 3 })],
  ['purchases', purchase({ status: 'ACTIVE', billingCycleNumber: 3, dateUpdated: '2026-12-05 09:00:00' })],
  ['transactions', txn({ transactionId: '104', txnType: 'REFUND', totalAmount: '-10.00', purchaseId: 'P9', billingCycleNumber: 1, refundReason: 'Damaged' })],
  ['transactions', txn({ transactionId: '105', txnType: 'VOID', totalAmount: '29.95', parentTransactionId: '101' })],
  ['transactions', txn({ transactionId: '100', txnType: 'SALE', totalAmount: '49.95', purchaseId: 'P9', billingCycleNumber: 1, dateCreated: '2026-12-01 10:00:00', isChargedback: '1', chargebackAmount: '49.95', chargebackDate: '12/06/2026', chargebackReasonCode: '4837' })],
  ['transactions', txn({ transactionId: '100', txnType: 'SALE', totalAmount: '49.95', purchaseId: 'P9', billingCycleNumber: 1, dateCreated: '2026-12-01 10:00:00', isChargedback: '0' })],
  ['purchases', purchase({ status: 'PAUSED', billingCycleNumber: 3, dateUpdated: '2026-12-07 09:00:00' })],
  ['purchases', purchase({ status: 'ACTIVE', billingCycleNumber: 3, dateUpdated: '2026-12-08 09:00:00' })],
  ['purchases', purchase({ status: 'CANCELLED', cancelReason: 'Too expensive', billingCycleNumber: 3, dateUpdated: '2026-12-09 09:00:00' })],
  ['orders', order({ fulfillments: [{ fulfillmentId: 'F1', status: 'SHIPPED', trackingNumber: '1Z999', shipCarrier: 'UPS' }] })],
  ['orders', order({ fulfillments: [{ fulfillmentId: 'F1', status: 'DELIVERED', trackingNumber: '1Z999', shipCarrier: 'UPS' }] })],
  ['orders', order({ orderStatus: 'CANCELLED', fulfillments: [{ fulfillmentId: 'F1', status: 'DELIVERED', trackingNumber: '1Z999' }] })],
];

async function replay(store: Store, records: Array<[LifecycleSource, KonnektiveRow]>): Promise<LifecycleEvent[]> {
  const found: LifecycleEvent[] = [];
  for (const [source, row] of records) found.push(...(await store.transaction((tx) => recordChange(tx, source, row, T0))).inserted);
  return found;
}

for (const backend of backends) {
  describe.skipIf(Boolean(backend.skip))(`lifecycle sync on ${backend.name}`, () => {
    let store: Store;
    let openPeer: () => Store;
    const others: Store[] = [];
    beforeEach(async () => {
      ({ store, openPeer } = backend.open());
      await store.migrate();
    });
    afterEach(async () => {
      await store.close();
      for (const other of others.splice(0)) await other.close();
    });

    it('finds each change of a customer life once, with the right details, and queues one delivery each in order', async () => {
      const found = await replay(store, LIFE);
      expect(found.map((e) => e.kind)).toEqual([
        'sale_completed',
        'sale_declined',
        'rebill_succeeded',
        'rebill_declined',
        'retries_exhausted',
        'subscription_reactivated',
        'refund',
        'void',
        'chargeback',
        'chargeback_reversed',
        'subscription_paused',
        'subscription_reactivated',
        'subscription_cancelled',
        'fulfillment_shipped',
        'fulfillment_delivered',
        'order_cancelled',
      ]);
      const byKind = (kind: string) => found.filter((e) => e.kind === kind);
      expect(byKind('sale_declined')[0]).toMatchObject({ declineType: 'soft', reason: 'Insufficient funds', transactionId: '90', amountCents: 4995 });
      expect(byKind('rebill_succeeded')[0]).toMatchObject({ id: 'purchase:P9:cycle:2:rebill_succeeded', transactionId: '101', amountCents: 2995, billingCycle: 2 });
      expect(byKind('rebill_declined')[0]).toMatchObject({ declineType: 'hard', reason: 'Do not honor', transactionId: '102' });
      // Refund: no transaction named, so the latest successful sale of the order, purchase and cycle.
      expect(byKind('refund')[0]).toMatchObject({ amountCents: 1000, returnsTransactionId: '100', fullRefund: false, reason: 'Damaged' });
      expect(byKind('void')[0]).toMatchObject({ returnsTransactionId: '101' });
      expect(byKind('chargeback')[0]).toMatchObject({ returnsTransactionId: '100', amountCents: 4995, reason: '4837' });
      expect(byKind('subscription_cancelled')[0]).toMatchObject({ reason: 'Too expensive', purchaseId: 'P9' });
      expect(byKind('fulfillment_shipped')[0]).toMatchObject({ trackingNumber: '1Z999', carrier: 'UPS', orderId: 'ORD1' });
      // Values as Konnektive holds them, the email's case included; the outbox key is lowercased.
      expect(found.every((e) => e.customer.email === 'Alice@Example.com')).toBe(true);
      const jobs = await store.listJobs({ sessionId: 'customer:alice@example.com', limit: 100 });
      expect(jobs).toHaveLength(found.length);
      expect(jobs.every((job) => job.kind === 'lifecycle.deliver' && job.upstream === 'activecampaign')).toBe(true);
      expect([...jobs].sort((a, b) => a.id - b.id).map((job) => job.payload.id)).toEqual(found.map((e) => e.id));
    });

    it('reading the records again (an overlapping window), on this store or after a restart, finds nothing new', async () => {
      const first = await replay(store, LIFE);
      // Konnektive answers a record's current state: the last row of each.
      const latest = [...new Map(LIFE.map(([source, row]) => [`${source}:${String(row.transactionId ?? row.purchaseId ?? row.orderId)}`, [source, row] as [LifecycleSource, KonnektiveRow]])).values()];
      expect(await replay(store, latest)).toEqual([]);
      const restarted = openPeer();
      others.push(restarted);
      await restarted.migrate();
      expect(await replay(restarted, latest)).toEqual([]);
      expect(await store.listJobs({ sessionId: 'customer:alice@example.com', limit: 100 })).toHaveLength(first.length);
    });

    it('two stores racing on the same change make one event and one job', async () => {
      const peer = openPeer();
      others.push(peer);
      await peer.migrate();
      const sale = txn({ transactionId: '700', txnType: 'SALE', totalAmount: '10.00', emailAddress: 'bob@example.com' });
      const results = await Promise.all([store, peer, store, peer].map((each) => each.transaction((tx) => recordChange(tx, 'transactions', sale, T0))));
      expect(results.flatMap((r) => r.inserted).map((e) => e.id)).toEqual(['txn:700:sale_completed']);
      expect(await store.listJobs({ sessionId: 'customer:bob@example.com' })).toHaveLength(1);
    });

    it('a change rolled back with its transaction is found again', async () => {
      const sale = txn({ transactionId: '800', txnType: 'SALE', totalAmount: '10.00', emailAddress: 'carol@example.com' });
      await expect(
        store.transaction(async (tx) => {
          await recordChange(tx, 'transactions', sale, T0);
          throw new Error('crash before commit');
        }),
      ).rejects.toThrow('crash before commit');
      expect((await replay(store, [['transactions', sale]])).map((e) => e.kind)).toEqual(['sale_completed']);
    });

    it('a rebill told by the purchase (its cycle advancing) and by its transaction is one event', async () => {
      const found = await replay(store, [
        ['purchases', purchase({ billingCycleNumber: 1 })],
        ['purchases', purchase({ billingCycleNumber: 2 })],
        ['transactions', txn({ transactionId: '201', txnType: 'SALE', totalAmount: '29.95', purchaseId: 'P9', billingCycleNumber: 2, emailAddress: 'Alice@Example.com' })],
      ]);
      expect(found.map((e) => e.id)).toEqual(['purchase:P9:cycle:2:rebill_succeeded']);
    });

    it('a transaction without an email takes its order\'s; without either it is keyed by the Konnektive customer', async () => {
      const found = await replay(store, [
        ['orders', order({ orderId: 'ORD7' })],
        ['transactions', txn({ transactionId: '300', orderId: 'ORD7', txnType: 'SALE', totalAmount: '5.00' })],
        ['transactions', txn({ transactionId: '301', orderId: 'ORD8', customerId: '777', txnType: 'SALE', totalAmount: '5.00' })],
      ]);
      expect(found[0]!.customer.email).toBe('Alice@Example.com');
      expect(await store.listJobs({ sessionId: 'customer:konnektive:777' })).toHaveLength(1);
    });
  });
}
