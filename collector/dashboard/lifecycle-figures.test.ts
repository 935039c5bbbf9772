/**
 * The figures after the order, from events the lifecycle sync stored (through the real change
 * detector, so their ids are the ones the poll makes), on both stores, and the overview's answer.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { KonnektiveRow, LifecycleSource } from '../lifecycle/konnektive-lifecycle-client.js';
import { recordChange } from '../lifecycle/lifecycle-sync.js';
import { openStore } from '../store/open-store.js';
import type { Store } from '../store/store.js';
import { testPostgres } from '../../test/support/postgres.js';
import { OverviewResponse } from './api-schema.js';
import { lifecycleFigures } from './lifecycle-figures.js';
import { lifecycleNote, overview } from './overview.js';
import { sessionDetail } from './queries.js';
import { jobHref } from './ui/job-link.js';
import { SessionDetailResponse } from './api-schema.js';

const postgres = await testPostgres();
afterAll(() => postgres.dropSchemas());

const DAY = 86_400_000;
const NOW = Date.UTC(2026, 11, 7, 12);
const FROM = NOW - 7 * DAY;

const txn = (id: number, fields: KonnektiveRow): KonnektiveRow => ({
  transactionId: String(id),
  txnType: 'SALE',
  responseType: 'SUCCESS',
  emailAddress: 'Buyer@Example.com',
  currency: 'USD',
  dateCreated: '2026-12-05 10:00:00',
  ...fields,
});

async function record(store: Store, at: number, source: LifecycleSource, row: KonnektiveRow) {
  return store.transaction((tx) => recordChange(tx, source, row, at));
}

/** A customer who buys, declines a rebill and recovers it, rebills again, is refunded in part, charged back; others decline, cancel, pause. */
async function seed(store: Store) {
  const at = FROM + DAY;
  await record(store, at, 'transactions', txn(1, { orderId: 'O1', purchaseId: 'P1', billingCycleNumber: 1, totalAmount: '39.95' }));
  await record(store, at, 'transactions', txn(2, { orderId: 'O2', responseType: 'SOFT_DECLINE', responseText: 'Insufficient funds', totalAmount: '19.95' }));
  await record(store, at + 1, 'transactions', txn(3, { orderId: 'O1', purchaseId: 'P1', billingCycleNumber: 2, responseType: 'SOFT_DECLINE', totalAmount: '39.95' }));
  await record(store, at + 2, 'transactions', txn(4, { orderId: 'O1', purchaseId: 'P1', billingCycleNumber: 2, totalAmount: '39.95' }));
  await record(store, at + 3, 'transactions', txn(5, { orderId: 'O1', purchaseId: 'P1', billingCycleNumber: 3, totalAmount: '39.95' }));
  await record(store, at + 4, 'transactions', txn(6, { orderId: 'O1', purchaseId: 'P1', billingCycleNumber: 3, txnType: 'REFUND', totalAmount: '-10.00' }));
  await record(store, at + 5, 'transactions', txn(7, { orderId: 'O3', totalAmount: '24.50' }));
  await record(store, at + 6, 'transactions', txn(7, { orderId: 'O3', totalAmount: '24.50', isChargedback: '1', chargebackDate: '2026-12-06 09:00:00' }));
  await record(store, at, 'purchases', { purchaseId: 'P1', orderId: 'O1', status: 'ACTIVE', billingCycleNumber: 3, emailAddress: 'buyer@example.com' });
  await record(store, at, 'purchases', { purchaseId: 'P2', orderId: 'O4', status: 'CANCELLED', emailAddress: 'b@example.com', dateUpdated: '2026-12-05 11:00:00' });
  await record(store, at, 'purchases', { purchaseId: 'P3', orderId: 'O5', status: 'PAUSED', emailAddress: 'c@example.com', dateUpdated: '2026-12-05 11:00:00' });
  await record(store, at, 'purchases', { purchaseId: 'P4', orderId: 'O6', status: 'TRIAL', emailAddress: 'd@example.com' });
  // The period before: one rebill of another subscription.
  await record(store, FROM - DAY, 'transactions', txn(8, { orderId: 'O7', purchaseId: 'P7', billingCycleNumber: 2, totalAmount: '15.00' }));
}

const stores: [string, () => Promise<Store>, string | undefined][] = [
  ['SQLite', () => openStore('file::memory:'), undefined],
  ['PostgreSQL', () => openStore(postgres.newSchemaUrl()), postgres.skip],
];

for (const [name, open, skip] of stores) {
  describe.skipIf(skip !== undefined)(`lifecycle figures on ${name}`, () => {
    it('counts each kind, the recovered rebill, the amounts per currency and the net revenue of the period', async () => {
      const store = await open();
      try {
        await store.migrate();
        await seed(store);
        const sql = store.sql();
        const current = await lifecycleFigures(sql, FROM, NOW, { now: NOW });
        expect(current).toEqual({
          sales: 2,
          salesCents: { USD: 3995 + 2450 },
          saleDeclines: 1,
          rebills: 2,
          rebillCents: { USD: 7990 },
          rebillDeclines: 1,
          recoveredRebills: 1,
          recoveredRebillCents: { USD: 3995 },
          cancellations: 1,
          pauses: 1,
          refunds: 1,
          refundCents: { USD: 1000 },
          chargebacks: 1,
          chargebackCents: { USD: 2450 },
          activeSubscribers: 2,
          netCents: { USD: 3995 + 2450 + 7990 - 1000 - 2450 },
        });
        const previous = await lifecycleFigures(sql, FROM - 7 * DAY, FROM, { now: NOW });
        expect(previous).toMatchObject({ sales: 0, rebills: 1, rebillCents: { USD: 1500 }, recoveredRebills: 0, activeSubscribers: null, netCents: { USD: 1500 } });
      } finally {
        await store.close();
      }
    });

    it('answers the overview with both periods when the sync is on, and nothing when it is off with no event', async () => {
      const store = await open();
      try {
        await store.migrate();
        const sql = store.sql();
        const off = OverviewResponse.parse(await overview(sql, FROM, NOW, { now: NOW, linkTtlMs: DAY, lifecycle: { enabled: false, note: null } }));
        expect(off.lifecycle).toBeNull();
        const on = OverviewResponse.parse(await overview(sql, FROM, NOW, { now: NOW, linkTtlMs: DAY, lifecycle: { enabled: true, note: null } }));
        expect(on.lifecycle).toMatchObject({ enabled: true, current: { rebills: 0, netCents: 0, activeSubscribers: 0 } });
        await seed(store);
        // Off now, but events were stored: still shown.
        const stored = OverviewResponse.parse(await overview(sql, FROM, NOW, { now: NOW, linkTtlMs: DAY }));
        expect(stored.lifecycle).toMatchObject({
          enabled: false,
          currencies: ['USD'],
          current: { rebills: 2, rebillCents: 7990, recoveredRebills: 1, refundCents: 1000, chargebackCents: 2450, netCents: 10985, activeSubscribers: 2 },
          previous: { rebills: 1, netCents: 1500, activeSubscribers: null },
        });
      } finally {
        await store.close();
      }
    });

    it("lists the buyer's events on the session's page, by the lead's email in any letter case, and no one else's", async () => {
      const store = await open();
      try {
        await store.migrate();
        await seed(store);
        await store.transaction(async (tx) => {
          await tx.insertSession({ id: 's1', campaignId: '12', createdAt: FROM, lastSeenAt: FROM, landingUrl: undefined, referrer: undefined, userAgent: 'x', ip: '203.0.113.9', isBot: false });
          await tx.updateSession('s1', { lead: { emailAddress: 'BUYER@example.com' } });
          await tx.insertSession({ id: 's2', campaignId: '12', createdAt: FROM, lastSeenAt: FROM, landingUrl: undefined, referrer: undefined, userAgent: 'x', ip: '203.0.113.9', isBot: false });
        });
        const detail = SessionDetailResponse.parse(await sessionDetail(store, 's1'));
        // Every seeded transaction is this buyer's; the cancelled, paused and trial subscriptions are others'.
        expect(detail.lifecycle.map((e) => e.kind).sort()).toEqual(['chargeback', 'rebill_declined', 'rebill_succeeded', 'rebill_succeeded', 'rebill_succeeded', 'refund', 'sale_completed', 'sale_completed', 'sale_declined']);
        expect(detail.lifecycle.map((e) => e.foundAt)).toEqual([...detail.lifecycle.map((e) => e.foundAt)].sort((a, b) => a - b));
        expect(detail.lifecycle.find((e) => e.kind === 'refund')).toMatchObject({ amountCents: 1000, currency: 'USD', orderId: 'O1', transactionId: '6' });
        expect(JSON.stringify(detail.lifecycle)).not.toMatch(/example\.com/i);
        expect((await sessionDetail(store, 's2'))!.lifecycle).toEqual([]);
      } finally {
        await store.close();
      }
    });
  });
}

describe("a job's link on Delivery", () => {
  it('leads a funnel job to its session, a customer\'s lifecycle job to the sessions of the email, and the poll nowhere', () => {
    expect(jobHref('abc_123')).toBe('#/sessions/abc_123');
    expect(jobHref('customer:buyer@example.com')).toBe('#/sessions?q=buyer%40example.com');
    expect(jobHref('customer:konnektive:991')).toBeUndefined();
    expect(jobHref('lifecycle:poll')).toBeUndefined();
  });
});

describe('the note when the lifecycle sync cannot run', () => {
  it('names ActiveCampaign’s API settings with the Konnektive route alone, and says nothing otherwise', () => {
    expect(lifecycleNote({ konnektive: {}, activeCampaign: undefined, sandbox: false })).toBe('Lifecycle sync needs ACTIVECAMPAIGN_API_URL and ACTIVECAMPAIGN_API_KEY.');
    expect(lifecycleNote({ konnektive: {}, activeCampaign: {}, sandbox: false })).toBeNull();
    expect(lifecycleNote({ konnektive: undefined, activeCampaign: undefined, sandbox: true })).toBeNull();
  });
});
