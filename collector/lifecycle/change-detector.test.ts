import { describe, expect, it } from 'vitest';
import { cents, detect, type DetectorLookup, type OrderSnapshot, type Snapshot, type TransactionSnapshot } from './change-detector.js';
import type { KonnektiveRow, LifecycleSource } from './konnektive-lifecycle-client.js';

/** The snapshots a store would hold, kept in a map: the detector itself is pure. */
function memory() {
  const snapshots = new Map<string, Snapshot>();
  const lookup: DetectorLookup = {
    async transactionsOfOrder(orderId) {
      return [...snapshots].filter(([key, s]) => key.startsWith('transactions:') && (s as TransactionSnapshot).orderId === orderId).map(([key, s]) => ({ id: key.split(':')[1]!, snapshot: s as TransactionSnapshot }));
    },
    async order(orderId) {
      return snapshots.get(`orders:${orderId}`) as OrderSnapshot | undefined;
    },
  };
  return {
    async see(source: LifecycleSource, row: KonnektiveRow) {
      const key = `${source}:${String(row.transactionId ?? row.purchaseId ?? row.orderId)}`;
      const found = await detect(source, row, snapshots.get(key), lookup);
      if (found) snapshots.set(key, found.snapshot);
      return found?.events ?? [];
    },
  };
}

describe('change detector', () => {
  it('a fulfillment first seen delivered tells both shipped and delivered, each once', async () => {
    const m = memory();
    const order = { orderId: 'O1', orderStatus: 'COMPLETE', emailAddress: 'a@example.com', fulfillments: { 9: { fulfillmentId: '9', status: 'Delivered', trackingNumber: 'TN1' } } };
    expect((await m.see('orders', order)).map((e) => e.id)).toEqual(['fulfillment:9:shipped', 'fulfillment:9:delivered']);
    expect(await m.see('orders', order)).toEqual([]);
  });

  it('reads the old API\'s title-case statuses and keeps the decline text and amounts as given', async () => {
    const m = memory();
    await m.see('purchases', { purchaseId: 'P1', status: 'Active', billingCycleNumber: '2' });
    expect((await m.see('purchases', { purchaseId: 'P1', status: 'Recycle Failed', billingCycleNumber: '2' })).map((e) => e.kind)).toEqual(['retries_exhausted']);
    const [declined] = await m.see('transactions', { transactionId: '5', txnType: 'SALE', responseType: 'HARD_DECLINE', responseText: '  Do Not Honor ', totalAmount: '$1,039.95' });
    expect(declined).toMatchObject({ kind: 'sale_declined', declineType: 'hard', reason: '  Do Not Honor ', amountCents: 103995 });
    expect([cents('-10.00'), cents(19.99), cents('n/a')]).toEqual([1000, 1999, undefined]);
  });

  it('an AUTHORIZE is no sale; its CAPTURE is; a CHARGEBACK row returns the sale it names', async () => {
    const m = memory();
    expect(await m.see('transactions', { transactionId: '1', orderId: 'O1', txnType: 'AUTHORIZE', responseType: 'SUCCESS', totalAmount: '20.00' })).toEqual([]);
    expect((await m.see('transactions', { transactionId: '2', orderId: 'O1', txnType: 'CAPTURE', responseType: 'SUCCESS', totalAmount: '20.00' })).map((e) => e.kind)).toEqual(['sale_completed']);
    const [chargeback] = await m.see('transactions', { transactionId: '3', orderId: 'O1', txnType: 'CHARGEBACK', responseType: 'SUCCESS', totalAmount: '20.00', chargebackReasonCode: '10.4' });
    expect(chargeback).toMatchObject({ kind: 'chargeback', returnsTransactionId: '2', reason: '10.4', amountCents: 2000 });
    const [refund] = await m.see('transactions', { transactionId: '4', orderId: 'O1', txnType: 'REFUND', responseType: 'SUCCESS', totalAmount: '-20.00' });
    expect(refund).toMatchObject({ kind: 'refund', returnsTransactionId: '2', fullRefund: true });
  });

  it('a refund is matched with the latest successful sale of its purchase and cycle, not another cycle\'s', async () => {
    const m = memory();
    await m.see('transactions', { transactionId: '10', orderId: 'O1', purchaseId: 'P1', billingCycleNumber: 1, txnType: 'SALE', responseType: 'SUCCESS', totalAmount: '30.00', dateCreated: '2026-01-01 10:00:00' });
    await m.see('transactions', { transactionId: '11', orderId: 'O1', purchaseId: 'P1', billingCycleNumber: 2, txnType: 'SALE', responseType: 'SUCCESS', totalAmount: '30.00', dateCreated: '2026-02-01 10:00:00' });
    await m.see('transactions', { transactionId: '12', orderId: 'O1', purchaseId: 'P1', billingCycleNumber: 2, txnType: 'SALE', responseType: 'SOFT_DECLINE', totalAmount: '30.00', dateCreated: '2026-02-02 10:00:00' });
    const [refund] = await m.see('transactions', { transactionId: '13', orderId: 'O1', purchaseId: 'P1', billingCycleNumber: 2, txnType: 'REFUND', responseType: 'SUCCESS', totalAmount: '-5.00' });
    expect(refund).toMatchObject({ returnsTransactionId: '11', fullRefund: false, amountCents: 500 });
  });

  it('a purchase whose cycle counts differently from its transaction\'s adds no second rebill', async () => {
    const m = memory();
    await m.see('purchases', { purchaseId: 'P3', orderId: 'O3', status: 'ACTIVE', billingCycleNumber: 2 });
    const told = await m.see('transactions', { transactionId: '30', orderId: 'O3', purchaseId: 'P3', billingCycleNumber: 2, txnType: 'SALE', responseType: 'SUCCESS', totalAmount: '9.00' });
    expect(told.map((e) => e.id)).toEqual(['purchase:P3:cycle:2:rebill_succeeded']);
    expect(await m.see('purchases', { purchaseId: 'P3', orderId: 'O3', status: 'ACTIVE', billingCycleNumber: 3 })).toEqual([]);
    // With no transaction read, the purchase's cycle advancing is the rebill.
    expect((await m.see('purchases', { purchaseId: 'P3', orderId: 'O3', status: 'ACTIVE', billingCycleNumber: 4, price: '9.00' })).map((e) => e.id)).toEqual(['purchase:P3:cycle:4:rebill_succeeded']);
  });

  it('a record without its id, or a field that changed nothing worth telling, makes no event', async () => {
    const m = memory();
    expect(await m.see('transactions', { txnType: 'SALE', responseType: 'SUCCESS' })).toEqual([]);
    await m.see('purchases', { purchaseId: 'P2', status: 'ACTIVE', billingCycleNumber: 1, nextBillDate: '2026-12-01' });
    expect(await m.see('purchases', { purchaseId: 'P2', status: 'ACTIVE', billingCycleNumber: 1, nextBillDate: '2026-12-15' })).toEqual([]);
  });
});
