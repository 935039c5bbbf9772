/**
 * @module order-check
 * Asks Konnektive (Query Order) whether a session's order was paid, and what was bought. The
 * browser never supplies prices for an ORDER: items, totals and email come from here.
 */
import { toCents } from '../emit/iso-date.js';
import type { KonnektiveResult } from '../konnektive/konnektive-client.js';
import { queryDateRange } from '../konnektive/konnektive-probe.js';
import type { OrderCheck, Session, VerifiedOrder } from '../store/store.js';
import { createdSince, crmOffsetFrom } from '../konnektive/order-dates.js';

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
 * 2. then, unless that order is complete, completed orders of the lead's email (and campaign)
 *    created since the session started (before a CART) or since the CART (after one). Konnektive
 *    is asked over whole days, a day wider on each side (its days are in the account's time
 *    zone), so every answer is checked here against its `dateCreated` (see konnektive/order-dates.ts).
 *    - An order another session holds (reported it, or its Import Lead created it) is that
 *      session's purchase: this cart was paid elsewhere, never this session's ORDER.
 *    - Before a CART, an order no session holds, from the visitor's IP (or with no IP in the
 *      answer), is this session's: a second partial, created after a crash, must never hide a
 *      paid first one. From another IP it was paid elsewhere (another device, by phone).
 *    - After a CART, any order other than the session's own partial was paid elsewhere.
 *
 * `heldElsewhere` says whether a session other than this one holds an order id.
 */
export async function checkOrder(
  ask: AskKonnektive,
  session: Session,
  now: number,
  heldElsewhere: (orderId: string) => Promise<boolean>,
): Promise<OrderCheckOutcome | undefined> {
  const ownPartial = session.konnektive.orderId;
  const orderId = session.claimedOrderId ?? ownPartial;
  const email = session.lead.emailAddress;
  if (!orderId && !email) return undefined;
  let byId: OrderCheck | undefined;
  let offsetMs: number | undefined;
  if (orderId) {
    const answer = await fetchOrders(ask, { orderId });
    if (!answer.ok) return answer;
    const orders = answer.orders.filter((order) => String(order.orderId) === orderId);
    const check = judge(orders, session, now, orderId, answer.none);
    if (check.verified || !email) return { ok: true, check };
    byId = check;
    // The partial this session's Import Lead created tells the account's time zone.
    if (orderId === ownPartial) offsetMs = crmOffsetFrom(orders[0]?.dateCreated, session.konnektive.leadCreateStartedAt);
  }
  const afterCart = session.state === 'abandoned';
  const since = afterCart ? session.stateChangedAt : session.createdAt;
  const params: Record<string, string> = {
    emailAddress: email!,
    ...queryDateRange(since, now),
    orderStatus: 'COMPLETE',
    campaignId: session.campaignId,
    resultsPerPage: '25',
  };
  const answer = await fetchOrders(ask, params);
  if (!answer.ok) return answer;
  const unpaid: OrderCheck = byId ?? { orderId: undefined, checkedAt: now, verified: false, reason: answer.none ?? 'no completed order of this email since the session' };
  const leadEmail = email!.toLowerCase();
  let elsewhere: string | undefined;
  for (const raw of answer.orders) {
    const id = String(raw.orderId);
    if (raw.orderStatus !== 'COMPLETE' || id === orderId) continue;
    if (typeof raw.emailAddress === 'string' && raw.emailAddress.toLowerCase() !== leadEmail) continue;
    const own = id === ownPartial;
    if (!own && !createdSince(raw.dateCreated, since, offsetMs)) continue;
    if (own || (!afterCart && fromVisitor(raw, session) && !(await heldElsewhere(id)))) {
      const order = toVerifiedOrder(raw);
      return { ok: true, check: { orderId: order.orderId, checkedAt: now, verified: true, order } };
    }
    elsewhere ??= id;
  }
  if (elsewhere === undefined) return { ok: true, check: unpaid };
  return { ok: true, check: { ...unpaid, verified: false, reason: `paid with order ${elsewhere}` }, paidElsewhere: { orderId: elsewhere } };
}

/** The order came from the session's visitor, as far as the answer tells (not all carry an IP). */
function fromVisitor(raw: Record<string, unknown>, session: Session): boolean {
  const ip = raw.ipAddress;
  return ip === undefined || ip === null || ip === '' || String(ip) === session.ip;
}

type Fetched = { ok: true; orders: Record<string, unknown>[]; none?: string } | { ok: false; failure: 'auth' | 'transient'; message: string };

/** One Query Order; "no result" (and any other refusal) is an empty answer with its reason. */
async function fetchOrders(ask: AskKonnektive, params: Record<string, string>): Promise<Fetched> {
  const result = await ask(params);
  if (!result.ok) {
    if (result.failure === 'rejected') {
      const none = NO_RESULT.test(result.message) ? 'not found in Konnektive' : `Konnektive said: ${result.message.slice(0, 120)}`;
      return { ok: true, orders: [], none };
    }
    return { ok: false, failure: result.failure, message: result.message };
  }
  const orders = Array.isArray(result.message.data) ? (result.message.data as Record<string, unknown>[]) : [];
  return { ok: true, orders };
}

/** The session's own order id as Konnektive answered it: complete, and the lead's, or why not. */
function judge(candidates: Record<string, unknown>[], session: Session, now: number, orderId: string, none: string | undefined): OrderCheck {
  const leadEmail = session.lead.emailAddress?.toLowerCase();
  const complete = candidates.find((order) => order.orderStatus === 'COMPLETE');
  if (!complete) {
    const status = candidates[0]?.orderStatus;
    return { orderId, checkedAt: now, verified: false, reason: status ? `status ${String(status)}` : (none ?? 'not found in Konnektive') };
  }
  const order = toVerifiedOrder(complete);
  if (leadEmail && order.email && order.email.toLowerCase() !== leadEmail) {
    // An order id from the page that belongs to someone else is not this session's purchase.
    return { orderId: order.orderId, checkedAt: now, verified: false, reason: 'email differs from the lead' };
  }
  return { orderId: order.orderId, checkedAt: now, verified: true, order };
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
    test: isTestOrder(raw),
    prepaid: typeof raw.paySource === 'string' && /PREPAID/i.test(raw.paySource),
  };
}

/**
 * An order placed with the account's test card. Konnektive documents no flag for it; its answers
 * name the card type (`cardType`) and pay source (`paySource`), and the test card shows as
 * `TESTCARD` there (inferred from how the CRM labels it, not from a documented field). Test orders
 * never go to the ad platforms, whose optimisation would learn from them.
 */
function isTestOrder(raw: Record<string, unknown>): boolean {
  return [raw.cardType, raw.paySource].some((value) => typeof value === 'string' && /^TEST/i.test(value.trim()));
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
