/**
 * The Meta Conversions API client against the strict Meta double over real HTTP on 127.0.0.1:
 * what Meta counts, how each refusal and outage comes back as a value, and that nothing the
 * delivery log keeps holds the token or any of the buyer's data, hashed or not.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startMetaDouble, type MetaDouble } from '../../test/doubles/meta-double.js';
import { expectNothingPersonal, purchaseConversion } from '../../test/support/conversions.js';
import type { CallRecord } from '../outbox/upstream-call.js';
import { metaClient, type MetaClientOptions } from './meta-client.js';
import { metaServerEvent } from './meta-mapper.js';

const TOKEN = 'EAAGm0PX4ZCpsBAsecret-meta-token';
let meta: MetaDouble;
let records: CallRecord[];
let messages: string[];

beforeAll(async () => {
  meta = await startMetaDouble({ accessToken: TOKEN });
});
afterAll(async () => {
  await meta.close();
});
beforeEach(() => {
  meta.reset();
});
records = [];
messages = [];

const client = (options: Partial<MetaClientOptions> = {}) => metaClient({ apiUrl: meta.apiUrl, pixelId: meta.pixelId, accessToken: TOKEN, timeoutMs: 2_000, ...options });
const record = (call: CallRecord) => records.push(call);
const purchase = () => metaServerEvent(purchaseConversion(Date.now()));

async function send(events = [purchase()], options: Partial<MetaClientOptions> = {}) {
  const before = records.length;
  const result = await client(options).send(events, record);
  if (!result.ok) messages.push(result.message);
  return { result, call: records[before] };
}

describe('send', () => {
  it('delivers a Purchase that Meta counts once, however often it is sent', async () => {
    const { result, call } = await send();
    expect(result).toMatchObject({ ok: true, status: 200, eventsReceived: 1 });
    await send();
    expect(meta.received()).toHaveLength(2);
    expect(meta.counted()).toHaveLength(1);
    expect(meta.counted()[0]?.event).toMatchObject({ event_name: 'Purchase', event_id: 'sess_8f2k1.Purchase' });
    expect(call).toMatchObject({ endpoint: 'POST /events', outcome: 'ok', httpStatus: 200 });
  });

  it('puts the token in the body, never in the URL', async () => {
    await send();
    const request = meta.requests[0];
    expect(request?.path).toBe(`/v25.0/${meta.pixelId}/events`);
    expect(request?.query).toEqual({});
    expect(request?.body).toMatchObject({ access_token: TOKEN });
  });

  it('sends the test event code when configured', async () => {
    await send([purchase()], { testEventCode: 'TEST4242' });
    expect(meta.received()[0]?.testEventCode).toBe('TEST4242');
  });

  it('summarises the request by names, ids, times, user_data keys and amounts', async () => {
    const event = purchase();
    const { call } = await send([event]);
    expect(JSON.parse(call?.request ?? '')).toEqual({
      events: [
        {
          event_name: 'Purchase',
          event_id: 'sess_8f2k1.Purchase',
          event_time: event.event_time,
          user_data: ['em', 'ph', 'fn', 'ln', 'ct', 'st', 'zp', 'country', 'external_id', 'client_ip_address', 'client_user_agent', 'fbc', 'fbp'],
          value: 52.45,
          currency: 'USD',
          order_id: 'KC-1001',
          contents: 2,
        },
      ],
    });
    expect(JSON.parse(call?.response ?? '')).toMatchObject({ events_received: 1, messages: 0 });
  });

  it('is auth when Meta answers a bad token with code 190 under HTTP 400', async () => {
    const { result, call } = await send([purchase()], { accessToken: 'EAAwrong-token' });
    expect(result).toMatchObject({ ok: false, failure: 'auth', status: 400 });
    expect(call?.outcome).toBe('auth');
    meta.fail('badToken', { times: 1 });
    expect((await send()).result).toMatchObject({ ok: false, failure: 'auth' });
    expect(meta.received()).toHaveLength(0);
  });

  it('is transient on a 5xx, a dropped connection, a timeout and a 2xx that is not Meta\'s answer', async () => {
    meta.fail('http500', { times: 1 });
    expect((await send()).result).toMatchObject({ ok: false, failure: 'transient', status: 500 });
    meta.fail('down', { times: 1 });
    expect((await send()).result).toMatchObject({ ok: false, failure: 'transient', message: 'connection failed' });
    meta.fail('hang', { times: 1 });
    expect((await send([purchase()], { timeoutMs: 150 })).result).toMatchObject({ ok: false, failure: 'transient', message: 'timed out after 150 ms' });
    meta.fail('notJson', { times: 1 });
    const { result, call } = await send();
    expect(result).toMatchObject({ ok: false, failure: 'transient', status: 200 });
    expect(call?.outcome).toBe('transient');
  });

  it('is rate_limited on Meta\'s rate-limit codes and HTTP 429, with when to try again', async () => {
    const now = () => 1_000_000;
    for (const code of [4, 17, 32, 613, 80004]) {
      meta.fail('rateLimited', { times: 1, code });
      const { result, call } = await send([purchase()], { now });
      expect(result).toEqual({ ok: false, failure: 'rate_limited', status: 400, retryAt: 1_060_000, message: `HTTP 400 (code ${code}): (#${code}) User request limit reached` });
      expect(call?.outcome).toBe('transient');
    }
    meta.fail('http429', { times: 1 });
    expect((await send([purchase()], { now })).result).toMatchObject({ failure: 'rate_limited', status: 429 });
  });

  it('is rejected with Meta\'s message when an event lacks client_user_agent (and nothing of the batch is taken)', async () => {
    const broken = purchase();
    delete broken.user_data.client_user_agent;
    const { result, call } = await send([purchase(), broken]);
    expect(result).toMatchObject({ ok: false, failure: 'rejected', status: 400 });
    expect(!result.ok && result.message).toMatch(/code 100.*Invalid parameter/);
    expect(call?.outcome).toBe('rejected');
    expect(meta.received()).toHaveLength(0);
  });

  it('refuses an empty batch and one over 1,000 events without calling Meta', async () => {
    expect((await send([])).result).toMatchObject({ ok: false, failure: 'rejected' });
    expect((await send(Array.from({ length: 1001 }, purchase))).result).toMatchObject({ ok: false, failure: 'rejected' });
    expect(meta.requests).toHaveLength(0);
    expect(records.filter((call) => call.httpStatus === undefined && call.outcome === 'rejected')).toHaveLength(0);
  });

  it('never follows a redirect (the token would go along)', async () => {
    const seen: RequestInit[] = [];
    const redirecting = (async (_url: string | URL | Request, init?: RequestInit) => {
      seen.push(init ?? {});
      return new Response(null, { status: 307, headers: { location: 'https://elsewhere.example/v25.0/1/events' } });
    }) as typeof fetch;
    const { result } = await send([purchase()], { fetch: redirecting });
    expect(seen[0]?.redirect).toBe('manual');
    expect(result).toMatchObject({ ok: false, failure: 'transient', status: 307 });
    expect(!result.ok && result.message).toMatch(/https:\/\/elsewhere\.example.*META_API_URL/);
  });

  it('scrubs the token, hashes, IPs and emails from a message that echoes them', async () => {
    const hash = 'a'.repeat(64);
    const echoing = (async () =>
      Response.json(
        { error: { message: `Bad value ${hash} for ada.lovelace@example.com from 203.0.113.9 with token ${TOKEN}`, type: 'OAuthException', code: 100, fbtrace_id: 'x' } },
        { status: 400 },
      )) as unknown as typeof fetch;
    const { result } = await send([purchase()], { fetch: echoing });
    expect(result).toMatchObject({ ok: false, failure: 'rejected' });
    expect(!result.ok && result.message).toBe('HTTP 400 (code 100): Bad value [hash] for [email] from [ip] with token [token]');
  });
});

describe('check', () => {
  it('reads the pixel with the token and records no event', async () => {
    expect(await client().check()).toEqual({ outcome: 'ok', message: `Meta: pixel ${meta.pixelId} readable with the access token` });
    expect(meta.requests[0]).toMatchObject({ method: 'GET', query: { fields: 'id' } });
    expect(meta.received()).toHaveLength(0);
  });
  it('is auth with a bad token and other for a pixel Meta does not know', async () => {
    const bad = await client({ accessToken: 'EAAwrong' }).check();
    expect(bad.outcome).toBe('auth');
    messages.push(bad.message);
    const unknown = await client({ pixelId: '999' }).check();
    expect(unknown.outcome).toBe('other');
    expect(unknown.message).toMatch(/code 100\/33/);
  });
});

describe('the delivery log', () => {
  it('kept, across every call above, no token, hash, email, IP or buyer value', () => {
    expect(records.length).toBeGreaterThan(15);
    expectNothingPersonal(JSON.stringify(records) + JSON.stringify(messages), TOKEN);
  });
});
