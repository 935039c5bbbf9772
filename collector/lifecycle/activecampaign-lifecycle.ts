/**
 * @module activecampaign-lifecycle
 * One lifecycle event as ActiveCampaign's calls see it (docs/activecampaign-routes.md,
 * "Lifecycle"): the tracked event's name and data, the contact's field values, and the order it
 * writes or lowers. Pure: lifecycle-delivery.ts makes the calls.
 */
import type { OrderEmission } from '../emit/emission.js';
import type { CustomerStatus } from './customer-status.js';
import type { LifecycleEvent, LifecycleEventKind } from './lifecycle-event.js';
import type { FieldIds } from './lifecycle-fields.js';

/** The tracked event each kind of lifecycle event sends; none for the kinds without one. */
export const AC_EVENT_NAMES: Partial<Record<LifecycleEventKind, string>> = {
  sale_completed: 'order_completed',
  sale_declined: 'payment_declined',
  rebill_succeeded: 'rebill_succeeded',
  rebill_declined: 'rebill_declined',
  retries_exhausted: 'retries_exhausted',
  subscription_cancelled: 'subscription_cancelled',
  subscription_paused: 'subscription_paused',
  subscription_reactivated: 'subscription_reactivated',
  refund: 'order_refunded',
  void: 'order_refunded',
  chargeback: 'chargeback',
  fulfillment_shipped: 'order_shipped',
  fulfillment_delivered: 'order_delivered',
};

/**
 * `eventdata`: one JSON string with the amount, order, product and reason as Konnektive gave
 * them, and the lifecycle event's id, by which a retry finds an event that was already recorded.
 */
export function eventData(event: LifecycleEvent): string {
  const data: Record<string, string | number> = { id: event.id };
  if (event.amountCents !== undefined) data.amount = (event.amountCents / 100).toFixed(2);
  if (event.currency !== undefined) data.currency = event.currency;
  if (event.orderId !== undefined) data.order = event.orderId;
  if (event.transactionId !== undefined) data.transaction = event.transactionId;
  if (event.productName !== undefined || event.productId !== undefined) data.product = event.productName ?? event.productId ?? '';
  if (event.reason !== undefined) data.reason = event.reason;
  if (event.trackingNumber !== undefined) data.tracking = event.trackingNumber;
  if (event.carrier !== undefined) data.carrier = event.carrier;
  return JSON.stringify(data);
}

/** What the event does to ActiveCampaign's orders. */
export type OrderAction =
  /** A first sale or a rebill: one order, found by `externalid` before it is created. */
  | { type: 'create'; externalid: string }
  /** Money given back: the order of the sale it returns loses `amountCents` of its total. */
  | { type: 'lower'; externalids: string[]; amountCents: number }
  /** A chargeback reverted: the order gets back what the chargeback took (its amount, else the chargeback's). */
  | { type: 'restore'; externalids: string[]; amountCents: number | undefined }
  | { type: 'none' };

export function orderAction(event: LifecycleEvent): OrderAction {
  switch (event.kind) {
    case 'sale_completed':
      // Keyed like the funnel's ORDER (the Konnektive order id), so a funnel sale is found, not sent again.
      return event.orderId === undefined ? { type: 'none' } : { type: 'create', externalid: event.orderId };
    case 'rebill_succeeded':
      // A rebill may have no order id of its own: its transaction is its key. Told by its
      // purchase alone (no transaction named), the purchase's billing cycle is.
      if (event.transactionId !== undefined) return { type: 'create', externalid: event.transactionId };
      return event.purchaseId === undefined || event.billingCycle === undefined ? { type: 'none' } : { type: 'create', externalid: `${event.purchaseId}-cycle${event.billingCycle}` };
    case 'refund':
    case 'void':
    case 'chargeback': {
      // The sale it returns: a rebill's order is keyed by its transaction, a first sale's by its order.
      const externalids = [event.returnsTransactionId, event.orderId].filter((id): id is string => id !== undefined);
      return externalids.length === 0 || !(event.amountCents !== undefined && event.amountCents > 0) ? { type: 'none' } : { type: 'lower', externalids, amountCents: event.amountCents };
    }
    case 'chargeback_reversed': {
      const externalids = [event.returnsTransactionId, event.orderId].filter((id): id is string => id !== undefined);
      return externalids.length === 0 ? { type: 'none' } : { type: 'restore', externalids, amountCents: event.amountCents };
    }
    default:
      return { type: 'none' };
  }
}

/** The order an event creates, as the funnel's ORDER path builds it (activecampaign-bodies.ts). */
export function orderEmission(event: LifecycleEvent, externalid: string, timeZone: string): OrderEmission | string {
  const email = event.customer.email;
  if (email === undefined) return 'no email';
  if (event.amountCents === undefined || !Number.isInteger(event.amountCents) || event.amountCents < 0) return 'no amount in integer cents';
  if (event.currency === undefined) return 'no currency';
  const orderedAt = wallClockToIso(event.occurredAt, timeZone);
  if (orderedAt === undefined) return `occurredAt "${event.occurredAt}" is not a Konnektive date and time`;
  const product = event.productId ?? event.productName;
  return {
    kind: 'order',
    sessionId: event.id,
    email,
    customerExternalId: event.customer.customerId ?? email,
    ...(event.customer.firstName === undefined ? {} : { firstName: event.customer.firstName }),
    ...(event.customer.lastName === undefined ? {} : { lastName: event.customer.lastName }),
    cartId: externalid,
    orderId: externalid,
    items: product === undefined ? [] : [{ id: product, name: event.productName ?? product, priceCents: event.amountCents, quantity: 1 }],
    totalCents: event.amountCents,
    currency: event.currency,
    orderedAt,
    recoversCart: false,
    ...(event.historical ? { historical: true } : {}),
  };
}

/** The order discount that marks money given back (or a chargeback reverted) as applied to an order (see adjustOrder). */
export function refundMarker(event: LifecycleEvent): string {
  return `${event.kind} ${event.id}`;
}

/** The date part of Konnektive's wall-clock time (`2026-12-01 10:02:11` → `2026-12-01`): its own day. */
export function konnektiveDay(wallClock: string): string | undefined {
  const day = /^(\d{4}-\d{2}-\d{2})/.exec(wallClock)?.[1];
  return day;
}

/** The contact's field values after the event, by field id; only the fields the event sets. */
export function fieldValues(event: LifecycleEvent, status: CustomerStatus | undefined, ids: FieldIds, lifetimeValueCents: number | undefined): Array<{ field: string; value: string }> {
  const values: Array<{ field: string; value: string }> = [];
  if (status !== undefined) values.push({ field: ids.status, value: status });
  if (event.nextBillDate !== undefined) values.push({ field: ids.nextBillDate, value: event.nextBillDate });
  const day = konnektiveDay(event.occurredAt);
  if ((event.kind === 'subscription_cancelled' || event.kind === 'retries_exhausted') && day) values.push({ field: ids.cancelledOn, value: day });
  if (event.kind === 'subscription_reactivated') values.push({ field: ids.cancelledOn, value: '' });
  if ((event.kind === 'sale_completed' || event.kind === 'rebill_succeeded') && day) values.push({ field: ids.lastOrderDate, value: day });
  if (lifetimeValueCents !== undefined) values.push({ field: ids.lifetimeValue, value: (lifetimeValueCents / 100).toFixed(2) });
  return values;
}

/**
 * Konnektive's wall-clock time in the account's zone (`2026-12-01 10:02:11`) as ActiveCampaign's
 * ISO date with an offset; undefined when it is not such a time.
 */
export function wallClockToIso(wallClock: string, timeZone: string): string | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2}))?$/.exec(wallClock.trim());
  if (!m) return undefined;
  const [y, mo, d, h, mi, s] = m.slice(1).map((part) => Number(part ?? 0)) as [number, number, number, number, number, number];
  const asUtc = Date.UTC(y, mo - 1, d, h, mi, s);
  // The zone's offset at that moment, found by formatting the guess back (twice, across a DST change).
  let instant = asUtc - offsetMs(asUtc, timeZone);
  instant = asUtc - offsetMs(instant, timeZone);
  return Number.isNaN(instant) ? undefined : new Date(instant).toISOString().replace(/\.\d{3}Z$/, '+00:00');
}

function offsetMs(instant: number, timeZone: string): number {
  const parts = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' }).formatToParts(new Date(instant));
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value);
  return Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second')) - Math.floor(instant / 1000) * 1000;
}
