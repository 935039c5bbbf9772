/**
 * The purchase checks against Konnektive decide which orders belong to a session: through the
 * real collector against the strict Konnektive and ActiveCampaign doubles, on a virtual clock.
 * - an order created before the session (or, after a CART, before the CART), or one another
 *   session holds, is never taken for this session's purchase, whatever the account's time zone;
 * - a buyer who came back to an abandoned cart and left again is asked about once, then on the
 *   post-CART schedule, not on every sweep;
 * - an ORDER closes the same buyer's carts that have no CART yet, on every route.
 */
import { describe, expect, it } from 'vitest';
import type { IngestResponse } from '../wire-schema.js';
import type { ActiveCampaignDouble } from '../../test/doubles/activecampaign-double.js';
import type { KonnektiveDouble } from '../../test/doubles/konnektive-double.js';
import { ev, idleFor, settleJobs, startTestCollector, type TestCollector } from '../../test/support/test-collector.js';
import { emissionEnv, withUpstreamDoubles } from '../../test/support/upstream-doubles.js';
import type { VirtualClock } from '../../test/support/virtual-clock.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const LANDING = 'https://offer.example/presell?affId=AFF7';
const ann = { firstName: 'Ann', lastName: 'Lee', emailAddress: 'ann@example.com' };
const bottle = { id: '41', name: 'Bottle', price: 39.95, qty: 1 };
const paid = { items: [{ productId: '41', name: 'Bottle', qty: 1, price: '39.95' }] };
const DEVICE_1 = '203.0.113.7';
const DEVICE_2 = '198.51.100.23';

for (const route of ['activecampaign', 'konnektive'] as const) {
  describe(`purchase checks via EMIT_VIA=${route}`, () => {
    let clock: VirtualClock;
    let crm: KonnektiveDouble;
    let ac: ActiveCampaignDouble;
    let collector: TestCollector;

    withUpstreamDoubles(
      (doubles) => ({ clock, crm, ac } = doubles),
      () => collector,
    );

    async function start() {
      collector = await startTestCollector(emissionEnv({ crm, ac }, route, { TRUST_PROXY: 'on' }), { clock, fetch: clock.fetch, runSweeper: false });
    }

    async function visit(session: string | undefined, ip: string, events: unknown[]): Promise<IngestResponse> {
      const res = await collector.post({ ...(session ? { session } : {}), campaign: '12', events }, { headers: { 'x-forwarded-for': ip } });
      expect(res.status).toBe(200);
      return (await res.json()) as IngestResponse;
    }

    const settle = () => settleJobs(collector, clock);
    const idle = (ms: number) => idleFor(collector, clock, ms);

    /** A buyer on `ip` reaches checkout with a lead and a one-bottle cart; the CRM holds the partial. */
    async function reachCheckout(ip = DEVICE_1): Promise<{ session: string; id: string; orderId: string }> {
      const first = await visit(undefined, ip, [ev.page('presell', LANDING)]);
      await visit(first.session, ip, [ev.page('lead', 'https://offer.example/lead'), ev.lead(ann)]);
      await visit(first.session, ip, [ev.page('checkout', 'https://secure.example/checkout'), ev.cart([bottle])]);
      await settle();
      const orderId = (await collector.store.getSession(first.ids.session))!.konnektive.orderId!;
      expect(crm.leads.get(orderId)?.status).toBe('PARTIAL');
      return { session: first.session, id: first.ids.session, orderId };
    }

    async function payAtThankYou(checkout: { session: string; orderId: string }, ip = DEVICE_1): Promise<void> {
      crm.completeOrder(checkout.orderId, paid);
      await visit(checkout.session, ip, [ev.page('thankyou', 'https://secure.example/thanks'), ev.order(checkout.orderId)]);
      await idle(0);
    }

    const sentCarts = (): string[] =>
      route === 'konnektive'
        ? crm.acRoute.filter((call) => call.type === 'CART').map((call) => call.params.externalcheckoutid!)
        : [...ac.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/ecomOrders') && r.status < 300)]
            .map((r) => (r.body as { ecomOrder?: { externalcheckoutid?: string; abandonedDate?: string } }).ecomOrder)
            .filter((order) => order?.abandonedDate !== undefined)
            .map((order) => order!.externalcheckoutid!);
    const sentOrders = (): string[] =>
      route === 'konnektive'
        ? crm.acRoute.filter((call) => call.type === 'ORDER').map((call) => call.params.externalid!)
        : [...ac.orders.values()].filter((order) => order.externalid).map((order) => order.externalid!);
    const queryOrders = () => crm.calls.filter((call) => call.path === '/order/query/').length;
    const stateOf = async (id: string) => (await collector.store.getSession(id))!.state;

    // The account's time zone: UTC, India (UTC+5:30), US Pacific (UTC-7).
    for (const offsetMinutes of [0, 330, -420]) {
      describe(`account time zone UTC${offsetMinutes >= 0 ? '+' : ''}${offsetMinutes / 60}`, () => {
        it("a buyer who paid in one session and abandons another 3 h later from the same IP gets that session's CART, and no second ORDER", async () => {
          crm.setUtcOffset(offsetMinutes);
          await start();
          const a = await reachCheckout();
          await payAtThankYou(a);
          expect(sentOrders()).toEqual([a.orderId]);
          clock.advance(3 * HOUR);
          const b = await reachCheckout();
          await idle(31 * MINUTE);
          expect(await stateOf(b.id)).toBe('abandoned');
          expect(sentCarts()).toEqual([b.id]);
          expect(sentOrders()).toEqual([a.orderId]);
          // Nor do the rechecks after the CART take A's order for a payment of B's cart.
          await idle(HOUR);
          expect(await stateOf(b.id)).toBe('abandoned');
        });

        it('an order placed 3 h before the session (by phone) neither stops its CART nor closes it afterwards', async () => {
          crm.setUtcOffset(offsetMinutes);
          await start();
          const phone = crm.createCompletedOrder({ email: 'ann@example.com', campaignId: '12', ...paid });
          clock.advance(3 * HOUR);
          const b = await reachCheckout();
          await idle(31 * MINUTE);
          expect(sentCarts()).toEqual([b.id]);
          for (const hours of [1, 6, 24]) {
            await idle(hours * HOUR);
            expect(await stateOf(b.id)).toBe('abandoned');
          }
          expect((await collector.store.getSession(b.id))!.orderCheck?.reason).not.toContain(phone.orderId);
          expect(sentOrders()).toEqual([]);
        });

        it('an order by phone after the CART still closes the cart', async () => {
          crm.setUtcOffset(offsetMinutes);
          await start();
          const b = await reachCheckout();
          await idle(31 * MINUTE);
          expect(sentCarts()).toEqual([b.id]);
          clock.advance(10 * MINUTE);
          crm.createCompletedOrder({ email: 'ann@example.com', campaignId: '12', ...paid });
          await idle(HOUR);
          expect(await stateOf(b.id)).toBe('closed');
          expect(sentOrders()).toEqual([]);
        });
      });
    }

    it("after a crash, Import Lead never adopts another session's partial of the same buyer", async () => {
      await start();
      const a = await reachCheckout();
      await collector.worker.stop();
      const b = await visit(undefined, DEVICE_1, [ev.page('lead', LANDING), ev.lead(ann)]);
      // B's Import Lead that creates its partial was started, and its answer never stored.
      await collector.store.updateSession(b.ids.session, { konnektive: { leadCreateStartedAt: clock.now() } });
      collector.worker.start();
      await settle();
      const ownPartial = (await collector.store.getSession(b.ids.session))!.konnektive.orderId;
      expect(ownPartial).toBeDefined();
      expect(ownPartial).not.toBe(a.orderId);
      expect(crm.leads.get(ownPartial!)?.status).toBe('PARTIAL');
    });

    it('a buyer who comes back to an abandoned cart and leaves again is asked about once, then on the 1/6/24/72 h schedule', async () => {
      await start();
      const { session, id } = await reachCheckout();
      await idle(31 * MINUTE);
      expect(sentCarts()).toEqual([id]);
      const cartAt = (await collector.store.getSession(id))!.stateChangedAt;
      await idle(9 * MINUTE);
      await visit(session, DEVICE_1, [ev.page('checkout', 'https://secure.example/checkout')]);
      const returnedAt = clock.now();
      const asked: { at: number; calls: number }[] = [];
      let before = queryOrders();
      // Five-minute sweeps for four hours, then hourly ones up to 80 hours after the CART.
      while (clock.now() < cartAt + 80 * HOUR) {
        await idle(clock.now() < cartAt + 4 * HOUR ? 5 * MINUTE : HOUR);
        const calls = queryOrders() - before;
        before = queryOrders();
        if (calls > 0) asked.push({ at: clock.now(), calls });
      }
      const due = [returnedAt + 30 * MINUTE, cartAt + HOUR, cartAt + 6 * HOUR, cartAt + 24 * HOUR, cartAt + 72 * HOUR];
      expect(asked.map((ask) => ask.calls)).toEqual([2, 2, 2, 2, 2]);
      // Each at the first sweep at or after its due time.
      asked.forEach((ask, i) => expect(ask.at).toBeGreaterThanOrEqual(due[i]!));
      expect((await collector.store.getSession(id))!.dueAt).toBeUndefined();
      expect(await stateOf(id)).toBe('abandoned');
    }, 60_000);

    it('a cart left open on one device, then paid on another in a new session: no CART, the ORDER once', async () => {
      await start();
      const left = await reachCheckout(DEVICE_1);
      clock.advance(10 * MINUTE);
      const paidOn2 = await reachCheckout(DEVICE_2);
      await payAtThankYou(paidOn2, DEVICE_2);
      expect(sentOrders()).toEqual([paidOn2.orderId]);
      expect(await stateOf(left.id)).toBe('closed');
      for (let i = 0; i < 4; i++) await idle(31 * MINUTE);
      expect(sentCarts()).toEqual([]);
      expect(sentOrders()).toEqual([paidOn2.orderId]);
      expect(await stateOf(left.id)).toBe('closed');
    });

    it('a cart the same buyer begins after paying, while the ORDER still waits, keeps its own course: its CART goes out', async () => {
      await start();
      const paid1 = await reachCheckout(DEVICE_1);
      crm.completeOrder(paid1.orderId, paid);
      // An upsell page: the ORDER waits for the upsell window.
      await visit(paid1.session, DEVICE_1, [ev.page('upsell1', 'https://secure.example/upsell1'), ev.order(paid1.orderId)]);
      clock.advance(5 * MINUTE);
      // A second purchase, begun once the first was over, then left.
      const second = await reachCheckout(DEVICE_2);
      await idle(11 * MINUTE);
      expect(sentOrders()).toEqual([paid1.orderId]);
      expect(await stateOf(second.id)).toBe('open');
      for (let i = 0; i < 2; i++) await idle(31 * MINUTE);
      expect(sentCarts()).toEqual([second.id]);
    });

    it("a cart left open on one device, and its recheck comes before the other device's ORDER: no CART, the ORDER once", async () => {
      await start();
      const left = await reachCheckout(DEVICE_1);
      clock.advance(20 * MINUTE);
      const paidOn2 = await reachCheckout(DEVICE_2);
      crm.completeOrder(paidOn2.orderId, paid);
      // An upsell page: the ORDER waits for the upsell window, while device 1's cart comes due.
      await visit(paidOn2.session, DEVICE_2, [ev.page('upsell1', 'https://secure.example/upsell1'), ev.order(paidOn2.orderId)]);
      await idle(11 * MINUTE);
      expect(sentOrders()).toEqual([]);
      expect(await stateOf(left.id)).toBe('closed');
      await idle(5 * MINUTE);
      expect(sentOrders()).toEqual([paidOn2.orderId]);
      for (let i = 0; i < 3; i++) await idle(31 * MINUTE);
      expect(sentCarts()).toEqual([]);
      expect(await stateOf(left.id)).toBe('closed');
    });
  });
}
