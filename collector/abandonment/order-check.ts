/**
 * @module order-check
 * Asks Konnektive (Query Order) whether a session's order was paid, and what was bought. The
 * browser never supplies prices for an ORDER: items, totals and email come from here.
 */
import { toCents } from '../emit/iso-date.js';
import type { KonnektiveApi, KonnektiveResult } from '../konnektive/konnektive-client.js';
import { usDate } from '../konnektive/konnektive-probe.js';
import type { OrderCheck, Session, VerifiedOrder } from '../store/store.js';

export type OrderCheckOutcome =
  | { ok: true; check: OrderCheck; params: Record<string, string>; result: KonnektiveResult }
  | { ok: false; failure: 'auth' | 'transient'; message: string; params: Record<string, string>; result: KonnektiveResult };

const NO_RESULT = /no result/i;

/**
 * The order to check: the one the browser reported, else the partial Import Lead created (an
 * Import Order on the checkout completes that same order id). Without either, orders placed with
 * the lead's email since the session began.
 */
export function orderQuery(session: Session, now: number): Record<string, string> | undefined {
  const orderId = session.claimedOrderId ?? session.konnektive.orderId;
  if (orderId) return { orderId };
  const email = session.lead.emailAddress;
  if (!email) return undefined;
  return {
    emailAddress: email,
    startDate: usDate(session.createdAt),
    endDate: usDate(now),
    orderStatus: 'COMPLETE',
    campaignId: session.campaignId,
    resultsPerPage: '25',
  };
}

export async function checkOrder(api: KonnektiveApi, session: Session, now: number): Promise<OrderCheckOutcome | undefined> {
  const params = orderQuery(session, now);
  if (!params) return undefined;
  const result = api.sandbox ? sandboxAnswer(session) : await api.call('queryOrder', params);
  const orderId = params.orderId;
  if (!result.ok) {
    if (result.failure === 'rejected') {
      const reason = NO_RESULT.test(result.message) ? 'not found in Konnektive' : `Konnektive said: ${result.message.slice(0, 120)}`;
      return { ok: true, params, result, check: { orderId, checkedAt: now, verified: false, reason } };
    }
    return { ok: false, failure: result.failure, message: result.message, params, result };
  }
  const orders = Array.isArray(result.message.data) ? (result.message.data as Record<string, unknown>[]) : [];
  const candidates = orders.filter((order) => !orderId || String(order.orderId) === orderId);
  const complete = candidates.find((order) => order.orderStatus === 'COMPLETE');
  if (!complete) {
    const status = candidates[0]?.orderStatus;
    return { ok: true, params, result, check: { orderId, checkedAt: now, verified: false, reason: status ? `status ${String(status)}` : 'not found in Konnektive' } };
  }
  const order = toVerifiedOrder(complete);
  const leadEmail = session.lead.emailAddress?.toLowerCase();
  if (leadEmail && order.email && order.email.toLowerCase() !== leadEmail) {
    // An order id from the page that belongs to someone else is not this session's purchase.
    return { ok: true, params, result, check: { orderId: order.orderId, checkedAt: now, verified: false, reason: 'email differs from the lead' } };
  }
  return { ok: true, params, result, check: { orderId: order.orderId, checkedAt: now, verified: true, order } };
}

function toVerifiedOrder(raw: Record<string, unknown>): VerifiedOrder {
  const items = (Array.isArray(raw.items) ? (raw.items as Record<string, unknown>[]) : [])
    .filter((item) => item.purchaseStatus === undefined || !/REFUND|CANCEL|VOID/i.test(String(item.purchaseStatus)))
    .map((item) => ({
      productId: String(item.productId ?? ''),
      name: String(item.name ?? item.productId ?? 'Item'),
      qty: Math.max(1, Number(item.qty ?? 1)),
      priceCents: toCents(String(item.price ?? '0')),
    }));
  const itemsTotal = items.reduce((sum, item) => sum + item.priceCents * item.qty, 0);
  const total = raw.totalAmount !== undefined ? toCents(String(raw.totalAmount)) : itemsTotal;
  return {
    orderId: String(raw.orderId),
    customerId: raw.customerId === undefined ? undefined : String(raw.customerId),
    email: typeof raw.emailAddress === 'string' ? raw.emailAddress : undefined,
    status: String(raw.orderStatus),
    items,
    totalCents: Number.isFinite(total) ? total : itemsTotal,
    currency: typeof raw.currencyCode === 'string' && /^[A-Z]{3}$/.test(raw.currencyCode) ? raw.currencyCode : 'USD',
    createdAt: String(raw.dateCreated ?? ''),
  };
}

/**
 * Sandbox mode has no CRM to ask: an order id the page reported counts as paid, with the cart the
 * page showed, so the demo runs the whole way to an ORDER. Without one, nothing was paid.
 */
function sandboxAnswer(session: Session): KonnektiveResult {
  if (!session.claimedOrderId) return { ok: false, failure: 'rejected', message: 'No result found (sandbox)', latencyMs: 0, httpStatus: 200 };
  const items = (session.cart?.items ?? []).map((item) => ({ productId: item.id, name: item.name ?? item.id, qty: item.qty, price: item.price.toFixed(2) }));
  const total = items.reduce((sum, item) => sum + Number(item.price) * item.qty, 0);
  return {
    ok: true,
    httpStatus: 200,
    latencyMs: 0,
    message: {
      totalResults: 1,
      data: [
        {
          orderId: session.claimedOrderId,
          orderStatus: 'COMPLETE',
          emailAddress: session.lead.emailAddress,
          customerId: session.konnektive.customerId,
          totalAmount: total.toFixed(2),
          currencyCode: session.cart?.currency ?? 'USD',
          items,
        },
      ],
    },
  };
}
