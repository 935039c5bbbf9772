/**
 * @module recovery-route
 * `GET /r/<token>` (and `HEAD`): the recovery link of a CART's `orderUrl`. Always a 302:
 * - to the checkout page the buyer left, with a fresh recovery link token in `_fb`, when the
 *   session is not paid;
 * - to `RECOVERY_DONE_URL` (else the collector's "order complete" page) when it is;
 * - to `RECOVERY_FALLBACK_URL` (else the collector's "link expired" page) for an unknown, expired,
 *   forged or malformed token, or a session purged since.
 *
 * Email security scanners open every link before the person does, so the redirect changes no
 * session state and stores no event: only the page view the snippet then sends counts as the
 * buyer's return. A `GET` is counted as a click (first and latest time, and in `/metrics`); a
 * `HEAD` is not. Never a 5xx, whatever the store holds (a `Location` a header cannot carry leads
 * to the fallback too), never personal data in an answer, and never a token in the log.
 */
import { systemClock, type Clock } from '../clock.js';
import { Hono, type Context } from 'hono';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { DONE_PATH, EXPIRED_PATH, recoveryTarget, type RecoveryTarget } from '../recovery/recovery-target.js';
import type { Store } from '../store/store.js';
import { htmlPage } from '../http/html-page.js';
import { redactTokens } from '../http/token-redaction.js';

export interface RecoveryRouteDeps {
  config: Config;
  secret: string;
  store: Store;
  metrics: Metrics;
  logger: Logger;
  clock?: Clock;
}

const NO_STORE = {
  'Cache-Control': 'no-store',
  // The link's token must not travel on as a Referer, nor the page be indexed.
  'Referrer-Policy': 'no-referrer',
  'X-Robots-Tag': 'noindex, nofollow',
};

const page = (title: string, text: string): string =>
  htmlPage({
    title,
    head: '<meta name="robots" content="noindex">',
    bodyAttributes: 'style="font:16px/1.5 system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#222"',
    body: `<h1>${title}</h1>\n<p>${text}</p>`,
  });

const DONE_PAGE = page('Your order is complete', 'This order has already been paid. Thank you! There is nothing more to do; check your email for the confirmation.');
const EXPIRED_PAGE = page('This link has expired', 'This checkout link is no longer valid. Please go back to the shop to place your order.');

export function recoveryRoute({ config, secret, store, metrics, logger, clock = systemClock }: RecoveryRouteDeps): Hono {
  const app = new Hono();

  // Checked here, inside the handler's try: a stored page URL holding CR/LF, a control character
  // or one beyond ASCII cannot be a Location (Node refuses it only once the handler has returned,
  // as a 500), and must lead to the fallback instead. A serialised URL is always printable ASCII.
  const redirect = (target: RecoveryTarget) => {
    if (!/^[\x21-\x7e]+$/.test(target.location)) throw new Error(`the ${target.outcome} target is not a printable ASCII URL`);
    return new Response(null, { status: 302, headers: { Location: target.location, ...NO_STORE } });
  };
  const fallback = (sessionId?: string): RecoveryTarget => ({
    outcome: 'fallback',
    location: config.recovery.fallbackUrl ?? EXPIRED_PATH,
    ...(sessionId ? { sessionId } : {}),
  });

  // Hono answers HEAD with the GET handler, without the body. Every path under /r/ is a link
  // (an email client may add a slash, a buyer may paste half a link): what is not a valid token
  // leads to the fallback like any other, never to a 404.
  const follow = async (c: Context) => {
    const at = clock.now();
    const isHead = c.req.method === 'HEAD';
    const token = c.req.path.slice('/r/'.length).replace(/\/+$/, '');
    let target: RecoveryTarget | undefined;
    let response: Response;
    try {
      target = await recoveryTarget({ config, secret, store }, token, at);
      response = redirect(target);
    } catch (error) {
      // The store is down, the target cannot be a Location, or anything else: the buyer still
      // gets a page, never a 5xx. The message may quote the target, and with it a link token.
      logger.warn({ err: redactTokens(error instanceof Error ? error.message : String(error)) }, 'recovery link could not be resolved');
      target = fallback(target?.sessionId);
      response = redirect(target);
    }
    if (!isHead) {
      metrics.recoveryClicks.inc({ outcome: target.outcome });
      if (target.sessionId) {
        try {
          await store.recordRecoveryClick(target.sessionId, at);
        } catch (error) {
          logger.warn({ err: error instanceof Error ? error.message : String(error) }, 'recovery click not recorded');
        }
      }
    }
    return response;
  };
  app.get('/r', follow);
  app.get('/r/*', follow);

  app.get(DONE_PATH, (c) => c.html(DONE_PAGE, 200, NO_STORE));
  app.get(EXPIRED_PATH, (c) => c.html(EXPIRED_PAGE, 200, NO_STORE));
  return app;
}
