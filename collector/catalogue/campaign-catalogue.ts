/**
 * @module campaign-catalogue
 * Konnektive's campaign products as the catalogue (docs/upstreams.md, "Query Campaign"): one
 * Query Campaign per campaign, kept for {@link FRESH_MS}. Product names and prices change rarely,
 * and a burst of abandoned carts then costs one call, not one each. Calls for the same campaign at
 * the same time share one request.
 *
 * A failed read falls back to the last good answer while it is younger than {@link STALE_MS} (the
 * owner's products of a few hours ago are still the owner's); without one the read fails and the
 * job that wanted it is retried by the outbox. Nothing here ever falls back to what a browser sent.
 */
import type { Clock } from '../clock.js';
import { toCents } from '../emit/iso-date.js';
import type { AskCampaign, Catalogue, CatalogueProduct, CatalogueRead, ProductList } from './catalogue.js';

/** How long an answer is used without asking again. */
export const FRESH_MS = 15 * 60_000;
/** How long an older answer still stands in while Konnektive fails. */
export const STALE_MS = 24 * 60 * 60_000;
/** Campaigns kept at once; the allowed campaigns are far fewer, so this only bounds memory. */
const MAX_CAMPAIGNS = 200;

export interface CampaignCatalogueOptions {
  clock: Clock;
  freshMs?: number;
  staleMs?: number;
}

export function campaignCatalogue({ clock, freshMs = FRESH_MS, staleMs = STALE_MS }: CampaignCatalogueOptions): Catalogue {
  const cache = new Map<string, { products: ProductList; at: number }>();
  const reading = new Map<string, Promise<CatalogueRead>>();

  async function load(campaignId: string, ask: AskCampaign): Promise<CatalogueRead> {
    const result = await ask({ campaignId });
    if (!result.ok) return { ok: false, failure: result.failure, message: `Query Campaign: ${result.message}` };
    const read = campaignProducts(result.message, campaignId);
    if (read.ok) {
      cache.delete(campaignId);
      cache.set(campaignId, { products: read.products, at: clock.now() });
      // Oldest first: Map keeps insertion order, and a refreshed campaign moves to the end.
      if (cache.size > MAX_CAMPAIGNS) cache.delete(cache.keys().next().value!);
    }
    return read;
  }

  return {
    source: 'konnektive',
    async products(campaignId, ask) {
      const cached = cache.get(campaignId);
      if (cached && clock.now() - cached.at < freshMs) return { ok: true, products: cached.products };
      let pending = reading.get(campaignId);
      if (!pending) {
        pending = load(campaignId, ask).finally(() => reading.delete(campaignId));
        reading.set(campaignId, pending);
      }
      const read = await pending;
      if (read.ok) return read;
      const last = cache.get(campaignId);
      if (last && clock.now() - last.at < staleMs) return { ok: true, products: last.products };
      return read;
    },
  };
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** An absolute http(s) URL, as the owner gave it; anything else is left out. */
function ownerUrl(value: unknown): string | undefined {
  if (typeof value !== 'string' || value === '' || value.length > 2048 || /\s/.test(value)) return undefined;
  try {
    const url = new URL(value);
    return url.protocol === 'https:' || url.protocol === 'http:' ? value : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Reads a Query Campaign answer: `message.data` holds each campaign under its id, with its
 * `currency` and `products[]` of `{campaignProductId, productName, price, imageUrl, …}` (money as
 * dollar strings). A list of campaigns is read too. A product without an id, a name or a price is
 * left out: the catalogue does not know it.
 */
export function campaignProducts(message: Record<string, unknown>, campaignId: string): CatalogueRead {
  const data = message.data;
  const campaign = Array.isArray(data)
    ? data.find((entry) => isRecord(entry) && String(entry.campaignId) === campaignId)
    : isRecord(data)
      ? data[campaignId]
      : undefined;
  if (!isRecord(campaign) || !Array.isArray(campaign.products)) {
    return { ok: false, failure: 'transient', message: `Query Campaign answered without the products of campaign ${campaignId}` };
  }
  const currency = typeof campaign.currency === 'string' && /^[A-Z]{3}$/.test(campaign.currency) ? campaign.currency : undefined;
  const products = new Map<string, CatalogueProduct>();
  for (const raw of campaign.products as unknown[]) {
    if (!isRecord(raw)) continue;
    const id = typeof raw.campaignProductId === 'number' || typeof raw.campaignProductId === 'string' ? String(raw.campaignProductId).trim() : '';
    const name = typeof raw.productName === 'string' ? raw.productName.trim() : '';
    const priceCents = typeof raw.price === 'number' || typeof raw.price === 'string' ? toCents(String(raw.price)) : Number.NaN;
    if (!id || !name || !Number.isInteger(priceCents) || priceCents < 0) continue;
    const imageUrl = ownerUrl(raw.imageUrl);
    products.set(id, { id, name, priceCents, ...(currency ? { currency } : {}), ...(imageUrl ? { imageUrl } : {}) });
  }
  return { ok: true, products };
}
