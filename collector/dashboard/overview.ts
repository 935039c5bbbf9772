/**
 * @module overview
 * The overview and sources answers, from the rollup: each period beside the one before it.
 */
import type { SqlAccess } from '../store/store.js';
import { PAGE_NAMES, type PageName } from '../wire-schema.js';
import type { OverviewData, PeriodData, SourcesData } from './api-schema.js';
import { deriveFigures, type Figures } from './figures.js';
import { hasLifecycleEvents, lifecycleFigures, total, type LifecycleFigures } from './lifecycle-figures.js';
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
  /** Whether LIFECYCLE_SYNC is on, and what it needs when it cannot run (see {@link lifecycleNote}). */
  lifecycle?: { enabled: boolean; note: string | null };
}

/** With Konnektive's credentials but not ActiveCampaign's API, the lifecycle sync cannot run: say what it needs. */
export function lifecycleNote(config: { konnektive: unknown; activeCampaign: unknown; sandbox: boolean }): string | null {
  return config.konnektive && !config.activeCampaign && !config.sandbox ? 'Lifecycle sync needs ACTIVECAMPAIGN_API_URL and ACTIVECAMPAIGN_API_KEY.' : null;
}

function lifecyclePeriod(f: LifecycleFigures) {
  return {
    sales: f.sales,
    salesCents: total(f.salesCents),
    saleDeclines: f.saleDeclines,
    rebills: f.rebills,
    rebillCents: total(f.rebillCents),
    rebillDeclines: f.rebillDeclines,
    recoveredRebills: f.recoveredRebills,
    recoveredRebillCents: total(f.recoveredRebillCents),
    cancellations: f.cancellations,
    pauses: f.pauses,
    refunds: f.refunds,
    refundCents: total(f.refundCents),
    chargebacks: f.chargebacks,
    chargebackCents: total(f.chargebackCents),
    activeSubscribers: f.activeSubscribers,
    netCents: total(f.netCents),
  };
}

/** The lifecycle figures of both periods, or null when the sync is off and has stored nothing. */
export async function lifecycleOverview(sql: SqlAccess, from: number, to: number, { now, enabled, currency }: { now: number; enabled: boolean; currency: string }): Promise<OverviewData['lifecycle']> {
  if (!enabled && !(await hasLifecycleEvents(sql))) return null;
  const span = to - from;
  const [current, previous] = await Promise.all([lifecycleFigures(sql, from, to, { now, currency }), lifecycleFigures(sql, from - span, from, { now, currency })]);
  const currencies = new Set<string>();
  for (const f of [current, previous]) for (const amounts of [f.salesCents, f.rebillCents, f.refundCents, f.chargebackCents]) for (const c of Object.keys(amounts)) currencies.add(c);
  return { enabled, currencies: [...currencies].sort(), current: lifecyclePeriod(current), previous: lifecyclePeriod(previous) };
}

export async function overview(sql: SqlAccess, from: number, to: number, { now, linkTtlMs, refreshBudgetMs = 1_000, lifecycle = { enabled: false, note: null } }: OverviewOptions): Promise<OverviewData> {
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
  const currency = await mainCurrency(sql);
  return {
    currency,
    currencies: await periodCurrencies(sql, from - span, to),
    lifecycle: await lifecycleOverview(sql, from, to, { now, enabled: lifecycle.enabled, currency }),
    lifecycleNote: lifecycle.note,
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
