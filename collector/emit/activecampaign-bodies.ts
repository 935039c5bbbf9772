/**
 * @module activecampaign-bodies
 * The requests that write CUSTOMER, CART and ORDER to ActiveCampaign's v3 Deep Data API, as
 * bodies (docs/upstreams.md, "Resources"). The direct route sends them; the sandbox records them,
 * so what the sandbox shows is what the direct route would send.
 */
import type { AcMethod } from './activecampaign-client.js';
import { orderProducts, type CartEmission, type CustomerEmission, type EmissionMessage, type OrderEmission } from './emission.js';
import { isoDate } from './iso-date.js';

/** The `service` of the connection funnelbeacon creates in AC. */
export const AC_SERVICE = 'funnelbeacon';

export interface AcIds {
  connectionid: string;
  customerid: string;
}

export function acConnectionBody(publicUrl: string): { connection: Record<string, string> } {
  const url = new URL(publicUrl);
  return {
    connection: {
      service: AC_SERVICE,
      externalid: url.host,
      name: `funnelbeacon (${url.host})`,
      logoUrl: `${url.origin}/logo.svg`,
      linkUrl: `${url.origin}/dashboard`,
    },
  };
}

/**
 * `acceptsMarketing` is left out: the funnel does not tell us whether the buyer opted in, and AC
 * keeps its own default rather than a guess of ours.
 */
export function acCustomerBody(emission: CustomerEmission | CartEmission | OrderEmission, connectionid: string): { ecomCustomer: Record<string, string> } {
  return { ecomCustomer: { connectionid, externalid: emission.customerExternalId, email: emission.email } };
}

export function acCartBody(cart: CartEmission, ids: AcIds): { ecomOrder: Record<string, unknown> } {
  return {
    ecomOrder: {
      externalcheckoutid: cart.cartId,
      source: 1,
      email: cart.email,
      orderProducts: orderProducts(cart.items),
      totalPrice: cart.totalCents,
      currency: cart.currency,
      connectionid: ids.connectionid,
      customerid: ids.customerid,
      externalCreatedDate: isoDate(cart.createdAt),
      externalUpdatedDate: isoDate(cart.abandonedAt),
      abandonedDate: isoDate(cart.abandonedAt),
      ...(cart.orderUrl === undefined ? {} : { orderUrl: cart.orderUrl }),
    },
  };
}

/**
 * The same body creates an order (POST) and turns an abandoned cart into a recovered order (PUT):
 * setting `externalid` is what AC's guide calls the recovery, and the items and total replace the
 * cart's with what was actually bought (upsells included).
 */
export function acOrderBody(order: OrderEmission, ids: AcIds): { ecomOrder: Record<string, unknown> } {
  return {
    ecomOrder: {
      externalid: order.orderId,
      source: order.historical ? 0 : 1,
      email: order.email,
      orderProducts: orderProducts(order.items),
      totalPrice: order.totalCents,
      currency: order.currency,
      connectionid: ids.connectionid,
      customerid: ids.customerid,
      externalCreatedDate: isoDate(order.orderedAt),
      externalUpdatedDate: isoDate(order.orderedAt),
    },
  };
}

/** The request that delivers an emission once the connection and customer are known. */
export function acRequestFor(emission: EmissionMessage, ids: AcIds): { method: AcMethod; path: string; body: unknown } {
  switch (emission.kind) {
    case 'customer':
      return { method: 'POST', path: '/ecomCustomers', body: acCustomerBody(emission, ids.connectionid) };
    case 'cart':
      return { method: 'POST', path: '/ecomOrders', body: acCartBody(emission, ids) };
    case 'order':
      return emission.cartRemoteId === undefined
        ? { method: 'POST', path: '/ecomOrders', body: acOrderBody(emission, ids) }
        : { method: 'PUT', path: `/ecomOrders/${encodeURIComponent(emission.cartRemoteId)}`, body: acOrderBody(emission, ids) };
    case 'close':
      // Deleting the abandoned cart stops its automation's emails; no revenue is written for
      // it (the order that paid counts its own, once).
      return { method: 'DELETE', path: `/ecomOrders/${encodeURIComponent(emission.cartRemoteId ?? '{cart id}')}`, body: undefined };
  }
}
