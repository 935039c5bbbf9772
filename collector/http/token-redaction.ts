/**
 * @module token-redaction
 * What of a request may reach the log when something fails: never a token. A recovery link's path
 * (`/r/<token>`) is a 7-day key to a buyer's checkout, and session, link and prefill tokens
 * (`s.`, `l.`, `r.`, `p.` followed by the session id and a MAC) open a buyer's session; an error
 * message can quote any of them (a `Location` that a header could not hold, a URL with `_fb=`).
 * The log keeps the shape (`/r/[token]`, `_fb=[token]`) so that it still says what failed.
 * The postback path's last part (`/v1/konnektive/postback/<secret>`) is LIFECYCLE_POSTBACK_SECRET,
 * kept out the same way (`/v1/konnektive/postback/[secret]`).
 */

/** `/r/` and whatever follows it up to a quote, space, query or fragment. */
const RECOVERY_PATH = /\/r\/[^\s"'<>?#]+/g;
/** The `_fb` parameter of a landing URL, in a query or a fragment. */
const LINK_PARAMETER = /([?&#]_fb=)[^&#\s"'<>]+/g;
/** A token: its kind, a dot, then dot-separated base64url parts (a session id, an expiry, a MAC). */
const TOKEN = /\b[slrp]\.[A-Za-z0-9_-]{6,}\.[A-Za-z0-9._-]+/g;
/** The postback path and whatever follows it up to a quote, space, query or fragment. */
const POSTBACK_PATH = /\/v1\/konnektive\/postback\/[^\s"'<>?#]+/gi;

export function redactTokens(text: string): string {
  return text.replace(POSTBACK_PATH, '/v1/konnektive/postback/[secret]').replace(RECOVERY_PATH, '/r/[token]').replace(LINK_PARAMETER, '$1[token]').replace(TOKEN, '[token]');
}
