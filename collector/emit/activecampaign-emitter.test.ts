import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../config.js';
import { sandboxKonnektive } from '../konnektive/sandbox-konnektive.js';
import { SqliteStore } from '../store/sqlite-store.js';
import { AC_ORDER_STATE, startActiveCampaignDouble, type ActiveCampaignDouble } from '../../test/doubles/activecampaign-double.js';
import { activeCampaignEmitter, activeCampaignRateKey } from './activecampaign-emitter.js';
import { createEmitter } from './create-emitter.js';
import type { CartEmission, CustomerEmission, EmitContext, Emitter, OrderEmission } from './emission.js';
import { RateGate, slotSpacingMs } from './rate-gate.js';
import { sampleOrder } from '../../test/support/emissions.js';
import { VirtualClock } from '../../test/support/virtual-clock.js';
import { sandboxEmitter } from './sandbox-emitter.js';

const T0 = 1_700_000_000_000;
const API_KEY = 'ac-secret-key-123';
const PUBLIC_URL = 'https://collect.example.com';
const EMAIL = 'ann.lee@example.com';

let clock: VirtualClock;
let store: SqliteStore;
let double: ActiveCampaignDouble;

async function startDouble(options: { rateLimitPerSecond?: number } = {}): Promise<void> {
  await double?.close();
  double = await startActiveCampaignDouble({ apiKey: API_KEY, now: () => clock.now(), ...options });
}

beforeEach(async () => {
  clock = new VirtualClock(T0);
  store = SqliteStore.fromUrl('file::memory:');
  await store.migrate();
  await startDouble();
});
afterEach(async () => {
  await double.close();
  await store.close();
});

function emitter(options: { connectionId?: string; apiKey?: string; perSecond?: number; timeoutMs?: number } = {}): Emitter {
  return activeCampaignEmitter({
    config: {
      publicUrl: PUBLIC_URL,
      activeCampaign: { apiUrl: double.apiUrl, apiKey: options.apiKey ?? API_KEY, connectionId: options.connectionId },
      activeCampaignRatePerSecond: options.perSecond ?? 5,
    },
    store,
    clock,
    fetch: clock.fetch,
    timeoutMs: options.timeoutMs ?? 5_000,
  });
}

type Recorded = Parameters<EmitContext['record']>[0];
function context(mayAlreadyExist = false): EmitContext & { calls: Recorded[] } {
  const calls: Recorded[] = [];
  return { mayAlreadyExist, calls, record: (call) => calls.push(call) };
}

const iso = (ms: number) => new Date(ms).toISOString();

function cart(n = 1, email = EMAIL): CartEmission {
  return {
    kind: 'cart',
    sessionId: `s${n}`,
    cartId: `cart-${n}`,
    email,
    customerExternalId: `10${n}`,
    firstName: 'Ann',
    lastName: 'Lee',
    items: [{ id: '41', name: 'Bottle', priceCents: 3995, quantity: 2 }],
    totalCents: 7990,
    currency: 'USD',
    createdAt: iso(T0 - 3_600_000),
    abandonedAt: iso(T0 - 60_000),
    orderUrl: 'https://secure.example/checkout?affId=AFF7',
  };
}

function order(n = 1, extra: Partial<OrderEmission> = {}): OrderEmission {
  return sampleOrder({ sessionId: `s${n}`, cartId: `cart-${n}`, orderId: `ORD${n}`, email: EMAIL, customerExternalId: `10${n}`, orderedAt: iso(T0 - 30_000), ...extra });
}

const customer: CustomerEmission = {
  kind: 'customer',
  sessionId: 's9',
  email: EMAIL,
  customerExternalId: '109',
  firstName: 'Ann',
  lastName: 'Lee',
  phone: '5550101234',
};

const calls = () => double.requests.map((r) => `${r.method} ${r.path.replace('/api/3', '')}`);
const ordersPosted = () => double.requests.filter((r) => r.method === 'POST' && r.path === '/api/3/ecomOrders').length;

function expectNothingPersonal(records: Recorded[]): void {
  const text = JSON.stringify(records);
  for (const secret of [EMAIL, API_KEY, 'Ann', 'Lee', '5550101234', 'AFF7']) expect(text).not.toContain(secret);
}

describe('ActiveCampaign route', () => {
  it('sends a CART as connection, customer and an abandoned ecomOrder in the shapes AC accepts', async () => {
    const ctx = context();
    const result = await emitter().emit(cart(), ctx);

    expect(calls()).toEqual(['GET /connections', 'POST /connections', 'GET /ecomCustomers', 'POST /ecomCustomers', 'POST /ecomOrders']);
    const [connection] = [...double.connections.values()];
    expect(connection).toMatchObject({ service: 'funnelbeacon', externalid: 'collect.example.com', linkUrl: `${PUBLIC_URL}/dashboard` });
    const [acCustomer] = [...double.customers.values()];
    expect(acCustomer).toMatchObject({ connectionid: connection!.id, externalid: '101', email: EMAIL });
    expect(double.orders.size).toBe(1);
    const [acOrder] = [...double.orders.values()];
    expect(result).toEqual({ ok: true, remoteId: acOrder!.id });
    expect(acOrder).toMatchObject({
      state: AC_ORDER_STATE.abandoned,
      externalid: null,
      externalcheckoutid: 'cart-1',
      source: 1,
      email: EMAIL,
      totalPrice: 7990,
      currency: 'USD',
      connectionid: connection!.id,
      customerid: acCustomer!.id,
      abandonedDate: new Date(T0 - 60_000).toISOString().replace('.000Z', '+00:00'),
      orderUrl: 'https://secure.example/checkout?affId=AFF7',
    });
    expect(acOrder!.orderProducts).toMatchObject([{ externalid: '41', name: 'Bottle', price: 3995, quantity: 2 }]);
    expect(Number.isInteger(acOrder!.history[0]!.body.totalPrice)).toBe(true);

    expect(ctx.calls.map((c) => c.endpoint)).toEqual(['GET /connections', 'POST /connections', 'GET /ecomCustomers', 'POST /ecomCustomers', 'POST /ecomOrders']);
    expect(ctx.calls.every((c) => c.outcome === 'ok')).toBe(true);
    expect(ctx.calls[4]!.httpStatus).toBe(201);
    expect(JSON.parse(ctx.calls[4]!.request)).toMatchObject({
      ecomOrder: { externalcheckoutid: 'cart-1', email: '[redacted]', totalPrice: 7990, orderUrl: 'https://secure.example/checkout?affId' },
    });
    expectNothingPersonal(ctx.calls);
  });

  it('reuses the connection and the customer on the next emission', async () => {
    const route = emitter();
    await route.emit(cart(1), context());
    double.requests.length = 0;
    const second = await route.emit(cart(2), context());

    expect(second.ok).toBe(true);
    expect(calls()).toEqual(['GET /ecomCustomers', 'POST /ecomOrders']);
    expect(double.connections.size).toBe(1);
    expect(double.customers.size).toBe(1);
    expect(double.orders.size).toBe(2);
  });

  it('finds the connection it created earlier (another collector, a restart) instead of creating a second', async () => {
    await emitter().emit(customer, context());
    double.requests.length = 0;
    await emitter().emit(cart(), context());
    expect(calls()[0]).toBe('GET /connections');
    expect(calls()).not.toContain('POST /connections');
    expect(double.connections.size).toBe(1);
  });

  it('uses ACTIVECAMPAIGN_CONNECTION_ID without looking for or creating a connection', async () => {
    await emitter().emit(customer, context());
    const [connection] = [...double.connections.values()];
    double.requests.length = 0;
    const result = await emitter({ connectionId: connection!.id }).emit(cart(), context());
    expect(result.ok).toBe(true);
    expect(calls()).toEqual(['GET /ecomCustomers', 'POST /ecomOrders']);
  });

  it('sends a CUSTOMER as the e-commerce customer only', async () => {
    const result = await emitter().emit(customer, context());
    expect(double.customers.size).toBe(1);
    const [acCustomer] = [...double.customers.values()];
    expect(result).toEqual({ ok: true, remoteId: acCustomer!.id });
    expect(acCustomer).toMatchObject({ externalid: '109', email: EMAIL });
    expect(double.orders.size).toBe(0);
  });

  it('turns the CART into a recovered order when the ORDER follows: the same record, PUT with externalid', async () => {
    const route = emitter();
    const sent = await route.emit(cart(), context());
    const cartId = sent.ok ? sent.remoteId : undefined;
    double.requests.length = 0;
    const result = await route.emit(order(1, { cartRemoteId: cartId, recoversCart: true }), context());

    expect(result).toEqual({ ok: true, remoteId: cartId });
    expect(calls()).toEqual(['GET /ecomCustomers', `PUT /ecomOrders/${cartId}`]);
    expect(double.orders.size).toBe(1);
    expect(double.orders.get(cartId!)).toMatchObject({
      state: AC_ORDER_STATE.recovered,
      externalid: 'ORD1',
      externalcheckoutid: 'cart-1',
      totalPrice: 9890,
    });
    expect(double.orders.get(cartId!)!.orderProducts.map((p) => p.externalid)).toEqual(['41', '77']);
  });

  it('finds the cart by its checkout id when the ORDER recovers a cart whose AC id is not known', async () => {
    const route = emitter();
    const sent = await route.emit(cart(), context());
    const result = await route.emit(order(1, { recoversCart: true }), context());
    expect(result).toEqual({ ok: true, remoteId: sent.ok ? sent.remoteId : 'none' });
    expect(double.orders.size).toBe(1);
    expect([...double.orders.values()][0]!.state).toBe(AC_ORDER_STATE.recovered);
  });

  it('creates a completed order when no CART was sent, without a checkout id', async () => {
    const result = await emitter().emit(order(), context());
    expect(double.orders.size).toBe(1);
    const [acOrder] = [...double.orders.values()];
    expect(result).toEqual({ ok: true, remoteId: acOrder!.id });
    expect(acOrder).toMatchObject({ state: AC_ORDER_STATE.completed, externalid: 'ORD1', externalcheckoutid: null, source: 1, totalPrice: 9890 });
    expect(acOrder!.history[0]!.body).not.toHaveProperty('abandonedDate');
  });

  it('posts the ORDER as a new order when the cart it should recover is gone from AC (404)', async () => {
    const result = await emitter().emit(order(1, { cartRemoteId: '999', recoversCart: true }), context());
    expect(result.ok).toBe(true);
    expect(calls().slice(-2)).toEqual(['PUT /ecomOrders/999', 'POST /ecomOrders']);
    expect([...double.orders.values()][0]).toMatchObject({ state: AC_ORDER_STATE.completed, externalid: 'ORD1' });
  });

  it('finds the CART an interrupted attempt created and does not post a second', async () => {
    const first = await emitter().emit(cart(), context());
    const retried = await emitter().emit(cart(), context(true));
    expect(retried).toEqual(first);
    expect(ordersPosted()).toBe(1);
    expect(double.orders.size).toBe(1);
  });

  it('finds the ORDER an interrupted attempt created or recovered and does not write it again', async () => {
    const route = emitter();
    const first = await route.emit(order(), context());
    double.requests.length = 0;
    const retried = await route.emit(order(), context(true));
    expect(retried).toEqual(first);
    expect(calls()).toEqual(['GET /ecomOrders']);
    expect(double.requests[0]!.query).toMatchObject({ 'filters[externalid]': 'ORD1' });
  });

  it('carries on with the existing record when AC answers 422 duplicate', async () => {
    const first = await emitter().emit(cart(), context());
    double.requests.length = 0;
    const ctx = context();
    const again = await emitter().emit(cart(), ctx);

    expect(again).toEqual(first);
    expect(double.requests.find((r) => r.method === 'POST' && r.path === '/api/3/ecomOrders')?.status).toBe(422);
    expect(calls().slice(-2)).toEqual(['POST /ecomOrders', 'GET /ecomOrders']);
    expect(double.orders.size).toBe(1);
    expect(ctx.calls.find((c) => c.httpStatus === 422)).toMatchObject({ outcome: 'rejected' });
  });

  it('ends two workers racing for one new customer with one customer, the loser looking it up after a 422', async () => {
    const [a, b] = await Promise.all([emitter().emit(cart(1), context()), emitter().emit(cart(2), context())]);
    expect(a.ok && b.ok).toBe(true);
    expect(double.customers.size).toBe(1);
    expect(double.connections.size).toBe(1);
    expect(double.orders.size).toBe(2);
    expect(double.stats.byStatus[422]).toBeGreaterThanOrEqual(1);
  });

  it('never goes over 5 requests per second with 60 emissions at once, and is never throttled', async () => {
    const route = emitter();
    const results = await Promise.all(
      Array.from({ length: 60 }, (_, i) => route.emit(cart(i + 1, `buyer${i}@example.com`), context())),
    );
    expect(results.every((r) => r.ok)).toBe(true);
    expect(double.orders.size).toBe(60);
    expect(double.stats.rateLimited).toBe(0);
    expect(double.maxRequestsInAnyWindow()).toBeLessThanOrEqual(5);
    // 2 for the connection, then 3 per cart, at 5 per second: the run took its virtual time.
    expect(double.stats.total).toBe(182);
    expect(clock.now() - T0).toBeGreaterThanOrEqual(181 * 200);
  });

  it('reports a 429 as rate_limited with retryAt, and holds every later request of the account until then', async () => {
    await startDouble({ rateLimitPerSecond: 1 });
    const ctx = context();
    const result = await emitter().emit(cart(), ctx);

    expect(double.stats.rateLimited).toBe(1);
    expect(result).toMatchObject({ ok: false, failure: 'rate_limited' });
    const retryAt = !result.ok && result.failure === 'rate_limited' ? result.retryAt! : 0;
    expect(retryAt).toBe(T0 + slotSpacingMs(5) + 1000);
    expect(ctx.calls.at(-1)).toMatchObject({ httpStatus: 429, outcome: 'transient' });

    const gate = new RateGate({ store, clock, key: activeCampaignRateKey(double.apiUrl), perSecond: 5 });
    await gate.acquire();
    expect(clock.now()).toBeGreaterThanOrEqual(retryAt);
  });

  it('honours Retry-After on a 503: rate_limited, and the next emission waits it out', async () => {
    double.fail('http503', { times: 1, retryAfterSeconds: 3 });
    const result = await emitter().emit(cart(), context());
    expect(result).toEqual({ ok: false, failure: 'rate_limited', message: expect.stringContaining('503'), retryAt: T0 + 3000 });

    const next = await emitter().emit(cart(), context());
    expect(next.ok).toBe(true);
    expect(double.requests[1]!.at).toBeGreaterThanOrEqual(T0 + 3000);
    expect(double.stats.byStatus[503]).toBe(1);
  });

  it('treats a 503 without Retry-After, a 500, a hang and a dropped connection as transient', async () => {
    for (const mode of ['http503', 'http500', 'hang', 'down'] as const) {
      double.fail(mode, { times: 1, ...(mode === 'http503' ? { retryAfterSeconds: null } : {}) });
      const ctx = context();
      const result = await emitter({ timeoutMs: 300 }).emit(cart(), ctx);
      expect(result, mode).toMatchObject({ ok: false, failure: 'transient' });
      expect(ctx.calls[0]!.outcome, mode).toBe('transient');
    }
    expect(double.orders.size).toBe(0);
  });

  it('rejects with AC\'s own message when AC refuses a field', async () => {
    const ctx = context();
    const result = await emitter().emit({ ...cart(), currency: 'usd' }, ctx);
    expect(result).toMatchObject({ ok: false, failure: 'rejected' });
    expect(!result.ok && result.message).toMatch(/422.*field_invalid.*currency/);
    expect(ctx.calls.at(-1)).toMatchObject({ endpoint: 'POST /ecomOrders', httpStatus: 422, outcome: 'rejected' });
  });

  it('refuses amounts that are not integer cents before anything is sent', async () => {
    const result = await emitter().emit({ ...cart(), totalCents: 79.9 }, context());
    expect(result).toMatchObject({ ok: false, failure: 'rejected', message: expect.stringContaining('integer cents') });
    expect(double.requests).toHaveLength(0);
  });

  it('reports a wrong API key as auth, and keeps the key out of the record', async () => {
    const ctx = context();
    const result = await emitter({ apiKey: 'wrong-key-456' }).emit(cart(), ctx);
    expect(result).toMatchObject({ ok: false, failure: 'auth', message: expect.stringContaining('403') });
    expect(ctx.calls[0]).toMatchObject({ outcome: 'auth', httpStatus: 403 });
    expect(JSON.stringify(ctx.calls)).not.toContain('wrong-key-456');
  });

  it('tries the connection again on the next emission after it could not be resolved', async () => {
    const route = emitter();
    double.fail('http500', { times: 1 });
    expect((await route.emit(cart(), context())).ok).toBe(false);
    expect((await route.emit(cart(), context())).ok).toBe(true);
  });
});

describe('sandbox route', () => {
  it('records the request the direct route would send, redacted, and sends nothing', async () => {
    const ctx = context();
    const result = await sandboxEmitter().emit(cart(), ctx);
    expect(result).toEqual({ ok: true, remoteId: 'sandbox-cart-cart-1' });
    expect(ctx.calls).toHaveLength(1);
    expect(ctx.calls[0]).toMatchObject({ endpoint: 'POST /ecomOrders', outcome: 'sandbox' });
    expect(JSON.parse(ctx.calls[0]!.request)).toMatchObject({
      ecomOrder: {
        externalcheckoutid: 'cart-1',
        source: 1,
        email: '[redacted]',
        totalPrice: 7990,
        abandonedDate: expect.stringMatching(/\+00:00$/),
        orderProducts: [{ externalid: '41', name: 'Bottle', price: 3995, quantity: 2 }],
      },
    });
    expectNothingPersonal(ctx.calls);

    const recovered = await sandboxEmitter().emit(order(1, { cartRemoteId: 'sandbox-cart-cart-1', recoversCart: true }), ctx);
    expect(recovered).toEqual({ ok: true, remoteId: 'sandbox-cart-cart-1' });
    expect(ctx.calls[1]!.endpoint).toBe('PUT /ecomOrders/sandbox-cart-cart-1');
    await sandboxEmitter().emit(customer, ctx);
    expect(ctx.calls[2]!.endpoint).toBe('POST /ecomCustomers');
    expectNothingPersonal(ctx.calls);
    expect(double.requests).toHaveLength(0);
  });
});

describe('createEmitter', () => {
  const base = { SECRET: 'x'.repeat(32), ALLOWED_ORIGINS: 'https://offer.example' };
  const pick = (env: Record<string, string>) => {
    const parsed = parseConfig(env);
    if (!parsed.ok) throw new Error(parsed.problems.join('\n'));
    return createEmitter({ config: parsed.config, konnektive: sandboxKonnektive(), store, clock }).route;
  };

  it('picks the route EMIT_VIA names', () => {
    expect(pick({})).toBe('sandbox');
    const konnektive = { ...base, KONNEKTIVE_LOGIN_ID: 'l', KONNEKTIVE_PASSWORD: 'p', KONNEKTIVE_CAMPAIGNS: '12' };
    expect(pick(konnektive)).toBe('konnektive');
    expect(
      pick({ ...konnektive, EMIT_VIA: 'activecampaign', ACTIVECAMPAIGN_API_URL: 'https://acme.api-us1.com', ACTIVECAMPAIGN_API_KEY: 'k' }),
    ).toBe('activecampaign');
    expect(pick({ ...konnektive, EMIT_VIA: 'sandbox' })).toBe('sandbox');
  });
});
