/**
 * @module session
 * The session across pages and domains. On one domain the session token is kept in first-party
 * storage. To reach the next domain, links and form actions that point to `data-domains` carry
 * a signed link token in the `_fb` query parameter; it expires within minutes, so that a shared
 * URL cannot merge a stranger into the session. The page on the next domain sends the link
 * token instead of a session, and keeps the session the collector answers with.
 */
import type { IngestResponse } from '../../collector/wire-schema.js';
import { domains } from './config.js';
import { readSession, writeSession } from './storage.js';

const PARAM = '_fb';

/** This domain's session token; empty until the collector first answers. */
export let session = '';
/** The current link token, and when the collector stops taking it (ms since the epoch). */
let link = '';
let linkExpires = 0;
/** A link token from the address bar that names a session this domain does not hold yet. */
export let arriving = '';
/** Public ids from the last answer, for the `ready` command. */
export let ids: IngestResponse['ids'] | undefined;

/** Tokens are `s.<id>.<mac>` and `l.<id>.<expiry>.<mac>`. */
const sessionIdOf = (token: string) => token.split('.')[1];

/** Removes the `_fb` parameter from a query string and leaves every other byte as it was. */
export const withoutToken = (search: string): string => search.replace(/[?&]_fb=[^&]*/, '').replace(/^&/, '?');

export const startSession = (): void => {
  const { search, href } = location;
  const carried = new URLSearchParams(search).get(PARAM);
  [session = '', link = '', linkExpires = 0] = readSession().split('~') as [string?, string?, number?];
  if (carried) {
    // Out of the address bar at once, so that it is not bookmarked, shared or sent as a referrer.
    history.replaceState(history.state, '', href.replace(search, withoutToken(search)));
    if (sessionIdOf(carried) != sessionIdOf(session)) arriving = carried;
  }
};

/** How a request names its session: by the arriving link, else by the stored session, else not (a new session). */
export const credentials = (): { link?: string; session?: string } =>
  arriving ? { link: arriving } : session ? { session } : {};

/** Keeps what the collector answered on this domain, and decorates links with the new token. */
export const remember = (answer: IngestResponse): void => {
  ({ session, link, linkExpires, ids } = answer);
  arriving = '';
  writeSession([session, link, linkExpires].join('~'));
  decorate();
};

/** The collector does not know our session (forged, or purged since): the next request starts a new one. */
export const forget = (): void => {
  session = '';
  writeSession('');
};

/** Milliseconds until the link token wants refreshing: two minutes before it expires. */
export const linkTtl = (): number => linkExpires - Date.now() - 12e4;

/** Whether there is a link token to hand out (none while the arriving session is not confirmed). */
export const linkUsable = (): boolean => !!link && !arriving;

/** A URL on one of the funnel's other domains or their subdomains, not on this host. */
const isFunnelDomain = (href: string): boolean => {
  try {
    const host = new URL(href, document.baseURI).hostname;
    return host != location.hostname && domains.some((domain) => ('.' + host).endsWith('.' + domain));
  } catch {
    return false;
  }
};

/** `href` with the current link token in its query (replacing an older one), the rest untouched. */
export const withLink = (href: string): string => {
  const url = new URL(href, document.baseURI);
  const search = withoutToken(url.search);
  url.search = `${search}${search ? '&' : '?'}${PARAM}=${link}`;
  return url.href;
};

/**
 * Puts the link token on every link and form leading to another funnel domain. A GET form
 * replaces the query of its action with its fields, so it gets a hidden input instead.
 */
export const decorate = (): void => {
  if (!linkUsable()) return;
  for (const anchor of document.links) if (isFunnelDomain(anchor.href)) anchor.href = withLink(anchor.href);
  for (const form of document.forms) {
    // getAttribute, not form.action: an input named "action" shadows the property.
    const action = form.getAttribute('action');
    if (action && isFunnelDomain(action)) {
      if (/post/i.test(form.getAttribute('method')!)) {
        form.setAttribute('action', withLink(action));
      } else {
        const input = form.querySelector<HTMLInputElement>(`[name=${PARAM}]`) || form.appendChild(document.createElement('input'));
        input.type = 'hidden';
        input.name = PARAM;
        input.value = link;
      }
    }
  }
};
