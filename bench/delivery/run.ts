/**
 * bench/delivery: drains a backlog of due carts into the ActiveCampaign double at its rate limit
 * and prints the achieved request rate as a ratio to the limit (goal >= 0.9) and the number of
 * 429 answers (goal 0). Everything is real: the collector (SQLite store, sweeper, outbox worker,
 * rate gate) and both doubles on loopback, on the wall clock.
 *
 *   npm run build && node dist/bench/delivery.js [--carts 2000] [--rate 5]
 *
 * Each cart costs ActiveCampaign three requests (customer lookup, customer create, cart), so
 * 2,000 carts at 5 requests per second take about 20 minutes; `--rate` scales both the double's
 * limit and the collector's for a quicker run of the same measurement.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { parseConfig } from '../../collector/config.js';
import { createLogger } from '../../collector/logger.js';
import { startCollector } from '../../collector/server.js';
import { startActiveCampaignDouble } from '../../test/doubles/activecampaign-double.js';
import { startKonnektiveDouble } from '../../test/doubles/konnektive-double.js';

const { values } = parseArgs({ options: { carts: { type: 'string', default: '2000' }, rate: { type: 'string', default: '5' } } });
const carts = Number(values.carts);
const rate = Number(values.rate);
const UA = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';

const crm = await startKonnektiveDouble({ loginId: 'bench', password: 'bench', campaigns: ['12'] });
const ac = await startActiveCampaignDouble({ apiKey: 'bench-key', rateLimitPerSecond: rate });
const dir = mkdtempSync(join(tmpdir(), 'funnelbeacon-delivery-bench-'));
const parsed = parseConfig({
  PORT: '0',
  HOST: '127.0.0.1',
  DATABASE_URL: `file:${join(dir, 'bench.db')}`,
  SECRET: 'bench-secret-that-is-long-enough-000000000',
  ALLOWED_ORIGINS: 'http://localhost:5173',
  KONNEKTIVE_LOGIN_ID: 'bench',
  KONNEKTIVE_PASSWORD: 'bench',
  KONNEKTIVE_API_URL: crm.url,
  KONNEKTIVE_CAMPAIGNS: '12',
  EMIT_VIA: 'activecampaign',
  ACTIVECAMPAIGN_API_URL: ac.url,
  ACTIVECAMPAIGN_API_KEY: 'bench-key',
  ACTIVECAMPAIGN_RATE_LIMIT: String(rate),
  ABANDON_AFTER: '1s',
  RATE_LIMIT_PER_MINUTE: '1000000',
  RATE_LIMIT_BYTES_PER_MINUTE: '100000000000',
  LOG_LEVEL: 'silent',
});
if (!parsed.ok) throw new Error(parsed.problems.join('\n'));
const collector = await startCollector(parsed.config, { logger: createLogger('silent'), runSweeper: false, leadSettleMs: 0 });

try {
  // The backlog: buyers who reached checkout with an email and a cart, then left.
  for (let i = 0; i < carts; i++) {
    const res = await fetch(`${collector.url}/v1/events`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain', origin: 'http://localhost:5173', 'user-agent': UA },
      body: JSON.stringify({
        campaign: '12',
        events: [
          { id: randomUUID(), type: 'page', page: 'checkout', url: 'https://secure.example/checkout' },
          { id: randomUUID(), type: 'lead', fields: { firstName: 'Ann', lastName: 'Lee', emailAddress: `buyer${i}@example.com` } },
          { id: randomUUID(), type: 'cart', items: [{ id: '41', name: 'Bottle', price: 39.95, qty: 1 }], currency: 'USD' },
        ],
      }),
    });
    if (res.status !== 200) throw new Error(`ingest answered ${res.status}`);
  }
  const idle = async () => {
    for (;;) {
      const counts = await collector.store.countJobsByState();
      if (counts.pending === 0 && counts.running === 0) return counts;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  };
  await idle();
  await new Promise((resolve) => setTimeout(resolve, 1_100));
  await collector.sweeper.sweepOnce();
  collector.worker.notify();
  const counts = await idle();

  const accepted = ac.requests.filter((r) => r.status !== 429 && r.status !== 0);
  const first = accepted[0]!.at;
  const last = accepted[accepted.length - 1]!.at;
  const seconds = (last - first) / 1000;
  const achieved = (accepted.length - 1) / seconds;
  const delivered = [...ac.orders.values()].filter((order) => order.externalcheckoutid).length;
  console.log(`delivery benchmark: ${carts} due carts into the ActiveCampaign double limited to ${rate} requests/s`);
  console.table([
    {
      'carts delivered': delivered,
      'AC requests': accepted.length,
      'drain s': seconds.toFixed(1),
      'achieved req/s': achieved.toFixed(2),
      '429s': ac.stats.rateLimited,
      'max in any 1 s window': ac.maxRequestsInAnyWindow(),
      'dead letters': counts.dead,
    },
  ]);
  console.log(`achieved rate / limit: ${(achieved / rate).toFixed(3)} (goal >= 0.9); 429 answers: ${ac.stats.rateLimited} (goal 0)`);
} finally {
  await collector.close();
  await crm.close();
  await ac.close();
  rmSync(dir, { recursive: true, force: true });
}
