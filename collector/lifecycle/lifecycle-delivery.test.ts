/**
 * Lifecycle events delivered to the strict ActiveCampaign double through real outbox jobs, a real
 * store and the account's one rate gate: orders, fields, tags and tracked events, exactly once.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startActiveCampaignDouble, type ActiveCampaignDouble } from '../../test/doubles/activecampaign-double.js';
import { VirtualClock } from '../../test/support/virtual-clock.js';
import { createLogger } from '../logger.js';
import { createMetrics } from '../metrics.js';
import { JOB_KINDS, type JobKind } from '../outbox/job-kinds.js';
import type { JobHandler } from '../outbox/job-outcome.js';
import { OutboxWorker } from '../outbox/outbox-worker.js';
import { SqliteStore } from '../store/sqlite-store.js';
import { UpstreamHealth } from '../upstream-health.js';
import { activeCampaignEmitter } from '../emit/activecampaign-emitter.js';
import { sampleOrder } from '../../test/support/emissions.js';
import type { LifecycleEvent } from './lifecycle-event.js';
import { lifecycleDeliveryHandlers } from './lifecycle-delivery.js';

const API_KEY = 'ac-secret-key-123';
const EMAIL = 'Ann.Lee@Example.com';
const CUSTOMER = 'lifecycle:customer:501';

let clock: VirtualClock;
let store: SqliteStore;
let double: ActiveCampaignDouble;
let worker: OutboxWorker;

const unexpected: JobHandler = () => Promise.reject(new Error('unexpected job kind'));

beforeEach(async () => {
  clock = new VirtualClock();
  store = SqliteStore.fromUrl('file::memory:', { clock });
  await store.migrate();
  double = await startActiveCampaignDouble({ apiKey: API_KEY, now: () => clock.now(), eventAccountId: '777', eventKey: 'evkey-1' });
  const logger = createLogger('silent');
  const health = new UpstreamHealth({ konnektive: 'ok', activecampaign: 'ok' }, clock);
  const handlers = Object.fromEntries(Object.values(JOB_KINDS).map((kind) => [kind, unexpected])) as Record<JobKind, JobHandler>;
  Object.assign(
    handlers,
    lifecycleDeliveryHandlers({
      config: {
        publicUrl: 'https://collect.example.com',
        activeCampaign: { apiUrl: double.apiUrl, apiKey: API_KEY, connectionId: undefined },
        activeCampaignRatePerSecond: 5,
        activeCampaignEvents: { accountId: '777', eventKey: 'evkey-1', eventsUrl: double.eventsUrl },
        lifecycle: { enabled: true, pollEveryMs: 300_000, lookbackDays: 2, timeZone: 'America/New_York', tagPrefix: 'fb-' },
        upsellWindowMs: 15 * 60_000,
      },
      store,
      health,
      metrics: createMetrics(store, { defaults: false, clock }),
      logger,
      clock,
      fetch: clock.fetch,
      timeoutMs: 400,
    }),
  );
  worker = new OutboxWorker({ store, handlers, health, logger, clock, backoff: { baseMs: 1000, capMs: 5000, maxAttempts: 8 } });
});
afterEach(async () => {
  await double.close();
  await store.close();
});

async function queue(...events: LifecycleEvent[]): Promise<void> {
  for (const event of events) {
    await store.transaction((tx) => tx.enqueue({ sessionId: CUSTOMER, upstream: 'activecampaign', kind: JOB_KINDS.lifecycleDeliver, payload: { ...event }, runAt: clock.now() }));
  }
}

/** Runs the outbox until nothing is left to do, moving time past each retry's backoff. */
async function drain(): Promise<void> {
  for (let round = 0; round < 1000; round += 1) {
    const handled = await worker.runOnce();
    if (handled > 0) continue;
    const pending = await store.listJobs({ state: 'pending' });
    if (pending.length === 0) return;
    // Later jobs of the customer wait behind its first: time moves to the first one due.
    const waits = pending.map((job) => job.runAt - clock.now()).filter((ms) => ms > 0);
    clock.advance(waits.length > 0 ? Math.min(...waits) : 1000);
  }
  throw new Error(`the outbox did not drain: ${JSON.stringify((await store.listJobs({ state: 'pending' })).map((job) => [job.attempts, job.lastError, job.runAt - clock.now()]))}`);
}

const customer = { customerId: '501', email: EMAIL, firstName: 'Ann', lastName: 'Lee' };
const base = { customer, campaignId: '3', orderId: 'K100', purchaseId: 'P7', currency: 'USD', productId: '41', productName: 'Bottle' };
const journey: LifecycleEvent[] = [
  { ...base, id: 'txn:T1:sale', kind: 'sale_completed', occurredAt: '2026-11-01 09:00:00', transactionId: 'T1', amountCents: 4995, billingCycle: 1, nextBillDate: '2026-12-01' },
  { ...base, id: 'txn:T2:sale', kind: 'rebill_succeeded', occurredAt: '2026-12-01 09:00:00', transactionId: 'T2', amountCents: 2995, billingCycle: 2, nextBillDate: '2027-01-01' },
  { ...base, id: 'txn:T3:decline', kind: 'rebill_declined', occurredAt: '2027-01-01 09:00:00', transactionId: 'T3', amountCents: 2995, reason: 'Insufficient funds', declineType: 'soft' },
  { ...base, id: 'txn:T4:sale', kind: 'rebill_succeeded', occurredAt: '2027-01-04 09:00:00', transactionId: 'T4', amountCents: 2995, billingCycle: 3, nextBillDate: '2027-02-04' },
  { ...base, id: 'txn:T5:refund', kind: 'refund', occurredAt: '2027-01-10 12:00:00', transactionId: 'T5', returnsTransactionId: 'T4', amountCents: 1000, fullRefund: false, reason: 'Customer request' },
  { ...base, id: 'purchase:P7:status:CANCELLED:2027-01-11 08:00:00', kind: 'subscription_cancelled', occurredAt: '2027-01-11 08:00:00', reason: 'Too expensive' },
];

function fieldValue(perstag: string): string | undefined {
  const field = [...double.fields.values()].find((f) => f.perstag === perstag);
  const contact = [...double.contacts.values()].find((c) => c.email === EMAIL);
  return field && contact?.fieldValues.get(field.id);
}

function tagsOf(email: string): string[] {
  const contact = [...double.contacts.values()].find((c) => c.email === email);
  return [...double.contactTags.values()].filter((ct) => ct.contact === contact?.id).map((ct) => double.tags.get(ct.tag)?.tag ?? '?').sort();
}

function expectFinalState(): void {
  const orders = [...double.orders.values()].map((o) => [o.externalid, o.totalPrice]).sort();
  expect(orders).toEqual([['K100', 4995], ['T2', 2995], ['T4', 1995]]);
  expect(tagsOf(EMAIL)).toEqual(['fb-cancelled', 'fb-customer', 'fb-refunded']);
  expect(fieldValue('FB_CUSTOMER_STATUS')).toBe('cancelled');
  expect(fieldValue('FB_CANCELLED_ON')).toBe('2027-01-11');
  expect(fieldValue('FB_NEXT_BILL_DATE')).toBe('2027-02-04');
  expect(fieldValue('FB_LAST_ORDER_DATE')).toBe('2027-01-04');
  expect(fieldValue('FB_LIFETIME_VALUE')).toBe('99.85');
  expect(double.trackingLogs.map((log) => log.event)).toEqual(['order_completed', 'rebill_succeeded', 'rebill_declined', 'rebill_succeeded', 'order_refunded', 'subscription_cancelled']);
  expect(double.stats.rateLimited).toBe(0);
  expect(double.maxRequestsInAnyWindow()).toBeLessThanOrEqual(5);
}

describe('lifecycle delivery to ActiveCampaign', () => {
  it('buys, rebills twice, declines once, recovers, is refunded in part and cancels: three orders, net totals, tags, fields, each event once', async () => {
    await queue(...journey);
    await drain();
    expectFinalState();
    const refund = JSON.parse(double.trackingLogs[4]?.eventdata ?? '{}') as Record<string, string>;
    expect(refund).toMatchObject({ id: 'txn:T5:refund', amount: '10.00', order: 'K100', product: 'Bottle', reason: 'Customer request' });
    // The recovering rebill removed past due; the decline's tags went with it.
    expect(tagsOf(EMAIL)).not.toContain('fb-past-due');
    expect((await store.listJobs({ state: 'dead' })).length).toBe(0);
    // Every call is in the delivery log, and no email, name or reason reaches it.
    const attempts = await store.listAttempts(undefined, 1000);
    expect(attempts.length).toBe(double.requests.length);
    const endpoints = new Set(attempts.map((a) => a.endpoint.replace(/\/\d+/g, '/{id}')));
    for (const call of ['POST /contact/sync', 'GET /contacts/{id}/contactTags', 'POST /contactTags', 'DELETE /contactTags/{id}', 'POST /event', 'GET /ecomOrders/{id}', 'PUT /ecomOrders/{id}']) expect(endpoints).toContain(call);
    const logged = JSON.stringify(attempts).toLowerCase();
    for (const secret of [EMAIL.toLowerCase(), 'ann.lee', '"lee"', 'insufficient funds', 'too expensive', 'evkey-1', API_KEY]) expect(logged).not.toContain(secret);
  });

  it('many customers at once, beside the funnel, never pass 5 requests in any second', async () => {
    const customers = Array.from({ length: 12 }, (_, i) => ({ customerId: `6${i}`, email: `buyer${i}@example.com` }));
    for (const [i, who] of customers.entries()) {
      await store.transaction((tx) =>
        tx.enqueue({
          sessionId: `lifecycle:customer:${who.customerId}`,
          upstream: 'activecampaign',
          kind: JOB_KINDS.lifecycleDeliver,
          payload: { ...journey[0], customer: who, id: `txn:S${i}:sale`, orderId: `K${i}`, transactionId: `S${i}` },
          runAt: clock.now(),
        }),
      );
    }
    await drain();
    expect(double.orders.size).toBe(12);
    expect(double.trackingLogs.length).toBe(12);
    expect(double.stats.rateLimited).toBe(0);
    expect(double.maxRequestsInAnyWindow()).toBeLessThanOrEqual(5);
  });

  it('a first sale that came through the funnel keeps its one ORDER', async () => {
    await queue(journey[0] as LifecycleEvent);
    await drain();
    const before = double.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/ecomOrders')).length;
    // The same sale found again (a replay, a second detector run) creates nothing.
    await queue({ ...(journey[0] as LifecycleEvent), id: 'txn:T1:sale' });
    await drain();
    expect(double.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/ecomOrders')).length).toBe(before);
    expect(double.orders.size).toBe(1);
    expect(double.trackingLogs.length).toBe(2); // the event is the detector's to deduplicate; the order is not sent twice
  });

  it('a first sale declined makes a new contact a lead, and leaves a customer a customer', async () => {
    const declined: LifecycleEvent = { ...base, id: 'txn:T0:decline', kind: 'sale_declined', occurredAt: '2026-10-30 09:00:00', transactionId: 'T0', amountCents: 4995, reason: 'Do not honor', declineType: 'hard' };
    await queue(declined);
    await drain();
    expect(fieldValue('FB_CUSTOMER_STATUS')).toBe('lead');
    expect(tagsOf(EMAIL)).toEqual(['fb-declined']);
    await queue(journey[0] as LifecycleEvent, { ...declined, id: 'txn:T9:decline', transactionId: 'T9' });
    await drain();
    expect(fieldValue('FB_CUSTOMER_STATUS')).toBe('subscriber');
    expect(tagsOf(EMAIL)).toEqual(['fb-customer', 'fb-declined', 'fb-subscriber']);
    expect(double.trackingLogs.map((log) => log.event)).toEqual(['payment_declined', 'order_completed', 'payment_declined']);
  });

  it("a first sale the funnel is selling waits for the funnel's ORDER (with its upsells) and is not sent as a second order", async () => {
    const now = clock.now();
    await store.transaction((tx) => tx.insertSession({ id: 's-funnel', campaignId: '3', createdAt: now, lastSeenAt: now, landingUrl: undefined, referrer: undefined, userAgent: 'UA', ip: '203.0.113.1', isBot: false }));
    await store.updateSession('s-funnel', { konnektive: { orderId: 'K100' } });
    await queue(journey[0] as LifecycleEvent);
    expect(await worker.runOnce()).toBe(1);
    expect(double.orders.size).toBe(0);
    expect((await store.listJobs({ state: 'pending' }))[0]?.lastError).toMatch(/waiting for the funnel's ORDER/);
    // The funnel's ORDER arrives after the upsell window, on its own connection's terms.
    const funnel = activeCampaignEmitter({ config: { publicUrl: 'https://collect.example.com', activeCampaign: { apiUrl: double.apiUrl, apiKey: API_KEY, connectionId: undefined }, activeCampaignRatePerSecond: 5 }, store, clock, fetch: clock.fetch });
    const sent = await funnel.emit(sampleOrder({ sessionId: 's-funnel', cartId: 'cart-1', orderId: 'K100', email: EMAIL, customerExternalId: '501', totalCents: 7990, orderedAt: new Date(now).toISOString() }), { mayAlreadyExist: false, record: () => undefined });
    expect(sent.ok).toBe(true);
    await drain();
    expect([...double.orders.values()].map((o) => [o.externalid, o.totalPrice])).toEqual([['K100', 7990]]);
    expect(fieldValue('FB_LIFETIME_VALUE')).toBe('79.90');
    expect(double.trackingLogs.map((log) => log.event)).toEqual(['order_completed']);
  });

  it('a first sale whose funnel ORDER never comes is sent alone once the wait is over', async () => {
    const now = clock.now();
    await store.transaction((tx) => tx.insertSession({ id: 's-funnel', campaignId: '3', createdAt: now, lastSeenAt: now, landingUrl: undefined, referrer: undefined, userAgent: 'UA', ip: '203.0.113.1', isBot: false }));
    await store.updateSession('s-funnel', { konnektive: { orderId: 'K100' } });
    await queue(journey[0] as LifecycleEvent);
    await drain();
    expect(clock.now() - now).toBeGreaterThanOrEqual(75 * 60_000);
    expect([...double.orders.values()].map((o) => [o.externalid, o.totalPrice])).toEqual([['K100', 4995]]);
  });

  it('a first sale already in ActiveCampaign on another connection (Konnektive\'s route) is not sent again', async () => {
    await queue(journey[0] as LifecycleEvent);
    await drain();
    const first = [...double.orders.values()][0];
    if (first) first.connectionid = '99';
    const posts = double.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/ecomOrders')).length;
    await queue({ ...(journey[0] as LifecycleEvent), id: 'txn:T1:sale:again' });
    await drain();
    expect(double.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/ecomOrders')).length).toBe(posts);
    expect(double.orders.size).toBe(1);
  });

  it("a full refund of a first sale on Konnektive's connection lowers that order to 0 and makes the customer refunded", async () => {
    await queue(journey[0] as LifecycleEvent);
    await drain();
    const sale = [...double.orders.values()][0];
    if (sale) sale.connectionid = '99';
    await queue({ ...base, id: 'txn:T8:refund', kind: 'refund', occurredAt: '2026-11-03 10:00:00', transactionId: 'T8', returnsTransactionId: 'T1', amountCents: 4995, fullRefund: true });
    await drain();
    expect(sale?.totalPrice).toBe(0);
    expect(sale?.orderDiscounts.map((d) => [d.name, d.discountAmount])).toEqual([['refund txn:T8:refund', 4995]]);
    expect(fieldValue('FB_CUSTOMER_STATUS')).toBe('refunded');
    expect(fieldValue('FB_LIFETIME_VALUE')).toBe('0.00');
  });

  it('a chargeback lowers its order and its reversal gives the amount back, each once', async () => {
    await queue(journey[0] as LifecycleEvent);
    await drain();
    const chargeback: LifecycleEvent = { ...base, id: 'txn:T1:chargeback:2026-11-20', kind: 'chargeback', occurredAt: '2026-11-20 10:00:00', returnsTransactionId: 'T1', amountCents: 4995, reason: '10.4 Fraud' };
    const reversed: LifecycleEvent = { ...base, id: 'txn:T1:chargeback_reversed:2026-11-20', kind: 'chargeback_reversed', occurredAt: '2026-12-02 10:00:00', returnsTransactionId: 'T1' };
    await queue(chargeback);
    await drain();
    const sale = [...double.orders.values()][0];
    expect(sale?.totalPrice).toBe(0);
    expect(fieldValue('FB_CUSTOMER_STATUS')).toBe('chargeback');
    expect(tagsOf(EMAIL)).toContain('fb-chargeback');
    await queue(reversed, reversed);
    await drain();
    expect(sale?.totalPrice).toBe(4995);
    expect(fieldValue('FB_LIFETIME_VALUE')).toBe('49.95');
    expect(fieldValue('FB_CUSTOMER_STATUS')).toBe('customer');
    expect(tagsOf(EMAIL)).not.toContain('fb-chargeback');
    expect(double.trackingLogs.map((log) => log.event)).toEqual(['order_completed', 'chargeback']);
  });

  it('history from the backfill gets its orders as historical and no tracked event', async () => {
    await queue(...journey.slice(0, 2).map((event) => ({ ...event, historical: true })));
    await drain();
    expect([...double.orders.values()].map((o) => [o.externalid, o.source])).toEqual([['K100', 0], ['T2', 0]]);
    expect(double.trackingLogs).toEqual([]);
    expect(fieldValue('FB_CUSTOMER_STATUS')).toBe('subscriber');
    expect(tagsOf(EMAIL)).toEqual(['fb-customer', 'fb-subscriber']);
  });

  it('a refund retried after its PUT reached ActiveCampaign but the answer was lost lowers the order once', async () => {
    await queue(journey[0] as LifecycleEvent, journey[1] as LifecycleEvent, journey[3] as LifecycleEvent);
    await drain();
    failNext((r) => r.method === 'PUT', 'lost');
    await queue(journey[4] as LifecycleEvent);
    await drain();
    expect(double.requests.filter((r) => r.method === 'PUT' && r.failure === 'lost').length).toBe(1);
    const t4 = [...double.orders.values()].find((o) => o.externalid === 'T4');
    expect(t4?.totalPrice).toBe(1995);
    // Replaying the same refund (a dead letter replayed, the detector finding it again) changes nothing.
    await queue(journey[4] as LifecycleEvent);
    await drain();
    expect([...double.orders.values()].find((o) => o.externalid === 'T4')?.totalPrice).toBe(1995);
    expect(double.requests.filter((r) => r.method === 'PUT').length).toBe(1);
  });

  it('an order created, or an event recorded, whose answer was lost is not sent again', async () => {
    failNext((r) => r.method === 'POST' && r.path.endsWith('/ecomOrders'), 'lost');
    failNext((r) => r.path === '/event', 'lost');
    await queue(journey[0] as LifecycleEvent);
    await drain();
    expect(double.requests.filter((r) => r.failure === 'lost').length).toBe(2);
    expect(double.orders.size).toBe(1);
    expect(double.trackingLogs.map((log) => log.event)).toEqual(['order_completed']);
  });

  it('after 5xx answers, timeouts and lost answers anywhere on the way, each order, tag and event exists once', async () => {
    const modes = ['http500', 'hang', 'lost', 'http503', 'down'] as const;
    let n = 0;
    let failures = 0;
    const original = double.requests.push.bind(double.requests);
    double.requests.push = (...items) => {
      n += 1;
      if (n % 9 === 0 && failures < 10) double.fail(modes[failures++ % modes.length] ?? 'http500', { times: 1 });
      return original(...items);
    };
    await queue(...journey);
    await drain();
    expect(failures).toBe(10);
    expectFinalState();
  });
});

/** The next request that `matches` fails with `mode` (decided as it arrives). */
function failNext(matches: (r: { method: string; path: string }) => boolean, mode: 'lost' | 'hang' | 'http500'): void {
  const push = double.requests.push.bind(double.requests);
  let armed = true;
  const previous = double.requests.push;
  double.requests.push = (...items) => {
    const item = items[0];
    if (armed && item && matches(item)) {
      armed = false;
      double.fail(mode, { times: 1 });
    }
    return previous === push ? push(...items) : previous.call(double.requests, ...items);
  };
}
