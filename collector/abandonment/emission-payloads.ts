/**
 * @module emission-payloads
 * Builds what a session tells ActiveCampaign. CART items and prices are the cart the page showed
 * (nothing else knows an unpaid cart); ORDER items, totals and email come only from Konnektive's
 * verified order.
 */
import type { CartEmission, CloseEmission, CustomerEmission, EmissionItem, OrderEmission } from '../emit/emission.js';
import { isoDate, toCents } from '../emit/iso-date.js';
import type { Session, VerifiedOrder } from '../store/store.js';

/** The cart id (`externalcheckoutid`): the session id, stable from first page to ORDER. */
export const cartIdOf = (session: Session): string => session.id;

const customerIdOf = (session: Session): string => session.konnektive.customerId ?? session.id;

function person(session: Session): { firstName?: string; lastName?: string } {
  return {
    ...(session.lead.firstName ? { firstName: session.lead.firstName } : {}),
    ...(session.lead.lastName ? { lastName: session.lead.lastName } : {}),
  };
}

export function customerPayload(session: Session): CustomerEmission {
  return {
    kind: 'customer',
    sessionId: session.id,
    email: session.lead.emailAddress!,
    customerExternalId: customerIdOf(session),
    ...person(session),
    ...(session.lead.phoneNumber ? { phone: session.lead.phoneNumber } : {}),
  };
}

export function cartPayload(session: Session): CartEmission {
  const items: EmissionItem[] = (session.cart?.items ?? []).map((item) => ({
    id: item.id,
    name: item.name ?? item.id,
    priceCents: toCents(item.price),
    quantity: item.qty,
    ...pick(item, ['imageUrl', 'productUrl', 'sku', 'category', 'description']),
  }));
  return {
    kind: 'cart',
    sessionId: session.id,
    cartId: cartIdOf(session),
    email: session.lead.emailAddress!,
    customerExternalId: customerIdOf(session),
    ...person(session),
    items,
    totalCents: items.reduce((sum, item) => sum + item.priceCents * item.quantity, 0),
    currency: session.cart?.currency ?? 'USD',
    abandonedAt: isoDate(session.lastSeenAt),
    createdAt: isoDate(session.createdAt),
  };
}

export function orderPayload(session: Session, order: VerifiedOrder, now: number): OrderEmission {
  return {
    kind: 'order',
    sessionId: session.id,
    cartId: cartIdOf(session),
    orderId: order.orderId,
    email: order.email ?? session.lead.emailAddress!,
    customerExternalId: order.customerId ?? customerIdOf(session),
    ...person(session),
    // Items and prices are Konnektive's; a product the cart showed lends its image and URL.
    items: order.items.map((item) => {
      const shown = session.cart?.items.find((cartItem) => cartItem.id === item.productId);
      return { id: item.productId, name: item.name, priceCents: item.priceCents, quantity: item.qty, ...(shown ? pick(shown, ['imageUrl', 'productUrl']) : {}) };
    }),
    totalCents: order.totalCents,
    currency: order.currency,
    orderedAt: isoDate(crmTime(order.createdAt) ?? now),
    recoversCart: false,
  };
}

export function closePayload(session: Session, paidWith: string): CloseEmission {
  return { kind: 'close', sessionId: session.id, cartId: cartIdOf(session), paidWith };
}

/** The given keys of `item` that hold a value. */
function pick<T extends object, K extends keyof T>(item: T, keys: readonly K[]): Partial<Pick<T, K>> {
  const out: Partial<Pick<T, K>> = {};
  for (const key of keys) if (item[key] !== undefined) out[key] = item[key];
  return out;
}

/** Konnektive prints `YYYY-MM-DD HH:mm:ss`; read it as UTC. */
function crmTime(text: string): number | undefined {
  const match = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})/.exec(text);
  if (!match) return undefined;
  const [, y, mo, d, h, mi, s] = match.map(Number) as number[];
  return Date.UTC(y!, mo! - 1, d!, h!, mi!, s!);
}
