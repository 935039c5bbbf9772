/**
 * @module api
 * The commands of `funnelbeacon(command, ...)`, which pages may call before the script loads.
 */
import type { IngestResponse } from '../../collector/wire-schema.js';
import { collect, lead } from './capture.js';
import { setPage, tag } from './config.js';
import { trackCart, trackOrder, trackPage } from './events.js';
import { crossDomain, ids, link } from './session.js';
import { answered, setConsent } from './transport.js';
import { guard, soon } from './util.js';

const commands: Record<string, (a?: any, b?: any) => void> = {
  /** A single-page app moved to another step: `funnelbeacon('page', 'upsell1')`. */
  page(name?: unknown) {
    setPage(name);
    trackPage();
  },
  lead,
  cart: trackCart,
  order: (order: { orderId?: string }) => trackOrder(order.orderId),
  consent(given: unknown) {
    setConsent(!!given);
    collect();
  },
  ready(callback: (ids: IngestResponse['ids']) => void) {
    const call = guard(() => callback(ids!));
    if (ids) call();
    else answered.push(call);
  },
  /**
   * The URL carrying the session, for pages that go to the next domain by script (a URL on no
   * funnel domain comes back as it is). Before the first answer it waits for one, but at most
   * 1.5 s: a slow or missing collector must not hold up the buyer, who then goes on without it.
   * The link token is kept fresh by `refreshLink`.
   */
  link(url: string, callback: (url: string) => void) {
    let done = false;
    const call = guard(() => {
      if (!done) {
        done = true;
        // The cross-domain code (`d.js`) puts the token on a URL that leads to another funnel domain.
        callback((crossDomain && crossDomain.withLink(url, link, tag.domains!)) || url);
      }
    });
    // Called once: now (after this task) when a token is at hand, else on the next answer or at the deadline.
    answered.push(call);
    soon(call, link ? 0 : 1500);
  },
};

/** The public function: nothing it is given can make it throw. */
export const funnelbeacon = guard((name: string, a?: unknown, b?: unknown) => commands[name]!(a, b));
