/**
 * @module storage
 * First-party storage of this domain: the session in a cookie with localStorage as a fallback
 * (either may be blocked), and the queue of unacknowledged events in localStorage.
 */

const NAME = 'funnelbeacon';
/** A week: a funnel session lasts minutes or hours, but a buyer may come back days later. */
const MAX_AGE = 604800;

/**
 * Reads (one argument) or writes a localStorage item. Access throws where storage is disabled
 * and in some sandboxed frames, so every use goes through here.
 */
export const local = (key: string, value?: string): string | null | undefined => {
  try {
    if (value == null) return localStorage.getItem(key);
    localStorage.setItem(key, value);
  } catch {
    // No storage: the session lives as long as the page, and events go now or never.
  }
};

export const readSession = (): string =>
  (document.cookie.match(/funnelbeacon=([^;]+)/) || [])[1] || local(NAME) || '';

/** Keeps the session record on this domain; an empty value forgets it. */
export const writeSession = (value: string): void => {
  try {
    document.cookie = `${NAME}=${value};path=/;max-age=${value ? MAX_AGE : 0};samesite=lax${location.protocol == 'https:' ? ';secure' : ''}`;
  } catch {
    // Cookies are blocked in this frame: localStorage still holds it.
  }
  local(NAME, value);
};
