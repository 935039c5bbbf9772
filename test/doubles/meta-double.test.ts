/**
 * Tests of the Meta Conversions API double itself: the client tests trust it to refuse what Meta
 * refuses, so each rule is proven here over real HTTP. A fake clock drives event ages and the
 * 48-hour deduplication window.
 */
import { createHash } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startMetaDouble, type MetaDouble } from './meta-double.js';

const TOKEN = 'meta-test-token';
const HOUR = 60 * 60_000;
const hash = (text: string) => createHash('sha256').update(text).digest('hex');

let meta: MetaDouble;
let clock: number;

beforeEach(async () => {
  clock = Date.UTC(2026, 11, 7, 16, 0, 0);
  meta = await startMetaDouble({ now: () => clock });
});
afterEach(async () => {
  await meta.close();
});

function event(extra: Record<string, unknown> = {}, user: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    event_name: 'Purchase',
    event_time: Math.floor(clock / 1000) - 60,
    event_id: 's1.Purchase',
    event_source_url: 'https://shop.example/thanks',
    action_source: 'website',
    user_data: { em: [hash('a@b.co')], client_user_agent: 'Mozilla/5.0', fbc: 'fb.1.1733580000000.AbC', ...user },
    custom_data: { value: 39.95, currency: 'USD' },
    ...extra,
  };
}

async function post(body: Record<string, unknown>, token: string | null = TOKEN, pixel = meta.pixelId): Promise<{ status: number; json: any }> {
  const res = await fetch(`${meta.apiUrl}/${pixel}/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(token === null ? body : { ...body, access_token: token }),
  });
  const text = await res.text();
  let json: unknown = text;
  try {
    json = JSON.parse(text);
  } catch {
    // HTML stays text
  }
  return { status: res.status, json };
}

describe('tokens and pixels', () => {
  it('answers a missing token with code 104 and a wrong one with code 190, both HTTP 400', async () => {
    const missing = await post({ data: [event()] }, null);
    expect(missing.status).toBe(400);
    expect(missing.json.error.code).toBe(104);
    const wrong = await post({ data: [event()] }, 'nope');
    expect(wrong.status).toBe(400);
    expect(wrong.json.error).toMatchObject({ code: 190, type: 'OAuthException' });
    expect(meta.received()).toHaveLength(0);
  });
  it('takes the token from the query string or a bearer header too', async () => {
    const res = await fetch(`${meta.apiUrl}/${meta.pixelId}/events?access_token=${TOKEN}`, { method: 'POST', body: JSON.stringify({ data: [event()] }) });
    expect(res.status).toBe(200);
    const read = await fetch(`${meta.apiUrl}/${meta.pixelId}?fields=id`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(await read.json()).toEqual({ id: meta.pixelId });
  });
  it('refuses a pixel it does not hold (code 100, subcode 33)', async () => {
    const res = await post({ data: [event()] }, TOKEN, '999');
    expect(res.status).toBe(400);
    expect(res.json.error).toMatchObject({ code: 100, error_subcode: 33 });
  });
});

describe('events', () => {
  it('accepts a valid batch with Meta\'s success body', async () => {
    const res = await post({ data: [event(), event({ event_name: 'Lead', event_id: 's1.Lead', custom_data: undefined })] });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ events_received: 2, messages: [] });
    expect(typeof res.json.fbtrace_id).toBe('string');
    expect(meta.received().map((r) => r.event.event_name)).toEqual(['Purchase', 'Lead']);
  });

  it.each([
    ['event_name', { event_name: undefined }, {}],
    ['event_time', { event_time: undefined }, {}],
    ['action_source', { action_source: undefined }, {}],
    ['user_data', { user_data: undefined }, {}],
    ['event_source_url', { event_source_url: undefined }, {}],
    ['client_user_agent', {}, { client_user_agent: undefined }],
    ['7 days', { event_time: Math.floor(Date.UTC(2026, 11, 7, 16) / 1000) - 8 * 24 * 3600 }, {}],
    ['future', { event_time: Math.floor(Date.UTC(2026, 11, 7, 16) / 1000) + 3600 }, {}],
    ['em', {}, { em: ['a@b.co'] }],
    ['ph', {}, { ph: hash('1').toUpperCase() }],
    ['fn', {}, { fn: 'jose' }],
    ['external_id', {}, { external_id: ['cust-1'] }],
    ['fbc', {}, { fbc: 'fb.1.1733580000.AbC' }],
    ['Purchase', { custom_data: { value: 10 } }, {}],
  ])('rejects the whole batch when one event lacks or breaks %s', async (rule, extra, user) => {
    const res = await post({ data: [event({ event_id: 'ok' }), event(extra, user)] });
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe(100);
    expect(res.json.error.error_user_msg).toMatch(new RegExp(`data\\[1\\]: .*${rule.replace(' ', '.')}`));
    expect(meta.received()).toHaveLength(0);
  });

  it('takes a hash as a string or a list of them', async () => {
    const res = await post({ data: [event({}, { em: hash('a@b.co'), ph: [hash('1'), hash('2')] })] });
    expect(res.status).toBe(200);
  });

  it('takes 1 to 1,000 events', async () => {
    expect((await post({ data: [] })).status).toBe(400);
    expect((await post({ data: Array.from({ length: 1001 }, () => event()) })).json.error.error_user_msg).toMatch(/1001 events/);
    expect((await post({ data: Array.from({ length: 1000 }, (_, i) => event({ event_id: `e${i}` })) })).json.events_received).toBe(1000);
  });
});

describe('deduplication', () => {
  it('counts the same event_name + event_id once within 48 hours, again after', async () => {
    await post({ data: [event()] });
    clock += 47 * HOUR;
    await post({ data: [event()] });
    await post({ data: [event({ event_name: 'Lead', custom_data: undefined })] });
    clock += 2 * HOUR;
    await post({ data: [event()] });
    expect(meta.received()).toHaveLength(4);
    expect(meta.counted().map((r) => [r.event.event_name, r.receivedAt - Date.UTC(2026, 11, 7, 16)])).toEqual([
      ['Purchase', 0],
      ['Lead', 47 * HOUR],
      ['Purchase', 49 * HOUR],
    ]);
  });
});

describe('failing on purpose', () => {
  it('answers the failure for `times` requests, then recovers', async () => {
    meta.fail('http500', { times: 1 });
    const down = await post({ data: [event()] });
    expect(down.status).toBe(500);
    expect(down.json.error).toMatchObject({ code: 2, is_transient: true });
    expect((await post({ data: [event()] })).status).toBe(200);
  });
  it('gives Meta\'s token and rate-limit envelopes', async () => {
    meta.fail('badToken', { times: 1 });
    expect((await post({ data: [event()] })).json.error.code).toBe(190);
    meta.fail('rateLimited', { times: 1, code: 613 });
    expect((await post({ data: [event()] })).json.error).toMatchObject({ code: 613 });
    meta.fail('http429', { times: 1 });
    expect((await post({ data: [event()] })).status).toBe(429);
    expect(meta.received()).toHaveLength(0);
  });
  it('drops the connection for `down`', async () => {
    meta.fail('down', { times: 1 });
    await expect(post({ data: [event()] })).rejects.toThrow();
    expect(meta.requests[0]?.status).toBe(0);
  });
});
