/**
 * funnelbeacon: one script tag that follows a buyer through a sales funnel, across pages and
 * domains, captures the lead as it is typed, and reports every step to the collector.
 *
 * Start-up, in order: read the script tag, adopt or restore the session, report the page (and
 * the cart and order the tag describes), listen, replay the commands queued before we loaded.
 */
import { funnelbeacon } from './api.js';
import { attribute } from './attribution.js';
import { collect, watchForms } from './capture.js';
import { readConfig } from './config.js';
import { trackCart, trackOrder, trackPage } from './events.js';
import { decorate, startSession } from './session.js';
import { beacon, refreshLink, send, startTransport } from './transport.js';
import { guard, on } from './util.js';

/** The page's `funnelbeacon`: the queue of commands issued before we loaded, then our function. */
declare const window: { funnelbeacon?: unknown };

guard(() => {
  const queued = window.funnelbeacon as { q?: [string, unknown?, unknown?][] } | undefined;
  // currentScript is null in module scripts; the attribute finds the tag there too.
  const data = readConfig((document.currentScript || document.querySelector('script[data-page]')) as HTMLScriptElement);
  if (!data) return;

  // `required`: nothing until consent is given; `analytics`: the funnel tracked, marketing off
  // until a `consent` command allows it; else both.
  startTransport(data.consent != 'required', data.consent != 'analytics');
  startSession();
  trackPage();
  if (data.product) {
    trackCart({
      items: [
        {
          id: data.product,
          name: data.productName,
          price: +data.price! || 0,
          qty: +data.qty! || 1,
          // What the abandoned-cart email shows; absent attributes are left out of the JSON.
          sku: data.productSku,
          category: data.productCategory,
          description: data.productDescription,
          imageUrl: data.productImage,
          productUrl: data.productUrl,
        },
      ],
      currency: data.currency || 'USD',
    });
  }
  trackOrder(data.orderId || new URLSearchParams(location.search).get(data.orderParam!));

  watchForms();
  // Links are decorated with each new token, and again just before use, for links added late.
  on('pointerdown click submit', decorate);
  // Leaving: pagehide and visibilitychange, never unload or beforeunload, which keep a page out
  // of the back/forward cache (https://web.dev/articles/bfcache). visibilitychange is the last
  // event mobile browsers reliably fire before discarding a page in the background. Coming back
  // (from another tab, or from the back/forward cache: pageshow) resumes sending.
  let left: boolean | undefined; // not yet
  on('pagehide visibilitychange pageshow', ({ type }) => {
    if (type == 'pagehide' || document.hidden) {
      collect();
      // Leaving fires pagehide, then visibilitychange (the order of "unload a document",
      // https://html.spec.whatwg.org/multipage/document-lifecycle.html): the second has nothing new.
      if (!left) beacon();
      left = type == 'pagehide';
    } else {
      left = false;
      refreshLink();
      send();
    }
  });
  // A page left open renews its link token in time. Background tabs throttle timers to about
  // once a minute, which is enough; a page shown again renews at once (above).
  setInterval(guard(refreshLink), 6e4);

  window.funnelbeacon = funnelbeacon;
  for (const args of (queued && queued.q) || []) funnelbeacon(...args);
  // After the queued commands: a consent manager's `consent` decides what may be read.
  attribute();
})();
