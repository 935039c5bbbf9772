/**
 * @module storage
 * First-party storage of this domain: the session in a cookie with localStorage as a fallback
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

/** The session token kept on this domain, or ''. */
export const readSession = (): string => (document.cookie.match(/funnelbeacon=([^;]+)/) || [])[1] || local(NAME) || '';

/**
 * Keeps the session token on this domain ('' forgets it). The cookie lasts as long as the
 * browser session; localStorage keeps it beyond, for a buyer who comes back days later. Only
 * this script reads the cookie (no server needs it, and the same token sits in localStorage),
 * so neither SameSite nor Secure would protect anything: the browser defaults are kept.
 */
export const writeSession = (value: string): void => {
  document.cookie = `${NAME}=${value};path=/`;
  local(NAME, value);
};
