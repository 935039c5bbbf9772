/**
 * @module backfill
 * The history walk behind `funnelbeacon sync --since`: Konnektive's past read one whole day at a
 * time, oldest first, each day recorded exactly as the lifecycle poll records its window
 * ({@link syncWindow}), so a day's changes become events and `lifecycle.deliver` jobs through the
 * same change detector. Nothing here sends to ActiveCampaign: the outbox does, like any job.
 *
 * Resumable: after each whole day (one before today in the account's zone) the cursor in the
 * store's meta table moves to it, so a stopped walk starts again at the day after. Re-reading a
 * day is harmless anyway (the detector's snapshots find nothing new), the cursor only saves
 * Konnektive the reads.
 *
 * A dry run reads the same days and runs the same detector inside a transaction that is rolled
 * back: it tells which events would be sent, and the store is left as it was.
 */
import type { Clock } from '../clock.js';
import { redactMessage } from '../redact.js';
import type { SqlAccess, Store } from '../store/store.js';
import { addDays, konnektiveDate } from './day-windows.js';
import { readChanged, type KonnektiveRow, type LifecycleSource, type QueryCall } from './konnektive-lifecycle-client.js';
import { syncWindow } from './lifecycle-poller.js';
import { recordChange } from './lifecycle-sync.js';

/**
 * Query Purchases refuses a window whose start is not before its end [G1 in docs/upstreams.md],
 * so a day's purchases are asked for as that day and the next. Whether Konnektive reads that end
 * as included or not, the day itself is read whole; a purchase of the next day read early is
 * recorded once, like any row read twice.
 */
export function dayCall(call: QueryCall): QueryCall {
  return (endpoint, params) => {
    if (endpoint !== 'queryPurchases' || params.startDate !== params.endDate || params.endDate === undefined) return call(endpoint, params);
    const [m, d, y] = params.endDate.split('/');
    return call(endpoint, { ...params, endDate: konnektiveDate(addDays(`${y}-${m}-${d}`, 1)) });
  };
}

/** The meta key of the cursor: `<since>..<last whole day recorded>`. */
export const BACKFILL_CURSOR_KEY = 'lifecycle.backfill.cursor';

const DAY = /^(\d{4})-(\d{2})-(\d{2})$/;

/** Whether `text` is a real calendar day written `YYYY-MM-DD`. */
export function isDay(text: string): boolean {
  const match = DAY.exec(text);
  if (!match) return false;
  const [, y, m, d] = match.map(Number) as [number, number, number, number];
  const date = new Date(Date.UTC(y, m - 1, d));
  return date.getUTCFullYear() === y && date.getUTCMonth() === m - 1 && date.getUTCDate() === d;
}

/** The days from `since` to `until`, both included, oldest first. */
export function daysBetween(since: string, until: string): string[] {
  const days: string[] = [];
  for (let day = since; day <= until; day = addDays(day, 1)) days.push(day);
  return days;
}

/** Where a walk over `since..until` starts, given the cursor a previous walk left. */
export function resumeDay(since: string, cursor: string | undefined): string {
  const match = /^(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})$/.exec(cursor ?? '');
  if (!match) return since;
  const [, from, last] = match as unknown as [string, string, string];
  // The cursor covers from..last: resume inside it only when this walk starts within it.
  return from <= since && since <= last ? addDays(last, 1) : since;
}

export async function readCursor(store: Pick<Store, 'getMeta'>): Promise<string | undefined> {
  return store.getMeta(BACKFILL_CURSOR_KEY);
}

/** Moves the cursor: the same statement on SQLite and PostgreSQL. */
async function writeCursor(sql: SqlAccess, since: string, day: string): Promise<void> {
  await sql.run('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value', [BACKFILL_CURSOR_KEY, `${since}..${day}`]);
}

/** What one day gave; `kinds` counts events by kind (no personal data). */
export interface DayResult {
  day: string;
  records: number;
  events: number;
  kinds: Record<string, number>;
}

export type BackfillFailure = { day: string; message: string };

export interface BackfillOptions {
  store: Store;
  clock: Pick<Clock, 'now'>;
  call: QueryCall;
  /** First and last day of the walk (`YYYY-MM-DD`, the account's calendar). */
  since: string;
  until: string;
  /** Today in the account's zone: a day not before it is read but never marked done. */
  today: string;
  dryRun: boolean;
  onDay?: (result: DayResult, done: number, total: number) => void;
  /** Asked between days: `true` stops the walk (Ctrl-C) after the day in hand. */
  stopped?: () => boolean;
}

export type BackfillResult =
  | { ok: true; days: number; skipped: number; records: number; events: number; stopped: boolean }
  | { ok: false; failure: BackfillFailure; days: number; records: number; events: number };

class DryRunRollback extends Error {}

/** One day as a dry run: the detector's verdict on every row, then everything undone. */
async function dryRunDay(store: Store, clock: Pick<Clock, 'now'>, call: QueryCall, day: string): Promise<DayResult | BackfillFailure> {
  const window = { startDate: konnektiveDate(day), endDate: konnektiveDate(day) };
  const rows: Array<{ source: LifecycleSource; row: KonnektiveRow }> = [];
  // The poll's order: orders, then transactions, then purchases (a rebill told by its transaction first).
  for (const source of ['orders', 'transactions', 'purchases'] as const satisfies readonly LifecycleSource[]) {
    const read = await readChanged(call, source, window);
    if (!read.ok) return { day, message: `Konnektive: ${read.failure}: ${redactMessage(read.message)}` };
    for (const row of read.rows) rows.push({ source, row });
  }
  const kinds: Record<string, number> = {};
  let events = 0;
  try {
    await store.transaction(async (tx) => {
      for (const { source, row } of rows) {
        const outcome = await recordChange(tx, source, row, clock.now());
        for (const event of outcome.inserted) {
          kinds[event.kind] = (kinds[event.kind] ?? 0) + 1;
          events++;
        }
      }
      throw new DryRunRollback();
    });
  } catch (error) {
    if (!(error instanceof DryRunRollback)) throw error;
  }
  return { day, records: rows.length, events, kinds };
}

/** One day for real, through the poll's own read-and-record. */
async function syncDay(store: Store, clock: Pick<Clock, 'now'>, call: QueryCall, day: string): Promise<DayResult | BackfillFailure> {
  const result = await syncWindow(store, clock, call, { startDate: konnektiveDate(day), endDate: konnektiveDate(day) });
  if (!result.ok) return { day, message: `Konnektive: ${result.failure}: ${redactMessage(result.message)}` };
  return { day, records: result.records, events: result.events, kinds: {} };
}

/** Walks the days; see the module comment. */
export async function backfill(options: BackfillOptions): Promise<BackfillResult> {
  const { store, clock, since, until, today, dryRun } = options;
  const call = dayCall(options.call);
  const start = dryRun ? since : resumeDay(since, await readCursor(store));
  const all = daysBetween(since, until);
  const days = all.filter((day) => day >= start);
  const skipped = all.length - days.length;
  let records = 0;
  let events = 0;
  let done = 0;
  for (const day of days) {
    if (options.stopped?.()) return { ok: true, days: done, skipped, records, events, stopped: true };
    const result = dryRun ? await dryRunDay(store, clock, call, day) : await syncDay(store, clock, call, day);
    if (!('records' in result)) return { ok: false, failure: result, days: done, records, events };
    records += result.records;
    events += result.events;
    done++;
    if (!dryRun && day < today) await writeCursor(store.sql(), since, day);
    options.onDay?.(result, skipped + done, all.length);
  }
  return { ok: true, days: done, skipped, records, events, stopped: false };
}
