/**
 * Konnektive's postbacks through the real collector (store, outbox, lifecycle poll) against the
 * strict Konnektive double, on a virtual clock:
 * - GET with the fields in the query string, POST form-encoded and POST JSON (the payload shapes
 *   Konnektive's Postback Export Profiles send) each answer 200 with no body and start a poll now;
 * - a postback and the poll for the same change make one event;
 * - a wrong secret is answered exactly as an unknown path, whatever its length;
 * - a flood of postbacks leaves ingest answering and the outbox with at most one waiting poll;
 * - the secret never reaches the log.
 */
import { connect } from 'node:net';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { ActiveCampaignDouble } from '../../test/doubles/activecampaign-double.js';
import type { KonnektiveDouble } from '../../test/doubles/konnektive-double.js';
import { ev, eventually, startTestCollector, type TestCollector } from '../../test/support/test-collector.js';
import { emissionEnv, withUpstreamDoubles } from '../../test/support/upstream-doubles.js';
import type { VirtualClock } from '../../test/support/virtual-clock.js';
import { parseConfig } from '../config.js';
import { LIFECYCLE_POLL_KEY } from '../lifecycle/lifecycle-poller.js';
import { createLogger } from '../logger.js';
import { HINT_GAP_MS, MAX_POSTBACK_BYTES, POSTBACKS_PER_MINUTE, secretMatcher } from './postback-route.js';

const SECRET = 'pb-Zq8w3NfT6yL1vK0m';
const MINUTE = 60_000;
const NEW_YORK_WINTER = -300;

/** Lifecycle's postback payloads as Konnektive sends them (only mapped fields with a value). */
const NEW_SALE = {
  orderId: '6A2F1C0B9E',
  orderStatus: 'PENDING',
  responseType: 'SUCCESS',
  billingCycleNumber: '1',
  recurringStatus: 'PENDING',
  actualTransactionId: '88231',
  transactionId: 'ch_3PqXgateway',
  purchaseId: '4411',
  originalOrderId: '6A2F1C0B9E',
  fulfillmentStatus: 'HOLD',
  orderTotal: '199.00',
  currencyCode: 'USD',
  emailAddress: 'ann@example.com',
};
const REBILL = {
  orderId: '7B3E2D1C0F',
  originalOrderId: '6A2F1C0B9E',
  billingCycleNumber: '2',
  purchaseId: '4411',
  orderStatus: 'COMPLETE',
  responseType: 'SUCCESS',
  nextBillDate: '2026-12-28',
  orderTotal: '29.95',
};
const REFUNDED = {
  orderId: 6012,
  customerId: 311,
  orderStatus: 'REFUNDED',
  dateRefunded: '2026-05-28 18:04:03',
  refundReason: 'RDR',
  orderTotal: 279,
  cardExpiryDate: { date: '2029-01-01 00:00:00.000000', timezone_type: 3, timezone: 'America/New_York' },
};

function capturedLog() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  return { logger: createLogger('debug', stream), lines };
}

describe('Konnektive postbacks', { timeout: 60_000 }, () => {
  let clock: VirtualClock;
  let crm: KonnektiveDouble;
  let ac: ActiveCampaignDouble;
  let collector: TestCollector;

  withUpstreamDoubles(
    (doubles) => ({ clock, crm, ac } = doubles),
    () => collector,
  );

  const envWith = (over: Record<string, string> = {}) =>
    emissionEnv({ crm, ac }, 'activecampaign', { LIFECYCLE_SYNC: 'on', LIFECYCLE_POSTBACK_SECRET: SECRET, KONNEKTIVE_TIMEZONE: 'America/New_York', ...over });

  /** A collector whose ActiveCampaign side is held: these tests see what the poll found and queued. */
  async function start(env = envWith(), logger = createLogger('silent')): Promise<TestCollector> {
    crm.setUtcOffset(NEW_YORK_WINTER);
    const started = await startTestCollector(env, { clock, fetch: clock.fetch, runSweeper: false, logger });
    started.health.pause('activecampaign', 'held by the test');
    return started;
  }

  const url = (secret = SECRET, query = '') => `${collector.url}/v1/konnektive/postback/${secret}${query}`;
  const queries = () => crm.calls.filter((call) => ['/transactions/query/', '/purchase/query/', '/order/query/'].includes(call.path));
  const polls = () => collector.store.listJobs({ sessionId: LIFECYCLE_POLL_KEY });
  /** Waits until no lifecycle poll is running or due (deliveries stay held). */
  const settlePolls = async () => {
    collector.worker.notify();
    await eventually(async () => !(await polls()).some((job) => job.state === 'running' || (job.state === 'pending' && job.runAt <= clock.now())), { timeoutMs: 20_000 });
  };
  const events = () => collector.store.sql().all<{ id: string; kind: string }>('SELECT id, kind FROM lifecycle_events ORDER BY id');

  it('accepts the query string, a form-encoded body and a JSON body, answers 200 with no body, and polls Konnektive at once', async () => {
    collector = await start();
    const sends: Array<() => Promise<Response>> = [
      // GET: Konnektive's default, the mapped fields added to the URL.
      () => fetch(url(SECRET, `?${new URLSearchParams(NEW_SALE).toString()}`)),
      // POST with a header mapping and no JSON content type: the fields as a form.
      () => fetch(url(), { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(REBILL).toString() }),
      // POST with `header:Content-Type` = application/json: numbers, a nested object.
      () => fetch(url(), { method: 'POST', headers: { 'content-type': 'application/json', accept: '*/*' }, body: JSON.stringify(REFUNDED) }),
    ];
    for (const [i, send] of sends.entries()) {
      const response = await send();
      expect(response.status).toBe(200);
      expect(await response.text()).toBe('');
      await settlePolls();
      // Each postback made one poll read the three sources, without waiting for LIFECYCLE_POLL_EVERY.
      expect(queries()).toHaveLength(3 * (i + 1));
      clock.advance(HINT_GAP_MS);
    }
    expect((await polls()).map((job) => job.state)).toEqual(['done', 'done', 'done']);
  });

  it('a postback and the poll for the same change make one event', async () => {
    collector = await start();
    crm.putTransaction({ transactionId: '501', orderId: '6A2F1C0B9E', txnType: 'SALE', responseType: 'SUCCESS', totalAmount: '199.00', emailAddress: 'ann@example.com' });
    expect((await fetch(url(SECRET, `?orderId=6A2F1C0B9E&actualTransactionId=501`))).status).toBe(200);
    await settlePolls();
    expect(await events()).toEqual([{ id: 'txn:501:sale_completed', kind: 'sale_completed' }]);

    // The regular poll reads the same change; a late postback (Konnektive retries) about it too.
    clock.advance(5 * MINUTE);
    await collector.sweeper.sweepOnce();
    await settlePolls();
    expect((await fetch(url(), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ orderId: '6A2F1C0B9E', actualTransactionId: '501' }) })).status).toBe(200);
    await settlePolls();
    expect(queries().length).toBeGreaterThanOrEqual(6);
    expect(await events()).toEqual([{ id: 'txn:501:sale_completed', kind: 'sale_completed' }]);
    expect(await collector.store.listJobs({ sessionId: 'customer:ann@example.com' })).toHaveLength(1);

    // And the other way round: the poll finds a change first, its postback comes later.
    clock.advance(MINUTE);
    crm.putTransaction({ transactionId: '502', orderId: '6A2F1C0B9E', txnType: 'REFUND', responseType: 'SUCCESS', totalAmount: '-20.00', emailAddress: 'ann@example.com' });
    clock.advance(5 * MINUTE);
    await collector.sweeper.sweepOnce();
    await settlePolls();
    expect((await fetch(url(SECRET, '?orderId=6A2F1C0B9E&orderStatus=REFUNDED'))).status).toBe(200);
    await settlePolls();
    expect((await events()).map((event) => event.kind).sort()).toEqual(['refund', 'sale_completed']);
    expect(await collector.store.listJobs({ sessionId: 'customer:ann@example.com' })).toHaveLength(2);
  });

  it('answers a wrong secret exactly as an unknown path, whatever its length, and queues nothing', async () => {
    collector = await start();
    const unknown = await fetch(`${collector.url}/v1/konnektive/elsewhere`);
    const expected = { status: unknown.status, type: unknown.headers.get('content-type'), body: await unknown.text() };
    expect(expected.status).toBe(404);
    const wrong = [
      SECRET.slice(0, -1) + (SECRET.endsWith('m') ? 'n' : 'm'), // all but the last character
      SECRET.slice(0, -1), // one short
      `${SECRET}x`, // one long
      'x',
      'a'.repeat(500),
      SECRET.toUpperCase(),
    ];
    for (const secret of wrong) {
      for (const init of [{}, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(NEW_SALE) }]) {
        const response = await fetch(url(secret, '?orderId=1'), init);
        expect({ status: response.status, type: response.headers.get('content-type'), body: await response.text() }, secret).toEqual(expected);
      }
    }
    // The path without a secret, or with more after it, is no route either.
    expect((await fetch(`${collector.url}/v1/konnektive/postback/`)).status).toBe(404);
    expect((await fetch(url(SECRET, '/more?orderId=1'))).status).toBe(404);
    // A wrong secret is never rate limited (a 429 would tell the route exists).
    for (let i = 0; i < POSTBACKS_PER_MINUTE + 5; i++) expect((await fetch(url('x', '?orderId=1'))).status).toBe(404);
    expect(await polls()).toEqual([]);
    expect(queries()).toEqual([]);
  });

  it('without LIFECYCLE_POSTBACK_SECRET there is no postback route', async () => {
    collector = await start(envWith({ LIFECYCLE_POSTBACK_SECRET: '' }));
    expect((await fetch(url(SECRET, '?orderId=1'))).status).toBe(404);
    expect(await polls()).toEqual([]);
  });

  it('refuses bad postbacks with a clear 4xx and queues nothing', async () => {
    collector = await start();
    const post = (body: string, type = 'application/json') => fetch(url(), { method: 'POST', headers: { 'content-type': type }, body });
    const refusals = [
      [await post('{"orderId":'), 400, 'bad_json'],
      [await post('["6012"]'), 400, 'bad_json'],
      [await post(JSON.stringify({ orderStatus: 'REFUNDED' })), 400, 'no_record'],
      [await fetch(url(SECRET, '?firstName=Ann')), 400, 'no_record'],
      [await post(`orderId=1&pad=${'x'.repeat(MAX_POSTBACK_BYTES)}`, 'application/x-www-form-urlencoded'), 413, 'too_large'],
    ] as const;
    for (const [response, status, code] of refusals) {
      expect(response.status).toBe(status);
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe(code);
    }
    expect(await polls()).toEqual([]);
  });

  it('a flood of postbacks leaves ingest answering and the outbox with at most one waiting poll', async () => {
    collector = await start(envWith({ TRUST_PROXY: 'on' }));
    const send = (i: number) =>
      fetch(url(SECRET, `?orderId=${i}`), { headers: { 'x-forwarded-for': `10.0.${(i >> 8) & 255}.${i & 255}` } }).then(async (response) => {
        await response.arrayBuffer();
        return response.status;
      });
    // 3,000 postbacks from 1,000 addresses, 100 at a time, with ingest requests in between.
    const statuses: number[] = [];
    const ingest: number[] = [];
    for (let batch = 0; batch < 30; batch++) {
      const started = Date.now();
      const [answer, ...flood] = await Promise.all([
        collector.post({ events: [ev.page('presell', `https://offer.example/?b=${batch}`)] }).then(async (response) => (await response.arrayBuffer(), response.status)),
        ...Array.from({ length: 100 }, (_, j) => send((batch * 100 + j) % 1000)),
      ]);
      ingest.push(answer!);
      statuses.push(...flood);
      expect(Date.now() - started).toBeLessThan(5_000);
    }
    expect(ingest.filter((status) => status !== 200)).toEqual([]);
    expect(statuses.every((status) => status === 200)).toBe(true);
    const jobs = await polls();
    expect(jobs.filter((job) => job.state === 'pending').length).toBeLessThanOrEqual(1);
    // Coalesced: one poll now and one after the gap, however many postbacks came.
    expect(jobs.length).toBeLessThanOrEqual(2);

    // One address alone is held to its own limit (ingest from it is not).
    const one = (n: number) => Promise.all(Array.from({ length: n }, () => fetch(url(SECRET, '?orderId=1'), { headers: { 'x-forwarded-for': '203.0.113.9' } }).then((r) => r.status)));
    const answers = await one(POSTBACKS_PER_MINUTE + 30);
    expect(answers.filter((status) => status === 200)).toHaveLength(POSTBACKS_PER_MINUTE);
    expect(answers.filter((status) => status === 429)).toHaveLength(30);
    expect((await collector.post({ events: [ev.page('presell', 'https://offer.example/')] }, { headers: { 'x-forwarded-for': '203.0.113.9' } })).status).toBe(200);
    await settlePolls();
    expect((await polls()).filter((job) => job.state === 'pending').length).toBeLessThanOrEqual(1);
  });

  it('never writes the secret to the log, not even of a request that failed', async () => {
    const { logger, lines } = capturedLog();
    collector = await start(envWith(), logger);
    expect((await fetch(url(SECRET, '?orderId=6012&emailAddress=ann%40example.com'))).status).toBe(200);
    expect((await fetch(url('wrong-secret-0123456789', '?orderId=1'))).status).toBe(404);
    await settlePolls();
    // A client that hangs up in the middle of its body is logged with the request's path.
    const { hostname, port } = new URL(collector.url);
    await new Promise<void>((resolve, reject) => {
      const socket = connect({ host: hostname, port: Number(port) }, () => {
        const head = [`POST /v1/konnektive/postback/${SECRET} HTTP/1.1`, `Host: ${hostname}:${port}`, 'Content-Type: application/json', 'Content-Length: 100', '', '{"orderId":'];
        socket.write(head.join('\r\n'), () => setTimeout(() => socket.destroy(), 50));
      });
      socket.on('error', reject);
      socket.on('close', () => resolve());
    });
    const aborted = await eventually(() => lines.find((line) => line.includes('request aborted')));
    expect(aborted).toContain('/v1/konnektive/postback/[secret]');
    expect(lines.some((line) => line.includes('lifecycle poll hinted'))).toBe(true);
    const log = lines.join('\n');
    expect(log).not.toContain(SECRET);
    expect(log).not.toContain('ann@example.com');
  });
});

describe('the secret comparison', () => {
  it('accepts the secret alone', () => {
    const isSecret = secretMatcher(SECRET);
    expect(isSecret(SECRET)).toBe(true);
    for (const wrong of ['', 'x', SECRET.slice(0, -1), `${SECRET}x`, SECRET.toUpperCase(), `${SECRET.slice(0, -1)}n`]) expect(isSecret(wrong), wrong).toBe(false);
  });

  it('takes as long whether a guess differs at its first character or its last', () => {
    // A secret long enough that a comparison stopping at the first difference would take a
    // thousand times longer for the near miss; the digests make both the same work.
    const secret = 'k'.repeat(1 << 20);
    const isSecret = secretMatcher(secret);
    const nearMiss = `${secret.slice(0, -1)}j`;
    const farMiss = `j${secret.slice(1)}`;
    const median = (guess: string) => {
      const times: number[] = [];
      for (let i = 0; i < 31; i++) {
        const started = process.hrtime.bigint();
        isSecret(guess);
        times.push(Number(process.hrtime.bigint() - started));
      }
      return times.sort((a, b) => a - b)[15]!;
    };
    median(nearMiss); // warm up
    const ratio = median(nearMiss) / median(farMiss);
    expect(ratio).toBeGreaterThan(0.5);
    expect(ratio).toBeLessThan(2);
  });
});

describe('LIFECYCLE_POSTBACK_SECRET', () => {
  const base = {
    SECRET: 'x'.repeat(32),
    ALLOWED_ORIGINS: 'https://shop.example',
    KONNEKTIVE_LOGIN_ID: 'login',
    KONNEKTIVE_PASSWORD: 'password',
    KONNEKTIVE_CAMPAIGNS: '12',
    ACTIVECAMPAIGN_API_URL: 'https://acct.api-us1.com',
    ACTIVECAMPAIGN_API_KEY: 'key',
  };

  it('is kept with LIFECYCLE_SYNC=on', () => {
    const result = parseConfig({ ...base, LIFECYCLE_SYNC: 'on', LIFECYCLE_POSTBACK_SECRET: SECRET });
    expect(result.ok && result.config.lifecycle.postbackSecret).toBe(SECRET);
  });

  it('is refused without LIFECYCLE_SYNC=on, shorter than 16 characters, or with characters a URL path would change', () => {
    expect(parseConfig({ ...base, LIFECYCLE_POSTBACK_SECRET: SECRET })).toEqual({
      ok: false,
      problems: ['LIFECYCLE_POSTBACK_SECRET: postbacks start the lifecycle poll early and need LIFECYCLE_SYNC=on'],
    });
    for (const secret of ['short-secret-123', 'has/a/slash/in/it-0123', 'with space 0123456789', 'percent%20encoded-0123']) {
      const result = parseConfig({ ...base, LIFECYCLE_SYNC: 'on', LIFECYCLE_POSTBACK_SECRET: secret });
      expect(result.ok, secret).toBe(secret === 'short-secret-123');
    }
    const short = parseConfig({ ...base, LIFECYCLE_SYNC: 'on', LIFECYCLE_POSTBACK_SECRET: 'fifteen-chars15' });
    expect(short.ok ? [] : short.problems[0]).toMatch(/^LIFECYCLE_POSTBACK_SECRET: must be at least 16 characters/);
  });
});
