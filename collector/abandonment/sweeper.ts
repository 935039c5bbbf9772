/**
 * @module sweeper
 * Every SWEEP_EVERY, takes the sessions whose due time has passed and decides what each needs
 * (see session-rules.ts): a purchase recheck, an order finalisation, a CUSTOMER, or nothing.
 * It only writes states and queues jobs; every upstream call happens in the outbox.
 *
 * Cost grows with the sessions that are due, not with all stored ones: due sessions are read
 * through an index on the due time. Several sweepers (in one collector or many) can run at once:
 * a session is taken by one of them only (see `StoreTx.claimDueSessions`).
 */
import type { Clock } from '../clock.js';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import { JOB_KINDS } from '../outbox/job-kinds.js';
import { queueJob } from '../outbox/queue-job.js';
import type { Session, StoreTx, Store } from '../store/store.js';
import { customerPayload } from './emission-payloads.js';
import { abandonmentPolicy, sweepAction, type AbandonmentPolicy } from '../session/session-rules.js';

export interface SweeperOptions {
  store: Store;
  config: Config;
  clock: Clock;
  logger: Logger;
  /** Called when a sweep queued jobs, to wake the outbox worker. */
  onQueued?: () => void;
  /** Sessions taken per transaction. */
  batchSize?: number;
  /** Lifecycle sync's poll, queued on this clock's ticks (collector/lifecycle/lifecycle-poller.ts). */
  lifecycle?: { tick(now: number): Promise<boolean> };
}

export class Sweeper {
  readonly #o: Required<Omit<SweeperOptions, 'lifecycle'>> & Pick<SweeperOptions, 'lifecycle'>;
  readonly #policy: AbandonmentPolicy;
  /** Cancels the next tick; undefined once stopped. */
  #cancel: (() => void) | undefined;
  #sweeping: Promise<unknown> = Promise.resolve();

  constructor(options: SweeperOptions) {
    this.#o = { onQueued: () => {}, batchSize: 500, ...options };
    this.#policy = abandonmentPolicy(options.config);
  }

  start(): void {
    const tick = () => {
      this.#sweeping = this.sweepOnce()
        .catch((error: unknown) => this.#o.logger.error({ err: error instanceof Error ? error.message : String(error) }, 'sweep failed'))
        .finally(() => {
          if (this.#cancel) this.#cancel = this.#o.clock.setTimer(tick, this.#o.config.sweepEveryMs);
        });
    };
    this.#cancel = this.#o.clock.setTimer(tick, this.#o.config.sweepEveryMs);
  }

  async stop(): Promise<void> {
    this.#cancel?.();
    this.#cancel = undefined;
    await this.#sweeping;
  }

  /** One sweep: every session due now. Returns how many sessions it looked at. */
  async sweepOnce(): Promise<number> {
    const { store, clock, batchSize } = this.#o;
    let seen = 0;
    let queued = 0;
    for (;;) {
      const now = clock.now();
      const batch = await store.transaction(async (tx) => {
        const sessions = await tx.claimDueSessions(now, batchSize);
        for (const session of sessions) if (await this.#apply(tx, session, now)) queued++;
        return sessions.length;
      });
      seen += batch;
      if (batch < batchSize) break;
    }
    if (await this.#o.lifecycle?.tick(clock.now())) queued++;
    if (queued > 0) this.#o.onQueued();
    if (seen > 0) this.#o.logger.debug({ sessions: seen, jobs: queued }, 'sweep done');
    return seen;
  }

  /** Applies the session's sweep action; `true` when it queued a job. */
  async #apply(tx: StoreTx, session: Session, now: number): Promise<boolean> {
    const action = sweepAction(session, now, this.#policy);
    const job = { sessionId: session.id, runAt: now, unlessPending: true };
    switch (action.type) {
      case 'wait':
        await tx.updateSession(session.id, { dueAt: action.dueAt });
        return false;
      case 'finalize-order':
        return queueJob(tx, JOB_KINDS.orderFinalize, job);
      case 'recheck-purchase':
        return queueJob(tx, JOB_KINDS.purchaseRecheck, job);
      case 'send-customer': {
        await tx.updateSession(session.id, { state: 'expired', stateChangedAt: now });
        // The Konnektive route creates the AC customer from the CRM's own customer record.
        if (this.#o.config.emitVia === 'konnektive' && !session.konnektive.customerId) return false;
        if (!(await tx.insertEmission({ sessionId: session.id, kind: 'customer', payload: { ...customerPayload(session) }, now }))) return false;
        return queueJob(tx, JOB_KINDS.emitCustomer, { ...job, emitVia: this.#o.config.emitVia });
      }
      case 'expire':
        await tx.updateSession(session.id, { state: 'expired', stateChangedAt: now });
        return false;
    }
  }
}
