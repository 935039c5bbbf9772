/**
 * What reaches a buyer's inbox through the CRM comes from the owner, never from a browser. Anyone
 * can post a lead with anyone's email and a cart they wrote (ingest needs no browser): these tests
 * send such a cart through the real collector, its store, sweeper and outbox, against the strict
 * Konnektive and ActiveCampaign doubles, and read what ActiveCampaign (directly, or through
 * Konnektive's route) received.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../logger.js';
import type { IngestResponse } from '../wire-schema.js';
import type { ActiveCampaignDouble } from '../../test/doubles/activecampaign-double.js';
import type { KonnektiveDouble } from '../../test/doubles/konnektive-double.js';
import { ev, idleFor, LANDER_ORIGIN, settleJobs, startTestCollector, testEnv, type TestCollector } from '../../test/support/test-collector.js';
import { emissionEnv, withUpstreamDoubles } from '../../test/support/upstream-doubles.js';
import type { VirtualClock } from '../../test/support/virtual-clock.js';

const MINUTE = 60_000;
const victim = { firstName: 'Some', lastName: 'One', emailAddress: 'someone-else@victim.example' };

/** The cart of the reproduction: the owner's product id, every other word the attacker's. */
const phishing = {
  id: '41',
  price: 0.01,
  qty: 1,
  name: 'ACCOUNT SUSPENDED - verify your card at https://evil.example/verify',
  description: 'Your payment failed. Re-enter your card details within 24h: https://evil.example/verify',
  imageUrl: 'https://evil.example/track.gif?u=someone-else@victim.example',
  productUrl: 'https://evil.example/verify',
  sku: '<img src=x onerror=alert(17)>',
  category: '</script><script>alert(18)</script>',
};
const ATTACKER_TEXT = /evil\.example|ACCOUNT SUSPENDED|payment failed|onerror|<script|<img/;

for (const route of ['activecampaign', 'konnektive'] as const) {
  describe(`a cart written by an attacker, via EMIT_VIA=${route}`, () => {
    let clock: VirtualClock;
    let crm: KonnektiveDouble;
    let ac: ActiveCampaignDouble;
    let collector: TestCollector;

    withUpstreamDoubles(
      (doubles) => ({ clock, crm, ac } = doubles),
      () => collector,
    );

    async function start(extra: Record<string, string> = {}) {
      collector = await startTestCollector(emissionEnv({ crm, ac }, route, extra), { clock, fetch: clock.fetch, runSweeper: false });
    }

    /** Ingest as an attacker does it: plain HTTP, a lander's Origin header, a browser's user agent. */
    async function post(session: string | undefined, events: unknown[]): Promise<IngestResponse> {
      const res = await collector.post({ ...(session ? { session } : {}), campaign: '12', events });
      expect(res.status).toBe(200);
      return (await res.json()) as IngestResponse;
    }

    async function abandonCart(items: unknown[]): Promise<string> {
      const first = await post(undefined, [ev.page('checkout', `${LANDER_ORIGIN}/checkout`)]);
      await post(first.session, [ev.lead(victim), { ...ev.cart([]), items }]);
      await settleJobs(collector, clock);
      await idleFor(collector, clock, 31 * MINUTE);
      return first.ids.session;
    }

    /** Everything ActiveCampaign was sent, on this route, as text. */
    const sentToActiveCampaign = (): string =>
      route === 'konnektive' ? JSON.stringify(crm.acRoute.map((call) => call.params)) : JSON.stringify(ac.requests.map((request) => request.body ?? null));

    function sentCart(): { products: Record<string, unknown>[]; totalPrice: number; currency: string } | undefined {
      if (route === 'konnektive') {
        const call = crm.acRoute.find((each) => each.type === 'CART');
        return call && { products: JSON.parse(call.params.orderProducts!), totalPrice: Number(call.params.totalPrice), currency: call.params.currency! };
      }
      const request = ac.requests.find((each) => each.method === 'POST' && each.path === '/api/3/ecomOrders');
      const order = (request?.body as { ecomOrder?: Record<string, unknown> } | undefined)?.ecomOrder;
      return order && { products: order.orderProducts as Record<string, unknown>[], totalPrice: Number(order.totalPrice), currency: String(order.currency) };
    }

    const sentCustomers = (): string[] =>
      route === 'konnektive' ? crm.acRoute.filter((call) => call.type === 'CUSTOMER').map((call) => call.params.email!) : [...ac.customers.values()].map((customer) => customer.email);

    it("sends the catalogue's name and price, and none of the attacker's words or links", async () => {
      await start();
      const id = await abandonCart([phishing]);
      expect(sentCart()).toEqual({ products: [{ externalid: '41', name: 'Bottle', price: 3995, quantity: 1 }], totalPrice: 3995, currency: 'USD' });
      expect(sentToActiveCampaign()).not.toMatch(ATTACKER_TEXT);
      // The dashboard's record of the CART is what was sent.
      expect((await collector.store.getEmission(id, 'cart'))?.payload).toMatchObject({ items: [{ id: '41', name: 'Bottle', priceCents: 3995, quantity: 1 }], totalCents: 3995 });
      expect(JSON.stringify((await collector.store.getEmission(id, 'cart'))?.payload)).not.toMatch(ATTACKER_TEXT);
    });

    it("takes the catalogue's image as given, and a page's image and link only from the funnel's hosts or media hosts", async () => {
      await start({ PRODUCT_MEDIA_HOSTS: 'cdn.shop.example' });
      crm.setCampaignProducts('12', [
        { campaignProductId: 41, productName: 'Bottle', price: '39.95', imageUrl: 'https://images.konnektive-owner.example/bottle.png' },
        { campaignProductId: 42, productName: 'Spare filter', price: '12.50' },
        { campaignProductId: 43, productName: 'Cap', price: '5.00' },
      ]);
      await abandonCart([
        { ...phishing, imageUrl: 'https://eu.cdn.shop.example/other.png', productUrl: 'https://cdn.shop.example/bottle' },
        { id: '42', price: 0.01, qty: 2, imageUrl: 'https://EU.cdn.shop.example/filter%20x.png', productUrl: 'https://cdn.shop.example@evil.example/verify' },
        { id: '43', price: 0.01, qty: 1, imageUrl: 'https://cdn.shop.example.evil/cap.png', productUrl: 'https://evil.example/?u=cdn.shop.example' },
      ]);
      expect(sentCart()!.products).toEqual([
        // The catalogue's image wins over the page's; the page's link is on a media host.
        { externalid: '41', name: 'Bottle', price: 3995, quantity: 1, imageUrl: 'https://images.konnektive-owner.example/bottle.png', productUrl: 'https://cdn.shop.example/bottle' },
        // Sent as the URL parser writes it; the userinfo link is left out.
        { externalid: '42', name: 'Spare filter', price: 1250, quantity: 2, imageUrl: 'https://eu.cdn.shop.example/filter%20x.png' },
        { externalid: '43', name: 'Cap', price: 500, quantity: 1 },
      ]);
      expect(sentCart()!.totalPrice).toBe(3995 + 2 * 1250 + 500);
      expect(sentToActiveCampaign()).not.toMatch(ATTACKER_TEXT);
    });

    it('waits while the catalogue cannot be read, then sends the CART with the catalogue, never the page', async () => {
      await start();
      crm.fail('http500', { path: '/campaign/query/' });
      const id = await abandonCart([phishing]);
      expect(sentCart()).toBeUndefined();
      expect(await collector.store.getEmission(id, 'cart')).toBeUndefined();
      const recheck = (await collector.store.listJobs({})).find((job) => job.kind === 'purchase.recheck' && job.sessionId === id);
      expect(recheck).toMatchObject({ state: 'pending' });
      expect(recheck!.attempts).toBeGreaterThan(0);

      crm.recover();
      clock.advance(10 * MINUTE);
      await settleJobs(collector, clock);
      expect(sentCart()).toEqual({ products: [{ externalid: '41', name: 'Bottle', price: 3995, quantity: 1 }], totalPrice: 3995, currency: 'USD' });
      expect(sentToActiveCampaign()).not.toMatch(ATTACKER_TEXT);
    });

    it('leaves out a product the catalogue does not know', async () => {
      await start();
      await abandonCart([{ ...phishing, id: '999' }, { id: '42', price: 0.01, qty: 1, name: 'FREE', description: 'https://evil.example' }]);
      expect(sentCart()).toEqual({ products: [{ externalid: '42', name: 'Spare filter', price: 1250, quantity: 1 }], totalPrice: 1250, currency: 'USD' });
      expect(sentToActiveCampaign()).not.toMatch(ATTACKER_TEXT);
    });

    it('sends a cart of products the catalogue does not know as a CUSTOMER, with no CART', async () => {
      await start();
      const id = await abandonCart([{ ...phishing, id: '999' }]);
      expect(sentCart()).toBeUndefined();
      expect(sentCustomers()).toEqual([victim.emailAddress]);
      expect(await collector.store.getEmission(id, 'cart')).toBeUndefined();
      expect(await collector.store.getSession(id)).toMatchObject({ state: 'expired' });
      expect(sentToActiveCampaign()).not.toMatch(ATTACKER_TEXT);
    });

    it('logs which product ids were unknown, but never an id that could be an address or a name', async () => {
      const lines: string[] = [];
      collector = await startTestCollector(emissionEnv({ crm, ac }, route), {
        clock,
        fetch: clock.fetch,
        runSweeper: false,
        logger: createLogger('debug', { write: (line: string) => void lines.push(line) }),
      });
      await abandonCart([{ ...phishing, id: '999' }, { id: 'ann.lee@victim.example', price: 1, qty: 1 }, { id: '41', price: 1, qty: 1 }]);
      const warning = lines.map((line) => JSON.parse(line) as { msg: string; leftOut?: unknown }).find((line) => line.leftOut);
      expect(warning?.leftOut).toEqual([
        { id: '999', reason: 'unknown' },
        { id: '(not shown)', reason: 'unknown' },
      ]);
      expect(lines.join('\n')).not.toMatch(/victim\.example|evil\.example|ACCOUNT SUSPENDED/);
    });

    it('with PRODUCTS_FILE, the CART shows the file: name, price, description, SKU, category, image and link', async () => {
      const file = join(mkdtempSync(join(tmpdir(), 'funnelbeacon-products-')), 'products.json');
      writeFileSync(
        file,
        JSON.stringify({
          currency: 'USD',
          products: [
            { id: '41', name: 'Steel bottle', price: 44, description: 'Keeps water cold', sku: 'BTL-1', category: 'Bottles', imageUrl: 'https://owner-cdn.example/b.png', productUrl: 'https://owner.example/bottle' },
          ],
        }),
      );
      await start({ PRODUCTS_FILE: file });
      await abandonCart([phishing]);
      expect(sentCart()!.products).toEqual([
        { externalid: '41', name: 'Steel bottle', price: 4400, quantity: 1, imageUrl: 'https://owner-cdn.example/b.png', productUrl: 'https://owner.example/bottle', sku: 'BTL-1', category: 'Bottles', description: 'Keeps water cold' },
      ]);
      expect(crm.calls.some((call) => call.path === '/campaign/query/')).toBe(false);
      expect(sentToActiveCampaign()).not.toMatch(ATTACKER_TEXT);
    });

    it("an ORDER's items are Konnektive's, with only the catalogue's pictures or the funnel's", async () => {
      await start();
      crm.setCampaignProducts('12', [{ campaignProductId: 41, productName: 'Bottle', price: '39.95', imageUrl: 'https://owner-cdn.example/b.png' }]);
      const first = await post(undefined, [ev.page('checkout', `${LANDER_ORIGIN}/checkout`)]);
      await post(first.session, [ev.lead(victim), { ...ev.cart([]), items: [{ ...phishing, imageUrl: 'https://evil.example/x.png' }, { id: '42', price: 1, qty: 1, imageUrl: 'http://localhost:5173/filter.png', productUrl: 'https://evil.example/f' }] }]);
      await settleJobs(collector, clock);
      const orderId = (await collector.store.getSession(first.ids.session))!.konnektive.orderId!;
      crm.completeOrder(orderId, { items: [{ productId: '41', name: 'Bottle', price: '39.95' }, { productId: '42', name: 'Spare filter', price: '12.50' }] });
      await post(first.session, [ev.page('thankyou', `${LANDER_ORIGIN}/thanks?orderId=${orderId}`), ev.order(orderId)]);
      await idleFor(collector, clock, MINUTE);
      const products =
        route === 'konnektive'
          ? (JSON.parse(crm.acRoute.find((call) => call.type === 'ORDER')!.params.orderProducts!) as Record<string, unknown>[])
          : ([...ac.orders.values()].find((order) => order.externalid)!.orderProducts as unknown as Record<string, unknown>[]);
      expect(products.map(({ externalid, name, price, imageUrl, productUrl }) => ({ externalid, name, price, imageUrl, productUrl }))).toEqual([
        { externalid: '41', name: 'Bottle', price: 3995, imageUrl: 'https://owner-cdn.example/b.png', productUrl: undefined },
        { externalid: '42', name: 'Spare filter', price: 1250, imageUrl: 'http://localhost:5173/filter.png', productUrl: undefined },
      ]);
      expect(sentToActiveCampaign()).not.toMatch(ATTACKER_TEXT);
    });
  });
}

describe('sandbox mode', () => {
  it("prices the demo's cart from the sandbox Konnektive's campaign products, and records no attacker text", async () => {
    const { VirtualClock } = await import('../../test/support/virtual-clock.js');
    const clock = new VirtualClock();
    const collector = await startTestCollector(testEnv(), { clock, runSweeper: false });
    try {
      const checkout = `${collector.url}/demo/checkout`;
      const post = async (body: object) => (await (await collector.post(body, { origin: collector.url })).json()) as IngestResponse;
      const first = await post({ events: [ev.page('checkout', checkout)] });
      await post({ session: first.session, events: [ev.lead(victim), { ...ev.cart([]), items: [phishing, { id: '42', price: 12.5, qty: 1, name: 'Spare filter' }] }] });
      await settleJobs(collector, clock);
      await idleFor(collector, clock, 3 * MINUTE);
      const attempts = await collector.store.listAttempts();
      expect(attempts.find((attempt) => attempt.endpoint === 'queryCampaign')).toMatchObject({ outcome: 'sandbox' });
      const cart = attempts.find((attempt) => attempt.endpoint === 'POST /ecomOrders');
      expect(JSON.parse(cart!.request).ecomOrder).toMatchObject({
        orderProducts: [
          { externalid: '41', name: 'Bottle', price: 3995, quantity: 1 },
          { externalid: '42', name: 'Spare filter', price: 1250, quantity: 1 },
        ],
        totalPrice: 5245,
      });
      expect(attempts.map((attempt) => attempt.request).join('\n')).not.toMatch(ATTACKER_TEXT);
    } finally {
      await collector.close();
    }
  });
});
