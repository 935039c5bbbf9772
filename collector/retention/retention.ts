/**
 * @module retention
 * `RETENTION_DAYS`: every `RETENTION_EVERY` the collector deletes what is older than the window:
 * finished sessions with their events, clicks, states and emissions (counted into the daily
 * rollups first, in the same transaction: see rollups.ts), delivery attempts, and done jobs. Dashboard
 * cookies ended by their logout are forgotten as soon as they would have expired anyway.
 *
 * It never holds ingest up for long: each transaction takes a small batch (50 sessions with their
 * rows, or 250 attempts and 250 done jobs: about 500 rows), and between batches the purge waits a few milliseconds so the
 * requests that queued behind it (on SQLite, behind the store's one writer) go first. The
 * longest ingest stall this causes is measured by bench/retention (docs/BENCHMARKS.md).
 *
 * What is kept, whatever its age: a session the sweeper still has to look at, one with a job
 * pending, running or dead-lettered (dead letters stay visible and replayable, with their
 * session and attempts), one whose CART or ORDER is not sent yet, and an abandoned session whose
 * CART was not sent. Those go in a later run, once they are finished and old.
 */
import type { Clock } from '../clock.js';
import type { Logger } from '../logger.js';
import type { PurgeCursor, Store } from '../store/store.js';
import { DAY_MS } from './rollups.js';

export { DAY_MS };

export interface RetentionOptions {
  store: Store;
  clock: Clock;
  logger: Logger;
  retentionDays: number;
  everyMs: number;
  /** Sessions per transaction (default 50: about 500 rows with their events). */
  sessionBatch?: number;
  /** Attempts, and done jobs, per transaction (default 250 of each). */
  historyBatch?: number;
  /** Pause between two batches, so queued ingest goes first (default 5 ms). */
  pauseMs?: number;
  /** Delay before the first run (default: `everyMs`, at most one minute). */
  firstRunMs?: number;
}

export interface PurgeReport {
  sessions: number;
  /** Rows deleted, every table included. */
  rows: number;
  batches: number;
  /** The longest single batch (a transaction: on SQLite, ingest waits for it). */
  longestBatchMs: number;
  ms: number;
  /** The run stopped early because the collector is stopping. */
  interrupted: boolean;
}

export class Retention {
  readonly #o: Required<RetentionOptions>;
  /** Cancels the next run; undefined once stopped. */
  #cancel: (() => void) | undefined;
  #running: Promise<unknown> = Promise.resolve();
  #stopping = false;

  constructor(options: RetentionOptions) {
    this.#o = {
      sessionBatch: 50,
      historyBatch: 250,
      pauseMs: 5,
      firstRunMs: Math.min(options.everyMs, 60_000),
      ...options,
    };
  }

  start(): void {
    this.#stopping = false;
    const tick = () => {
      this.#running = this.purgeOnce()
        .catch((error: unknown) => this.#o.logger.error({ err: error instanceof Error ? error.message : String(error) }, 'retention purge failed'))
        .finally(() => {
          if (this.#cancel) this.#cancel = this.#o.clock.setTimer(tick, this.#o.everyMs);
        });
    };
    this.#cancel = this.#o.clock.setTimer(tick, this.#o.firstRunMs);
  }

  /** Stops the timer and a run in progress (between two batches), and waits for it. */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.#cancel?.();
    this.#cancel = undefined;
    await this.#running;
  }

  /** One run: everything older than the window, batch after batch. */
  async purgeOnce(): Promise<PurgeReport> {
    const { store, clock, sessionBatch, historyBatch, pauseMs, logger } = this.#o;
    const started = performance.now();
    const cutoff = clock.now() - this.#o.retentionDays * DAY_MS;
    const report: PurgeReport = { sessions: 0, rows: 0, batches: 0, longestBatchMs: 0, ms: 0, interrupted: false };
    const timed = async <T>(fn: () => Promise<T>): Promise<T> => {
      const at = performance.now();
      const result = await fn();
      report.batches++;
      report.longestBatchMs = Math.max(report.longestBatchMs, performance.now() - at);
      return result;
    };
    const pause = () => clock.sleep(pauseMs);

    let after: PurgeCursor | undefined;
    do {
      if (this.#stopping) break;
      const batch = await timed(() => store.purgeSessions({ cutoff, limit: sessionBatch, after }));
      report.sessions += batch.sessions;
      report.rows += batch.rows;
      after = batch.next;
      if (after) await pause();
    } while (after);
    for (;;) {
      if (this.#stopping) break;
      const deleted = await timed(() => store.purgeHistory({ cutoff, limit: historyBatch }));
      report.rows += deleted;
      if (deleted === 0) break;
      await pause();
    }
    for (;;) {
      if (this.#stopping) break;
      const deleted = await timed(() => store.purgeDashboardRevocations(clock.now(), historyBatch));
      report.rows += deleted;
      if (deleted < historyBatch) break;
      await pause();
    }
    report.interrupted = this.#stopping;
    report.ms = performance.now() - started;
    if (report.rows > 0 || report.interrupted) {
      logger.info(
        { sessions: report.sessions, rows: report.rows, batches: report.batches, longestBatchMs: Math.round(report.longestBatchMs), ms: Math.round(report.ms), interrupted: report.interrupted },
        'retention purge done',
      );
    }
    return report;
  }
}
