/**
 * @module customer-status
 * What a lifecycle event does to the customer's state in ActiveCampaign: the "customer status"
 * field and the tags that follow it (docs/activecampaign-routes.md, "Lifecycle"). Each event
 * sets absolute values (a status, tags present or absent), never increments, so delivering the
 * same event twice leaves the same state.
 */
import type { LifecycleEvent } from './lifecycle-event.js';

export const CUSTOMER_STATUSES = ['lead', 'customer', 'subscriber', 'past due', 'cancelled', 'paused', 'refunded', 'chargeback'] as const;
export type CustomerStatus = (typeof CUSTOMER_STATUSES)[number];

/** Tag names without their prefix (`LIFECYCLE_TAG_PREFIX`, default `fb-`). */
export const LIFECYCLE_TAGS = ['customer', 'subscriber', 'past-due', 'cancelled', 'paused', 'declined', 'refunded', 'chargeback'] as const;
export type LifecycleTag = (typeof LIFECYCLE_TAGS)[number];

export interface StateChange {
  /** Undefined: the event leaves the status as it is (a decline before any sale, a shipment). */
  status?: CustomerStatus;
  add: LifecycleTag[];
  remove: LifecycleTag[];
}

const INACTIVE: LifecycleTag[] = ['cancelled', 'paused', 'past-due'];

/** The status and tags after `event`. */
export function stateChange(event: LifecycleEvent): StateChange {
  const subscription = event.purchaseId !== undefined || event.nextBillDate !== undefined;
  switch (event.kind) {
    case 'sale_completed':
      return subscription
        ? { status: 'subscriber', add: ['customer', 'subscriber'], remove: ['declined', ...INACTIVE] }
        : { status: 'customer', add: ['customer'], remove: ['declined'] };
    case 'sale_declined':
      // A decline of a first sale: the contact may be a customer already (another order).
      return { add: ['declined'], remove: [] };
    case 'rebill_succeeded':
      // Also the recovery of a rebill that went into retries: past due ends here.
      return { status: 'subscriber', add: ['customer', 'subscriber'], remove: ['declined', ...INACTIVE] };
    case 'rebill_declined':
      return { status: 'past due', add: ['past-due', 'declined'], remove: [] };
    case 'retries_exhausted':
    case 'subscription_cancelled':
      return { status: 'cancelled', add: ['cancelled'], remove: ['subscriber', 'past-due', 'paused'] };
    case 'subscription_paused':
      return { status: 'paused', add: ['paused'], remove: ['subscriber', 'past-due', 'cancelled'] };
    case 'subscription_reactivated':
      return { status: 'subscriber', add: ['subscriber'], remove: INACTIVE };
    case 'refund':
    case 'void':
      // A partial refund tags the customer; only money given back in full changes the status.
      return event.kind === 'void' || event.fullRefund === true ? { status: 'refunded', add: ['refunded'], remove: [] } : { add: ['refunded'], remove: [] };
    case 'chargeback':
      return { status: 'chargeback', add: ['chargeback'], remove: [] };
    case 'chargeback_reversed':
      // The money is the merchant's again: a customer (a subscription's state comes with its own events).
      return { status: 'customer', add: ['customer'], remove: ['chargeback'] };
    case 'order_cancelled':
    case 'fulfillment_shipped':
    case 'fulfillment_delivered':
      return { add: [], remove: [] };
  }
}

/** The tag's name in ActiveCampaign. */
export function tagName(prefix: string, tag: LifecycleTag): string {
  return `${prefix}${tag}`;
}
