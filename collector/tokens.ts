/**
 * @module tokens
 * Signed tokens the browser carries. The session token names a session until it expires
 * (`SESSION_TTL`, renewed while the buyer comes back); the link token carries it to another domain,
 * expires within minutes and is spent by its first use, so a shared or bookmarked URL cannot merge
 * a stranger into someone else's session.
 *
 * Format: `<kind>.<sessionId>.<expiry>[.<nonce>].<hmac>`: the expiry in base-36 milliseconds, a
 * nonce on the single-use kinds, and an HMAC-SHA256 over everything before the last dot, truncated
 * to 128 bits and base64url-encoded. Kinds: `s` session, `l` link, `p` link of a recovery landing
 * (a link token that also says "this buyer came back through a recovery link"), `r` recovery (the
 * path of a CART's `orderUrl`). The kind is under the MAC, so no token can be turned into another
 * kind.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const LINK_TOKEN_TTL_MS = 10 * 60_000;
/**
 * A recovery landing's token lives only as long as a page takes to load after the redirect: it
 * is minted by `GET /r/<token>` and spent by the page's first request.
 */
export const RECOVERY_LINK_TOKEN_TTL_MS = 5 * 60_000;

const SESSION_ID = /^[A-Za-z0-9_-]{22}$/;

/** Random bytes drawn 4 KiB at a time: one call into OpenSSL per 341 ids or nonces instead of per one. */
const POOL_BYTES = 4096;
/** 90 random bits per id: 12 bytes drawn, 15 base64url characters kept. */
const RANDOM_BYTES = 12;
const RANDOM_CHARS = 15;
let pool = Buffer.alloc(0);
let taken = POOL_BYTES;

/**
 * `count` bytes from the CSPRNG pool, as base64url. The pool is refilled with fresh bytes (never
 * reused) when it runs out; each byte is handed out once. A `randomBytes(12)` of its own cost
 * about 8 µs (more under load) against well under 1 µs from the pool.
 */
function poolBase64url(count: number): string {
  if (taken + count > POOL_BYTES) {
    pool = randomBytes(POOL_BYTES);
    taken = 0;
  }
  const text = pool.toString('base64url', taken, taken + count);
  taken += count;
  return text;
}

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
  let time = '';
  let rest = Math.max(0, Math.floor(mintedAt));
  for (let index = 0; index < TIME_CHARS; index++) {
    time = ORDERED_DIGITS[rest % 64]! + time;
    rest = Math.floor(rest / 64);
  }
  return time + poolBase64url(RANDOM_BYTES).slice(0, RANDOM_CHARS);
}

function mac(secret: string, body: string): string {
  return createHmac('sha256', secret).update(body).digest().subarray(0, 16).toString('base64url');
}

function verifyMac(secret: string, body: string, given: string): boolean {
  const expected = Buffer.from(mac(secret, body));
  const actual = Buffer.from(given);
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

/**
 * 96 random bits naming one link token, so that it can be spent once (see `StoreTx.spendToken`).
 * Every answer to the snippet carries a fresh link token: drawn from the pool, as session ids are
 * (a `randomBytes` call of its own was 4% of the collector's CPU per request).
 */
function newNonce(): string {
  return poolBase64url(12);
}

type TokenKind = 's' | 'l' | 'p' | 'r';

/**
 * `<kind>.<sessionId>.<expiry>[.<nonce>].<mac>`: single-use kinds (`l`, `p`) carry a nonce. The
 * session id is always the second part, which the snippet reads to tell whether an arriving link
 * names the session it already holds.
 */
function sign(kind: TokenKind, secret: string, sessionId: string, expiresAt: number, nonce?: string): string {
  const expiry = Math.floor(expiresAt).toString(36);
  const body = nonce === undefined ? `${kind}.${sessionId}.${expiry}` : `${kind}.${sessionId}.${expiry}.${nonce}`;
  return `${body}.${mac(secret, body)}`;
}

export type TokenRefusal = { ok: false; reason: 'malformed' | 'forged' | 'expired' };
type Verified = { ok: true; kind: TokenKind; sessionId: string; expiresAt: number; nonce: string | undefined };

const SINGLE_USE: readonly TokenKind[] = ['l', 'p'];

function verify(kinds: readonly TokenKind[], secret: string, token: string, now: number): Verified | TokenRefusal {
  const parts = token.split('.');
  const kind = parts[0] as TokenKind;
  if (!kinds.includes(kind) || parts.length !== (SINGLE_USE.includes(kind) ? 5 : 4)) return { ok: false, reason: 'malformed' };
  const [, sessionId, expiry] = parts as [string, string, string];
  const nonce = parts.length === 5 ? parts[3]! : undefined;
  if (!SESSION_ID.test(sessionId) || !/^[0-9a-z]{1,12}$/.test(expiry) || (nonce !== undefined && !/^[A-Za-z0-9_-]{16}$/.test(nonce))) {
    return { ok: false, reason: 'malformed' };
  }
  if (!verifyMac(secret, parts.slice(0, -1).join('.'), parts.at(-1)!)) return { ok: false, reason: 'forged' };
  const expiresAt = parseInt(expiry, 36);
  if (expiresAt < now) return { ok: false, reason: 'expired' };
  return { ok: true, kind, sessionId, expiresAt, nonce };
}

/**
 * The session token the snippet keeps on each domain. It expires (`SESSION_TTL`): a token copied
 * from a browser or a log stops working, and a buyer who keeps coming back is handed a renewed one
 * (see {@link sessionTokenFor}).
 */
export function signSession(secret: string, sessionId: string, expiresAt: number): string {
  return sign('s', secret, sessionId, expiresAt);
}

export type SessionCheck = { ok: true; sessionId: string; expiresAt: number } | TokenRefusal;

export function verifySession(secret: string, token: string, now: number): SessionCheck {
  const check = verify(['s'], secret, token, now);
  return check.ok ? { ok: true, sessionId: check.sessionId, expiresAt: check.expiresAt } : check;
}

/** Session tokens a {@link sessionVerifier} remembers as verified. */
export const VERIFIED_SESSIONS_KEPT = 5_000;

/**
 * {@link verifySession} for one secret, remembering the tokens it has verified. A returning
 * visitor sends the same session token with every request, and its HMAC cost about 10 µs of the
 * collector's CPU under load (a twentieth of a lead update). A token found here is the exact
 * string that verified before under the same secret, so its MAC would verify again; its expiry is
 * still checked on every use. Only verified tokens are kept (a forged one is checked every time
 * and never fills the map), at most `kept` of them, the oldest forgotten first.
 */
export function sessionVerifier(secret: string, kept = VERIFIED_SESSIONS_KEPT): (token: string, now: number) => SessionCheck {
  const verified = new Map<string, { sessionId: string; expiresAt: number }>();
  return (token, now) => {
    const known = verified.get(token);
    if (known !== undefined) return known.expiresAt < now ? { ok: false, reason: 'expired' } : { ok: true, sessionId: known.sessionId, expiresAt: known.expiresAt };
    const check = verifySession(secret, token, now);
    if (check.ok) {
      if (verified.size >= kept) verified.delete(verified.keys().next().value as string);
      verified.set(token, { sessionId: check.sessionId, expiresAt: check.expiresAt });
    }
    return check;
  };
}

/**
 * The session token to answer with: the one the request came with while it has most of its
 * lifetime left (answered as it came, one HMAC fewer per returning visitor), else a new one that
 * runs `ttlMs` from now. Renewed at most once a day of a token's life, so every token that works
 * was made within its lifetime of the request.
 */
export function sessionTokenFor(
  secret: string,
  sessionId: string,
  given: { token: string; sessionId: string; expiresAt: number } | undefined,
  now: number,
  ttlMs: number,
): string {
  if (given && given.sessionId === sessionId && given.expiresAt - now > ttlMs - RENEW_AFTER_MS) return given.token;
  return signSession(secret, sessionId, now + ttlMs);
}

const RENEW_AFTER_MS = 24 * 60 * 60_000;

/**
 * A link token: carries the session to another funnel domain. Single-use (its nonce is spent by
 * the request that adopts it) and short-lived.
 */
export function signLink(secret: string, sessionId: string, expiresAt: number): string {
  return sign('l', secret, sessionId, expiresAt, newNonce());
}

/**
 * The link token a recovery redirect puts in the landing URL's fragment (`#_fb=`). Single-use: its
 * first use gives the browser a new session linked to the abandoned one (never the abandoned
 * session's own token), records the buyer's return and, once per cart, the fields to prefill.
 */
export function signRecoveryLink(secret: string, sessionId: string, expiresAt: number): string {
  return sign('p', secret, sessionId, expiresAt, newNonce());
}

export type LinkCheck =
  | { ok: true; sessionId: string; recovery?: true; nonce: string; expiresAt: number }
  | TokenRefusal;

/** A link token (`l`) or a recovery landing's link token (`p`, then `recovery: true`). */
export function verifyLink(secret: string, token: string, now: number): LinkCheck {
  const check = verify(['l', 'p'], secret, token, now);
  if (!check.ok) return check;
  const common = { ok: true as const, sessionId: check.sessionId, nonce: check.nonce!, expiresAt: check.expiresAt };
  return check.kind === 'p' ? { ...common, recovery: true } : common;
}

/**
 * The recovery token in a CART's `orderUrl` (`PUBLIC_URL/r/<token>`): names the session, expires
 * after `RECOVERY_LINK_TTL`, holds nothing else. Only the collector can make one.
 */
export function signRecovery(secret: string, sessionId: string, expiresAt: number): string {
  return sign('r', secret, sessionId, expiresAt);
}

export type RecoveryCheck = { ok: true; sessionId: string } | TokenRefusal;

export function verifyRecovery(secret: string, token: string, now: number): RecoveryCheck {
  const check = verify(['r'], secret, token, now);
  return check.ok ? { ok: true, sessionId: check.sessionId } : check;
}
