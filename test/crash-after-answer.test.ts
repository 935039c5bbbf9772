/**
 * Three collectors on one PostgreSQL, each a real `funnelbeacon serve` process, and a collector
 * killed with SIGKILL right after Konnektive answered it: the answer is lost with the process.
 * Whoever takes the dead collector's jobs over must not repeat a call that is not idempotent
 * (a later Import Click, the Import Lead that creates the partial), and a buyer who paid the
 * partial gets an ORDER, never an abandoned-cart CART.
 *
 * Each collector reaches Konnektive through its own small proxy, which is what lets the test aim
 * the kill: the proxy passes Konnektive's answer on, then kills the collector that asked.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { PostgresStore } from '../collector/store/postgres-store.js';
import type { IngestResponse } from '../collector/wire-schema.js';
import { startActiveCampaignDouble } from './doubles/activecampaign-double.js';
import { startKonnektiveDouble } from './doubles/konnektive-double.js';
import { testPostgres } from './support/postgres.js';
import { BROWSER_UA, eventually, LANDER_ORIGIN, TEST_SECRET } from './support/test-collector.js';

const postgres = await testPostgres();

interface Collector {
  name: string;
  child: ChildProcess;
  port: number;
  exited: Promise<void>;
  killed: boolean;
}

/** What the proxies look for in a Konnektive call; the first collector that makes it is killed. */
type KillRule = (path: string, params: URLSearchParams) => boolean;

describe.skipIf(postgres.skip !== undefined)('a collector killed right after Konnektive answered', () => {
  afterAll(() => postgres.dropSchemas());

  it('repeats no click, creates no second partial, and sends the ORDER for a buyer who paid', async () => {
    expect(existsSync('dist/cli.js'), 'run `npm run build` first (npm test does)').toBe(true);
    const crm = await startKonnektiveDouble({ loginId: 'fb-login', password: 'fb-password', campaigns: ['12'] });
    const ac = await startActiveCampaignDouble({ apiKey: 'ac-test-key' });
    const databaseUrl = postgres.newSchemaUrl();
    const collectors: Collector[] = [];
    const proxies: http.Server[] = [];
    let killRule: KillRule | undefined;
    /** Runs as the kill happens: the buyer pays while the dead collector's jobs wait for takeover. */
    let onKill: (() => void) | undefined;
    const kills: string[] = [];

    const startProxy = (owner: () => Collector | undefined) =>
      new Promise<string>((resolve) => {
        const proxy = http.createServer((req, res) => {
          const chunks: Buffer[] = [];
          req.on('data', (chunk: Buffer) => chunks.push(chunk));
          req.on('end', async () => {
            const body = Buffer.concat(chunks);
            const upstream = await fetch(new URL(req.url ?? '/', crm.url), {
              method: req.method ?? 'POST',
              headers: { 'content-type': req.headers['content-type'] ?? 'application/x-www-form-urlencoded' },
              body,
            });
            const answer = Buffer.from(await upstream.arrayBuffer());
            const rule = killRule;
            const target = owner();
            const aimed = rule !== undefined && target !== undefined && !target.killed && rule(new URL(req.url ?? '/', crm.url).pathname, new URLSearchParams(body.toString()));
            res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/json' });
            res.end(answer, () => {
              if (!aimed) return;
              killRule = undefined;
              target.killed = true;
              target.child.kill('SIGKILL');
              kills.push(target.name);
              onKill?.();
            });
          });
        });
        proxies.push(proxy);
        proxy.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(proxy.address() as AddressInfo).port}`));
      });

    const startCollector = async (name: string): Promise<Collector> => {
      let self: Collector | undefined;
      const apiUrl = await startProxy(() => self);
      const child = spawn(process.execPath, ['dist/cli.js', 'serve'], {
        env: {
          PATH: process.env.PATH,
          PORT: '0',
          HOST: '127.0.0.1',
          DATABASE_URL: databaseUrl,
          SECRET: TEST_SECRET,
          ALLOWED_ORIGINS: LANDER_ORIGIN,
          KONNEKTIVE_LOGIN_ID: 'fb-login',
          KONNEKTIVE_PASSWORD: 'fb-password',
          KONNEKTIVE_API_URL: apiUrl,
          KONNEKTIVE_CAMPAIGNS: '12',
          EMIT_VIA: 'activecampaign',
          ACTIVECAMPAIGN_API_URL: ac.url,
          ACTIVECAMPAIGN_API_KEY: 'ac-test-key',
          ABANDON_AFTER: '1500ms',
          UPSELL_WINDOW: '1500ms',
          SWEEP_EVERY: '250ms',
          OUTBOX_LEASE: '1s',
          LOG_LEVEL: 'info',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
      let output = '';
      child.stderr.on('data', (chunk: Buffer) => (output += chunk));
      const port = await new Promise<number>((resolve, reject) => {
        child.stdout.on('data', (chunk: Buffer) => {
          output += chunk;
          const match = /"port":(\d+)/.exec(output);
          if (match) resolve(Number(match[1]));
        });
        void exited.then(() => reject(new Error(`collector ${name} exited early: ${output}`)));
      });
      self = { name, child, port, exited, killed: false };
      collectors.push(self);
      return self;
    };

    const store = PostgresStore.fromUrl(databaseUrl);
    try {
      // One at a time, so the first one migrates the fresh schema.
      for (const name of ['a', 'b', 'c']) await startCollector(name);
      const live = () => collectors.find((collector) => !collector.killed)!;
      const post = async (session: string | undefined, events: unknown[]) => {
        const res = await fetch(`http://127.0.0.1:${live().port}/v1/events`, {
          method: 'POST',
          headers: { 'content-type': 'text/plain', origin: LANDER_ORIGIN, 'user-agent': BROWSER_UA },
          body: JSON.stringify({ ...(session ? { session } : {}), campaign: '12', events }),
        });
        expect(res.status).toBe(200);
        return (await res.json()) as IngestResponse;
      };
      const page = (name: string, url: string) => ({ id: randomUUID(), type: 'page', page: name, url });

      const first = await post(undefined, [page('presell', 'https://offer.example/?affId=A1&utm_content=120208577726460731')]);
      const sessionId = first.ids.session;
      await eventually(() => crm.sessions.size === 1, { timeoutMs: 10_000 });

      // 1. Killed right after the lead page's click was answered. Then, 2., whoever takes that
      // over is killed right after the Import Lead that created the partial was answered, and
      // the buyer pays that partial at once (on the checkout, which the tag does not see).
      let partial: string | undefined;
      killRule = (path, params) => path === '/landers/clicks/import/' && params.get('pageType') === 'leadPage';
      onKill = () => {
        killRule = (path, params) => path === '/leads/import/' && !params.has('orderId');
        onKill = () => {
          partial = [...crm.leads.keys()][0];
          crm.completeOrder(partial!, { items: [{ productId: '41', name: 'Bottle', price: '39.95', qty: 1 }] });
        };
      };
      await post(first.session, [
        page('lead', 'https://offer.example/lead'),
        { id: randomUUID(), type: 'lead', fields: { firstName: 'Ann', lastName: 'Lee', emailAddress: 'ann@example.com' } },
      ]);
      await eventually(async () => kills.length === 2 && (await store.getSession(sessionId))?.konnektive.orderId !== undefined, { timeoutMs: 45_000 }).catch(async (error: Error) => {
        throw new Error(`${error.message}: kills ${JSON.stringify(kills)}, konnektive ${JSON.stringify((await store.getSession(sessionId))?.konnektive)}, jobs ${JSON.stringify(await store.listJobs({ sessionId }))}`);
      });
      expect((await store.getSession(sessionId))?.konnektive.orderId).toBe(partial);

      await post(first.session, [page('checkout', 'https://secure.example/checkout'), { id: randomUUID(), type: 'cart', items: [{ id: '41', name: 'Bottle', price: 39.95, qty: 1 }], currency: 'USD' }]);
      // Idle past ABANDON_AFTER: the sweeper's recheck finds the partial paid.
      await eventually(() => [...ac.orders.values()].some((order) => order.externalid !== undefined && order.externalid !== null), { timeoutMs: 45_000 }).catch(async (error: Error) => {
        throw new Error(`${error.message}: session ${JSON.stringify(await store.getSession(sessionId))}, jobs ${JSON.stringify(await store.listJobs({ sessionId }))}`);
      });

      expect(kills).toHaveLength(2);
      expect(crm.leads.size).toBe(1);
      const [konnektiveSession] = [...crm.sessions.values()];
      expect(konnektiveSession!.clicks.map((click) => click.pageType)).toEqual(['presellPage', 'leadPage', 'checkoutPage']);
      const orders = [...ac.orders.values()];
      // One record, the paid order; no abandoned cart was ever created (an ORDER carries the cart
      // id only when it recovers a CART that went out).
      expect(orders.map((order) => [order.externalid, order.abandonedDate ?? null, order.email])).toEqual([[partial, null, 'ann@example.com']]);
      expect((await store.getSession(sessionId))?.state).toBe('complete');
    } finally {
      for (const collector of collectors) if (!collector.killed) collector.child.kill('SIGTERM');
      await Promise.all(collectors.map((collector) => collector.exited));
      await store.close();
      for (const proxy of proxies) proxy.close();
      await crm.close();
      await ac.close();
    }
  }, 120_000);
});
