/**
 * @module tokens
 * Signed tokens the browser carries. The session token names a session for as long as the
 * funnel lasts; the link token carries it to another domain and expires within minutes, so a
 * shared or bookmarked URL cannot merge a stranger into someone else's session.
 *
 * Format: `<kind>.<sessionId>[.<expiresMs>].<hmac>` with an HMAC-SHA256 over everything before the
 * last dot, truncated to 128 bits and base64url-encoded.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const LINK_TOKEN_TTL_MS = 10 * 60_000;

const SESSION_ID = /^[A-Za-z0-9_-]{22}$/;

/** A new random session id: 128 bits, base64url. */
export function newSessionId(): string {
  return randomBytes(16).toString('base64url');
}

function mac(secret: string, body: string): string {
  return createHmac('sha256', secret).update(body).digest().subarray(0, 16).toString('base64url');
}

function verifyMac(secret: string, body: string, given: string): boolean {
  const expected = Buffer.from(mac(secret, body));
  const actual = Buffer.from(given);
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

export function signSession(secret: string, sessionId: string): string {
  const body = `s.${sessionId}`;
  return `${body}.${mac(secret, body)}`;
}

/** The session id inside a session token, or `undefined` when the token is malformed or forged. */
export function verifySession(secret: string, token: string): string | undefined {
  const parts = token.split('.');
  if (parts.length !== 3 || parts[0] !== 's' || !SESSION_ID.test(parts[1]!)) return undefined;
  return verifyMac(secret, `s.${parts[1]}`, parts[2]!) ? parts[1] : undefined;
}

export function signLink(secret: string, sessionId: string, expiresAt: number): string {
  const body = `l.${sessionId}.${expiresAt.toString(36)}`;
  return `${body}.${mac(secret, body)}`;
}

export type LinkCheck = { ok: true; sessionId: string } | { ok: false; reason: 'malformed' | 'forged' | 'expired' };

export function verifyLink(secret: string, token: string, now: number): LinkCheck {
  const parts = token.split('.');
  if (parts.length !== 4 || parts[0] !== 'l' || !SESSION_ID.test(parts[1]!) || !/^[0-9a-z]{1,12}$/.test(parts[2]!)) {
    return { ok: false, reason: 'malformed' };
  }
  if (!verifyMac(secret, `l.${parts[1]}.${parts[2]}`, parts[3]!)) return { ok: false, reason: 'forged' };
  if (parseInt(parts[2]!, 36) < now) return { ok: false, reason: 'expired' };
  return { ok: true, sessionId: parts[1]! };
}
