/**
 * Conversions through the real collector: the snippet's requests in, Meta's and TikTok's strict
 * doubles out, with Konnektive and ActiveCampaign doubles behind the funnel as in production.
 */
import { createHash, randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FunnelEvent, IngestResponse } from '../wire-schema.js';
import type { ActiveCampaignDouble } from '../../test/doubles/activecampaign-double.js';
import type { KonnektiveDouble } from '../../test/doubles/konnektive-double.js';
import { startMetaDouble, type MetaDouble } from '../../test/doubles/meta-double.js';
import { startTikTokDouble, type TikTokDouble } from '../../test/doubles/tiktok-double.js';
import { ev, eventually, startTestCollector, testEnv, type TestCollector } from '../../test/support/test-collector.js';
import { emissionEnv, withUpstreamDoubles } from '../../test/support/upstream-doubles.js';
import type { VirtualClock } from '../../test/support/virtual-clock.js';
import { conversionCounts } from '../dashboard/queries.js';
import { deliveryAccuracy, destinations } from '../accuracy/delivery-accuracy.js';
import { LEAD_CONVERSION_SETTLE_MS } from '../ingest/apply-batch.js';
import { VirtualClock as Clock } from '../../test/support/virtual-clock.js';

const MINUTE = 60_000;
const FBCLID = 'IwAR2xYz_AbC-123';
const ann = { firstName: 'Ann', lastName: 'Lee', emailAddress: ' Ann@Example.com ', phoneNumber: '(415) 555-2671', country: 'US' };
const bottle = { id: '41', name: 'Bottle', price: 39.95, qty: 1 };
const sha = (text: string) => createHash('sha256').update(text).digest('hex');

function attribution(marketing: boolean, values: Record<string, string>): FunnelEvent {
  return { id: randomUUID(), type: 'attribution', marketing, values } as FunnelEvent;
}

describe('conversions to the ad platforms', () => {
  let clock: VirtualClock;
  let crm: KonnektiveDouble;
  let ac: ActiveCampaignDouble;
  let meta: MetaDouble;
  let tiktok: TikTokDouble;
  let collector: TestCollector;

  withUpstreamDoubles(
    (doubles) => ({ clock, crm, ac } = doubles),
    () => collector,
  );
  beforeEach(async () => {
    meta = await startMetaDouble({ now: () => clock.now() });
    tiktok = await startTikTokDouble({ now: () => clock.now() });
  });
  afterEach(async () => {
    await meta.close();
    await tiktok.close();
  });

  const platformEnv = () => ({
    META_PIXEL_ID: meta.pixelId,
    META_ACCESS_TOKEN: 'meta-test-token',
    META_API_URL: meta.apiUrl,
    TIKTOK_PIXEL_CODE: tiktok.pixelCode,
    TIKTOK_ACCESS_TOKEN: 'tiktok-test-token',
    TIKTOK_API_URL: tiktok.url,
  });

  async function start(extra: Record<string, string> = {}) {
    collector = await startTestCollector(emissionEnv({ crm, ac }, 'activecampaign', { ...platformEnv(), ...extra }), { clock, fetch: clock.fetch, runSweeper: false, leadConversionSettleMs: LEAD_CONVERSION_SETTLE_MS });
  }

  async function visit(session: string | undefined, events: FunnelEvent[], userAgent?: string): Promise<IngestResponse> {
    const res = await collector.post({ ...(session ? { session } : {}), campaign: '12', events }, userAgent ? { userAgent } : {});
    expect(res.status).toBe(200);
    return (await res.json()) as IngestResponse;
  }

  /**
   * Every job that can run now has run: none running, and no queue's first unfinished job due
   * (a job behind a head waiting out its backoff cannot run, whatever its own time).
   */
  const settle = async () => {
    collector.worker.notify();
    await eventually(async () => {
      const open = (await collector.store.listJobs({})).filter((job) => job.state === 'pending' || job.state === 'running');
      const heads = new Map<string, (typeof open)[number]>();
      for (const job of open) if (!heads.has(job.sessionId) || heads.get(job.sessionId)!.id > job.id) heads.set(job.sessionId, job);
      return [...heads.values()].every((job) => job.state === 'pending' && job.runAt > clock.now());
    }, { timeoutMs: 20_000 });
  };


  /** Idle time passes on the virtual clock: one sweep, then every job that can run. */
  const idle = async (ms: number) => {
    clock.advance(ms);
    await collector.sweeper.sweepOnce();
    await settle();
  };

  /** Presell (with the click), lead, checkout with a cart, a paid order, the thank-you page. */
  async function walk({ marketing = true, userAgent, test = false }: { marketing?: boolean | 'unsaid'; userAgent?: string; test?: boolean } = {}) {
    const landing = `https://offer.example/presell?fbclid=${FBCLID}&ttclid=E.C.P.tt-1&affId=AFF7`;
    const clickedAt = clock.now();
    const first = await visit(
      undefined,
      [
        ev.page('presell', landing),
        ...(marketing === 'unsaid' ? [] : [attribution(marketing, { ...(marketing ? { fbc: `fb.1.${clickedAt}.${FBCLID}`, fbp: 'fb.1.1765000000000.987654321', ttclid: 'E.C.P.tt-1', ttp: 'ttp-cookie-1' } : {}), affId: 'AFF7' })]),
      ],
      userAgent,
    );
    const leadAt = clock.now();
    await visit(first.session, [ev.page('lead', 'https://offer.example/lead'), ev.lead(ann)], userAgent);
    // The Lead waits a few seconds for the rest of the form.
    await idle(LEAD_CONVERSION_SETTLE_MS);
    const checkoutAt = clock.now();
    await visit(first.session, [ev.page('checkout', 'https://secure.example/checkout'), ev.cart([bottle])], userAgent);
    await settle();
    const orderId = (await collector.store.getSession(first.ids.session))!.konnektive.orderId!;
    crm.completeOrder(orderId, { items: [{ productId: '41', name: 'Bottle', qty: 1, price: '39.95' }] });
    if (test) crm.updateOrder(orderId, { cardType: 'TESTCARD' });
    const paidAt = clock.now();
    await visit(first.session, [ev.page('thankyou', 'https://secure.example/thanks'), ev.order(orderId)], userAgent);
    // The thank-you page makes the session due: the sweep queues the order check at once.
    await idle(1_000);
    return { first, orderId, times: { clickedAt, leadAt, checkoutAt, paidAt } };
  }

  it('a walk sends one Lead, one InitiateCheckout and one Purchase to each platform, with the click, hashed contact fields and the event ids the page reads', async () => {
    await start();
    const { first, orderId, times } = await walk();
    const { eventIds } = first.ids;
    expect(eventIds).toEqual({ Lead: `${first.ids.session}.Lead`, InitiateCheckout: `${first.ids.session}.InitiateCheckout`, Purchase: `${first.ids.session}.Purchase` });

    const metaEvents = meta.counted().map((received) => received.event);
    expect(metaEvents.map((event) => [event.event_name, event.event_id])).toEqual([
      ['Lead', eventIds.Lead],
      ['InitiateCheckout', eventIds.InitiateCheckout],
      ['Purchase', eventIds.Purchase],
    ]);
    expect(meta.received()).toHaveLength(3);
    const purchase = metaEvents[2] as Record<string, any>;
    expect(purchase).toMatchObject({
      action_source: 'website',
      event_source_url: 'https://secure.example/thanks',
      user_data: {
        em: [sha('ann@example.com')],
        ph: [sha('14155552671')],
        fn: [sha('ann')],
        ln: [sha('lee')],
        country: [sha('us')],
        fbc: `fb.1.${times.clickedAt}.${FBCLID}`,
        fbp: 'fb.1.1765000000000.987654321',
        client_user_agent: expect.stringContaining('Chrome'),
        client_ip_address: '127.0.0.1',
      },
      custom_data: { value: 39.95, currency: 'USD', order_id: orderId },
    });
    expect(purchase.user_data.external_id).toEqual([expect.stringMatching(/^[0-9a-f]{64}$/)]);
    // Each left as soon as its cause was committed (virtual time: seconds at most).
    const at = Object.fromEntries(meta.counted().map((received) => [received.event.event_name, received.receivedAt]));
    expect(at.Lead! - times.leadAt).toBeLessThanOrEqual(10_000);
    expect(at.InitiateCheckout! - times.checkoutAt).toBeLessThanOrEqual(10_000);
    expect(at.Purchase! - times.paidAt).toBeLessThanOrEqual(10_000);

    const tiktokEvents = tiktok.counted().map((received) => received.event as Record<string, any>);
    expect(tiktokEvents.map((event) => [event.event, event.event_id])).toEqual([
      ['SubmitForm', eventIds.Lead],
      ['InitiateCheckout', eventIds.InitiateCheckout],
      ['CompletePayment', eventIds.Purchase],
    ]);
    expect(tiktokEvents[2]).toMatchObject({
      user: { email: sha('ann@example.com'), ttclid: 'E.C.P.tt-1', ttp: 'ttp-cookie-1', ip: '127.0.0.1' },
      page: { url: 'https://secure.example/thanks' },
      properties: { value: 39.95, currency: 'USD' },
    });
    expect(tiktokEvents[1]).toMatchObject({ page: { url: 'https://secure.example/checkout' }, properties: { value: 39.95, currency: 'USD' } });

    // The ORDER went to ActiveCampaign as before; the conversions are on the session's page too.
    expect([...ac.orders.values()].some((order) => order.externalid === orderId)).toBe(true);
    const counts = await conversionCounts(collector.store.sql(), 0);
    expect(counts.map((c) => [c.platform, c.conversion, c.sent, c.failedCalls])).toEqual([
      ['meta', 'Lead', 1, 0],
      ['meta', 'InitiateCheckout', 1, 0],
      ['meta', 'Purchase', 1, 0],
      ['tiktok', 'Lead', 1, 0],
      ['tiktok', 'InitiateCheckout', 1, 0],
      ['tiktok', 'Purchase', 1, 0],
    ]);
  });

  it('resent requests, more typing, a second checkout visit and a second order check queue nothing twice', async () => {
    await start();
    const { first, orderId } = await walk();
    const leadBatch = [ev.page('lead', 'https://offer.example/lead'), ev.lead({ ...ann, city: 'Austin' })];
    await visit(first.session, leadBatch);
    await visit(first.session, leadBatch);
    await visit(first.session, [ev.page('checkout', 'https://secure.example/checkout'), ev.cart([{ ...bottle, qty: 2 }])]);
    await visit(first.session, [ev.page('thankyou', 'https://secure.example/thanks'), ev.order(orderId)]);
    await idle(20 * MINUTE);
    expect(meta.received().map((received) => received.event.event_name)).toEqual(['Lead', 'InitiateCheckout', 'Purchase']);
    expect(tiktok.received().map((received) => (received.event as { event: string }).event)).toEqual(['SubmitForm', 'InitiateCheckout', 'CompletePayment']);
  });

  it('without marketing consent, or when the page never said, nothing goes to the ad platforms and each conversion is counted as skipped', async () => {
    await start();
    await walk({ marketing: false });
    await walk({ marketing: 'unsaid' });
    expect(meta.requests).toEqual([]);
    expect(tiktok.requests).toEqual([]);
    const counts = await conversionCounts(collector.store.sql(), 0);
    expect(counts).toHaveLength(6);
    for (const count of counts) expect(count).toMatchObject({ sent: 0, skipped: { no_consent: 2 }, failedCalls: 0 });
    const metrics = await (await fetch(`${collector.url}/metrics`)).text();
    expect(metrics).toContain('funnelbeacon_conversions_skipped_total{platform="meta",conversion="Purchase",reason="no_consent"} 2');
  });

  it("a bot's session sends nothing to the ad platforms (counted as skipped), and neither does a test order's Purchase", async () => {
    await start({ BOT_FILTER: 'on' });
    const bot = 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)';
    const first = await visit(undefined, [ev.page('lead', 'https://offer.example/lead'), attribution(true, { fbp: 'fb.1.1765000000000.1' }), ev.lead(ann)], bot);
    await visit(first.session, [ev.page('checkout', 'https://secure.example/checkout'), ev.cart([bottle])], bot);
    await idle(LEAD_CONVERSION_SETTLE_MS);
    expect(meta.requests).toEqual([]);
    await walk({ test: true });
    expect(meta.counted().map((received) => received.event.event_name)).toEqual(['Lead', 'InitiateCheckout']);
    const counts = await conversionCounts(collector.store.sql(), 0);
    expect(counts.find((c) => c.platform === 'tiktok' && c.conversion === 'Purchase')).toMatchObject({ sent: 0, skipped: { test_order: 1 } });
    // The bot's session queued nothing: counted in /metrics, and as skipped by the delivery accuracy.
    const metrics = await (await fetch(`${collector.url}/metrics`)).text();
    expect(metrics).toContain('funnelbeacon_bot_calls_suppressed_total{kind="conversion"} 2');
    const accuracy = await deliveryAccuracy(collector.store.sql(), destinations(collector.config), { from: 0, to: clock.now() + 1 });
    expect(accuracy.find((row) => row.destination === 'meta-lead')).toMatchObject({ expected: 2, sent: 1, skippedBy: { bot: 1 }, accuracy: 1 });
    expect(accuracy.find((row) => row.destination === 'meta-purchase')).toMatchObject({ expected: 1, skippedBy: { test_order: 1 }, accuracy: 1 });
  });

  it('a platform that fails holds back no other: Meta down is retried and counts each event once; TikTok delivers meanwhile', async () => {
    await start();
    meta.fail('http500');
    const { first } = await walk();
    expect(tiktok.counted()).toHaveLength(3);
    expect(meta.counted()).toHaveLength(0);
    meta.recover();
    await idle(MINUTE);
    await eventually(() => meta.counted().length === 3);
    expect(meta.counted().map((received) => received.event.event_id)).toEqual(Object.values(first.ids.eventIds));
    const counts = await conversionCounts(collector.store.sql(), 0);
    // The Lead was tried while Meta failed; the others waited behind it (a platform's conversions of a session keep their order).
    expect(counts.find((c) => c.platform === 'meta' && c.conversion === 'Lead')!.failedCalls).toBeGreaterThan(0);
    expect(counts.filter((c) => c.platform === 'meta').map((c) => c.sent)).toEqual([1, 1, 1]);
  });

  it('refused credentials pause the platform, not the funnel, and the conversions go once they work again', async () => {
    await start();
    meta.setAccessToken('rotated-token');
    const { first } = await walk();
    expect(collector.health.get('meta').state).toBe('paused');
    expect(collector.health.get('konnektive').state).toBe('ok');
    expect(tiktok.counted()).toHaveLength(3);
    expect(meta.counted()).toHaveLength(0);
    meta.setAccessToken('meta-test-token');
    // The pause ends by itself after five minutes (no probe call records anything real).
    await idle(6 * MINUTE);
    await eventually(() => meta.counted().length === 3);
    expect(meta.counted().map((received) => received.event.event_id)).toEqual(Object.values(first.ids.eventIds));
  });

  it('a conversion whose retries ran out is a dead letter; a replay sends it, once', async () => {
    await start();
    const first = await visit(undefined, [ev.page('lead', 'https://offer.example/lead'), attribution(true, { fbp: 'fb.1.1765000000000.2' }), ev.lead(ann)]);
    meta.fail('http500');
    // Eight attempts with the test's short backoff, a second of virtual time apart.
    for (let attempt = 0; attempt < 15; attempt++) await idle(1_000);
    const dead = (await collector.store.listJobs({ state: 'dead' })).filter((job) => job.kind === 'meta.conversion');
    expect(dead).toHaveLength(1);
    meta.recover();
    expect(await collector.store.replayDeadJobs(clock.now())).toBe(1);
    await settle();
    expect(meta.counted().map((received) => received.event.event_id)).toEqual([first.ids.eventIds.Lead]);
    expect(meta.received()).toHaveLength(1);
  });

  it('an event older than the platforms accept is never sent: skipped as too old', async () => {
    await start();
    meta.fail('down');
    tiktok.fail('down');
    await walk();
    // Eight days of outage: the retries run out of age before they run out of attempts.
    for (let day = 0; day < 8; day++) await idle(24 * 60 * MINUTE);
    meta.recover();
    tiktok.recover();
    await collector.store.replayDeadJobs(clock.now());
    await settle();
    expect(meta.received()).toEqual([]);
    expect(tiktok.received()).toEqual([]);
    const counts = await conversionCounts(collector.store.sql(), 0);
    for (const count of counts) expect(count.skipped).toEqual({ too_old: 1 });
  });
});

describe('conversions in sandbox mode', () => {
  let collector: TestCollector | undefined;
  afterEach(async () => collector?.close());

  it('records the requests it would send to each platform in full, and sends nothing', async () => {
    const clock = new Clock();
    collector = await startTestCollector(testEnv(), { runSweeper: false, clock, leadConversionSettleMs: LEAD_CONVERSION_SETTLE_MS });
    const res = await collector.post({ events: [ev.page('lead', 'http://localhost:5173/lead'), attribution(true, { fbp: 'fb.1.1765000000000.5' }), ev.lead({ emailAddress: 'sam@example.com' })] });
    const { ids } = (await res.json()) as IngestResponse;
    clock.advance(LEAD_CONVERSION_SETTLE_MS);
    collector.worker.notify();
    await eventually(async () => (await collector!.store.listAttempts()).filter((attempt) => attempt.outcome === 'sandbox' && (attempt.upstream === 'meta' || attempt.upstream === 'tiktok')).length === 2);
    const recorded = (await collector.store.listAttempts()).filter((attempt) => attempt.upstream === 'meta' || attempt.upstream === 'tiktok');
    const metaBody = JSON.parse(recorded.find((attempt) => attempt.upstream === 'meta')!.request) as { data: Record<string, any>[] };
    expect(metaBody.data[0]).toMatchObject({ event_name: 'Lead', event_id: ids.eventIds.Lead, user_data: { em: [sha('sam@example.com')], fbp: 'fb.1.1765000000000.5' } });
    const tiktokBody = JSON.parse(recorded.find((attempt) => attempt.upstream === 'tiktok')!.request) as { data: Record<string, any>[] };
    expect(tiktokBody.data[0]).toMatchObject({ event: 'SubmitForm', event_id: ids.eventIds.Lead });
    expect(recorded.every((attempt) => attempt.endpoint === 'Lead')).toBe(true);
  });
});
