/**
 * What one session may store and what one address may send, through `POST /v1/events` of a
 * real collector: past the session's cap a batch gets 413 `session_full`, past the address's
 * bytes per minute 429 with Retry-After; either way nothing of it is stored, and `/metrics`
 * counts it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { IngestResponse } from '../wire-schema.js';
import { ev, startTestCollector, testEnv, TEST_SECRET, type TestCollector } from '../../test/support/test-collector.js';

let collector: TestCollector | undefined;
afterEach(async () => {
  await collector?.close();
  collector = undefined;
});

const checkout = (extra = '') => ev.page('checkout', `https://offer.example/checkout${extra}`);
const rejected = async (running: TestCollector, reason: string) => {
  const text = await (await fetch(`${running.url}/metrics`)).text();
  return Number(new RegExp(`^funnelbeacon_events_rejected_total\\{reason="${reason}"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
};
const storedEvents = async (running: TestCollector) => (await running.store.sql().all('SELECT id FROM events')).length;

describe('POST /v1/events past the session cap', () => {
  it('answers 413 session_full, stores nothing of the batch, and counts it', async () => {
    const running = (collector = await startTestCollector(testEnv({ SECRET: TEST_SECRET, SESSION_MAX_EVENTS: '4' })));
    const first = await running.post({ events: [checkout(), ev.lead({ firstName: 'Ann' })] });
    expect(first.status).toBe(200);
    const { session } = (await first.json()) as IngestResponse;

    const refused = await running.post({ session, events: [checkout('?again'), checkout('?once-more'), ev.exit('checkout')] });
    expect(refused.status).toBe(413);
    expect(await refused.json()).toEqual({
      error: { code: 'session_full', message: 'This session has stored as many events as one session may; nothing of this batch was stored.' },
    });
    expect(await storedEvents(running)).toBe(2);
    expect(await rejected(running, 'session_full')).toBe(1);

    // Up to the cap is accepted; one more is not.
    expect((await running.post({ session, events: [checkout('?again'), ev.exit('checkout')] })).status).toBe(200);
    expect((await running.post({ session, events: [ev.exit('checkout')] })).status).toBe(413);
    expect(await storedEvents(running)).toBe(4);
    expect(await rejected(running, 'session_full')).toBe(2);
  });

  it('refuses a link token that would carry a batch into a full session without spending it', async () => {
    const running = (collector = await startTestCollector(testEnv({ SECRET: TEST_SECRET, SESSION_MAX_EVENTS: '2' })));
    const { link } = (await (await running.post({ events: [checkout(), ev.exit('checkout')] })).json()) as IngestResponse;
    const refused = await running.post({ link, events: [checkout('?next-domain')] });
    expect(refused.status).toBe(413);
    const nonce = link.split('.')[3]!;
    expect(await running.store.transaction((tx) => tx.spendToken(`link.${nonce}`, Date.now() + 60_000))).toBe(true);
  });

  it('caps the bytes of a session too (SESSION_MAX_BYTES)', async () => {
    const running = (collector = await startTestCollector(testEnv({ SECRET: TEST_SECRET, SESSION_MAX_BYTES: '5000' })));
    const first = await running.post({ events: [checkout(`?x=${'a'.repeat(1_800)}`)] });
    const { session } = (await first.json()) as IngestResponse;
    expect((await running.post({ session, events: [checkout(`?x=${'b'.repeat(1_800)}`)] })).status).toBe(200);
    const refused = await running.post({ session, events: [checkout(`?x=${'c'.repeat(1_800)}`)] });
    expect(refused.status).toBe(413);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('session_full');
    expect(await storedEvents(running)).toBe(2);
  });
});

describe('POST /v1/events past the bytes per minute of an address', () => {
  it('answers 429 with Retry-After, stores nothing of the request, and counts it', async () => {
    const running = (collector = await startTestCollector(testEnv({ SECRET: TEST_SECRET, RATE_LIMIT_BYTES_PER_MINUTE: '7000' })));
    const body = () => ({ events: [checkout(`?x=${'a'.repeat(1_900)}`)] });
    for (let i = 0; i < 3; i++) expect((await running.post(body())).status).toBe(200);
    const refused = await running.post(body());
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(Number(refused.headers.get('retry-after'))).toBeLessThanOrEqual(60);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('rate_limited');
    // Spent for this minute: even a small body is refused.
    expect((await running.post({ events: [checkout()] })).status).toBe(429);
    expect(await storedEvents(running)).toBe(3);
    expect(await running.store.countSessions()).toBe(3);
    expect(await rejected(running, 'bytes_limited')).toBe(2);
  });

  it('lets an ordinary visit through at the default budget', async () => {
    const running = (collector = await startTestCollector(testEnv({ SECRET: TEST_SECRET })));
    expect(running.config.rateLimitBytesPerMinute).toBe(4 * 1024 * 1024);
    // A whole funnel from one address within the minute: pages and a few hundred lead updates.
    const first = await running.post({ events: [ev.page('presell', 'https://offer.example/?affId=A1&utm_source=fb')] });
    const { session } = (await first.json()) as IngestResponse;
    for (let i = 0; i < 300; i++) {
      const res = await running.post({ session, events: [ev.lead({ firstName: 'Ann', lastName: `Lee${i}`, emailAddress: `ann${i}@example.com` })] });
      expect(res.status).toBe(200);
    }
    for (const page of ['lead', 'checkout', 'upsell1', 'thankyou']) {
      expect((await running.post({ session, events: [ev.page(page, `https://offer.example/${page}`)] })).status).toBe(200);
    }
    expect(await rejected(running, 'bytes_limited')).toBe(0);
    expect(await rejected(running, 'session_full')).toBe(0);
  });
});

describe('POST /v1/events from rotating IPv6 addresses', () => {
  it('counts a whole /64 as one address: rotating within it gains nothing', async () => {
    const running = (collector = await startTestCollector(testEnv({ SECRET: TEST_SECRET, RATE_LIMIT_PER_MINUTE: '3', TRUST_PROXY: 'on' })));
    const from = (address: string) => running.post({ events: [checkout()] }, { headers: { 'x-forwarded-for': address } });
    const statuses = [];
    for (let i = 1; i <= 5; i++) statuses.push((await from(`2001:db8:7:9::${i.toString(16)}`)).status);
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
    // Another /64 is another address.
    expect((await from('2001:db8:7:a::1')).status).toBe(200);
  });
});
