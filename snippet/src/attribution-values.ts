/**
 * @module attribution-values
 * Which values the ad platforms and affiliate networks get, and when they are news: pure, for
 * the attribution capture (attribution-capture.ts, `a.js`) and its tests.
 */
import type { AttributionKey, AttributionValues } from '../../collector/wire-schema.js';

/** What this domain has told the collector: the session, the marketing choice, the keys sent. */
export interface Sent {
  /** The session id, absent when sent before the collector had named one (then it is that first session's). */
  s?: string;
  m: boolean;
  k: string[];
}

/**
 * The keys, in the wire's order (`ATTRIBUTION_KEYS`; the schema's runtime is not bundled: a test
 * checks the two agree), the ad platforms' first (`AD_KEYS`, read only with marketing consent).
 */
export const KEYS = 'fbc fbp ttclid ttp gclid gbraid wbraid affId c1 c2 c3 c4 c5 clickId utm_source utm_medium utm_campaign utm_term utm_content'.split(
  ' ',
) as AttributionKey[];
export const AD_COUNT = 7;

/**
 * Where a key is read, first found first: URL parameters by name (case-sensitive, as
 * Konnektive's kit writes them: `affId` or `AFFID`, `c1` or `C1`; an affiliate tracker's
 * `clickid`, `click_id` or `cid`), or the ad platforms' cookies (`_fbc`, `_fbp`, `_ttp`). `fbclid`
 * becomes Meta's `fbc` only where the page has no `_fbc` cookie (see {@link gather}).
 */
export const names = (key: string): string[] =>
  key == 'clickId' ? ['clickid', 'click_id', 'cid'] : /^(fb.|ttp)$/.test(key) ? ['_' + key] : /^(affId|c\d)$/.test(key) ? [key, key.toUpperCase()] : [key];

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
  KEYS.forEach((key, i) => {
    if (marketing || i >= AD_COUNT) {
      let value: string | null | undefined;
      for (const name of names(key)) {
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
