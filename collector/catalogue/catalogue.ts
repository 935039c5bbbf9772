/**
 * @module catalogue
 * Where a CART's products come from: a source the funnel's owner controls, never the browser.
 * Anyone can post a lead with any email and a cart they wrote; what ActiveCampaign's
 * abandoned-cart email then shows (product names, prices, descriptions, pictures, links) must be
 * the owner's, so a CART is built from the catalogue, keyed by the product id the page gives
 * (`data-product`, a cart item's `id`: Konnektive campaign product ids).
 *
 * Two sources, chosen once at start-up:
 * - `PRODUCTS_FILE`: a JSON file the owner writes (product-file.ts), read and checked at start;
 * - otherwise Konnektive's campaign products (Query Campaign, campaign-catalogue.ts), cached.
 *
 * The catalogue is read by the outbox job that builds the CART (`purchase.recheck`), never inside
 * an ingest request; a fault while reading it delays that CART through the outbox's own retries.
 */
import type { Clock } from '../clock.js';
import type { Config } from '../config.js';
import type { KonnektiveResult } from '../konnektive/konnektive-client.js';
import { campaignCatalogue } from './campaign-catalogue.js';
import { fileCatalogue, readProductFile } from './product-file.js';

/** One product as its owner describes it. Prices in integer cents. */
export interface CatalogueProduct {
  /** The Konnektive campaign product id the pages use (`data-product`). */
  id: string;
  name: string;
  priceCents: number;
  /** ISO 4217; absent when the source does not say (the page's currency is used then). */
  currency?: string;
  /** The owner's own URLs: sent as given. */
  imageUrl?: string;
  productUrl?: string;
  sku?: string;
  category?: string;
  description?: string;
}

/** A campaign's products, by product id. */
export type ProductList = ReadonlyMap<string, CatalogueProduct>;

export type CatalogueRead = { ok: true; products: ProductList } | { ok: false; failure: 'auth' | 'transient' | 'rejected'; message: string };

/** One Query Campaign call, made and recorded by the job that needs the products. */
export type AskCampaign = (params: Record<string, string>) => Promise<KonnektiveResult>;

export interface Catalogue {
  readonly source: 'file' | 'konnektive';
  /** The products of a campaign; `ask` is used only when Konnektive has to be asked. */
  products(campaignId: string, ask: AskCampaign): Promise<CatalogueRead>;
}

/** `PRODUCTS_FILE` has problems: one line each. Start-up stops on it. */
export class ProductFileError extends Error {
  readonly problems: readonly string[];
  constructor(problems: string[]) {
    super(`PRODUCTS_FILE has problems:\n${problems.map((problem) => `  ${problem}`).join('\n')}`);
    this.name = 'ProductFileError';
    this.problems = problems;
  }
}

/** The catalogue the configuration names; throws {@link ProductFileError} on a bad product file. */
export function createCatalogue(config: Pick<Config, 'productsFile'>, clock: Clock): Catalogue {
  if (config.productsFile === undefined) return campaignCatalogue({ clock });
  const read = readProductFile(config.productsFile);
  if (!read.ok) throw new ProductFileError(read.problems);
  return fileCatalogue(read.products);
}
