/**
 * @module change-detector
 * Turns a Konnektive record read by the poll into the lifecycle events it shows, by comparing it
 * with what was last seen of the same record (its snapshot). Only a real change makes an event,
 * and every event's id is made from Konnektive's ids and the change itself, so the same change
 * found again (an overlapping window, a restart, a second collector) is the same event, stored
 * once (see lifecycle-sync.ts).
 *
 * Which record says what (one source per event kind, so no change is told twice):
 * - transactions: a first sale completed or declined; a rebill succeeded or declined (a
 *   transaction of a purchase in billing cycle 2 or later); a refund; a void; a chargeback (the
 *   sale's `isChargedback` turning true, or a CHARGEBACK row) and its reversal (turning false);
 * - purchases: retries exhausted (RECYCLE_FAILED), cancelled, paused, reactivated; and, when no
 *   transaction told it first, a rebill from the billing cycle advancing or RECYCLE_BILLING. A
 *   rebill's event id is per purchase and cycle (`purchase:<id>:cycle:<n>:…`) whichever record
 *   shows it, so the transaction and the purchase make one event; a cycle's retries that decline
 *   again add nothing (the subscription went into retries once);
 * - orders: order cancelled; fulfillment shipped and delivered (with the tracking number).
 * docs/upstreams.md ("Lifecycle sync") gives the readings chosen where Konnektive's answers are
 * not documented.
 */
import type { LifecycleCustomer, LifecycleEvent } from './lifecycle-event.js';
import type { KonnektiveRow, LifecycleSource } from './konnektive-lifecycle-client.js';

/** What is kept of a transaction: the fields whose change is an event, and what a refund is matched with. */
export interface TransactionSnapshot {
  txnType: string;
  responseType: string;
  isChargedback: boolean;
  chargebackDate?: string;
  orderId?: string;
  purchaseId?: string;
  billingCycle?: number;
  amountCents?: number;
  dateCreated?: string;
  customer: LifecycleCustomer;
}

export interface PurchaseSnapshot {
  status: string;
  billingCycle?: number;
  nextBillDate?: string;
  orderId?: string;
  customer: LifecycleCustomer;
}

export interface OrderSnapshot {
  orderStatus: string;
  /** Each fulfillment's status (upper case) by its id (or the order id when it has none). */
  fulfillments: Record<string, string>;
  customer: LifecycleCustomer;
}

export type Snapshot = TransactionSnapshot | PurchaseSnapshot | OrderSnapshot;

/** What the detector may look up beyond the record: the store's snapshots, within the same transaction. */
export interface DetectorLookup {
  /** Transactions seen of this order (snapshots, by transaction id). */
  transactionsOfOrder(orderId: string): Promise<Array<{ id: string; snapshot: TransactionSnapshot }>>;
  /** The order's snapshot, for the customer's email when a transaction or purchase row lacks it. */
  order(orderId: string): Promise<OrderSnapshot | undefined>;
}

export interface Detection<S extends Snapshot = Snapshot> {
  recordId: string;
  snapshot: S;
  /** Empty when nothing worth telling changed. */
  events: LifecycleEvent[];
}

/** The transaction a refund or chargeback names, in the fields where Konnektive may name it (INFERRED names). */
const NAMED_SALE_FIELDS = ['refundedTransactionId', 'parentTransactionId', 'originalTransactionId', 'parentTxnId'] as const;

const SALE_TYPES = new Set(['SALE', 'CAPTURE', 'UPSALE', 'UPSELL', 'RECURRING', 'REBILL']);
const CHURN_STATES = new Set(['CANCELLED', 'PAUSED', 'RECYCLE_FAILED']);
const LIVE_STATES = new Set(['ACTIVE', 'TRIAL', 'RECYCLE_BILLING']);

export function text(row: KonnektiveRow, field: string): string | undefined {
  const value = row[field];
  if (typeof value === 'number') return String(value);
  if (typeof value !== 'string' || value.trim() === '') return undefined;
  return value;
}

/** Konnektive's status words, compared in one spelling: `Recycle Billing` → `RECYCLE_BILLING`. */
function status(value: string | undefined): string {
  return (value ?? '').trim().toUpperCase().replace(/[\s-]+/g, '_');
}

function truthy(value: unknown): boolean {
  return value === true || value === 1 || (typeof value === 'string' && ['1', 'true', 'yes'].includes(value.trim().toLowerCase()));
}

/** Dollars as Konnektive writes them ("39.95", -39.95) to whole cents, sign dropped. */
export function cents(value: unknown): number | undefined {
  const n = typeof value === 'number' ? value : typeof value === 'string' ? Number(value.replace(/[$,\s]/g, '')) : NaN;
  return Number.isFinite(n) ? Math.round(Math.abs(n) * 100) : undefined;
}

function integer(value: unknown): number | undefined {
  const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
  return Number.isInteger(n) ? n : undefined;
}

function day(value: string | undefined): string | undefined {
  if (!value) return undefined;
  const iso = /^(\d{4})-(\d{2})-(\d{2})/.exec(value);
  if (iso) return `${iso[1]}-${iso[2]}-${iso[3]}`;
  const us = /^(\d{1,2})\/(\d{1,2})\/(\d{4})/.exec(value);
  return us ? `${us[3]}-${us[1]!.padStart(2, '0')}-${us[2]!.padStart(2, '0')}` : undefined;
}

/** The customer a row names, as Konnektive holds it (values never altered). */
export function customerOf(row: KonnektiveRow): LifecycleCustomer {
  const customer: LifecycleCustomer = {};
  const set = (key: keyof LifecycleCustomer, field: string) => {
    const value = text(row, field);
    if (value !== undefined) customer[key] = value;
  };
  set('customerId', 'customerId');
  set('email', 'emailAddress');
  set('firstName', 'firstName');
  set('lastName', 'lastName');
  set('phone', 'phoneNumber');
  return customer;
}

/** When the change happened: the row's `dateUpdated`, else its `dateCreated` / `txnDate`. */
function occurredAt(row: KonnektiveRow): string {
  return text(row, 'dateUpdated') ?? text(row, 'txnDate') ?? text(row, 'dateCreated') ?? '';
}

function common(row: KonnektiveRow, customer: LifecycleCustomer): Omit<LifecycleEvent, 'id' | 'kind' | 'occurredAt'> {
  const base: Omit<LifecycleEvent, 'id' | 'kind' | 'occurredAt'> = { customer };
  const put = <K extends 'campaignId' | 'orderId' | 'purchaseId' | 'productId' | 'productName' | 'currency'>(key: K, field: string) => {
    const value = text(row, field);
    if (value !== undefined) base[key] = value;
  };
  put('campaignId', 'campaignId');
  put('orderId', 'orderId');
  put('purchaseId', 'purchaseId');
  put('productId', 'productId');
  put('productName', 'productName');
  put('currency', 'currency');
  return base;
}

/** The customer of a row, with the email of its order when the row has none. */
async function resolveCustomer(row: KonnektiveRow, lookup: DetectorLookup): Promise<LifecycleCustomer> {
  const customer = customerOf(row);
  const orderId = text(row, 'orderId');
  if (customer.email || !orderId) return customer;
  const order = await lookup.order(orderId);
  return order ? { ...order.customer, ...customer, ...(order.customer.email ? { email: order.customer.email } : {}) } : customer;
}

export async function detect(source: LifecycleSource, row: KonnektiveRow, previous: Snapshot | undefined, lookup: DetectorLookup): Promise<Detection | undefined> {
  switch (source) {
    case 'transactions':
      return detectTransaction(row, previous as TransactionSnapshot | undefined, lookup);
    case 'purchases':
      return detectPurchase(row, previous as PurchaseSnapshot | undefined, lookup);
    case 'orders':
      return detectOrder(row, previous as OrderSnapshot | undefined);
  }
}

async function detectTransaction(row: KonnektiveRow, previous: TransactionSnapshot | undefined, lookup: DetectorLookup): Promise<Detection<TransactionSnapshot> | undefined> {
  const id = text(row, 'transactionId');
  if (!id) return undefined;
  const customer = await resolveCustomer(row, lookup);
  const snapshot: TransactionSnapshot = {
    txnType: status(text(row, 'txnType')),
    responseType: status(text(row, 'responseType')),
    isChargedback: truthy(row.isChargedback),
    customer,
  };
  const optional = {
    chargebackDate: text(row, 'chargebackDate'),
    orderId: text(row, 'orderId'),
    purchaseId: text(row, 'purchaseId'),
    billingCycle: integer(row.billingCycleNumber),
    amountCents: cents(row.totalAmount),
    dateCreated: text(row, 'dateCreated') ?? text(row, 'txnDate'),
  };
  for (const [key, value] of Object.entries(optional)) if (value !== undefined) (snapshot as unknown as Record<string, unknown>)[key] = value;

  const events: LifecycleEvent[] = [];
  const base = { ...common(row, customer), transactionId: id, ...(snapshot.amountCents !== undefined ? { amountCents: snapshot.amountCents } : {}) };
  const at = occurredAt(row);
  const isNew = previous === undefined;
  const changedResponse = isNew || previous.responseType !== snapshot.responseType || previous.txnType !== snapshot.txnType;
  const isRebill = Boolean(snapshot.purchaseId) && (snapshot.billingCycle ?? 1) > 1;
  const rebillKey = `purchase:${snapshot.purchaseId}:cycle:${snapshot.billingCycle}`;
  const declineType = snapshot.responseType === 'HARD_DECLINE' ? 'hard' : snapshot.responseType === 'SOFT_DECLINE' || snapshot.responseType === 'DECLINE' ? 'soft' : undefined;
  const reason = text(row, 'responseText');

  if (changedResponse && SALE_TYPES.has(snapshot.txnType)) {
    const cycle = snapshot.billingCycle !== undefined ? { billingCycle: snapshot.billingCycle } : {};
    if (snapshot.responseType === 'SUCCESS') {
      events.push(
        isRebill
          ? { ...base, ...cycle, id: `${rebillKey}:rebill_succeeded`, kind: 'rebill_succeeded', occurredAt: at }
          : { ...base, ...cycle, id: `txn:${id}:sale_completed`, kind: 'sale_completed', occurredAt: at },
      );
    } else if (declineType) {
      const declined = { ...base, ...cycle, declineType, ...(reason !== undefined ? { reason } : {}), occurredAt: at } as const;
      events.push(
        isRebill
          ? { ...declined, id: `${rebillKey}:rebill_declined`, kind: 'rebill_declined' }
          : { ...declined, id: `txn:${id}:sale_declined`, kind: 'sale_declined' },
      );
    }
  }
  if (changedResponse && snapshot.responseType === 'SUCCESS' && (snapshot.txnType === 'REFUND' || snapshot.txnType === 'VOID' || snapshot.txnType === 'CHARGEBACK')) {
    const sale = await returnedSale(row, snapshot, id, lookup);
    const returns = sale ? { returnsTransactionId: sale.id } : {};
    if (snapshot.txnType === 'REFUND') {
      const full = sale?.snapshot.amountCents !== undefined && snapshot.amountCents !== undefined ? { fullRefund: snapshot.amountCents >= sale.snapshot.amountCents } : {};
      const refundReason = text(row, 'refundReason');
      events.push({ ...base, ...returns, ...full, ...(refundReason !== undefined ? { reason: refundReason } : {}), id: `txn:${id}:refund`, kind: 'refund', occurredAt: at });
    } else if (snapshot.txnType === 'VOID') {
      events.push({ ...base, ...returns, id: `txn:${id}:void`, kind: 'void', occurredAt: at });
    } else {
      const code = text(row, 'chargebackReasonCode');
      events.push({ ...base, ...returns, ...(code !== undefined ? { reason: code } : {}), id: `txn:${id}:chargeback`, kind: 'chargeback', occurredAt: at });
    }
  }
  // A chargeback recorded on the sale itself: the sale's flag turns true (or false when reverted).
  if (snapshot.txnType !== 'CHARGEBACK') {
    const wasChargedback = previous?.isChargedback ?? false;
    if (snapshot.isChargedback && !wasChargedback) {
      const code = text(row, 'chargebackReasonCode');
      const amount = cents(row.chargebackAmount) ?? snapshot.amountCents;
      events.push({
        ...base,
        ...(amount !== undefined ? { amountCents: amount } : {}),
        ...(code !== undefined ? { reason: code } : {}),
        returnsTransactionId: id,
        id: `txn:${id}:chargeback:${snapshot.chargebackDate ?? ''}`,
        kind: 'chargeback',
        occurredAt: snapshot.chargebackDate ?? at,
      });
    } else if (!snapshot.isChargedback && wasChargedback) {
      events.push({ ...base, returnsTransactionId: id, id: `txn:${id}:chargeback_reversed:${previous?.chargebackDate ?? ''}`, kind: 'chargeback_reversed', occurredAt: at });
    }
  }
  return { recordId: id, snapshot, events };
}

/**
 * The sale a refund, void or chargeback row returns: the transaction it names where it names one,
 * else the latest successful sale of the same order and purchase in the same billing cycle.
 */
async function returnedSale(
  row: KonnektiveRow,
  snapshot: TransactionSnapshot,
  id: string,
  lookup: DetectorLookup,
): Promise<{ id: string; snapshot: TransactionSnapshot | Partial<TransactionSnapshot> } | undefined> {
  const seen = snapshot.orderId ? await lookup.transactionsOfOrder(snapshot.orderId) : [];
  for (const field of NAMED_SALE_FIELDS) {
    const named = text(row, field);
    if (named) return seen.find((t) => t.id === named) ?? { id: named, snapshot: {} };
  }
  const candidates = seen.filter(
    (t) =>
      t.id !== id &&
      SALE_TYPES.has(t.snapshot.txnType) &&
      t.snapshot.responseType === 'SUCCESS' &&
      (t.snapshot.purchaseId ?? '') === (snapshot.purchaseId ?? '') &&
      (t.snapshot.billingCycle ?? 1) === (snapshot.billingCycle ?? 1),
  );
  candidates.sort((a, b) => (a.snapshot.dateCreated ?? '').localeCompare(b.snapshot.dateCreated ?? '') || Number(a.id) - Number(b.id));
  return candidates.at(-1);
}

async function detectPurchase(row: KonnektiveRow, previous: PurchaseSnapshot | undefined, lookup: DetectorLookup): Promise<Detection<PurchaseSnapshot> | undefined> {
  const id = text(row, 'purchaseId');
  if (!id) return undefined;
  const customer = await resolveCustomer(row, lookup);
  const snapshot: PurchaseSnapshot = { status: status(text(row, 'status') ?? text(row, 'recurringStatus')), customer };
  const billingCycle = integer(row.billingCycleNumber);
  const nextBillDate = day(text(row, 'nextBillDate'));
  const orderId = text(row, 'orderId');
  if (billingCycle !== undefined) snapshot.billingCycle = billingCycle;
  if (nextBillDate !== undefined) snapshot.nextBillDate = nextBillDate;
  if (orderId !== undefined) snapshot.orderId = orderId;

  const at = occurredAt(row);
  const base = {
    ...common(row, customer),
    purchaseId: id,
    ...(billingCycle !== undefined ? { billingCycle } : {}),
    ...(nextBillDate !== undefined ? { nextBillDate } : {}),
  };
  const amount = cents(row.price);
  const events: LifecycleEvent[] = [];
  const was = previous?.status;
  // Whether a rebill transaction of this purchase, of the cycle last seen here or a later one,
  // told the rebill already: Konnektive's purchase cycle may count the cycle billed or the next
  // one, so the purchase tells a rebill only when no transaction did.
  const toldByTransaction = async (success: boolean): Promise<boolean> => {
    if (!orderId) return false;
    const seen = await lookup.transactionsOfOrder(orderId);
    return seen.some(
      (t) =>
        t.snapshot.purchaseId === id &&
        (t.snapshot.billingCycle ?? 1) > 1 &&
        (t.snapshot.billingCycle ?? 1) >= (previous?.billingCycle ?? 1) &&
        SALE_TYPES.has(t.snapshot.txnType) &&
        (t.snapshot.responseType === 'SUCCESS') === success,
    );
  };
  if (was !== snapshot.status) {
    const stamp = `purchase:${id}:status:${snapshot.status}:${at}`;
    const reason = text(row, 'cancelReason');
    switch (snapshot.status) {
      case 'RECYCLE_FAILED':
        events.push({ ...base, id: `purchase:${id}:cycle:${billingCycle ?? ''}:retries_exhausted`, kind: 'retries_exhausted', occurredAt: at });
        break;
      case 'CANCELLED':
        events.push({ ...base, ...(reason !== undefined ? { reason } : {}), id: stamp, kind: 'subscription_cancelled', occurredAt: at });
        break;
      case 'PAUSED':
        events.push({ ...base, id: stamp, kind: 'subscription_paused', occurredAt: at });
        break;
      case 'RECYCLE_BILLING':
        // Told by the declined rebill transaction when it was read; this is the same event id.
        if (billingCycle !== undefined && !(await toldByTransaction(false))) events.push({ ...base, id: `purchase:${id}:cycle:${billingCycle}:rebill_declined`, kind: 'rebill_declined', occurredAt: at });
        break;
      default:
        if (was !== undefined && CHURN_STATES.has(was) && LIVE_STATES.has(snapshot.status)) {
          events.push({ ...base, id: stamp, kind: 'subscription_reactivated', occurredAt: at });
        }
    }
  }
  // The cycle advanced and no transaction told it: a rebill (same id as the transaction's).
  if (previous?.billingCycle !== undefined && billingCycle !== undefined && billingCycle > previous.billingCycle && snapshot.status !== 'RECYCLE_BILLING' && !(await toldByTransaction(true))) {
    events.push({ ...base, ...(amount !== undefined ? { amountCents: amount } : {}), id: `purchase:${id}:cycle:${billingCycle}:rebill_succeeded`, kind: 'rebill_succeeded', occurredAt: at });
  }
  return { recordId: id, snapshot, events };
}

function detectOrder(row: KonnektiveRow, previous: OrderSnapshot | undefined): Detection<OrderSnapshot> | undefined {
  const id = text(row, 'orderId');
  if (!id) return undefined;
  const customer = customerOf(row);
  const fulfillments: Record<string, string> = {};
  const tracking: Record<string, { trackingNumber?: string; carrier?: string; at?: string }> = {};
  const list = Array.isArray(row.fulfillments) ? row.fulfillments : row.fulfillments && typeof row.fulfillments === 'object' ? Object.values(row.fulfillments) : [];
  for (const item of list) {
    if (!item || typeof item !== 'object') continue;
    const f = item as KonnektiveRow;
    const key = text(f, 'fulfillmentId') ?? id;
    fulfillments[key] = status(text(f, 'status') ?? text(f, 'fulfillmentStatus'));
    const trackingNumber = text(f, 'trackingNumber');
    const carrier = text(f, 'shipCarrier');
    const at = text(f, 'dateDelivered') ?? text(f, 'dateShipped');
    tracking[key] = { ...(trackingNumber !== undefined ? { trackingNumber } : {}), ...(carrier !== undefined ? { carrier } : {}), ...(at !== undefined ? { at } : {}) };
  }
  // Some rows carry the order's fulfillment at the top level only.
  const topStatus = text(row, 'fulfillmentStatus');
  if (list.length === 0 && topStatus) {
    fulfillments[id] = status(topStatus);
    const trackingNumber = text(row, 'trackingNumber');
    tracking[id] = trackingNumber !== undefined ? { trackingNumber } : {};
  }
  const snapshot: OrderSnapshot = { orderStatus: status(text(row, 'orderStatus')), fulfillments, customer };
  const at = occurredAt(row);
  const base = { ...common(row, customer), orderId: id };
  const events: LifecycleEvent[] = [];
  if (snapshot.orderStatus === 'CANCELLED' && previous?.orderStatus !== 'CANCELLED') {
    events.push({ ...base, id: `order:${id}:cancelled`, kind: 'order_cancelled', occurredAt: at });
  }
  for (const [key, state] of Object.entries(fulfillments)) {
    if (previous?.fulfillments[key] === state) continue;
    const info = tracking[key] ?? {};
    const shipment = { ...base, ...(info.trackingNumber !== undefined ? { trackingNumber: info.trackingNumber } : {}), ...(info.carrier !== undefined ? { carrier: info.carrier } : {}), occurredAt: info.at ?? at };
    // A fulfillment first seen delivered was also shipped: both are told, each once.
    if ((state === 'SHIPPED' || state === 'DELIVERED') && previous?.fulfillments[key] !== 'SHIPPED') {
      events.push({ ...shipment, id: `fulfillment:${key}:shipped`, kind: 'fulfillment_shipped' });
    }
    if (state === 'DELIVERED') events.push({ ...shipment, id: `fulfillment:${key}:delivered`, kind: 'fulfillment_delivered' });
  }
  return { recordId: id, snapshot, events };
}
