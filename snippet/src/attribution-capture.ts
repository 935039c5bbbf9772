/**
 * @module attribution-capture
 * What the ad platforms and affiliate networks need to match a conversion to its click, a file
 * of its own (`/a.js`, an ES module) that the snippet imports only when there may be something
 * to tell (see attribution.ts): click ids, affiliate and UTM values from the landing URL, and
 * the ad platforms' cookies. Values go exactly as they arrived (`fbclid` is case-sensitive),
 * once per session on this domain, and again only for keys not sent before or when the
 * visitor's marketing choice changed. The ad platforms' keys are read only with marketing
 * consent: without it not even their cookies are looked at.
 */
import type { AttributionEvent, AttributionKey, AttributionValues } from '../../collector/wire-schema.js';

/** The snippet's `track`: queues an attribution event for the collector. */
type Track = (event: Omit<AttributionEvent, 'id' | 'ts'>) => void;
/** The snippet's `local`: reads (one argument) or writes a localStorage item. */
type Local = (key: string, value?: string) => string | null | void;

/** What this domain has told the collector: the session, the marketing choice, the keys sent. */
export interface Sent {
  /** The session id, absent when sent before the collector had named one (then it is that first session's). */
  s?: string;
  m: boolean;
  k: string[];
}

/** Where the record of what was sent is kept (read by attribution.ts too). */
export const SENT = 'funnelbeacon.a';

/**
 * Each key and where it is read, first found first: URL parameters by name (case-sensitive, as
 * Konnektive's kit writes them), cookies by a name starting with `_`. `fbclid` becomes Meta's
 * `fbc` (`fb.1.<ms>.<fbclid>`) only where the page has no `_fbc` cookie (see {@link gather}).
 * The order is the wire's `ATTRIBUTION_KEYS` (the schema's runtime is not bundled: a test
 * checks the two agree).
 */
export const SOURCES: readonly (readonly [AttributionKey, string])[] = [
  ['fbc', '_fbc'],
  ['fbp', '_fbp'],
  ['ttclid', 'ttclid'],
  ['ttp', '_ttp'],
  ['gclid', 'gclid'],
  ['gbraid', 'gbraid'],
  ['wbraid', 'wbraid'],
  ['affId', 'affId AFFID'],
  ['c1', 'c1 C1'],
  ['c2', 'c2 C2'],
  ['c3', 'c3 C3'],
  ['c4', 'c4 C4'],
  ['c5', 'c5 C5'],
  ['clickId', 'clickid click_id cid'],
  ['utm_source', 'utm_source'],
  ['utm_medium', 'utm_medium'],
  ['utm_campaign', 'utm_campaign'],
  ['utm_term', 'utm_term'],
  ['utm_content', 'utm_content'],
];

/** The first seven: the wire's `AD_KEYS`, which identify a person to an ad platform. */
export const AD_COUNT = 7;

/**
 * The values of the landing URL's query (`location.search`) and of the page's cookies
 * (`document.cookie`, given as '' without marketing consent): each decoded once (URL
 * parameters, by URLSearchParams) or as the cookie holds it, never altered. An empty value, or
 * one over the 512 characters the collector takes, is left out (never cut). `now` is when the
 * `fbclid` was first seen, for `fbc`.
 */
export const gather = (search: string, cookies: string, marketing: boolean, now: number): AttributionValues => {
  const params = new URLSearchParams(search);
  const values: AttributionValues = {};
  SOURCES.forEach(([key, names], i) => {
    if (marketing || i >= AD_COUNT) {
      let value: string | null | undefined;
      for (const name of names.split(' ')) {
        // A cookie by its exact name, at the start or after the `; ` that `document.cookie` puts between cookies.
        value ||= name[0] == '_' ? (cookies.match(`(^|; )${name}=([^;]*)`) || [])[2] : params.get(name);
      }
      if (key == 'fbc' && !value && params.get('fbclid')) value = `fb.1.${now}.${params.get('fbclid')}`;
      if (value && value.length <= 512) values[key] = value;
    }
  });
  return values;
};

/**
 * What to tell the collector, given what was already sent for this session (`sent`): the keys
 * not sent before; `undefined` when there is nothing new, that is when every key was sent and
 * the marketing choice is the one sent. The first time, even no values at all tell the
 * collector the marketing choice.
 */
export const news = (values: AttributionValues, marketing: boolean, sent?: Sent): AttributionValues | undefined => {
  const fresh: AttributionValues = {};
  let any = !sent || sent.m != marketing;
  for (const key of Object.keys(values) as AttributionKey[]) {
    if (!sent || !sent.k.includes(key)) {
      fresh[key] = values[key];
      any = true;
    }
  }
  if (any) return fresh;
};

/**
 * The record of what this domain sent, when it belongs to the session `sessionId` (this page's
 * session; none for a new visitor or an arriving link): one written before the collector had
 * named a session belongs to the first session named since.
 */
export const sentFor = (stored: Sent | null, sessionId?: string): Sent | undefined =>
  stored && (!stored.s || stored.s == sessionId) ? stored : undefined;

/** Where the snippet keeps what a.js last looked at (see attribution.ts), so that it loads a.js again only for something new. */
export const SEEN = 'funnelbeacon.s';

/**
 * Reads this page's values and queues what the collector has not been told for this session;
 * then keeps `seen`, what the snippet saw of the page.
 */
export const attribute = (marketing: boolean, sessionId: string | undefined, track: Track, local: Local, seen: string): void => {
  const sent = sentFor(JSON.parse(local(SENT) || 'null'), sessionId);
  const values = news(gather(location.search, marketing ? document.cookie : '', marketing, Date.now()), marketing, sent);
  if (values) {
    track({ type: 'attribution', marketing, values });
    local(SENT, JSON.stringify({ s: sessionId, m: marketing, k: [...(sent ? sent.k : []), ...Object.keys(values)] } satisfies Sent));
  }
  local(SEEN, seen);
};
