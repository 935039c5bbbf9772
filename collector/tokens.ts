/**
 * @module tokens
 * Signed tokens the browser carries. The session token names a session for as long as the
 * funnel lasts; the link token carries it to another domain and expires within minutes, so a
 * shared or bookmarked URL cannot merge a stranger into someone else's session.
 *
 * Format: `<kind>.<sessionId>[.<expiresMs>].<hmac>` with an HMAC-SHA256 over everything before the
 * last dot, truncated to 128 bits and base64url-encoded. Kinds: `s` session, `l` link, `p` link of a
 * recovery landing (a link token that also says "this buyer came back through a recovery link"),
 * `r` recovery (the path of a CART's `orderUrl`). The kind is under the MAC, so no token can be
 * turned into another kind.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const LINK_TOKEN_TTL_MS = 10 * 60_000;

const SESSION_ID = /^[A-Za-z0-9_-]{22}$/;

/** Random bytes drawn 4 KiB at a time: one call into OpenSSL per 341 ids instead of per id. */
const POOL_BYTES = 4096;
/** 90 random bits per id: 12 bytes drawn, 15 base64url characters kept. */
const RANDOM_BYTES = 12;
const RANDOM_CHARS = 15;
let pool = Buffer.alloc(0);
let taken = POOL_BYTES;

/**
 * The base64url characters in byte order (`-`, digits, capitals, `_`, small letters), so that a
 * number written with them sorts as text the way it sorts as a number.
 */
const ORDERED_DIGITS = '-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz';
/**
 * 64^7 milliseconds is 139 years: the time keeps its order until 2109 (then wraps, costing only
 * locality). An eighth character would be `-` for every id until then.
 */
const TIME_CHARS = 7;

/**
 * A new session id, 22 base64url characters: the time it was minted (milliseconds, 7 characters
 * that sort in time order), then 90 bits from the CSPRNG.
 *
 * Why the time first: every table the store keys by session (sessions, their events, clicks,
 * states, jobs, dashboard sources) has an index on the id. Wholly random ids put each new
 * session on a different page of each of those indexes, so a commit of 50 new visitors dirtied
 * hundreds of pages, all written to the WAL and again at the checkpoint; ids minted together now
 * share pages (18-30% more new visitors per second in `bench/ingest`, docs/BENCHMARKS.md). The id
 * was never the secret: tokens carry it under an HMAC, and 90 random bits still make ids minted
 * in the same millisecond distinct. What the id gives away is when its session began.
 *
 * The random bytes come from a pool that is refilled (with fresh bytes, never reused) when it
 * runs out; drawing them one id at a time was 4% of the collector's CPU under load.
 */
export function newSessionId(mintedAt: number): string {
  if (taken + RANDOM_BYTES > POOL_BYTES) {
    pool = randomBytes(POOL_BYTES);
    taken = 0;
  }
  let time = '';
  let rest = Math.max(0, Math.floor(mintedAt));
  for (let index = 0; index < TIME_CHARS; index++) {
    time = ORDERED_DIGITS[rest % 64]! + time;
    rest = Math.floor(rest / 64);
  }
  const random = pool.toString('base64url', taken, taken + RANDOM_BYTES).slice(0, RANDOM_CHARS);
  taken += RANDOM_BYTES;
  return time + random;
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

type ExpiringKind = 'l' | 'p' | 'r';

/**
 * `<kind>.<sessionId>.<expiry>.<mac>`; the recovery landing's link token (`p`) puts the expiry
 * first (`p.<expiry>.<sessionId>.<mac>`), so that the snippet, which skips a link token naming the
 * session it already holds, always sends this one (it brings the fields to prefill).
 */
function signExpiring(kind: ExpiringKind, secret: string, sessionId: string, expiresAt: number): string {
  const expiry = Math.floor(expiresAt).toString(36);
  const body = kind === 'p' ? `p.${expiry}.${sessionId}` : `${kind}.${sessionId}.${expiry}`;
  return `${body}.${mac(secret, body)}`;
}

type ExpiringCheck = { ok: true; sessionId: string; kind: ExpiringKind } | { ok: false; reason: 'malformed' | 'forged' | 'expired' };

function verifyExpiring(kinds: readonly ExpiringKind[], secret: string, token: string, now: number): ExpiringCheck {
  const parts = token.split('.');
  const kind = parts[0] as ExpiringKind;
  if (parts.length !== 4 || !kinds.includes(kind)) return { ok: false, reason: 'malformed' };
  const [sessionId, expiry] = kind === 'p' ? [parts[2]!, parts[1]!] : [parts[1]!, parts[2]!];
  if (!SESSION_ID.test(sessionId) || !/^[0-9a-z]{1,12}$/.test(expiry)) return { ok: false, reason: 'malformed' };
  if (!verifyMac(secret, `${parts[0]}.${parts[1]}.${parts[2]}`, parts[3]!)) return { ok: false, reason: 'forged' };
  if (parseInt(expiry, 36) < now) return { ok: false, reason: 'expired' };
  return { ok: true, sessionId, kind };
}

export function signLink(secret: string, sessionId: string, expiresAt: number): string {
  return signExpiring('l', secret, sessionId, expiresAt);
}

/**
 * The link token a recovery redirect puts in `_fb`: it adopts the session like any link token, and
 * also tells the collector that the buyer came back through a recovery link (the answer then
 * carries the fields to prefill, and the return is recorded).
 */
export function signRecoveryLink(secret: string, sessionId: string, expiresAt: number): string {
  return signExpiring('p', secret, sessionId, expiresAt);
}

export type LinkCheck =
  | { ok: true; sessionId: string; recovery?: true }
  | { ok: false; reason: 'malformed' | 'forged' | 'expired' };

/** A link token (`l`) or a recovery landing's link token (`p`, then `recovery: true`). */
export function verifyLink(secret: string, token: string, now: number): LinkCheck {
  const check = verifyExpiring(['l', 'p'], secret, token, now);
  if (!check.ok) return check;
  return check.kind === 'p' ? { ok: true, sessionId: check.sessionId, recovery: true } : { ok: true, sessionId: check.sessionId };
}

/**
 * The recovery token in a CART's `orderUrl` (`PUBLIC_URL/r/<token>`): names the session, expires
 * after `RECOVERY_LINK_TTL`, holds nothing else. Only the collector can make one.
 */
export function signRecovery(secret: string, sessionId: string, expiresAt: number): string {
  return signExpiring('r', secret, sessionId, expiresAt);
}

export type RecoveryCheck = { ok: true; sessionId: string } | { ok: false; reason: 'malformed' | 'forged' | 'expired' };

export function verifyRecovery(secret: string, token: string, now: number): RecoveryCheck {
  const check = verifyExpiring(['r'], secret, token, now);
  return check.ok ? { ok: true, sessionId: check.sessionId } : check;
}
