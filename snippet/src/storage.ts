/**
 * @module storage
 * First-party storage of this domain: the session in localStorage with a cookie as a fallback
 * (either may be blocked), and the queue of unacknowledged events in localStorage.
 */

const NAME = 'funnelbeacon';

/**
 * Reads (one argument) or writes a localStorage item. Access throws where storage is disabled
 * and in some sandboxed frames, so every use goes through here.
 */
export const local = (key: string, value?: string): string | null | void => {
  try {
    return value == null ? localStorage.getItem(key) : localStorage.setItem(key, value);
  } catch {
    // No storage: the session lives as long as the page, and events go now or never.
  }
};

/**
 * The session cookie. On https it is `__Host-funnelbeacon`, Secure: a browser takes a `__Host-`
 * cookie only from this very host, over https, with `Path=/` and no `Domain`, so a sibling
 * subdomain (or a plain-http page of this host) cannot plant one that this page would read. A
 * plain-http page (the sandbox on localhost) cannot write a Secure cookie, and keeps the plain name.
 */
const secure = location.protocol == 'https:';
const COOKIE = secure ? '__Host-funnelbeacon' : NAME;

/**
 * The session token kept on this domain, if any (none: null, undefined or ''). localStorage
 * first, and the cookie only where localStorage cannot be read (blocked storage, some sandboxed
 * frames): localStorage belongs to this origin alone, where a plain cookie can be set for the
 * whole parent domain by any sibling subdomain, and would otherwise put this visitor in a session
 * of its choosing. The cookie is found by its exact name, at the start or after the `; ` that
 * `document.cookie` puts between cookies (`notfunnelbeacon=` is another cookie; `match` takes
 * the string as a pattern).
 */
export const readSession = (): string | null | undefined => {
  try {
    return localStorage.getItem(NAME);
  } catch {
    return (document.cookie.match(`(^|; )${COOKIE}=([^;]*)`) || [])[2];
  }
};

/**
 * Keeps the session token on this domain ('' forgets it). The cookie lasts as long as the
 * browser session; localStorage keeps it beyond, for a buyer who comes back days later. Only
 * this script reads the cookie (no server needs it, and the same token sits in localStorage).
 */
export const writeSession = (value: string): void => {
  document.cookie = `${COOKIE}=${value};path=/${secure ? ';secure' : ''}`;
  local(NAME, value);
};
