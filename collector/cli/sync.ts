/**
 * @module sync
 * `funnelbeacon sync --since YYYY-MM-DD [--until YYYY-MM-DD] [--dry-run]`: the lifecycle
 * backfill. It walks Konnektive's history one day at a time (collector/lifecycle/backfill.ts),
 * queues what it finds as `lifecycle.deliver` jobs, and waits until every one of them is
 * delivered or dead-lettered.
 *
 * Delivery is the outbox's, as in a collector: this command runs the collector's own outbox
 * worker (startCollector without sweeper or retention, listening on a loopback port nobody is
 * told). Beside a running collector on the same store both workers claim from one outbox under
 * leases, so each job runs once whoever takes it, and both go through the account's one rate gate.
 *
 * On a terminal it draws a progress bar; otherwise (a log, a pipe) one line per day. Ctrl-C stops
 * after the day in hand; the same command resumes after the last whole day recorded.
 */
import type { Clock } from '../clock.js';
import { systemClock } from '../clock.js';
import type { Config } from '../config.js';
import { konnektiveClient } from '../konnektive/konnektive-client.js';
import { backfill, isDay, readCursor, type DayResult } from '../lifecycle/backfill.js';
import { dayIn } from '../lifecycle/day-windows.js';
import { createLogger, type Logger } from '../logger.js';
import { JOB_KINDS } from '../outbox/job-kinds.js';
import { plural } from '../plural.js';
import type { CollectorOptions } from '../server.js';
import { startCollector } from '../server.js';
import { openStore } from '../store/open-store.js';
import type { Store } from '../store/store.js';

export interface SyncArgs {
  since: string;
  until: string | undefined;
  dryRun: boolean;
}

/** The command line's values, checked; `problem` is the one line to print (exit 2). */
export function parseSyncArgs(values: { since?: unknown; until?: unknown; 'dry-run'?: unknown }): { ok: true; args: SyncArgs } | { ok: false; problem: string } {
  const { since, until } = values;
  if (typeof since !== 'string' || !isDay(since)) return { ok: false, problem: `sync: --since takes the first day to read, as YYYY-MM-DD (e.g. --since 2025-01-01)${typeof since === 'string' ? `, got "${since}"` : ''}` };
  if (until !== undefined && (typeof until !== 'string' || !isDay(until))) return { ok: false, problem: `sync: --until takes the last day to read, as YYYY-MM-DD${typeof until === 'string' ? `, got "${until}"` : ''}` };
  if (typeof until === 'string' && until < since) return { ok: false, problem: `sync: --until ${until} is before --since ${since}` };
  const dryRun = values['dry-run'];
  if (dryRun !== undefined && dryRun !== true) return { ok: false, problem: 'sync: --dry-run takes no value' };
  return { ok: true, args: { since, until: typeof until === 'string' ? until : undefined, dryRun: dryRun === true } };
}

/** What the backfill needs from the configuration, or the one line that says what is missing. */
export function syncSettingsProblem(config: Config): string | undefined {
  if (!config.lifecycle.enabled) return 'sync: the lifecycle sync is off: set LIFECYCLE_SYNC=on (with the Konnektive and ActiveCampaign credentials) first';
  if (!config.konnektive) return 'sync: the lifecycle sync reads Konnektive: set KONNEKTIVE_LOGIN_ID and KONNEKTIVE_PASSWORD';
  if (!config.activeCampaign) return 'sync: the lifecycle sync writes to ActiveCampaign: set ACTIVECAMPAIGN_API_URL and ACTIVECAMPAIGN_API_KEY';
  return undefined;
}

export interface SyncOutput {
  write(text: string): void;
  /** A terminal gets a progress bar; anything else one line per day. */
  isTTY: boolean;
}

export interface SyncOptions {
  out: SyncOutput;
  /** Where the one-line problems go (exit 2). */
  err: (line: string) => void;
  clock?: Clock;
  fetch?: typeof fetch;
  logger?: Logger;
  /** Aborted on Ctrl-C: the walk stops after the day in hand, the wait for deliveries at once. */
  signal?: AbortSignal;
  /** Outbox worker tuning (tests). */
  worker?: CollectorOptions['worker'];
  /** How often the wait for deliveries looks again (default 1 s). */
  waitEveryMs?: number;
}

/** Days, records, events: the counters a terminal's bar shows. */
interface Progress {
  done: number;
  total: number;
  records: number;
  events: number;
  startedAt: number;
}

function minutes(ms: number): string {
  if (ms < 60_000) return `${Math.max(1, Math.round(ms / 1000))}s`;
  return ms < 3_600_000 ? `${Math.round(ms / 60_000)}m` : `${(ms / 3_600_000).toFixed(1)}h`;
}

function bar(p: Progress, now: number): string {
  const width = 24;
  const filled = p.total === 0 ? width : Math.round((p.done / p.total) * width);
  const perDay = p.done === 0 ? 0 : (now - p.startedAt) / p.done;
  const left = p.done === p.total ? 'read' : p.done === 0 ? '…' : `~${minutes(perDay * (p.total - p.done))} left`;
  return `\r\x1b[2K[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${p.done}/${p.total} days  ${plural(p.records, 'record', 'records')}  ${plural(p.events, 'event', 'events')}  ${plural(p.events, 'call', 'calls')} queued  ${left}`;
}

function kindsText(kinds: Record<string, number>): string {
  const parts = Object.entries(kinds)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([kind, n]) => `${kind} ${n}`);
  return parts.length === 0 ? 'nothing' : parts.join(', ');
}

interface DeliveryCounts {
  waiting: number;
  done: number;
  dead: number;
}

/** The lifecycle deliveries queued after job `afterId`, by state. */
async function deliveries(store: Store, afterId: number): Promise<DeliveryCounts> {
  const rows = await store.sql().all<{ state: string; n: number | string }>('SELECT state, COUNT(*) AS n FROM outbox WHERE kind = ? AND id > ? GROUP BY state', [JOB_KINDS.lifecycleDeliver, afterId]);
  const counts: DeliveryCounts = { waiting: 0, done: 0, dead: 0 };
  for (const row of rows) {
    const n = Number(row.n);
    if (row.state === 'done') counts.done += n;
    else if (row.state === 'dead') counts.dead += n;
    else counts.waiting += n;
  }
  return counts;
}

/** Runs the command; returns the exit code (0 done, 1 stopped by a fault, 2 bad arguments, 130 stopped by Ctrl-C). */
export async function runSync(config: Config, args: SyncArgs, options: SyncOptions): Promise<number> {
  const { out, err } = options;
  const clock = options.clock ?? systemClock;
  const problem = syncSettingsProblem(config);
  if (problem) {
    err(`funnelbeacon: ${problem}`);
    return 2;
  }
  const today = dayIn(clock.now(), config.lifecycle.timeZone);
  if (args.since > today) {
    err(`funnelbeacon: sync: --since ${args.since} is after today (${today} in ${config.lifecycle.timeZone})`);
    return 2;
  }
  const until = args.until === undefined || args.until > today ? today : args.until;
  const konnektive = config.konnektive!;
  const api = konnektiveClient({ ...konnektive, ...(options.fetch ? { fetch: options.fetch } : {}) });
  const call = (endpoint: Parameters<typeof api.call>[0], params: Record<string, string>) => api.call(endpoint, params);
  const stopped = () => options.signal?.aborted === true;

  if (args.dryRun) {
    // No worker, no migration, no cursor: a dry run writes nothing.
    const store = await openStore(config.databaseUrl, { clock });
    try {
      let would = 0;
      const result = await backfill({
        store, clock, call, since: args.since, until, today, dryRun: true, stopped,
        onDay: (day: DayResult) => {
          would += day.events;
          out.write(`${day.day}  ${plural(day.records, 'record', 'records')}  would send ${day.events}: ${kindsText(day.kinds)}\n`);
        },
      });
      if (!result.ok) {
        err(`funnelbeacon: sync: reading ${result.failure.day} failed (${result.failure.message}); nothing was written`);
        return 1;
      }
      out.write(`dry run: ${plural(result.days, 'day', 'days')}, ${plural(result.records, 'record', 'records')}, ${plural(would, 'event', 'events')} would be sent; nothing was sent or written\n`);
      return result.stopped ? 130 : 0;
    } finally {
      await store.close();
    }
  }

  const logger = options.logger ?? createLogger(config.logLevel === 'silent' ? 'silent' : 'warn');
  const collector = await startCollector(
    { ...config, port: 0, host: '127.0.0.1' },
    { logger, clock, runSweeper: false, runRetention: false, runAlerts: false, ...(options.fetch ? { fetch: options.fetch } : {}), ...(options.worker ? { worker: options.worker } : {}) },
  );
  const { store, worker } = collector;
  try {
    // What this run waits for: the deliveries it queues, and those a stopped run left waiting.
    const [first] = await store.sql().all<{ n: number | string | null }>(
      "SELECT COALESCE((SELECT MIN(id) - 1 FROM outbox WHERE kind = ? AND state IN ('pending', 'running')), (SELECT MAX(id) FROM outbox), 0) AS n",
      [JOB_KINDS.lifecycleDeliver],
    );
    const afterId = Number(first?.n ?? 0);
    const progress: Progress = { done: 0, total: 0, records: 0, events: 0, startedAt: clock.now() };
    const cursor = await readCursor(store);
    const result = await backfill({
      store, clock, call, since: args.since, until, today, dryRun: false, stopped,
      onDay: (day, done, total) => {
        Object.assign(progress, { done, total, records: progress.records + day.records, events: progress.events + day.events });
        if (day.events > 0) worker.notify();
        out.write(out.isTTY ? bar(progress, clock.now()) : `${day.day}  ${plural(day.records, 'record', 'records')}  ${plural(day.events, 'event', 'events')}  ${plural(day.events, 'call', 'calls')} queued\n`);
      },
    });
    if (out.isTTY) out.write('\n');
    if (result.ok && result.skipped > 0) out.write(`resumed after ${cursor?.split('..')[1] ?? args.since}: ${plural(result.skipped, 'day', 'days')} already recorded\n`);
    if (!result.ok) {
      err(`funnelbeacon: sync: reading ${result.failure.day} failed (${result.failure.message}); run the same command again to resume from that day`);
      return 1;
    }
    if (result.stopped) {
      out.write(`stopped: run the same command to resume; what was queued stays in the outbox (a running collector delivers it, or the next sync)\n`);
      return 130;
    }
    // Until every delivery this walk queued is delivered or dead-lettered.
    let counts = await deliveries(store, afterId);
    if (!out.isTTY && counts.waiting > 0) out.write(`delivering ${plural(counts.waiting, 'queued call', 'queued calls')} to ActiveCampaign\n`);
    while (counts.waiting > 0) {
      if (stopped()) {
        out.write(`${out.isTTY ? '\n' : ''}stopped: ${plural(counts.waiting, 'delivery stays', 'deliveries stay')} in the outbox (a running collector delivers them, or the next sync)\n`);
        return 130;
      }
      if (out.isTTY) out.write(`\r\x1b[2Kdelivering: ${counts.done} delivered, ${counts.dead} dead-lettered, ${counts.waiting} to go`);
      worker.notify();
      await clock.sleep(options.waitEveryMs ?? 1_000);
      counts = await deliveries(store, afterId);
    }
    if (out.isTTY) out.write('\n');
    const replay = counts.dead > 0 ? ' (see Delivery on the dashboard; funnelbeacon replay sends them again)' : '';
    out.write(`backfill done: ${plural(result.days, 'day', 'days')} read, ${plural(result.records, 'record', 'records')}, ${plural(result.events, 'event', 'events')}; ${counts.done} delivered, ${counts.dead} dead-lettered${replay}\n`);
    return 0;
  } finally {
    await collector.close();
  }
}
