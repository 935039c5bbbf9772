/**
 * @module recovery-report
 * `funnelbeacon report [--since 7d] [--json]`: what the funnel did and what recovery brought in,
 * as one table for the terminal or JSON for scripts. Read from the store's recovery facts, which
 * hold no personal data; the collector keeps running meanwhile.
 *
 * Carts are the cohort abandoned in the period (a CART delivered): of those, how many were
 * recovered (an ORDER followed), recovered by link (the buyer came back through the recovery link
 * before the ORDER), and lost (abandoned longer than the link lives, without an order). Orders are
 * the ORDERs delivered in the period.
 *
 * After the order (when the lifecycle sync runs or has stored events): the same figures as the
 * dashboard's, from collector/dashboard/lifecycle-figures.ts, counted when each change was found.
 */
import { hasLifecycleEvents, lifecycleFigures, type LifecycleFigures } from '../dashboard/lifecycle-figures.js';
import { parseDuration } from '../duration.js';
import { plural } from '../plural.js';
import type { CentsByCurrency, FunnelReport, Store } from '../store/store.js';

export interface ReportOptions {
  sinceMs: number;
  now: number;
  linkTtlMs: number;
  /** LIFECYCLE_SYNC: the lifecycle lines are printed when it is on, or when events were stored. */
  lifecycleEnabled?: boolean;
}

export interface ReportJson extends Omit<FunnelReport, 'since' | 'until'> {
  since: string;
  until: string;
  /** Recovered / abandoned, 0 to 1; `null` with no abandoned cart. */
  recoveryRate: number | null;
  /** The recovery link's lifetime, after which an abandoned cart without an order counts as lost. */
  linkLifetimeMs: number;
  /** What happened after the order; `null` when the lifecycle sync is off and has stored nothing. */
  lifecycle: LifecycleFigures | null;
}

export type ReportArgs = { ok: true; sinceMs: number; json: boolean } | { ok: false; problem: string };

/** `--since 7d` (default 7 days) and `--json`. */
export function parseReportArgs(values: { since?: unknown; json?: unknown }): ReportArgs {
  const since = values.since === undefined ? '7d' : String(values.since);
  const sinceMs = parseDuration(since);
  if (sinceMs === undefined) return { ok: false, problem: `--since: expected a duration such as 24h, 7d or 30d, got "${since}"` };
  return { ok: true, sinceMs, json: values.json === true };
}

export async function buildReport(store: Store, { sinceMs, now, linkTtlMs, lifecycleEnabled = false }: ReportOptions): Promise<ReportJson> {
  const report = await store.funnelReport(now - sinceMs, now + 1);
  const sql = store.sql();
  const lifecycle = lifecycleEnabled || (await hasLifecycleEvents(sql)) ? await lifecycleFigures(sql, now - sinceMs, now + 1, { now }) : null;
  return {
    ...report,
    since: new Date(report.since).toISOString(),
    until: new Date(now).toISOString(),
    recoveryRate: report.cartsAbandoned === 0 ? null : report.cartsRecovered / report.cartsAbandoned,
    linkLifetimeMs: linkTtlMs,
    lifecycle,
  };
}

export function money(amounts: CentsByCurrency): string {
  const parts = Object.entries(amounts)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([currency, cents]) => `${currency} ${(cents / 100).toFixed(2)}`);
  return parts.length === 0 ? '-' : parts.join(', ');
}

const days = (ms: number): string => (ms % 86_400_000 === 0 ? `${ms / 86_400_000}d` : `${Math.round(ms / 3_600_000)}h`);

/** The report as one table for the terminal. */
export function formatReport(r: ReportJson, sinceMs: number): string {
  const rows: [string, string | number, string][] = [
    ['sessions', r.sessions, ''],
    ['leads (an email given)', r.leads, ''],
    ['carts abandoned', r.cartsAbandoned, `${money(r.recoverableRevenue)} recoverable`],
    ['carts recovered', r.cartsRecovered, money(r.recoveredRevenue)],
    ['  by recovery link', r.cartsRecoveredByLink, money(r.recoveredByLinkRevenue)],
    ['recovery rate', r.recoveryRate === null ? '-' : `${Math.round(r.recoveryRate * 1000) / 10}%`, 'recovered / abandoned'],
    ['lost carts', r.cartsLost, `no order within the link's ${days(r.linkLifetimeMs)}`],
    ['orders', r.orders, money(r.revenue)],
    ['recovery-link clicks', r.recoveryClicks, `${plural(r.recoveryReturns, 'buyer', 'buyers')} came back through the link`],
  ];
  const l = r.lifecycle;
  if (l) {
    rows.push(
      ['after the order', '', ''],
      ['  first-sale declines', l.saleDeclines, ''],
      ['  rebills', l.rebills, money(l.rebillCents)],
      ['  rebill declines', l.rebillDeclines, ''],
      ['  recovered rebills', l.recoveredRebills, `${money(l.recoveredRebillCents)}, paid after a decline of the same cycle`],
      ['  cancellations', l.cancellations, ''],
      ['  pauses', l.pauses, ''],
      ['  refunds', l.refunds, money(l.refundCents)],
      ['  chargebacks', l.chargebacks, money(l.chargebackCents)],
      ['  active subscribers', l.activeSubscribers ?? '-', 'latest known status active or trial'],
      ['  net revenue', money(l.netCents), 'sales + rebills - refunds - chargebacks'],
    );
  }
  const width = Math.max(...rows.map(([label]) => label.length));
  const valueWidth = Math.max(...rows.map(([, value]) => String(value).length));
  const lines = rows.map(([label, value, note]) => `  ${label.padEnd(width)}  ${String(value).padStart(valueWidth)}  ${note}`.trimEnd());
  return [
    `funnelbeacon report: the last ${days(sinceMs)} (${r.since.slice(0, 16).replace('T', ' ')} to ${r.until.slice(0, 16).replace('T', ' ')} UTC)`,
    ...lines,
    '',
    'Carts are those abandoned in the period; recovered: an ORDER followed the CART; by recovery link:',
    'the buyer came back through the CART\'s link first (email scanners\' clicks count as clicks, not returns).',
    ...(l ? ['After the order: the lifecycle sync\'s changes, counted when each was found in Konnektive.'] : []),
    '',
  ].join('\n');
}
