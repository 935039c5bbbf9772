/**
 * @module events
 * The funnel events a page reports besides lead fields: page views, the cart and the order.
 */
import type { CartItem } from '../../collector/wire-schema.js';
import { page } from './config.js';
import { track } from './transport.js';

/** Longest URL the collector takes. */
const clip = (url: string) => url.slice(0, 2048);

/** The URL of the last page view, the referrer of the next one in a single-page app. */
export let lastUrl = '';

/** A page view with the full URL: affiliate and UTM parameters reach the collector as they are. */
export function trackPage(referrer: string): void {
  track({ type: 'page', page, url: clip(location.href), referrer: clip(referrer) || undefined });
  lastUrl = location.href;
}

export interface CartInput {
  items?: { id?: unknown; name?: unknown; price?: unknown; qty?: unknown }[];
  currency?: unknown;
}

const bound = (value: number, min: number, max: number) => Math.min(max, Math.max(min, value || 0));

/**
 * The cart, made to fit the collector's schema: a value it would refuse would make it drop the
 * whole batch, lead fields included.
 */
export function trackCart({ items = [], currency }: CartInput): void {
  const code = String(currency || 'USD').toUpperCase();
  track({
    type: 'cart',
    items: items.slice(0, 25).map(
      ({ id, name, price, qty }): CartItem => ({
        id: String(id).slice(0, 64),
        name: name == null ? undefined : String(name).slice(0, 200),
        price: bound(+price!, 0, 1e6),
        qty: bound(Math.round(+qty!), 1, 1e3),
      }),
    ),
    currency: /^[A-Z]{3}$/.test(code) ? code : 'USD',
  });
}

/** The order id, when it has the shape of a Konnektive order id. */
export function trackOrder(orderId: unknown): void {
  const id = orderId == null ? '' : String(orderId);
  if (/^[\w-]{1,30}$/.test(id)) track({ type: 'order', orderId: id });
}
