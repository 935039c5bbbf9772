/**
 * @module events
 * The funnel events a page reports besides lead fields: page views, the cart and the order.
 */
import type { CartItem } from '../../collector/wire-schema.js';
import { page } from './config.js';
import { track } from './transport.js';

/**
 * A URL as it is, without its fragment: the fragment never leaves the browser (a page keeps its
 * own state there, and sign-in flows their tokens), so the collector never stores it. Beyond
 * the 2,048 characters the collector takes, without its query too, so an affiliate or UTM value
 * is sent whole or not at all, never cut (only an absurd path is cut).
 */
const whole = (href: string): string => {
  const url = href.split('#')[0]!;
  return url.length > 2048 ? url.split('?')[0]!.slice(0, 2048) : url;
};

/** The URL of the last page view as sent: the referrer of the next one in a single-page app. */
let lastUrl = whole(document.referrer);

/** A page view with the URL: affiliate and UTM parameters reach the collector as they are. */
export const trackPage = (): void =>
  // The referrer first: then `lastUrl` becomes this page's URL.
  track({ type: 'page', page, referrer: lastUrl, url: (lastUrl = whole(location.href)) });

/** The cart of the `cart` command: `{ items: [{ id, name, price, qty }], currency }`, as the collector takes it. */
export const trackCart = (cart: { items: CartItem[]; currency: string }): void => track({ ...cart, type: 'cart' });

/** The order id, when it has the shape of a Konnektive order id (anything else would be refused). */
export const trackOrder = (orderId?: string | null): void => {
  if (orderId && /^[\w-]{1,30}$/.test(orderId)) track({ type: 'order', orderId });
};
