/**
 * @module storage
 * First-party storage of this domain: the session in a cookie with localStorage as a fallback
 * (either may be blocked), and the queue of unacknowledged events in localStorage.
 */

const NAME = 'funnelbeacon';
/** A week: a funnel session lasts minutes or hours; a buyer may come back days later. */
const MAX_AGE = 604800;

/**
 * Reads (one argument) or writes (an empty value removes) a localStorage item. Access throws
 * when storage is disabled or in some sandboxed iframes, so every use is wrapped.
 */
export function local(key: string, value?: string): string | null | undefined {
  try {
    if (value == null) return localStorage.getItem(key);
    if (value) localStorage.setItem(key, value);
    else localStorage.removeItem(key);
  } catch {
    // Storage is unavailable: the session lives as long as the page, events go now or never.
  }
}

export function readSession(): string {
  const cookie = document.cookie.match(/(?:^|;\s*)funnelbeacon=([^;]+)/);
  return (cookie ? cookie[1] : local(NAME)) || '';
}

/** Keeps the session record on this domain; an empty value forgets it. */
export function writeSession(value: string): void {
  try {
    document.cookie = `${NAME}=${value};path=/;max-age=${value ? MAX_AGE : 0};samesite=lax${location.protocol == 'https:' ? ';secure' : ''}`;
  } catch {
    // Cookies are blocked (sandboxed frame): localStorage below still holds it.
  }
  local(NAME, value);
}
