/**
 * Konnektive's campaign products as the catalogue, read over real HTTP from the strict Konnektive
 * double: one Query Campaign per campaign and cache lifetime, shared by callers at the same time,
 * the last good answer standing in while Konnektive fails, and never anything else.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { konnektiveClient, type KonnektiveApi } from '../konnektive/konnektive-client.js';
import { startKonnektiveDouble, type KonnektiveDouble } from '../../test/doubles/konnektive-double.js';
import { VirtualClock } from '../../test/support/virtual-clock.js';
import { campaignCatalogue, campaignProducts, FRESH_MS, STALE_MS } from './campaign-catalogue.js';
import type { AskCampaign } from './catalogue.js';

let crm: KonnektiveDouble;
let api: KonnektiveApi;
let clock: VirtualClock;
const ask: AskCampaign = (params) => api.call('queryCampaign', params);
const queries = () => crm.calls.filter((call) => call.path === '/campaign/query/').length;

beforeEach(async () => {
  clock = new VirtualClock();
  crm = await startKonnektiveDouble({ campaigns: ['12', '14'], now: () => clock.now() });
  api = konnektiveClient({ apiUrl: crm.url, loginId: 'fb-login', password: 'fb-password', timeoutMs: 2_000 });
  crm.setCampaignProducts('12', [
    { campaignProductId: 41, productName: 'Bottle', price: '39.95', imageUrl: 'https://cdn.shop.example/bottle.png' },
    { campaignProductId: 42, productName: 'Spare filter', price: 12.5 },
  ]);
});

afterEach(async () => {
  await crm.close();
});

describe("Konnektive's campaign products", () => {
  it('are read with Query Campaign for the cart\'s campaign: names, cents, currency and image as Konnektive has them', async () => {
    const read = await campaignCatalogue({ clock }).products('12', ask);
    expect(read.ok && [...read.products.values()]).toEqual([
      { id: '41', name: 'Bottle', priceCents: 3995, currency: 'USD', imageUrl: 'https://cdn.shop.example/bottle.png' },
      { id: '42', name: 'Spare filter', priceCents: 1250, currency: 'USD' },
    ]);
    expect(crm.calls.at(-1)).toMatchObject({ path: '/campaign/query/', result: 'SUCCESS', params: { campaignId: '12' } });
  });

  it('are asked for once per campaign and lifetime, and once by callers at the same time', async () => {
    const catalogue = campaignCatalogue({ clock });
    const [a, b] = await Promise.all([catalogue.products('12', ask), catalogue.products('12', ask)]);
    expect(a.ok && b.ok).toBe(true);
    expect(queries()).toBe(1);
    await catalogue.products('14', ask);
    expect(queries()).toBe(2);
    clock.advance(FRESH_MS - 1);
    await catalogue.products('12', ask);
    expect(queries()).toBe(2);
    // A renamed product shows once the lifetime is over.
    crm.setCampaignProducts('12', [{ campaignProductId: 41, productName: 'Steel bottle', price: '44.00' }]);
    clock.advance(1);
    const renewed = await catalogue.products('12', ask);
    expect(queries()).toBe(3);
    expect(renewed.ok && renewed.products.get('41')).toEqual({ id: '41', name: 'Steel bottle', priceCents: 4400, currency: 'USD' });
    expect(renewed.ok && renewed.products.has('42')).toBe(false);
  });

  it('fail while Konnektive fails and nothing was read before; the last good answer stands in for a day', async () => {
    const catalogue = campaignCatalogue({ clock });
    crm.fail('http500', { path: '/campaign/query/' });
    expect(await catalogue.products('12', ask)).toEqual({ ok: false, failure: 'transient', message: 'Query Campaign: HTTP 500' });
    crm.fail('badCredentials', { path: '/campaign/query/' });
    expect(await catalogue.products('12', ask)).toMatchObject({ ok: false, failure: 'auth' });
    crm.recover();
    expect((await catalogue.products('12', ask)).ok).toBe(true);

    crm.fail('http500', { path: '/campaign/query/' });
    clock.advance(FRESH_MS);
    const stale = await catalogue.products('12', ask);
    expect(stale.ok && stale.products.get('41')?.name).toBe('Bottle');
    clock.advance(STALE_MS);
    expect(await catalogue.products('12', ask)).toMatchObject({ ok: false, failure: 'transient' });
  });

  it('a campaign the account does not have is a refusal, not an empty list', async () => {
    expect(await campaignCatalogue({ clock }).products('99', ask)).toEqual({ ok: false, failure: 'rejected', message: 'Query Campaign: No results found matching those parameters' });
  });
});

describe('reading a Query Campaign answer', () => {
  it('leaves out products without an id, a name or a price, and images that are not absolute http(s) URLs', () => {
    const read = campaignProducts(
      {
        data: {
          '12': {
            currency: 'usd',
            products: [
              { campaignProductId: 1, productName: 'Kit', price: '20', imageUrl: '/kit.png' },
              { campaignProductId: 2, productName: '', price: '1.00' },
              { productName: 'No id', price: '1.00' },
              { campaignProductId: 3, productName: 'No price' },
              { campaignProductId: 4, productName: 'Bad price', price: 'free' },
              { campaignProductId: 5, productName: 'Image', price: 5, imageUrl: 'javascript:alert(1)' },
              'junk',
            ],
          },
        },
      },
      '12',
    );
    expect(read.ok && [...read.products.values()]).toEqual([
      { id: '1', name: 'Kit', priceCents: 2000 },
      { id: '5', name: 'Image', priceCents: 500 },
    ]);
  });

  it('reads a list of campaigns too, and fails on an answer without the campaign', () => {
    const listed = campaignProducts({ data: [{ campaignId: 12, currency: 'EUR', products: [{ campaignProductId: 7, productName: 'Serum', price: '9.99' }] }] }, '12');
    expect(listed.ok && listed.products.get('7')).toEqual({ id: '7', name: 'Serum', priceCents: 999, currency: 'EUR' });
    expect(campaignProducts({ data: { '14': { products: [] } } }, '12')).toMatchObject({ ok: false, failure: 'transient' });
    expect(campaignProducts({}, '12')).toMatchObject({ ok: false, failure: 'transient' });
  });
});
