/**
 * @module job-kinds
 * Every kind of outbox job, and the upstream it calls. A job's payload is what the call needs
 * that is not in the session row at the time it runs.
 */
import type { Upstream } from '../store/store.js';

export const JOB_KINDS = Object.freeze({
  konnektiveClick: 'konnektive.click',
  konnektiveLead: 'konnektive.lead',
  /** Query Order before a CART: paid after all means ORDER instead. */
  purchaseRecheck: 'purchase.recheck',
  /** Query Order for a reported order, then the ORDER. */
  orderFinalize: 'order.finalize',
  emitCustomer: 'emit.customer',
  emitCart: 'emit.cart',
  emitOrder: 'emit.order',
  /** Closes a CART whose buyer paid with another order. */
  emitClose: 'emit.close',
} as const);
export type JobKind = (typeof JOB_KINDS)[keyof typeof JOB_KINDS];

/** Upstream of the jobs that always call Konnektive; emissions go where `EMIT_VIA` says. */
export const JOB_UPSTREAM: Record<'konnektive.click' | 'konnektive.lead' | 'purchase.recheck' | 'order.finalize', Upstream> = {
  'konnektive.click': 'konnektive',
  'konnektive.lead': 'konnektive',
  'purchase.recheck': 'konnektive',
  'order.finalize': 'konnektive',
};

export const EMIT_JOB_KIND = {
  customer: JOB_KINDS.emitCustomer,
  cart: JOB_KINDS.emitCart,
  order: JOB_KINDS.emitOrder,
  close: JOB_KINDS.emitClose,
} as const;

/** Payload of a click job: the request as the browser made it, kept for the Import Click call. */
export interface ClickJobPayload {
  page: string;
  url: string;
  referrer?: string;
}
