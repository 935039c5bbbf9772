/**
 * @module overview
 * The overview and sources answers, from the rollup: each period beside the one before it.
 */
import type { SqlAccess } from '../store/store.js';
import { PAGE_NAMES, type PageName } from '../wire-schema.js';
import type { OverviewData, PeriodData, SourcesData } from './api-schema.js';
import { deriveFigures, type Figures } from './figures.js';
import { readBreakdown, readTotals, refreshRollup } from './rollup.js';
import type { SourceDimension } from './sources.js';

/** Always drawn; upsells only when someone reached them. */
const CORE_STEPS = new Set<PageName>(['presell', 'lead', 'checkout', 'thankyou']);

export function funnelOf(figures: Figures, show: (step: PageName) => boolean): PeriodData['funnel'] {
  const steps = PAGE_NAMES.filter(show);
  const first = steps.length > 0 ? figures.steps[steps[0]!] : 0;
  return steps.map((step, index) => {
    const visitors = figures.steps[step];
    const before = index > 0 ? figures.steps[steps[index - 1]!] : undefined;
    return {
      step,
      visitors,
      ofFirst: first > 0 ? visitors / first : null,
      dropOff: before !== undefined && before > 0 ? Math.max(0, 1 - visitors / before) : null,
    };
  });
}

/** The currency of the latest order or cart (amounts of other currencies are added as they are). */
export async function mainCurrency(sql: SqlAccess): Promise<string> {
  for (const kind of ['order', 'cart']) {
    const [row] = await sql.all<{ payload: string }>('SELECT payload FROM emissions WHERE kind = ? ORDER BY created_at DESC LIMIT 1', [kind]);
    if (row) {
      try {
        const currency = (JSON.parse(String(row.payload)) as { currency?: unknown }).currency;
        if (typeof currency === 'string' && /^[A-Z]{3}$/.test(currency)) return currency;
      } catch {
        // A payload that does not parse says nothing about the currency.
      }
    }
  }
  return 'USD';
}

/**
 * The currencies of the carts and orders of [from, to). The rollup adds amounts as they are, so
 * with more than one the dashboard says so instead of showing a sum of dollars and euros as one
 * figure (`funnelbeacon report` gives each currency apart).
 */
export async function periodCurrencies(sql: SqlAccess, from: number, to: number): Promise<string[]> {
  const rows = await sql.all<{ currency: string }>(
    `SELECT cart_currency AS currency FROM session_outcomes WHERE cart_at >= ? AND cart_at < ? AND cart_currency IS NOT NULL
     UNION SELECT order_currency AS currency FROM session_outcomes WHERE order_at >= ? AND order_at < ? AND order_currency IS NOT NULL`,
    [from, to, from, to],
  );
  return rows.map((row) => String(row.currency)).sort();
}

export interface OverviewOptions {
  now: number;
  linkTtlMs: number;
  refreshBudgetMs?: number;
}

export async function overview(sql: SqlAccess, from: number, to: number, { now, linkTtlMs, refreshBudgetMs = 1_000 }: OverviewOptions): Promise<OverviewData> {
  const { pending } = await refreshRollup(sql, { budgetMs: refreshBudgetMs });
  const span = to - from;
  const [current, previous] = await Promise.all([readTotals(sql, from, to, { now, linkTtlMs }), readTotals(sql, from - span, from, { now, linkTtlMs })]);
  const show = (step: PageName) => CORE_STEPS.has(step) || current.steps[step] > 0 || previous.steps[step] > 0;
  const period = (figures: typeof current, start: number, end: number): PeriodData => ({
    from: start,
    to: end,
    figures,
    derived: deriveFigures(figures),
    funnel: funnelOf(figures, show),
  });
  return {
    currency: await mainCurrency(sql),
    currencies: await periodCurrencies(sql, from - span, to),
    pendingHours: pending,
    generatedAt: now,
    current: period(current, from, to),
    previous: period(previous, from - span, from),
  };
}

/** The figures of [from, to) per value of `dim`; lost carts are counted as of `now` (none without it). */
export async function sources(
  sql: SqlAccess,
  dim: SourceDimension,
  from: number,
  to: number,
  { now = 0, linkTtlMs = 0, refreshBudgetMs = 1_000 }: Partial<OverviewOptions> = {},
): Promise<SourcesData> {
  await refreshRollup(sql, { budgetMs: refreshBudgetMs });
  const rows = await readBreakdown(sql, dim, from, to, 50, { now, linkTtlMs });
  return { dim, currency: await mainCurrency(sql), currencies: await periodCurrencies(sql, from, to), rows: rows.map(({ value, figures }) => ({ value, figures, derived: deriveFigures(figures) })) };
}
