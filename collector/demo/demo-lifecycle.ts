/**
 * @module demo-lifecycle
 * Sandbox mode's after-the-order demo (`/demo/lifecycle`): for a demo order, writes what
 * Konnektive would hold after a rebill, a declined rebill, a refund or a cancel into sandbox
 * Konnektive's rows (konnektive/sandbox-konnektive.ts) and queues a lifecycle poll. The poll reads
 * them like Konnektive's answers, so each becomes an event through the same change detector and
 * outbox, and shows on the dashboard and in the recorded calls.
 */
import { rowToSession } from '../store/rows.js';
import type { SqlAccess } from '../store/store.js';
import type { SandboxLifecycleLedger } from '../konnektive/sandbox-konnektive.js';
import { BOTTLE } from './demo-products.js';

export const DEMO_LIFECYCLE_ACTIONS = ['rebill', 'decline', 'refund', 'cancel'] as const;
export type DemoLifecycleAction = (typeof DEMO_LIFECYCLE_ACTIONS)[number];

export interface DemoOrder {
  orderId: string;
  email: string;
  firstName?: string;
  lastName?: string;
}

/** The demo orders of the latest 100 sessions: those with an order id and an email. */
export async function demoOrders(sql: SqlAccess): Promise<DemoOrder[]> {
  const rows = await sql.all<Record<string, unknown>>('SELECT * FROM sessions ORDER BY created_at DESC LIMIT 100');
  const orders: DemoOrder[] = [];
  for (const session of rows.map(rowToSession)) {
    const orderId = session.konnektive.orderId ?? session.claimedOrderId;
    const email = session.lead.emailAddress;
    if (!orderId || !email || orders.some((o) => o.orderId === orderId)) continue;
    orders.push({ orderId, email, ...(session.lead.firstName ? { firstName: session.lead.firstName } : {}), ...(session.lead.lastName ? { lastName: session.lead.lastName } : {}) });
  }
  return orders;
}

/** Konnektive's time format: wall-clock in the account's zone, no offset (`2026-12-07 05:00:00`). */
export function konnektiveTime(ms: number, timeZone: string): string {
  return new Intl.DateTimeFormat('sv-SE', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' })
    .format(ms)
    .replace('T', ' ');
}

let nextTransaction = 0;
/** Numeric ids, as Konnektive's are; unique within this process. */
function transactionId(): string {
  if (nextTransaction === 0) nextTransaction = 9_000_000 + Math.floor(Math.random() * 1_000_000) * 10;
  return String(nextTransaction++);
}

/**
 * Writes one change of `order` into the ledger. The first change of an order also writes its
 * first sale and subscription (cycle 1, active), as Konnektive holds them after the funnel's sale.
 * What the change was, for the page to say.
 */
export function applyDemoChange(ledger: SandboxLifecycleLedger, order: DemoOrder, action: DemoLifecycleAction, now: number, timeZone: string): string {
  const at = konnektiveTime(now, timeZone);
  const purchaseId = `P${order.orderId}`;
  const customer = { emailAddress: order.email, ...(order.firstName ? { firstName: order.firstName } : {}), ...(order.lastName ? { lastName: order.lastName } : {}) };
  const price = BOTTLE.price.toFixed(2);
  const sale = (cycle: number, responseType: string, fields: Record<string, unknown> = {}) => {
    const id = transactionId();
    ledger.put('transactions', id, {
      transactionId: id,
      orderId: order.orderId,
      purchaseId,
      billingCycleNumber: cycle,
      txnType: 'SALE',
      responseType,
      totalAmount: price,
      currency: 'USD',
      productId: BOTTLE.id,
      productName: BOTTLE.name,
      dateCreated: at,
      dateUpdated: at,
      ...customer,
      ...fields,
    });
    return id;
  };
  let purchase = ledger.get('purchases', purchaseId);
  if (!purchase) {
    ledger.put('orders', order.orderId, { orderId: order.orderId, orderStatus: 'COMPLETE', dateCreated: at, dateUpdated: at, ...customer });
    sale(1, 'SUCCESS');
    purchase = { purchaseId, orderId: order.orderId, status: 'ACTIVE', billingCycleNumber: 1, price, productId: BOTTLE.id, productName: BOTTLE.name, currency: 'USD', dateUpdated: at, ...customer };
  }
  const cycle = Number(purchase.billingCycleNumber);
  switch (action) {
    case 'rebill':
      // A rebill of the cycle after the last one billed, or of the cycle in retries.
      sale(purchase.status === 'RECYCLE_BILLING' ? cycle : cycle + 1, 'SUCCESS');
      purchase = { ...purchase, status: 'ACTIVE', billingCycleNumber: purchase.status === 'RECYCLE_BILLING' ? cycle : cycle + 1 };
      break;
    case 'decline':
      sale(cycle + 1, 'SOFT_DECLINE', { responseText: 'Insufficient funds (sandbox)' });
      purchase = { ...purchase, status: 'RECYCLE_BILLING', billingCycleNumber: cycle + 1 };
      break;
    case 'refund':
      // Half of the latest sale back: a partial refund, matched with that sale by the detector.
      {
        const id = transactionId();
        ledger.put('transactions', id, {
          transactionId: id,
          orderId: order.orderId,
          purchaseId,
          billingCycleNumber: cycle,
          txnType: 'REFUND',
          responseType: 'SUCCESS',
          totalAmount: `-${(BOTTLE.price / 2).toFixed(2)}`,
          currency: 'USD',
          refundReason: 'Customer request (sandbox)',
          dateCreated: at,
          dateUpdated: at,
          ...customer,
        });
      }
      break;
    case 'cancel':
      purchase = { ...purchase, status: 'CANCELLED', cancelReason: 'Customer request (sandbox)' };
      break;
  }
  ledger.put('purchases', purchaseId, { ...purchase, dateUpdated: at });
  return { rebill: 'a rebill', decline: 'a declined rebill', refund: 'a partial refund', cancel: 'a cancellation' }[action];
}

const escape = (text: string) => text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

/** The page: each demo order with its four buttons, and what to watch. */
export function lifecyclePage(orders: DemoOrder[], { enabled }: { enabled: boolean }): string {
  const rows = orders
    .map(
      (o) =>
        `<tr><td>${escape(o.orderId)}</td><td>${escape(o.email)}</td><td>${DEMO_LIFECYCLE_ACTIONS.map(
          (action) => `<button type="button" data-order="${escape(o.orderId)}" data-action="${action}">${{ rebill: 'Rebill', decline: 'Decline a rebill', refund: 'Refund half', cancel: 'Cancel' }[action]}</button>`,
        ).join(' ')}</td></tr>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>After the order · funnelbeacon demo</title>
<style>body { font: 16px/1.5 system-ui, sans-serif; max-width: 56rem; margin: 2rem auto; padding: 0 1rem; } td { padding: .3rem .6rem .3rem 0; vertical-align: top; }
button { margin: .1rem; padding: .3rem .7rem; font: inherit; cursor: pointer; } #status { min-height: 1.5em; font-weight: 600; }</style>
</head><body>
<h1>After the order</h1>
<p>Each button writes what Konnektive would hold after that change into sandbox Konnektive and
queues a lifecycle poll: the poll reads it like Konnektive's answer, finds the change once, and
queues its delivery. Watch it on the <a href="/dashboard/">dashboard</a> (Overview, After the
order; the buyer's session page; Delivery, the recorded calls).${
    enabled ? '' : ' LIFECYCLE_SYNC is off: the demo polls when you press a button, the collector does not poll by itself.'
  }</p>
<p id="status" role="status"></p>
${orders.length === 0 ? '<p>No demo order yet: go through <a href="/demo/">the demo funnel</a>, typing an email, and pay.</p>' : `<table><thead><tr><th>Order</th><th>Email</th><th>Change</th></tr></thead><tbody>\n${rows}\n</tbody></table>`}
<script>
document.querySelectorAll('button[data-action]').forEach(function (button) {
  button.addEventListener('click', function () {
    var status = document.getElementById('status');
    fetch('/demo/lifecycle', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ orderId: button.dataset.order, action: button.dataset.action }) })
      .then(function (res) { return res.json(); })
      .then(function (body) { status.textContent = body.message || body.error || 'done'; });
  });
});
</script>
</body></html>`;
}
