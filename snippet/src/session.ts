/**
 * @module session
 * The session across pages and domains. On one domain the session token is kept in first-party
 * storage. To reach the next domain, links and form actions that point to `data-domains` carry
 * a signed link token in the URL fragment (`#_fb=<token>`): a fragment never reaches a server, an
 * access log or a `Referer`, and the snippet takes it out of the address bar as soon as it runs.
 * The token expires within minutes and is spent by its first use. The
 * page on the next domain sends the link token instead of a session, and keeps the session the
 * collector answers with, but only when that domain holds no session of its own (see
 * `startSession`). Putting the token on links is the work of cross-domain.ts (`d.js`), loaded
 * only on a page that names other domains.
 */
import type { IngestResponse } from '../../collector/wire-schema.js';
import { src, tag } from './config.js';
import type * as CrossDomain from './cross-domain.js';
import { readSession, writeSession } from './storage.js';
import { log } from './util.js';

/** This domain's session token: as stored (none: null, undefined or ''), then as the collector answers. */
export let session: string | null | undefined;
/** The link token of the last answer (none before it), and when the collector stops taking it. */
export let link: string | undefined;
export let linkExpires: number;
/** A link token from the address bar that this page is to send (see `startSession`). */
let arriving = '';
/** Public ids from the last answer, for the `ready` command. */
export let ids: IngestResponse['ids'] | undefined;

/**
 * Restores this domain's session and takes the link token out of the address bar at once, so
 * that it is not bookmarked, shared, or read by the scripts that run after us. Only a URL that carries
 * one is rewritten, and only the token goes: the rest of the URL stays byte for byte (an emptied
 * fragment leaves no `#`).
 *
 * Which token the page sends: a domain that holds no session adopts the arriving one. A domain
 * that holds a session keeps it: an arriving link token is ignored, whatever session it names,
 * so that a link someone else made cannot pull this visitor into their session (what the
 * visitor then typed would land in it). The one exception is a recovery landing's token (`p`)
 * naming the session held here: the buyer is back through their own recovery link, and the
 * collector records the return and hands over a new session.
 */
export const startSession = (): void => {
  session = readSession();
  // `#_fb=TOKEN`, alone or first in the fragment, or `&_fb=TOKEN` after what the fragment had.
  const hash = location.hash.slice(1);
  const rest = hash.replace(/^_fb=([^&]*)&?|&_fb=([^&]*)/, (_, first?: string, later?: string) => {
    arriving = first || later || '';
    return '';
  });
  if (rest != hash) history.replaceState(history.state, '', location.href.split('#')[0] + (rest ? '#' + rest : ''));
  // Tokens are `<kind>.<session id>.<...>`: `s` a session, `l` a link to another funnel domain,
  // `p` the link of a recovery landing.
  if (session && arriving.indexOf(`p.${session.split('.')[1]}.`)) arriving = '';
  // The cross-domain code, in place before the first link token arrives, or else right after.
  if (tag.domains) {
    import(new URL('d.js', src).href).then((module) => {
      crossDomain = module;
      decorate();
    }, log);
  }
};

/** How a request names its session: by the arriving link, else by the stored session, else not (a new session). */
export const credentials = (): { link?: string; session?: string } =>
  arriving ? { link: arriving } : session ? { session } : {};

/**
 * The id of the session this page's requests name (see `credentials`), from the stored session
 * token (`s.<session id>.<...>`, the `session` of `ready`'s ids); none for a new visitor and
 * while a link token is arriving (the answer may name another session).
 */
export const sessionId = (): string | undefined => (arriving ? '' : session || '').split('.')[1];

/** Keeps what the collector answered, and puts the new link token on the links. */
export const remember = (answer: IngestResponse): void => {
  ({ session, link, linkExpires, ids } = answer);
  arriving = '';
  writeSession(session);
  decorate();
  // Back through a recovery link: the answer carries the session's fields and the URL of the
  // prefill code, a second small file loaded only then (it honours `data-prefill="off"`). By
  // `import()`, which Trusted Types do not gate, where a script element's `src` would need a policy.
  if (answer.prefill) import(answer.prefill).then((code: { fill(ids: IngestResponse['ids']): void }) => code.fill(answer.ids)).catch(log);
};

/** The collector does not know our session (forged, or purged since): the next request starts a new one. */
export const forget = (): void => writeSession((session = ''));

/**
 * The cross-domain code (cross-domain.ts, `d.js` beside the snippet), once it has loaded: it
 * loads at start, and never on a page that names no other domain.
 */
export let crossDomain: typeof CrossDomain | undefined;

/**
 * Puts the link token on the links and form actions leading to another funnel domain: with each
 * new token, before each click, and once the cross-domain code is in place (a token may come first).
 */
export const decorate = (): unknown => crossDomain && crossDomain.decorate(link, tag.domains!);
