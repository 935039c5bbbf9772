/**
 * @module session-rules
 * When a session is due for the sweeper, and what the sweeper does with it. Pure functions of
 * the session and the clock, shared by ingest (which sets the due time) and the sweeper (which
 * acts on it), so the two can never disagree.
 *
 * Timeline of a session (times are idle time since its last event):
 *   open ── order id seen ──> ordered ── thank-you seen, or UPSELL_WINDOW idle ──> complete (ORDER)
 *   open ── ABANDON_AFTER idle, email + cart ──> purchase recheck ──> abandoned (CART)
 *                                                               └──> complete (ORDER): paid after all
 *   abandoned ── order id or thank-you seen, or paid by the next recheck ──> complete (ORDER, recovers the CART)
 *   abandoned ── rechecks 1 h, 6 h, 24 h, 72 h after the CART find another order by the same
 *                email, or that email's ORDER is sent from another session ──> closed (the cart is closed)
 *   open ── ABANDON_AFTER idle, email, no cart ──> expired (CUSTOMER)
 *   open ── ABANDON_AFTER idle, no email ──> expired (nothing sent)
 *
 * A session begun through a recovery link (`recoversSessionId`) follows the same order rules, and
 * its verified order completes the abandoned session it recovers (that session's ORDER recovers
 * its CART); left idle unpaid, it expires and sends nothing.
 */
import { hasEmail } from './lead-merge.js';
import type { Config } from '../config.js';
import type { Session } from '../store/store.js';

export interface AbandonmentPolicy {
  abandonAfterMs: number;
  upsellWindowMs: number;
  /**
   * After a CART, when to ask Konnektive again whether the buyer paid (any other way): offsets
   * from the CART. Default {@link CART_RECHECKS_MS}, cut at the recovery link's lifetime.
   */
  cartRechecksMs?: readonly number[];
}

const HOUR_MS = 3_600_000;
/** After a CART, rechecks at 1 h, 6 h, 24 h and 72 h. */
export const CART_RECHECKS_MS: readonly number[] = Object.freeze([1, 6, 24, 72].map((hours) => hours * HOUR_MS));

/** The post-CART recheck schedule, cut at the recovery link's lifetime (no point after it). */
export function cartRechecksWithin(linkLifetimeMs: number): readonly number[] {
  return CART_RECHECKS_MS.filter((offset) => offset <= linkLifetimeMs);
}

/** The policy the configuration sets: one place, so ingest, sweeper and jobs never disagree. */
export function abandonmentPolicy(config: Pick<Config, 'abandonAfterMs' | 'upsellWindowMs'> & { recovery: Pick<Config['recovery'], 'linkTtlMs'> }): AbandonmentPolicy {
  return {
    abandonAfterMs: config.abandonAfterMs,
    upsellWindowMs: config.upsellWindowMs,
    cartRechecksMs: cartRechecksWithin(config.recovery.linkTtlMs),
  };
}

/** The next post-CART recheck after the last check, or `null` when the schedule is done. */
function nextCartRecheck(session: Session, policy: AbandonmentPolicy): number | null {
  const cartAt = session.stateChangedAt;
  const lastCheck = Math.max(cartAt, session.orderCheck?.checkedAt ?? 0);
  for (const offset of policy.cartRechecksMs ?? CART_RECHECKS_MS) if (cartAt + offset > lastCheck) return cartAt + offset;
  return null;
}

/**
 * The buyer reported an order (an order id, the thank-you page) or paid with another one, and
 * Konnektive has not since said it is not one: an abandoned-cart email now would go to a buyer.
 */
export function orderReported(session: Session): boolean {
  if (session.state === 'complete' || session.state === 'closed') return true;
  if (orderFailedSinceLastSeen(session)) return false;
  return session.state === 'ordered' || session.funnelDone || session.claimedOrderId !== undefined;
}

export function hasCart(session: Session): boolean {
  return (session.cart?.items.length ?? 0) > 0;
}

/**
 * The order was checked after the last activity and did not verify: do not ask again until
 * something new happens; the session falls back to the cart rules. Activity in the same
 * millisecond as the check counts as new (one extra check is cheaper than a missed ORDER).
 */
function orderFailedSinceLastSeen(session: Session): boolean {
  const check = session.orderCheck;
  return check !== undefined && !check.verified && check.checkedAt > session.lastSeenAt;
}

/** When the sweeper should look at the session next; `null` when nothing is left to decide. */
export function nextDueAt(session: Session, policy: AbandonmentPolicy): number | null {
  if (session.isBot || session.state === 'complete') return null;
  if (!orderFailedSinceLastSeen(session)) {
    if (session.funnelDone) return session.lastSeenAt;
    if (session.state === 'ordered') return session.lastSeenAt + policy.upsellWindowMs;
  }
  if (session.state === 'expired' || session.state === 'closed') return null;
  // Open: one look after ABANDON_AFTER of quiet. Abandoned: the same after the buyer came back
  // (did they pay?), once; otherwise, and after that look, the post-CART recheck schedule (paid
  // some other way?), which counts from the CART and never from the return.
  if (session.state === 'abandoned') {
    const returned = session.lastSeenAt > session.stateChangedAt;
    const checkedSinceReturn = session.orderCheck !== undefined && session.orderCheck.checkedAt > session.lastSeenAt;
    return returned && !checkedSinceReturn ? session.lastSeenAt + policy.abandonAfterMs : nextCartRecheck(session, policy);
  }
  return session.lastSeenAt + policy.abandonAfterMs;
}

export type SweepAction =
  /** Not due after all (activity moved the due time): set the due time again. */
  | { type: 'wait'; dueAt: number | null }
  /** Verify the order with Konnektive and, if it holds, send the ORDER. */
  | { type: 'finalize-order' }
  /** Ask Konnektive whether the cart was paid after all: ORDER if so, else CART. */
  | { type: 'recheck-purchase' }
  /** A lead with an email and no products: CUSTOMER. */
  | { type: 'send-customer' }
  /** Nothing to tell anyone. */
  | { type: 'expire' };

export function sweepAction(session: Session, now: number, policy: AbandonmentPolicy): SweepAction {
  const due = nextDueAt(session, policy);
  if (due === null || due > now) return { type: 'wait', dueAt: due };
  if ((session.funnelDone || session.state === 'ordered') && !orderFailedSinceLastSeen(session)) return { type: 'finalize-order' };
  // A return through a recovery link that did not pay: the abandoned session's CART is out and
  // stays on its own recheck schedule; this one sends nothing of its own (no second abandoned-cart
  // email, no CUSTOMER for a buyer who is one already).
  if (session.recoversSessionId !== undefined) return { type: 'expire' };
  if (hasEmail(session.lead) && hasCart(session)) return { type: 'recheck-purchase' };
  if (session.state === 'abandoned') return { type: 'recheck-purchase' };
  if (hasEmail(session.lead)) return { type: 'send-customer' };
  return { type: 'expire' };
}
