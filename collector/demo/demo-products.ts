/**
 * @module demo-products
 * The demo funnel's two products, shared by its pages (collector/demo/demo-pages.ts) and by sandbox
 * mode's Konnektive, which answers Query Campaign with them: the demo's CART is priced from the
 * catalogue like a live one, so what the dashboard records is what a live CART would carry.
 */

export interface DemoProduct {
  /** The Konnektive campaign product id the pages give (`data-product`). */
  id: string;
  name: string;
  /** Dollars, as on the page. */
  price: number;
}

export const BOTTLE: DemoProduct = Object.freeze({ id: '41', name: 'Bottle', price: 39.95 });
export const FILTER: DemoProduct = Object.freeze({ id: '42', name: 'Spare filter', price: 12.5 });

export const DEMO_PRODUCTS: readonly DemoProduct[] = Object.freeze([BOTTLE, FILTER]);
