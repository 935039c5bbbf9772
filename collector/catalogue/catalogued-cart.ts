/**
 * @module catalogued-cart
 * A browser's cart turned into what a CART may carry: for each item the catalogue knows, the
 * catalogue's name, price, currency, SKU, category and description, and the catalogue's image
 * and page URLs (else the page's, when on an allowed host: media-hosts.ts). The browser supplies
 * only which products and how many of each.
 *
 * An item the catalogue does not know is left out, whole: it never travels with the browser's
 * text instead. So is an item priced in another currency than the cart's first known item (one
 * ActiveCampaign order has one currency).
 */
import type { EmissionItem } from '../emit/emission.js';
import type { Cart } from '../store/store.js';
import type { ProductList } from './catalogue.js';
import type { MediaHosts } from './media-hosts.js';

export interface CataloguedCart {
  items: EmissionItem[];
  currency: string;
  totalCents: number;
  /** Product ids left out, and why (logged, never sent). */
  leftOut: { id: string; reason: 'unknown' | 'currency' }[];
}

export function catalogueCart(cart: Cart, products: ProductList, media: MediaHosts): CataloguedCart {
  const items: EmissionItem[] = [];
  const leftOut: CataloguedCart['leftOut'] = [];
  let currency: string | undefined;
  for (const item of cart.items) {
    const product = products.get(item.id);
    if (!product) {
      leftOut.push({ id: item.id, reason: 'unknown' });
      continue;
    }
    const itemCurrency = product.currency ?? cart.currency;
    currency ??= itemCurrency;
    if (itemCurrency !== currency) {
      leftOut.push({ id: item.id, reason: 'currency' });
      continue;
    }
    const imageUrl = product.imageUrl ?? media.allowed(item.imageUrl);
    const productUrl = product.productUrl ?? media.allowed(item.productUrl);
    items.push({
      id: product.id,
      name: product.name,
      priceCents: product.priceCents,
      quantity: item.qty,
      ...(imageUrl ? { imageUrl } : {}),
      ...(productUrl ? { productUrl } : {}),
      ...(product.sku ? { sku: product.sku } : {}),
      ...(product.category ? { category: product.category } : {}),
      ...(product.description ? { description: product.description } : {}),
    });
  }
  return {
    items,
    currency: currency ?? cart.currency,
    totalCents: items.reduce((sum, item) => sum + item.priceCents * item.quantity, 0),
    leftOut,
  };
}
