/**
 * The lifecycle poll killed with SIGKILL right after Konnektive answered its last read, on both
 * stores: the collector restarted on the same store takes the poll over once its lease runs out,
 * reads the same days again and stores each change once, with exactly one delivery job each.
 *
 * The collector reaches Konnektive through a small proxy, which is what aims the kill: it passes
 * the Query Order answer on (the poll's last read; the writes come after it), then kills.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { startActiveCampaignDouble } from '../doubles/activecampaign-double.js';
import { startKonnektiveDouble } from '../doubles/konnektive-double.js';
import { eventually, LANDER_ORIGIN, TEST_SECRET } from '../support/test-collector.js';
import { faultBackends, spawnCollector, withStore, type SpawnedCollector } from './support.js';

const backends = await faultBackends();
const RECORDS = 650;

for (const backend of backends) {
  describe.skipIf(backend.skip !== undefined)(`lifecycle poll killed after Konnektive answered: ${backend.name}`, () => {
    afterAll(() => backend.cleanup());

    it('stores every change once, each with one delivery job, after a restart', async () => {
      const crm = await startKonnektiveDouble({ loginId: 'fb-login', password: 'fb-password', campaigns: ['12'] });
      const ac = await startActiveCampaignDouble({ apiKey: 'ac-test-key' });
      for (let i = 1; i <= RECORDS; i++) {
        crm.putTransaction({ transactionId: String(5000 + i), orderId: `O${i}`, txnType: 'SALE', responseType: 'SUCCESS', totalAmount: '19.95', emailAddress: `buyer${i}@example.com` });
      }
      let target: SpawnedCollector | undefined;
      let killed = false;
      const proxy = http.createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (chunk: Buffer) => chunks.push(chunk));
        req.on('end', async () => {
          const upstream = await fetch(new URL(req.url ?? '/', crm.url), {
            method: req.method ?? 'POST',
            headers: { 'content-type': req.headers['content-type'] ?? 'application/x-www-form-urlencoded' },
            body: Buffer.concat(chunks),
          });
          const answer = Buffer.from(await upstream.arrayBuffer());
          const aimed = !killed && target !== undefined && (req.url ?? '').startsWith('/order/query/');
          res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/json' });
          res.end(answer, () => {
            if (!aimed) return;
            killed = true;
            target!.child.kill('SIGKILL');
          });
        });
      });
      const proxyUrl = await new Promise<string>((resolve) => proxy.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(proxy.address() as AddressInfo).port}`)));
      const databaseUrl = backend.newDatabaseUrl();
      const env = (apiUrl: string) => ({
        SECRET: TEST_SECRET,
        ALLOWED_ORIGINS: LANDER_ORIGIN,
        KONNEKTIVE_LOGIN_ID: 'fb-login',
        KONNEKTIVE_PASSWORD: 'fb-password',
        KONNEKTIVE_API_URL: apiUrl,
        KONNEKTIVE_CAMPAIGNS: '12',
        EMIT_VIA: 'activecampaign',
        ACTIVECAMPAIGN_API_URL: ac.url,
        ACTIVECAMPAIGN_API_KEY: 'ac-test-key',
        LIFECYCLE_SYNC: 'on',
        KONNEKTIVE_TIMEZONE: 'UTC',
        SWEEP_EVERY: '200ms',
        OUTBOX_LEASE: '1s',
      });
      let restarted: SpawnedCollector | undefined;
      try {
        target = await spawnCollector(databaseUrl, env(proxyUrl));
        expect((await target.exited).signal).toBe('SIGKILL');
        restarted = await spawnCollector(databaseUrl, env(crm.url));
        const counts = await eventually(
          () =>
            withStore(databaseUrl, async (store) => {
              const polls = await store.listJobs({ sessionId: 'lifecycle:poll' });
              if (!polls.some((job) => job.state === 'done')) return undefined;
              const [row] = await store.sql().all<{ n: number | string }>('SELECT COUNT(*) AS n FROM lifecycle_events');
              const jobs = await store.sql().all<{ n: number | string }>("SELECT COUNT(*) AS n FROM outbox WHERE kind = 'lifecycle.deliver'");
              return { events: Number(row!.n), jobs: Number(jobs[0]!.n) };
            }),
          { timeoutMs: 30_000, everyMs: 200 },
        );
        expect(killed).toBe(true);
        expect(counts).toEqual({ events: RECORDS, jobs: RECORDS });
      } finally {
        restarted?.child.kill('SIGTERM');
        await restarted?.exited;
        proxy.close();
        await crm.close();
        await ac.close();
      }
    }, 60_000);
  });
}
