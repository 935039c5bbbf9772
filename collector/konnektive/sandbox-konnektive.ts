/**
 * @module sandbox-konnektive
 * Sandbox mode's Konnektive: sends nothing and answers like the real API with made-up ids, so
 * that everything downstream (ids on the session, later calls carrying them) runs the same way.
 * Query Campaign answers with the demo funnel's products (collector/demo/demo-products.ts).
 * The relay records each request it would have sent, as it does for real calls.
 *
 * The lifecycle sync's reads (Query Transactions, Query Purchases, Query Order with
 * `dateRangeType=dateUpdated`) answer from a {@link SandboxLifecycleLedger}: the rows the demo's
 * lifecycle page (`/demo/lifecycle`) wrote for a demo order, so a rebill, a decline, a refund or
 * a cancel goes through the same poll, change detector and outbox as Konnektive's would.
 */
import { randomBytes, randomInt, randomUUID } from 'node:crypto';
import { DEMO_PRODUCTS } from '../demo/demo-products.js';
import type { KonnektiveApi } from './konnektive-client.js';

/** The rows sandbox Konnektive holds for the lifecycle sync's reads, by source and id. */
export class SandboxLifecycleLedger {
  private readonly rows = { transactions: new Map<string, Record<string, unknown>>(), purchases: new Map<string, Record<string, unknown>>(), orders: new Map<string, Record<string, unknown>>() };

  /** Adds a row, or replaces the one with the same id (a purchase whose status changed). */
  put(source: keyof SandboxLifecycleLedger['rows'], id: string, row: Record<string, unknown>): void {
    this.rows[source].set(id, { ...row });
  }

  get(source: keyof SandboxLifecycleLedger['rows'], id: string): Record<string, unknown> | undefined {
    const row = this.rows[source].get(id);
    return row ? { ...row } : undefined;
  }

  /** A page of a source's rows, as Konnektive answers one: "No … found" when there is none. */
  page(source: keyof SandboxLifecycleLedger['rows'], params: Record<string, string>) {
    const perPage = Math.min(200, Math.max(1, Number(params.resultsPerPage ?? 25) || 25));
    const page = Math.max(1, Number(params.page ?? 1) || 1);
    const all = [...this.rows[source].values()];
    const data = all.slice((page - 1) * perPage, page * perPage);
    if (data.length === 0) return { ok: false as const, failure: 'rejected' as const, httpStatus: 200, latencyMs: 0, message: 'No results found (sandbox)' };
    return { ok: true as const, httpStatus: 200, latencyMs: 0, message: { totalResults: all.length, resultsPerPage: perPage, page, data } };
  }
}

/** The ledger of this process's sandbox Konnektive, which the demo writes to. */
export const sandboxLifecycleLedger = new SandboxLifecycleLedger();

const LIFECYCLE_READS = { queryTransactions: 'transactions', queryPurchases: 'purchases', queryOrder: 'orders' } as const;

export function sandboxKonnektive(ledger: SandboxLifecycleLedger = sandboxLifecycleLedger): KonnektiveApi {
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
          // The lifecycle sync's reads (by update date) see the demo's rows; the relay's order look-ups find none, as before.
          if (params.dateRangeType === 'dateUpdated') return ledger.page(LIFECYCLE_READS[endpoint], params);
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
