/**
 * @module cross-domain
 * Carrying the session to the funnel's other domains, a file of its own (`d.js`, an ES module)
 * that the snippet imports only when the page names other domains (`data-domains`): links and
 * form actions that point to one of them (or their subdomains) get the signed link token in the
 * `_fb` query parameter.
 */

/**
 * `href` with the link token in its query (replacing an older one) when it leads to one of
 * `domains` (not this page's host); `undefined` for any other URL.
 */
export const withLink = (href: string, link: string, domains: string[]): string | undefined => {
  try {
    const target = new URL(href, document.baseURI);
    const host = target.hostname;
    if (host != location.hostname && domains.some((domain) => ('.' + host).endsWith('.' + domain))) {
      target.searchParams.set('_fb', link);
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
export const decorate = (link: string, domains: string[]): void => {
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
