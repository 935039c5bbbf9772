/**
 * @module events
 * The funnel events a page reports besides lead fields: page views, the cart and the order.
 */
import { page } from './config.js';
import { track } from './transport.js';

/** The URL of the last page view: the referrer of the next one in a single-page app. */
export let lastUrl = '';

/** A page view with the full URL: affiliate and UTM parameters reach the collector as they are. */
export const trackPage = (referrer: string): void => {
  // 2048: the longest URL the collector takes.
  track({ type: 'page', page, url: location.href.slice(0, 2048), referrer: referrer.slice(0, 2048) });
  lastUrl = location.href;
};

export interface CartInput {
  items?: { id?: unknown; name?: string; price?: unknown; qty?: unknown }[];
  currency?: string;
}

/**
 * The cart, coerced into the collector's schema: a value it refuses would make it refuse the
 * whole batch, lead fields included.
 */
export const trackCart = ({ items = [], currency }: CartInput): void =>
  track({
    type: 'cart',
    items: items.map(({ id, name, price, qty }) => ({
      id: '' + id,
      name: name as string | undefined,
      price: +price! || 0,
      qty: +qty! || 1,
    })),
    currency: /^[A-Z]{3}$/.test(currency!) ? currency! : 'USD',
  });

/** The order id, when it has the shape of a Konnektive order id. */
export const trackOrder = (orderId: unknown): void => {
  const id = String(orderId || '');
  if (/^[\w-]{1,30}$/.test(id)) track({ type: 'order', orderId: id });
};
