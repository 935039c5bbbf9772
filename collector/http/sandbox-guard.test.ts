/**
 * Sandbox mode keeps its open pages for the person at this machine: the demo funnel,
 * `/demo/recorded` (recovery links that open a buyer's prefilled checkout) and `/metrics` refuse a
 * client relayed from elsewhere or a page reached under a foreign host name (DNS rebinding),
 * exactly as the sandbox dashboard does; and a sandbox collector listens on 127.0.0.1 unless HOST
 * says otherwise. A live collector's `/metrics` is left to the reverse proxy.
 */
import { request } from 'node:http';
import { createConnection } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startBanner } from '../cli/banner.js';
import { parseConfig } from '../config.js';
import { konnektiveEnv, startTestCollector, testEnv, type TestCollector } from '../../test/support/test-collector.js';

let collector: TestCollector | undefined;
afterEach(async () => {
  await collector?.close();
  collector = undefined;
});

const GUARDED = ['/demo/', '/demo', '/demo/checkout', '/demo/recorded', '/metrics'];

/** A GET from this machine with the given headers (node:http: fetch may not set Host). */
function get(path: string, headers: Record<string, string> = {}): Promise<{ status: number; text: string; code: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = request(`${collector!.url}${path}`, { headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => {
        const json = String(res.headers['content-type']).includes('json');
        resolve({ status: res.statusCode!, text, code: json ? (JSON.parse(text) as { error?: { code: string } }).error?.code : undefined });
      });
    });
    req.once('error', reject);
    req.end();
  });
}

describe('sandbox mode: demo, recorded carts and metrics answer this machine only', () => {
  it('a client relayed from another address, or a foreign Host, gets 403 with nothing of the page', async () => {
    collector = await startTestCollector(testEnv(), { runWorker: false });
    for (const path of GUARDED) {
      const local = await get(path);
      expect(local.status, path).toBe(path === '/demo' ? 302 : 200);

      const relayed = await get(path, { 'x-forwarded-for': '203.0.113.9' });
      expect(relayed, path).toMatchObject({ status: 403, code: 'loopback_only' });
      const forwarded = await get(path, { forwarded: 'for=198.51.100.7' });
      expect(forwarded, path).toMatchObject({ status: 403, code: 'loopback_only' });

      const rebound = await get(path, { host: `rebind.attacker.example:${collector.port}` });
      expect(rebound, path).toMatchObject({ status: 403, code: 'host_not_allowed' });
      for (const refused of [relayed, forwarded, rebound]) {
        expect(refused.text).not.toMatch(/funnelbeacon_|<script|\/r\//);
      }
    }
    // The rest of the collector is not behind the guard.
    expect((await get('/healthz', { 'x-forwarded-for': '203.0.113.9' })).status).toBe(200);
    expect((await get('/f.js', { 'x-forwarded-for': '203.0.113.9' })).status).toBe(200);
  });

  it('a live collector serves /metrics to any client (the reverse proxy restricts it) and has no demo', async () => {
    collector = await startTestCollector(konnektiveEnv('http://127.0.0.1:9'), { runWorker: false });
    const remote = await get('/metrics', { 'x-forwarded-for': '203.0.113.9', host: 'collect.example.com' });
    expect(remote.status).toBe(200);
    expect(remote.text).toContain('funnelbeacon_events_accepted_total');
    expect((await get('/demo/recorded')).status).toBe(404);
  });
});

/** Whether a TCP connection to host:port is accepted. */
function connects(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

describe('HOST', () => {
  it('defaults to 127.0.0.1 in sandbox mode and 0.0.0.0 otherwise; an explicit HOST wins', () => {
    const host = (env: Record<string, string>) => {
      const result = parseConfig(env);
      if (!result.ok) throw new Error(result.problems.join('; '));
      return result.config.host;
    };
    const live = { SECRET: 'x'.repeat(32), ALLOWED_ORIGINS: 'https://offer.example', KONNEKTIVE_LOGIN_ID: 'id', KONNEKTIVE_PASSWORD: 'pw', KONNEKTIVE_CAMPAIGNS: '12' };
    expect(host({})).toBe('127.0.0.1');
    expect(host({ HOST: ' ' })).toBe('127.0.0.1');
    expect(host({ HOST: '0.0.0.0' })).toBe('0.0.0.0');
    expect(host(live)).toBe('0.0.0.0');
    expect(host({ ...live, HOST: '127.0.0.1' })).toBe('127.0.0.1');
  });

  it('a sandbox collector without HOST listens on 127.0.0.1 only, and its banner says so', async () => {
    const env = testEnv();
    delete env.HOST;
    collector = await startTestCollector(env, { runWorker: false });
    expect(collector.config.host).toBe('127.0.0.1');
    expect(await connects('127.0.0.1', collector.port)).toBe(true);
    // Bound to 0.0.0.0 it would take any address of the machine, 127.0.0.2 included.
    expect(await connects('127.0.0.2', collector.port)).toBe(false);
    expect(startBanner(collector.config, collector.port)).toContain(`Listening    127.0.0.1:${collector.port}: this machine only (HOST=0.0.0.0 opens it to the network)`);
    await collector.close();

    collector = await startTestCollector(testEnv({ HOST: '0.0.0.0' }), { runWorker: false });
    expect(await connects('127.0.0.2', collector.port)).toBe(true);
  });

  it('the banner of a sandbox collector open to the network says what other machines can reach', () => {
    const parsed = parseConfig({ HOST: '0.0.0.0', PORT: '8787' });
    if (!parsed.ok) throw new Error(parsed.problems.join('; '));
    expect(startBanner(parsed.config, 8787)).toContain('Listening    0.0.0.0:8787: other machines can send events and open recovery links; the dashboard, demo and metrics answer this machine only');
  });
});
