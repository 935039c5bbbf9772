/**
 * @module transport
 * Delivery that survives leaving the page. Events wait in a queue (mirrored to localStorage)
 * until the collector acknowledges them. While the page lives they go by `fetch` with
 * `keepalive`; when it is hidden or left, whatever is unacknowledged goes by `sendBeacon`.
 * Every event has an id, so sending one twice is harmless, and the design leans on that:
 * anything not known to be stored is sent again, on this page or the next one.
 */
import type { EventBatch, FunnelEvent, IngestResponse } from '../../collector/wire-schema.js';
import { campaign, endpoint } from './config.js';
import { uuid } from './ids.js';
import { credentials, forget, linkTtl, remember, session } from './session.js';
import { local } from './storage.js';
import { log, soon } from './util.js';

type Distribute<T> = T extends FunnelEvent ? Omit<T, 'id' | 'ts'> : never;
export type NewEvent = Distribute<FunnelEvent>;

const QUEUE = 'funnelbeacon.q';
/** Kept at most, oldest dropped first, while the collector is unreachable. */
const QUEUE_MAX = 100;

/** Unacknowledged events, oldest first; those of earlier pages come back from localStorage. */
let queue: FunnelEvent[] = [];
/** A request is in flight, or we are waiting out a failure before trying again. */
let busy = false;
let retryMs = 4e3;
/** Events already handed to `sendBeacon` since the page was last visible. */
let beaconed = new WeakSet<FunnelEvent>();
let refreshTimer: ReturnType<typeof setTimeout>;
const answered: (() => void)[] = [];

/** `false` until `funnelbeacon('consent', true)` when the page requires consent: nothing is stored or sent. */
export let consented = true;

/** Takes back the events earlier pages of this domain could not deliver. */
export function restoreQueue(): void {
  try {
    queue = JSON.parse(local(QUEUE)!) || [];
  } catch {
    // Nothing stored (or storage blocked).
  }
}

export function setConsent(value: boolean): void {
  consented = value;
  save();
  soon(send);
}

function save(): void {
  queue.splice(0, queue.length - QUEUE_MAX);
  if (consented) local(QUEUE, queue.length ? JSON.stringify(queue) : '');
}

export function track(event: NewEvent): void {
  queue.push({ id: uuid(), ts: Date.now(), ...event } as FunnelEvent);
  save();
  soon(send);
}

/** Calls `fn` after the next successful answer. */
export function whenAnswered(fn: () => void): void {
  answered.push(fn);
}

/**
 * The oldest events that fit one request: at most 50, and about 16 KB so that a fetch in flight
 * plus an exit beacon stay well inside the 64 KiB keepalive quota a page shares between all its
 * keepalive requests (https://github.com/w3c/beacon/issues/38); over it, Chrome rejects them.
 */
function take(events: FunnelEvent[]): FunnelEvent[] {
  const batch: FunnelEvent[] = [];
  for (const event of events) {
    if (batch.length > 49 || JSON.stringify(batch).length > 16e3) break;
    batch.push(event);
  }
  return batch;
}

/**
 * JSON in a text/plain body: a CORS-safelisted type, so no preflight, and `sendBeacon` does not
 * throw as it does for application/json (https://github.com/w3c/beacon/issues/10).
 */
function body(events: FunnelEvent[]): string {
  const batch: EventBatch = { ...credentials(), campaign, events };
  return JSON.stringify(batch);
}

function acknowledge(batch: FunnelEvent[]): void {
  queue = queue.filter((event) => !batch.includes(event));
  save();
}

/**
 * Sends the oldest unacknowledged events; with `refresh`, sends even none, to renew the link token.
 * One request at a time; after a failure (offline, blocked, collector down or overloaded) the
 * events stay queued and stored, and we try again later with a growing delay, or on the next page.
 */
export function send(refresh?: boolean): void {
  if (busy || !consented) return;
  const batch = take(queue);
  if (!batch.length && !(refresh && credentials().session)) return;
  busy = true;
  fetch(endpoint, { method: 'POST', body: body(batch), keepalive: true, credentials: 'omit' })
    .then((response) =>
      response.json().then((answer: IngestResponse) => {
        const { status } = response;
        log(status, answer);
        if (status == 200) {
          remember(answer);
          acknowledge(batch);
          answered.splice(0).forEach((fn) => fn());
          clearTimeout(refreshTimer);
          refreshTimer = soon(refreshLink, linkTtl());
        } else if (status == 401) {
          // Our session token is forged or unknown here: forget it and send again as a new visitor.
          forget();
        } else if (status > 499 || status == 429) {
          throw status;
        } else {
          // Any other 4xx: this batch will never be accepted; keeping it would block the rest.
          acknowledge(batch);
        }
        busy = false;
        retryMs = 4e3;
        send();
      }),
    )
    .catch((error) => {
      log(error);
      soon(() => {
        busy = false;
        send();
      }, (retryMs *= 2));
    });
}

/** Renews the link token when it is about to expire, so that links always carry a valid one. */
export function refreshLink(): void {
  if (linkTtl() < 0) send(true);
}

/**
 * Hands every event not yet beaconed to `sendBeacon`: it is queued by the browser and survives
 * the page, where a fetch may be cancelled. Events stay queued until acknowledged, so a beacon
 * lost to an ad blocker is made good by the next page.
 */
export function beacon(): void {
  if (!consented) return;
  let rest = queue.filter((event) => !beaconed.has(event));
  while (rest.length) {
    const batch = take(rest);
    // false: over the keepalive quota; what is left goes with the next page.
    if (!navigator.sendBeacon(endpoint, body(batch))) break;
    for (const event of batch) beaconed.add(event);
    rest = rest.slice(batch.length);
  }
}

/** The page is visible again (back from another tab, or restored from the back/forward cache). */
export function resume(): void {
  beaconed = new WeakSet();
  refreshLink();
  send();
}
