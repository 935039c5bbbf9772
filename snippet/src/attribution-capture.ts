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
import type { AttributionEvent } from '../../collector/wire-schema.js';
import { gather, news, sentFor } from './attribution-values.js';

/** The snippet's `track`: queues an attribution event for the collector. */
type Track = (event: Omit<AttributionEvent, 'id' | 'ts'>) => void;
/** The snippet's `local`: reads (one argument) or writes a localStorage item. */
type Local = (key: string, value?: string) => string | null | void;

/** Where the record of what was sent (`Sent`) is kept. */
export const SENT = 'funnelbeacon.a';

/**
 * Reads (one argument) or writes the record of what was sent: in localStorage, or where that is
 * blocked (`local` then answers `undefined`) in a cookie for the browser session, as the session
 * token is kept (storage.ts: `__Host-` on https, so that no sibling subdomain plants one).
 * Without it, a page that cannot store would tell the collector again on every page.
 */
const record = (local: Local, value?: string): string | null | void => {
  if (local(SENT) !== undefined) return local(SENT, value);
  const secure = location.protocol == 'https:';
  const name = `${secure ? '__Host-' : ''}funnelbeacon-a`;
  if (value == null) return decodeURIComponent((document.cookie.match(`(^|; )${name}=([^;]*)`) || [])[2] || '') || null;
  document.cookie = `${name}=${encodeURIComponent(value)};path=/${secure ? ';secure' : ''}`;
};

/** Where the snippet keeps what a.js last looked at (see attribution.ts), so that it loads a.js again only for something new. */
export const SEEN = 'funnelbeacon.s';

/**
 * Reads this page's values and queues what the collector has not been told for this session;
 * then keeps what the snippet saw of the page (`seen`). A record made before the collector named
 * the session (a visitor's first page) is given the session of the next answer (`answered`),
 * the one its events went to: a later session (this one expired, say) is then told afresh.
 */
export const attribute = (
  marketing: boolean,
  sessionId: () => string | undefined,
  track: Track,
  local: Local,
  seen: () => string,
  answered: (() => void)[],
): void => {
  const sent = sentFor(JSON.parse(record(local) || 'null'), sessionId());
  const values = news(gather(location.search, marketing ? document.cookie : '', marketing, Date.now()), marketing, sent);
  let told = sent;
  if (values) {
    track({ type: 'attribution', marketing, values });
    told = { s: sessionId(), m: marketing, k: [...(sent ? sent.k : []), ...Object.keys(values)] };
  }
  const keep = (): void => {
    told!.s ||= sessionId();
    record(local, JSON.stringify(told));
  };
  if (told) {
    keep();
    if (!told.s) answered.push(keep);
  }
  local(SEEN, seen());
};
