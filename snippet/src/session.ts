/**
 * @module session
 * The session across pages and domains. On one domain the session token is kept in first-party
 * storage. To reach the next domain, links and form actions that point to `data-domains` carry
 * a signed link token in the `_fb` query parameter; it expires within minutes, so that a shared
 * URL cannot merge a stranger into the session. The page on the next domain sends the link
 * token instead of a session, and keeps the session the collector answers with.
 */
import type { IngestResponse } from '../../collector/wire-schema.js';
import { domains, url } from './config.js';
import { readSession, writeSession } from './storage.js';
import { log } from './util.js';

const PARAM = '_fb';

/** This domain's session token; empty until the collector first answers. */
export let session = '';
/** The link token of the last answer (none before it), and when the collector stops taking it. */
export let link = '';
export let linkExpires = 0;
/** A link token from the address bar that names a session this domain does not hold yet. */
let arriving: string | null;
/** Public ids from the last answer, for the `ready` command. */
export let ids: IngestResponse['ids'] | undefined;

/** Tokens are `s.<id>.<mac>` and `l.<id>.<expiry>.<mac>`. */
const sessionIdOf = (token: string) => token.split('.')[1];

/**
 * Restores this domain's session and takes the link token out of the address bar at once, so
 * that it is not bookmarked, shared or sent as a referrer. Only a URL that carries one is
 * rewritten: a landing URL keeps its affiliate and UTM parameters byte for byte.
 */
export const startSession = (): void => {
  session = readSession();
  arriving = url.searchParams.get(PARAM);
  if (arriving) {
    url.searchParams.delete(PARAM);
    history.replaceState(history.state, '', url.href);
    // A link back to a domain that holds this session already: nothing to adopt. (A recovery
    // landing's token, `p.<expiry>.<id>.<mac>`, never matches here: it is always sent, for the
    // fields to prefill.)
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
  // Back through a recovery link: the answer carries the session's fields and the URL of the
  // prefill code, a second small file loaded only then (it honours `data-prefill="off"`). By
  // `import()`, which Trusted Types do not gate, where a script element's `src` would need a policy.
  if (answer.prefill) import(answer.prefill).then((code: { fill(ids: IngestResponse['ids']): void }) => code.fill(answer.ids)).catch(log);
};

/** The collector does not know our session (forged, or purged since): the next request starts a new one. */
export const forget = (): void => writeSession((session = ''));

/**
 * `href` with the current link token in its query (replacing an older one) when it leads to one
 * of the funnel's other domains or their subdomains; `undefined` for any other URL.
 */
export const withLink = (href: string): string | undefined => {
  try {
    const target = new URL(href, document.baseURI);
    const host = target.hostname;
    if (host != location.hostname && domains.some((domain) => ('.' + host).endsWith('.' + domain))) {
      target.searchParams.set(PARAM, link);
      return target.href;
    }
  } catch {
    // Not a URL (a broken href): leave it alone.
  }
};

/**
 * Puts the link token on every link and form action leading to another funnel domain. (A GET
 * form replaces the query of its action with its fields: forms that leave the domain POST.)
 */
export const decorate = (): void => {
  if (!link) return;
  for (const anchor of document.links) {
    const href = withLink(anchor.href);
    if (href) anchor.href = href;
  }
  for (const form of document.forms) {
    // getAttribute, not form.action: an input named "action" shadows the property. No action
    // means this page's URL, never another domain.
    const action = withLink(form.getAttribute('action') || '');
    if (action) form.setAttribute('action', action);
  }
};
