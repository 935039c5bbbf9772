import { describe, expect, it } from 'vitest';
import { AC_EVENT_NAMES, eventData, orderAction, orderEmission, wallClockToIso } from './activecampaign-lifecycle.js';
import { LIFECYCLE_EVENT_KINDS, type LifecycleEvent } from './lifecycle-event.js';

const event = (extra: Partial<LifecycleEvent>): LifecycleEvent => ({
  id: 'txn:9:sale',
  kind: 'sale_completed',
  occurredAt: '2026-12-01 10:02:11',
  customer: { email: 'Ann+vip@Example.com', firstName: 'Zoë' },
  ...extra,
});

describe('a lifecycle event as ActiveCampaign calls', () => {
  it('names every tracked event within 32 characters', () => {
    for (const kind of LIFECYCLE_EVENT_KINDS) expect((AC_EVENT_NAMES[kind] ?? '').length).toBeLessThanOrEqual(32);
  });

  it("reads Konnektive's wall-clock time in the account's zone, across daylight saving time", () => {
    expect(wallClockToIso('2026-12-01 10:02:11', 'America/New_York')).toBe('2026-12-01T15:02:11+00:00');
    expect(wallClockToIso('2026-07-01 10:02:11', 'America/New_York')).toBe('2026-07-01T14:02:11+00:00');
    expect(wallClockToIso('2026-07-01 10:02:11', 'UTC')).toBe('2026-07-01T10:02:11+00:00');
    expect(wallClockToIso('yesterday', 'UTC')).toBeUndefined();
  });

  it("keys a first sale by its order, a rebill by its transaction, and lowers the sale a refund returns", () => {
    expect(orderAction(event({ orderId: 'K1', transactionId: '9' }))).toEqual({ type: 'create', externalid: 'K1' });
    expect(orderAction(event({ kind: 'rebill_succeeded', orderId: 'K1', transactionId: '12' }))).toEqual({ type: 'create', externalid: '12' });
    expect(orderAction(event({ kind: 'rebill_succeeded', purchaseId: 'P7', billingCycle: 3 }))).toEqual({ type: 'create', externalid: 'P7-cycle3' });
    expect(orderAction(event({ kind: 'refund', orderId: 'K1', returnsTransactionId: '12', amountCents: 500 }))).toEqual({ type: 'lower', externalids: ['12', 'K1'], amountCents: 500 });
    expect(orderAction(event({ kind: 'subscription_cancelled', orderId: 'K1' }))).toEqual({ type: 'none' });
  });

  it('carries the values as Konnektive holds them', () => {
    const order = orderEmission(event({ orderId: 'K1', amountCents: 4995, currency: 'USD', productId: '41', productName: 'Crème  Bottle ' }), 'K1', 'UTC');
    expect(order).toMatchObject({ email: 'Ann+vip@Example.com', firstName: 'Zoë', totalCents: 4995, items: [{ id: '41', name: 'Crème  Bottle ', priceCents: 4995 }] });
    expect(JSON.parse(eventData(event({ reason: 'Do not honor <b>', amountCents: 1000 })))).toEqual({ id: 'txn:9:sale', amount: '10.00', reason: 'Do not honor <b>' });
    expect(orderEmission(event({ orderId: 'K1', amountCents: 4995 }), 'K1', 'UTC')).toBe('no currency');
  });
});
