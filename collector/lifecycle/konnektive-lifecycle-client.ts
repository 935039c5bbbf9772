/**
 * @module konnektive-lifecycle-client
 * Reads what changed in Konnektive on given days: `/transactions/query/`, `/purchase/query/` and
 * `/order/query/` with `dateRangeType=dateUpdated`, whole days as `startDate`/`endDate` (m/d/Y),
 * 200 rows a page (Konnektive's most), page after page until a short page.
 *
 * Konnektive's quirks, answered here so the detector sees plain rows:
 * - an empty result comes as `result: ERROR` with "No … found" / "No … matching": zero rows;
 * - `message.data` is an array on some endpoints and an object keyed by id on others: its values;
 * - a row that changes during the walk can shift the pages behind it; a row read twice is kept
 *   once (by its id), and one skipped is read by the next poll, whose window covers its day again.
 * Every call goes through the given `call`, which records it in the delivery log like any other
 * Konnektive call (outbox/upstream-call.ts).
 */
import type { KonnektiveEndpoint, KonnektiveFailure, KonnektiveResult } from '../konnektive/konnektive-client.js';

export const LIFECYCLE_SOURCES = ['transactions', 'purchases', 'orders'] as const;
export type LifecycleSource = (typeof LIFECYCLE_SOURCES)[number];

export const SOURCE_ENDPOINT: Readonly<Record<LifecycleSource, KonnektiveEndpoint>> = Object.freeze({
  transactions: 'queryTransactions',
  purchases: 'queryPurchases',
  orders: 'queryOrder',
});

/** The id each source's rows are known by. */
export const SOURCE_ID: Readonly<Record<LifecycleSource, string>> = Object.freeze({
  transactions: 'transactionId',
  purchases: 'purchaseId',
  orders: 'orderId',
});

/** Konnektive's most rows per page. */
export const RESULTS_PER_PAGE = 200;
/** A bound on one read (200 × 500 = 100,000 rows of one kind in one window). */
const MAX_PAGES = 500;

/** "No results found", "No transactions matching …": Konnektive's way of saying zero rows. */
const NO_ROWS = /^no\b.*\b(found|match)/i;

export type KonnektiveRow = Record<string, unknown>;
export type QueryCall = (endpoint: KonnektiveEndpoint, params: Record<string, string>) => Promise<KonnektiveResult>;

export type ReadResult = { ok: true; rows: KonnektiveRow[]; pages: number } | { ok: false; failure: KonnektiveFailure; message: string };

/** The rows of one answer, whichever shape `message.data` took. */
export function rowsOf(message: Record<string, unknown>): KonnektiveRow[] {
  const data = message.data;
  const values = Array.isArray(data) ? data : data && typeof data === 'object' ? Object.values(data) : [];
  return values.filter((row): row is KonnektiveRow => Boolean(row) && typeof row === 'object' && !Array.isArray(row));
}

/** Every row of `source` updated on the days from `startDate` to `endDate` (m/d/Y, inclusive). */
export async function readChanged(call: QueryCall, source: LifecycleSource, window: { startDate: string; endDate: string }): Promise<ReadResult> {
  const byId = new Map<string, KonnektiveRow>();
  const idField = SOURCE_ID[source];
  for (let page = 1; page <= MAX_PAGES; page++) {
    const result = await call(SOURCE_ENDPOINT[source], {
      dateRangeType: 'dateUpdated',
      startDate: window.startDate,
      endDate: window.endDate,
      resultsPerPage: String(RESULTS_PER_PAGE),
      page: String(page),
    });
    if (!result.ok) {
      if (result.failure === 'rejected' && NO_ROWS.test(result.message.trim())) return { ok: true, rows: [...byId.values()], pages: page };
      return { ok: false, failure: result.failure, message: result.message };
    }
    const rows = rowsOf(result.message);
    for (const row of rows) {
      const id = row[idField];
      if (typeof id === 'string' || typeof id === 'number') byId.set(String(id), row);
    }
    const total = Number(result.message.totalResults);
    if (rows.length < RESULTS_PER_PAGE || (Number.isFinite(total) && page * RESULTS_PER_PAGE >= total)) return { ok: true, rows: [...byId.values()], pages: page };
  }
  return { ok: true, rows: [...byId.values()], pages: MAX_PAGES };
}
