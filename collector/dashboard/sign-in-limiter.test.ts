/**
 * The dashboard's wrong-token limit: what one address and everyone together may fail, how
 * addresses are keyed (an IPv6 /64 is one subscriber), and that memory stays bounded under a flood
 * from many addresses, counted both on the limiter and through a real server on a port.
 */
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { Hono } from 'hono';
import { afterEach, describe, expect, it } from 'vitest';
import { VirtualClock } from '../../test/support/virtual-clock.js';
import { parseConfig } from '../config.js';
import { addressKey } from '../http/client-ip.js';
import { dashboardAuth } from './auth.js';
import { DEFAULT_SIGN_IN_LIMITS, SignInLimiter } from './sign-in-limiter.js';

const WINDOW = DEFAULT_SIGN_IN_LIMITS.windowMs;
const T0 = Date.UTC(2026, 11, 7, 12);

describe('addressKey', () => {
  it('keys IPv4 as it is, IPv4-mapped IPv6 as IPv4, and IPv6 by its /64', () => {
    expect(addressKey('198.51.100.7')).toBe('198.51.100.7');
    expect(addressKey('::ffff:198.51.100.7')).toBe('198.51.100.7');
    expect(addressKey('::FFFF:c633:6407')).toBe('198.51.100.7');
    expect(addressKey('[::ffff:127.0.0.1]')).toBe('127.0.0.1');
    const one64 = ['2001:db8:1:2::1', '2001:DB8:1:2:ffff:ffff:ffff:ffff', '[2001:db8:1:2:a::]', '2001:0db8:0001:0002:0:0:0:9', 'fe80::1%eth0'.replace('fe80::', '2001:db8:1:2::')];
    expect(new Set(one64.map(addressKey))).toEqual(new Set(['2001:db8:1:2::/64']));
    expect(addressKey('2001:db8:1:3::1')).toBe('2001:db8:1:3::/64');
    expect(addressKey('::1')).toBe('0:0:0:0::/64');
    expect(addressKey('64:ff9b::192.0.2.1')).toBe('64:ff9b:0:0::/64');
    // Not an address (a forwarded `unknown`, a header's junk): kept, at a bounded length.
    expect(addressKey('unknown')).toBe('unknown');
    expect(addressKey('x'.repeat(10_000))).toHaveLength(64);
  });
});

describe('SignInLimiter', () => {
  it('lets each address fail `perAddress` times per window, then makes it wait until the window ends', () => {
    const limiter = new SignInLimiter();
    for (let i = 0; i < DEFAULT_SIGN_IN_LIMITS.perAddress; i++) expect(limiter.failed('203.0.113.7', T0 + i)).toBe(0);
    expect(limiter.failed('203.0.113.7', T0 + 1_000)).toBe(WINDOW - 1_000);
    expect(limiter.waitMs('::ffff:203.0.113.7', T0 + 1_000)).toBe(WINDOW - 1_000);
    expect(limiter.waitMs('203.0.113.8', T0 + 1_000)).toBe(0);
    expect(limiter.waitMs('203.0.113.7', T0 + WINDOW)).toBe(0);
  });

  it('stops counting anyone once all addresses together spent the global budget', () => {
    const limiter = new SignInLimiter({ global: 30 });
    for (let i = 0; i < 30; i++) expect(limiter.failed(`192.0.2.${i}`, T0)).toBe(0);
    expect(limiter.failed('198.51.100.1', T0 + 60_000)).toBe(WINDOW - 60_000);
    expect(limiter.waitMs('198.51.100.2', T0 + 60_000)).toBe(WINDOW - 60_000);
    // Nothing past the budget is remembered.
    expect(limiter.trackedAddresses).toBe(30);
    expect(limiter.waitMs('198.51.100.2', T0 + WINDOW)).toBe(0);
  });

  it('keeps at most maxAddresses addresses whatever the flood, the oldest forgotten first', () => {
    const limiter = new SignInLimiter({ global: Number.MAX_SAFE_INTEGER, maxAddresses: 1_000 });
    limiter.failed('203.0.113.7', T0);
    let largest = 0;
    for (let i = 0; i < 20_000; i++) {
      limiter.failed(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, T0 + 1);
      limiter.failed(`2001:db8:${(i >> 16).toString(16)}:${(i & 0xffff).toString(16)}::1`, T0 + 1);
      largest = Math.max(largest, limiter.trackedAddresses);
    }
    expect(largest).toBe(1_000);
    expect(limiter.trackedAddresses).toBe(1_000);
    // The first address was the oldest, and was forgotten rather than growing the map.
    for (let i = 0; i < DEFAULT_SIGN_IN_LIMITS.perAddress; i++) expect(limiter.failed('203.0.113.7', T0 + 2)).toBe(0);
  });

  it('keeps one entry for a whole IPv6 /64, however many of its addresses fail', () => {
    const limiter = new SignInLimiter({ global: Number.MAX_SAFE_INTEGER });
    const waits: number[] = [];
    for (let i = 1; i <= 5_000; i++) waits.push(limiter.failed(`2001:db8:aa:bb:${(i >> 16).toString(16)}:${(i & 0xffff).toString(16)}::1`, T0));
    expect(limiter.trackedAddresses).toBe(1);
    expect(waits.filter((wait) => wait === 0)).toHaveLength(DEFAULT_SIGN_IN_LIMITS.perAddress);
  });
});

describe('dashboard sign-in under a flood from many addresses, through a real server', () => {
  let server: ServerType | undefined;
  afterEach(async () => {
    await new Promise((resolve) => server?.close(resolve));
    server = undefined;
  });

  async function start(limits?: ConstructorParameters<typeof SignInLimiter>[0]) {
    const parsed = parseConfig({
      SECRET: 'x'.repeat(40),
      ALLOWED_ORIGINS: 'https://offer.example',
      KONNEKTIVE_LOGIN_ID: 'id',
      KONNEKTIVE_PASSWORD: 'pw',
      KONNEKTIVE_CAMPAIGNS: '12',
      DASHBOARD_TOKEN: 'dashboard-token-0123456789abcdef',
      HOST: '127.0.0.1',
      TRUST_PROXY: 'on',
    });
    if (!parsed.ok) throw new Error(parsed.problems.join('; '));
    const clock = new VirtualClock(T0);
    const revocations = { revokeDashboardSession: async () => {}, isDashboardSessionRevoked: async () => false };
    const auth = dashboardAuth({ config: parsed.config, secret: 'x'.repeat(40), clock, revocations, ...(limits ? { limits } : {}) });
    const app = new Hono();
    app.use('/api/*', auth.guard);
    app.get('/api/session', (c) => c.json({ ok: true }));
    server = await new Promise<ServerType>((resolve) => {
      const started = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(started));
    });
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    /** Wrong tokens from `count` distinct addresses, `parallel` at a time; the statuses seen. */
    const flood = async (count: number, addressOf: (i: number) => string, parallel = 16) => {
      const seen = new Map<number, number>();
      for (let i = 0; i < count; i += parallel) {
        const batch = Array.from({ length: Math.min(parallel, count - i) }, (_, j) =>
          fetch(`${url}/api/session`, { headers: { authorization: 'Bearer guess', 'x-forwarded-for': addressOf(i + j) } }).then(async (res) => {
            await res.arrayBuffer();
            return res.status;
          }),
        );
        for (const status of await Promise.all(batch)) seen.set(status, (seen.get(status) ?? 0) + 1);
      }
      return Object.fromEntries(seen);
    };
    return { auth, flood };
  }

  it('counts at most maxAddresses addresses, IPv4 and rotating IPv6 /64s alike', async () => {
    const { auth, flood } = await start({ global: Number.MAX_SAFE_INTEGER, maxAddresses: 200 });
    expect(await flood(800, (i) => `10.1.${i >> 8}.${i & 255}`)).toEqual({ 401: 800 });
    expect(auth.limiter.trackedAddresses).toBe(200);
    expect(await flood(800, (i) => `2001:db8:${i.toString(16)}::1`)).toEqual({ 401: 800 });
    expect(auth.limiter.trackedAddresses).toBe(200);
  }, 60_000);

  it('with the default limits, stops at the global budget: the map holds no more addresses than that', async () => {
    const { auth, flood } = await start();
    const statuses = await flood(800, (i) => `2001:db8:${(i >> 16).toString(16)}:${(i & 0xffff).toString(16)}::${i.toString(16)}`);
    expect(statuses).toEqual({ 401: DEFAULT_SIGN_IN_LIMITS.global, 429: 800 - DEFAULT_SIGN_IN_LIMITS.global });
    expect(auth.limiter.trackedAddresses).toBe(DEFAULT_SIGN_IN_LIMITS.global);
  }, 60_000);
});
