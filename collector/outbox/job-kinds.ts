/**
 * @module job-kinds
 * Every kind of outbox job, and the upstream it calls. A job's payload is what the call needs
 * that is not in the session row at the time it runs.
 */
import type { EmitVia } from '../config.js';
import type { EmissionKind, Upstream } from '../store/store.js';
import type { ConversionName } from '../wire-schema.js';

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
  /** Reads what changed in Konnektive over the lifecycle window; one pending at a time (collector/lifecycle/). */
  lifecyclePoll: 'lifecycle.poll',
  /** Tells ActiveCampaign one lifecycle event (its payload); queued per customer, so a customer's events keep their order. */
  lifecycleDeliver: 'lifecycle.deliver',
  /** One conversion (its payload) to Meta's Conversions API; queued per session apart from its funnel jobs (collector/conversions/). */
  metaConversion: 'meta.conversion',
  /** The same conversion to TikTok's Events API. */
  tiktokConversion: 'tiktok.conversion',
  /** Works out which affiliate postbacks an event (a lead, a sale, a refund...) fires, and queues each (collector/postbacks/). */
  postbackRoute: 'postback.route',
  /** Fires one affiliate postback (its payload) at its network. */
  postbackFire: 'postback.fire',
} as const);
export type JobKind = (typeof JOB_KINDS)[keyof typeof JOB_KINDS];

/** The job that delivers each kind of emission. */
export const EMIT_JOB_KIND = {
  customer: JOB_KINDS.emitCustomer,
  cart: JOB_KINDS.emitCart,
  order: JOB_KINDS.emitOrder,
  close: JOB_KINDS.emitClose,
} as const satisfies Record<EmissionKind, JobKind>;
export type EmitJobKind = (typeof EMIT_JOB_KIND)[keyof typeof EMIT_JOB_KIND];

const EMIT_KINDS: ReadonlySet<string> = new Set(Object.values(EMIT_JOB_KIND));

export function isJobKind(kind: string): kind is JobKind {
  return (Object.values(JOB_KINDS) as string[]).includes(kind);
}

/** The upstream emissions go to: Konnektive's ActiveCampaign route, else ActiveCampaign (or the sandbox's record of it). */
export function emissionUpstream(emitVia: EmitVia): Upstream {
  return emitVia === 'konnektive' ? 'konnektive' : 'activecampaign';
}

/** The upstream a job of this kind calls. */
export function jobUpstream(kind: JobKind, emitVia: EmitVia): Upstream {
  // Lifecycle events go to ActiveCampaign directly: the sync requires its credentials.
  if (kind === JOB_KINDS.lifecycleDeliver) return 'activecampaign';
  if (kind === JOB_KINDS.metaConversion) return 'meta';
  if (kind === JOB_KINDS.tiktokConversion) return 'tiktok';
  if (kind === JOB_KINDS.postbackRoute || kind === JOB_KINDS.postbackFire) return 'postbacks';
  return EMIT_KINDS.has(kind) ? emissionUpstream(emitVia) : 'konnektive';
}

/** Payload of a click job: the request as the browser made it, kept for the Import Click call. */
export interface ClickJobPayload {
  page: string;
  url: string;
  referrer?: string;
}

/**
 * Payload of a conversion job: what the conversion needs that the session row may no longer say
 * when the job runs (the page it happened on, when, and for a Purchase the verified order).
 */
export interface ConversionJobPayload {
  /** The funnel session the conversion belongs to (the job's own queue key is per platform). */
  session: string;
  name: ConversionName;
  /** When its cause happened (ms since the epoch). */
  at: number;
  sourceUrl?: string;
  /** A Purchase: the order as Konnektive verified it. */
  order?: { orderId: string; customerId?: string; totalCents: number; currency: string; items: { productId: string; name: string; qty: number; priceCents: number }[]; test: boolean };
}
