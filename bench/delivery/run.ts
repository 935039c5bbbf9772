/**
 * bench/delivery: the outbox relay against its upstreams, on the real collector (SQLite store,
 * ingest, sweeper, outbox worker, rate gate) and the upstream doubles, all on 127.0.0.1 and the
 * wall clock. Each section prints its figure as a ratio to its goal (docs/BENCHMARKS.md):
 *
 *   konnektive   calls/s with Konnektive answering in 300 ms, / (RELAY_CONCURRENCY / 0.3 s) (goal >= 0.9)
 *   tail         the same with a long tail (p95 three times the median), also / (RELAY_CONCURRENCY / mean latency) (goal >= 0.8)
 *   activecampaign  calls/s draining a backlog of CARTs, / the account's limit (goal 0.9-1), the most
 *                in any 1 s window (goal <= the limit) and 429 answers (goal 0)
 *   isolation    Konnektive calls/s while ActiveCampaign answers 429 for 5 s, / the same while it is healthy (goal >= 0.9)
 *   load         a fixed offered load of the funnel mix through POST /v1/events: per upstream, outbox
 *                drain rate / fill rate (goal >= 1 where the upstream's limit allows it) and the
 *                backlog at the end against the backlog at 10 s (goal: not larger)
 *
 *   npm run build && flock /tmp/bench.lock node dist/bench/delivery.js [--only konnektive,tail,...]
 *     [--concurrency 32] [--window 8] [--carts 40] [--rate 5] [--load-rate 500] [--load-seconds 60]
 *
 * Konnektive's latency and ActiveCampaign's 429s come from a stand-in: a small proxy in front of
 * each double that waits, or answers itself, before passing the request on. Every section stops
 * by itself; the defaults take about three minutes in all.
 */
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { parseConfig } from '../../collector/config.js';
import { createLogger } from '../../collector/logger.js';
import { startCollector, type RunningCollector } from '../../collector/server.js';
import { startActiveCampaignDouble, type ActiveCampaignDouble } from '../../test/doubles/activecampaign-double.js';
import { startKonnektiveDouble } from '../../test/doubles/konnektive-double.js';

const { values } = parseArgs({
  options: {
    only: { type: 'string', default: 'konnektive,tail,activecampaign,isolation,load' },
    concurrency: { type: 'string', default: '32' },
    window: { type: 'string', default: '8' },
    carts: { type: 'string', default: '40' },
    rate: { type: 'string', default: '5' },
    'load-rate': { type: 'string', default: '500' },
    'load-seconds': { type: 'string', default: '60' },
  },
});
const sections = new Set(values.only.split(','));
const concurrency = Number(values.concurrency);
const windowS = Number(values.window);
const carts = Number(values.carts);
const acRate = Number(values.rate);
const loadRate = Number(values['load-rate']);
const loadSeconds = Number(values['load-seconds']);
const command = `node dist/bench/delivery.js ${process.argv.slice(2).join(' ')}`.trim();

const UA = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const ORIGIN = 'http://localhost:5173';
const MEDIAN_MS = 300;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// --- stand-ins: a double behind a proxy that adds latency or answers for it ---------------------

interface StandIn {
  url: string;
  /** When each call was answered (ms, performance.now()), by status. */
  answered: { at: number; status: number }[];
  /** The latency of the next call, in ms. */
  latency: () => number;
  /** Answers a call itself (a 429) instead of passing it on; undefined passes it on. */
  intercept: (() => { status: number; headers: Record<string, string>; body: string } | undefined) | undefined;
  close(): Promise<void>;
}

async function startStandIn(target: string): Promise<StandIn> {
  const standIn: StandIn = { url: '', answered: [], latency: () => 0, intercept: undefined, close: async () => {} };
  const body = async (req: IncomingMessage) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  };
  const server: Server = createServer((req, res) => {
    void (async () => {
      const payload = await body(req);
      const own = standIn.intercept?.();
      if (own) {
        res.writeHead(own.status, own.headers).end(own.body);
        standIn.answered.push({ at: performance.now(), status: own.status });
        return;
      }
      const wait = standIn.latency();
      if (wait > 0) await sleep(wait);
      const headers = Object.fromEntries(Object.entries(req.headers).filter(([name]) => !['host', 'connection', 'content-length'].includes(name))) as Record<string, string>;
      try {
        const answer = await fetch(target + req.url, { method: req.method!, headers, ...(payload.length > 0 ? { body: payload } : {}), redirect: 'manual' });
        const text = Buffer.from(await answer.arrayBuffer());
        const out: Record<string, string> = {};
        answer.headers.forEach((value, name) => {
          if (!['content-length', 'content-encoding', 'transfer-encoding', 'connection', 'keep-alive'].includes(name)) out[name] = value;
        });
        res.writeHead(answer.status, out).end(text);
        standIn.answered.push({ at: performance.now(), status: answer.status });
      } catch {
        res.destroy();
      }
    })();
  });
  server.keepAliveTimeout = 30_000;
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  standIn.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  standIn.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return standIn;
}

/** A latency with the given median whose p95 is three times it (log-normal). */
function longTail(median: number): () => number {
  const sigma = Math.log(3) / 1.6449;
  return () => {
    const u = Math.random() || 1e-12;
    const v = Math.random();
    const normal = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    return median * Math.exp(sigma * normal);
  };
}

// --- one collector with its doubles --------------------------------------------------------------

interface Rig {
  collector: RunningCollector;
  konnektive: StandIn;
  activeCampaign: StandIn;
  ac: ActiveCampaignDouble;
  close(): Promise<void>;
}

/** `direct`: the collector calls the doubles themselves, without the stand-ins' extra hop (the load section). */
async function startRig(options: { runWorker: boolean; runSweeper?: boolean; direct?: boolean; env?: Record<string, string> }): Promise<Rig> {
  const crm = await startKonnektiveDouble({ loginId: 'bench', password: 'bench', campaigns: ['12'] });
  const ac = await startActiveCampaignDouble({ apiKey: 'bench-key', rateLimitPerSecond: acRate });
  const konnektive = await startStandIn(crm.url);
  const activeCampaign = await startStandIn(ac.url);
  const dir = mkdtempSync(join(tmpdir(), 'funnelbeacon-delivery-bench-'));
  const parsed = parseConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    DATABASE_URL: `file:${join(dir, 'bench.db')}`,
    SECRET: 'bench-secret-that-is-long-enough-000000000',
    ALLOWED_ORIGINS: ORIGIN,
    KONNEKTIVE_LOGIN_ID: 'bench',
    KONNEKTIVE_PASSWORD: 'bench',
    KONNEKTIVE_API_URL: options.direct ? crm.url : konnektive.url,
    KONNEKTIVE_CAMPAIGNS: '12',
    EMIT_VIA: 'activecampaign',
    ACTIVECAMPAIGN_API_URL: options.direct ? ac.url : activeCampaign.url,
    ACTIVECAMPAIGN_API_KEY: 'bench-key',
    ACTIVECAMPAIGN_RATE_LIMIT: String(acRate),
    RELAY_CONCURRENCY: String(concurrency),
    ABANDON_AFTER: '1s',
    RATE_LIMIT_PER_MINUTE: '100000000',
    RATE_LIMIT_BYTES_PER_MINUTE: '100000000000',
    LOG_LEVEL: 'silent',
    ...options.env,
  });
  if (!parsed.ok) throw new Error(parsed.problems.join('\n'));
  const collector = await startCollector(parsed.config, {
    logger: createLogger('silent'),
    runSweeper: options.runSweeper ?? false,
    runWorker: options.runWorker,
    runRetention: false,
    leadSettleMs: 0,
  });
  return {
    collector,
    konnektive,
    activeCampaign,
    ac,
    async close() {
      await collector.close();
      await konnektive.close();
      await activeCampaign.close();
      await crm.close();
      await ac.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function post(collector: RunningCollector, body: unknown): Promise<{ session: string }> {
  const res = await fetch(`${collector.url}/v1/events`, {
    method: 'POST',
    headers: { 'content-type': 'text/plain', origin: ORIGIN, 'user-agent': UA },
    body: JSON.stringify(body),
  });
  if (res.status !== 200) throw new Error(`ingest answered ${res.status}`);
  return (await res.json()) as { session: string };
}

const page = (name: string, url: string) => ({ id: randomUUID(), type: 'page', page: name, url });
const lead = (i: number) => ({ id: randomUUID(), type: 'lead', fields: { firstName: 'Ann', lastName: 'Lee', emailAddress: `buyer${i}@example.com` } });
const cart = () => ({ id: randomUUID(), type: 'cart', items: [{ id: '41', name: 'Bottle', price: 39.95, qty: 1 }], currency: 'USD' });

/** `count` new visitors' first page views (one Import Click each), `parallel` requests at a time. */
async function visitors(collector: RunningCollector, count: number, parallel = 16): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < count) {
        next++;
        await post(collector, { campaign: '12', events: [page('presell', 'https://offer.example/presell')] });
      }
    }),
  );
}

/** `count` buyers who reach checkout with a lead and a cart, then leave. */
async function checkouts(collector: RunningCollector, count: number, from = 0): Promise<void> {
  for (let i = from; i < from + count; i++) {
    await post(collector, { campaign: '12', events: [page('checkout', 'https://secure.example/checkout'), lead(i), cart()] });
  }
}

async function idle(collector: RunningCollector): Promise<void> {
  for (;;) {
    const counts = await collector.store.countJobsByState();
    if (counts.pending === 0 && counts.running === 0) return;
    await sleep(100);
  }
}

/** Calls answered (not intercepted) with a status other than 429 between two times. */
function callsBetween(standIn: StandIn, from: number, to: number): number {
  return standIn.answered.filter((call) => call.at >= from && call.at < to && call.status !== 429).length;
}

const results: string[] = [];
function report(line: string): void {
  console.log(line);
  results.push(line);
}

// --- sections ------------------------------------------------------------------------------------

/** Konnektive calls/s with a backlog of Import Clicks and this latency, over the window after a 1 s warm-up. */
async function konnektiveRate(latency: () => number, label: string): Promise<{ rate: number; latencies: number[] }> {
  const rig = await startRig({ runWorker: false });
  try {
    const ideal = concurrency / (MEDIAN_MS / 1000);
    await visitors(rig.collector, Math.ceil(ideal * (windowS + 2) * 1.5));
    const latencies: number[] = [];
    rig.konnektive.latency = () => {
      const ms = latency();
      latencies.push(ms);
      return ms;
    };
    rig.collector.worker.start();
    const from = performance.now() + 1_000;
    await sleep(1_000 + windowS * 1_000);
    const rate = callsBetween(rig.konnektive, from, from + windowS * 1_000) / windowS;
    console.log(`  ${label}: ${rate.toFixed(1)} calls/s over ${windowS} s`);
    return { rate, latencies };
  } finally {
    await rig.close();
  }
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? NaN;
}

async function konnektiveSection(): Promise<void> {
  const { rate } = await konnektiveRate(() => MEDIAN_MS, 'Konnektive at 300 ms');
  report(`konnektive: ${rate.toFixed(1)} calls/s / (RELAY_CONCURRENCY ${concurrency} / 0.3 s = ${(concurrency / 0.3).toFixed(1)}) = ${(rate / (concurrency / 0.3)).toFixed(3)} (goal >= 0.9)   [${command}]`);
}

async function tailSection(): Promise<void> {
  const { rate, latencies } = await konnektiveRate(longTail(MEDIAN_MS), 'Konnektive with a long tail');
  const sorted = [...latencies].sort((a, b) => a - b);
  const mean = latencies.reduce((sum, ms) => sum + ms, 0) / latencies.length;
  report(
    `tail: latency median ${percentile(sorted, 0.5).toFixed(0)} ms, p95 ${percentile(sorted, 0.95).toFixed(0)} ms, mean ${mean.toFixed(0)} ms; ` +
      `${rate.toFixed(1)} calls/s / (${concurrency} / 0.3 s) = ${(rate / (concurrency / 0.3)).toFixed(3)}; ` +
      `/ (${concurrency} / mean latency = ${(concurrency / (mean / 1000)).toFixed(1)}) = ${(rate / (concurrency / (mean / 1000))).toFixed(3)} (goal >= 0.8)   [${command}]`,
  );
}

/** Buyers' CARTs due at once: ingest, Konnektive's calls, then one sweep queues every CART. */
async function cartBacklog(rig: Rig, count: number): Promise<void> {
  await checkouts(rig.collector, count);
  await idle(rig.collector);
  await sleep(1_100);
  await rig.collector.sweeper.sweepOnce();
  rig.collector.worker.notify();
}

async function activeCampaignSection(): Promise<void> {
  const rig = await startRig({ runWorker: true });
  try {
    await cartBacklog(rig, carts);
    await idle(rig.collector);
    const accepted = rig.ac.requests.filter((r) => r.status !== 429 && r.status !== 0);
    const seconds = (accepted.at(-1)!.at - accepted[0]!.at) / 1000;
    const achieved = (accepted.length - 1) / seconds;
    const counts = await rig.collector.store.countJobsByState();
    report(
      `activecampaign: ${accepted.length} calls for ${carts} CARTs in ${seconds.toFixed(1)} s = ${achieved.toFixed(2)} calls/s / limit ${acRate} = ${(achieved / acRate).toFixed(3)} (goal 0.9-1); ` +
        `most in any 1 s window: ${rig.ac.maxRequestsInAnyWindow()} (goal <= ${acRate}); 429s: ${rig.ac.stats.rateLimited} (goal 0); dead letters: ${counts.dead}   [${command}]`,
    );
  } finally {
    await rig.close();
  }
}

async function isolationSection(): Promise<void> {
  const rig = await startRig({ runWorker: true });
  try {
    // Enough CARTs to keep ActiveCampaign busy through both windows (3 calls each at the limit).
    const cartCount = Math.ceil(((2 * windowS + 4) * acRate) / 3) + 5;
    await cartBacklog(rig, cartCount);
    // Then a Konnektive backlog at 300 ms, larger than both windows can drain.
    rig.konnektive.latency = () => MEDIAN_MS;
    await visitors(rig.collector, Math.ceil((concurrency / 0.3) * (2 * windowS + 3) * 1.3));
    await sleep(1_000);
    const healthyFrom = performance.now();
    await sleep(windowS * 1_000);
    const healthy = callsBetween(rig.konnektive, healthyFrom, healthyFrom + windowS * 1_000) / windowS;
    const acHealthy = callsBetween(rig.activeCampaign, healthyFrom, healthyFrom + windowS * 1_000) / windowS;
    // ActiveCampaign answers every request 429 (Retry-After: 1) for 5 s.
    const troubleFrom = performance.now();
    rig.activeCampaign.intercept = () =>
      performance.now() < troubleFrom + 5_000 ? { status: 429, headers: { 'retry-after': '1', 'content-type': 'application/json' }, body: '{"message":"Too Many Requests"}' } : undefined;
    await sleep(windowS * 1_000);
    const troubled = callsBetween(rig.konnektive, troubleFrom, troubleFrom + windowS * 1_000) / windowS;
    const refused = rig.activeCampaign.answered.filter((call) => call.status === 429).length;
    const acAfter = callsBetween(rig.activeCampaign, troubleFrom + 5_000, troubleFrom + windowS * 1_000) / (windowS - 5);
    report(
      `isolation: Konnektive ${troubled.toFixed(1)} calls/s while ActiveCampaign answered 429 for 5 s (${refused} refused) / ${healthy.toFixed(1)} calls/s while it was healthy (${acHealthy.toFixed(2)} AC calls/s) = ${(troubled / healthy).toFixed(3)} (goal >= 0.9); ` +
        `ActiveCampaign afterwards: ${acAfter.toFixed(2)} calls/s   [${command}]`,
    );
  } finally {
    rig.activeCampaign.intercept = undefined;
    await rig.close();
  }
}

// --- a fixed offered load of the funnel mix -------------------------------------------------------

/**
 * The funnel: every visitor lands on the presell page; half go on to the lead page, 70% of those
 * type a lead, and 60% of those reach checkout with a cart and leave (a CART after ABANDON_AFTER).
 * Each step is one request; a request is one visitor's next step, or a new visitor's first.
 */
type Step = { token: string; visitor: number; next: 'lead-page' | 'lead' | 'checkout' };

async function loadSection(): Promise<void> {
  const rig = await startRig({ runWorker: true, runSweeper: true, direct: true, env: { ABANDON_AFTER: '5s', SWEEP_EVERY: '1s' } });
  const sql = rig.collector.store.sql();
  const snapshot = async () => {
    const rows = await sql.all<{ upstream: string; state: string; n: number }>('SELECT upstream, state, COUNT(*) AS n FROM outbox GROUP BY upstream, state');
    const by: Record<string, { filled: number; drained: number; backlog: number }> = { konnektive: { filled: 0, drained: 0, backlog: 0 }, activecampaign: { filled: 0, drained: 0, backlog: 0 } };
    for (const row of rows) {
      const entry = (by[row.upstream] ??= { filled: 0, drained: 0, backlog: 0 });
      entry.filled += Number(row.n);
      if (row.state === 'done' || row.state === 'dead') entry.drained += Number(row.n);
      else entry.backlog += Number(row.n);
    }
    return by;
  };
  try {
    const waiting: Step[] = [];
    let visitorsSoFar = 0;
    let sent = 0;
    let failed = 0;
    let inFlight = 0;
    let skipped = 0;
    const start = performance.now();
    const end = start + loadSeconds * 1_000;
    let at10: Awaited<ReturnType<typeof snapshot>> | undefined;
    const send = async () => {
      const step = waiting.shift();
      try {
        if (!step) {
          const visitor = visitorsSoFar++;
          const { session } = await post(rig.collector, { campaign: '12', events: [page('presell', 'https://offer.example/presell')] });
          if (Math.random() < 0.5) waiting.push({ token: session, visitor, next: 'lead-page' });
        } else if (step.next === 'lead-page') {
          await post(rig.collector, { campaign: '12', session: step.token, events: [page('lead', 'https://offer.example/lead')] });
          if (Math.random() < 0.7) waiting.push({ ...step, next: 'lead' });
        } else if (step.next === 'lead') {
          await post(rig.collector, { campaign: '12', session: step.token, events: [lead(step.visitor)] });
          if (Math.random() < 0.6) waiting.push({ ...step, next: 'checkout' });
        } else {
          await post(rig.collector, { campaign: '12', session: step.token, events: [page('checkout', 'https://secure.example/checkout'), cart()] });
        }
      } catch {
        failed++;
      }
    };
    // Paced: the request of slot n goes at start + n / rate, whatever the answers before it.
    // A request whose slot comes while 512 are unanswered is skipped and counted, not queued.
    for (let n = 0; ; n++) {
      const due = start + (n * 1000) / loadRate;
      if (due >= end) break;
      const wait = due - performance.now();
      if (wait > 1) await sleep(wait);
      if (!at10 && performance.now() - start >= 10_000) at10 = await snapshot();
      if (inFlight >= 512) {
        skipped++;
        continue;
      }
      inFlight++;
      sent++;
      void send().finally(() => inFlight--);
    }
    while (inFlight > 0) await sleep(10);
    const seconds = (performance.now() - start) / 1000;
    const final = await snapshot();
    report(`load: ${sent} requests of the funnel mix in ${seconds.toFixed(1)} s (${(sent / seconds).toFixed(0)}/s offered ${loadRate}/s; ${skipped} skipped at 512 unanswered, ${failed} failed)   [${command}]`);
    for (const upstream of ['konnektive', 'activecampaign'] as const) {
      const f = final[upstream]!;
      const ten = at10?.[upstream] ?? { filled: 0, drained: 0, backlog: 0 };
      // From 10 s on (a warm worker, the first CARTs due) to the end of the offered load.
      const span = seconds - 10;
      const fill = (f.filled - ten.filled) / span;
      const drain = (f.drained - ten.drained) / span;
      const acCalls = rig.ac.requests.filter((r) => r.status !== 429 && r.status !== 0).length;
      const limited =
        upstream === 'activecampaign'
          ? ` (the account takes ${acRate} requests/s, about ${(acRate / 3).toFixed(1)} CARTs/s, so a larger fill cannot drain: ${(acCalls / seconds).toFixed(2)} calls/s sent, most in any 1 s window ${rig.ac.maxRequestsInAnyWindow()}, 429s ${rig.ac.stats.rateLimited})`
          : '';
      report(
        `load ${upstream}: from 10 s to the end, filled ${fill.toFixed(1)} jobs/s, drained ${drain.toFixed(1)} jobs/s, drain / fill ${(drain / fill).toFixed(3)} (goal >= 1); backlog at 10 s ${ten.backlog}, at the end ${f.backlog} (goal: not larger)${limited}`,
      );
    }
  } finally {
    await rig.close();
  }
}

const plan: [string, () => Promise<void>][] = [
  ['konnektive', konnektiveSection],
  ['tail', tailSection],
  ['activecampaign', activeCampaignSection],
  ['isolation', isolationSection],
  ['load', loadSection],
];
const began = performance.now();
for (const [name, run] of plan) {
  if (!sections.has(name)) continue;
  const at = performance.now();
  console.log(`-- ${name}`);
  await run();
  console.log(`   (${((performance.now() - at) / 1000).toFixed(0)} s)`);
}
console.log(`\ndelivery benchmark, RELAY_CONCURRENCY=${concurrency}, ActiveCampaign limit ${acRate}/s, ${((performance.now() - began) / 1000).toFixed(0)} s in all:`);
for (const line of results) console.log(`  ${line}`);
