/**
 * @module lifecycle-poller
 * The lifecycle poll: an outbox job (`lifecycle.poll`) that reads Konnektive's transactions,
 * purchases and orders updated over the window (today and LIFECYCLE_LOOKBACK_DAYS before it, in
 * the account's zone) and records each through the change detector.
 *
 * No second scheduler: the sweeper's clock queues the job every LIFECYCLE_POLL_EVERY, under one
 * fixed outbox key and only when none is waiting, and the outbox runs one job of a key at a time,
 * so however many collectors share the store, one poll runs at a time. The three reads finish
 * before anything is recorded: a Konnektive fault (down, timing out, refusing the credentials)
 * leaves the store as it was and the outbox retries the poll later, so nothing is lost, only
 * delayed. A poll that runs twice over the same window finds the same changes and stores none
 * of them twice (lifecycle-sync.ts).
 */
import type { Clock } from '../clock.js';
import type { Config } from '../config.js';
import type { KonnektiveApi, KonnektiveFailure } from '../konnektive/konnektive-client.js';
import { JOB_KINDS } from '../outbox/job-kinds.js';
import type { JobHandler } from '../outbox/job-outcome.js';
import { queueJob } from '../outbox/queue-job.js';
import { failureOutcome, konnektiveCaller, type UpstreamCallDeps } from '../outbox/upstream-call.js';
import type { Store } from '../store/store.js';
import { lifecycleWindow } from './day-windows.js';
import { LIFECYCLE_SOURCES, readChanged, type KonnektiveRow, type LifecycleSource, type QueryCall } from './konnektive-lifecycle-client.js';
import { recordChange } from './lifecycle-sync.js';

/** The outbox key of every poll job: one waiting poll stands for all collectors. */
export const LIFECYCLE_POLL_KEY = 'lifecycle:poll';
/** Records written per store transaction. */
const BATCH = 100;
/**
 * Orders first (a transaction's email may come from its order), then transactions, then purchases
 * (a rebill is told by its transaction, the purchase only when none did); each in update order.
 */
const SOURCE_ORDER: Record<LifecycleSource, number> = { orders: 0, transactions: 1, purchases: 2 };

export interface LifecyclePollDeps extends UpstreamCallDeps {
  config: Config;
  store: Store;
  api: KonnektiveApi;
  /** Called when the poll queued deliveries, to wake the outbox worker. */
  onQueued?: () => void;
}

/** Queues a poll unless one is waiting already; `true` when it queued one. */
export function queueLifecyclePoll(store: Store, now: number): Promise<boolean> {
  return store.transaction((tx) => queueJob(tx, JOB_KINDS.lifecyclePoll, { sessionId: LIFECYCLE_POLL_KEY, runAt: now, unlessPending: true }));
}

/**
 * The sweeper's part: on each of its ticks, queue a poll when LIFECYCLE_POLL_EVERY has passed
 * since this collector last queued one. Does nothing while LIFECYCLE_SYNC is off.
 */
export function lifecyclePollClock(config: Config, store: Store): { tick(now: number): Promise<boolean> } {
  let last: number | undefined;
  return {
    async tick(now) {
      if (!config.lifecycle.enabled) return false;
      if (last !== undefined && now - last < config.lifecycle.pollEveryMs) return false;
      last = now;
      return queueLifecyclePoll(store, now);
    },
  };
}

/** `message.data` rows lack an email where Konnektive leaves it out: copy it, unaltered, from the same order's row. */
function withOrderEmails(rows: Array<{ source: LifecycleSource; row: KonnektiveRow }>): void {
  const emails = new Map<string, unknown>();
  for (const { source, row } of rows) if (source === 'orders' && row.emailAddress !== undefined) emails.set(String(row.orderId), row.emailAddress);
  for (const item of rows) {
    if (item.source === 'orders' || item.row.emailAddress !== undefined || item.row.orderId === undefined) continue;
    const email = emails.get(String(item.row.orderId));
    if (email !== undefined) item.row = { ...item.row, emailAddress: email };
  }
}

function updatedAt(row: KonnektiveRow): string {
  const value = row.dateUpdated ?? row.dateCreated ?? row.txnDate;
  return typeof value === 'string' ? value : '';
}

export type SyncResult =
  | { ok: true; records: number; events: number; alreadyKnown: number }
  | { ok: false; failure: KonnektiveFailure; message: string };

/**
 * Reads the three sources over `window` (whole days, m/d/Y) and records every row: the poll's
 * work, and what a day-by-day backfill needs for each day. Nothing is recorded unless all three
 * reads succeeded.
 */
export async function syncWindow(
  store: Store,
  clock: Pick<Clock, 'now'>,
  call: QueryCall,
  window: { startDate: string; endDate: string },
  options: { postbacks?: boolean } = {},
): Promise<SyncResult> {
  const rows: Array<{ source: LifecycleSource; row: KonnektiveRow }> = [];
  for (const source of LIFECYCLE_SOURCES) {
    const read = await readChanged(call, source, window);
    if (!read.ok) return read;
    for (const row of read.rows) rows.push({ source, row });
  }
  withOrderEmails(rows);
  rows.sort((a, b) => SOURCE_ORDER[a.source] - SOURCE_ORDER[b.source] || updatedAt(a.row).localeCompare(updatedAt(b.row)));
  let events = 0;
  let alreadyKnown = 0;
  for (let i = 0; i < rows.length; i += BATCH) {
    const now = clock.now();
    const outcomes = await store.transaction(async (tx) => {
      const done = [];
      for (const { source, row } of rows.slice(i, i + BATCH)) done.push(await recordChange(tx, source, row, now, options));
      return done;
    });
    for (const outcome of outcomes) {
      events += outcome.inserted.length;
      alreadyKnown += outcome.duplicates;
    }
  }
  return { ok: true, records: rows.length, events, alreadyKnown };
}

export function lifecyclePollHandlers(deps: LifecyclePollDeps): Record<typeof JOB_KINDS.lifecyclePoll, JobHandler> {
  const call = konnektiveCaller(deps);
  return {
    [JOB_KINDS.lifecyclePoll]: async (job, effects) => {
      const { config, store, clock, logger } = deps;
      const window = lifecycleWindow(clock.now(), config.lifecycle.timeZone, config.lifecycle.lookbackDays);
      // Rebills, refunds and chargebacks found as they happen fire affiliate postbacks too (never a backfill's history).
      const result = await syncWindow(store, clock, (endpoint, params) => call(job, effects, endpoint, params), window, { postbacks: config.postbacksFile !== undefined });
      if (!result.ok) return failureOutcome(deps, 'konnektive', result);
      if (result.events > 0) deps.onQueued?.();
      logger.info({ days: window.days.length, from: window.days[0], records: result.records, events: result.events, alreadyKnown: result.alreadyKnown }, 'lifecycle poll done');
      return { type: 'done' };
    },
  };
}
