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
