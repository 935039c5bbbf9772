import { afterEach, describe, expect, it } from 'vitest';
import { konnektiveEnv, startTestCollector, testEnv, type TestCollector } from '../../test/support/test-collector.js';

let collector: TestCollector;
afterEach(async () => {
  await collector.close();
});

describe('GET /demo/', () => {
  it('serves a five-page funnel carrying the snippet in sandbox mode', async () => {
    collector = await startTestCollector(testEnv());
    const pages: Record<string, string> = {
      '/demo/': 'presell',
      '/demo/lead': 'lead',
      '/demo/checkout': 'checkout',
      '/demo/upsell': 'upsell1',
      '/demo/thanks': 'thankyou',
    };
    for (const [path, page] of Object.entries(pages)) {
      const res = await fetch(`${collector.url}${path}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/text\/html/);
      expect(await res.text()).toContain(`<script defer src="/f.js" data-page="${page}"`);
    }
  });

  it('does not exist on a live collector', async () => {
    collector = await startTestCollector(konnektiveEnv('http://127.0.0.1:9'));
    expect((await fetch(`${collector.url}/demo/`)).status).toBe(404);
  });
});

describe('the sandbox demo closes the recovery loop', () => {
  it('records the CART with its orderUrl; opening it returns to the demo checkout prefilled; paying counts one cart recovered by link', async () => {
    const { VirtualClock } = await import('../../test/support/virtual-clock.js');
    const { ev, eventually } = await import('../../test/support/test-collector.js');
    const clock = new VirtualClock();
    collector = await startTestCollector(testEnv(), { clock, runSweeper: false });
    const checkout = `${collector.url}/demo/checkout`;
    const post = async (body: object) => (await (await collector.post(body, { origin: collector.url })).json()) as import('../wire-schema.js').IngestResponse;
    const settle = async () => {
      collector.worker.notify();
      await eventually(async () => !(await collector.store.listJobs({})).some((job) => job.state === 'running' || (job.state === 'pending' && job.runAt <= clock.now())));
    };
    const first = await post({ events: [ev.page('presell', `${collector.url}/demo/`)] });
    await post({ session: first.session, events: [ev.page('checkout', checkout), ev.cart([{ id: '41', name: 'Bottle', price: 39.95, qty: 1 }]), ev.lead({ firstName: 'Ann', emailAddress: 'ann@example.com', city: 'Springfield' })] });
    await settle();
    clock.advance(31 * 60_000);
    await collector.sweeper.sweepOnce();
    await settle();

    const recorded = await (await fetch(`${collector.url}/demo/recorded`)).text();
    const orderUrl = /href="(http:\/\/localhost:8787\/r\/[^"]+)"/.exec(recorded)?.[1];
    expect(orderUrl).toBeDefined();
    const res = await fetch(orderUrl!.replace('http://localhost:8787', collector.url), { redirect: 'manual' });
    expect(res.status).toBe(302);
    const location = res.headers.get('location')!;
    expect(location.startsWith(`${checkout}#_fb=p.`)).toBe(true);

    const landed = await post({ link: new URLSearchParams(new URL(location).hash.slice(1)).get('_fb'), events: [ev.page('checkout', checkout)] });
    expect(landed.ids.fields).toEqual({ firstName: 'Ann', emailAddress: 'ann@example.com', city: 'Springfield' });
    expect(landed.prefill).toBe(`${collector.url}/p.js`);

    await post({ session: landed.session, events: [ev.page('thankyou', `${collector.url}/demo/thanks?orderId=DEMO1001`), ev.order('DEMO1001')] });
    clock.advance(60_000);
    await collector.sweeper.sweepOnce();
    await settle();
    expect(await collector.store.funnelReport(0, clock.now() + 1)).toMatchObject({ cartsRecovered: 1, cartsRecoveredByLink: 1, recoveredRevenue: { USD: 3995 } });
    expect(await (await fetch(`${collector.url}/demo/recorded`)).text()).toContain('PUT /ecomOrders/sandbox-cart-');
  });
});

describe('the sandbox demo after the order', () => {
  it('makes a demo order rebill, decline, recover, be refunded and cancel through the lifecycle poll, with every Konnektive read recorded and the figures on the dashboard', async () => {
    const { ev, eventually } = await import('../../test/support/test-collector.js');
    const { OverviewResponse } = await import('../dashboard/api-schema.js');
    collector = await startTestCollector(testEnv({ LIFECYCLE_SYNC: 'on' }));
    expect(collector.config.sandbox).toBe(true);
    const post = async (body: object) => (await (await collector.post(body, { origin: collector.url })).json()) as import('../wire-schema.js').IngestResponse;
    const first = await post({ events: [ev.page('checkout', `${collector.url}/demo/checkout`), ev.lead({ firstName: 'Ann', emailAddress: 'Ann@Example.com' })] });
    await post({ session: first.session, events: [ev.page('thankyou', `${collector.url}/demo/thanks?orderId=DEMO2002`), ev.order('DEMO2002')] });
    // The page lists the demo order once the session holds it (the order id and the email).
    const page = async () => (await fetch(`${collector.url}/demo/lifecycle`)).text();
    await eventually(async () => /data-order="[^"]+" data-action="rebill"/.test(await page()));
    const orderId = /data-order="([^"]+)" data-action="rebill"/.exec(await page())![1]!;
    expect(await page()).toContain('Ann@Example.com');

    const change = (body: unknown, contentType = 'application/json') =>
      fetch(`${collector.url}/demo/lifecycle`, { method: 'POST', headers: { 'content-type': contentType }, body: typeof body === 'string' ? body : JSON.stringify(body) });
    const events = async () => (await collector.store.sql().all<{ kind: string }>('SELECT kind FROM lifecycle_events ORDER BY created_at, id')).map((row) => row.kind);
    // Bad input is refused and changes nothing.
    expect((await change(`orderId=${orderId}&action=rebill`, 'application/x-www-form-urlencoded')).status).toBe(415);
    expect((await change({ orderId, action: 'chargeback' })).status).toBe(400);
    expect((await change({ orderId: 'NOPE', action: 'rebill' })).status).toBe(404);
    expect(await events()).toEqual([]);

    for (const [action, expected] of [
      ['rebill', ['sale_completed', 'rebill_succeeded']],
      ['decline', ['rebill_declined']],
      ['rebill', ['rebill_succeeded']],
      ['refund', ['refund']],
      ['cancel', ['subscription_cancelled']],
    ] as const) {
      const before = (await events()).length;
      const res = await change({ orderId, action });
      expect(res.status).toBe(200);
      await eventually(async () => (await events()).length >= before + expected.length);
      expect((await events()).slice(before).sort()).toEqual([...expected].sort());
    }

    // The poll's reads are in the recorded calls, as Konnektive's would be.
    const endpoints = (await collector.store.listAttempts()).filter((a) => a.outcome === 'sandbox').map((a) => a.endpoint);
    for (const endpoint of ['queryTransactions', 'queryPurchases', 'queryOrder']) expect(endpoints).toContain(endpoint);
    // And so is what ActiveCampaign would get for each event: its order, the contact's status, the
    // tags and the tracked event; nothing is a dead letter.
    await eventually(async () => (await collector.store.listJobs({ state: 'pending' })).length === 0);
    expect(await collector.store.listJobs({ state: 'dead' })).toEqual([]);
    const calls = (await collector.store.listAttempts()).filter((a) => a.upstream === 'activecampaign' && a.outcome === 'sandbox');
    const tracked = calls.filter((a) => a.endpoint === 'POST /event').map((a) => (JSON.parse(a.request) as { event: string }).event);
    expect(tracked.sort()).toEqual(['order_completed', 'order_refunded', 'rebill_declined', 'rebill_succeeded', 'rebill_succeeded', 'subscription_cancelled']);
    expect(calls.filter((a) => a.endpoint === 'POST /ecomOrders')).toHaveLength(3);
    expect(calls.some((a) => a.endpoint === 'POST /contactTags' && a.request.includes('"fb-cancelled"'))).toBe(true);

    const now = Date.now();
    const overview = OverviewResponse.parse(await (await fetch(`${collector.url}/dashboard/api/overview?from=${now - 86_400_000}&to=${now + 60_000}`)).json());
    expect(overview.lifecycle).toMatchObject({
      enabled: true,
      current: { sales: 1, rebills: 2, rebillDeclines: 1, recoveredRebills: 1, refunds: 1, refundCents: 1998, cancellations: 1, netCents: 3 * 3995 - 1998 },
    });
  });
});
