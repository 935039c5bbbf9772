/**
 * @module session
 * The session across pages and domains. On one domain the session token is kept in first-party
 * storage. To reach the next domain, links and form actions that point to `data-domains` carry
 * a signed link token in the `_fb` query parameter; it expires within minutes, so a shared URL
 * cannot merge a stranger into the session. The page on the next domain sends the link token
 * instead of a session, and the collector answers with the session to keep there.
 */
import type { IngestResponse } from '../../collector/wire-schema.js';
import { domains } from './config.js';
import { readSession, writeSession } from './storage.js';

const PARAM = '_fb';

/** This domain's session token; empty until the collector first answers. */
export let session = '';
/** The current link token and when the collector stops accepting it (ms since the epoch). */
let link = '';
let linkExpires = 0;
/** A link token from the address bar naming a session this domain does not hold yet. */
export let arriving = '';
/** Public ids from the last answer, for the `ready` command. */
export let ids: IngestResponse['ids'] | undefined;

const sessionIdOf = (token: string) => token.split('.')[1];

/** Removes the `_fb` parameter from a query string, leaving every other byte as it was. */
export function withoutToken(search: string): string {
  return search.replace(/([?&])_fb=[^&]*(&|$)/, (_, before: string, after: string) => (after ? before : ''));
}

export function startSession(): void {
  const [token = '', linkToken = '', expires] = readSession().split('~');
  session = token;
  link = linkToken;
  linkExpires = +expires! || 0;
  const { search, href } = location;
  const carried = new URLSearchParams(search).get(PARAM);
  if (carried) {
    // Out of the address bar at once, so that it is not bookmarked, shared or sent as a referrer.
    history.replaceState(history.state, '', href.replace(search, withoutToken(search)));
    if (sessionIdOf(carried) != sessionIdOf(session)) arriving = carried;
  }
}

/** What a request names itself by: the arriving link, else the stored session, else nothing (a new session). */
export function credentials(): { link?: string; session?: string } {
  return arriving ? { link: arriving } : session ? { session } : {};
}

/** Keeps what the collector answered, on this domain, and re-decorates links with the new token. */
export function remember(answer: IngestResponse): void {
  ({ session, link, linkExpires, ids } = answer);
  arriving = '';
  writeSession([session, link, linkExpires].join('~'));
  decorate();
}

/** The collector does not know our session (forged, or purged): start a new one. */
export function forget(): void {
  session = '';
  writeSession('');
}

/** Milliseconds until the link token should be refreshed: two minutes before it expires. */
export function linkTtl(): number {
  return linkExpires - Date.now() - 12e4;
}

/** Whether we can hand out a link token now. */
export function linkUsable(): boolean {
  return !!link && !arriving;
}

function hostOf(href: string): string {
  try {
    return new URL(href, document.baseURI).hostname;
  } catch {
    return '';
  }
}

/** A URL on one of the funnel's other domains (or a subdomain of one), not on this host. */
function isFunnelDomain(href: string): boolean {
  const host = hostOf(href);
  return host != location.hostname && domains.some((domain) => ('.' + host).endsWith('.' + domain));
}

/** `href` with the current link token in its query (replacing an older one), the rest untouched. */
export function withLink(href: string): string {
  const url = new URL(href, document.baseURI);
  const search = withoutToken(url.search);
  url.search = `${search}${search ? '&' : '?'}${PARAM}=${link}`;
  return url.href;
}

/**
 * Puts the link token on every link and form that leads to another funnel domain. A GET form
 * replaces the action's query with its fields, so it gets a hidden input instead.
 */
export function decorate(): void {
  if (!linkUsable()) return;
  for (const anchor of document.links) if (isFunnelDomain(anchor.href)) anchor.href = withLink(anchor.href);
  for (const form of document.forms) {
    // getAttribute, not form.action: an input named "action" shadows the property.
    const action = form.getAttribute('action');
    if (action == null || !isFunnelDomain(action)) continue;
    if (/post/i.test(form.getAttribute('method') || '')) {
      form.setAttribute('action', withLink(action));
    } else {
      let input = form.querySelector<HTMLInputElement>(`input[name=${PARAM}]`);
      if (!input) {
        input = document.createElement('input');
        input.type = 'hidden';
        input.name = PARAM;
        form.appendChild(input);
      }
      input.value = link;
    }
  }
}
