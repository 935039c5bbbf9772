import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../logger.js';
import type { IngestResponse } from '../wire-schema.js';
import { startKonnektiveDouble, type KonnektiveDouble } from '../../test/doubles/konnektive-double.js';
import { VirtualClock } from '../../test/support/virtual-clock.js';
import { systemClock } from '../clock.js';
import { JobEffects } from '../outbox/job-outcome.js';
import { konnektiveClient } from './konnektive-client.js';
import { konnektiveHandlers } from './konnektive-relay.js';
import { ev, eventually, konnektiveEnv, outboxSettled, startTestCollector, type TestCollector } from '../../test/support/test-collector.js';

let double: KonnektiveDouble;
let collector: TestCollector;

beforeEach(async () => {
  double = await startKonnektiveDouble({ loginId: 'fb-login', password: 'fb-password', campaigns: ['12'] });
});
afterEach(async () => {
  await collector?.close();
  await double.close();
});

const LANDING = 'https://offer.example/presell?affId=AFF7&c1=blue&utm_source=fb&utm_campaign=spring';
const ann = { firstName: 'Ann', lastName: 'Lee', emailAddress: 'ann@example.com' };

async function send(session: string | undefined, events: Parameters<TestCollector['post']>[0] extends never ? never : unknown[]) {
  const res = await collector.post({ ...(session ? { session } : {}), campaign: '12', events });
  expect(res.status).toBe(200);
  return (await res.json()) as IngestResponse;
}

const calls = (path: string) => double.calls.filter((call) => call.path === path && call.result === 'SUCCESS');
const clickCalls = () => calls('/landers/clicks/import/');
const leadCalls = () => calls('/leads/import/');

describe('Konnektive relay', () => {
  it('turns a five-page funnel into one Konnektive session with every click linked to it', async () => {
    collector = await startTestCollector(konnektiveEnv(double.url));
    const first = await send(undefined, [ev.page('presell', LANDING, 'https://news.example/story?utm_source=fb')]);
    const { session } = first;
    await send(session, [ev.page('lead', 'https://offer.example/lead'), ev.lead(ann)]);
    await send(session, [ev.page('checkout', 'https://secure.example/checkout')]);
    await send(session, [ev.page('upsell1', 'https://secure.example/upsell-1?orderId=X')]);
    await send(session, [ev.page('thankyou', 'https://secure.example/thanks')]);
    await outboxSettled(collector);

    expect(double.sessions.size).toBe(1);
    const [kSession] = [...double.sessions.values()];
    expect(kSession!.clicks.map((click) => click.pageType)).toEqual(['presellPage', 'leadPage', 'checkoutPage', 'upsellPage1', 'thankyouPage']);
    const [firstClick, ...later] = clickCalls();
    expect(firstClick!.params).toMatchObject({ campaignId: '12', pageType: 'presellPage', requestUri: LANDING, ipAddress: '127.0.0.1' });
    expect(firstClick!.params.sessionId).toBeUndefined();
    expect(firstClick!.params.httpReferer).toBe('https://news.example/story?utm_source=fb');
    for (const click of later) expect(click.params.sessionId).toBe(kSession!.sessionId);
    expect(kSession!.affVals).toMatchObject({ affId: 'AFF7', c1: 'blue' });

    const stored = await collector.store.getSession(first.ids.session);
    expect(stored?.konnektive).toMatchObject({ sessionId: kSession!.sessionId, affVals: { affId: 'AFF7', c1: 'blue' } });
    expect(stored?.konnektive.orderId).toBeDefined();
    expect(stored?.konnektive.customerId).toBeDefined();
  });

  it('sends one click per page type: reloads and back-and-forth add none', async () => {
    collector = await startTestCollector(konnektiveEnv(double.url));
    const { session } = await send(undefined, [ev.page('presell', LANDING)]);
    await send(session, [ev.page('lead', 'https://offer.example/lead')]);
    await send(session, [ev.page('lead', 'https://offer.example/lead')]);
    await send(session, [ev.page('presell', LANDING)]);
    await send(session, [ev.page('lead', 'https://offer.example/lead')]);
    await outboxSettled(collector);
    expect(clickCalls().map((call) => call.params.pageType)).toEqual(['presellPage', 'leadPage']);
  });

  it('creates the lead once, then updates the same partial with its orderId', async () => {
    collector = await startTestCollector(konnektiveEnv(double.url));
    const { session, ids } = await send(undefined, [ev.page('lead', LANDING), ev.lead(ann)]);
    await outboxSettled(collector);
    await send(session, [ev.lead({ phoneNumber: '5550101234', postalCode: '10001' })]);
    await outboxSettled(collector);

    expect(double.leads.size).toBe(1);
    const [order] = [...double.leads.values()];
    const [create, update] = leadCalls();
    expect(create!.params.orderId).toBeUndefined();
    expect(update!.params.orderId).toBe(order!.orderId);
    expect(order!.fields).toMatchObject({ ...ann, phoneNumber: '5550101234', postalCode: '10001' });
    expect(order!.sessionId).toBe(double.sessions.keys().next().value);
    expect((await collector.store.getSession(ids.session))?.konnektive.orderId).toBe(order!.orderId);
  });

  it('never lets a lead update overtake the first click, even while the click is failing', async () => {
    collector = await startTestCollector(konnektiveEnv(double.url));
    double.fail('http500', { times: 3 });
    await send(undefined, [ev.page('lead', LANDING), ev.lead(ann)]);
    await outboxSettled(collector);
    const order = double.calls.filter((call) => call.result === 'SUCCESS').map((call) => call.path);
    expect(order).toEqual(['/landers/clicks/import/', '/leads/import/']);
    expect(leadCalls()[0]!.params.sessionId).toBe(double.sessions.keys().next().value);
  });

  it('collapses ten quick lead updates into one call carrying the latest fields', async () => {
    const clock = new VirtualClock();
    collector = await startTestCollector(konnektiveEnv(double.url), { clock, leadSettleMs: 1_000 });
    const { session } = await send(undefined, [ev.page('lead', LANDING)]);
    await eventually(() => clickCalls().length === 1);
    const typing = 'ann.lee@example.com';
    for (let i = 0; i < 9; i++) await send(session, [ev.lead({ ...ann, emailAddress: `${typing.slice(0, 10 + i)}.com` })]);
    await send(session, [ev.lead({ emailAddress: typing })]);
    expect((await collector.store.listJobs({ state: 'pending' })).map((job) => job.kind)).toEqual(['konnektive.lead']);
    clock.advance(1_000);
    collector.worker.notify();
    await outboxSettled(collector);
    expect(leadCalls()).toHaveLength(1);
    expect([...double.leads.values()][0]!.fields.emailAddress).toBe(typing);
  });

  it('queues exactly one more lead call for the changes made while one is in flight', async () => {
    collector = await startTestCollector(konnektiveEnv(double.url), { runWorker: false });
    const { session } = await send(undefined, [ev.page('lead', LANDING), ev.lead(ann)]);
    // The click ran; the lead call is now in flight (claimed, not finished).
    const [click] = await collector.store.claimJobs({ now: Date.now(), limit: 1, leaseMs: 60_000, owner: 'w', skipUpstreams: [] });
    await collector.store.completeJobs('w', [{ id: click!.id, sessionId: click!.sessionId, completion: { state: 'done' }, attempts: [], sessionPatch: undefined }]);
    const [inFlight] = await collector.store.claimJobs({ now: Date.now(), limit: 1, leaseMs: 60_000, owner: 'w', skipUpstreams: [] });
    expect(inFlight?.kind).toBe('konnektive.lead');
    for (const phone of ['555', '5550', '55501', '555010', '5550101']) await send(session, [ev.lead({ phoneNumber: phone })]);
    const lead = await collector.store.listJobs({ sessionId: inFlight!.sessionId });
    expect(lead.filter((job) => job.kind === 'konnektive.lead').map((job) => job.state)).toEqual(['running', 'pending']);
  });

  it('delivers every call exactly once after Konnektive comes back from an outage', async () => {
    collector = await startTestCollector(konnektiveEnv(double.url));
    double.fail('http500');
    const { session } = await send(undefined, [ev.page('presell', LANDING)]);
    await send(session, [ev.page('lead', 'https://offer.example/lead'), ev.lead(ann)]);
    await send(session, [ev.page('checkout', 'https://secure.example/checkout')]);
    await eventually(() => double.calls.filter((call) => call.result === 'HTTP500').length >= 3);
    const jobs = await collector.store.listJobs({ sessionId: (await collector.store.listJobs({}))[0]!.sessionId });
    expect(jobs.some((job) => job.attempts > 0 && job.lastError === 'HTTP 500')).toBe(true);

    double.recover();
    await outboxSettled(collector);
    expect(clickCalls().map((call) => call.params.pageType)).toEqual(['presellPage', 'leadPage', 'checkoutPage']);
    expect(leadCalls()).toHaveLength(1);
    expect(double.sessions.size).toBe(1);
    expect((await collector.store.countJobsByState()).dead).toBe(0);
  });

  it('retries a call that hangs, after the client times out', async () => {
    collector = await startTestCollector(konnektiveEnv(double.url));
    double.fail('hang', { times: 1 });
    await send(undefined, [ev.page('presell', LANDING)]);
    await outboxSettled(collector);
    expect(clickCalls()).toHaveLength(1);
    const attempts = await collector.store.listAttempts();
    expect(attempts.map((attempt) => attempt.outcome)).toEqual(['transient', 'ok']);
    expect(attempts[0]!.response).toMatch(/timed out/);
  });

  it('dead-letters a call Konnektive refuses, with its message, and replays it on demand', async () => {
    collector = await startTestCollector(konnektiveEnv(double.url));
    double.fail('error', { times: 1 });
    await send(undefined, [ev.page('presell', LANDING)]);
    await outboxSettled(collector);
    const [dead] = await collector.store.listJobs({ state: 'dead' });
    expect(dead?.lastError).toMatch(/unexpected error/i);
    expect(await collector.store.replayDeadJobs(Date.now())).toBe(1);
    collector.worker.notify();
    await outboxSettled(collector);
    expect(clickCalls()).toHaveLength(1);
  });

  it('pauses on bad credentials without burning retries, reports it, and resumes by itself', async () => {
    collector = await startTestCollector(konnektiveEnv(double.url));
    double.setCredentials('rotated-login', 'rotated-password');
    const { session } = await send(undefined, [ev.page('presell', LANDING)]);
    await eventually(() => collector.health.get('konnektive').state === 'paused');
    const health = (await (await fetch(`${collector.url}/healthz`)).json()) as { status: string; upstreams: Record<string, { state: string }> };
    expect(health.status).toBe('degraded');
    expect(health.upstreams.konnektive!.state).toBe('paused');
    await send(session, [ev.page('lead', 'https://offer.example/lead')]);
    // Probes keep failing while the credentials are wrong; no job spends an attempt.
    await eventually(() => double.calls.filter((call) => call.path === '/order/query/').length >= 2);
    const jobs = await collector.store.listJobs({});
    expect(jobs.every((job) => job.state === 'pending' && job.attempts === 0)).toBe(true);

    double.setCredentials('fb-login', 'fb-password');
    await eventually(() => collector.health.get('konnektive').state === 'ok');
    await outboxSettled(collector);
    expect(clickCalls().map((call) => call.params.pageType)).toEqual(['presellPage', 'leadPage']);
  });

  it('re-delivers the jobs of a worker that died holding them, once its lease expires', async () => {
    collector = await startTestCollector(konnektiveEnv(double.url), { runWorker: false });
    const { session } = await send(undefined, [ev.page('presell', LANDING)]);
    await send(session, [ev.page('lead', 'https://offer.example/lead'), ev.lead(ann)]);
    const claimed = await collector.store.claimJobs({ now: Date.now(), limit: 10, leaseMs: 200, owner: 'crashed-worker', skipUpstreams: [] });
    expect(claimed).toHaveLength(1);
    collector.worker.start();
    await outboxSettled(collector);
    expect(clickCalls().map((call) => call.params.pageType)).toEqual(['presellPage', 'leadPage']);
    expect(leadCalls()).toHaveLength(1);
    expect(await collector.store.completeJobs('crashed-worker', [{ id: claimed[0]!.id, sessionId: claimed[0]!.sessionId, completion: { state: 'done' }, attempts: [], sessionPatch: undefined }])).toEqual([false]);
  });

  it('makes no call whose write-ahead mark finds the job taken over by another worker', async () => {
    collector = await startTestCollector(konnektiveEnv(double.url), { runWorker: false });
    const { session } = await send(undefined, [ev.page('presell', LANDING)]);
    await send(session, [ev.page('lead', 'https://offer.example/lead'), ev.lead(ann)]);
    const handlers = konnektiveHandlers({
      config: collector.config,
      store: collector.store,
      api: konnektiveClient({ apiUrl: double.url, loginId: 'fb-login', password: 'fb-password' }),
      health: collector.health,
      metrics: collector.metrics,
      logger: createLogger('silent'),
      clock: systemClock,
    });
    const claim = () => collector.store.claimJobs({ now: Date.now(), limit: 10, leaseMs: 60_000, owner: 'w', skipUpstreams: [] });
    const [firstClick] = await claim();
    expect(await handlers['konnektive.click'](firstClick!, new JobEffects())).toEqual({ type: 'done' });
    const sessionId = (await collector.store.getSession(firstClick!.sessionId))!.konnektive.sessionId;
    expect(sessionId).toBeUndefined(); // the handler's patch is the worker's to write; write it as the worker would
    await collector.store.completeJobs('w', [{ id: firstClick!.id, sessionId: firstClick!.sessionId, completion: { state: 'done' }, attempts: [], sessionPatch: { konnektive: { sessionId: [...double.sessions.keys()][0]! } } }]);
    const before = double.calls.length;
    // The lead page's click (the session is known: marked before its call) and the Import Lead
    // (a partial may be created: marked before its call), each taken over before its mark.
    const [leadClick] = await claim();
    const taken = new JobEffects(async () => false);
    expect(await handlers['konnektive.click'](leadClick!, taken)).toMatchObject({ type: 'retry' });
    await collector.store.completeJobs('w', [{ id: leadClick!.id, sessionId: leadClick!.sessionId, completion: { state: 'done' }, attempts: [], sessionPatch: undefined }]);
    const [importLead] = await claim();
    expect(importLead!.kind).toBe('konnektive.lead');
    expect(await handlers['konnektive.lead'](importLead!, new JobEffects(async () => false))).toMatchObject({ type: 'retry' });
    expect(double.calls.slice(before)).toEqual([]);
    expect(taken.attempts).toEqual([]);
  });

  it('never passes a card number typed into a lead field to the store or to Konnektive', async () => {
    collector = await startTestCollector(konnektiveEnv(double.url));
    const { ids } = await send(undefined, [
      ev.page('checkout', LANDING),
      ev.lead({ ...ann, address1: '1 Main St', address2: '4111-1111-1111-1111' }),
    ]);
    await outboxSettled(collector);
    const everything = JSON.stringify([double.calls, await collector.store.listEvents(ids.session), await collector.store.getSession(ids.session)]);
    expect(everything).not.toMatch(/4111.?1111.?1111.?1111/);
    expect(leadCalls()[0]!.params.address1).toBe('1 Main St');
  });

  it('sends Import Click the landing URL with a Luhn-passing ad id in utm_content, byte for byte', async () => {
    // A Facebook-style 17-digit ad id that passes Luhn but has no card brand's prefix and length.
    const landing = 'https://offer.example/presell?affId=AFF7&utm_source=fb&utm_content=23851234567890121&fbclid=IwAR0x';
    collector = await startTestCollector(konnektiveEnv(double.url));
    await send(undefined, [ev.page('presell', landing)]);
    await outboxSettled(collector);
    expect(clickCalls()[0]!.params.requestUri).toBe(landing);
    expect([...double.sessions.values()][0]!.clicks[0]!.requestUri).toBe(landing);
  });

  it('stores a phone number and an email holding 13 digits as typed, and sends Konnektive the same number and address', async () => {
    collector = await startTestCollector(konnektiveEnv(double.url));
    const lead = { ...ann, emailAddress: 'ann.1234567890128@example.com', phoneNumber: '+49 1512 3456787' };
    const { ids } = await send(undefined, [ev.page('lead', LANDING), ev.lead(lead)]);
    await outboxSettled(collector);
    expect((await collector.store.getSession(ids.session))?.lead).toEqual(lead);
    // The store keeps what the buyer typed; Konnektive gets the same valid number in E.164.
    expect(leadCalls()[0]!.params).toMatchObject({ emailAddress: 'ann.1234567890128@example.com', phoneNumber: '+4915123456787' });
    expect([...double.leads.values()][0]!.fields).toMatchObject({ emailAddress: 'ann.1234567890128@example.com', phoneNumber: '+4915123456787' });
  });

  it('sends no part of a landing URL holding a card number outside a query value, and opens the session on the next page', async () => {
    collector = await startTestCollector(konnektiveEnv(double.url));
    const { session, ids } = await send(undefined, [ev.page('presell', 'https://offer.example/p/4111-1111-1111-1111?affId=AFF7')]);
    await send(session, [ev.page('lead', LANDING)]);
    await outboxSettled(collector);
    const everything = JSON.stringify([double.calls, await collector.store.listEvents(ids.session), await collector.store.getSession(ids.session)]);
    expect(everything).not.toMatch(/4111.?1111.?1111.?1111/);
    expect(clickCalls().map((call) => [call.params.pageType, call.params.requestUri])).toEqual([['leadPage', LANDING]]);
    expect((await collector.store.listJobs({ state: 'dead' })).map((job) => job.lastError)).toEqual([expect.stringContaining('requestUri')]);
  });

  it('opens the session on the next page also when that page came in the same batch as the refused one', async () => {
    collector = await startTestCollector(konnektiveEnv(double.url));
    // One batch: the session has the lead page's URL as its landing URL before either click runs.
    const { ids } = await send(undefined, [ev.page('presell', 'https://offer.example/p/4111-1111-1111-1111?affId=AFF7'), ev.page('lead', LANDING)]);
    await outboxSettled(collector);
    expect(JSON.stringify([double.calls, await collector.store.getSession(ids.session)])).not.toMatch(/4111.?1111.?1111.?1111/);
    expect(clickCalls().map((call) => [call.params.pageType, call.params.requestUri])).toEqual([['leadPage', LANDING]]);
    expect((await collector.store.listJobs({ state: 'dead' })).map((job) => job.lastError)).toEqual([expect.stringContaining('requestUri')]);
  });

  it('stores a value longer than Konnektive keeps as typed, and leaves it out of Import Lead instead of cutting it', async () => {
    collector = await startTestCollector(konnektiveEnv(double.url));
    const address1 = `${'12 Analytical Row, '.repeat(14)}London`;
    expect(address1.length).toBeGreaterThan(255);
    const { ids } = await send(undefined, [ev.page('lead', LANDING), ev.lead({ ...ann, address1, city: 'London' })]);
    await outboxSettled(collector);
    expect((await collector.store.getSession(ids.session))?.lead.address1).toBe(address1);
    const params = leadCalls()[0]!.params;
    expect(params).toMatchObject({ emailAddress: ann.emailAddress, city: 'London' });
    expect(params.address1).toBeUndefined();
    // A first name Konnektive would not take whole: no partial rather than one with a cut name.
    double.calls.length = 0;
    await send(undefined, [ev.page('lead', LANDING), ev.lead({ ...ann, firstName: 'A'.repeat(51) })]);
    await outboxSettled(collector);
    expect(leadCalls()).toEqual([]);
  });

  it('sends a phone number it cannot read without guessing exactly as typed', async () => {
    collector = await startTestCollector(konnektiveEnv(double.url));
    for (const phoneNumber of ['(555) 010-1234', '0151 23456787', '+49 1512 3456787 ext. 12']) {
      double.calls.length = 0;
      await send(undefined, [ev.page('lead', LANDING), ev.lead({ ...ann, phoneNumber })]);
      await outboxSettled(collector);
      expect(leadCalls()[0]!.params.phoneNumber, phoneNumber).toBe(phoneNumber);
    }
    // Fewer than 7 digits is no phone number (a security code or PIN typed into the field): not sent at all.
    for (const phoneNumber of ['call me', '737']) {
      double.calls.length = 0;
      await send(undefined, [ev.page('lead', LANDING), ev.lead({ ...ann, phoneNumber })]);
      await outboxSettled(collector);
      expect(leadCalls()[0]!.params, phoneNumber).not.toHaveProperty('phoneNumber');
    }
  });

  it('answers bots but never calls Konnektive for them', async () => {
    collector = await startTestCollector(konnektiveEnv(double.url));
    const res = await collector.post({ events: [ev.page('presell', LANDING), ev.lead(ann)] }, { userAgent: 'Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)' });
    expect(res.status).toBe(200);
    await outboxSettled(collector);
    expect(double.calls).toHaveLength(0);
  });

  it('decides bot or person once, on the session\'s first request: a later bot user agent does not drop the lead', async () => {
    collector = await startTestCollector(konnektiveEnv(double.url));
    const { session } = await send(undefined, [ev.page('lead', LANDING)]);
    // The exit beacon of the same visit, sent with a user agent the bot list knows.
    const exit = await collector.post({ session, campaign: '12', events: [ev.lead(ann)] }, { userAgent: 'Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)' });
    expect(exit.status).toBe(200);
    await outboxSettled(collector);
    expect(leadCalls()).toHaveLength(1);
    expect(leadCalls()[0]!.params).toMatchObject({ emailAddress: 'ann@example.com' });
  });

  it('keeps a bot session quiet whatever user agent it sends later, and counts what it suppressed', async () => {
    collector = await startTestCollector(konnektiveEnv(double.url));
    const first = await collector.post({ campaign: '12', events: [ev.page('presell', LANDING)] }, { userAgent: 'Googlebot/2.1 (+http://www.google.com/bot.html)' });
    const { session } = (await first.json()) as IngestResponse;
    await send(session, [ev.page('lead', 'https://offer.example/lead'), ev.lead(ann)]);
    await outboxSettled(collector);
    expect(double.calls).toHaveLength(0);
    const metrics = await (await fetch(`${collector.url}/metrics`)).text();
    expect(metrics).toMatch(/funnelbeacon_bot_calls_suppressed_total\{kind="click"\} 2/);
    expect(metrics).toMatch(/funnelbeacon_bot_calls_suppressed_total\{kind="lead"\} 1/);
  });

  it('relays bots too when the bot filter is off', async () => {
    collector = await startTestCollector(konnektiveEnv(double.url, { BOT_FILTER: 'off' }));
    await collector.post({ events: [ev.page('presell', LANDING)] }, { userAgent: 'Googlebot/2.1' });
    await outboxSettled(collector);
    expect(clickCalls()).toHaveLength(1);
  });

  it('keeps the log of attempts free of personal data and credentials', async () => {
    collector = await startTestCollector(konnektiveEnv(double.url));
    await send(undefined, [ev.page('lead', LANDING), ev.lead({ ...ann, phoneNumber: '5550101234' })]);
    await outboxSettled(collector);
    const log = JSON.stringify(await collector.store.listAttempts());
    for (const secret of ['ann@example.com', 'Ann', 'Lee', '5550101234', 'fb-login', 'fb-password', 'AFF7']) expect(log).not.toContain(secret);
    expect(log).toContain('leadPage');
  });
});

describe('Konnektive relay: operations', () => {
  it('sends the visitor IP from X-Forwarded-For only when TRUST_PROXY is on', async () => {
    collector = await startTestCollector(konnektiveEnv(double.url, { TRUST_PROXY: 'on' }));
    await collector.post({ events: [ev.page('presell', LANDING)] }, { headers: { 'x-forwarded-for': '203.0.113.9, 198.51.100.7' } });
    await outboxSettled(collector);
    await collector.close();
    collector = await startTestCollector(konnektiveEnv(double.url));
    await collector.post({ events: [ev.page('presell', LANDING)] }, { headers: { 'x-forwarded-for': '198.51.100.7' } });
    await outboxSettled(collector);
    expect(clickCalls().map((call) => call.params.ipAddress)).toEqual(['198.51.100.7', '127.0.0.1']);
  });

  it('exposes outbox states and upstream calls with their latency in /metrics', async () => {
    collector = await startTestCollector(konnektiveEnv(double.url));
    double.fail('http500', { times: 1 });
    await send(undefined, [ev.page('lead', LANDING), ev.lead(ann)]);
    await outboxSettled(collector);
    const metrics = await (await fetch(`${collector.url}/metrics`)).text();
    expect(metrics).toMatch(/^funnelbeacon_outbox_jobs\{state="done"\} 2$/m);
    expect(metrics).toMatch(/^funnelbeacon_upstream_calls_total\{upstream="konnektive",endpoint="importClick",outcome="transient"\} 1$/m);
    expect(metrics).toMatch(/^funnelbeacon_upstream_calls_total\{upstream="konnektive",endpoint="importLead",outcome="ok"\} 1$/m);
    expect(metrics).toMatch(/^funnelbeacon_upstream_call_duration_seconds_count\{upstream="konnektive",endpoint="importClick"\} 2$/m);
    expect(metrics).toMatch(/^funnelbeacon_events_accepted_total\{type="lead"\} 1$/m);
  });

  it('logs JSON lines without emails, phones, names, credentials or tokens', async () => {
    const lines: string[] = [];
    const logger = createLogger('debug', { write: (line: string) => void lines.push(line) });
    collector = await startTestCollector(konnektiveEnv(double.url), { logger });
    double.fail('error', { times: 1 });
    const { session } = await send(undefined, [ev.page('lead', LANDING), ev.lead({ ...ann, phoneNumber: '5550101234' })]);
    await outboxSettled(collector);
    double.setCredentials('x', 'y');
    await send(session, [ev.page('checkout', 'https://secure.example/checkout')]);
    await eventually(() => collector.health.get('konnektive').state === 'paused');
    const log = lines.join('');
    expect(lines.length).toBeGreaterThan(3);
    for (const line of lines) expect(() => JSON.parse(line)).not.toThrow();
    for (const secret of ['ann@example.com', '"Ann"', 'Lee', '5550101234', 'fb-login', 'fb-password', session]) expect(log).not.toContain(secret);
    expect(log).toMatch(/relay paused/);
  });
});

describe('sandbox relay', () => {
  it('records what it would send and answers with sandbox ids, so later calls carry them', async () => {
    const { testEnv } = await import('../../test/support/test-collector.js');
    collector = await startTestCollector(testEnv());
    const { session, ids } = await send(undefined, [ev.page('presell', LANDING)]);
    await send(session, [ev.page('lead', 'https://offer.example/lead'), ev.lead(ann)]);
    await outboxSettled(collector);
    const stored = await collector.store.getSession(ids.session);
    expect(stored?.konnektive.sessionId).toMatch(/^sbx/);
    expect(stored?.konnektive.orderId).toMatch(/^SBX/);
    // Konnektive's calls (the ad platforms' conversions are recorded beside them; see conversions.test.ts).
    const attempts = (await collector.store.listAttempts()).filter((attempt) => attempt.upstream === 'konnektive');
    expect(attempts.map((attempt) => [attempt.endpoint, attempt.outcome])).toEqual([
      ['importClick', 'sandbox'],
      ['importClick', 'sandbox'],
      ['importLead', 'sandbox'],
    ]);
    expect(JSON.parse(attempts[1]!.request)).toMatchObject({ pageType: 'leadPage', sessionId: stored?.konnektive.sessionId });
    expect(double.calls).toHaveLength(0);
  });
});
