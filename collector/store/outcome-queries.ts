/**
 * @module outcome-queries
 * SQL of the recovery facts (`session_outcomes`) and the funnel report, shared by both stores:
 * written with `?` placeholders (SQLite), numbered for PostgreSQL by {@link numbered}. Every write
 * is an upsert that keeps the first time of what happened, so a job that runs twice changes nothing.
 */
import type { CentsByCurrency, FunnelReport } from './store.js';
import type { Row } from './rows.js';

export const OUTCOME_SQL = {
  cart: `INSERT INTO session_outcomes (session_id, cart_at, cart_cents, cart_currency, link_expires_at) VALUES (?, ?, ?, ?, ?)
    ON CONFLICT (session_id) DO UPDATE SET
      cart_at = COALESCE(session_outcomes.cart_at, excluded.cart_at),
      cart_cents = COALESCE(session_outcomes.cart_cents, excluded.cart_cents),
      cart_currency = COALESCE(session_outcomes.cart_currency, excluded.cart_currency),
      link_expires_at = COALESCE(session_outcomes.link_expires_at, excluded.link_expires_at)`,
  click: `INSERT INTO session_outcomes (session_id, clicks, first_click_at, last_click_at) VALUES (?, 1, ?, ?)
    ON CONFLICT (session_id) DO UPDATE SET
      clicks = session_outcomes.clicks + 1,
      first_click_at = COALESCE(session_outcomes.first_click_at, excluded.first_click_at),
      last_click_at = excluded.last_click_at`,
  return: `INSERT INTO session_outcomes (session_id, returned_at) VALUES (?, ?)
    ON CONFLICT (session_id) DO UPDATE SET returned_at = COALESCE(session_outcomes.returned_at, excluded.returned_at)`,
  order: `INSERT INTO session_outcomes (session_id, order_at, order_cents, order_currency, recovered) VALUES (?, ?, ?, ?, ?)
    ON CONFLICT (session_id) DO UPDATE SET
      order_at = COALESCE(session_outcomes.order_at, excluded.order_at),
      order_cents = COALESCE(session_outcomes.order_cents, excluded.order_cents),
      order_currency = COALESCE(session_outcomes.order_currency, excluded.order_currency),
      recovered = excluded.recovered,
      recovered_by_link = CASE
        WHEN excluded.recovered = 1 AND session_outcomes.returned_at IS NOT NULL
          AND session_outcomes.returned_at <= COALESCE(session_outcomes.order_at, excluded.order_at) THEN 1
        ELSE 0 END`,
  /** Sessions and leads (a session with an email) begun in the period; bots left out. `{notBot}` differs per backend. */
  sessions: `SELECT COUNT(*) AS sessions,
      COALESCE(SUM(CASE WHEN lead LIKE '{"emailAddress":%' OR lead LIKE '%,"emailAddress":%' THEN 1 ELSE 0 END), 0) AS leads
    FROM sessions WHERE created_at >= ? AND created_at < ? AND {notBot}`,
  /** The cohort of carts abandoned in the period, by the cart's currency. */
  carts: `SELECT cart_currency AS currency, COUNT(*) AS carts, COALESCE(SUM(cart_cents), 0) AS cents,
      COALESCE(SUM(CASE WHEN order_at IS NULL AND link_expires_at <= ? THEN 1 ELSE 0 END), 0) AS lost,
      COALESCE(SUM(clicks), 0) AS clicks,
      COALESCE(SUM(CASE WHEN returned_at IS NOT NULL THEN 1 ELSE 0 END), 0) AS returns
    FROM session_outcomes WHERE cart_at >= ? AND cart_at < ? GROUP BY cart_currency`,
  /** What the cohort's recovered carts brought in, by the order's currency. */
  recovered: `SELECT order_currency AS currency, COUNT(*) AS n, COALESCE(SUM(order_cents), 0) AS cents,
      COALESCE(SUM(recovered_by_link), 0) AS by_link,
      COALESCE(SUM(CASE WHEN recovered_by_link = 1 THEN order_cents ELSE 0 END), 0) AS by_link_cents
    FROM session_outcomes WHERE recovered = 1 AND cart_at >= ? AND cart_at < ? GROUP BY order_currency`,
  /** ORDERs delivered in the period. */
  orders: `SELECT order_currency AS currency, COUNT(*) AS n, COALESCE(SUM(order_cents), 0) AS cents
    FROM session_outcomes WHERE order_at >= ? AND order_at < ? GROUP BY order_currency`,
} as const;

/** `?` placeholders as PostgreSQL's `$1, $2, ...`. */
export function numbered(sql: string): string {
  let i = 0;
  return sql.replace(/\?/g, () => `$${++i}`);
}

/** Parameters of each report query, in placeholder order. */
export const reportParams = {
  sessions: (since: number, until: number) => [since, until],
  carts: (since: number, until: number) => [until, since, until],
  recovered: (since: number, until: number) => [since, until],
  orders: (since: number, until: number) => [since, until],
};

const add = (into: CentsByCurrency, currency: unknown, cents: unknown): void => {
  const n = Number(cents);
  if (n === 0 && Number(into[String(currency)] ?? 0) === 0) return;
  into[String(currency)] = (into[String(currency)] ?? 0) + n;
};

/** Folds the rows of the four report queries into a {@link FunnelReport}. */
export function foldReport(
  since: number,
  until: number,
  rows: { sessions: Row; carts: Row[]; recovered: Row[]; orders: Row[] },
): FunnelReport {
  const report: FunnelReport = {
    since,
    until,
    sessions: Number(rows.sessions.sessions ?? 0),
    leads: Number(rows.sessions.leads ?? 0),
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
