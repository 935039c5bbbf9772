/**
 * The lifecycle poll through the real collector (outbox, sweeper's clock, store) against the
 * strict Konnektive double, on a virtual clock, the account in New York time:
 * - off by default: no poll is queued and Konnektive is never asked;
 * - each change is found once through overlapping windows, a restart and two collectors;
 * - a change made just before midnight in the account's zone is found after it;
 * - more than 200 changed records are read page by page;
 * - a Konnektive fault delays the poll and loses nothing.
 */
import { describe, expect, it } from 'vitest';
import type { ActiveCampaignDouble } from '../../test/doubles/activecampaign-double.js';
import type { KonnektiveDouble } from '../../test/doubles/konnektive-double.js';
import { eventually, startTestCollector, type TestCollector } from '../../test/support/test-collector.js';
import { emissionEnv, withUpstreamDoubles } from '../../test/support/upstream-doubles.js';
import type { VirtualClock } from '../../test/support/virtual-clock.js';
import { LIFECYCLE_POLL_KEY } from './lifecycle-poller.js';

const MINUTE = 60_000;
const NEW_YORK_WINTER = -300;
const item = { productId: '41', name: 'Bottle', qty: 1, price: '39.95' };

describe('lifecycle poll', { timeout: 60_000 }, () => {
  let clock: VirtualClock;
  let crm: KonnektiveDouble;
  let ac: ActiveCampaignDouble;
  let collector: TestCollector;
  const extra: TestCollector[] = [];

  withUpstreamDoubles(
    (doubles) => ({ clock, crm, ac } = doubles),
    () => ({
      close: async () => {
        for (const other of extra.splice(0)) await other.close();
        await collector?.close();
      },
    }),
  );

  const lifecycleEnv = (over: Record<string, string> = {}) =>
    emissionEnv({ crm, ac }, 'activecampaign', { LIFECYCLE_SYNC: 'on', LIFECYCLE_POLL_EVERY: '5m', KONNEKTIVE_TIMEZONE: 'America/New_York', ...over });

  /**
   * A collector whose ActiveCampaign side is held (paused), so these tests see what the poll
   * detected and queued, whatever delivery then does with it.
   */
  async function start(env = lifecycleEnv()): Promise<TestCollector> {
    const started = await startTestCollector(env, { clock, fetch: clock.fetch, runSweeper: false });
    started.health.pause('activecampaign', 'held by the test');
    return started;
  }

  /** Waits until no lifecycle poll is running or due. */
  async function settleJobs(on: TestCollector): Promise<void> {
    on.worker.notify();
    await eventually(async () => {
      const polls = await on.store.listJobs({ sessionId: LIFECYCLE_POLL_KEY });
      return !polls.some((job) => job.state === 'running' || (job.state === 'pending' && job.runAt <= clock.now()));
    }, { timeoutMs: 20_000 });
  }

  /** Time passes: one sweep (which may queue a poll), then the poll. */
  async function idleFor(on: TestCollector, _clock: VirtualClock, ms: number): Promise<void> {
    clock.advance(ms);
    await on.sweeper.sweepOnce();
    await settleJobs(on);
  }

  async function events(on = collector): Promise<Array<{ id: string; kind: string }>> {
    return on.store.sql().all<{ id: string; kind: string }>('SELECT id, kind FROM lifecycle_events ORDER BY created_at, id');
  }

  const queries = () => crm.calls.filter((call) => ['/transactions/query/', '/purchase/query/', '/order/query/'].includes(call.path));

  it('does nothing while LIFECYCLE_SYNC is off (the default)', async () => {
    collector = await start(emissionEnv({ crm, ac }, 'activecampaign'));
    crm.setUtcOffset(NEW_YORK_WINTER);
    crm.putTransaction({ transactionId: '1', txnType: 'SALE', responseType: 'SUCCESS', totalAmount: '39.95', emailAddress: 'ann@example.com' });
    await idleFor(collector, clock, 10 * MINUTE);
    await idleFor(collector, clock, 10 * MINUTE);
    expect(queries()).toEqual([]);
    expect(await collector.store.listJobs({ sessionId: LIFECYCLE_POLL_KEY })).toEqual([]);
    expect(await events()).toEqual([]);
  });

  it('finds each change once through overlapping windows and a restart, reading whole days', async () => {
    crm.setUtcOffset(NEW_YORK_WINTER);
    const order = crm.createCompletedOrder({ email: 'Ann@Example.com', firstName: 'Ann', items: [item] });
    crm.putTransaction({ transactionId: '10', orderId: order.orderId, purchaseId: 'P1', billingCycleNumber: 1, txnType: 'SALE', responseType: 'SUCCESS', totalAmount: '39.95' });
    crm.putPurchase({ purchaseId: 'P1', orderId: order.orderId, status: 'TRIAL', billingCycleNumber: 1, price: '29.95', emailAddress: 'Ann@Example.com' });
    collector = await start();
    await idleFor(collector, clock, 0);
    expect((await events()).map((e) => e.kind)).toEqual(['sale_completed']);
    // Every call asked for whole days by dateUpdated, 200 a page, in m/d/Y from two days before today (New York) to today.
    expect(queries().map((call) => [call.path, call.params.dateRangeType, call.params.startDate, call.params.endDate, call.params.resultsPerPage])).toEqual([
      ['/transactions/query/', 'dateUpdated', '11/21/2026', '11/23/2026', '200'],
      ['/purchase/query/', 'dateUpdated', '11/21/2026', '11/23/2026', '200'],
      ['/order/query/', 'dateUpdated', '11/21/2026', '11/23/2026', '200'],
    ]);
    // Each call is in the delivery log like any other Konnektive call.
    const [poll] = await collector.store.listJobs({ sessionId: LIFECYCLE_POLL_KEY });
    expect((await collector.store.listAttempts(poll!.id)).map((a) => [a.endpoint, a.outcome])).toEqual([
      ['queryTransactions', 'ok'],
      ['queryPurchases', 'ok'],
      ['queryOrder', 'ok'],
    ]);

    // Overlapping windows: the same records read again make nothing new.
    await idleFor(collector, clock, 5 * MINUTE);
    await idleFor(collector, clock, 5 * MINUTE);
    expect(queries()).toHaveLength(9);
    expect(await events()).toHaveLength(1);

    // Changes: a rebill, a refund of part of the first sale, a cancel, a shipment.
    clock.advance(MINUTE);
    crm.putTransaction({ transactionId: '11', orderId: order.orderId, purchaseId: 'P1', billingCycleNumber: 2, txnType: 'SALE', responseType: 'SUCCESS', totalAmount: '29.95' });
    crm.putPurchase({ purchaseId: 'P1', billingCycleNumber: 2, status: 'ACTIVE' });
    crm.putTransaction({ transactionId: '12', orderId: order.orderId, purchaseId: 'P1', billingCycleNumber: 1, txnType: 'REFUND', responseType: 'SUCCESS', totalAmount: '-10.00' });
    crm.updateOrder(order.orderId, { fulfillments: [{ fulfillmentId: 'F1', status: 'SHIPPED', trackingNumber: '1Z999' }] });
    await idleFor(collector, clock, 5 * MINUTE);
    crm.putPurchase({ purchaseId: 'P1', status: 'CANCELLED', cancelReason: 'moving' });

    // A restart: a new collector on the same store reads the same days again.
    await collector.close();
    collector = await start({ ...lifecycleEnv(), DATABASE_URL: collector.config.databaseUrl });
    await idleFor(collector, clock, MINUTE);
    await idleFor(collector, clock, 5 * MINUTE);
    const found = await events();
    expect(found.map((e) => e.kind).sort()).toEqual(['fulfillment_shipped', 'rebill_succeeded', 'refund', 'sale_completed', 'subscription_cancelled']);
    expect(found.map((e) => e.id)).toContain('purchase:P1:cycle:2:rebill_succeeded');
    // One delivery job per event, under the customer's key.
    const deliveries = await collector.store.listJobs({ sessionId: 'customer:ann@example.com' });
    expect(deliveries.map((job) => job.payload.id).sort()).toEqual(found.map((e) => e.id).sort());
  });

  it('a change made just before midnight in the account zone is found by the polls after midnight', async () => {
    crm.setUtcOffset(NEW_YORK_WINTER);
    // The virtual clock starts at 12:00 UTC (07:00 New York); move to 23:58 New York.
    clock.advance((16 * 60 + 58) * MINUTE);
    collector = await start(lifecycleEnv({ LIFECYCLE_LOOKBACK_DAYS: '1' }));
    await idleFor(collector, clock, 0); // the poll at 23:58 finds nothing yet
    clock.advance(MINUTE + 30_000); // 23:59:30
    crm.putTransaction({ transactionId: '20', txnType: 'SALE', responseType: 'HARD_DECLINE', responseText: 'Do Not Honor', totalAmount: '39.95', emailAddress: 'late@example.com' });
    await idleFor(collector, clock, 5 * MINUTE); // 00:04:30 the next day, in New York
    const last = queries().at(-1)!;
    expect([last.params.startDate, last.params.endDate]).toEqual(['11/23/2026', '11/24/2026']);
    expect(await events()).toEqual([{ id: 'txn:20:sale_declined', kind: 'sale_declined' }]);
  });

  it('reads more than 200 changed records page by page', async () => {
    crm.setUtcOffset(NEW_YORK_WINTER);
    for (let i = 1; i <= 450; i++) crm.putTransaction({ transactionId: String(1000 + i), txnType: 'SALE', responseType: 'SUCCESS', totalAmount: '5.00', emailAddress: `buyer${i}@example.com` });
    collector = await start();
    await idleFor(collector, clock, 0);
    expect(queries().filter((call) => call.path === '/transactions/query/').map((call) => call.params.page)).toEqual(['1', '2', '3']);
    expect(await events()).toHaveLength(450);
  });

  it('two collectors on one store poll one at a time and find each change once', async () => {
    crm.setUtcOffset(NEW_YORK_WINTER);
    crm.putTransaction({ transactionId: '30', txnType: 'SALE', responseType: 'SUCCESS', totalAmount: '39.95', emailAddress: 'two@example.com' });
    collector = await start();
    const second = await start({ ...lifecycleEnv(), DATABASE_URL: collector.config.databaseUrl });
    extra.push(second);
    await Promise.all([collector.sweeper.sweepOnce(), second.sweeper.sweepOnce()]);
    expect(await collector.store.listJobs({ sessionId: LIFECYCLE_POLL_KEY })).toHaveLength(1);
    await Promise.all([settleJobs(collector), settleJobs(second)]);
    for (let round = 0; round < 3; round++) {
      clock.advance(5 * MINUTE);
      await Promise.all([collector.sweeper.sweepOnce(), second.sweeper.sweepOnce()]);
      await Promise.all([settleJobs(collector), settleJobs(second)]);
    }
    expect(await events()).toEqual([{ id: 'txn:30:sale_completed', kind: 'sale_completed' }]);
    expect(await collector.store.listJobs({ sessionId: 'customer:two@example.com' })).toHaveLength(1);
  });

  it('a Konnektive fault delays the poll and loses nothing', async () => {
    crm.setUtcOffset(NEW_YORK_WINTER);
    crm.putTransaction({ transactionId: '40', txnType: 'SALE', responseType: 'SUCCESS', totalAmount: '39.95', emailAddress: 'fault@example.com' });
    crm.fail('http500', { path: '/order/query/', times: 2 });
    collector = await start();
    for (let i = 0; i < 5; i++) await idleFor(collector, clock, 1_000);
    const [poll] = await collector.store.listJobs({ sessionId: LIFECYCLE_POLL_KEY });
    expect(poll!.state).toBe('done');
    expect(poll!.attempts).toBeGreaterThanOrEqual(2);
    expect(await events()).toEqual([{ id: 'txn:40:sale_completed', kind: 'sale_completed' }]);
  });
});
