/**
 * @module funnel-report
 * Folds the rows of the report statements (`report*` in plans.ts) into a {@link FunnelReport}.
 */
import type { CentsByCurrency, FunnelReport } from './store.js';
import type { Row } from './rows.js';

const add = (into: CentsByCurrency, currency: unknown, cents: unknown): void => {
  const n = Number(cents);
  if (n === 0 && Number(into[String(currency)] ?? 0) === 0) return;
  into[String(currency)] = (into[String(currency)] ?? 0) + n;
};

export function foldReport(
  since: number,
  until: number,
  rows: { sessions: Row; rolledUp: Row[]; carts: Row[]; recovered: Row[]; orders: Row[] },
): FunnelReport {
  const purged = (metric: string) => Number(rows.rolledUp.find((row) => row.metric === metric)?.value ?? 0);
  const report: FunnelReport = {
    since,
    until,
    sessions: Number(rows.sessions.sessions ?? 0) + purged('sessions'),
    leads: Number(rows.sessions.leads ?? 0) + purged('leads'),
    cartsAbandoned: 0,
    recoverableRevenue: {},
    cartsRecovered: 0,
    recoveredRevenue: {},
    cartsRecoveredByLink: 0,
    recoveredByLinkRevenue: {},
    cartsLost: 0,
    orders: 0,
    revenue: {},
    recoveryClicks: 0,
    recoveryReturns: 0,
  };
  for (const row of rows.carts) {
    report.cartsAbandoned += Number(row.carts);
    add(report.recoverableRevenue, row.currency, row.cents);
    report.cartsLost += Number(row.lost);
    report.recoveryClicks += Number(row.clicks);
    report.recoveryReturns += Number(row.returns);
  }
  for (const row of rows.recovered) {
    report.cartsRecovered += Number(row.n);
    add(report.recoveredRevenue, row.currency, row.cents);
    report.cartsRecoveredByLink += Number(row.by_link);
    add(report.recoveredByLinkRevenue, row.currency, row.by_link_cents);
  }
  for (const row of rows.orders) {
    report.orders += Number(row.n);
    add(report.revenue, row.currency, row.cents);
  }
  return report;
}
