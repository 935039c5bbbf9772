/**
 * @module lifecycle-event
 * What happened to a customer after the order, as the lifecycle sync tells ActiveCampaign: one
 * record per real change that Konnektive's records show (a rebill, a decline, a refund, a cancel,
 * a shipment). The detector (Konnektive side) makes them from what it reads; the delivery (the
 * ActiveCampaign side) turns each into calls. Between the two, each is stored once under its
 * {@link LifecycleEvent.id} and delivered through the outbox.
 *
 * Values a buyer typed or Konnektive holds (names, emails, reasons, tracking numbers) are carried
 * exactly as Konnektive answered them; amounts are integer cents.
 */

export const LIFECYCLE_EVENT_KINDS = [
  /** A first sale (not a rebill) completed: captured, or sold without capture. */
  'sale_completed',
  /** A first sale declined, soft or hard, with the decline text. */
  'sale_declined',
  /** A subscription's rebill succeeded (its own ActiveCampaign order, keyed by its transaction). */
  'rebill_succeeded',
  /** A rebill declined: the subscription goes into retries (Konnektive's RECYCLE_BILLING). */
  'rebill_declined',
  /** The retries of a declined rebill are exhausted (RECYCLE_FAILED). */
  'retries_exhausted',
  'subscription_cancelled',
  'subscription_paused',
  /** A cancelled or paused subscription became active again. */
  'subscription_reactivated',
  /** Money given back on a sale, in full or in part. */
  'refund',
  'void',
  'chargeback',
  /** A chargeback Konnektive recorded was reverted. */
  'chargeback_reversed',
  'order_cancelled',
  'fulfillment_shipped',
  'fulfillment_delivered',
] as const;
export type LifecycleEventKind = (typeof LIFECYCLE_EVENT_KINDS)[number];

export interface LifecycleCustomer {
  /** Konnektive's customer id, when the record names one. */
  customerId?: string;
  /** The customer's email as Konnektive holds it: the ActiveCampaign contact. Required to deliver. */
  email?: string;
  firstName?: string;
  lastName?: string;
  phone?: string;
}

export interface LifecycleEvent {
  /**
   * Stable, made from Konnektive's ids and the change itself (e.g. `txn:812:refund`,
   * `purchase:77:status:CANCELLED:2026-12-01 10:02:11`), so the same change found twice (by an
   * overlapping window, a restart, a second collector, a postback and the poll) is one event.
   */
  id: string;
  kind: LifecycleEventKind;
  /** When it happened, as Konnektive wrote it: wall-clock time in the account's time zone, no offset. */
  occurredAt: string;
  customer: LifecycleCustomer;
  campaignId?: string;
  orderId?: string;
  transactionId?: string;
  purchaseId?: string;
  /** The amount moved: the sale, the rebill, the refund, the chargeback. */
  amountCents?: number;
  currency?: string;
  productId?: string;
  productName?: string;
  /** Decline text, cancel reason, chargeback reason code: as Konnektive gave it. */
  reason?: string;
  declineType?: 'soft' | 'hard';
  /** A refund, void or chargeback: the transaction of the sale (or rebill) it returns. */
  returnsTransactionId?: string;
  /** A refund: whether it returned the whole sale. */
  fullRefund?: boolean;
  /** A subscription after this change: its billing cycle and next bill date (YYYY-MM-DD). */
  billingCycle?: number;
  nextBillDate?: string;
  trackingNumber?: string;
  carrier?: string;
  /**
   * Found by the backfill of history (`funnelbeacon sync --since`), not as it happened:
   * ActiveCampaign gets its order as historical (`source` 0: no "Makes a purchase" automation, not
   * on the e-commerce dashboard), its fields and tags, and no tracked event, so no automation
   * runs for the past.
   */
  historical?: boolean;
}
