/**
 * @module transport
 * Delivery that survives leaving the page. Events wait in a queue, mirrored to localStorage,
 * until the collector acknowledges them. While the page lives they go by `fetch` with
 * `keepalive`; when it is hidden or left, whatever is unacknowledged goes by `sendBeacon`.
 * Every event has an id, so sending one twice is harmless, and the design leans on that:
 * anything not known to be stored is sent again, on this page or the next one.
 */
import type { EventBatch, FunnelEvent, IngestResponse } from '../../collector/wire-schema.js';
import { endpoint, tag } from './config.js';
import { uuid } from './ids.js';
import { credentials, forget, link, linkExpires, remember } from './session.js';
import { local } from './storage.js';
import { soon } from './util.js';

type Distribute<T> = T extends FunnelEvent ? Omit<T, 'id' | 'ts'> : never;
export type NewEvent = Distribute<FunnelEvent>;

const QUEUE = 'funnelbeacon.q';
/**
 * Events per request. The largest event (a page view with a 2,048-character URL and referrer)
 * is under 4.3 KB, so ten stay under 43 KB: inside the collector's 64 KiB limit, and an exit
 * beacon usually fits beside a fetch in flight in the 64 KiB keepalive quota that a page shares
 * between all its keepalive requests (https://github.com/w3c/beacon/issues/38).
 */
const BATCH = 10;

/** Unacknowledged events, oldest first, with those earlier pages of this domain could not deliver. */
let queue: FunnelEvent[];
/** A request is in flight, or we are waiting out a failure before the next try. */
let busy = false;
/** Doubles after each failure: 8 s, 16 s, 32 s... */
let retryMs = 4e3;
/** Called once after the next successful answer. */
export const answered: (() => void)[] = [];

/** `false` while the page requires consent and has not got it: nothing is stored or sent. */
export let consented: boolean;
/**
 * The visitor allows marketing: the ad platforms' click ids and cookies are read and sent (see
 * attribution.ts), and the collector may send this session's conversions to the ad platforms.
 */
export let marketing: boolean;

/** Mirrors the queue to localStorage. */
const save = (): unknown => consented && local(QUEUE, JSON.stringify(queue));

export const setConsent = (analytics: boolean, ads: boolean): void => {
  consented = analytics;
  marketing = ads;
  save();
  soon(send);
};

/**
 * Takes back what earlier pages of this domain left unacknowledged (only this script writes
 * that item, always as JSON).
 */
export const startTransport = (analytics: boolean, ads: boolean): void => {
  queue = JSON.parse(local(QUEUE) || '[]');
  setConsent(analytics, ads);
};

export const track = (event: NewEvent): void => {
  queue.push({ id: uuid(), ...event } as FunnelEvent);
  save();
  soon(send);
};

/**
 * JSON in a text/plain body: a CORS-safelisted type, so no preflight, and `sendBeacon` does not
 * throw as it does for application/json (https://github.com/w3c/beacon/issues/10).
 */
const body = (events: FunnelEvent[]): string => JSON.stringify({ ...credentials(), campaign: tag.campaign, events } satisfies EventBatch);

/**
 * Sends the oldest unacknowledged events; with `refresh`, sends even none, to renew the link
 * token. One request at a time. After a failure (offline, blocked, collector down or overloaded)
 * the events stay queued and stored; we try again after a growing delay, or on the next page.
 * No credentials: fetch's default sends no cookies to another origin.
 */
export const send = (refresh?: boolean): void => {
  const batch = queue.slice(0, BATCH);
  // A refresh comes only after an answer (there is a link token), so there is a session to name.
  if (busy || !consented || !(batch.length || refresh)) return;
  busy = true;
  fetch(endpoint, { method: 'POST', body: body(batch), keepalive: true })
    .then((response) =>
      response.json().then((answer: IngestResponse) => {
        const { status } = response;
        if (status == 401) {
          // The session token is forged or unknown here: forget it, send again as a new visitor.
          forget();
        } else if (status > 499 || status == 429) {
          throw status;
        } else {
          if (status == 200) {
            remember(answer);
            for (const fn of answered.splice(0)) fn();
          }
          // Stored, or refused for good (any other 4xx), when keeping it would block the rest.
          queue = queue.filter((event) => !batch.includes(event));
          save();
        }
        busy = false;
        send();
      }),
    )
    .catch(() =>
      soon(() => {
        busy = false;
        send();
      }, (retryMs *= 2)),
    );
};

/**
 * Renews the link token two minutes before it expires, so that links always carry a valid one.
 * A hidden page waits: it renews when it is shown again.
 */
export const refreshLink = (): unknown => link && !document.hidden && linkExpires - Date.now() < 12e4 && send(true);

/**
 * Hands the unacknowledged events to `sendBeacon`, which the browser delivers after the page is
 * gone, where a fetch may be cancelled. They stay queued until acknowledged: ad blockers often
 * block beacons (https://github.com/umami-software/umami/issues/3354), and then the page, if it
 * comes back, or the next page of the domain sends them again by fetch.
 */
export const beacon = (): void => {
  // sendBeacon answers false past the keepalive quota: what is left goes with the next page.
  for (let i = 0; consented && i < queue.length && navigator.sendBeacon(endpoint, body(queue.slice(i, (i += BATCH)))); );
};
