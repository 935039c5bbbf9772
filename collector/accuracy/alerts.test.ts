/**
 * @module alerts.test
 * The alert's rules against a webhook receiver double, on a virtual clock: one message when a
 * destination falls below ALERT_ACCURACY, none more within the hour (nor from a second collector
 * on the same store), one when it recovers; a failed post is tried again at the next check; an
 * upstream that refused its credentials alerts whatever its accuracy.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startHttpDouble, type HttpDouble } from '../../test/doubles/http-double.js';
import { VirtualClock } from '../../test/support/virtual-clock.js';
import type { Config } from '../config.js';
import { createLogger } from '../logger.js';
import { createMetrics, type Metrics } from '../metrics.js';
import { SqliteStore } from '../store/sqlite-store.js';
import type { Store } from '../store/store.js';
import { UpstreamHealth } from '../upstream-health.js';
import { Alerts } from './alerts.js';
import { destinations } from './delivery-accuracy.js';

/** Refuses what Slack's incoming webhooks refuse (not JSON, no `text`); `fail` answers 500 to the next posts. */
async function webhookReceiver() {
  const received: { text: string; content: string }[] = [];
  let fail = 0;
  const double: HttpDouble = await startHttpDouble((req, res, body) => {
    if (req.method !== 'POST' || req.headers['content-type'] !== 'application/json') return void res.writeHead(400).end('invalid_payload');
    let message: { text?: unknown; content?: unknown };
    try {
      message = JSON.parse(body) as typeof message;
    } catch {
      return void res.writeHead(400).end('invalid_payload');
    }
    if (typeof message.text !== 'string' || message.text === '') return void res.writeHead(400).end('no_text');
    if (fail > 0) {
      fail--;
      return void res.writeHead(500).end('server_error');
    }
    received.push({ text: message.text, content: String(message.content) });
    res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
  });
  return { double, received, failNext: (n: number) => void (fail = n) };
}

const MINUTE = 60_000;

describe('delivery accuracy alerts', () => {
  let dir: string;
  let store: Store;
  let clock: VirtualClock;
  let receiver: Awaited<ReturnType<typeof webhookReceiver>>;
  let health: UpstreamHealth;
  let metrics: Metrics;
  const leadOnly = destinations({ emitVia: 'sandbox', lifecycle: { enabled: false }, sandbox: false, adPlatforms: {} } as unknown as Config).filter((each) => each.id === 'konnektive-lead');

  const alerts = (options: { webhook?: boolean } = {}) =>
    new Alerts({
      store,
      destinations: leadOnly,
      health,
      metrics,
      logger: createLogger('silent'),
      clock,
      threshold: 0.95,
      everyMs: 5 * MINUTE,
      webhookUrl: options.webhook === false ? undefined : `${receiver.double.url}/hooks/T1`,
      publicUrl: 'https://track.shop.example',
      fetch: clock.fetch,
    });

  /** A lead in Konnektive's terms, and its Import Lead finished as `done` or `dead`. */
  async function lead(id: string, fate: 'done' | 'dead') {
    const now = clock.now();
    await store.transaction(async (tx) => {
      await tx.insertSession({ id, campaignId: '1', createdAt: now, lastSeenAt: now, landingUrl: undefined, referrer: undefined, userAgent: 'Mozilla/5.0', ip: '203.0.113.5', isBot: false });
      await tx.updateSession(id, { lead: { firstName: 'Ann', lastName: 'Lee', emailAddress: `${id}@example.com` } });
      await tx.enqueue({ sessionId: id, upstream: 'konnektive', kind: 'konnektive.lead', payload: {}, runAt: now });
    });
    const [job] = await store.claimJobs({ now, owner: 'w', limit: 1, leaseMs: MINUTE, skipUpstreams: [] });
    await store.completeJobs('w', [{ id: job!.id, sessionId: id, completion: fate === 'done' ? { state: 'done' } : { state: 'dead', error: 'refused' }, attempts: [], sessionPatch: undefined }]);
  }

  /** Every dead letter replayed and delivered. */
  async function fixAll() {
    await store.replayDeadJobs(clock.now());
    for (;;) {
      const jobs = await store.claimJobs({ now: clock.now(), owner: 'w', limit: 50, leaseMs: MINUTE, skipUpstreams: [] });
      if (jobs.length === 0) return;
      await store.completeJobs('w', jobs.map((job) => ({ id: job.id, sessionId: job.sessionId, completion: { state: 'done' as const }, attempts: [], sessionPatch: undefined })));
    }
  }

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'funnelbeacon-alerts-'));
    clock = new VirtualClock(Date.UTC(2026, 11, 7, 9, 10));
    store = new SqliteStore(join(dir, 'store.db'), { clock });
    await store.migrate();
    receiver = await webhookReceiver();
    health = new UpstreamHealth({ konnektive: 'ok' }, clock);
    metrics = createMetrics(store, { defaults: false, clock });
  });
  afterEach(async () => {
    await receiver.double.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const gauge = async (name: string) => (await metrics.registry.getSingleMetric(name)!.get()).values.find((v) => v.labels.destination === 'konnektive-lead')?.value;

  it('posts once when a destination falls below, not again within the hour nor from a second collector, and once when it recovers', async () => {
    const first = alerts();
    const second = alerts();
    for (let i = 0; i < 3; i++) await lead(`ok${i}`, 'done');
    await lead('bad1', 'dead');
    expect((await first.checkOnce())[0]).toMatchObject({ accuracy: 0.75, alerting: true });
    expect(receiver.received.map((m) => m.text)).toEqual([
      'funnelbeacon: Konnektive Import Lead delivery accuracy 75% over the last 2 hours (below 95%): 1 failed, 0 missing. https://track.shop.example/dashboard/#/delivery',
    ]);
    expect(receiver.received[0]!.content).toBe(receiver.received[0]!.text);
    expect(await gauge('funnelbeacon_destination_alerting')).toBe(1);
    expect(await gauge('funnelbeacon_destination_accuracy')).toBe(0.75);

    // The other collector on the same store finds the hour's marker spent.
    expect((await second.checkOnce())[0]).toMatchObject({ alerting: true });
    clock.advance(5 * MINUTE);
    await lead('bad2', 'dead');
    await first.checkOnce();
    clock.advance(40 * MINUTE);
    await first.checkOnce();
    await second.checkOnce();
    expect(receiver.received).toHaveLength(1);

    // Two hours later the failures are out of the window: recovered, said once by one of the two.
    clock.advance(2 * 60 * MINUTE);
    for (let i = 0; i < 2; i++) await lead(`later${i}`, 'done');
    expect((await second.checkOnce())[0]).toMatchObject({ accuracy: 1, alerting: false });
    await first.checkOnce();
    expect(receiver.received.map((m) => m.text)).toEqual([
      expect.stringContaining('accuracy 75%'),
      'funnelbeacon: Konnektive Import Lead delivery accuracy is back at 100%. https://track.shop.example/dashboard/#/delivery',
    ]);
    expect(await gauge('funnelbeacon_destination_alerting')).toBe(0);
  });

  it('reminds at most once an hour while it stays below, and stays quiet for a second fall within the hour', async () => {
    const check = alerts();
    await lead('bad1', 'dead');
    await check.checkOnce();
    clock.advance(59 * MINUTE);
    await check.checkOnce();
    expect(receiver.received).toHaveLength(1);
    clock.advance(1 * MINUTE);
    await lead('bad2', 'dead');
    expect((await check.checkOnce())[0]!.posted).toContain('delivery accuracy 0%');
    expect(receiver.received).toHaveLength(2);

    // The dead letters replayed and delivered: recovered.
    await fixAll();
    await check.checkOnce();
    expect(receiver.received.at(-1)!.text).toContain('is back at 100%');
    // Falls again 10 minutes after the last alert: logged and measured, not posted, and so no recovery either.
    clock.advance(10 * MINUTE);
    await lead('bad3', 'dead');
    expect((await check.checkOnce())[0]).toMatchObject({ alerting: true });
    await fixAll();
    expect((await check.checkOnce())[0]).toMatchObject({ alerting: false });
    expect(receiver.received).toHaveLength(3);
  });

  it('tries a failed post again at the next check', async () => {
    const check = alerts();
    await lead('bad1', 'dead');
    receiver.failNext(1);
    expect((await check.checkOnce())[0]!.posted).toBeUndefined();
    expect(receiver.received).toHaveLength(0);
    clock.advance(5 * MINUTE);
    expect((await check.checkOnce())[0]!.posted).toContain('accuracy 0%');
    expect(receiver.received).toHaveLength(1);
  });

  it('alerts for refused credentials whatever the accuracy, and without a webhook only logs and measures', async () => {
    const check = alerts();
    await lead('ok1', 'done');
    health.pause('konnektive', 'Konnektive refused the API credentials');
    expect((await check.checkOnce())[0]).toMatchObject({ accuracy: 1, alerting: true });
    expect(receiver.received.map((m) => m.text)).toEqual([
      'funnelbeacon: Konnektive Import Lead is paused: Konnektive refused the API credentials. https://track.shop.example/dashboard/#/delivery',
    ]);
    health.resume('konnektive');
    clock.advance(5 * MINUTE);
    expect((await check.checkOnce())[0]!.posted).toContain('is back at 100%');

    const quiet = alerts({ webhook: false });
    await lead('bad1', 'dead');
    expect((await quiet.checkOnce())[0]).toMatchObject({ alerting: true });
    expect(receiver.received).toHaveLength(2);
  });

  it('started, checks every ALERT_EVERY on its clock', async () => {
    const running = alerts();
    running.start();
    await lead('bad1', 'dead');
    clock.advance(5 * MINUTE);
    // stop() waits for the check the timer started.
    await running.stop();
    expect(receiver.received.map((m) => m.text)).toEqual([expect.stringContaining('delivery accuracy 0% over the last 2 hours')]);
    expect(await gauge('funnelbeacon_destination_alerting')).toBe(1);
  });

  it('started, checks at once when an upstream refuses the credentials', async () => {
    const running = alerts();
    running.start();
    await lead('ok1', 'done');
    health.pause('konnektive', 'Konnektive refused the API credentials');
    await running.stop();
    expect(receiver.received.map((m) => m.text)).toEqual([expect.stringContaining('Konnektive Import Lead is paused')]);
  });
});
