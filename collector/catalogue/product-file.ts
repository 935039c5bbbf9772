/**
 * @module product-file
 * `PRODUCTS_FILE`: the owner's own product list, as JSON, read once at start-up and checked with
 * zod; every problem is named with its place in the file, and the collector does not start until
 * the file is right. The format (docs/recovery.md, "What ActiveCampaign's abandoned-cart email shows"):
 *
 * ```json
 * { "currency": "USD",
 *   "products": [
 *     { "id": "41", "name": "Bottle", "price": 39.95,
 *       "imageUrl": "https://cdn.example/bottle.png", "productUrl": "https://offer.example/bottle",
 *       "sku": "BTL-1", "category": "Bottles", "description": "A steel bottle" } ] }
 * ```
 *
 * `id` is the Konnektive campaign product id the pages give (`data-product`); `price` is in the
 * currency's units, as on the page. `currency` may be given per product, else the file's, else
 * the page's. A changed file takes effect at the next start.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { toCents } from '../emit/iso-date.js';
import type { Catalogue, CatalogueProduct, ProductList } from './catalogue.js';

const Currency = z.string().regex(/^[A-Z]{3}$/, 'expected a 3-letter ISO currency code such as USD');

const OwnerUrl = z
  .string()
  .max(2048)
  .refine((text) => {
    try {
      const url = new URL(text);
      return (url.protocol === 'https:' || url.protocol === 'http:') && !/\s/.test(text);
    } catch {
      return false;
    }
  }, 'expected an absolute http(s) URL');

/** A price ActiveCampaign can show exactly: at most two decimals. */
const Price = z
  .number()
  .min(0)
  .max(1_000_000)
  .refine((price) => Math.abs(price * 100 - Math.round(price * 100)) < 1e-6, 'at most two decimals');

const Product = z
  .object({
    id: z.union([z.string().trim().min(1).max(64), z.number().int().nonnegative()]).transform(String),
    name: z.string().trim().min(1).max(255),
    price: Price,
    currency: Currency.optional(),
    imageUrl: OwnerUrl.optional(),
    productUrl: OwnerUrl.optional(),
    sku: z.string().min(1).max(100).optional(),
    category: z.string().min(1).max(200).optional(),
    description: z.string().min(1).max(1000).optional(),
  })
  .strict();

const ProductFile = z
  .object({
    currency: Currency.optional(),
    products: z.array(Product).min(1, 'list at least one product').max(10_000),
  })
  .strict()
  .superRefine((file, ctx) => {
    const seen = new Map<string, number>();
    file.products.forEach((product, index) => {
      const first = seen.get(product.id);
      if (first !== undefined) ctx.addIssue({ code: 'custom', path: ['products', index, 'id'], message: `"${product.id}" is listed twice (also products[${first}])` });
      else seen.set(product.id, index);
    });
  });

/** A file larger than this is not a product list: refused before parsing. */
const MAX_FILE_BYTES = 5 * 1024 * 1024;

export type ProductFileRead = { ok: true; products: ProductList } | { ok: false; problems: string[] };

/** `products[3].price` */
function place(path: readonly PropertyKey[]): string {
  return path.reduce<string>((text, key) => (typeof key === 'number' ? `${text}[${key}]` : text ? `${text}.${String(key)}` : String(key)), '');
}

/** Parses the file's text; `name` (its path) is only for the messages. */
export function parseProductFile(text: string, name: string): ProductFileRead {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return { ok: false, problems: [`${name} is not valid JSON (${error instanceof Error ? error.message : String(error)})`] };
  }
  const parsed = ProductFile.safeParse(json);
  if (!parsed.success) return { ok: false, problems: parsed.error.issues.map((issue) => `${name}: ${place(issue.path) || 'the file'}: ${issue.message}`) };
  const products = new Map<string, CatalogueProduct>();
  for (const item of parsed.data.products) {
    const currency = item.currency ?? parsed.data.currency;
    products.set(item.id, {
      id: item.id,
      name: item.name,
      priceCents: toCents(item.price),
      ...(currency ? { currency } : {}),
      ...(item.imageUrl ? { imageUrl: item.imageUrl } : {}),
      ...(item.productUrl ? { productUrl: item.productUrl } : {}),
      ...(item.sku ? { sku: item.sku } : {}),
      ...(item.category ? { category: item.category } : {}),
      ...(item.description ? { description: item.description } : {}),
    });
  }
  return { ok: true, products };
}

export function readProductFile(path: string): ProductFileRead {
  let text: string;
  try {
    const bytes = readFileSync(path);
    if (bytes.length > MAX_FILE_BYTES) return { ok: false, problems: [`${path} is larger than ${MAX_FILE_BYTES / 1024 / 1024} MB`] };
    text = bytes.toString('utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return { ok: false, problems: [`cannot read ${path} (${code ?? (error instanceof Error ? error.message : String(error))})`] };
  }
  return parseProductFile(text, path);
}

/** The same products for every campaign: product ids are unique across a Konnektive account. */
export function fileCatalogue(products: ProductList): Catalogue {
  const answer = { ok: true as const, products };
  return {
    source: 'file',
    products: async () => answer,
  };
}
