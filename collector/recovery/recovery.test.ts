/**
 * Recovery links end to end through the real collector against the strict Konnektive and
 * ActiveCampaign doubles on a virtual clock: every CART carries `orderUrl` (on every route), the
 * link leads back to the checkout with a recovery link token, the snippet's adoption gets the
 * fields to prefill, the ORDER recovers the cart, and the facts reach the report and /metrics.
 */
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { newSessionId, signRecovery } from '../tokens.js';
import type { IngestResponse } from '../wire-schema.js';
import type { ActiveCampaignDouble } from '../../test/doubles/activecampaign-double.js';
import type { KonnektiveDouble } from '../../test/doubles/konnektive-double.js';
import { ev, idleFor, konnektiveEnv, LANDER_ORIGIN, settleJobs, startTestCollector, TEST_SECRET, testEnv, type TestCollector } from '../../test/support/test-collector.js';
import { withUpstreamDoubles } from '../../test/support/upstream-doubles.js';
import type { VirtualClock } from '../../test/support/virtual-clock.js';

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
const CHECKOUT = `${LANDER_ORIGIN}/checkout?affId=AFF7&sub=a%20b+c`;
const ann = { firstName: 'Ann', lastName: 'Lee', emailAddress: 'ann@example.com', address1: '1 Main St', city: 'Springfield', postalCode: '12345' };
const bottle = {
  id: '41',
  name: 'Bottle',
  price: 39.95,
  qty: 1,
  imageUrl: 'https://cdn.example/bottle.png?v=2',
  productUrl: 'https://offer.example/bottle',
  sku: 'BTL-1',
  category: 'Bottles',
  description: 'A steel bottle',
};
const PERSONAL = /ann@example\.com|Ann|Lee|Main St|Springfield|12345/;

/** The recovery landing's link token, which the redirect puts in the URL's fragment. */
const landingToken = (location: string): string => new URLSearchParams(new URL(location).hash.slice(1)).get('_fb')!;

for (const route of ['activecampaign', 'konnektive', 'sandbox'] as const) {
  describe(`recovery links via EMIT_VIA=${route}`, () => {
    let clock: VirtualClock;
    let crm: KonnektiveDouble;
    let ac: ActiveCampaignDouble;
    let collector: TestCollector;
    let dbPath: string;

    withUpstreamDoubles(
      (doubles) => ({ clock, crm, ac } = doubles),
      () => collector,
    );

    async function start(extra: Record<string, string> = {}) {
      const env =
        route === 'sandbox'
          ? testEnv({ SECRET: TEST_SECRET, ALLOWED_ORIGINS: LANDER_ORIGIN, ABANDON_AFTER: '30m', PUBLIC_URL: 'https://collect.example', PRODUCT_MEDIA_HOSTS: 'cdn.example,offer.example', ...extra })
          : konnektiveEnv(crm.url, {
              EMIT_VIA: route,
              ACTIVECAMPAIGN_API_URL: ac.url,
              ACTIVECAMPAIGN_API_KEY: 'ac-test-key',
              ABANDON_AFTER: '30m',
              PUBLIC_URL: 'https://collect.example',
              PRODUCT_MEDIA_HOSTS: 'cdn.example,offer.example',
              ...extra,
            });
      dbPath = env.DATABASE_URL!.replace(/^file:/, '');
      collector = await startTestCollector(env, { clock, fetch: clock.fetch, runSweeper: false });
    }

    async function visit(credentials: { session?: string; link?: string }, events: unknown[]): Promise<IngestResponse> {
      const res = await collector.post({ ...credentials, ...(route === 'sandbox' ? {} : { campaign: '12' }), events });
      expect(res.status).toBe(200);
      return (await res.json()) as IngestResponse;
    }

    const settle = () => settleJobs(collector, clock);
    const idle = (ms: number) => idleFor(collector, clock, ms);

    /** Lead, checkout with a cart, then gone: the CART goes out. Returns the session and the CART's orderUrl. */
    async function abandon(): Promise<{ session: string; id: string; orderUrl: string; orderId: string | undefined }> {
      const first = await visit({}, [ev.page('lead', `${LANDER_ORIGIN}/lead?affId=AFF7`), ev.lead(ann)]);
      await visit({ session: first.session }, [ev.page('checkout', CHECKOUT), { ...ev.cart([]), items: [bottle] }]);
      await settle();
      await idle(31 * MINUTE);
      const id = first.ids.session;
      return { session: first.session, id, orderUrl: await orderUrlOf(), orderId: (await collector.store.getSession(id))!.konnektive.orderId };
    }

    function sentCart(): { orderUrl: string; products: Record<string, unknown>[] } | undefined {
      if (route === 'konnektive') {
        const call = crm.acRoute.find((each) => each.type === 'CART');
        return call && { orderUrl: call.params.orderUrl!, products: JSON.parse(call.params.orderProducts!) };
      }
      if (route === 'activecampaign') {
        const order = [...ac.orders.values()].find((each) => each.history[0]?.body.abandonedDate !== undefined);
        return order && { orderUrl: order.orderUrl!, products: order.orderProducts as unknown as Record<string, unknown>[] };
      }
      return undefined;
    }

    async function recorded(kind: 'cart' | 'order'): Promise<Record<string, unknown> | undefined> {
      const attempts = await collector.store.listAttempts();
      const wanted = kind === 'cart' ? /abandonedDate/ : /externalid/;
      const attempt = attempts.find((each) => each.endpoint.includes('/ecomOrders') && wanted.test(each.request));
      return attempt && (JSON.parse(attempt.request) as { ecomOrder: Record<string, unknown> }).ecomOrder;
    }

    const open = (url: string, method: 'GET' | 'HEAD' = 'GET') =>
      fetch(url.replace('https://collect.example', collector.url), { method, redirect: 'manual' });

    async function orderUrlOf(): Promise<string> {
      if (route === 'sandbox') return String((await recorded('cart'))!.orderUrl);
      return sentCart()!.orderUrl;
    }

    it('every CART carries the signed recovery link and the products with their image and URL', async () => {
      await start();
      const { id } = await abandon();
      const orderUrl = await orderUrlOf();
      expect(orderUrl).toMatch(/^https:\/\/collect\.example\/r\/r\.[A-Za-z0-9_-]{22}\.[0-9a-z]+\.[A-Za-z0-9_-]{22}$/);
      expect(orderUrl).toContain(id);
      expect(orderUrl).not.toMatch(PERSONAL);
      if (route !== 'sandbox') {
        // Name and price from the catalogue (Konnektive's campaign products); the page's image and
        // URL on the funnel's media hosts; the page's own text never.
        expect(sentCart()!.products[0]).toMatchObject({ externalid: '41', name: 'Bottle', price: 3995, imageUrl: bottle.imageUrl, productUrl: bottle.productUrl });
        expect(sentCart()!.products[0]).not.toHaveProperty('sku');
      }
      // Live delivery attempts keep no token.
      const attempts = await collector.store.listAttempts();
      if (route !== 'sandbox') expect(attempts.map((a) => a.request).join('\n')).not.toContain(orderUrl.split('/r/')[1]!);
    });

    it('leads back to the checkout left, the buyer comes back prefilled, pays: the cart is recovered by link', async () => {
      await start();
      const { id, orderUrl } = await abandon();
      const before = await collector.store.getSession(id);
      const eventsBefore = (await collector.store.listEvents(id)).length;

      // The email scanner first: HEAD and GET. Nothing about the session changes.
      expect((await open(orderUrl, 'HEAD')).status).toBe(302);
      const scanned = await open(orderUrl);
      expect(scanned.status).toBe(302);
      expect(await collector.store.getSession(id)).toEqual(before);
      expect(await collector.store.listEvents(id)).toHaveLength(eventsBefore);

      // The person.
      clock.advance(2 * DAY);
      const res = await open(orderUrl);
      expect(res.status).toBe(302);
      expect(res.headers.get('cache-control')).toBe('no-store');
      const location = res.headers.get('location')!;
      // The checkout URL byte for byte, plus the recovery link token in the fragment (no server,
      // access log or third-party script on the lander sees it).
      expect(location).toMatch(new RegExp(`^${CHECKOUT.replace(/[?+.]/g, '\\$&')}#_fb=p\\.${id}\\.[0-9a-z]+\\.[A-Za-z0-9_-]{16}\\.[A-Za-z0-9_-]{22}$`));
      expect(await collector.store.getSession(id)).toEqual(before);

      // The snippet on the checkout, on another device: a new session linked to the abandoned one,
      // never the abandoned session's own token.
      const link = landingToken(location);
      const landed = await visit({ link }, [ev.page('checkout', CHECKOUT)]);
      expect(landed.ids.session).not.toBe(id);
      expect(landed.session).not.toContain(id);
      expect((await collector.store.getSession(landed.ids.session))?.recoversSessionId).toBe(id);
      expect(landed.ids.fields).toEqual(ann);
      expect(landed.ids.cart).toEqual({ items: [bottle], currency: 'USD' });
      expect(landed.prefill).toBe(`${collector.url}/p.js`);
      // Later requests of that page carry no personal data back.
      const later = await visit({ session: landed.session }, [ev.exit('checkout')]);
      expect(later.ids.fields).toBeUndefined();
      expect(later.prefill).toBeUndefined();
      // The landing token is spent: used again (a forwarded URL, a second tab) it is a new visitor.
      const replayed = await visit({ link }, [ev.page('checkout', CHECKOUT)]);
      expect(replayed.linkRefused).toBe(true);
      expect(replayed.ids.fields).toBeUndefined();
      expect(replayed.ids.cart).toBeUndefined();
      // The link again (a forwarded mail): the cart, but the contact fields went to the first landing only.
      const again = await visit({ link: landingToken((await open(orderUrl)).headers.get('location')!) }, [ev.page('checkout', CHECKOUT)]);
      expect(again.ids.cart).toEqual({ items: [bottle], currency: 'USD' });
      expect(again.ids.fields).toBeUndefined();
      expect(JSON.stringify(again)).not.toMatch(PERSONAL);
      // The abandoned session took no write from any landing.
      expect(await collector.store.listEvents(id)).toHaveLength(eventsBefore);

      // Pays.
      const orderId = 'ORD9001';
      if (route !== 'sandbox') crm.completeOrder((await collector.store.getSession(id))!.konnektive.orderId!, { items: [{ productId: '41', name: 'Bottle', qty: 1, price: '39.95' }] });
      const paidOrderId = route === 'sandbox' ? orderId : (await collector.store.getSession(id))!.konnektive.orderId!;
      await visit({ session: landed.session }, [ev.page('thankyou', `${LANDER_ORIGIN}/thanks?orderId=${paidOrderId}`), ev.order(paidOrderId)]);
      await idle(MINUTE);
      expect(await collector.store.getEmission(id, 'order')).toMatchObject({ status: 'sent' });
      if (route === 'konnektive') {
        const order = crm.acRoute.find((call) => call.type === 'ORDER')!;
        expect(order.params.externalcheckoutid).toBe(id);
        expect(JSON.parse(order.params.orderProducts!)[0]).toMatchObject({ externalid: '41', imageUrl: bottle.imageUrl, productUrl: bottle.productUrl });
      } else if (route === 'activecampaign') {
        const order = [...ac.orders.values()].find((each) => each.externalid)!;
        expect(order.externalcheckoutid).toBe(id);
        expect(order.orderProducts[0]).toMatchObject({ imageUrl: bottle.imageUrl, productUrl: bottle.productUrl });
      } else {
        expect(await recorded('order')).toBeDefined();
      }

      const report = await collector.store.funnelReport(0, clock.now() + 1);
      expect(report).toMatchObject({
        cartsAbandoned: 1,
        recoverableRevenue: { USD: 3995 },
        cartsRecovered: 1,
        cartsRecoveredByLink: 1,
        recoveredRevenue: { USD: 3995 },
        recoveredByLinkRevenue: { USD: 3995 },
        orders: 1,
        recoveryClicks: 3,
        recoveryReturns: 1,
        cartsLost: 0,
      });

      // Paid now: the link leads to the done page, and no abandoned-cart email leads into a second purchase.
      const done = await open(orderUrl);
      expect(done.status).toBe(302);
      expect(done.headers.get('location')).toBe('/recovery/done');
      const donePage = await fetch(`${collector.url}/recovery/done`);
      expect(donePage.status).toBe(200);
      const doneText = await donePage.text();
      expect(doneText).toMatch(/complete/i);
      expect(doneText).not.toMatch(PERSONAL);

      const metrics = await (await fetch(`${collector.url}/metrics`)).text();
      expect(metrics).toMatch(/^funnelbeacon_carts_abandoned 1$/m);
      expect(metrics).toMatch(/^funnelbeacon_carts_recovered 1$/m);
      expect(metrics).toMatch(/^funnelbeacon_carts_recovered_by_link 1$/m);
      expect(metrics).toMatch(/^funnelbeacon_recovered_revenue_cents\{currency="USD",by_link="true"\} 3995$/m);
      expect(metrics).toMatch(/^funnelbeacon_recovery_link_clicks_total\{outcome="checkout"\} 3$/m);
      expect(metrics).toMatch(/^funnelbeacon_recovery_link_clicks_total\{outcome="done"\} 1$/m);
    });

    it.runIf(route === 'sandbox')('expired, forged, other-secret, malformed and purged-session tokens lead to the fallback, with no personal data', async () => {
      await start();
      const { id, orderUrl } = await abandon();
      const token = orderUrl.split('/r/')[1]!;
      const [kind, sid, expiry, mac] = token.split('.');
      const tokens = {
        forged: `${kind}.${sid}.${(parseInt(expiry!, 36) + DAY).toString(36)}.${mac}`,
        otherSecret: signRecovery('another-secret-that-is-long-enough-0123', id, clock.now() + DAY),
        malformed: 'not-a-token',
        tooLong: 'r.' + 'x'.repeat(500),
        empty: '',
        trailingSlash: `${token}/`.replace(mac!, mac!.slice(1)),
        nested: `${token}/more`,
        linkToken: `l.${sid}.${expiry}.${mac}`,
        unknownSession: signRecovery(TEST_SECRET, newSessionId(clock.now()), clock.now() + DAY),
      };
      for (const [name, bad] of Object.entries(tokens)) {
        for (const method of ['GET', 'HEAD'] as const) {
          const res = await fetch(`${collector.url}/r/${bad}`, { method, redirect: 'manual' });
          expect(res.status, name).toBe(302);
          expect(res.headers.get('location'), name).toBe('/recovery/expired');
          const text = await res.text();
          expect(text).not.toMatch(PERSONAL);
        }
      }
      // A slash an email client added after a valid link changes nothing.
      expect((await fetch(`${collector.url}/r/${token}/`, { redirect: 'manual' })).headers.get('location')).toContain('_fb=p.');
      expect((await fetch(`${collector.url}/r`, { redirect: 'manual' })).headers.get('location')).toBe('/recovery/expired');
      const page = await fetch(`${collector.url}/recovery/expired`);
      expect(page.status).toBe(200);
      expect(await page.text()).toMatch(/expired/i);

      // The link's lifetime passes.
      clock.advance(7 * DAY + MINUTE);
      expect((await open(orderUrl)).headers.get('location')).toBe('/recovery/expired');
      expect((await collector.store.funnelReport(0, clock.now() + 1)).cartsLost).toBe(1);

      // A valid token whose session was purged since.
      const fresh = signRecovery(TEST_SECRET, id, clock.now() + DAY);
      expect((await fetch(`${collector.url}/r/${fresh}`, { redirect: 'manual' })).headers.get('location')).toContain('_fb=p.');
      const db = new Database(dbPath);
      db.pragma('busy_timeout = 5000');
      db.prepare('DELETE FROM sessions WHERE id = ?').run(id);
      db.close();
      const purged = await fetch(`${collector.url}/r/${fresh}`, { redirect: 'manual' });
      expect(purged.status).toBe(302);
      expect(purged.headers.get('location')).toBe('/recovery/expired');
    });

    it.runIf(route === 'activecampaign')('RECOVERY_DONE_URL and RECOVERY_FALLBACK_URL replace the collector pages; a page on a foreign origin is never a target', async () => {
      await start({ RECOVERY_DONE_URL: 'https://shop.example/thanks', RECOVERY_FALLBACK_URL: 'https://shop.example/' });
      expect((await fetch(`${collector.url}/r/garbage`, { redirect: 'manual' })).headers.get('location')).toBe('https://shop.example/');
      const first = await visit({}, [ev.page('checkout', 'https://evil.example/phish'), ev.lead(ann), ev.cart([{ id: '41', price: 10, qty: 1 }])]);
      const token = signRecovery(TEST_SECRET, first.ids.session, clock.now() + DAY);
      expect((await fetch(`${collector.url}/r/${token}`, { redirect: 'manual' })).headers.get('location')).toBe('https://shop.example/');
      await collector.store.updateSession(first.ids.session, { state: 'complete' });
      expect((await fetch(`${collector.url}/r/${token}`, { redirect: 'manual' })).headers.get('location')).toBe('https://shop.example/thanks');
    });

    it.runIf(route === 'activecampaign')('a cart paid in another session, or an order reported and not yet turned down, leads to the done page and gets no prefill', async () => {
      await start();
      const cases = [
        { state: 'closed' as const },
        { state: 'ordered' as const },
        { state: 'abandoned' as const, claimedOrderId: 'ORD1' },
        { state: 'abandoned' as const, funnelDone: true },
      ];
      for (const patch of cases) {
        const first = await visit({}, [ev.page('checkout', CHECKOUT), ev.lead(ann), { ...ev.cart([]), items: [bottle] }]);
        const token = signRecovery(TEST_SECRET, first.ids.session, clock.now() + DAY);
        const checkout = await fetch(`${collector.url}/r/${token}`, { redirect: 'manual' });
        const location = checkout.headers.get('location')!;
        expect(location, JSON.stringify(patch)).toContain('_fb=p.');
        // Paid meanwhile: the link, and the landing it had already led to, offer nothing to buy again.
        await collector.store.updateSession(first.ids.session, patch);
        expect((await fetch(`${collector.url}/r/${token}`, { redirect: 'manual' })).headers.get('location'), JSON.stringify(patch)).toBe('/recovery/done');
        const landed = await visit({ link: landingToken(location) }, [ev.page('checkout', CHECKOUT)]);
        expect(landed.ids.session).not.toBe(first.ids.session);
        expect(landed.ids.fields, JSON.stringify(patch)).toBeUndefined();
        expect(landed.prefill).toBeUndefined();
      }
    });

    it.runIf(route === 'activecampaign')('a buyer whose reported order Konnektive turned down is led to the checkout, prefilled on the first landing', async () => {
      await start();
      const first = await visit({}, [ev.page('checkout', CHECKOUT), ev.lead(ann), { ...ev.cart([]), items: [bottle] }]);
      const id = first.ids.session;
      clock.advance(MINUTE);
      // As the order check leaves it: the reported order DECLINED, the cart abandoned, its CART sent.
      await collector.store.updateSession(id, {
        state: 'abandoned',
        stateChangedAt: clock.now(),
        claimedOrderId: 'ORD1',
        orderCheck: { orderId: 'ORD1', checkedAt: clock.now(), verified: false, reason: 'status DECLINED' },
      });
      clock.advance(MINUTE);
      const token = signRecovery(TEST_SECRET, id, clock.now() + DAY);
      const location = (await fetch(`${collector.url}/r/${token}`, { redirect: 'manual' })).headers.get('location')!;
      expect(location).toContain('_fb=p.');
      // The landing is activity after the check: it must not make the declined order count as paid.
      const landed = await visit({ link: landingToken(location) }, [ev.page('checkout', CHECKOUT)]);
      expect((await collector.store.getSession(landed.ids.session))?.recoversSessionId).toBe(id);
      expect(landed.prefill).toBeDefined();
      expect(landed.ids.fields).toMatchObject({ emailAddress: ann.emailAddress });
      expect((await fetch(`${collector.url}/r/${token}`, { redirect: 'manual' })).headers.get('location')).toContain('_fb=p.');
      // A new order id reported after the decline counts as paid until checked.
      await collector.store.updateSession(id, { claimedOrderId: 'ORD2' });
      expect((await fetch(`${collector.url}/r/${token}`, { redirect: 'manual' })).headers.get('location')).toBe('/recovery/done');
    });

    it.runIf(route === 'sandbox')('a return through the link that does not pay sends nothing of its own: one CART, and the abandoned cart keeps its course', async () => {
      await start();
      const { id, orderUrl } = await abandon();
      const landed = await visit({ link: landingToken((await open(orderUrl)).headers.get('location')!) }, [ev.page('checkout', CHECKOUT)]);
      // The returning buyer types their details again, then leaves once more.
      await visit({ session: landed.session }, [ev.lead(ann)]);
      await idle(31 * MINUTE);
      const returned = (await collector.store.getSession(landed.ids.session))!;
      expect(returned).toMatchObject({ state: 'expired', recoversSessionId: id });
      expect(await collector.store.listEmissions({ sessionId: landed.ids.session })).toEqual([]);
      expect((await collector.store.listEmissions()).map((each) => [each.sessionId, each.kind])).toEqual([[id, 'cart']]);
      expect((await collector.store.getSession(id))?.state).toBe('abandoned');
    });

    it.runIf(route === 'activecampaign')('a link scanner that runs scripts gets no contact fields, and leaves them for the buyer', async () => {
      await start();
      const { orderUrl } = await abandon();
      const landingOf = async () => landingToken((await open(orderUrl)).headers.get('location')!);
      const scanner = await collector.post(
        { campaign: '12', link: await landingOf(), events: [ev.page('checkout', CHECKOUT)] },
        { userAgent: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36' },
      );
      expect(scanner.status).toBe(200);
      const scanned = (await scanner.json()) as IngestResponse;
      expect(JSON.stringify(scanned)).not.toMatch(PERSONAL);
      expect(scanned.prefill).toBeUndefined();
      const buyer = await visit({ link: await landingOf() }, [ev.page('checkout', CHECKOUT)]);
      expect(buyer.ids.fields).toEqual(ann);
    });

    it.runIf(route === 'activecampaign')('an ordinary link token never gets prefill data; a recovery landing on a purged session starts afresh', async () => {
      await start();
      const first = await visit({}, [ev.page('checkout', CHECKOUT), ev.lead(ann)]);
      const adopted = await visit({ link: first.link }, [ev.page('checkout', CHECKOUT)]);
      expect(adopted.ids.session).toBe(first.ids.session);
      expect(adopted.ids.fields).toBeUndefined();
      expect(adopted.ids.cart).toBeUndefined();
      expect(adopted.prefill).toBeUndefined();
    });
  });
}

describe('product fields at the edge', () => {
  let collector: TestCollector;
  afterEach(() => collector?.close());

  it('refuses javascript:, relative, spaced and over-long URLs and over-long fields with a 400 that stores nothing', async () => {
    collector = await startTestCollector(testEnv({ SECRET: TEST_SECRET, ALLOWED_ORIGINS: LANDER_ORIGIN }));
    const item = { id: '41', name: 'Bottle', price: 1, qty: 1 };
    const bad = [
      { imageUrl: 'javascript:alert(1)' },
      { productUrl: '/bottle' },
      { imageUrl: '//cdn.example/b.png' },
      { imageUrl: 'https://cdn.example/a b.png' },
      { productUrl: `https://offer.example/${'a'.repeat(2100)}` },
      { imageUrl: 'data:image/png;base64,AAAA' },
      { sku: 'x'.repeat(101) },
      { description: 'x'.repeat(1001) },
      { category: 7 },
    ];
    for (const fields of bad) {
      const res = await collector.post({ events: [ev.page('checkout', CHECKOUT), { ...ev.cart([]), items: [{ ...item, ...fields }] }] });
      expect(res.status, JSON.stringify(fields).slice(0, 60)).toBe(400);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('invalid_events');
    }
    expect(await collector.store.countSessions()).toBe(0);
    const ok = await collector.post({ events: [ev.page('checkout', CHECKOUT), { ...ev.cart([]), items: [{ ...item, ...bottle }] }] });
    expect(ok.status).toBe(200);
    const { ids } = (await ok.json()) as IngestResponse;
    expect((await collector.store.getSession(ids.session))!.cart!.items[0]).toEqual(bottle);
  });
});

describe('GET /r/ when the store fails', () => {
  it('still answers the fallback redirect, never a 5xx', async () => {
    const { recoveryRoute } = await import('../routes/recovery-route.js');
    const { createMetrics } = await import('../metrics.js');
    const { createLogger } = await import('../logger.js');
    const { parseConfig } = await import('../config.js');
    const parsed = parseConfig({ SECRET: TEST_SECRET });
    if (!parsed.ok) throw new Error(parsed.problems.join('; '));
    const broken = new Proxy({} as import('../store/store.js').Store, {
      get: () => () => Promise.reject(new Error('database is down')),
    });
    const app = recoveryRoute({ config: parsed.config, secret: TEST_SECRET, store: broken, metrics: createMetrics(broken, { defaults: false }), logger: createLogger('silent') });
    const token = signRecovery(TEST_SECRET, newSessionId(Date.now()), Date.now() + DAY);
    for (const method of ['GET', 'HEAD']) {
      const res = await app.request(`/r/${token}`, { method });
      expect(res.status).toBe(302);
      expect(res.headers.get('location')).toBe('/recovery/expired');
    }
  });
});
