/**
 * @module emission-payloads
 * Builds what a session tells ActiveCampaign. The browser says which products are in an unpaid
 * cart and how many of each; their names, prices, descriptions and pictures come from the
 * owner's catalogue (collector/catalogue/), never from the page. ORDER items, totals and email
 * come only from Konnektive's verified order.
 */
import type { ProductList } from '../catalogue/catalogue.js';
import { catalogueCart, type CataloguedCart } from '../catalogue/catalogued-cart.js';
import type { MediaHosts } from '../catalogue/media-hosts.js';
import type { CartEmission, CloseEmission, CustomerEmission, OrderEmission } from '../emit/emission.js';
import { isoDate } from '../emit/iso-date.js';
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

/**
 * The session's CART, its items priced by the catalogue; `cart` is undefined when the catalogue
 * knows none of them (then there is nothing of the owner's to show, and no CART is sent).
 */
export function cartPayload(session: Session, products: ProductList, media: MediaHosts): { cart: CartEmission | undefined; leftOut: CataloguedCart['leftOut'] } {
  const priced = catalogueCart(session.cart ?? { items: [], currency: 'USD' }, products, media);
  if (priced.items.length === 0) return { cart: undefined, leftOut: priced.leftOut };
  return {
    cart: {
      kind: 'cart',
      sessionId: session.id,
      cartId: cartIdOf(session),
      email: session.lead.emailAddress!,
      customerExternalId: customerIdOf(session),
      ...person(session),
      items: priced.items,
      totalCents: priced.totalCents,
      currency: priced.currency,
      abandonedAt: isoDate(session.lastSeenAt),
      createdAt: isoDate(session.createdAt),
    },
    leftOut: priced.leftOut,
  };
}

/**
 * The ORDER: items and prices are Konnektive's. Each item's picture and link are the catalogue's
 * (`products`, when it could be read), else those the page showed for the same product, when on
 * an allowed host.
 */
export function orderPayload(session: Session, order: VerifiedOrder, now: number, products: ProductList | undefined, media: MediaHosts): OrderEmission {
  return {
    kind: 'order',
    sessionId: session.id,
    cartId: cartIdOf(session),
    orderId: order.orderId,
    email: order.email ?? session.lead.emailAddress!,
    customerExternalId: order.customerId ?? customerIdOf(session),
    ...person(session),
    items: order.items.map((item) => {
      const owned = products?.get(item.productId);
      const shown = session.cart?.items.find((cartItem) => cartItem.id === item.productId);
      const imageUrl = owned?.imageUrl ?? media.allowed(shown?.imageUrl);
      const productUrl = owned?.productUrl ?? media.allowed(shown?.productUrl);
      return {
        id: item.productId,
        name: item.name,
        priceCents: item.priceCents,
        quantity: item.qty,
        ...(imageUrl ? { imageUrl } : {}),
        ...(productUrl ? { productUrl } : {}),
      };
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

/** Konnektive prints `YYYY-MM-DD HH:mm:ss`; read it as UTC. */
function crmTime(text: string): number | undefined {
  const match = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})/.exec(text);
  if (!match) return undefined;
  const [, y, mo, d, h, mi, s] = match.map(Number) as number[];
  return Date.UTC(y!, mo! - 1, d!, h!, mi!, s!);
}
