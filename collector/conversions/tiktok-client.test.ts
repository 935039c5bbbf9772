/**
 * The TikTok Events API client against the strict TikTok double over real HTTP on 127.0.0.1:
 * success is HTTP 200 with code 0, every non-zero code is a failure value of its kind, and the
 * delivery log keeps no token and none of the buyer's data.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startTikTokDouble, type TikTokDouble } from '../../test/doubles/tiktok-double.js';
import { expectNothingPersonal, purchaseConversion } from '../../test/support/conversions.js';
import type { CallRecord } from '../outbox/upstream-call.js';
import { TIKTOK_CHECK_TEST_CODE, tiktokClient, type TikTokClientOptions } from './tiktok-client.js';
import { tiktokEvent } from './tiktok-mapper.js';

const TOKEN = 'tt-9f8e7d6c5b4a-secret-token';
let tiktok: TikTokDouble;
const records: CallRecord[] = [];
const messages: string[] = [];

beforeAll(async () => {
  tiktok = await startTikTokDouble({ accessToken: TOKEN });
});
afterAll(async () => {
  await tiktok.close();
});
beforeEach(() => {
  tiktok.reset();
});

const client = (options: Partial<TikTokClientOptions> = {}) => tiktokClient({ apiUrl: tiktok.url, pixelCode: tiktok.pixelCode, accessToken: TOKEN, timeoutMs: 2_000, ...options });
const purchase = () => tiktokEvent(purchaseConversion(Date.now()));

async function send(events = [purchase()], options: Partial<TikTokClientOptions> = {}) {
  const before = records.length;
  const result = await client(options).send(events, (call) => records.push(call));
  if (!result.ok) messages.push(result.message);
  return { result, call: records[before] };
}

describe('send', () => {
  it('delivers a CompletePayment that TikTok counts once, however often it is sent', async () => {
    const { result, call } = await send();
    expect(result).toMatchObject({ ok: true, status: 200 });
    expect(result.ok && result.requestId).toMatch(/\d+/);
    await send();
    expect(tiktok.counted()).toHaveLength(1);
    expect(tiktok.received()).toHaveLength(2);
    expect(tiktok.requests[0]?.headers['access-token']).toBe(TOKEN);
    expect(tiktok.requests[0]?.path).toBe('/open_api/v1.3/event/track/');
    expect(call).toMatchObject({ endpoint: 'POST /event/track', outcome: 'ok', httpStatus: 200 });
    expect(JSON.parse(call?.request ?? '')).toMatchObject({
      events: [{ event: 'CompletePayment', event_id: 'sess_8f2k1.Purchase', user: ['email', 'phone', 'external_id', 'ip', 'user_agent', 'ttclid', 'ttp'], value: 52.45, currency: 'USD', contents: 2 }],
    });
  });

  it('sends the test event code when configured', async () => {
    await send([purchase()], { testEventCode: 'TEST77' });
    expect(tiktok.received()[0]?.testEventCode).toBe('TEST77');
  });

  it('is auth on a bad token, under HTTP 200', async () => {
    const { result, call } = await send([purchase()], { accessToken: 'tt-wrong-token' });
    expect(result).toMatchObject({ ok: false, failure: 'auth', status: 200 });
    expect(!result.ok && result.message).toMatch(/code 40105/);
    expect(call?.outcome).toBe('auth');
    expect((await send([purchase()], { pixelCode: 'COTHERPIXEL' })).result).toMatchObject({ failure: 'auth' });
  });

  it('is transient on a 5xx, a system error code, a dropped connection and a timeout', async () => {
    tiktok.fail('http500', { times: 1 });
    expect((await send()).result).toMatchObject({ ok: false, failure: 'transient', status: 500 });
    tiktok.fail('systemError', { times: 1 });
    expect((await send()).result).toMatchObject({ ok: false, failure: 'transient', status: 200 });
    tiktok.fail('down', { times: 1 });
    expect((await send()).result).toMatchObject({ ok: false, failure: 'transient', message: 'connection failed' });
    tiktok.fail('hang', { times: 1 });
    expect((await send([purchase()], { timeoutMs: 150 })).result).toMatchObject({ ok: false, failure: 'transient', message: 'timed out after 150 ms' });
  });

  it('is rate_limited on code 40100 and HTTP 429', async () => {
    const now = () => 5_000_000;
    tiktok.fail('rateLimited', { times: 1 });
    const { result, call } = await send([purchase()], { now });
    expect(result).toMatchObject({ ok: false, failure: 'rate_limited', status: 200, retryAt: 5_060_000 });
    expect(call?.outcome).toBe('transient');
    tiktok.fail('http429', { times: 1 });
    expect((await send([purchase()], { now })).result).toMatchObject({ failure: 'rate_limited', status: 429 });
  });

  it('is rejected with TikTok\'s message when an event is malformed', async () => {
    const broken = { ...purchase(), user: { email: 'ada@example.com' } };
    const { result } = await send([broken]);
    expect(result).toMatchObject({ ok: false, failure: 'rejected', status: 200 });
    expect(!result.ok && result.message).toMatch(/code 40002.*user\.email must be SHA-256/);
    expect(tiktok.received()).toHaveLength(0);
  });

  it('refuses an empty batch and one over 1,000 events without calling TikTok', async () => {
    const before = records.length;
    expect((await send([])).result).toMatchObject({ ok: false, failure: 'rejected' });
    expect((await send(Array.from({ length: 1001 }, purchase))).result).toMatchObject({ ok: false, failure: 'rejected' });
    expect(tiktok.requests).toHaveLength(0);
    expect(records).toHaveLength(before);
  });

  it('reads a message about the access token as auth whatever its code', async () => {
    const saying = (async () => Response.json({ code: 40199, message: 'The access_token has expired', request_id: '1' })) as unknown as typeof fetch;
    expect((await send([purchase()], { fetch: saying })).result).toMatchObject({ ok: false, failure: 'auth', message: 'HTTP 200 (code 40199): The access_token has expired' });
  });

  it('never follows a redirect', async () => {
    const redirecting = (async (_url: string | URL | Request, init?: RequestInit) => {
      expect(init?.redirect).toBe('manual');
      return new Response(null, { status: 302, headers: { location: 'https://elsewhere.example/' } });
    }) as typeof fetch;
    expect((await send([purchase()], { fetch: redirecting })).result).toMatchObject({ ok: false, failure: 'transient', status: 302 });
  });
});

describe('check', () => {
  it('sends one fake event under the test event code', async () => {
    expect((await client().check()).outcome).toBe('ok');
    expect(tiktok.received()).toHaveLength(1);
    expect(tiktok.received()[0]).toMatchObject({ testEventCode: TIKTOK_CHECK_TEST_CODE, event: { event_id: expect.stringMatching(/^funnelbeacon-check-/) as unknown as string } });
  });
  it('is auth with a bad token', async () => {
    const result = await client({ accessToken: 'tt-wrong' }).check();
    expect(result.outcome).toBe('auth');
    messages.push(result.message);
  });
});

describe('the delivery log', () => {
  it('kept, across every call above, no token, hash, email, IP or buyer value', () => {
    expect(records.length).toBeGreaterThan(10);
    expectNothingPersonal(JSON.stringify(records) + JSON.stringify(messages), TOKEN);
  });
});
