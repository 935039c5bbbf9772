/**
 * @module lifecycle-sync
 * Records one Konnektive record as the poll read it, in one store transaction: its previous
 * snapshot is read (and, on PostgreSQL, locked), the change detector compares, the new snapshot
 * is written, each event is inserted under its stable id, and each event actually inserted
 * queues one `lifecycle.deliver` job. An event found twice (an overlapping window, a restart,
 * two collectors racing on the same record) is inserted once, so it is delivered once.
 *
 * A customer's jobs share one outbox key, `customer:<email lowercased>` (or
 * `customer:konnektive:<customerId>` when Konnektive gave no email), so the outbox runs a
 * customer's events in the order they were found.
 */
import { JOB_KINDS, jobUpstream } from '../outbox/job-kinds.js';
import { queuePostbackEvent } from '../postbacks/postback-queue.js';
import type { StoreTx } from '../store/store.js';
import { detect, type DetectorLookup, type OrderSnapshot, type Snapshot, type TransactionSnapshot } from './change-detector.js';
import type { KonnektiveRow, LifecycleSource } from './konnektive-lifecycle-client.js';
import type { LifecycleCustomer, LifecycleEvent } from './lifecycle-event.js';

/** The outbox key of a customer's lifecycle jobs. */
export function customerKey(customer: LifecycleCustomer): string {
  if (customer.email) return `customer:${customer.email.trim().toLowerCase()}`;
  return `customer:konnektive:${customer.customerId ?? 'unknown'}`;
}

/** The detector's look-ups, answered from the snapshots inside this transaction. */
export function storeLookup(tx: StoreTx): DetectorLookup {
  return {
    async transactionsOfOrder(orderId) {
      const rows = await tx.listLifecycleSnapshots('transactions', orderId);
      return rows.map((row) => ({ id: row.recordId, snapshot: JSON.parse(row.snapshot) as TransactionSnapshot }));
    },
    async order(orderId) {
      const json = await tx.getLifecycleSnapshot('orders', orderId);
      return json === undefined ? undefined : (JSON.parse(json) as OrderSnapshot);
    },
  };
}

export interface RecordOutcome {
  /** Events stored now (not found before). */
  inserted: LifecycleEvent[];
  /** Events detected that were already stored. */
  duplicates: number;
}

/** Compares `row` with its snapshot and stores what changed; see the module comment. */
export async function recordChange(tx: StoreTx, source: LifecycleSource, row: KonnektiveRow, now: number, options: { postbacks?: boolean } = {}): Promise<RecordOutcome> {
  const outcome: RecordOutcome = { inserted: [], duplicates: 0 };
  const idField = source === 'transactions' ? 'transactionId' : source === 'purchases' ? 'purchaseId' : 'orderId';
  const recordId = row[idField];
  if (typeof recordId !== 'string' && typeof recordId !== 'number') return outcome;
  const previousJson = await tx.getLifecycleSnapshot(source, String(recordId));
  const previous = previousJson === undefined ? undefined : (JSON.parse(previousJson) as Snapshot);
  const detection = await detect(source, row, previous, storeLookup(tx));
  if (!detection) return outcome;
  const snapshotJson = JSON.stringify(detection.snapshot);
  if (snapshotJson !== previousJson) {
    const groupKey = 'orderId' in detection.snapshot ? detection.snapshot.orderId : source === 'orders' ? detection.recordId : undefined;
    await tx.putLifecycleSnapshot({ kind: source, recordId: detection.recordId, ...(groupKey ? { groupKey } : {}), snapshot: snapshotJson, now });
  }
  for (const event of detection.events) {
    const key = customerKey(event.customer);
    const payload = { ...event } as unknown as Record<string, unknown>;
    if (!(await tx.insertLifecycleEvent({ id: event.id, kind: event.kind, customerKey: key, payload, now }))) {
      outcome.duplicates++;
      continue;
    }
    await tx.enqueue({ sessionId: key, upstream: jobUpstream(JOB_KINDS.lifecycleDeliver, 'activecampaign'), kind: JOB_KINDS.lifecycleDeliver, payload, runAt: now });
    if (options.postbacks) await queueLifecyclePostback(tx, event, now);
    outcome.inserted.push(event);
  }
  return outcome;
}

/** The lifecycle events an affiliate postback can fire on. */
const POSTBACK_EVENT_OF: Partial<Record<LifecycleEvent['kind'], 'rebill' | 'refund' | 'chargeback'>> = {
  rebill_succeeded: 'rebill',
  refund: 'refund',
  chargeback: 'chargeback',
};

/**
 * A rebill, a refund or a chargeback routed to the affiliate postbacks. A refund and a chargeback
 * reverse the order once (`<order>.refund`: a second partial refund fires nothing more); each
 * rebill is its own event. The order's funnel session gives the affiliate values when it runs.
 */
async function queueLifecyclePostback(tx: StoreTx, event: LifecycleEvent, now: number): Promise<void> {
  const kind = POSTBACK_EVENT_OF[event.kind];
  if (!kind || !event.orderId) return;
  await queuePostbackEvent(tx, {
    event: kind,
    eventId: kind === 'rebill' ? `${event.orderId}.rebill.${event.transactionId ?? event.id}` : `${event.orderId}.${kind}`,
    orderId: event.orderId,
    ...(event.amountCents === undefined ? {} : { amountCents: event.amountCents }),
    ...(event.currency ? { currency: event.currency } : {}),
    at: now,
  });
}
