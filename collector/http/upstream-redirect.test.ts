/**
 * Upstream credentials never follow a redirect. An upstream URL that answers every request with a
 * 307 to another port (where a logger listens) stands in for a hostile or hijacked upstream: the
 * Konnektive relay, the ActiveCampaign route and `doctor` each treat the 3xx as a failed call that
 * says what to fix, the outbox retries then dead-letters it like any other failure, and the logger
 * receives nothing at all (no login, no password, no Api-Token). `http:` upstream URLs are refused
 * at start except to this machine.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { connect } from '../cli/connect.js';
import { parseConfig, type Config } from '../config.js';
import { runDoctor } from '../doctor.js';
import { openStore } from '../store/open-store.js';
import { startKonnektiveDouble, type KonnektiveDouble } from '../../test/doubles/konnektive-double.js';
import { ev, eventually, konnektiveEnv, startTestCollector, type TestCollector } from '../../test/support/test-collector.js';

interface Received {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

async function listen(handler: (req: IncomingMessage, body: string) => { status: number; headers?: Record<string, string> }): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      const { status, headers = {} } = handler(req, body);
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

let logger: { server: Server; url: string };
let redirector: { server: Server; url: string };
let received: Received[];
let redirected: number;
let status: number;
let crm: KonnektiveDouble | undefined;
let collector: TestCollector | undefined;

beforeEach(async () => {
  received = [];
  redirected = 0;
  status = 307;
  // Whatever reaches this port was sent where the upstream pointed, not where the owner configured.
  logger = await listen((req, body) => {
    received.push({ method: req.method!, url: req.url!, headers: req.headers, body });
    return { status: 200 };
  });
  redirector = await listen((req) => {
    redirected++;
    return { status, headers: { location: `${logger.url}${req.url}` } };
  });
});
afterEach(async () => {
  await collector?.close();
  await crm?.close();
  collector = undefined;
  crm = undefined;
  for (const { server } of [logger, redirector]) await new Promise((resolve) => server.close(resolve));
});

function configOf(env: Record<string, string>): Config {
  const result = parseConfig(env);
  if (!result.ok) throw new Error(result.problems.join('; '));
  return result.config;
}

async function migrated(env: Record<string, string>): Promise<Record<string, string>> {
  const store = await openStore(env.DATABASE_URL!);
  await store.migrate();
  await store.close();
  return env;
}

const REDIRECT_MESSAGE = (setting: string) => `answered with a redirect to another address (HTTP 307 to ${logger.url}), not followed: set ${setting} to ${logger.url} if that is the API's own address`;

describe('a redirecting upstream gets no credentials', () => {
  it('Konnektive relay: the Import Click fails with a clear message, is retried, then dead-lettered; nothing reaches the other address', async () => {
    collector = await startTestCollector(konnektiveEnv(redirector.url), { konnektiveTimeoutMs: 2_000 });
    const res = await collector.post({ campaign: '12', events: [ev.page('presell', 'http://localhost:5173/?affId=A1')] });
    expect(res.status).toBe(200);

    const dead = await eventually(async () => (await collector!.store.listJobs({ state: 'dead' }))[0], { timeoutMs: 10_000 });
    const attempts = await collector.store.listAttempts(dead.id);
    expect(attempts.length).toBeGreaterThan(1);
    for (const attempt of attempts) {
      expect(attempt).toMatchObject({ upstream: 'konnektive', outcome: 'transient', httpStatus: 307 });
      expect(attempt.response).toBe(REDIRECT_MESSAGE('KONNEKTIVE_API_URL'));
    }
    expect(dead.lastError).toContain('answered with a redirect to another address');
    expect(redirected).toBe(attempts.length);
    expect(received).toEqual([]);
    expect(await (await fetch(`${collector.url}/metrics`)).text()).toContain('endpoint="importClick",outcome="transient"');
  });

  it('ActiveCampaign route: every call of the CART fails the same way; the Api-Token never leaves for the other address', async () => {
    crm = await startKonnektiveDouble({ loginId: 'fb-login', password: 'fb-password', campaigns: ['12'] });
    collector = await startTestCollector(
      konnektiveEnv(crm.url, { EMIT_VIA: 'activecampaign', ACTIVECAMPAIGN_API_URL: redirector.url, ACTIVECAMPAIGN_API_KEY: 'ac-test-key', ABANDON_AFTER: '100ms', SWEEP_EVERY: '50ms' }),
    );
    const first = (await (await collector.post({ campaign: '12', events: [ev.page('checkout', 'http://localhost:5173/checkout')] })).json()) as { session: string };
    await collector.post({
      campaign: '12',
      session: first.session,
      events: [ev.lead({ firstName: 'Ann', lastName: 'Lee', emailAddress: 'ann@example.com' }), ev.cart([{ id: '41', name: 'Bottle', price: 39.95, qty: 1 }])],
    });

    const dead = await eventually(async () => (await collector!.store.listJobs({ state: 'dead' })).find((job) => job.upstream === 'activecampaign'), { timeoutMs: 15_000 });
    const attempts = (await collector.store.listAttempts(dead.id)).filter((attempt) => attempt.upstream === 'activecampaign');
    expect(attempts.length).toBeGreaterThan(1);
    for (const attempt of attempts) {
      expect(attempt).toMatchObject({ outcome: 'transient', httpStatus: 307 });
      expect(attempt.response).toBe(REDIRECT_MESSAGE('ACTIVECAMPAIGN_API_URL'));
    }
    expect(redirected).toBeGreaterThanOrEqual(attempts.length);
    expect(received).toEqual([]);
  });

  it('doctor and connect say what to fix, and send nothing to the other address', async () => {
    const env = await migrated(konnektiveEnv(redirector.url, { EMIT_VIA: 'activecampaign', ACTIVECAMPAIGN_API_URL: redirector.url, ACTIVECAMPAIGN_API_KEY: 'ac-test-key', PUBLIC_URL: 'http://127.0.0.1:9' }));
    const lines: string[] = [];
    expect(await runDoctor(parseConfig(env), (line) => lines.push(line))).toBe(1);
    expect(lines.find((line) => line.includes(' konnektive: '))).toBe(`FAIL  konnektive: ${redirector.url} ${REDIRECT_MESSAGE('KONNEKTIVE_API_URL')}.`);
    expect(lines.find((line) => line.includes(' activecampaign: '))).toBe(`FAIL  activecampaign: ${redirector.url}/api/3 ${REDIRECT_MESSAGE('ACTIVECAMPAIGN_API_URL')}.`);
    expect(lines.join('\n')).not.toMatch(/fb-password|ac-test-key/);

    const direct = await connect(configOf(env));
    expect(direct).toMatchObject({ ok: false, message: `ActiveCampaign ${REDIRECT_MESSAGE('ACTIVECAMPAIGN_API_URL')}` });
    const viaKonnektive = await connect(configOf({ ...env, EMIT_VIA: 'konnektive' }));
    expect(viaKonnektive).toMatchObject({ ok: false, message: `${redirector.url} ${REDIRECT_MESSAGE('KONNEKTIVE_API_URL')}.` });

    expect(redirected).toBeGreaterThanOrEqual(4);
    expect(received).toEqual([]);
  });

  it('every kind of redirect is refused, not only 307', async () => {
    const env = await migrated(konnektiveEnv(redirector.url, { PUBLIC_URL: 'http://127.0.0.1:9' }));
    for (const code of [301, 302, 303, 307, 308]) {
      status = code;
      const lines: string[] = [];
      await runDoctor(parseConfig(env), (line) => lines.push(line));
      expect(lines.find((line) => line.includes(' konnektive: ')), String(code)).toContain(`answered with a redirect to another address (HTTP ${code} to ${logger.url})`);
    }
    expect(received).toEqual([]);
  });
});

describe('upstream URLs', () => {
  const live = { SECRET: 'x'.repeat(32), ALLOWED_ORIGINS: 'https://offer.example', KONNEKTIVE_LOGIN_ID: 'id', KONNEKTIVE_PASSWORD: 'pw', KONNEKTIVE_CAMPAIGNS: '12' };
  const withAc = (url: string) => ({ ...live, EMIT_VIA: 'activecampaign', ACTIVECAMPAIGN_API_URL: url, ACTIVECAMPAIGN_API_KEY: 'k' });

  it('plain http to another machine is refused at start, with one line naming the variable', () => {
    for (const [env, variable] of [
      [{ ...live, KONNEKTIVE_API_URL: 'http://api.konnektive.com' }, 'KONNEKTIVE_API_URL'],
      [withAc('http://acme.api-us1.com'), 'ACTIVECAMPAIGN_API_URL'],
      [withAc('http://10.0.0.5:8080'), 'ACTIVECAMPAIGN_API_URL'],
      [{ ...live, KONNEKTIVE_API_URL: 'http://127.0.0.1.nip.io' }, 'KONNEKTIVE_API_URL'],
      [{ ...live, KONNEKTIVE_API_URL: 'http://localhost.evil.example' }, 'KONNEKTIVE_API_URL'],
    ] as const) {
      const result = parseConfig(env);
      expect(result.ok, JSON.stringify(env)).toBe(false);
      if (result.ok) continue;
      expect(result.problems).toHaveLength(1);
      expect(result.problems[0]).toMatch(new RegExp(`^${variable}: must be an https:// URL \\(plain http:// only to this machine`));
    }
  });

  it('https anywhere, and http to this machine (the test doubles), are accepted', () => {
    for (const env of [
      { ...live, KONNEKTIVE_API_URL: 'https://api.checkoutchamp.com' },
      { ...live, KONNEKTIVE_API_URL: 'http://127.0.0.1:8080' },
      { ...live, KONNEKTIVE_API_URL: 'http://127.9.9.9' },
      { ...live, KONNEKTIVE_API_URL: 'http://localhost:8080' },
      { ...live, KONNEKTIVE_API_URL: 'http://[::1]:8080' },
      withAc('https://acme.api-us1.com'),
      withAc('http://127.0.0.1:9000/api/3'),
    ]) {
      const result = parseConfig(env);
      expect(result.ok ? 'ok' : result.problems.join('; '), JSON.stringify(env)).toBe('ok');
    }
  });
});
