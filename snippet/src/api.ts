/**
 * @module api
 * The `funnelbeacon(command, ...)` function pages call, before or after the script loads.
 */
import type { IngestResponse } from '../../collector/wire-schema.js';
import { collect, lead } from './capture.js';
import { isPage, setPage } from './config.js';
import { lastUrl, trackCart, trackOrder, trackPage, type CartInput } from './events.js';
import { ids, linkTtl, linkUsable, withLink } from './session.js';
import { send, setConsent, whenAnswered } from './transport.js';
import { guard, soon } from './util.js';

/** How long `link` waits for a fresh token before handing back the URL as it is. */
const LINK_WAIT_MS = 1500;

const commands: Record<string, (a?: any, b?: any) => void> = {
  /** A single-page app moved to another step: `funnelbeacon('page', 'upsell1')`. */
  page(name?: unknown) {
    if (isPage(name)) setPage(name);
    trackPage(lastUrl);
  },
  lead(fields: Record<string, unknown>) {
    lead(fields);
  },
  cart(cart: CartInput) {
    trackCart(cart);
  },
  order(order: { orderId?: unknown }) {
    trackOrder(order.orderId);
  },
  consent(given: unknown) {
    setConsent(!!given);
    collect();
  },
  ready(callback: (ids: IngestResponse['ids']) => void) {
    const call = guard(() => callback({ ...ids! }));
    if (ids) call();
    else whenAnswered(call);
  },
  /**
   * The URL carrying the session, for pages that go to the next domain by script. Waits for a
   * fresh link token if needed, but never longer than LINK_WAIT_MS: a slow or missing collector
   * must not hold up the buyer, who then gets the URL without it.
   */
  link(url: string, callback: (url: string) => void) {
    let done = false;
    const call = guard(() => {
      if (done) return;
      done = true;
      callback(linkUsable() ? withLink(url) : url);
    });
    if (linkUsable() && linkTtl() > 0) return call();
    whenAnswered(call);
    soon(call, LINK_WAIT_MS);
    send(true);
  },
};

/** The public function; nothing it is given can make it throw. */
export const funnelbeacon = guard((name: string, a?: unknown, b?: unknown) => commands[name]!(a, b));
