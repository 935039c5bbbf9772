import { randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { networkInterfaces } from 'node:os';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  DeliveryResponse,
  OverviewResponse,
  ReplayResponse,
  SandboxRequestsResponse,
  SessionDetailResponse,
  SessionListResponse,
  SourcesResponse,
} from '../dashboard/api-schema.js';
import { sandboxAccess } from '../dashboard/auth.js';
import { DEFAULT_SIGN_IN_LIMITS } from '../dashboard/sign-in-limiter.js';
import { testPostgres } from '../../test/support/postgres.js';
import { konnektiveEnv, startTestCollector, testEnv, type TestCollector } from '../../test/support/test-collector.js';

const TOKEN = 'dashboard-token-0123456789abcdef';
let collector: TestCollector;
afterEach(async () => {
  await collector.close();
});

const live = () => startTestCollector(konnektiveEnv('http://127.0.0.1:9', { DASHBOARD_TOKEN: TOKEN }), { runWorker: false });
const bearer = { authorization: `Bearer ${TOKEN}` };
const now = Date.now();
const range = `from=${now - 86_400_000}&to=${now + 60_000}`;

const READS = ['/overview?' + range, `/sources?dim=affId&${range}`, '/sessions', '/sessions/nope', '/delivery', '/session'];
const CHANGES = ['/delivery/replay', '/delivery/replay-all', '/doctor', '/logout'];

async function login(): Promise<string> {
  const res = await fetch(`${collector.url}/dashboard/login`, {
    method: 'POST',
    body: new URLSearchParams({ token: TOKEN }),
    redirect: 'manual',
  });
  expect(res.status).toBe(303);
  const cookie = res.headers.get('set-cookie') ?? '';
  expect(cookie).toMatch(/HttpOnly/i);
  expect(cookie).toMatch(/SameSite=Strict/i);
  expect(cookie).not.toContain(TOKEN);
  return cookie.split(';')[0]!;
}

/** Stores one session with a lead, a cart and a dead Konnektive job. */
async function seed(): Promise<{ sessionId: string; jobId: number }> {
  const sessionId = `s${randomUUID().replace(/-/g, '')}`;
  await collector.store.transaction(async (tx) => {
    await tx.insertSession({ id: sessionId, campaignId: '12', createdAt: now, lastSeenAt: now, landingUrl: 'https://offer.example/?affId=A7&utm_source=fb', referrer: undefined, userAgent: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile', ip: '203.0.113.9', isBot: false });
    await tx.updateSession(sessionId, { lead: { emailAddress: 'ada@example.com', phoneNumber: '+14155550101', firstName: 'Ada' }, cart: { items: [{ id: '41', name: 'Bottle', price: 39.95, qty: 1 }], currency: 'USD' } });
    await tx.markPageClicked(sessionId, 'presell');
    await tx.enqueue({ sessionId, upstream: 'konnektive', kind: 'konnektive.click', payload: {}, runAt: now });
  });
  const [job] = await collector.store.listJobs({ sessionId });
  await collector.store.sql().run("UPDATE outbox SET state = 'dead', last_error = 'HTTP 500' WHERE id = ?", [job!.id]);
  return { sessionId, jobId: job!.id };
}

describe('dashboard API outside sandbox mode', () => {
  it('answers 401 on every endpoint without the token, and with a wrong one', async () => {
    collector = await live();
    for (const path of READS) expect((await fetch(`${collector.url}/dashboard/api${path}`)).status, path).toBe(401);
    for (const path of CHANGES) expect((await fetch(`${collector.url}/dashboard/api${path}`, { method: 'POST' })).status, path).toBe(401);
    expect((await fetch(`${collector.url}/dashboard/api/delivery`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
  });

  it('answers 403 to a cookie session changing something without the CSRF token, and changes nothing', async () => {
    collector = await live();
    const { jobId } = await seed();
    const cookie = await login();
    for (const path of CHANGES) {
      const res = await fetch(`${collector.url}/dashboard/api${path}`, { method: 'POST', headers: { cookie, 'content-type': 'application/json' }, body: JSON.stringify({ id: jobId }) });
      expect(res.status, path).toBe(403);
      expect((await res.json()).error.code).toBe('csrf');
    }
    expect((await collector.store.listJobs({ state: 'dead' })).map((j) => j.id)).toEqual([jobId]);
    // With the token the session API hands out, the same change goes through.
    const { csrf } = await (await fetch(`${collector.url}/dashboard/api/session`, { headers: { cookie } })).json();
    const res = await fetch(`${collector.url}/dashboard/api/delivery/replay`, { method: 'POST', headers: { cookie, 'x-csrf-token': csrf, 'content-type': 'application/json' }, body: JSON.stringify({ id: jobId }) });
    expect(ReplayResponse.parse(await res.json())).toEqual({ replayed: 1 });
  });

  it('answers each read with a body its schema accepts; lists mask email and phone, the session page shows them', async () => {
    collector = await live();
    const { sessionId } = await seed();
    const get = async (path: string) => {
      const res = await fetch(`${collector.url}/dashboard/api${path}`, { headers: bearer });
      expect(res.status, path).toBe(200);
      expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
      return res.json();
    };
    const overview = OverviewResponse.parse(await get(`/overview?${range}`));
    expect(overview.current.figures.visitors).toBe(1);
    expect(overview.current.figures.leads).toBe(1);
    expect(overview.current.funnel[0]).toMatchObject({ step: 'presell', visitors: 1 });
    const sources = SourcesResponse.parse(await get(`/sources?dim=device&${range}`));
    expect(sources.rows).toEqual([expect.objectContaining({ value: 'mobile' })]);
    const list = SessionListResponse.parse(await get('/sessions'));
    expect(list.sessions[0]).toMatchObject({ id: sessionId, email: 'a***@e***.com', phone: '***01', affId: 'A7', device: 'mobile' });
    expect(JSON.stringify(list)).not.toContain('ada@example.com');
    for (const q of ['ADA@example.com', 'A7', sessionId]) {
      expect(SessionListResponse.parse(await get(`/sessions?q=${encodeURIComponent(q)}`)).sessions.map((s) => s.id), q).toEqual([sessionId]);
    }
    const detail = SessionDetailResponse.parse(await get(`/sessions/${sessionId}`));
    expect(detail.session.lead.emailAddress).toBe('ada@example.com');
    const delivery = DeliveryResponse.parse(await get('/delivery'));
    expect(delivery.dead).toHaveLength(1);
  });

  it('finds an affiliate\'s newest sessions first, however many it sent', async () => {
    collector = await live();
    const ids: string[] = [];
    await collector.store.transaction(async (tx) => {
      for (let i = 0; i < 30; i++) {
        const id = `aff${String(i).padStart(2, '0')}${randomUUID().replace(/-/g, '').slice(0, 12)}`;
        ids.push(id);
        const at = now - 3_600_000 + i * 1_000;
        await tx.insertSession({ id, campaignId: '12', createdAt: at, lastSeenAt: at, landingUrl: `https://offer.example/?affId=${i % 3 === 0 ? 'B2' : 'A1'}`, referrer: undefined, userAgent: 'Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0', ip: '203.0.113.9', isBot: false });
      }
    });
    // Searched straight from the Sessions view: no overview has rolled these hours up yet.
    const search = async (q: string, limit: number) => {
      const res = await fetch(`${collector.url}/dashboard/api/sessions?q=${q}&limit=${limit}`, { headers: bearer });
      expect(res.status).toBe(200);
      return SessionListResponse.parse(await res.json()).sessions.map((s) => s.id);
    };
    const a1 = ids.filter((_, i) => i % 3 !== 0).reverse();
    expect(await search('A1', 5)).toEqual(a1.slice(0, 5));
    expect(await search('A1', 50)).toEqual(a1);
    expect(await search('B2', 50)).toEqual(ids.filter((_, i) => i % 3 === 0).reverse());
    // A session that arrives after the first search is found by the next one.
    const late = `late${randomUUID().replace(/-/g, '').slice(0, 12)}`;
    await collector.store.transaction((tx) => tx.insertSession({ id: late, campaignId: '12', createdAt: now, lastSeenAt: now, landingUrl: 'https://offer.example/?affId=B2', referrer: undefined, userAgent: 'Mozilla/5.0', ip: '203.0.113.9', isBot: false }));
    expect((await search('B2', 1))).toEqual([late]);
  });

  it('breaks the overview\'s money and recovery figures down by source, lost carts included', async () => {
    collector = await live();
    const { sessionId } = await seed();
    // A cart abandoned 9 days ago whose 7-day link expired without an order: lost.
    await collector.store.sql().run(
      'INSERT INTO session_outcomes (session_id, cart_at, cart_cents, cart_currency, link_expires_at, clicks) VALUES (?, ?, 3995, ?, ?, 2)',
      [sessionId, now - 9 * 86_400_000, 'USD', now - 2 * 86_400_000],
    );
    const tenDays = `from=${now - 10 * 86_400_000}&to=${now + 60_000}`;
    const res = await fetch(`${collector.url}/dashboard/api/sources?dim=affId&${tenDays}`, { headers: bearer });
    const { rows } = SourcesResponse.parse(await res.json());
    const overview = OverviewResponse.parse(await (await fetch(`${collector.url}/dashboard/api/overview?${tenDays}`, { headers: bearer })).json());
    expect(rows).toEqual([expect.objectContaining({ value: 'A7', figures: expect.objectContaining({ carts: 1, cartCents: 3995, unrecovered: 1, lost: 1 }) })]);
    expect(rows[0]!.figures).toEqual(overview.current.figures);
    expect(rows[0]!.derived).toEqual(overview.current.derived);
  });

  it('says when the amounts of a period mix currencies', async () => {
    collector = await live();
    const { sessionId } = await seed();
    const outcome = (id: string, currency: string) =>
      collector.store.sql().run('INSERT INTO session_outcomes (session_id, cart_at, cart_cents, cart_currency, link_expires_at, clicks) VALUES (?, ?, 3995, ?, ?, 0)', [id, now, currency, now + 86_400_000]);
    await outcome(sessionId, 'USD');
    const currencies = async () => {
      const res = await fetch(`${collector.url}/dashboard/api/overview?${range}`, { headers: bearer });
      const sourcesRes = await fetch(`${collector.url}/dashboard/api/sources?dim=affId&${range}`, { headers: bearer });
      return [OverviewResponse.parse(await res.json()).currencies, SourcesResponse.parse(await sourcesRes.json()).currencies];
    };
    expect(await currencies()).toEqual([['USD'], ['USD']]);
    const other = `s${randomUUID().replace(/-/g, '')}`;
    await collector.store.transaction((tx) => tx.insertSession({ id: other, campaignId: '12', createdAt: now, lastSeenAt: now, landingUrl: undefined, referrer: undefined, userAgent: 'Mozilla/5.0', ip: '203.0.113.9', isBot: false }));
    await outcome(other, 'EUR');
    expect(await currencies()).toEqual([['EUR', 'USD'], ['EUR', 'USD']]);
  });

  it('refuses bad input with a 400 that changes nothing', async () => {
    collector = await live();
    const { jobId } = await seed();
    const bad = ['/overview?from=10&to=5', '/overview?from=x', `/sources?dim=email&${range}`, '/sessions?limit=100000', '/sessions/..%2Fetc'];
    for (const path of bad) expect((await fetch(`${collector.url}/dashboard/api${path}`, { headers: bearer })).status, path).toBe(400);
    for (const body of ['{"id":"1"}', '{"id":1,"extra":true}', 'not json']) {
      const res = await fetch(`${collector.url}/dashboard/api/delivery/replay`, { method: 'POST', headers: { ...bearer, 'content-type': 'application/json' }, body });
      expect(res.status, body).toBe(400);
    }
    expect((await collector.store.listJobs({ state: 'dead' })).map((j) => j.id)).toEqual([jobId]);
  });

  it('replays a dead letter once: replaying it again, or all, changes nothing more', async () => {
    collector = await live();
    const { jobId } = await seed();
    const post = async (path: string, body: unknown) =>
      ReplayResponse.parse(await (await fetch(`${collector.url}/dashboard/api${path}`, { method: 'POST', headers: { ...bearer, 'content-type': 'application/json' }, body: JSON.stringify(body) })).json());
    expect(await post('/delivery/replay', { id: jobId })).toEqual({ replayed: 1 });
    expect(await post('/delivery/replay', { id: jobId })).toEqual({ replayed: 0 });
    expect(await post('/delivery/replay-all', {})).toEqual({ replayed: 0 });
    expect(await collector.store.listJobs({})).toEqual([expect.objectContaining({ id: jobId, state: 'pending', attempts: 0 })]);
  });

  it('signs in from its own form, whose Origin is null under no-referrer, and refuses another site', async () => {
    collector = await live();
    const post = (headers: Record<string, string>) =>
      fetch(`${collector.url}/dashboard/login`, { method: 'POST', headers, body: new URLSearchParams({ token: TOKEN }), redirect: 'manual' });
    // What Chromium sends for the dashboard's own login form.
    expect((await post({ origin: 'null', 'sec-fetch-site': 'same-origin' })).status).toBe(303);
    expect((await post({ origin: collector.url })).status).toBe(303);
    expect((await post({ origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' })).status).toBe(403);
    expect((await post({ origin: 'null', 'sec-fetch-site': 'cross-site' })).status).toBe(403);
    expect((await post({ origin: 'https://evil.example' })).status).toBe(403);
  });

  it('rate-limits failed sign-ins per address, and still lets the right token and a live cookie in', async () => {
    collector = await live();
    const cookie = await login();
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) {
      statuses.push((await fetch(`${collector.url}/dashboard/login`, { method: 'POST', body: new URLSearchParams({ token: 'guess' }), redirect: 'manual' })).status);
    }
    expect(statuses.slice(0, 10).every((s) => s === 401)).toBe(true);
    expect(statuses.slice(10)).toEqual([429, 429]);
    // Wrong tokens and requests without any credential wait, with Retry-After.
    const wrong = await fetch(`${collector.url}/dashboard/api/session`, { headers: { authorization: 'Bearer guess' } });
    expect(wrong.status).toBe(429);
    expect(Number(wrong.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await fetch(`${collector.url}/dashboard/api/session`)).status).toBe(429);
    // The right token, the sign-in form with it, and the cookie signed in before all pass.
    expect((await fetch(`${collector.url}/dashboard/api/session`, { headers: bearer })).status).toBe(200);
    expect((await fetch(`${collector.url}/dashboard/login`, { method: 'POST', body: new URLSearchParams({ token: TOKEN }), redirect: 'manual' })).status).toBe(303);
    const session = await fetch(`${collector.url}/dashboard/api/session`, { headers: { cookie } });
    expect(session.status).toBe(200);
    expect((await session.json()).auth).toBe('cookie');
  });

  it('behind a proxy, failing in an admin\'s address does not lock the admin out; an IPv6 /64 counts as one address', async () => {
    collector = await startTestCollector(konnektiveEnv('http://127.0.0.1:9', { DASHBOARD_TOKEN: TOKEN, TRUST_PROXY: 'on' }), { runWorker: false });
    const ask = (from: string, authorization = 'Bearer guess') => fetch(`${collector.url}/dashboard/api/session`, { headers: { authorization, 'x-forwarded-for': from } });
    const admin = '203.0.113.7';
    const statuses: number[] = [];
    for (let i = 0; i < 11; i++) statuses.push((await ask(admin)).status);
    expect(statuses).toEqual([...Array(10).fill(401), 429]);
    expect((await ask(admin, `Bearer ${TOKEN}`)).status).toBe(200);
    // The same client on a dual-stack socket (IPv4-mapped IPv6) is the same address.
    expect((await ask(`::ffff:${admin}`)).status).toBe(429);
    // Rotating through one /64 gains nothing; another /64 is another address.
    const rotated: number[] = [];
    for (let i = 1; i <= 11; i++) rotated.push((await ask(`2001:db8:7:1:${i.toString(16)}::${i}`)).status);
    expect(rotated).toEqual([...Array(10).fill(401), 429]);
    expect((await ask('2001:db8:7:2::1')).status).toBe(401);
    expect((await ask('2001:db8:7:1:ffff::9', `Bearer ${TOKEN}`)).status).toBe(200);
  });

  it('holds every unauthenticated attempt back once all addresses together used the failure budget, and still lets the token in', async () => {
    collector = await startTestCollector(konnektiveEnv('http://127.0.0.1:9', { DASHBOARD_TOKEN: TOKEN, TRUST_PROXY: 'on' }), { runWorker: false });
    const budget = DEFAULT_SIGN_IN_LIMITS.global;
    const perAddress = DEFAULT_SIGN_IN_LIMITS.perAddress - 1;
    const ask = (from: string, authorization = 'Bearer guess') => fetch(`${collector.url}/dashboard/api/session`, { headers: { authorization, 'x-forwarded-for': from } });
    // Each address stays under its own limit; together they spend the budget.
    const statuses = new Map<number, number>();
    for (let sent = 0; sent < budget; sent++) {
      const status = (await ask(`198.51.${Math.floor(sent / perAddress / 250)}.${Math.floor(sent / perAddress) % 250}`)).status;
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
    }
    expect(Object.fromEntries(statuses)).toEqual({ 401: budget });
    // A fresh address now waits too, with or without a token, and the sign-in form says so.
    const fresh = await ask('192.0.2.200');
    expect(fresh.status).toBe(429);
    expect(Number(fresh.headers.get('retry-after'))).toBeGreaterThan(60);
    expect((await fetch(`${collector.url}/dashboard/api/session`, { headers: { 'x-forwarded-for': '192.0.2.201' } })).status).toBe(429);
    const form = await fetch(`${collector.url}/dashboard/login`, { method: 'POST', headers: { 'x-forwarded-for': '192.0.2.202' }, body: new URLSearchParams({ token: 'guess' }), redirect: 'manual' });
    expect(form.status).toBe(429);
    // A valid credential still passes, from anywhere.
    expect((await ask('192.0.2.200', `Bearer ${TOKEN}`)).status).toBe(200);
    const signIn = await fetch(`${collector.url}/dashboard/login`, { method: 'POST', headers: { 'x-forwarded-for': '192.0.2.203' }, body: new URLSearchParams({ token: TOKEN }), redirect: 'manual' });
    expect(signIn.status).toBe(303);
  }, 60_000);

  it('is closed without DASHBOARD_TOKEN', async () => {
    collector = await startTestCollector(konnektiveEnv('http://127.0.0.1:9'), { runWorker: false });
    expect((await fetch(`${collector.url}/dashboard/api/delivery`, { headers: bearer })).status).toBe(503);
  });
});

const postgres = await testPostgres();
afterAll(() => postgres.dropSchemas());

describe('logout', () => {
  const stores = [
    { name: 'SQLite', skip: undefined, databaseUrl: () => testEnv().DATABASE_URL! },
    { name: 'PostgreSQL', skip: postgres.skip, databaseUrl: () => postgres.newSchemaUrl() },
  ];
  let peer: TestCollector | undefined;
  afterEach(async () => {
    await peer?.close();
    peer = undefined;
  });

  for (const store of stores) {
    it.skipIf(store.skip !== undefined)(`ends the cookie on every collector sharing the store (${store.name}): a copy replayed after logout gets 401`, async () => {
      const env = konnektiveEnv('http://127.0.0.1:9', { DASHBOARD_TOKEN: TOKEN, DATABASE_URL: store.databaseUrl() });
      collector = await startTestCollector(env, { runWorker: false });
      peer = await startTestCollector(env, { runWorker: false });
      const cookie = await login();
      const { csrf } = await (await fetch(`${collector.url}/dashboard/api/session`, { headers: { cookie } })).json();
      const session = (at: TestCollector) => fetch(`${at.url}/dashboard/api/session`, { headers: { cookie } });
      const replayAll = (at: TestCollector) => fetch(`${at.url}/dashboard/api/delivery/replay-all`, { method: 'POST', headers: { cookie, 'x-csrf-token': csrf } });
      // Before logout the cookie works on both collectors.
      expect((await session(peer)).status).toBe(200);
      expect((await replayAll(peer)).status).toBe(200);

      const logout = await fetch(`${collector.url}/dashboard/api/logout`, { method: 'POST', headers: { cookie, 'x-csrf-token': csrf } });
      expect(logout.status).toBe(204);
      expect(logout.headers.get('set-cookie')).toMatch(/fb_dashboard=;.*Max-Age=0/i);

      for (const at of [collector, peer]) {
        for (const res of [await session(at), await replayAll(at), await fetch(`${at.url}/dashboard/api/overview?${range}`, { headers: { cookie } })]) {
          expect(res.status).toBe(401);
          expect((await res.json()).error.code).toBe('unauthorized');
        }
      }
      // The page itself sends the browser back to the sign-in form.
      const page = await fetch(`${peer.url}/dashboard/`, { headers: { cookie }, redirect: 'manual' });
      expect([page.status, page.headers.get('location')]).toEqual([302, '/dashboard/login']);
      // Replays are not wrong tokens: the address is not locked out, and a new sign-in works.
      const fresh = await login();
      expect(fresh).not.toBe(cookie);
      expect((await fetch(`${peer.url}/dashboard/api/session`, { headers: { cookie: fresh } })).status).toBe(200);
    });
  }
});

describe('search on both stores', () => {
  const stores = [
    { name: 'SQLite', skip: undefined, databaseUrl: () => testEnv().DATABASE_URL! },
    { name: 'PostgreSQL', skip: postgres.skip, databaseUrl: () => postgres.newSchemaUrl() },
  ];
  for (const store of stores) {
    it.skipIf(store.skip !== undefined)(`answers a search for text no store can compare with 400, never 500 (${store.name})`, async () => {
      collector = await startTestCollector(konnektiveEnv('http://127.0.0.1:9', { DASHBOARD_TOKEN: TOKEN, DATABASE_URL: store.databaseUrl() }), { runWorker: false });
      for (const q of ['%00', 'ann%00']) {
        const res = await fetch(`${collector.url}/dashboard/api/sessions?q=${q}`, { headers: bearer });
        const body = await res.json();
        expect([res.status, body.error?.code], q).toEqual([400, 'bad_request']);
        expect(body.error.message, q).toMatch(/^q: a NUL character/);
      }
      // A surrogate's UTF-8 bytes (no URL can carry a lone surrogate) decode to nothing found.
      expect((await fetch(`${collector.url}/dashboard/api/sessions?q=%ED%A0%80`, { headers: bearer })).status).toBe(200);
      // Ordinary text, emoji included, is still searched.
      expect((await fetch(`${collector.url}/dashboard/api/sessions?q=${encodeURIComponent('ann 😀')}`, { headers: bearer })).status).toBe(200);
    });
  }
});

describe('dashboard in sandbox mode', () => {
  it('shows every request sandbox mode recorded, 50 at a time, newest first, each page after the one before', async () => {
    collector = await startTestCollector(testEnv(), { runWorker: false });
    const sql = collector.store.sql();
    for (let i = 1; i <= 120; i++) {
      await sql.run(
        "INSERT INTO delivery_attempts (job_id, upstream, endpoint, request, response, outcome, latency_ms, created_at) VALUES (?, 'activecampaign', 'POST /ecomOrders', ?, '{}', 'sandbox', 0, ?)",
        [i, JSON.stringify({ ecomOrder: { email: `buyer${i}@example.com` } }), now + i],
      );
    }
    // Calls that went out (or failed) are not the sandbox's.
    await sql.run("INSERT INTO delivery_attempts (job_id, upstream, endpoint, request, response, outcome, latency_ms, created_at) VALUES (999, 'konnektive', 'POST /landers/clicks/import/', '{}', '{}', 'ok', 3, ?)", [now]);
    const get = async (path: string) => (await fetch(`${collector.url}/dashboard/api${path}`)).json();
    const delivery = DeliveryResponse.parse(await get('/delivery'));
    expect(delivery.sandboxRequests.map((r) => r.jobId)).toEqual(Array.from({ length: 50 }, (_, i) => 120 - i));
    expect(delivery.sandboxRequests[0]!.request).toContain('buyer120@example.com');
    const seen = delivery.sandboxRequests.map((r) => r.jobId);
    let next = delivery.sandboxNext;
    while (next !== null) {
      const page = SandboxRequestsResponse.parse(await get(`/delivery/sandbox?before=${next}`));
      seen.push(...page.requests.map((r) => r.jobId));
      next = page.next;
    }
    expect(seen).toEqual(Array.from({ length: 120 }, (_, i) => 120 - i));
    const small = SandboxRequestsResponse.parse(await get('/delivery/sandbox?limit=120'));
    expect([small.requests.length, small.next]).toEqual([120, null]);
    expect((await fetch(`${collector.url}/dashboard/api/delivery/sandbox?limit=0`)).status).toBe(400);
  });

  it('is open to loopback clients, and still wants the CSRF token for changes', async () => {
    collector = await startTestCollector(testEnv(), { runWorker: false });
    expect((await fetch(`${collector.url}/dashboard/api/delivery`)).status).toBe(200);
    expect((await fetch(`${collector.url}/dashboard/api/delivery/replay-all`, { method: 'POST' })).status).toBe(403);
    const { csrf } = await (await fetch(`${collector.url}/dashboard/api/session`)).json();
    expect((await fetch(`${collector.url}/dashboard/api/delivery/replay-all`, { method: 'POST', headers: { 'x-csrf-token': csrf } })).status).toBe(200);
  });
});

/** A GET with the Host and headers given as they are (fetch sets Host itself). */
function rawGet(address: string, port: number, path: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: address, port, path, headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** This machine's first address that is not loopback, to send from another source than 127.0.0.1. */
const externalAddress = Object.values(networkInterfaces())
  .flat()
  .find((info) => info && info.family === 'IPv4' && !info.internal)?.address;

describe('sandbox dashboard, loopback only', () => {
  const refused = (answer: { status: number; body: string }, code: string) => {
    expect(answer.status).toBe(403);
    expect(JSON.parse(answer.body)).toEqual({ error: { code, message: expect.any(String) } });
  };

  it.skipIf(externalAddress === undefined)('refuses a peer on another address that says X-Forwarded-For: 127.0.0.1, with TRUST_PROXY on', async () => {
    collector = await startTestCollector(testEnv({ HOST: '0.0.0.0', TRUST_PROXY: 'true', TRUST_PROXY_DIRECT_ACCESS: 'allow' }), { runWorker: false });
    const port = collector.port;
    const host = `localhost:${port}`;
    for (const forwarded of ['127.0.0.1', '203.0.113.9, 127.0.0.1']) {
      refused(await rawGet(externalAddress!, port, '/dashboard/api/delivery', { host, 'x-forwarded-for': forwarded }), 'loopback_only');
    }
    refused(await rawGet(externalAddress!, port, '/dashboard/', { host }), 'loopback_only');
    // The same request from this machine is answered.
    expect((await rawGet('127.0.0.1', port, '/dashboard/api/delivery', { host, 'x-forwarded-for': '127.0.0.1' })).status).toBe(200);
  });

  it('decides loopback from the socket address, not from forwarding headers', () => {
    const ask = (socketAddress: string | undefined, forwardedFor: string[] = [], host = 'localhost:8787') =>
      sandboxAccess({ socketAddress, host, forwardedFor, publicUrl: 'http://localhost:8787' });
    expect(ask('203.0.113.9', ['127.0.0.1'])).toBe('not_loopback');
    expect(ask('192.0.2.2')).toBe('not_loopback');
    expect(ask(undefined)).toBe('not_loopback');
    // A proxy on this machine relaying another client.
    expect(ask('127.0.0.1', ['203.0.113.9'])).toBe('not_loopback');
    expect(ask('127.0.0.1', ['127.0.0.1'])).toBe('ok');
    expect(ask('::1')).toBe('ok');
    expect(ask('::ffff:127.0.0.1')).toBe('ok');
  });

  it('refuses a Host that is not a loopback name (DNS rebinding), through the real server', async () => {
    collector = await startTestCollector(testEnv({ PUBLIC_URL: 'http://funnel.localhost:8787' }), { runWorker: false });
    const port = collector.port;
    for (const host of [`rebind.example:${port}`, 'rebind.example', `192.0.2.2:${port}`, `localhost.rebind.example:${port}`]) {
      refused(await rawGet('127.0.0.1', port, '/dashboard/api/delivery', { host }), 'host_not_allowed');
    }
    refused(await rawGet('127.0.0.1', port, '/dashboard/', { host: `rebind.example:${port}` }), 'host_not_allowed');
    for (const host of [`localhost:${port}`, 'localhost', `127.0.0.1:${port}`, `[::1]:${port}`, `LOCALHOST:${port}`, 'funnel.localhost:8787']) {
      expect((await rawGet('127.0.0.1', port, '/dashboard/api/delivery', { host })).status, host).toBe(200);
    }
  });
});
