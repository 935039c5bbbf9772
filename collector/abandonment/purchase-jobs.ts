/**
 * @module purchase-jobs
 * The two jobs that decide between CART and ORDER, both by asking Konnektive (Query Order):
 * - `purchase.recheck`, right before a session would become a CART: a completed order turns it
 *   into an ORDER instead, so nobody who bought gets an abandoned-cart email;
 * - `order.finalize`, when the thank-you page was seen or the upsell window closed: the order
 *   is verified (status, items, totals, email) before any ORDER is built.
 * Each writes the session's new state, its emission and the emission's job in one transaction.
 * The emission is unique per session and kind, so a job that runs twice queues nothing twice.
 */
import type { Catalogue, ProductList } from '../catalogue/catalogue.js';
import { mediaHosts } from '../catalogue/media-hosts.js';
import type { Clock } from '../clock.js';
import type { Config } from '../config.js';
import { hasEmail } from '../session/lead-merge.js';
import type { KonnektiveApi } from '../konnektive/konnektive-client.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { EMIT_JOB_KIND, JOB_KINDS } from '../outbox/job-kinds.js';
import type { JobEffects, JobHandler, JobOutcome } from '../outbox/job-outcome.js';
import { queueJob } from '../outbox/queue-job.js';
import { failureOutcome, konnektiveCaller } from '../outbox/upstream-call.js';
import type { Job, OrderCheck, Session, Store, StoreTx, VerifiedOrder } from '../store/store.js';
import { activeAdPlatforms } from '../conversions/conversion.js';
import { queueConversion } from '../conversions/conversion-queue.js';
import { queuePostbackEvent } from '../postbacks/postback-queue.js';
import type { UpstreamHealth } from '../upstream-health.js';
import { cartPayload, closePayload, customerPayload, orderPayload } from './emission-payloads.js';
import { checkOrder, sandboxOrderAnswer, type AskKonnektive } from './order-check.js';
import { abandonmentPolicy, hasCart, nextDueAt, sweepAction } from '../session/session-rules.js';

export interface PurchaseJobDeps {
  config: Config;
  store: Store;
  konnektive: KonnektiveApi;
  /** Where a CART's product names, prices and pictures come from (never the page). */
  catalogue: Catalogue;
  health: UpstreamHealth;
  metrics: Metrics;
  logger: Logger;
  clock: Clock;
}

export function purchaseHandlers(deps: PurchaseJobDeps): Record<typeof JOB_KINDS.purchaseRecheck | typeof JOB_KINDS.orderFinalize, JobHandler> {
  const { store, clock, config } = deps;
  const policy = abandonmentPolicy(config);
  const call = konnektiveCaller({ ...deps, api: deps.konnektive });
  const media = mediaHosts(config);
  const platforms = activeAdPlatforms(config);

  async function queueEmission(tx: StoreTx, session: Session, kind: 'cart' | 'order' | 'close', payload: object, now: number): Promise<void> {
    if (!(await tx.insertEmission({ sessionId: session.id, kind, payload: { ...payload }, now }))) return;
    await queueJob(tx, EMIT_JOB_KIND[kind], { sessionId: session.id, runAt: now, emitVia: config.emitVia });
  }

  /**
   * A verified order: the session is complete and its ORDER queued. Every other cart of the same
   * buyer begun before the paying session's last activity is closed too, whether its CART went
   * out (`abandoned`) or not yet (`open` with a cart, left on another device or in another tab):
   * whoever paid must not get abandoned-cart emails. A cart begun after that is a new purchase,
   * and keeps its own course.
   */
  async function complete(tx: StoreTx, session: Session, check: OrderCheck, now: number, products?: ProductList): Promise<void> {
    await tx.updateSession(session.id, { orderCheck: check, state: 'complete', stateChangedAt: now, dueAt: null });
    // A buyer back through the recovery link paid: the ORDER is the abandoned session's, with its
    // cart's `externalcheckoutid`, so ActiveCampaign and the report count the cart recovered. This
    // session sends none of its own (one purchase, one ORDER).
    const recovered = session.recoversSessionId === undefined ? undefined : await tx.getSession(session.recoversSessionId);
    if (recovered && (recovered.state === 'abandoned' || recovered.state === 'open')) {
      deps.logger.info({ sessionId: session.id, recovers: recovered.id }, 'recovered cart paid; ORDER queued on the abandoned session');
      return complete(tx, { ...recovered, lastSeenAt: Math.max(recovered.lastSeenAt, session.lastSeenAt) }, check, now, products);
    }
    // The abandoned session's own recheck found this same order first and sent its ORDER.
    if (recovered?.state === 'complete' && recovered.orderCheck?.order?.orderId === check.order?.orderId) return;
    await queueEmission(tx, session, 'order', orderPayload(session, check.order!, now, products, media), now);
    const email = check.order?.email ?? session.lead.emailAddress;
    if (!email) return;
    const paidBefore = (other: Session) => other.id !== session.id && other.createdAt <= session.lastSeenAt;
    for (const other of await tx.listAbandonedByEmail(email)) {
      if (paidBefore(other)) await close(tx, other, check.order!.orderId, now);
    }
    for (const other of await tx.listOpenCartsByEmail(email)) {
      if (paidBefore(other) && hasCart(other)) await close(tx, other, check.order!.orderId, now);
    }
  }

  /**
   * The cart's buyer paid with another order. A cart whose CART never went out is only marked
   * closed (it never will go out); one whose CART went out is closed upstream, where the route
   * can (not on EMIT_VIA=konnektive: its ActiveCampaign route has no call that removes or closes
   * a cart).
   */
  async function close(tx: StoreTx, session: Session, paidWith: string, now: number): Promise<void> {
    await tx.updateSession(session.id, { state: 'closed', stateChangedAt: now, dueAt: null });
    const cart = await tx.getEmission(session.id, 'cart');
    if (!cart || cart.status === 'cancelled') return;
    deps.logger.info({ sessionId: session.id }, 'cart paid with another order; closing it');
    if (config.emitVia === 'konnektive') return;
    await queueEmission(tx, session, 'close', closePayload(session, paidWith), now);
  }

  /**
   * The Purchase for the ad platforms, as the ORDER has it (Konnektive's items and totals, upsells
   * included), for the session that paid: the page the buyer is on reads that session's event id.
   * Marked by the order id, so the cart the buyer came back to, seeing the same order, adds none.
   */
  async function queuePurchase(tx: StoreTx, session: Session, order: VerifiedOrder, now: number): Promise<void> {
    const purchase = {
      orderId: order.orderId,
      ...(order.customerId ? { customerId: order.customerId } : {}),
      totalCents: order.totalCents,
      currency: order.currency,
      items: order.items,
      test: order.test === true,
    };
    await queueConversion(tx, platforms, { session: session.id, name: 'Purchase', at: now, order: purchase }, order.orderId);
    if (config.postbacksFile !== undefined) await queueSalePostbacks(tx, session, order, now);
  }

  /**
   * The affiliate's sale and each upsell, each with its own amount: the sale is what the checkout's
   * cart bought (the order's items whose products the cart held), each other item of the verified
   * order an upsell. A session whose cart the page never told makes the whole order the sale.
   */
  async function queueSalePostbacks(tx: StoreTx, session: Session, order: VerifiedOrder, now: number): Promise<void> {
    const carted = new Set(session.cart?.items.map((item) => item.id) ?? []);
    const upsells = carted.size === 0 ? [] : order.items.filter((item) => !carted.has(item.productId));
    const upsellCents = upsells.reduce((sum, item) => sum + item.priceCents * item.qty, 0);
    const common = { session: session.id, orderId: order.orderId, currency: order.currency, at: now, ...(order.test ? { test: true } : {}), ...(order.prepaid ? { prepaid: true } : {}) };
    await queuePostbackEvent(tx, { ...common, event: 'sale', eventId: `${order.orderId}.sale`, amountCents: order.totalCents - upsellCents });
    for (const [index, item] of upsells.entries()) {
      await queuePostbackEvent(tx, { ...common, event: 'upsell', eventId: `${order.orderId}.upsell.${index + 1}.${item.productId}`, amountCents: item.priceCents * item.qty });
    }
  }

  /** Query Order through the delivery log and metrics; sandbox mode answers from the session. */
  function ask(job: Job, effects: JobEffects, session: Session): AskKonnektive {
    return (params) => call(job, effects, 'queryOrder', params, () => sandboxOrderAnswer(session));
  }

  /** Runs Query Order for the job; `undefined` when there is nothing to ask about. */
  async function check(
    job: Job,
    effects: JobEffects,
    session: Session,
  ): Promise<{ check: OrderCheck; paidElsewhere?: { orderId: string } } | { outcome: JobOutcome } | undefined> {
    const outcome = await checkOrder(ask(job, effects, session), session, clock.now(), (orderId) => store.orderHeldElsewhere(orderId, session.id));
    if (!outcome) return undefined;
    if (!outcome.ok) return { outcome: failureOutcome(deps, 'konnektive', outcome) };
    return outcome;
  }

  /**
   * The catalogue, read before the transaction and only when needed. A CART about to be queued
   * needs it: a fault returns the job's outcome, so the outbox retries it later and the CART
   * waits (never sent with the page's text instead). A verified ORDER borrows its pictures from
   * it when it can be read, and goes without them otherwise.
   */
  async function productsFor(
    job: Job,
    effects: JobEffects,
    session: Session,
    answer: { check: OrderCheck; paidElsewhere?: { orderId: string } } | undefined,
    mayCart: boolean,
  ): Promise<{ products: ProductList } | { outcome: JobOutcome } | undefined> {
    const verified = answer?.check.verified === true;
    const cartDue =
      mayCart &&
      !verified &&
      !answer?.paidElsewhere &&
      session.state !== 'abandoned' &&
      hasEmail(session.lead) &&
      hasCart(session) &&
      sweepAction(session, clock.now(), policy).type === 'recheck-purchase';
    if (!verified && !cartDue) return undefined;
    const read = await deps.catalogue.products(session.campaignId, (params) => call(job, effects, 'queryCampaign', params));
    if (read.ok) return { products: read.products };
    if (cartDue) return { outcome: failureOutcome(deps, 'konnektive', read) };
    deps.logger.warn({ sessionId: session.id, campaignId: session.campaignId, failure: read.failure }, 'product catalogue not readable; the ORDER shows only the pictures the page gave on allowed hosts');
    return undefined;
  }

  /**
   * The shape both jobs share: ask Konnektive, then, in one transaction on the session as it is
   * now, complete it (a verified order), close it (paid with another order: a cart that went
   * out, or, for the purchase recheck, one that would go out now), or hand the unverified answer
   * to `otherwise`.
   */
  const orderJob =
    (
      closesOpenCart: boolean,
      otherwise: (tx: StoreTx, session: Session, check: OrderCheck | undefined, now: number, products: ProductList | undefined) => Promise<void>,
    ): JobHandler =>
    async (job, effects) => {
      const session = await store.getSession(job.sessionId);
      if (!session || session.state === 'complete' || session.state === 'closed') return { type: 'done' };
      const answer = await check(job, effects, session);
      if (answer && 'outcome' in answer) return answer.outcome;
      const catalogued = await productsFor(job, effects, session, answer, closesOpenCart);
      if (catalogued && 'outcome' in catalogued) return catalogued.outcome;
      const products = catalogued?.products;
      const now = clock.now();
      await store.transaction(async (tx) => {
        const current = (await tx.getSession(session.id)) ?? session;
        if (current.state === 'complete' || current.state === 'closed') return;
        if (answer?.check.verified) {
          await queuePurchase(tx, current, answer.check.order!, now);
          return complete(tx, current, answer.check, now, products);
        }
        const wouldCart = closesOpenCart && current.state === 'open' && sweepAction(current, now, policy).type === 'recheck-purchase';
        if (answer?.paidElsewhere && (current.state === 'abandoned' || wouldCart)) {
          await tx.updateSession(current.id, { orderCheck: answer.check });
          return close(tx, current, answer.paidElsewhere.orderId, now);
        }
        return otherwise(tx, current, answer?.check, now, products);
      });
      return { type: 'done' };
    };

  /**
   * Not paid: an open session with an email and a cart is abandoned, and its one CART queued;
   * but only if it still would be now. The job may have waited (behind other jobs, in backoff,
   * while Konnektive was paused) and the buyer may have come back or reported an order meanwhile.
   */
  const recheck = orderJob(true, async (tx, session, orderCheck, now, products) => {
    if (sweepAction(session, now, policy).type !== 'recheck-purchase') {
      await tx.updateSession(session.id, { ...(orderCheck ? { orderCheck } : {}), dueAt: nextDueAt(session, policy) });
      return;
    }
    if (session.state !== 'abandoned' && hasEmail(session.lead) && hasCart(session)) {
      if (!products) {
        // The cart came after the catalogue was read (the buyer was back meanwhile): look again now.
        await tx.updateSession(session.id, { ...(orderCheck ? { orderCheck } : {}), dueAt: now });
        return;
      }
      const { cart, leftOut } = cartPayload(session, products, media);
      if (leftOut.length > 0) {
        // Ids are the page's (or an attacker's) text: only id-shaped ones are logged, never an address or a name.
        const shown = leftOut.slice(0, 10).map(({ id, reason }) => ({ id: /^[\w.-]{1,32}$/.test(id) ? id : '(not shown)', reason }));
        deps.logger.warn({ sessionId: session.id, campaignId: session.campaignId, leftOut: shown }, 'cart items the product catalogue does not know (or priced in another currency) are left out of the CART');
      }
      if (!cart) return sendAsCustomer(tx, session, orderCheck, now);
      const abandoned = { ...session, ...(orderCheck ? { orderCheck } : {}), state: 'abandoned', stateChangedAt: now } as Session;
      await tx.updateSession(session.id, { ...(orderCheck ? { orderCheck } : {}), state: 'abandoned', stateChangedAt: now, dueAt: nextDueAt(abandoned, policy) });
      await queueEmission(tx, session, 'cart', cart, now);
      deps.logger.info({ sessionId: session.id }, 'cart abandoned; CART queued');
    } else {
      // An abandoned cart stays on the recheck schedule (see session-rules.ts) until it is paid,
      // closed, or past the recovery link's lifetime.
      const next = { ...session, ...(orderCheck ? { orderCheck } : {}) } as Session;
      await tx.updateSession(session.id, { ...(orderCheck ? { orderCheck } : {}), dueAt: session.state === 'abandoned' ? nextDueAt(next, policy) : null });
    }
  });

  /**
   * A cart of products the catalogue does not know: nothing of the owner's to show, so no CART
   * (an abandoned-cart email listing made-up products at made-up prices helps no merchant). The
   * buyer is still a lead with an email, and goes to ActiveCampaign as a CUSTOMER, as a lead
   * without a cart does (abandonment/sweeper.ts).
   */
  async function sendAsCustomer(tx: StoreTx, session: Session, orderCheck: OrderCheck | undefined, now: number): Promise<void> {
    await tx.updateSession(session.id, { ...(orderCheck ? { orderCheck } : {}), state: 'expired', stateChangedAt: now, dueAt: null });
    deps.logger.info({ sessionId: session.id }, 'no product of the cart is in the catalogue; CUSTOMER instead of CART');
    // The Konnektive route creates the AC customer from the CRM's own customer record.
    if (config.emitVia === 'konnektive' && !session.konnektive.customerId) return;
    if (!(await tx.insertEmission({ sessionId: session.id, kind: 'customer', payload: { ...customerPayload(session) }, now }))) return;
    await queueJob(tx, EMIT_JOB_KIND.customer, { sessionId: session.id, runAt: now, emitVia: config.emitVia });
  }

  /** Not verified: recorded, nothing emitted. The session goes back to the cart rules. */
  const finalize = orderJob(false, async (tx, session, found, now) => {
    const orderCheck: OrderCheck = found ?? { orderId: undefined, checkedAt: now, verified: false, reason: 'no order id or email to look up' };
    const state = session.state === 'ordered' ? 'open' : session.state;
    const next = { ...session, orderCheck, state } as Session;
    await tx.updateSession(session.id, { orderCheck, ...(state !== session.state ? { state, stateChangedAt: now } : {}), dueAt: nextDueAt(next, policy) });
    deps.logger.warn({ sessionId: session.id, reason: orderCheck.reason }, 'order did not verify; no ORDER sent');
  });

  return { [JOB_KINDS.purchaseRecheck]: recheck, [JOB_KINDS.orderFinalize]: finalize };
}
