/**
 * @module recovery-target
 * Where a recovery link leads, decided without changing anything: the checkout page the buyer
 * left, the "order complete" page, or the "link expired" page.
 */
import { isAllowedOrigin, type Config } from '../config.js';
import type { Session, Store } from '../store/store.js';
import { RECOVERY_LINK_TOKEN_TTL_MS, signRecoveryLink, verifyRecovery } from '../tokens.js';

export type RecoveryTarget =
  | { outcome: 'checkout'; sessionId: string; location: string }
  | { outcome: 'done'; sessionId: string; location: string }
  | { outcome: 'fallback'; sessionId?: string; location: string };

/** The collector's own pages, used when `RECOVERY_DONE_URL` / `RECOVERY_FALLBACK_URL` are not set. */
export const DONE_PATH = '/recovery/done';
export const EXPIRED_PATH = '/recovery/expired';

const MAX_TOKEN_LENGTH = 200;

/**
 * Paid as far as the session shows: a verified order, the same email paid in another session
 * (`closed`), or an order the buyer reported (an order id, the thank-you page, inside
 * `UPSELL_WINDOW` before its ORDER is queued) that Konnektive has not turned down. A reported
 * order whose check did not verify stays unpaid whatever the buyer did since (coming back through
 * the link is activity, and must not turn a declined order into a paid one).
 */
export function reportedPaid(session: Session): boolean {
  if (session.state === 'complete' || session.state === 'closed' || session.orderCheck?.verified) return true;
  const reported = session.state === 'ordered' || session.funnelDone || session.claimedOrderId !== undefined;
  if (!reported) return false;
  const check = session.orderCheck;
  const turnedDown = check !== undefined && (session.claimedOrderId === undefined || check.orderId === session.claimedOrderId);
  return !turnedDown;
}

/**
 * Paid: {@link reportedPaid}, or an ORDER queued or sent. No abandoned-cart email may lead a buyer
 * who paid into a second purchase; one whose reported order proved unpaid is led to the checkout.
 */
export async function isPaid(store: Store, session: Session): Promise<boolean> {
  if (reportedPaid(session)) return true;
  const order = await store.getEmission(session.id, 'order');
  return order !== undefined && order.status !== 'cancelled';
}

/**
 * The URL of the last checkout page view, else of the last page view; only on a lander origin the
 * collector accepts events from (a page URL is what a browser said, and the link must never become
 * an open redirect). Answered as the URL parser writes it: ASCII, with no CR or LF, always a valid
 * `Location` header.
 */
export async function returnUrl(store: Store, config: Config, sessionId: string): Promise<string | undefined> {
  // One bounded read (never the whole session, which a visitor can fill up to its cap).
  const last = (await store.lastPageView(sessionId, 'checkout'))?.payload as { url?: unknown } | undefined;
  if (typeof last?.url !== 'string') return undefined;
  try {
    const url = new URL(last.url);
    if ((url.protocol !== 'http:' && url.protocol !== 'https:') || !isAllowedOrigin(config, url.origin)) return undefined;
    return url.href;
  } catch {
    return undefined;
  }
}

/**
 * `url` with `_fb=<token>` in its fragment, the rest of it kept byte for byte (affiliate and UTM
 * values reach Konnektive as they were). In the fragment the token never reaches a server: not
 * the lander's access log, not a third-party script's request that copies the page's query, not
 * a `Referer`. The snippet reads it from there and removes it from the address bar at once.
 */
export function withLinkToken(url: string, token: string): string {
  const hashAt = url.indexOf('#');
  if (hashAt === -1) return `${url}#_fb=${token}`;
  const kept = url
    .slice(hashAt + 1)
    .split('&')
    .filter((part) => part !== '' && !part.startsWith('_fb='));
  return `${url.slice(0, hashAt)}#${[...kept, `_fb=${token}`].join('&')}`;
}

export async function recoveryTarget(deps: { config: Config; secret: string; store: Store }, token: string, now: number): Promise<RecoveryTarget> {
  const { config, secret, store } = deps;
  const fallback = (sessionId?: string): RecoveryTarget => ({
    outcome: 'fallback',
    location: config.recovery.fallbackUrl ?? EXPIRED_PATH,
    ...(sessionId ? { sessionId } : {}),
  });
  if (token.length > MAX_TOKEN_LENGTH) return fallback();
  const check = verifyRecovery(secret, token, now);
  if (!check.ok) return fallback();
  const session = await store.getSession(check.sessionId);
  if (!session) return fallback();
  if (await isPaid(store, session)) return { outcome: 'done', sessionId: session.id, location: config.recovery.doneUrl ?? DONE_PATH };
  const target = await returnUrl(store, config, session.id);
  if (!target) return fallback(session.id);
  const link = signRecoveryLink(secret, session.id, now + RECOVERY_LINK_TOKEN_TTL_MS);
  return { outcome: 'checkout', sessionId: session.id, location: withLinkToken(target, link) };
}
