/**
 * `PRODUCTS_FILE`: the owner's product list, checked at start-up with one line per problem; a
 * collector with a bad file does not start.
 */
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { systemClock } from '../clock.js';
import { parseConfig } from '../config.js';
import { startCollector } from '../server.js';
import { createCatalogue, ProductFileError } from './catalogue.js';
import { parseProductFile, readProductFile } from './product-file.js';

const ask = () => Promise.reject(new Error('a product file never asks Konnektive'));

function fileWith(content: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'funnelbeacon-products-')), 'products.json');
  writeFileSync(path, content);
  return path;
}

describe('the product file', () => {
  it('lists the owner products by id, prices in cents, currency from the product or the file', async () => {
    const path = fileWith(
      JSON.stringify({
        currency: 'EUR',
        products: [
          { id: '41', name: 'Bottle', price: 39.95, imageUrl: 'https://cdn.example/b.png', productUrl: 'https://offer.example/b', sku: 'BTL-1', category: 'Bottles', description: 'A steel bottle' },
          { id: 42, name: ' Spare filter ', price: 12.5, currency: 'USD' },
        ],
      }),
    );
    const catalogue = createCatalogue({ productsFile: path }, systemClock);
    expect(catalogue.source).toBe('file');
    const read = await catalogue.products('12', ask);
    expect(read.ok && [...read.products.values()]).toEqual([
      { id: '41', name: 'Bottle', priceCents: 3995, currency: 'EUR', imageUrl: 'https://cdn.example/b.png', productUrl: 'https://offer.example/b', sku: 'BTL-1', category: 'Bottles', description: 'A steel bottle' },
      { id: '42', name: 'Spare filter', priceCents: 1250, currency: 'USD' },
    ]);
  });

  it('names every problem with its place in the file', () => {
    const read = parseProductFile(
      JSON.stringify({
        currency: 'usd',
        products: [
          { id: '41', name: 'Bottle', price: 39.955 },
          { id: '', name: '', price: -1 },
          { id: '41', name: 'Again', price: 1, imageUrl: 'javascript:alert(1)', productUrl: '/relative', colour: 'red' },
        ],
        extra: true,
      }),
      'products.json',
    );
    expect(read.ok).toBe(false);
    if (read.ok) return;
    expect(read.problems).toEqual(
      expect.arrayContaining([
        'products.json: currency: expected a 3-letter ISO currency code such as USD',
        'products.json: products[0].price: at most two decimals',
        expect.stringMatching(/^products\.json: products\[1\]\.id: /),
        expect.stringMatching(/^products\.json: products\[1\]\.name: /),
        expect.stringMatching(/^products\.json: products\[1\]\.price: /),
        'products.json: products[2].imageUrl: expected an absolute http(s) URL',
        'products.json: products[2].productUrl: expected an absolute http(s) URL',
        expect.stringMatching(/^products\.json: products\[2\]: .*colour/),
        expect.stringMatching(/^products\.json: the file: .*extra/),
      ]),
    );
    // Ids are checked once every product is valid, so a duplicate is reported on its own.
    const twice = parseProductFile(JSON.stringify({ products: [{ id: '41', name: 'A', price: 1 }, { id: 41, name: 'B', price: 2 }] }), 'p.json');
    expect(twice).toEqual({ ok: false, problems: ['p.json: products[1].id: "41" is listed twice (also products[0])'] });
  });

  it('refuses a file that is not JSON, is empty of products, or cannot be read', () => {
    expect(parseProductFile('{ "products": [', 'p.json')).toMatchObject({ ok: false, problems: [expect.stringMatching(/^p\.json is not valid JSON/)] });
    expect(parseProductFile('{ "products": [] }', 'p.json')).toEqual({ ok: false, problems: ['p.json: products: list at least one product'] });
    expect(readProductFile('/nonexistent/products.json')).toEqual({ ok: false, problems: ['cannot read /nonexistent/products.json (ENOENT)'] });
  });

  it('stops the collector at start, before it opens its store, with one line per problem', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'funnelbeacon-products-'));
    const path = fileWith(JSON.stringify({ products: [{ id: '41', name: 'Bottle', price: '39.95' }] }));
    const parsed = parseConfig({ PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', DATABASE_URL: `file:${join(dir, 'c.db')}`, PRODUCTS_FILE: path });
    if (!parsed.ok) throw new Error(parsed.problems.join('; '));
    const failure = await startCollector(parsed.config).then(
      async (running) => {
        await running.close();
        return undefined;
      },
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(ProductFileError);
    expect((failure as ProductFileError).message).toBe(`PRODUCTS_FILE has problems:\n  ${path}: products[0].price: Invalid input: expected number, received string`);
    expect(existsSync(join(dir, 'c.db'))).toBe(false);
  });
});
