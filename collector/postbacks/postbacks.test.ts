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
import { postbackCounts, sessionDetail } from '../dashboard/queries.js';
import { INTERRUPTED } from './postback-jobs.js';
import { deliveryAccuracy, destinations } from '../accuracy/delivery-accuracy.js';

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

  async function start(extra: Record<string, string> = {}, options: { runWorker?: boolean } = {}) {
    const env = emissionEnv({ crm, ac }, 'activecampaign', {
      POSTBACKS_FILE: postbacksFile(),
      LIFECYCLE_SYNC: 'on',
      LIFECYCLE_POLL_EVERY: '5m',
      KONNEKTIVE_TIMEZONE: 'UTC',
      ...extra,
    });
    collector = await startTestCollector(env, { clock, fetch: clock.fetch, runSweeper: false, ...options });
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

    // The session's page shows the postbacks it fired, each call with the network's answer.
    const page = await sessionDetail(collector.store, session);
    const calls_ = page!.timeline.filter((entry) => entry.kind === 'upstream' && entry.upstream === 'postbacks');
    expect(calls_.map((entry) => (entry as { endpoint: string }).endpoint).sort()).toEqual(['GET cpl', 'GET live-sales', 'GET net-sale', 'GET net-upsell', 'POST all-leads']);
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

  it('a day of mixed traffic: three affiliates, leads, sales, upsells, a refund, a chargeback and one network down for ten minutes; every postback once, accuracy back at 100%, one alert and one recovery message', async () => {
    const webhook = await startPostbackReceiver();
    try {
      await start({ ALERT_WEBHOOK_URL: `${webhook.url}/hook`, ALERT_EVERY: '1d' });
      const affiliate = async (affId: string, { buys }: { buys: boolean }) => {
        const first = await visit(undefined, [ev.page('presell', `https://offer.example/p?affId=${affId}`), attribution({ affId, c1: `${affId}-s` })]);
        await visit(first.session, [ev.page('lead', 'https://offer.example/lead'), ev.lead({ ...ann, emailAddress: `${affId.toLowerCase()}@example.com` })]);
        if (!buys) return { session: first.ids.session, orderId: undefined };
        await visit(first.session, [ev.page('checkout', 'https://secure.example/checkout'), ev.cart([bottle])]);
        await pass(1_000);
        const orderId = (await collector.store.getSession(first.ids.session))!.konnektive.orderId!;
        crm.completeOrder(orderId, { items: [{ productId: '41', name: 'Bottle', qty: 1, price: '39.95' }] });
        crm.addUpsell(orderId, { productId: '77', name: 'Second bottle', qty: 1, price: '19.95' });
        await visit(first.session, [ev.page('thankyou', 'https://secure.example/thanks'), ev.order(orderId)]);
        await pass(1_000);
        return { session: first.ids.session, orderId };
      };
      const seven = await affiliate('AFF7', { buys: true });
      await affiliate('AFF8', { buys: false });
      // AFF9's network is down for ten minutes while its buyer pays.
      network.fail('http500');
      const nine = await affiliate('AFF9', { buys: true });
      const down = await collector.alerts.checkOnce();
      // The network's postbacks that AFF9's visit fired while it was down (the CPL postback is still within its delay).
      const alerting = down.filter((check) => check.alerting).map((check) => check.destination).sort();
      expect(alerting).toEqual(['postback-all-leads', 'postback-live-sales', 'postback-other-sale']);
      await pass(5 * MINUTE);
      await pass(5 * MINUTE);
      // Still down at the next check: no second message within the hour.
      await collector.alerts.checkOnce();
      network.recover();
      await pass(5 * MINUTE);
      const back = await collector.alerts.checkOnce();
      expect(back.every((check) => !check.alerting)).toBe(true);

      // Money goes back on AFF7's order: one refund, and a chargeback on AFF9's.
      for (const [orderId, txn] of [[seven.orderId!, 'T7'], [nine.orderId!, 'T9']] as const) {
        const customerId = String(crm.leads.get(orderId)?.customerId ?? '');
        crm.putTransaction({ customerId, orderId, currency: 'USD', productId: '41', transactionId: txn, billingCycleNumber: 1, txnType: 'SALE', responseType: 'SUCCESS', totalAmount: '59.90' });
      }
      await pass(5 * MINUTE);
      crm.putTransaction({ customerId: String(crm.leads.get(seven.orderId!)?.customerId ?? ''), orderId: seven.orderId!, currency: 'USD', productId: '41', transactionId: 'T7R', billingCycleNumber: 1, txnType: 'REFUND', responseType: 'SUCCESS', totalAmount: '-59.90', refundedTransactionId: 'T7' });
      crm.putTransaction({ customerId: String(crm.leads.get(nine.orderId!)?.customerId ?? ''), orderId: nine.orderId!, currency: 'USD', productId: '41', transactionId: 'T9', billingCycleNumber: 1, txnType: 'SALE', responseType: 'SUCCESS', totalAmount: '59.90', isChargedback: true, chargebackDate: '2026-12-20 10:00:00' });
      await pass(5 * MINUTE);

      // Each configured postback, exactly once, with the right values.
      expect(calls('/lead').map((call) => (call.body as { affId: string }).affId).sort()).toEqual(['AFF7', 'AFF8', 'AFF9']);
      expect(calls('/pb').map((call) => call.query)).toEqual([{ aff: 'AFF7', sub: 'AFF7-s', oid: seven.orderId, amt: '39.95', cur: 'USD', eid: `${seven.orderId}.sale` }]);
      expect(calls('/other').map((call) => call.query)).toEqual([{ oid: nine.orderId }]);
      expect(calls('/up').map((call) => call.query.oid)).toEqual([seven.orderId]);
      expect(calls('/live').map((call) => call.query.oid).sort()).toEqual([seven.orderId, nine.orderId].sort());
      expect(calls('/rev').map((call) => call.query)).toEqual([{ oid: seven.orderId, amt: '59.90', e: 'refund' }]);
      expect(calls('/cb').map((call) => call.query)).toEqual([{ oid: nine.orderId, e: 'chargeback' }]);

      // Every destination accounted for: sent or skipped with its reason, none failed or missing.
      const figures = await deliveryAccuracy(collector.store.sql(), destinations(collector.config, collector.postbacks!.postbacks), { from: 0, to: clock.now() + 1 });
      for (const row of figures) expect({ destination: row.destination, accuracy: row.accuracy, failed: row.failed, missing: row.missing }).toEqual({ destination: row.destination, accuracy: 1, failed: 0, missing: 0 });
      expect(figures.find((row) => row.destination === 'postback-cpl')).toMatchObject({ expected: 3, sent: 1, skipped: 2, skippedBy: { sale_followed: 2 } });
      expect(calls('/cpl')).toHaveLength(1);

      // One alert and one recovery message for each postback that failed while its network was
      // down: those of AFF9's visit, and the CPL postback of AFF8's lead, due ten minutes later.
      const messages = webhook.calls.map((call) => (call.body as { text: string }).text);
      const about = (name: string) => messages.filter((text) => text.startsWith(`funnelbeacon: Postback ${name} `));
      const alerted = [...new Set(messages.map((text) => /^funnelbeacon: Postback (\S+) /.exec(text)?.[1]))].sort();
      expect(alerted).toEqual(['all-leads', 'cpl', 'live-sales', 'other-sale']);
      for (const name of alerted) {
        expect(about(name!), name).toHaveLength(2);
        expect(about(name!)[0]).toMatch(/below 95%/);
        expect(about(name!)[1]).toMatch(/back at 100%/);
      }
      expect(webhook.calls.every((call) => (call.body as { content?: string }).content === (call.body as { text: string }).text)).toBe(true);
    } finally {
      await webhook.close();
    }
  });

  it('a fire whose call began and whose answer was never recorded is not fired again: a dead letter, interrupted, which a replay fires once', async () => {
    // The worker runs a round at a time, when told: the test steps between the routing and the fire.
    await start({}, { runWorker: false });
    await visit(undefined, [ev.page('lead', 'https://offer.example/lead'), attribution({ affId: 'AFF7' }), ev.lead({ emailAddress: 'sam@example.com' })]);
    const rounds = async () => {
      while ((await collector.worker.runOnce()) > 0);
    };
    // The lead's Konnektive call and its routing run; the fires are queued, not run yet.
    await collector.worker.runOnce();
    const fire = (await collector.store.listJobs({})).find((job) => job.kind === 'postback.fire' && (job.payload as { postback: string }).postback === 'all-leads')!;
    expect(fire.state).toBe('pending');
    // Its first call's marker spent, as a collector that died during the call leaves it (the kill itself: test/fault/postback-kill9.test.ts).
    await collector.store.transaction((tx) => tx.spendToken(`postback-call.${fire.id}.0`, clock.now() + 60 * MINUTE));
    await rounds();
    expect(calls('/lead')).toEqual([]);
    expect((await collector.store.listJobs({ state: 'dead' })).map((job) => [job.id, job.lastError])).toEqual([[fire.id, INTERRUPTED]]);
    expect(await collector.store.replayDeadJobs(clock.now())).toBe(1);
    await rounds();
    expect(calls('/lead')).toHaveLength(1);
    const counts = await postbackCounts(collector.store.sql(), 0);
    expect(counts.find((c) => c.postback === 'all-leads')).toMatchObject({ fired: 1, dead: 0, failedCalls: 1 });
  });

  it('refuses to start on a postbacks file with problems, one line each naming the postback and the field', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'funnelbeacon-postbacks-')), 'postbacks.json');
    writeFileSync(path, JSON.stringify({ postbacks: [{ name: 'a', on: 'sale', url: 'https://n.example/?x={nope}' }, { name: 'a', on: 'sold', url: 'https://n.example/' }] }));
    await expect(startTestCollector(emissionEnv({ crm, ac }, 'activecampaign', { POSTBACKS_FILE: path }), { clock, runSweeper: false })).rejects.toThrow(/POSTBACKS_FILE has problems:\n.*"a".*nope[\s\S]*on/);
  });
});
