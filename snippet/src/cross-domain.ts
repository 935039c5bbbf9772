/**
 * @module cross-domain
 * Carrying the session to the funnel's other domains, a file of its own (`d.js`, an ES module)
 * that the snippet imports only when the page names other domains (`data-domains`): links and
 * form actions that point to one of them (or their subdomains) get the signed link token in the
 * URL fragment, `#_fb=<token>` (or `&_fb=<token>` after a fragment the URL already has). A
 * fragment never reaches a server: not the next domain's access log, not a proxy's, not a
 * `Referer`. (A script that reads the page's URL before the snippet has taken the token out of
 * the address bar still can: the token is short-lived and spent by its first use.)
 */

/** The funnel's domains as `data-domains` names them (separated by commas or spaces, any case): lower case. */
const parse = (domains: string): string[] => domains.toLowerCase().match(/[^\s,]+/g) || [];

/**
 * `href` with the link token in its fragment (replacing an older one) when it leads to one of
 * `domains` (`data-domains` as written), or to this page's host on another scheme or port (the
 * session is kept per origin); `undefined` for any other URL, for a link within this origin, and
 * for every URL when `data-domains` names no domain at all (`" "`: the funnel has one domain).
 */
export const withLink = (href: string, link: string | undefined, domains: string): string | undefined => {
  // No token yet (the collector has not answered): nothing to carry.
  if (!link) return;
  try {
    const target = new URL(href, document.baseURI);
    const host = target.hostname;
    const names = parse(domains);
    if (names[0] && target.origin != location.origin && (host == location.hostname || names.some((name) => ('.' + host).endsWith('.' + name)))) {
      const rest = target.hash.slice(1).replace(/^_fb=[^&]*&?|&_fb=[^&]*/, '');
      target.hash = (rest ? rest + '&' : '') + '_fb=' + link;
      return target.href;
    }
  } catch {
    // Not a URL (a broken href): leave it alone.
  }
};

/**
 * Puts the link token on every link and form action leading to another funnel domain. A form
 * keeps its action's fragment whether it posts or gets (a GET form replaces only the query).
 */
export const decorate = (link: string | undefined, domains: string): void => {
  for (const anchor of document.links) {
    const href = withLink(anchor.href, link, domains);
    if (href) anchor.href = href;
  }
  for (const form of document.forms) {
    // getAttribute, not form.action: an input named "action" shadows the property. No action
    // means this page's URL, never another domain.
    const action = withLink(form.getAttribute('action') || '', link, domains);
    if (action) form.setAttribute('action', action);
  }
};
