/**
 * The lifecycle sync whole, through the real collector on a virtual clock: what happens to a
 * customer in Konnektive (the strict double) is read by the poll, turned into events once, and
 * delivered to ActiveCampaign (the strict double) through the outbox and the rate gate. The
 * customer buys (not through the funnel), rebills twice with a decline and a recovery between, is
 * refunded in part and cancels: ActiveCampaign ends with three orders at their net totals, the
 * tags and fields of a cancelled, refunded customer, and each event tracked once, however often
 * the same days are read again.
 */
import { describe, expect, it } from 'vitest';
import type { ActiveCampaignDouble } from '../../test/doubles/activecampaign-double.js';
import type { KonnektiveDouble } from '../../test/doubles/konnektive-double.js';
import { eventually, startTestCollector, type TestCollector } from '../../test/support/test-collector.js';
import { emissionEnv, withUpstreamDoubles } from '../../test/support/upstream-doubles.js';
import type { VirtualClock } from '../../test/support/virtual-clock.js';

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
const NEW_YORK_WINTER = -300;
const EMAIL = 'Ann.Lee@Example.com';

describe('lifecycle sync from Konnektive to ActiveCampaign', { timeout: 120_000 }, () => {
  let clock: VirtualClock;
  let crm: KonnektiveDouble;
  let ac: ActiveCampaignDouble;
  let collector: TestCollector;

  withUpstreamDoubles(
    (doubles) => ({ clock, crm, ac } = doubles),
    () => collector,
  );

  const env = () =>
    emissionEnv({ crm, ac }, 'activecampaign', {
      LIFECYCLE_SYNC: 'on',
      LIFECYCLE_POLL_EVERY: '5m',
      KONNEKTIVE_TIMEZONE: 'America/New_York',
      ACTIVECAMPAIGN_ACCOUNT_ID: '1000',
      ACTIVECAMPAIGN_EVENT_KEY: 'ac-event-key',
      ACTIVECAMPAIGN_EVENTS_URL: ac.eventsUrl,
    });

  /** Time passes: a sweep queues the poll; the outbox runs the poll and every delivery it queued. */
  async function pass(ms: number): Promise<void> {
    clock.advance(ms);
    await collector.sweeper.sweepOnce();
    for (let round = 0; round < 200; round++) {
      collector.worker.notify();
      const open = (await collector.store.listJobs({ state: 'pending' })).concat(await collector.store.listJobs({ state: 'running' }));
      if (open.length === 0) return;
      const due = open.filter((job) => job.state === 'running' || job.runAt <= clock.now());
      if (due.length === 0) {
        clock.advance(Math.min(...open.map((job) => job.runAt - clock.now())));
        continue;
      }
      await eventually(async () => {
        const still = await collector.store.listJobs({ state: 'running' });
        return still.length === 0 ? true : undefined;
      }, { timeoutMs: 10_000 });
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    throw new Error('the outbox did not settle');
  }

  const contact = () => [...ac.contacts.values()].find((each) => each.email === EMAIL);
  const tags = () => [...ac.contactTags.values()].filter((ct) => ct.contact === contact()?.id).map((ct) => ac.tags.get(ct.tag)?.tag).sort();
  const field = (perstag: string) => {
    const found = [...ac.fields.values()].find((each) => each.perstag === perstag);
    return found && contact()?.fieldValues.get(found.id);
  };

  it('buys, rebills twice, declines once, recovers, is refunded in part and cancels', async () => {
    crm.setUtcOffset(NEW_YORK_WINTER);
    collector = await startTestCollector(env(), { clock, fetch: clock.fetch, runSweeper: false });
    const customer = { customerId: '501', emailAddress: EMAIL, firstName: 'Ann', lastName: 'Lee', currency: 'USD', productId: '41', productName: 'Bottle' };
    const order = crm.createCompletedOrder({ email: EMAIL, firstName: 'Ann', items: [{ productId: '41', name: 'Bottle', qty: 1, price: '49.95' }] });
    const sale = { ...customer, orderId: order.orderId, purchaseId: 'P7' };

    // The first sale (a phone order: no funnel session holds it).
    crm.putTransaction({ ...sale, transactionId: 'T1', billingCycleNumber: 1, txnType: 'SALE', responseType: 'SUCCESS', totalAmount: '49.95' });
    crm.putPurchase({ ...sale, status: 'TRIAL', billingCycleNumber: 1, price: '29.95', nextBillDate: '12/23/2026' });
    await pass(0);
    // Read again and again: nothing new.
    await pass(5 * MINUTE);

    // The first rebill.
    clock.advance(30 * DAY);
    crm.putTransaction({ ...sale, transactionId: 'T2', billingCycleNumber: 2, txnType: 'SALE', responseType: 'SUCCESS', totalAmount: '29.95' });
    crm.putPurchase({ ...sale, status: 'ACTIVE', billingCycleNumber: 2, nextBillDate: '01/22/2027' });
    await pass(5 * MINUTE);

    // The second rebill declines, goes into retries, and a retry succeeds.
    clock.advance(30 * DAY);
    crm.putTransaction({ ...sale, transactionId: 'T3', billingCycleNumber: 3, txnType: 'SALE', responseType: 'SOFT_DECLINE', responseText: 'Insufficient funds', totalAmount: '29.95' });
    crm.putPurchase({ ...sale, status: 'RECYCLE_BILLING', billingCycleNumber: 3 });
    await pass(5 * MINUTE);
    expect(tags()).toContain('fb-past-due');
    clock.advance(3 * DAY);
    crm.putTransaction({ ...sale, transactionId: 'T4', billingCycleNumber: 3, txnType: 'SALE', responseType: 'SUCCESS', totalAmount: '29.95' });
    crm.putPurchase({ ...sale, status: 'ACTIVE', billingCycleNumber: 3, nextBillDate: '02/24/2027' });
    await pass(5 * MINUTE);
    expect(tags()).not.toContain('fb-past-due');

    // A refund of part of that rebill, then the cancel.
    clock.advance(6 * DAY);
    crm.putTransaction({ ...sale, transactionId: 'T5', billingCycleNumber: 3, txnType: 'REFUND', responseType: 'SUCCESS', totalAmount: '-10.00' });
    await pass(5 * MINUTE);
    clock.advance(DAY);
    crm.putPurchase({ ...sale, status: 'CANCELLED', billingCycleNumber: 3, cancelReason: 'Too expensive' });
    await pass(5 * MINUTE);
    // The same days read again, after a restart on the same store.
    await collector.close();
    collector = await startTestCollector({ ...env(), DATABASE_URL: collector.config.databaseUrl }, { clock, fetch: clock.fetch, runSweeper: false });
    await pass(5 * MINUTE);
    await pass(5 * MINUTE);

    const orders = [...ac.orders.values()].map((each) => [each.externalid, each.totalPrice]).sort();
    expect(orders).toEqual([[order.orderId, 4995], ['T2', 2995], ['T4', 1995]].sort());
    expect(tags()).toEqual(['fb-cancelled', 'fb-customer', 'fb-refunded']);
    expect(field('FB_CUSTOMER_STATUS')).toBe('cancelled');
    expect(field('FB_NEXT_BILL_DATE')).toBe('2027-02-24');
    expect(field('FB_LIFETIME_VALUE')).toBe('99.85');
    expect(ac.trackingLogs.map((log) => log.event)).toEqual(['order_completed', 'rebill_succeeded', 'rebill_declined', 'rebill_succeeded', 'order_refunded', 'subscription_cancelled']);
    expect(ac.stats.rateLimited).toBe(0);
    expect(await collector.store.listJobs({ state: 'dead' })).toEqual([]);
  });
});
