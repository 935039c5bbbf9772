/**
 * @module accuracy-route.test
 * The dashboard's delivery accuracy endpoints against a real collector: the period and the one
 * before it (the last 24 hours by default), the drill-down to a destination's items, and what a
 * bad query or an unknown destination is answered.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { konnektiveEnv, startTestCollector, type TestCollector } from '../../test/support/test-collector.js';
import { AccuracyItemsResponse, AccuracyResponse } from '../dashboard/api-schema.js';

const TOKEN = 'dashboard-token-0123456789abcdef';
const bearer = { authorization: `Bearer ${TOKEN}` };
const HOUR = 3_600_000;
let collector: TestCollector;
afterEach(async () => {
  await collector.close();
});

/** A person's session with a landing page view whose Import Click was never queued, `hoursAgo` ago. */
async function pageViewWithoutClick(id: string, hoursAgo: number) {
  const at = Date.now() - hoursAgo * HOUR;
  await collector.store.transaction(async (tx) => {
    await tx.insertSession({ id, campaignId: '12', createdAt: at, lastSeenAt: at, landingUrl: 'https://offer.example/', referrer: undefined, userAgent: 'Mozilla/5.0', ip: '203.0.113.9', isBot: false });
    await tx.insertEvent({ id: `${id}-e1`, sessionId: id, type: 'page', receivedAt: at, payload: { id: `${id}-e1`, type: 'page', page: 'landing', url: 'https://offer.example/' } });
  });
}

const get = (path: string, headers: Record<string, string> = bearer) => fetch(`${collector.url}/dashboard/api${path}`, { headers });

describe('delivery accuracy endpoints', () => {
  it('answers each destination for the last 24 hours beside the 24 hours before, and drills down to the sessions missing', async () => {
    collector = await startTestCollector(konnektiveEnv('http://127.0.0.1:9', { DASHBOARD_TOKEN: TOKEN }), { runWorker: false });
    await pageViewWithoutClick('sNow1', 1);
    await pageViewWithoutClick('sBefore1', 30);
    await pageViewWithoutClick('sBefore2', 40);

    expect((await get('/delivery/accuracy', {})).status).toBe(401);
    const res = await get('/delivery/accuracy');
    expect(res.status).toBe(200);
    const body = AccuracyResponse.parse(await res.json());
    expect(body.to - body.from).toBe(24 * HOUR);
    expect(body.previous).toEqual({ from: body.from - 24 * HOUR, to: body.from });
    expect(body.threshold).toBe(0.95);
    const click = body.destinations.find((row) => row.destination === 'konnektive-click')!;
    expect(click.label).toBe('Konnektive Import Click');
    expect(click.current).toMatchObject({ expected: 1, missing: 1, sent: 0, accuracy: 0 });
    expect(click.previous).toMatchObject({ expected: 2, missing: 2, accuracy: 0 });
    expect(body.destinations.find((row) => row.destination === 'konnektive-lead')!.current).toMatchObject({ expected: 0, accuracy: 1 });

    const items = AccuracyItemsResponse.parse(await (await get('/delivery/accuracy/konnektive-click/items')).json());
    expect(items.items).toMatchObject([{ sessionId: 'sNow1', item: 'landing', status: 'missing', job: null }]);
    const earlier = AccuracyItemsResponse.parse(await (await get(`/delivery/accuracy/konnektive-click/items?from=${body.previous.from}&to=${body.previous.to}`)).json());
    expect(earlier.items.map((item) => item.sessionId)).toEqual(['sBefore1', 'sBefore2']);
  });

  it('refuses a bad period and an unknown destination', async () => {
    collector = await startTestCollector(konnektiveEnv('http://127.0.0.1:9', { DASHBOARD_TOKEN: TOKEN }), { runWorker: false });
    const now = Date.now();
    expect((await get(`/delivery/accuracy?from=${now}&to=${now - 1}`)).status).toBe(400);
    expect((await get(`/delivery/accuracy?from=${now - 40 * 24 * HOUR}&to=${now}`)).status).toBe(400);
    expect((await get('/delivery/accuracy?from=yesterday')).status).toBe(400);
    expect((await get('/delivery/accuracy/nowhere/items')).status).toBe(404);
    expect((await get('/delivery/accuracy/Bad%20Id/items')).status).toBe(404);
  });
});
