/**
 * Tests of the TikTok Events API double itself, over real HTTP: HTTP 200 with a non-zero `code`
 * for every refusal, each rule of an event, deduplication within 48 hours, and the failures it
 * gives on purpose.
 */
import { createHash } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startTikTokDouble, type TikTokDouble } from './tiktok-double.js';

const TOKEN = 'tiktok-test-token';
const HOUR = 60 * 60_000;
const hash = (text: string) => createHash('sha256').update(text).digest('hex');

let tiktok: TikTokDouble;
let clock: number;

beforeEach(async () => {
  clock = Date.UTC(2026, 11, 7, 16, 0, 0);
  tiktok = await startTikTokDouble({ now: () => clock });
});
afterEach(async () => {
  await tiktok.close();
});

function item(extra: Record<string, unknown> = {}, user: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    event: 'CompletePayment',
    event_time: Math.floor(clock / 1000) - 60,
    event_id: 's1.Purchase',
    user: { email: hash('a@b.co'), ttclid: 'E.C.P.x', ttp: 'ttp-1', user_agent: 'Mozilla/5.0', ...user },
    properties: { currency: 'USD', value: 39.95, contents: [{ content_id: '41', quantity: 1, price: 39.95 }] },
    ...extra,
  };
}

async function track(body: Record<string, unknown>, token: string | null = TOKEN, path = '/open_api/v1.3/event/track/'): Promise<{ status: number; json: any }> {
  const res = await fetch(`${tiktok.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token === null ? {} : { 'Access-Token': token }) },
    body: JSON.stringify(body),
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

const body = (data: unknown[], extra: Record<string, unknown> = {}) => ({ event_source: 'web', event_source_id: tiktok.pixelCode, data, ...extra });

describe('tokens and pixels', () => {
  it('answers HTTP 200 with 40104 without a token and 40105 with a wrong one', async () => {
    const missing = await track(body([item()]), null);
    expect(missing.status).toBe(200);
    expect(missing.json.code).toBe(40104);
    expect((await track(body([item()]), 'nope')).json.code).toBe(40105);
    expect(tiktok.received()).toHaveLength(0);
  });
  it('refuses another pixel code (40001) and another event_source (40002)', async () => {
    expect((await track(body([item()], { event_source_id: 'COTHER' }))).json.code).toBe(40001);
    expect((await track(body([item()], { event_source: 'app' }))).json.code).toBe(40002);
  });
  it('knows only the track path', async () => {
    expect((await track(body([item()]), TOKEN, '/open_api/v1.2/event/track/')).status).toBe(404);
  });
});

describe('events', () => {
  it('accepts a valid batch with code 0', async () => {
    const res = await track(body([item(), item({ event: 'SubmitForm', event_id: 's1.Lead', properties: undefined })], { test_event_code: 'TEST1' }));
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ code: 0, message: 'OK' });
    expect(typeof res.json.request_id).toBe('string');
    expect(tiktok.received().map((r) => [r.event.event, r.testEventCode])).toEqual([
      ['CompletePayment', 'TEST1'],
      ['SubmitForm', 'TEST1'],
    ]);
  });

  it.each([
    ['event', { event: 'Purchased' }, {}],
    ['event_time', { event_time: '1733580000' }, {}],
    ['7 days', { event_time: Math.floor(Date.UTC(2026, 11, 7, 16) / 1000) - 8 * 24 * 3600 }, {}],
    ['future', { event_time: Math.floor(Date.UTC(2026, 11, 7, 16) / 1000) + 3600 }, {}],
    ['event_id', { event_id: '' }, {}],
    ['email', {}, { email: 'a@b.co' }],
    ['phone', {}, { phone: '+14155552671' }],
    ['external_id', {}, { external_id: hash('x').toUpperCase() }],
    ['ttclid', {}, { ttclid: 42 }],
    ['value', { properties: { value: '39.95' } }, {}],
    ['content_id', { properties: { contents: [{ quantity: 1 }] } }, {}],
  ])('refuses the request (40002) when one event breaks %s', async (rule, extra, user) => {
    const res = await track(body([item({ event_id: 'ok' }), item(extra, user)]));
    expect(res.json.code).toBe(40002);
    expect(res.json.message).toMatch(new RegExp(`data\\[1\\]: .*${rule.replace(' ', '.')}`));
    expect(tiktok.received()).toHaveLength(0);
  });
});

describe('deduplication', () => {
  it('counts the same event + event_id once within 48 hours', async () => {
    await track(body([item()]));
    clock += 47 * HOUR;
    await track(body([item(), item({ event: 'InitiateCheckout' })]));
    clock += 2 * HOUR;
    await track(body([item()]));
    expect(tiktok.received()).toHaveLength(4);
    expect(tiktok.counted().map((r) => r.event.event)).toEqual(['CompletePayment', 'InitiateCheckout', 'CompletePayment']);
  });
});

describe('failing on purpose', () => {
  it('gives each failure for `times` requests, then recovers', async () => {
    tiktok.fail('http500', { times: 1 });
    expect((await track(body([item()]))).status).toBe(500);
    tiktok.fail('systemError', { times: 1 });
    expect((await track(body([item()]))).json.code).toBe(50000);
    tiktok.fail('rateLimited', { times: 1 });
    expect((await track(body([item()]))).json.code).toBe(40100);
    tiktok.fail('badToken', { times: 1 });
    expect((await track(body([item()]))).json.code).toBe(40105);
    expect(tiktok.received()).toHaveLength(0);
    expect((await track(body([item()]))).json.code).toBe(0);
  });
});
