/**
 * @module sandbox-konnektive
 * Sandbox mode's Konnektive: sends nothing and answers like the real API with made-up ids, so
 * that everything downstream (ids on the session, later calls carrying them) runs the same way.
 * Query Campaign answers with the demo funnel's products (collector/demo/demo-products.ts).
 * The relay records each request it would have sent, as it does for real calls.
 */
import { randomBytes, randomInt, randomUUID } from 'node:crypto';
import { DEMO_PRODUCTS } from '../demo/demo-products.js';
import type { KonnektiveApi } from './konnektive-client.js';

export function sandboxKonnektive(): KonnektiveApi {
  return {
    sandbox: true,
    async call(endpoint, params) {
      switch (endpoint) {
        case 'importClick':
          return {
            ok: true,
            httpStatus: 200,
            latencyMs: 0,
            message: { sessionId: params.sessionId ?? madeUpSessionId(), pixel: '', affVals: affValsOf(params.requestUri) },
          };
        case 'importLead':
          return {
            ok: true,
            httpStatus: 200,
            latencyMs: 0,
            message: {
              orderId: params.orderId ?? `SBX${randomBytes(5).toString('hex').toUpperCase()}`,
              customerId: randomInt(1, 1_000_000),
              orderStatus: 'PARTIAL',
            },
          };
        case 'queryOrder':
        case 'queryTransactions':
        case 'queryPurchases':
          return { ok: false, failure: 'rejected', httpStatus: 200, latencyMs: 0, message: 'No result found (sandbox)' };
        case 'queryCampaign':
          return { ok: true, httpStatus: 200, latencyMs: 0, message: demoCampaign(params.campaignId ?? '1') };
        case 'activeCampaign':
          return { ok: true, httpStatus: 200, latencyMs: 0, message: { sandbox: true } };
      }
    },
  };
}

/**
 * Query Campaign's answer in Konnektive's shape (each campaign under its id): whatever campaign is
 * asked about sells the demo's products, so a sandbox CART is priced from the catalogue, as live.
 */
function demoCampaign(campaignId: string): Record<string, unknown> {
  const products = DEMO_PRODUCTS.map((product) => ({ campaignProductId: Number(product.id), productName: product.name, price: product.price.toFixed(2), shippingPrice: '0.00' }));
  return { totalResults: 1, data: { [campaignId]: { campaignId: Number(campaignId), campaignName: 'funnelbeacon demo', currency: 'USD', products } } };
}

/**
 * `sbx` and 28 hex digits, like Konnektive's session ids. From `randomUUID`, which draws its
 * bytes in batches: `randomBytes` per id was 2% of the collector's CPU under a load of new
 * visitors (one Import Click each).
 */
function madeUpSessionId(): string {
  return `sbx${randomUUID().replace(/-/g, '').slice(0, 28)}`;
}

function affValsOf(requestUri: string | undefined): Record<string, string> {
  if (!requestUri) return {};
  try {
    const search = new URL(requestUri).searchParams;
    return Object.fromEntries(['affId', 'c1', 'c2', 'c3'].flatMap((key) => (search.has(key) ? [[key, search.get(key)!]] : [])));
  } catch {
    return {};
  }
}
