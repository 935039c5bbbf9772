/**
 * funnelbeacon: one script tag that follows a buyer through a sales funnel, across pages and
 * domains, captures the lead as it is typed, and reports every step to the collector.
 *
 * Start-up, in order: read the script tag, adopt or restore the session, report the page (and
 * the cart and order the tag describes), replay the commands queued before we loaded, listen.
 */
import { funnelbeacon } from './api.js';
import { collect, watchForms } from './capture.js';
import { readConfig } from './config.js';
import { trackCart, trackOrder, trackPage } from './events.js';
import { decorate, startSession } from './session.js';
import { beacon, refreshLink, restoreQueue, resume, setConsent, track } from './transport.js';
import { guard, on } from './util.js';
import { page } from './config.js';

type Api = typeof funnelbeacon & { q?: ArrayLike<unknown>[]; v?: 1 };
const host = window as unknown as { funnelbeacon?: Api };

guard(() => {
  const queued = host.funnelbeacon;
  // Included twice (a tag in the template and one injected by a tag manager): the first one runs.
  if (queued?.v) return;
  // currentScript is null for module scripts and in some injected-script setups.
  const data = readConfig((document.currentScript || document.querySelector('script[data-page]')) as HTMLScriptElement | null);
  if (!data) return;

  if (data.consent == 'required') setConsent(false);
  restoreQueue();
  startSession();
  trackPage(document.referrer);
  if (data.product) {
    trackCart({
      items: [{ id: data.product, name: data.productName, price: data.price, qty: data.qty || 1 }],
      currency: data.currency,
    });
  }
  trackOrder(data.orderId || (data.orderParam && new URLSearchParams(location.search).get(data.orderParam)));

  watchForms();
  // Links are decorated as soon as they exist, and again just before use: pages add links late.
  on('DOMContentLoaded pointerdown focusin click submit', () => {
    decorate();
    refreshLink();
  });
  // Exit: pagehide and visibilitychange, never unload or beforeunload, which keep a page out of
  // the back/forward cache (https://web.dev/articles/bfcache). visibilitychange is the last event
  // mobile browsers reliably fire before discarding a backgrounded page.
  on('pagehide visibilitychange', (event) => {
    if (event.type == 'pagehide' || document.visibilityState == 'hidden') {
      collect();
      if (event.type == 'pagehide') track({ type: 'exit', page });
      beacon();
    } else {
      resume();
    }
  });
  on('pageshow', (event) => {
    if ((event as PageTransitionEvent).persisted) {
      trackPage(document.referrer);
      resume();
    }
  });

  const api: Api = (...args: unknown[]) => funnelbeacon(...(args as [string]));
  api.v = 1;
  host.funnelbeacon = api;
  for (const args of queued?.q || []) api(...(Array.from(args) as [string]));
  decorate();
})();
