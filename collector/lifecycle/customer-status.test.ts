import { describe, expect, it } from 'vitest';
import { LIFECYCLE_EVENT_KINDS, type LifecycleEvent } from './lifecycle-event.js';
import { stateChange } from './customer-status.js';

const event = (kind: LifecycleEvent['kind'], extra: Partial<LifecycleEvent> = {}): LifecycleEvent => ({
  id: `e:${kind}`,
  kind,
  occurredAt: '2026-12-01 10:00:00',
  customer: { email: 'buyer@example.com' },
  ...extra,
});

describe('customer status and tags', () => {
  it('never adds and removes the same tag, for every kind of event', () => {
    for (const kind of LIFECYCLE_EVENT_KINDS) {
      const change = stateChange(event(kind, { purchaseId: '7' }));
      expect(change.add.filter((tag) => change.remove.includes(tag)), kind).toEqual([]);
    }
  });

  it('a rebill that succeeds after retries ends past due', () => {
    expect(stateChange(event('rebill_declined'))).toMatchObject({ status: 'past due', add: expect.arrayContaining(['past-due']) });
    const recovered = stateChange(event('rebill_succeeded'));
    expect(recovered.status).toBe('subscriber');
    expect(recovered.remove).toContain('past-due');
  });

  it('a first sale is a customer, or a subscriber when it starts a subscription', () => {
    expect(stateChange(event('sale_completed')).status).toBe('customer');
    expect(stateChange(event('sale_completed', { purchaseId: '7' })).status).toBe('subscriber');
  });

  it('only a full refund changes the status; a partial one tags', () => {
    expect(stateChange(event('refund', { fullRefund: false }))).toEqual({ add: ['refunded'], remove: [] });
    expect(stateChange(event('refund', { fullRefund: true })).status).toBe('refunded');
  });

  it('a cancel takes the subscriber tag away', () => {
    const change = stateChange(event('subscription_cancelled'));
    expect(change).toMatchObject({ status: 'cancelled', add: ['cancelled'] });
    expect(change.remove).toContain('subscriber');
  });
});
