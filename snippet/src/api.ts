/**
 * @module api
 * The commands of `funnelbeacon(command, ...)`, which pages may call before the script loads.
 */
import type { ConversionName, IngestResponse } from '../../collector/wire-schema.js';
import { attribute } from './attribution.js';
import { collect, lead } from './capture.js';
import { setPage, tag } from './config.js';
import { trackCart, trackOrder, trackPage } from './events.js';
import { crossDomain, ids, link, sessionId } from './session.js';
import { answered, setConsent } from './transport.js';
import { guard, soon } from './util.js';

/**
 * Calls `fn` once: now (after this task) when what it needs is at hand, else on the next answer,
 * but at most 1.5 s later: a slow or missing collector must not hold up the buyer, who then
 * goes on without it.
 */
const once = (atHand: unknown, fn: () => void): void => {
  let done = false;
  const call = guard(() => done || ((done = true), fn()));
  answered.push(call);
  soon(call, atHand ? 0 : 1500);
};

const commands: Record<string, (a?: any, b?: any) => void> = {
  /** A single-page app moved to another step: `funnelbeacon('page', 'upsell1')`. */
  page(name?: unknown) {
    setPage(name);
    trackPage();
  },
  lead,
  cart: trackCart,
  order: (order: { orderId?: string }) => trackOrder(order.orderId),
  /**
   * `true` or `false`: both analytics (the funnel is tracked) and marketing, or neither; or
   * `{ analytics, marketing }`: the funnel tracked, its conversions kept from the ad platforms.
   */
  consent(given: any) {
    const each = given === Object(given);
    setConsent(!!(each ? given.analytics : given), !!(each ? given.marketing : given));
    collect();
    attribute();
  },
  ready(callback: (ids: IngestResponse['ids']) => void) {
    const call = guard(() => callback(ids!));
    if (ids) call();
    else answered.push(call);
  },
  /**
   * The URL carrying the session, for pages that go to the next domain by script (a URL on no
   * funnel domain comes back as it is). The link token is kept fresh by `refreshLink`.
   */
  link(url: string, callback: (url: string) => void) {
    // The cross-domain code (`d.js`) puts the token on a URL that leads to another funnel domain.
    once(link, () => callback((crossDomain && crossDomain.withLink(url, link, tag.domains!)) || url));
  },
  /**
   * The event id of a conversion (`Lead`, `InitiateCheckout`, `Purchase`) that the collector
   * sends to the ad platforms, for the browser pixel's `eventID`, so that the platform counts the
   * two once: the answer's `eventIds`, which are `<session id>.<name>` (conversionEventId), so
   * known at once where this domain holds the session. `undefined` for any other name, and when
   * no answer came in time.
   */
  eventId(name: ConversionName, callback: (id?: string) => void) {
    // Once answered, the session this domain holds is the answer's (`ids.session`).
    once(sessionId(), () => callback(/^(Lead|InitiateCheckout|Purchase)$/.test(name) && sessionId() ? sessionId() + '.' + name : undefined));
  },
};

/** The public function: nothing it is given can make it throw. */
export const funnelbeacon = guard((name: string, a?: unknown, b?: unknown) => commands[name]!(a, b));
