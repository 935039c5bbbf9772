/**
 * @module ids
 * Event ids, made in the browser so that the collector recognises a resent event.
 */

/**
 * A random RFC 4122 version-4 UUID. `crypto.randomUUID` exists only in secure contexts
 * (https and localhost: https://developer.mozilla.org/en-US/docs/Web/API/Crypto/randomUUID) and
 * many landers still run on plain http, so fall back to `getRandomValues`, which works everywhere.
 */
export const uuid = (): string =>
  crypto.randomUUID
    ? crypto.randomUUID()
    : '10000000-1000-4000-8000-100000000000'.replace(/[018]/g, (c) =>
        (+c ^ (crypto.getRandomValues(new Uint8Array(1))[0]! & (15 >> (+c / 4)))).toString(16),
      );
