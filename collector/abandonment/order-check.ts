/**
 * @module order-check
 * Asks Konnektive (Query Order) whether a session's order was paid, and what was bought. The
 * browser never supplies prices for an ORDER: items, totals and email come from here.
 */
import { toCents } from '../emit/iso-date.js';
import type { KonnektiveResult } from '../konnektive/konnektive-client.js';
import { queryDateRange } from '../konnektive/konnektive-probe.js';
import type { OrderCheck, Session, VerifiedOrder } from '../store/store.js';

/** One Query Order call, recorded by the caller (delivery log, metrics). */
export type AskKonnektive = (params: Record<string, string>) => Promise<KonnektiveResult>;

export type OrderCheckOutcome =
  | {
      ok: true;
      check: OrderCheck;
      /**
       * After a CART: the buyer paid with another order (a new session, another device, a phone
       * order). The cart is closed, and the revenue belongs to that order, not to this cart.
       */
      paidElsewhere?: { orderId: string };
    }
  | { ok: false; failure: 'auth' | 'transient'; message: string };

const NO_RESULT = /no result/i;

/**
 * Asks Konnektive whether the session's buyer paid:
 * 1. by order id: the one the browser reported, else the partial Import Lead created (an Import
 *    Order on the checkout completes that same order id);
 * 2. then, unless that order is complete, by the lead's email: before a CART, completed orders
 *    from the visitor's IP over the session's days (a second partial, created after a crash,
 *    must never hide a paid first one); after a CART, any completed order of that email since
 *    the cart (paid some other way).
 */
export async function checkOrder(ask: AskKonnektive, session: Session, now: number): Promise<OrderCheckOutcome | undefined> {
  const orderId = session.claimedOrderId ?? session.konnektive.orderId;
  const email = session.lead.emailAddress;
  if (!orderId && !email) return undefined;
  let byId: OrderCheck | undefined;
  if (orderId) {
    const answer = await query(ask, { orderId }, session, now, orderId);
    if (!answer.ok) return answer;
    if (answer.check.verified || !email) return answer;
    byId = answer.check;
  }
  const afterCart = session.state === 'abandoned';
  const since = afterCart ? session.stateChangedAt : session.createdAt;
  const params: Record<string, string> = {
    emailAddress: email!,
    ...queryDateRange(since, now),
    orderStatus: 'COMPLETE',
    campaignId: session.campaignId,
    resultsPerPage: '25',
    ...(afterCart ? {} : { ipAddress: session.ip }),
  };
  const answer = await query(ask, params, session, now, undefined);
  if (!answer.ok) return answer;
  if (!answer.check.verified) return { ok: true, check: byId ?? answer.check };
  const found = answer.check.order!;
  if (afterCart && found.orderId !== orderId) {
    return { ok: true, check: { ...(byId ?? answer.check), verified: false, reason: `paid with order ${found.orderId}` }, paidElsewhere: { orderId: found.orderId } };
  }
  return answer;
}

async function query(ask: AskKonnektive, params: Record<string, string>, session: Session, now: number, orderId: string | undefined): Promise<OrderCheckOutcome> {
  const result = await ask(params);
  if (!result.ok) {
    if (result.failure === 'rejected') {
      const reason = NO_RESULT.test(result.message) ? 'not found in Konnektive' : `Konnektive said: ${result.message.slice(0, 120)}`;
      return { ok: true, check: { orderId, checkedAt: now, verified: false, reason } };
    }
    return { ok: false, failure: result.failure, message: result.message };
  }
  const orders = Array.isArray(result.message.data) ? (result.message.data as Record<string, unknown>[]) : [];
  const candidates = orders.filter((order) => !orderId || String(order.orderId) === orderId);
  const leadEmail = session.lead.emailAddress?.toLowerCase();
  const complete = candidates.find((order) => order.orderStatus === 'COMPLETE');
  if (!complete) {
    const status = candidates[0]?.orderStatus;
    return { ok: true, check: { orderId, checkedAt: now, verified: false, reason: status ? `status ${String(status)}` : 'not found in Konnektive' } };
  }
  const order = toVerifiedOrder(complete);
  if (leadEmail && order.email && order.email.toLowerCase() !== leadEmail) {
    // An order id from the page that belongs to someone else is not this session's purchase.
    return { ok: true, check: { orderId: order.orderId, checkedAt: now, verified: false, reason: 'email differs from the lead' } };
  }
  return { ok: true, check: { orderId: order.orderId, checkedAt: now, verified: true, order } };
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
export function sandboxOrderAnswer(session: Session): KonnektiveResult {
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
