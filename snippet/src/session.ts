/**
 * @module session
 * The session across pages and domains. On one domain the session token is kept in first-party
 * storage. To reach the next domain, links and form actions that point to `data-domains` carry
 * a signed link token in the `_fb` query parameter; it expires within minutes, so that a shared
 * URL cannot merge a stranger into the session. The page on the next domain sends the link
 * token instead of a session, and keeps the session the collector answers with.
 */
import type { IngestResponse } from '../../collector/wire-schema.js';
import { domains, param } from './config.js';
import { readSession, writeSession } from './storage.js';

const PARAM = '_fb';

/** This domain's session token; empty until the collector first answers. */
export let session = '';
/** The link token of the last answer (none before it), and when the collector stops taking it. */
export let link = '';
export let linkExpires = 0;
/** A link token from the address bar that names a session this domain does not hold yet. */
let arriving: string | null = '';
/** Public ids from the last answer, for the `ready` command. */
export let ids: IngestResponse['ids'] | undefined;

/** Tokens are `s.<id>.<mac>` and `l.<id>.<expiry>.<mac>`. */
const sessionIdOf = (token: string) => token.split('.')[1];

/** Removes the `_fb` parameter from a query string and leaves every other byte as it was. */
export const withoutToken = (search: string): string => search.replace(/[?&]_fb=[^&]*/, '').replace(/^&/, '?');

export const startSession = (): void => {
  const { search, href } = location;
  session = readSession();
  arriving = param(PARAM);
  if (arriving) {
    // Out of the address bar at once, so that it is not bookmarked, shared or sent as a referrer.
    history.replaceState(history.state, '', href.replace(search, withoutToken(search)));
    // The same session as ours (a link back to a domain already visited): nothing to adopt.
    if (sessionIdOf(arriving) == sessionIdOf(session)) arriving = '';
  }
};

/** How a request names its session: by the arriving link, else by the stored session, else not (a new session). */
export const credentials = (): { link?: string; session?: string } =>
  arriving ? { link: arriving } : session ? { session } : {};

/** Keeps what the collector answered, and puts the new link token on the links. */
export const remember = (answer: IngestResponse): void => {
  ({ session, link, linkExpires, ids } = answer);
  arriving = '';
  writeSession(session);
  decorate();
};

/** The collector does not know our session (forged, or purged since): the next request starts a new one. */
export const forget = (): void => writeSession((session = ''));

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
 * Puts the link token on every link and form leading to another funnel domain. A form gets it
 * twice: in its action, which a POST keeps, and in a hidden input, because a GET replaces the
 * query of its action with the form's fields.
 */
export const decorate = (): void => {
  if (!link) return;
  for (const anchor of document.links) if (isFunnelDomain(anchor.href)) anchor.href = withLink(anchor.href);
  for (const form of document.forms) {
    // getAttribute, not form.action: an input named "action" shadows the property.
    const action = form.getAttribute('action');
    if (action && isFunnelDomain(action)) {
      form.setAttribute('action', withLink(action));
      const input = form.querySelector<HTMLInputElement>(`[name=${PARAM}]`) || form.appendChild(document.createElement('input'));
      input.type = 'hidden';
      input.name = PARAM;
      input.value = link;
    }
  }
};
