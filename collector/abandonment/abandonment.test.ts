/**
 * Abandoned carts and orders, end to end through the real collector (store, ingest, sweeper,
 * outbox, emission routes) against the strict Konnektive and ActiveCampaign doubles, on a
 * virtual clock: half an hour of idle time passes in one line, and the rate gate's waits cost
 * nothing.
 */
import { describe, expect, it } from 'vitest';
import { createEmitter } from '../emit/create-emitter.js';
import type { EmissionMessage } from '../emit/emission.js';
import { konnektiveClient } from '../konnektive/konnektive-client.js';
import { DEFAULT_BACKOFF } from '../outbox/backoff.js';
import type { IngestResponse } from '../wire-schema.js';
import type { ActiveCampaignDouble } from '../../test/doubles/activecampaign-double.js';
import type { KonnektiveDouble } from '../../test/doubles/konnektive-double.js';
import { ev, eventually, idleFor, settleJobs, startTestCollector, type TestCollector } from '../../test/support/test-collector.js';
import { emissionEnv, withUpstreamDoubles } from '../../test/support/upstream-doubles.js';
import type { VirtualClock } from '../../test/support/virtual-clock.js';
import type { CollectorOptions } from '../server.js';

const MINUTE = 60_000;
const LANDING = 'https://offer.example/presell?affId=AFF7&utm_source=fb';
const ann = { firstName: 'Ann', lastName: 'Lee', emailAddress: 'ann@example.com' };
const bottle = { id: '41', name: 'Bottle', price: 39.95, qty: 1 };

interface SentCart {
  cartId: string;
  email: string;
  totalCents: number;
  abandonedDate: string;
}
interface SentOrder {
  cartId: string | undefined;
  orderId: string;
  totalCents: number;
  products: { id: string; priceCents: number; quantity: number }[];
}

for (const route of ['activecampaign', 'konnektive'] as const) {
  describe(`abandoned carts and orders via EMIT_VIA=${route}`, () => {
    let clock: VirtualClock;
    let crm: KonnektiveDouble;
    let ac: ActiveCampaignDouble;
    let collector: TestCollector;

    withUpstreamDoubles(
      (doubles) => ({ clock, crm, ac } = doubles),
      () => collector,
    );

    async function start(options: CollectorOptions = {}) {
      collector = await startTestCollector(emissionEnv({ crm, ac }, route), { clock, fetch: clock.fetch, runSweeper: false, ...options });
    }

    async function visit(session: string | undefined, events: unknown[]): Promise<IngestResponse> {
      const res = await collector.post({ ...(session ? { session } : {}), campaign: '12', events });
      expect(res.status).toBe(200);
      return (await res.json()) as IngestResponse;
    }

    const settle = () => settleJobs(collector, clock);
    const idle = (ms: number) => idleFor(collector, clock, ms);

    /** Buyer reaches checkout with a lead and a one-bottle cart; the CRM holds the partial. */
    async function reachCheckout(): Promise<{ session: string; id: string; orderId: string }> {
      const first = await visit(undefined, [ev.page('presell', LANDING)]);
      await visit(first.session, [ev.page('lead', 'https://offer.example/lead'), ev.lead(ann)]);
      await visit(first.session, [ev.page('checkout', 'https://secure.example/checkout'), ev.cart([bottle])]);
      await settle();
      const orderId = (await collector.store.getSession(first.ids.session))!.konnektive.orderId!;
      expect(crm.leads.get(orderId)?.status).toBe('PARTIAL');
      return { session: first.session, id: first.ids.session, orderId };
    }

    function sentCarts(): SentCart[] {
      if (route === 'konnektive') {
        return crm.acRoute
          .filter((call) => call.type === 'CART')
          .map((call) => ({ cartId: call.params.externalcheckoutid!, email: call.params.email!, totalCents: Number(call.params.totalPrice), abandonedDate: call.params.abandonedDate! }));
      }
      return [...ac.orders.values()]
        .filter((order) => order.history[0]?.body.abandonedDate !== undefined)
        .map((order) => ({
          cartId: order.externalcheckoutid!,
          email: order.email,
          totalCents: Number(order.history[0]!.body.totalPrice),
          abandonedDate: String(order.history[0]!.body.abandonedDate),
        }));
    }

    function sentOrders(): SentOrder[] {
      if (route === 'konnektive') {
        return crm.acRoute
          .filter((call) => call.type === 'ORDER')
          .map((call) => ({
            cartId: call.params.externalcheckoutid,
            orderId: call.params.externalid!,
            totalCents: Number(call.params.totalPrice),
            products: (JSON.parse(call.params.orderProducts ?? '[]') as { externalid: string; price: number; quantity: number }[]).map((p) => ({
              id: p.externalid,
              priceCents: p.price,
              quantity: p.quantity,
            })),
          }));
      }
      return [...ac.orders.values()]
        .filter((order) => order.externalid)
        .map((order) => ({
          cartId: order.externalcheckoutid ?? undefined,
          orderId: order.externalid!,
          totalCents: order.totalPrice,
          products: order.orderProducts.map((p) => ({ id: p.externalid, priceCents: p.price, quantity: p.quantity })),
        }));
    }

    /**
     * An ORDER with no CART before it: ActiveCampaign wants `abandonedDate` with every
     * `externalcheckoutid`, so the direct route leaves the cart id out; Konnektive's route sends it.
     */
    const noCartId = (id: string) => (route === 'konnektive' ? id : undefined);

    const sentCustomers = (): string[] =>
      route === 'konnektive' ? crm.acRoute.filter((call) => call.type === 'CUSTOMER').map((call) => call.params.email!) : [...ac.customers.values()].map((c) => c.email);

    it("the sweeper's schedule runs on the collector's clock: idle time alone sends the CART", async () => {
      await start({ runSweeper: true });
      const { id } = await reachCheckout();
      // Only virtual time passes, one SWEEP_EVERY (30 s) at a time: no test calls sweepOnce.
      clock.advance(29 * MINUTE);
      await settle();
      expect(sentCarts()).toEqual([]);
      const sent = await eventually(
        async () => {
          clock.advance(30_000);
          await settle();
          return sentCarts().length > 0 ? sentCarts() : undefined;
        },
        { timeoutMs: 4_000, everyMs: 20 },
      );
      expect(sent.map((cart) => cart.cartId)).toEqual([id]);
      expect(clock.now() - (await collector.store.getSession(id))!.lastSeenAt).toBeLessThan(33 * MINUTE);
    });

    it('abandoned at checkout: exactly one CART, only after ABANDON_AFTER', async () => {
      await start();
      const { id } = await reachCheckout();
      const lastSeen = clock.now();
      await idle(29 * MINUTE);
      expect(sentCarts()).toEqual([]);
      await idle(2 * MINUTE);
      expect(sentCarts()).toEqual([{ cartId: id, email: 'ann@example.com', totalCents: 3995, abandonedDate: new Date(lastSeen).toISOString().replace(/\.\d{3}Z$/, '+00:00') }]);
      await idle(60 * MINUTE);
      expect(sentCarts()).toHaveLength(1);
      expect(sentOrders()).toEqual([]);
      expect(await collector.store.getSession(id)).toMatchObject({ state: 'abandoned' });
      if (route === 'activecampaign') expect([...ac.orders.values()][0]!.state).toBe(2);
    });

    const paid = { items: [{ productId: '41', name: 'Bottle', qty: 1, price: '39.95' }] };
    const queryOrders = () => crm.calls.filter((call) => call.path === '/order/query/').length;

    it('after a CART, Konnektive is asked again 1 h, 6 h, 24 h and 72 h later, then no more', async () => {
      await start();
      const { id } = await reachCheckout();
      await idle(31 * MINUTE);
      expect(sentCarts()).toHaveLength(1);
      const cartAt = (await collector.store.getSession(id))!.stateChangedAt;
      const asked: number[] = [];
      for (const hours of [1, 6, 24, 72, 200]) {
        const before = queryOrders();
        clock.advance(cartAt + hours * 60 * MINUTE - clock.now() - 1);
        await idle(0);
        const early = queryOrders() - before;
        await idle(1);
        asked.push(early, queryOrders() - before);
      }
      // Not a millisecond early; at each point, by order id and by email; nothing after 72 h.
      expect(asked).toEqual([0, 2, 0, 2, 0, 2, 0, 2, 0, 0]);
      expect(await collector.store.getSession(id)).toMatchObject({ state: 'abandoned' });
    });

    it('a second partial never hides a paid first one: the recheck also asks by email, and the buyer gets the ORDER', async () => {
      await start();
      const { id, orderId: first } = await reachCheckout();
      crm.completeOrder(first, paid);
      // The session ends up holding a second, unpaid partial of the same buyer (as a crash could leave it).
      const created = await fetch(new URL('/leads/import/', crm.url), {
        method: 'POST',
        body: new URLSearchParams({ loginId: 'fb-login', password: 'fb-password', campaignId: '12', ...ann, ipAddress: '127.0.0.1' }),
      });
      const second = ((await created.json()) as { message: { orderId: string } }).message.orderId;
      await collector.store.updateSession(id, { konnektive: { orderId: second } });
      await idle(31 * MINUTE);
      expect(sentCarts()).toEqual([]);
      expect(sentOrders().map((order) => order.orderId)).toEqual([first]);
    });

    it('a buyer who pays the abandoned partial later, without coming back, gets the ORDER that recovers the cart', async () => {
      await start();
      const { id, orderId } = await reachCheckout();
      await idle(31 * MINUTE);
      expect(sentCarts()).toHaveLength(1);
      crm.completeOrder(orderId, paid);
      await idle(30 * MINUTE);
      expect(sentOrders()).toEqual([]);
      await idle(31 * MINUTE);
      expect(sentOrders()).toEqual([{ cartId: id, orderId, totalCents: 3995, products: [{ id: '41', priceCents: 3995, quantity: 1 }] }]);
      expect(await collector.store.getSession(id)).toMatchObject({ state: 'complete' });
      if (route === 'activecampaign') expect([...ac.orders.values()].map((order) => order.state)).toEqual([3]);
    });

    it('a buyer who pays some other way (a phone order) has the cart closed, and no revenue counted for it', async () => {
      await start();
      const { id } = await reachCheckout();
      await idle(31 * MINUTE);
      expect(sentCarts()).toHaveLength(1);
      crm.createCompletedOrder({ email: 'ANN@example.com', campaignId: '12', ...paid });
      await idle(61 * MINUTE);
      expect(await collector.store.getSession(id)).toMatchObject({ state: 'closed' });
      expect(sentOrders()).toEqual([]);
      if (route === 'activecampaign') {
        // The abandoned cart is gone from ActiveCampaign: its automation has nothing left to send.
        expect([...ac.orders.values()]).toEqual([]);
        expect(ac.requests.filter((request) => request.method === 'DELETE').map((request) => request.status)).toEqual([200]);
      } else {
        // Konnektive's ActiveCampaign route has no call that closes a cart (docs/limits.md).
        expect(crm.acRoute.map((call) => call.type).filter((type) => type !== 'CUSTOMER')).toEqual(['CART']);
      }
      await idle(7 * 24 * 60 * MINUTE);
      expect(await collector.store.getSession(id)).toMatchObject({ state: 'closed' });
    });

    it('an ORDER in a new session closes every open cart of the same email, and counts its revenue once', async () => {
      await start();
      const earlier = await reachCheckout();
      await idle(31 * MINUTE);
      const later = await reachCheckout();
      crm.completeOrder(later.orderId, paid);
      await visit(later.session, [ev.page('thankyou', 'https://secure.example/thanks'), ev.order(later.orderId)]);
      await idle(0);
      await settle();
      expect(sentOrders()).toEqual([{ cartId: noCartId(later.id), orderId: later.orderId, totalCents: 3995, products: [{ id: '41', priceCents: 3995, quantity: 1 }] }]);
      expect(await collector.store.getSession(earlier.id)).toMatchObject({ state: 'closed' });
      if (route === 'activecampaign') expect([...ac.orders.values()].map((order) => order.externalcheckoutid ?? null)).toEqual([null]);
    });

    it('a checkout tab left open (the snippet only renewing its link token) is abandoned all the same', async () => {
      await start();
      const { session, id } = await reachCheckout();
      for (let minute = 0; minute < 31; minute += 8) {
        clock.advance(8 * MINUTE);
        const renewal = await collector.post({ session, events: [] });
        expect(renewal.status).toBe(200);
      }
      await idle(0);
      expect(sentCarts().map((cart) => cart.cartId)).toEqual([id]);
    });

    it('a buyer who comes back while the purchase recheck waits for Konnektive gets no CART then', async () => {
      await start();
      const { session, id } = await reachCheckout();
      crm.fail('http500');
      await idle(31 * MINUTE);
      expect(sentCarts()).toEqual([]);
      await visit(session, [ev.page('checkout', 'https://secure.example/checkout'), ev.lead({ phoneNumber: '5550101234' })]);
      crm.recover();
      await idle(MINUTE);
      expect(sentCarts()).toEqual([]);
      expect(await collector.store.getSession(id)).toMatchObject({ state: 'open' });
      await idle(31 * MINUTE);
      expect(sentCarts().map((cart) => cart.cartId)).toEqual([id]);
    });

    it.runIf(route === 'activecampaign')('a CART still waiting for ActiveCampaign when the buyer pays is cancelled: only the ORDER goes', async () => {
      await start();
      const { session, id, orderId } = await reachCheckout();
      ac.fail('down');
      await idle(31 * MINUTE);
      expect(await collector.store.getEmission(id, 'cart')).toMatchObject({ status: 'sending' });
      crm.completeOrder(orderId, { items: [{ productId: '41', name: 'Bottle', qty: 1, price: '39.95' }] });
      await visit(session, [ev.page('thankyou', 'https://secure.example/thanks'), ev.order(orderId)]);
      ac.recover();
      await idle(MINUTE);
      await idle(MINUTE);
      expect(sentOrders().map((order) => order.orderId)).toEqual([orderId]);
      expect(sentCarts()).toEqual([]);
    });

    it.runIf(route === 'activecampaign')('a CART held back for a reported order that does not verify goes out after all', async () => {
      await start();
      const { session, id } = await reachCheckout();
      ac.fail('down');
      await idle(31 * MINUTE);
      await visit(session, [ev.page('thankyou', 'https://secure.example/thanks'), ev.order('DECLINED1')]);
      ac.recover();
      await idle(MINUTE);
      expect(await collector.store.getEmission(id, 'cart')).toMatchObject({ status: 'cancelled' });
      expect((await collector.store.getSession(id))?.orderCheck).toMatchObject({ orderId: 'DECLINED1', verified: false });
      await idle(31 * MINUTE);
      expect(sentCarts().map((cart) => cart.cartId)).toEqual([id]);
      expect(sentOrders()).toEqual([]);
    });

    it.runIf(route === 'activecampaign')('a refused API key pauses emissions for a while, then they resume by themselves', async () => {
      await start();
      const { id } = await reachCheckout();
      ac.setApiKey('rotated-key');
      await idle(31 * MINUTE);
      expect(collector.health.get('activecampaign')).toMatchObject({ state: 'paused' });
      expect(await collector.store.getEmission(id, 'cart')).toMatchObject({ status: 'sending' });
      ac.setApiKey('ac-test-key');
      await idle(5 * MINUTE);
      expect(collector.health.get('activecampaign').state).toBe('ok');
      expect(sentCarts().map((cart) => cart.cartId)).toEqual([id]);
    });

    it('paid without reaching the thank-you page: the recheck finds the order, so an ORDER and no CART', async () => {
      await start();
      const { id, orderId } = await reachCheckout();
      crm.completeOrder(orderId, { items: [{ productId: '41', name: 'Bottle', qty: 1, price: '39.95' }] });
      await idle(31 * MINUTE);
      expect(sentCarts()).toEqual([]);
      expect(sentOrders()).toEqual([{ cartId: noCartId(id), orderId, totalCents: 3995, products: [{ id: '41', priceCents: 3995, quantity: 1 }] }]);
      expect(await collector.store.getSession(id)).toMatchObject({ state: 'complete' });
    });

    it('abandoned, then back and paid: a CART, then an ORDER that recovers it', async () => {
      await start();
      const { session, id, orderId } = await reachCheckout();
      await idle(31 * MINUTE);
      expect(sentCarts()).toHaveLength(1);
      crm.completeOrder(orderId, { items: [{ productId: '41', name: 'Bottle', qty: 1, price: '39.95' }] });
      await visit(session, [ev.page('thankyou', `https://secure.example/thanks?orderId=${orderId}`), ev.order(orderId)]);
      await idle(0);
      expect(sentCarts()).toHaveLength(1);
      expect(sentOrders()).toEqual([{ cartId: id, orderId, totalCents: 3995, products: [{ id: '41', priceCents: 3995, quantity: 1 }] }]);
      if (route === 'activecampaign') {
        expect(ac.orders.size).toBe(1);
        const [record] = [...ac.orders.values()];
        expect(record).toMatchObject({ externalcheckoutid: id, externalid: orderId, state: 3 });
      }
      expect((await collector.store.listStateChanges(id)).map((change) => change.state)).toEqual(['open', 'abandoned', 'ordered', 'complete']);
    });

    it('an upsell accepted: one ORDER with both items, sent at the thank-you page', async () => {
      await start();
      const { session, id, orderId } = await reachCheckout();
      crm.completeOrder(orderId, { items: [{ productId: '41', name: 'Bottle', qty: 1, price: '39.95' }] });
      await visit(session, [ev.page('upsell1', `https://secure.example/upsell1?orderId=${orderId}`), ev.order(orderId)]);
      crm.addUpsell(orderId, { productId: '77', name: 'Refill', qty: 2, price: '10.00' });
      await visit(session, [ev.page('thankyou', 'https://secure.example/thanks')]);
      await idle(0);
      expect(sentOrders()).toEqual([
        { cartId: noCartId(id), orderId, totalCents: 5995, products: [{ id: '41', priceCents: 3995, quantity: 1 }, { id: '77', priceCents: 1000, quantity: 2 }] },
      ]);
      expect(sentCarts()).toEqual([]);
    });

    it('an upsell declined: the ORDER goes when the upsell window closes', async () => {
      await start();
      const { session, orderId } = await reachCheckout();
      crm.completeOrder(orderId, { items: [{ productId: '41', name: 'Bottle', qty: 1, price: '39.95' }] });
      await visit(session, [ev.page('upsell1', `https://secure.example/upsell1?orderId=${orderId}`), ev.order(orderId)]);
      await idle(14 * MINUTE);
      expect(sentOrders()).toEqual([]);
      await idle(2 * MINUTE);
      expect(sentOrders().map((order) => order.totalCents)).toEqual([3995]);
      const changes = await collector.store.listStateChanges((await collector.store.listEmissions())[0]!.sessionId);
      expect(changes.map((change) => change.state)).toEqual(['open', 'ordered', 'complete']);
      expect(changes[2]!.at - changes[1]!.at).toBeGreaterThanOrEqual(15 * MINUTE);
      await idle(60 * MINUTE);
      expect(sentOrders()).toHaveLength(1);
      expect(sentCarts()).toEqual([]);
    });

    it('an order id that does not verify is recorded and not emitted; prices never come from the page', async () => {
      await start();
      const { session, id } = await reachCheckout();
      await visit(session, [ev.page('thankyou', 'https://secure.example/thanks'), ev.order('FORGED123')]);
      await idle(0);
      expect(sentOrders()).toEqual([]);
      expect((await collector.store.getSession(id))?.orderCheck).toMatchObject({ orderId: 'FORGED123', verified: false });
    });

    it('a lead with no products: a CUSTOMER only', async () => {
      await start();
      const first = await visit(undefined, [ev.page('lead', LANDING), ev.lead(ann)]);
      await settle();
      await idle(31 * MINUTE);
      expect(sentCustomers()).toEqual(['ann@example.com']);
      expect(sentCarts()).toEqual([]);
      expect(sentOrders()).toEqual([]);
      expect(await collector.store.getSession(first.ids.session)).toMatchObject({ state: 'expired' });
    });

    it('a visitor without an email: nothing is sent', async () => {
      await start();
      const first = await visit(undefined, [ev.page('checkout', LANDING), ev.cart([bottle])]);
      await idle(31 * MINUTE);
      expect([sentCarts(), sentOrders(), sentCustomers()]).toEqual([[], [], []]);
      expect(await collector.store.getSession(first.ids.session)).toMatchObject({ state: 'expired' });
    });

    it('200 carts due at once arrive within the rate limit, with no 429', async () => {
      await start();
      for (let i = 0; i < 200; i++) {
        await visit(undefined, [ev.page('checkout', LANDING), ev.lead({ ...ann, emailAddress: `buyer${i}@example.com` }), ev.cart([bottle])]);
      }
      await settle();
      await idle(31 * MINUTE);
      expect(sentCarts()).toHaveLength(200);
      expect(new Set(sentCarts().map((cart) => cart.cartId)).size).toBe(200);
      if (route === 'activecampaign') {
        expect(ac.stats.rateLimited).toBe(0);
        expect(ac.maxRequestsInAnyWindow()).toBeLessThanOrEqual(5);
      }
    }, 60_000);

    it('the process dies between sending a CART and recording it: after the restart nothing is sent twice', async () => {
      await start();
      const { id } = await reachCheckout();
      await collector.worker.stop();
      clock.advance(31 * MINUTE);
      await collector.sweeper.sweepOnce();
      await collector.worker.runOnce();
      const queued = await collector.store.getEmission(id, 'cart');
      expect(queued?.status).toBe('queued');

      // What the dying process did: marked the emission `sending`, and the CART reached the upstream.
      await collector.store.updateEmission(id, 'cart', { status: 'sending', now: clock.now() });
      const konnektive = konnektiveClient({ ...collector.config.konnektive! });
      const emitter = createEmitter({ config: collector.config, konnektive, store: collector.store, clock, fetch: clock.fetch });
      expect(await emitter.emit(queued!.payload as unknown as EmissionMessage, { mayAlreadyExist: false, record: () => {} })).toMatchObject({ ok: true });
      expect(sentCarts()).toHaveLength(1);

      collector.worker.start();
      await settle();
      expect(sentCarts()).toHaveLength(1);
      expect(await collector.store.getEmission(id, 'cart')).toMatchObject({ status: 'sent' });
      if (route === 'activecampaign') {
        expect(ac.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/ecomOrders'))).toHaveLength(1);
      }
    });

    it('upstream down for ten minutes: everything arrives afterwards, nothing twice', async () => {
      await start({ worker: { backoff: DEFAULT_BACKOFF } });
      const sessions = [await reachCheckout(), await reachCheckout(), await reachCheckout()];
      if (route === 'activecampaign') ac.fail('down');
      else crm.fail('http500');
      await idle(31 * MINUTE);
      for (let minute = 0; minute < 10; minute++) await idle(MINUTE);
      expect(sentCarts()).toEqual([]);
      if (route === 'activecampaign') ac.recover();
      else crm.recover();
      await idle(DEFAULT_BACKOFF.capMs);
      expect(sentCarts().map((cart) => cart.cartId).sort()).toEqual(sessions.map((s) => s.id).sort());
      expect((await collector.store.countJobsByState()).dead).toBe(0);
    }, 60_000);
  });
}
