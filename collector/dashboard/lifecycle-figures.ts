/**
 * @module lifecycle-figures
 * What happened after the order (the lifecycle sync's events, collector/lifecycle/) counted over a
 * period: for the dashboard's overview and `funnelbeacon report`.
 *
 * Events are counted by `created_at`, the moment this collector stored them (within one poll of
 * the change in Konnektive while the sync runs), not by the event's `occurredAt`: `occurredAt` is
 * Konnektive's wall-clock time in the account's zone with no offset (comparing it with a period
 * means converting every row), it has no index, and a period is read through the
 * `lifecycle_events_by_created` index as one bounded range with one aggregate per kind. The price:
 * history brought in by `funnelbeacon sync --since` counts on the day it was synced.
 *
 * Amounts are integer cents per currency, as the events carry them.
 */
import type { SqlAccess } from '../store/store.js';
import type { LifecycleEventKind } from '../lifecycle/lifecycle-event.js';

export type CentsByCurrency = Record<string, number>;

export interface LifecycleFigures {
  sales: number;
  salesCents: CentsByCurrency;
  saleDeclines: number;
  rebills: number;
  rebillCents: CentsByCurrency;
  rebillDeclines: number;
  /** Rebills that succeeded after a decline of the same subscription's same cycle. */
  recoveredRebills: number;
  recoveredRebillCents: CentsByCurrency;
  cancellations: number;
  pauses: number;
  refunds: number;
  refundCents: CentsByCurrency;
  chargebacks: number;
  chargebackCents: CentsByCurrency;
  /**
   * Subscriptions whose latest known status is ACTIVE or TRIAL. Konnektive's statuses are kept as
   * last seen (one snapshot per purchase), not per day, so this is known for a period that ends
   * now only: `null` for one that ended before.
   */
  activeSubscribers: number | null;
  /** Sales + rebills − refunds − chargebacks. */
  netCents: CentsByCurrency;
}

const COUNTED = ['sale_completed', 'sale_declined', 'rebill_succeeded', 'rebill_declined', 'subscription_cancelled', 'subscription_paused', 'refund', 'chargeback'] as const satisfies readonly LifecycleEventKind[];

/** The id of a rebill's decline in the same cycle, made from its success's (change-detector.ts). */
const SUCCEEDED = ':rebill_succeeded';

type Row = Record<string, unknown>;

/** A currency the event gave, or the dashboard's main one. */
function currencyOf(value: unknown, fallback: string): string {
  return typeof value === 'string' && /^[A-Z]{3}$/.test(value) ? value : fallback;
}

function add(into: CentsByCurrency, currency: string, cents: number): void {
  if (cents === 0 && into[currency] === undefined) return;
  into[currency] = (into[currency] ?? 0) + cents;
}

/** Whether the lifecycle sync has stored any event (the overview shows its figures then, even with the sync off now). */
export async function hasLifecycleEvents(sql: SqlAccess): Promise<boolean> {
  return (await sql.all('SELECT 1 AS one FROM lifecycle_events LIMIT 1')).length > 0;
}

/** The figures of [from, to); `now` decides whether the active subscribers are known (see above). */
export async function lifecycleFigures(sql: SqlAccess, from: number, to: number, { now, currency = 'USD' }: { now: number; currency?: string }): Promise<LifecycleFigures> {
  const d = sql.dialect;
  const amount = `CAST(${d.jsonText('payload', 'amountCents')} AS BIGINT)`;
  const cur = d.jsonText('payload', 'currency');
  const [byKind, recovered, active] = await Promise.all([
    sql.all<Row>(
      `SELECT kind, ${cur} AS currency, COUNT(*) AS n, SUM(${amount}) AS cents FROM lifecycle_events
       WHERE created_at >= ? AND created_at < ? AND ${d.inList('kind', 'text')} GROUP BY kind, ${cur}`,
      [from, to, d.list(COUNTED)],
    ),
    // A success whose cycle also declined: the decline's id is the success's with its last part
    // changed, looked up by the primary key.
    sql.all<Row>(
      `SELECT ${cur} AS currency, COUNT(*) AS n, SUM(${amount}) AS cents FROM lifecycle_events e
       WHERE e.created_at >= ? AND e.created_at < ? AND e.kind = 'rebill_succeeded'
         AND EXISTS (SELECT 1 FROM lifecycle_events d WHERE d.id = substr(e.id, 1, length(e.id) - ${SUCCEEDED.length}) || ':rebill_declined')
       GROUP BY ${cur}`,
      [from, to],
    ),
    to >= now
      ? sql.all<Row>(`SELECT COUNT(*) AS n FROM lifecycle_snapshots WHERE kind = 'purchases' AND ${d.jsonText('snapshot', 'status')} IN ('ACTIVE', 'TRIAL')`)
      : Promise.resolve(undefined),
  ]);
  const figures: LifecycleFigures = {
    sales: 0,
    salesCents: {},
    saleDeclines: 0,
    rebills: 0,
    rebillCents: {},
    rebillDeclines: 0,
    recoveredRebills: 0,
    recoveredRebillCents: {},
    cancellations: 0,
    pauses: 0,
    refunds: 0,
    refundCents: {},
    chargebacks: 0,
    chargebackCents: {},
    activeSubscribers: active ? Number(active[0]?.n ?? 0) : null,
    netCents: {},
  };
  for (const row of byKind) {
    const n = Number(row.n);
    const cents = Number(row.cents ?? 0);
    const money = currencyOf(row.currency, currency);
    switch (row.kind as (typeof COUNTED)[number]) {
      case 'sale_completed':
        figures.sales += n;
        add(figures.salesCents, money, cents);
        add(figures.netCents, money, cents);
        break;
      case 'sale_declined':
        figures.saleDeclines += n;
        break;
      case 'rebill_succeeded':
        figures.rebills += n;
        add(figures.rebillCents, money, cents);
        add(figures.netCents, money, cents);
        break;
      case 'rebill_declined':
        figures.rebillDeclines += n;
        break;
      case 'subscription_cancelled':
        figures.cancellations += n;
        break;
      case 'subscription_paused':
        figures.pauses += n;
        break;
      case 'refund':
        figures.refunds += n;
        add(figures.refundCents, money, cents);
        add(figures.netCents, money, -cents);
        break;
      case 'chargeback':
        figures.chargebacks += n;
        add(figures.chargebackCents, money, cents);
        add(figures.netCents, money, -cents);
        break;
    }
  }
  for (const row of recovered) {
    figures.recoveredRebills += Number(row.n);
    add(figures.recoveredRebillCents, currencyOf(row.currency, currency), Number(row.cents ?? 0));
  }
  return figures;
}

/** The amounts of all currencies added, for the dashboard (which says when a period mixes currencies). */
export function total(amounts: CentsByCurrency): number {
  return Object.values(amounts).reduce((sum, cents) => sum + cents, 0);
}
