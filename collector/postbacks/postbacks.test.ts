/**
 * Affiliate postbacks through the real collector: the funnel's requests in, Konnektive's and
 * ActiveCampaign's doubles behind it, the lifecycle sync reading refunds and chargebacks, and a
 * postback receiver standing in for the networks.
 */
import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FunnelEvent, IngestResponse } from '../wire-schema.js';
import type { ActiveCampaignDouble } from '../../test/doubles/activecampaign-double.js';
import type { KonnektiveDouble } from '../../test/doubles/konnektive-double.js';
import { startPostbackReceiver, type PostbackReceiver } from '../../test/doubles/postback-receiver.js';
import { ev, eventually, startTestCollector, type TestCollector } from '../../test/support/test-collector.js';
import { emissionEnv, withUpstreamDoubles } from '../../test/support/upstream-doubles.js';
import type { VirtualClock } from '../../test/support/virtual-clock.js';
import { postbackCounts } from '../dashboard/queries.js';

const MINUTE = 60_000;
const ann = { firstName: 'Ann', lastName: 'Lee', emailAddress: 'Ann@Example.com', phoneNumber: '(415) 555-2671' };
const bottle = { id: '41', name: 'Bottle', price: 39.95, qty: 1 };
const sha = (text: string) => createHash('sha256').update(text).digest('hex');

function attribution(values: Record<string, string>, marketing = true): FunnelEvent {
  return { id: randomUUID(), type: 'attribution', marketing, values } as FunnelEvent;
}

describe('affiliate postbacks', { timeout: 60_000 }, () => {
  let clock: VirtualClock;
  let crm: KonnektiveDouble;
  let ac: ActiveCampaignDouble;
  let network: PostbackReceiver;
  let collector: TestCollector;

  withUpstreamDoubles(
    (doubles) => ({ clock, crm, ac } = doubles),
    () => collector,
  );
  beforeEach(async () => {
    network = await startPostbackReceiver();
  });
  afterEach(async () => network.close());

  function postbacksFile(): string {
    const path = join(mkdtempSync(join(tmpdir(), 'funnelbeacon-postbacks-')), 'postbacks.json');
    const url = network.url;
    const postbacks = [
      { name: 'net-sale', on: 'sale', affIds: ['AFF7'], url: `${url}/pb?aff={affId}&sub={c1}&oid={orderId}&amt={amount}&cur={currency}&eid={eventId}` },
      { name: 'net-upsell', on: 'upsell', affIds: ['AFF7'], url: `${url}/up?oid={orderId}&amt={amount}&eid={eventId}` },
      { name: 'other-sale', on: 'sale', affIds: ['AFF9'], url: `${url}/other?oid={orderId}` },
      { name: 'all-leads', on: 'lead', method: 'POST', body: 'json', url: `${url}/lead` },
      { name: 'cpl', on: 'lead', leadDelay: 10, url: `${url}/cpl?eid={eventId}&click={clickId}` },
      { name: 'net-refund', on: 'refund', url: `${url}/rev?oid={orderId}&amt={amount}&e={event}` },
      { name: 'net-chargeback', on: 'chargeback', url: `${url}/cb?oid={orderId}&e={event}` },
      { name: 'live-sales', on: 'sale', skipTestOrders: true, url: `${url}/live?oid={orderId}` },
    ];
    writeFileSync(path, JSON.stringify({ postbacks }));
    return path;
  }

  async function start(extra: Record<string, string> = {}) {
    const env = emissionEnv({ crm, ac }, 'activecampaign', {
      POSTBACKS_FILE: postbacksFile(),
      LIFECYCLE_SYNC: 'on',
      LIFECYCLE_POLL_EVERY: '5m',
      KONNEKTIVE_TIMEZONE: 'UTC',
      ...extra,
    });
    collector = await startTestCollector(env, { clock, fetch: clock.fetch, runSweeper: false });
  }

  async function visit(session: string | undefined, events: FunnelEvent[]): Promise<IngestResponse> {
    const res = await collector.post({ ...(session ? { session } : {}), campaign: '12', events });
    expect(res.status).toBe(200);
    return (await res.json()) as IngestResponse;
  }

  /** Time passes: a sweep (order checks, the lifecycle poll), then every job that comes due, retries included. */
  async function pass(ms: number): Promise<void> {
    clock.advance(ms);
    await collector.sweeper.sweepOnce();
    for (let round = 0; round < 300; round++) {
      collector.worker.notify();
      const open = (await collector.store.listJobs({ state: 'pending' })).concat(await collector.store.listJobs({ state: 'running' }));
      const due = open.filter((job) => job.state === 'running' || job.runAt <= clock.now());
      if (due.length === 0) return;
      await eventually(async () => ((await collector.store.listJobs({ state: 'running' })).length === 0 ? true : undefined), { timeoutMs: 10_000 });
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    throw new Error('the outbox did not settle');
  }

  const calls = (path: string) => network.calls.filter((call) => call.path === path && call.status === 200);

  /** An affiliate's buyer: landing with the click, the lead, the checkout, a paid order with one upsell. */
  async function buyer({ test = false } = {}) {
    const first = await visit(undefined, [ev.page('presell', 'https://offer.example/p?affId=AFF7&c1=sub1&clickid=clk-9'), attribution({ affId: 'AFF7', c1: 'sub1', clickId: 'clk-9' })]);
    await visit(first.session, [ev.page('lead', 'https://offer.example/lead'), ev.lead(ann)]);
    await visit(first.session, [ev.page('checkout', 'https://secure.example/checkout'), ev.cart([bottle])]);
    await pass(1_000);
    const orderId = (await collector.store.getSession(first.ids.session))!.konnektive.orderId!;
    crm.completeOrder(orderId, { items: [{ productId: '41', name: 'Bottle', qty: 1, price: '39.95' }] });
    crm.addUpsell(orderId, { productId: '77', name: 'Second bottle', qty: 1, price: '19.95' });
    if (test) crm.updateOrder(orderId, { cardType: 'TESTCARD' });
    await visit(first.session, [ev.page('thankyou', 'https://secure.example/thanks'), ev.order(orderId)]);
    await pass(1_000);
    return { session: first.ids.session, orderId, customerId: String(crm.leads.get(orderId)?.customerId ?? '') };
  }

  it('fires each postback that covers the event once, with its values URL-encoded where they land, and reverses the refunded and charged-back order once', async () => {
    await start();
    const { session, orderId, customerId } = await buyer();

    expect(calls('/lead')).toHaveLength(1);
    expect(calls('/lead')[0]!.body).toMatchObject({ event: 'lead', eventId: `${session}.lead`, affId: 'AFF7', c1: 'sub1', clickId: 'clk-9', email_sha256: sha('ann@example.com') });
    expect(calls('/pb').map((call) => call.query)).toEqual([{ aff: 'AFF7', sub: 'sub1', oid: orderId, amt: '39.95', cur: 'USD', eid: `${orderId}.sale` }]);
    expect(calls('/up').map((call) => call.query)).toEqual([{ oid: orderId, amt: '19.95', eid: `${orderId}.upsell.1.77` }]);
    expect(calls('/other')).toEqual([]);
    expect(calls('/live')).toHaveLength(1);

    // The lead became a sale within the CPL postback's ten minutes: skipped, as Konnektive's "Do Not Fire for Sales".
    await pass(11 * MINUTE);
    expect(calls('/cpl')).toEqual([]);

    // Money goes back: a refund (then a second, partial one) and a chargeback, read by the lifecycle poll.
    const sale = { customerId, emailAddress: ann.emailAddress, orderId, currency: 'USD', productId: '41' };
    crm.putTransaction({ ...sale, transactionId: 'T1', billingCycleNumber: 1, txnType: 'SALE', responseType: 'SUCCESS', totalAmount: '59.90' });
    await pass(5 * MINUTE);
    crm.putTransaction({ ...sale, transactionId: 'T2', billingCycleNumber: 1, txnType: 'REFUND', responseType: 'SUCCESS', totalAmount: '-19.95', refundedTransactionId: 'T1' });
    await pass(5 * MINUTE);
    crm.putTransaction({ ...sale, transactionId: 'T3', billingCycleNumber: 1, txnType: 'REFUND', responseType: 'SUCCESS', totalAmount: '-5.00', refundedTransactionId: 'T1' });
    await pass(5 * MINUTE);
    crm.putTransaction({ ...sale, transactionId: 'T1', billingCycleNumber: 1, txnType: 'SALE', responseType: 'SUCCESS', totalAmount: '59.90', isChargedback: true, chargebackDate: '2026-12-20 10:00:00', chargebackAmount: '59.90' });
    await pass(5 * MINUTE);
    expect(calls('/rev').map((call) => call.query)).toEqual([{ oid: orderId, amt: '19.95', e: 'refund' }]);
    expect(calls('/cb').map((call) => call.query)).toEqual([{ oid: orderId, e: 'chargeback' }]);

    // More polls of the same days: nothing fires twice.
    await pass(5 * MINUTE);
    await pass(5 * MINUTE);
    expect(network.calls.filter((call) => call.status === 200).map((call) => call.path).sort()).toEqual(['/cb', '/lead', '/live', '/pb', '/rev', '/up']);

    const counts = await postbackCounts(collector.store.sql(), 0);
    expect(counts.find((c) => c.postback === 'net-sale')).toMatchObject({ fired: 1, failedCalls: 0, dead: 0, lastAnswer: { outcome: 'ok', httpStatus: 200 } });
    expect(counts.find((c) => c.postback === 'cpl')).toMatchObject({ fired: 0, skipped: { sale_followed: 1 } });
  });

  it("a lead that does not buy fires the delayed CPL postback after its delay; a test order's sale skips the postback that says so", async () => {
    await start();
    const lead = await visit(undefined, [ev.page('lead', 'https://offer.example/lead'), attribution({ affId: 'AFF7', clickId: 'clk-1' }), ev.lead({ emailAddress: 'sam@example.com' })]);
    await pass(1_000);
    expect(calls('/cpl')).toEqual([]);
    await pass(10 * MINUTE);
    expect(calls('/cpl').map((call) => call.query)).toEqual([{ eid: `${lead.ids.session}.lead`, click: 'clk-1' }]);

    const { orderId } = await buyer({ test: true });
    expect(calls('/pb').map((call) => call.query.oid)).toEqual([orderId]);
    expect(calls('/live')).toEqual([]);
    const counts = await postbackCounts(collector.store.sql(), 0);
    expect(counts.find((c) => c.postback === 'live-sales')).toMatchObject({ fired: 0, skipped: { test_order: 1 } });
  });

  it('a network that is down delays its postbacks, not the funnel; each fires once when it is back', async () => {
    await start();
    network.fail('http500');
    const { orderId } = await buyer();
    expect(calls('/pb')).toEqual([]);
    // The ORDER went to ActiveCampaign meanwhile: postbacks ride their own relay lane and keys.
    expect([...ac.orders.values()].some((order) => order.externalid === orderId)).toBe(true);
    network.recover();
    await pass(10 * MINUTE);
    expect(calls('/pb').map((call) => call.query.eid)).toEqual([`${orderId}.sale`]);
    expect(calls('/up')).toHaveLength(1);
    expect(calls('/lead')).toHaveLength(1);
    const counts = await postbackCounts(collector.store.sql(), 0);
    expect(counts.find((c) => c.postback === 'net-sale')!.failedCalls).toBeGreaterThan(0);
  });

  it('refuses to start on a postbacks file with problems, one line each naming the postback and the field', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'funnelbeacon-postbacks-')), 'postbacks.json');
    writeFileSync(path, JSON.stringify({ postbacks: [{ name: 'a', on: 'sale', url: 'https://n.example/?x={nope}' }, { name: 'a', on: 'sold', url: 'https://n.example/' }] }));
    await expect(startTestCollector(emissionEnv({ crm, ac }, 'activecampaign', { POSTBACKS_FILE: path }), { clock, runSweeper: false })).rejects.toThrow(/POSTBACKS_FILE has problems:\n.*"a".*nope[\s\S]*on/);
  });
});
