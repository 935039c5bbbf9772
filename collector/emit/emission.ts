/**
 * @module emission
 * What the collector tells ActiveCampaign, independent of the route it takes (`EMIT_VIA`):
 * CUSTOMER (a lead with an email), CART (an abandoned cart) and ORDER (a verified purchase).
 * Amounts are integer cents and dates ISO 8601 with an offset, as ActiveCampaign wants them.
 */
import type { CallRecord } from '../outbox/upstream-call.js';

export interface EmissionItem {
  /** The product id in Konnektive: ActiveCampaign's `orderProducts[].externalid`. */
  id: string;
  name: string;
  priceCents: number;
  quantity: number;
  /** Shown by ActiveCampaign's abandoned-cart email: `orderProducts[].imageUrl` and so on. */
  imageUrl?: string;
  productUrl?: string;
  sku?: string;
  category?: string;
  description?: string;
}

/** The optional product fields, in the order they are sent. */
const PRODUCT_DETAILS = ['imageUrl', 'productUrl', 'sku', 'category', 'description'] as const;

/**
 * ActiveCampaign's `orderProducts[]` entries for the items, on either route: prices in cents,
 * and the product details ActiveCampaign's abandoned-cart email shows. Names, prices and
 * details are the owner's catalogue's, never the page's (collector/catalogue/).
 */
export function orderProducts(items: readonly EmissionItem[]): Array<Record<string, string | number>> {
  return items.map((item) => {
    const product: Record<string, string | number> = { externalid: item.id, name: item.name, price: item.priceCents, quantity: item.quantity };
    for (const key of PRODUCT_DETAILS) if (item[key] !== undefined && item[key] !== '') product[key] = item[key];
    return product;
  });
}

/** Who the CUSTOMER, CART or ORDER is about. */
interface Buyer {
  sessionId: string;
  email: string;
  /** Konnektive's customerId when Import Lead returned one, else the session id. */
  customerExternalId: string;
  firstName?: string;
  lastName?: string;
}

/** What a CART or ORDER holds. */
interface Basket {
  /** `externalcheckoutid`: the session's cart id, shared by its CART and its ORDER. */
  cartId: string;
  items: EmissionItem[];
  totalCents: number;
  currency: string;
}

export interface CustomerEmission extends Buyer {
  kind: 'customer';
  phone?: string;
}

export interface CartEmission extends Buyer, Basket {
  kind: 'cart';
  /** The session's last activity: ISO 8601 with offset. */
  abandonedAt: string;
  createdAt: string;
  /**
   * Where "Return to checkout" leads: the session's signed recovery link (`PUBLIC_URL/r/<token>`),
   * added when the CART is delivered.
   */
  orderUrl?: string;
}

export interface OrderEmission extends Buyer, Basket {
  kind: 'order';
  /** Konnektive's order id: `externalid`. */
  orderId: string;
  orderedAt: string;
  /** ActiveCampaign's id of the CART sent earlier for this session (direct route: PUT to it). */
  cartRemoteId?: string;
  /** A CART was sent before for this session (recovery). */
  recoversCart: boolean;
  /** An order from the past (a lifecycle backfill): ActiveCampaign's `source` 0, which starts no automation. */
  historical?: boolean;
}

/**
 * A CART whose buyer then paid with another order (a new session, another device, a phone
 * order): the abandoned cart is taken out of ActiveCampaign so its automation stops emailing
 * someone who bought. That order's revenue is counted by its own ORDER, never by this cart.
 */
export interface CloseEmission {
  kind: 'close';
  sessionId: string;
  /** The CART's `externalcheckoutid`. */
  cartId: string;
  /** Konnektive's order that paid for it (for the delivery log). */
  paidWith: string;
  /** ActiveCampaign's id of the CART, when its delivery recorded one. */
  cartRemoteId?: string;
}

/** What one route delivers (the store's `Emission` is the record of it, with its status). */
export type EmissionMessage = CustomerEmission | CartEmission | OrderEmission | CloseEmission;

/**
 * How a delivery attempt went. `transient` and `rate_limited` are retried (after `retryAt` when
 * given), `rejected` goes to the dead letters with the upstream's message, `auth` pauses the route.
 */
export type EmitResult =
  | { ok: true; remoteId?: string }
  | { ok: false; failure: 'transient' | 'rejected' | 'auth' | 'rate_limited'; message: string; retryAt?: number }
  /** Only with `lookupOnly`: the record does not exist upstream. */
  | { ok: false; failure: 'absent'; message: string };

export interface EmitContext {
  /**
   * An earlier attempt may have reached the upstream (the emission was marked `sending` and the
   * process died before recording the answer): look the record up before creating it.
   */
  mayAlreadyExist: boolean;
  /**
   * Look the record up and create nothing: a CART whose buyer has since reported an order is
   * only recorded as sent if an earlier attempt did reach the upstream.
   */
  lookupOnly?: boolean;
  /** Log of each HTTP call the route makes (redacted summaries), for the delivery-attempt table. */
  record(call: CallRecord): void;
}

/** One emission route: `konnektive`, `activecampaign` or `sandbox`. */
export interface Emitter {
  readonly route: 'konnektive' | 'activecampaign' | 'sandbox';
  emit(emission: EmissionMessage, context: EmitContext): Promise<EmitResult>;
}
