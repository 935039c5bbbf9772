/**
 * What the sandbox records instead of sending: in sandbox mode the whole request (its dashboard
 * answers loopback clients only), beside live Konnektive credentials the redacted summary.
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../config.js';
import type { KonnektiveApi } from '../konnektive/konnektive-client.js';
import type { Store } from '../store/store.js';
import { systemClock } from '../clock.js';
import { createEmitter } from './create-emitter.js';
import type { CartEmission, CustomerEmission, EmitContext } from './emission.js';
import { sandboxEmitter } from './sandbox-emitter.js';

type Recorded = Parameters<EmitContext['record']>[0];

function context(): EmitContext & { calls: Recorded[] } {
  const calls: Recorded[] = [];
  return { mayAlreadyExist: false, calls, record: (call) => calls.push(call) };
}

const LINK = 'http://localhost:8787/r/abc.def';
const cart: CartEmission = {
  kind: 'cart',
  sessionId: 's1',
  cartId: 'cart-1',
  email: 'ann.lee@example.com',
  customerExternalId: '101',
  firstName: 'Ann',
  lastName: 'Lee',
  items: [{ id: '41', name: 'Bottle', priceCents: 3995, quantity: 2 }],
  totalCents: 7990,
  currency: 'USD',
  createdAt: '2026-11-23T11:00:00.000Z',
  abandonedAt: '2026-11-23T11:58:00.000Z',
  orderUrl: LINK,
};
const customer: CustomerEmission = { kind: 'customer', sessionId: 's1', email: 'ann.lee@example.com', customerExternalId: '101', firstName: 'Ann', lastName: 'Lee', phone: '5550101234' };

function routeFor(env: Record<string, string>) {
  const parsed = parseConfig({ DATABASE_URL: 'file::memory:', ...env });
  if (!parsed.ok) throw new Error(parsed.problems.join('; '));
  return { config: parsed.config, emitter: createEmitter({ config: parsed.config, konnektive: {} as KonnektiveApi, store: {} as Store, clock: systemClock }) };
}

describe('sandbox route, in full', () => {
  it('records the whole body, personal data and the ids-to-be placeholders included', async () => {
    const ctx = context();
    expect(await sandboxEmitter({ inFull: true }).emit(cart, ctx)).toEqual({ ok: true, remoteId: 'sandbox-cart-cart-1' });
    expect(await sandboxEmitter({ inFull: true }).emit(customer, ctx)).toEqual({ ok: true, remoteId: 'sandbox-customer-s1' });
    const [cartCall, customerCall] = ctx.calls;
    expect(cartCall).toMatchObject({ endpoint: 'POST /ecomOrders', outcome: 'sandbox' });
    expect(JSON.parse(cartCall!.request)).toMatchObject({
      ecomOrder: {
        externalcheckoutid: 'cart-1',
        email: 'ann.lee@example.com',
        orderUrl: LINK,
        connectionid: '{connectionid}',
        customerid: '{customerid}',
        orderProducts: [{ externalid: '41', name: 'Bottle', price: 3995, quantity: 2 }],
      },
    });
    expect(JSON.parse(customerCall!.request)).toMatchObject({ ecomCustomer: { email: 'ann.lee@example.com', connectionid: '{connectionid}' } });
    expect(JSON.stringify(ctx.calls)).not.toContain('[redacted]');
  });

  it('is what sandbox mode records; EMIT_VIA=sandbox beside live Konnektive credentials stays redacted', async () => {
    const sandbox = routeFor({});
    expect(sandbox.config.sandbox).toBe(true);
    const whole = context();
    await sandbox.emitter.emit(cart, whole);
    expect(JSON.parse(whole.calls[0]!.request).ecomOrder.email).toBe('ann.lee@example.com');

    const live = routeFor({
      SECRET: 'x'.repeat(32),
      ALLOWED_ORIGINS: 'https://offer.example',
      KONNEKTIVE_LOGIN_ID: 'id',
      KONNEKTIVE_PASSWORD: 'pw',
      KONNEKTIVE_CAMPAIGNS: '12',
      EMIT_VIA: 'sandbox',
    });
    expect([live.config.sandbox, live.emitter.route]).toEqual([false, 'sandbox']);
    const redacted = context();
    await live.emitter.emit(cart, redacted);
    const body = JSON.parse(redacted.calls[0]!.request);
    expect(body.ecomOrder).toMatchObject({ email: '[redacted]', orderUrl: LINK, connectionid: '{connectionid}' });
    expect(JSON.stringify(redacted.calls)).not.toMatch(/ann\.lee|Ann|Lee/);
  });
});
