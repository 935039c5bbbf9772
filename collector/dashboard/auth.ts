/**
 * @module dashboard-auth
 * Who may use the dashboard, and how a change is proven intended.
 *
 * - Sandbox mode: open, to loopback clients only ({@link sandboxAccess}). Loopback is the TCP
 *   peer's address, never a forwarded header (TRUST_PROXY or not), and the Host must be a
 *   loopback name, so that a web page cannot reach the open dashboard by DNS rebinding.
 * - Otherwise `DASHBOARD_TOKEN` is required (without it the dashboard is closed). The API takes
 *   `Authorization: Bearer <token>`; the login form sets a session cookie (HttpOnly,
 *   SameSite=Strict, Secure behind HTTPS) holding a signed expiry, never the token itself.
 *   Tokens are compared in constant time. A presented token or cookie is checked first: only a
 *   request without a valid credential is ever held back, and only wrong tokens are counted, per
 *   address (an IPv6 /64) and from everyone together ({@link SignInLimiter}). Logout ends the
 *   cookie on the server too ({@link RevokedSessions}).
 * - Every change (POST) needs the bearer token, or the `X-CSRF-Token` that `GET /api/session`
 *   gives a cookie (or sandbox) session: a page on another site can neither read it nor set the
 *   header without a CORS preflight the collector never allows.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Context, MiddlewareHandler } from 'hono';
import { getCookie } from 'hono/cookie';
import { systemClock, type Clock } from '../clock.js';
import type { Config } from '../config.js';
import { clientIp, socketAddress } from '../http/client-ip.js';
import { fail } from '../http/errors.js';
import { RevokedSessions, type RevocationStore } from './revoked-sessions.js';
import { SignInLimiter, type SignInLimits } from './sign-in-limiter.js';

export const SESSION_COOKIE = 'fb_dashboard';
const SESSION_MS = 12 * 3_600_000;

export type DashboardAuth = { kind: 'sandbox' | 'bearer' } | { kind: 'cookie'; nonce: string; expiresAt: number };

export interface DashboardAuthOptions {
  config: Config;
  secret: string;
  clock?: Clock;
  /** Where logouts are kept (the store), so that every collector sharing it refuses an ended cookie. */
  revocations: RevocationStore;
  /** Wrong-token budgets; {@link DEFAULT_SIGN_IN_LIMITS} for what is not given. */
  limits?: Partial<SignInLimits>;
}

export function isLoopback(ip: string): boolean {
  return ip === '::1' || ip.startsWith('127.') || ip.startsWith('::ffff:127.');
}

/** Host names that always mean this machine; any port. */
const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/** `localhost:8787` -> `localhost`, `[::1]:8787` -> `[::1]`; undefined when not a host. */
function hostnameOf(host: string): string | undefined {
  try {
    return new URL(`http://${host}`).hostname.toLowerCase();
  } catch {
    return undefined;
  }
}

export interface SandboxRequest {
  /** The TCP peer's address (`undefined`: no socket, as in `app.request()`). */
  socketAddress: string | undefined;
  /** The Host header. */
  host: string | undefined;
  /** Every client address a proxy said it forwarded for (X-Forwarded-For, X-Real-IP, Forwarded). */
  forwardedFor: string[];
  /** PUBLIC_URL: its host is accepted too when it names this machine. */
  publicUrl: string;
}

/**
 * Whether the open sandbox dashboard answers this request: `ok`, `not_loopback` (the peer is
 * another machine, or a local proxy relays another machine) or `bad_host` (the page was reached
 * under a name that is not this machine's, as a DNS-rebinding page would be).
 */
export function sandboxAccess({ socketAddress, host, forwardedFor, publicUrl }: SandboxRequest): 'ok' | 'not_loopback' | 'bad_host' {
  if (socketAddress === undefined || !isLoopback(socketAddress)) return 'not_loopback';
  // A proxy on this machine relaying someone else: the peer is loopback, the client is not.
  if (forwardedFor.some((ip) => !isLoopback(ip.replace(/^\[|\]$/g, '')))) return 'not_loopback';
  const name = host === undefined ? undefined : hostnameOf(host);
  if (name === undefined) return 'bad_host';
  if (LOOPBACK_HOSTS.has(name)) return 'ok';
  const publicName = hostnameOf(new URL(publicUrl).host);
  const publicIsLoopback = publicName !== undefined && (LOOPBACK_HOSTS.has(publicName) || publicName.endsWith('.localhost') || /^127\.\d+\.\d+\.\d+$/.test(publicName));
  return publicIsLoopback && name === publicName ? 'ok' : 'bad_host';
}

/** The client addresses named by a request's forwarding headers (with ports and quotes removed). */
export function forwardedAddresses(header: (name: string) => string | undefined): string[] {
  const found: string[] = [];
  for (const part of (header('x-forwarded-for') ?? '').split(',')) if (part.trim()) found.push(part.trim());
  const real = header('x-real-ip')?.trim();
  if (real) found.push(real);
  for (const match of (header('forwarded') ?? '').matchAll(/for=("[^"]*"|[^;,\s]+)/gi)) {
    const value = match[1]!.replace(/"/g, '');
    // `for="[2001:db8::1]:4711"`, `for=192.0.2.60:80`, `for=unknown`, `for=_hidden`.
    found.push(value.startsWith('[') ? value.slice(0, value.indexOf(']') + 1) : value.replace(/:\d+$/, ''));
  }
  return found;
}

/** Equal strings, in time that does not depend on where they differ (digests have equal length). */
export function sameSecret(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

export function dashboardAuth({ config, secret, clock = systemClock, revocations, limits }: DashboardAuthOptions) {
  const token = config.dashboardToken;
  // Changing DASHBOARD_TOKEN or SECRET ends every cookie session.
  const key = createHmac('sha256', secret).update(`dashboard-session\u0000${token ?? 'sandbox'}`).digest();
  const sign = (text: string) => createHmac('sha256', key).update(text).digest('base64url');
  const limiter = new SignInLimiter(limits);
  const revoked = new RevokedSessions(revocations);

  /**
   * Refuses a request that holds no valid credential: 401, or 429 while its address (or everyone)
   * is past the wrong-token budget. A wrong token (not a request without any) is counted.
   */
  function refuse(c: Context, wrongToken: boolean): never {
    const ip = clientIp(c, config.trustProxy);
    const waitMs = wrongToken ? limiter.failed(ip, clock.now()) : limiter.waitMs(ip, clock.now());
    if (waitMs > 0) {
      fail(429, 'rate_limited', 'Too many failed sign-ins; try again later.', { 'retry-after': String(Math.max(1, Math.ceil(waitMs / 1000))) });
    }
    fail(401, 'unauthorized', 'The dashboard needs its token: sign in, or send Authorization: Bearer <DASHBOARD_TOKEN>.');
  }

  function newCookie(): string {
    const value = `${clock.now() + SESSION_MS}.${randomBytes(16).toString('base64url')}`;
    return `${value}.${sign(value)}`;
  }

  /** The request's cookie session when its signature holds and it has not expired (ended or not). */
  function signedCookie(c: Context): { kind: 'cookie'; nonce: string; expiresAt: number } | undefined {
    const cookie = getCookie(c, SESSION_COOKIE);
    const parts = cookie?.split('.');
    if (!parts || parts.length !== 3) return undefined;
    const [expires, nonce, signature] = parts as [string, string, string];
    if (!sameSecret(signature, sign(`${expires}.${nonce}`))) return undefined;
    const expiresAt = Number(expires);
    if (!(expiresAt > clock.now())) return undefined;
    return { kind: 'cookie', nonce, expiresAt };
  }

  /** The cookie session, unless it was ended by a logout (on this collector or another). */
  async function readCookie(c: Context): Promise<DashboardAuth | undefined> {
    const session = signedCookie(c);
    if (!session || (await revoked.isRevoked(session.nonce))) return undefined;
    return session;
  }

  /** Logout: the request's cookie session is ended for every collector sharing the store. */
  async function endCookieSession(c: Context): Promise<void> {
    const session = signedCookie(c);
    if (session) await revoked.revoke(session.nonce, session.expiresAt);
  }

  /** The CSRF token of a session: bound to the cookie's nonce (or, in sandbox mode, to the secret). */
  function csrfFor(auth: DashboardAuth): string {
    return sign(`csrf\u0000${auth.kind === 'cookie' ? auth.nonce : 'sandbox'}`);
  }

  /** Who is asking; throws 401/403/429/503 when nobody allowed. */
  async function identify(c: Context): Promise<DashboardAuth> {
    if (config.sandbox) {
      const access = sandboxAccess({
        socketAddress: socketAddress(c),
        host: c.req.header('host'),
        forwardedFor: forwardedAddresses((name) => c.req.header(name)),
        publicUrl: config.publicUrl,
      });
      if (access === 'not_loopback') fail(403, 'loopback_only', 'The sandbox dashboard is open to this machine only. Set DASHBOARD_TOKEN and credentials to use it remotely.');
      if (access === 'bad_host') fail(403, 'host_not_allowed', 'The sandbox dashboard answers only at localhost, 127.0.0.1 or [::1] (or a loopback PUBLIC_URL).');
      return { kind: 'sandbox' };
    }
    if (!token) fail(503, 'dashboard_disabled', 'The dashboard is closed: set DASHBOARD_TOKEN to open it.');
    // Valid credentials first: a locked-out address (or everyone past the budget) still gets in
    // with the token or a live cookie, so failing in the owner's name locks nobody out.
    const header = c.req.header('authorization');
    if (header !== undefined) {
      const match = /^Bearer\s+(.+)$/i.exec(header);
      if (match && sameSecret(match[1]!.trim(), token)) return { kind: 'bearer' };
      return refuse(c, true);
    }
    const fromCookie = await readCookie(c);
    if (fromCookie) return fromCookie;
    return refuse(c, false);
  }

  /** Middleware for the API: who asks, and for changes, the CSRF proof. */
  const guard: MiddlewareHandler = async function dashboardGuard(c, next) {
    const auth = await identify(c);
    if (c.req.method !== 'GET' && c.req.method !== 'HEAD' && auth.kind !== 'bearer') {
      const given = c.req.header('x-csrf-token') ?? '';
      if (!sameSecret(given, csrfFor(auth))) fail(403, 'csrf', 'This change lacks its X-CSRF-Token (reload the dashboard).');
    }
    c.set('dashboardAuth' as never, auth as never);
    await next();
  };

  /** Checks a token typed into the login form; a wrong one is counted like every failure. */
  async function login(c: Context, given: string): Promise<string> {
    if (!token) fail(503, 'dashboard_disabled', 'The dashboard is closed: set DASHBOARD_TOKEN to open it.');
    if (!sameSecret(given, token)) return refuse(c, true);
    return newCookie();
  }

  /** Secure when the dashboard is reached over HTTPS (directly, or through the operator's proxy). */
  function secureCookie(c: Context): boolean {
    if (new URL(c.req.url).protocol === 'https:') return true;
    if (config.trustProxy && c.req.header('x-forwarded-proto') === 'https') return true;
    return config.publicUrl.startsWith('https:');
  }

  return { identify, guard, login, endCookieSession, csrfFor, secureCookie, sessionMs: SESSION_MS, limiter, revoked };
}

export type DashboardAuthApi = ReturnType<typeof dashboardAuth>;
