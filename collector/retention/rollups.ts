/**
 * @module rollups
 * What a purged session still counts for. Retention deletes old sessions with their events; the
 * figures the reports need (the funnel report: carts, recovered carts and revenue) are added
 * to per-day totals first, in the same transaction, so a day's report reads the same before and
 * after its rows are gone: rollups for what was purged, plus the rows still stored.
 *
 * Day: the UTC date the session began. Counts have currency ''; amounts are integer cents per
 * ISO currency.
 *
 * | metric | what |
 * |---|---|
 * | `sessions` | visitor sessions (bots excluded) |
 * | `bot_sessions` | sessions of known bots and crawlers |
 * | `reached_<page>` | sessions that reached the step (`reached_presell` ... `reached_thankyou`) |
 * | `leads` | sessions with an email |
 * | `customers` | CUSTOMERs sent (a lead without a cart) |
 * | `carts_abandoned` | CARTs sent |
 * | `abandoned_cents` | those carts' value, per currency (the recoverable revenue) |
 * | `orders` | ORDERs sent |
 * | `revenue_cents` | those orders' totals, per currency |
 * | `carts_recovered` | ORDERs that recovered a CART sent before |
 * | `recovered_cents` | those orders' totals, per currency |
 */
import type { Emission, Session } from '../store/store.js';

export interface PurgedSession {
  session: Pick<Session, 'id' | 'createdAt' | 'isBot' | 'lead'>;
  pages: readonly string[];
  emissions: readonly Pick<Emission, 'kind' | 'status' | 'payload'>[];
}

/** `day|metric|currency` -> amount to add. */
export type RollupIncrements = Map<string, number>;

export const DAY_MS = 24 * 60 * 60_000;

export const utcDay = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

export function rollupKey(day: string, metric: string, currency = ''): string {
  return `${day}|${metric}|${currency}`;
}

export function splitRollupKey(key: string): { day: string; metric: string; currency: string } {
  const [day = '', metric = '', currency = ''] = key.split('|');
  return { day, metric, currency };
}

const CURRENCY = /^[A-Z]{3}$/;

function amountOf(payload: Record<string, unknown>): { cents: number; currency: string } | undefined {
  const cents = payload.totalCents;
  const currency = typeof payload.currency === 'string' ? payload.currency.toUpperCase() : 'USD';
  if (typeof cents !== 'number' || !Number.isSafeInteger(cents) || !CURRENCY.test(currency)) return undefined;
  return { cents, currency };
}

/** Adds what these sessions count for to `into` (new or given). */
export function rollupsOf(purged: readonly PurgedSession[], into: RollupIncrements = new Map()): RollupIncrements {
  const add = (day: string, metric: string, value: number, currency = '') => {
    if (value === 0) return;
    const key = rollupKey(day, metric, currency);
    into.set(key, (into.get(key) ?? 0) + value);
  };
  for (const { session, pages, emissions } of purged) {
    const day = utcDay(session.createdAt);
    if (session.isBot) {
      add(day, 'bot_sessions', 1);
      continue;
    }
    add(day, 'sessions', 1);
    for (const page of new Set(pages)) add(day, `reached_${page}`, 1);
    if (typeof session.lead.emailAddress === 'string' && session.lead.emailAddress !== '') add(day, 'leads', 1);
    const sent = (kind: Emission['kind']) => emissions.find((emission) => emission.kind === kind && emission.status === 'sent');
    const cart = sent('cart');
    const order = sent('order');
    if (sent('customer')) add(day, 'customers', 1);
    if (cart) {
      add(day, 'carts_abandoned', 1);
      const amount = amountOf(cart.payload);
      if (amount) add(day, 'abandoned_cents', amount.cents, amount.currency);
    }
    if (order) {
      add(day, 'orders', 1);
      const amount = amountOf(order.payload);
      if (amount) add(day, 'revenue_cents', amount.cents, amount.currency);
      if (cart) {
        add(day, 'carts_recovered', 1);
        if (amount) add(day, 'recovered_cents', amount.cents, amount.currency);
      }
    }
  }
  return into;
}
