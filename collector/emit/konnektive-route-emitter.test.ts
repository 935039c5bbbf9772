import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { konnektiveClient, type KonnektiveApi } from '../konnektive/konnektive-client.js';
import { startKonnektiveDouble, type KonnektiveDouble } from '../../test/doubles/konnektive-double.js';
import { sampleOrder } from '../../test/support/emissions.js';
import type { CartEmission, CustomerEmission, EmitContext, OrderEmission } from './emission.js';
import { konnektiveRouteEmitter } from './konnektive-route-emitter.js';

const EMAIL = 'ann.lee@example.com';
let double: KonnektiveDouble;

beforeEach(async () => {
  double = await startKonnektiveDouble({ loginId: 'fb-login', password: 'fb-password', campaigns: ['12'] });
});
afterEach(async () => {
  await double.close();
});

const api = (timeoutMs = 5_000): KonnektiveApi =>
  konnektiveClient({ apiUrl: double.url, loginId: 'fb-login', password: 'fb-password', timeoutMs });

type Recorded = Parameters<EmitContext['record']>[0];
function context(mayAlreadyExist = false): EmitContext & { calls: Recorded[] } {
  const calls: Recorded[] = [];
  return { mayAlreadyExist, calls, record: (call) => calls.push(call) };
}

const cart: CartEmission = {
  kind: 'cart',
  sessionId: 's1',
  cartId: 'cart-1',
  email: EMAIL,
  customerExternalId: '5501',
  firstName: 'Ann',
  lastName: 'Lee',
  items: [{ id: '41', name: 'Bottle', priceCents: 3995, quantity: 2 }],
  totalCents: 7990,
  currency: 'USD',
  createdAt: '2025-05-01T11:00:00-04:00',
  abandonedAt: '2025-05-01T12:00:00-04:00',
};

const order: OrderEmission = sampleOrder({
  sessionId: 's1',
  cartId: 'cart-1',
  orderId: 'A1B2C3',
  email: EMAIL,
  customerExternalId: '5501',
  orderedAt: '2025-05-01T12:30:00Z',
  recoversCart: true,
});

const customer: CustomerEmission = {
  kind: 'customer',
  sessionId: 's2',
  email: EMAIL,
  customerExternalId: 'sess-7f3a',
  firstName: 'Ann',
  lastName: 'Lee',
  phone: '5550101234',
};

function expectNothingPersonal(records: Recorded[]): void {
  const text = JSON.stringify(records);
  for (const secret of [EMAIL, 'fb-password', 'fb-login', 'Ann', 'Lee', '5550101234']) expect(text).not.toContain(secret);
}

describe('Konnektive route', () => {
  it('sends a CART as form parameters the route accepts: AC field names, integer cents, products as a JSON string', async () => {
    const ctx = context();
    const result = await konnektiveRouteEmitter({ api: api() }).emit(cart, ctx);

    expect(result).toEqual({ ok: true, remoteId: '1' });
    expect(double.acRoute).toHaveLength(1);
    const [call] = double.acRoute;
    expect(call!.type).toBe('CART');
    expect(call!.params).toMatchObject({
      externalcheckoutid: 'cart-1',
      source: '1',
      email: EMAIL,
      totalPrice: '7990',
      currency: 'USD',
      abandonedDate: '2025-05-01T16:00:00+00:00',
      firstName: 'Ann',
      lastName: 'Lee',
      customerId: '5501',
    });
    expect(call!.params.externalid).toBeUndefined();
    expect(JSON.parse(call!.params.orderProducts!)).toEqual([{ externalid: '41', name: 'Bottle', price: 3995, quantity: 2 }]);
    const sent = double.calls.at(-1)!;
    expect(sent.method).toBe('POST');
    expect(sent.path).toBe('/cart/activecampaign/');

    expect(ctx.calls).toHaveLength(1);
    expect(ctx.calls[0]).toMatchObject({ endpoint: 'POST /cart/activecampaign/', outcome: 'ok', httpStatus: 200 });
    expect(JSON.parse(ctx.calls[0]!.request)).toMatchObject({ type: 'CART', externalcheckoutid: 'cart-1', totalPrice: '7990', email: '[redacted]' });
    expectNothingPersonal(ctx.calls);
  });

  it('sends an ORDER with its order id and the CART\'s checkout id, so the cart is marked recovered', async () => {
    const result = await konnektiveRouteEmitter({ api: api() }).emit(order, context());
    expect(result.ok).toBe(true);
    const [call] = double.acRoute;
    expect(call!.type).toBe('ORDER');
    expect(call!.params).toMatchObject({ externalid: 'A1B2C3', externalcheckoutid: 'cart-1', source: '1', totalPrice: '9890', currency: 'USD' });
    expect(call!.params.abandonedDate).toBeUndefined();
    expect(JSON.parse(call!.params.orderProducts!).map((p: { price: number }) => p.price)).toEqual([3995, 1900]);
  });

  it('sends a CUSTOMER with email and external id, and no Konnektive customerId when the id is a session id', async () => {
    const result = await konnektiveRouteEmitter({ api: api() }).emit(customer, context());
    expect(result.ok).toBe(true);
    const [call] = double.acRoute;
    expect(call!.type).toBe('CUSTOMER');
    expect(call!.params).toMatchObject({ email: EMAIL, externalid: 'sess-7f3a', firstName: 'Ann', phoneNumber: '5550101234' });
    expect(call!.params.customerId).toBeUndefined();
  });

  it('leaves out a name longer than Konnektive keeps instead of cutting it', async () => {
    const long = 'A'.repeat(51);
    await konnektiveRouteEmitter({ api: api() }).emit({ ...customer, firstName: long, lastName: 'Lee' }, context());
    const [call] = double.acRoute;
    expect(call!.params.firstName).toBeUndefined();
    expect(call!.params.lastName).toBe('Lee');
  });

  it('passes the configured connection id along', async () => {
    await konnektiveRouteEmitter({ api: api(), connectionId: '3' }).emit(cart, context());
    expect(double.acRoute[0]!.params.connectionid).toBe('3');
  });

  it('maps bad credentials to auth, an outage or a hang to transient, and an ERROR answer to rejected', async () => {
    const route = konnektiveRouteEmitter({ api: api(300) });
    const cases = [
      ['badCredentials', 'auth'],
      ['http500', 'transient'],
      ['hang', 'transient'],
      ['error', 'rejected'],
    ] as const;
    for (const [mode, failure] of cases) {
      double.fail(mode, { times: 1 });
      const ctx = context();
      const result = await route.emit(cart, ctx);
      expect(result, mode).toMatchObject({ ok: false, failure });
      expect(ctx.calls[0]!.outcome, mode).toBe(failure);
      expectNothingPersonal(ctx.calls);
    }
    expect(double.acRoute).toHaveLength(0);
  });

  it('rejects with the route\'s message when Konnektive refuses a field', async () => {
    const result = await konnektiveRouteEmitter({ api: api() }).emit({ ...cart, currency: 'usd' }, context());
    expect(result).toMatchObject({ ok: false, failure: 'rejected', message: expect.stringContaining('currency') });
  });

  it('counts a "duplicate" rejection as delivered only when an earlier attempt may have gone through', async () => {
    const duplicate: KonnektiveApi = {
      sandbox: false,
      call: async () => ({ ok: false, failure: 'rejected', message: 'K-40: duplicate externalcheckoutid', httpStatus: 200, latencyMs: 1 }),
    };
    const route = konnektiveRouteEmitter({ api: duplicate });
    expect(await route.emit(cart, context(true))).toEqual({ ok: true });
    expect(await route.emit(cart, context(false))).toMatchObject({ ok: false, failure: 'rejected' });
  });
});

describe('Konnektive route, looking a CART up only', () => {
  it('answers absent when the route lists no such cart, and the failure when it cannot tell', async () => {
    const emitter = konnektiveRouteEmitter({ api: api() });
    expect(await emitter.emit(cart, { ...context(true), lookupOnly: true })).toMatchObject({ ok: false, failure: 'absent' });
    double.fail('http500', { times: 1 });
    expect(await emitter.emit(cart, { ...context(true), lookupOnly: true })).toMatchObject({ ok: false, failure: 'transient' });
    expect(double.acRoute.filter((call) => call.type === 'CART')).toHaveLength(0);
    expect(await emitter.emit(cart, context())).toMatchObject({ ok: true });
    expect(await emitter.emit(cart, { ...context(true), lookupOnly: true })).toEqual({ ok: true });
  });
});
