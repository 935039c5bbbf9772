import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteStore } from '../store/sqlite-store.js';
import { newSessionId } from '../tokens.js';
import type { FunnelEvent } from '../wire-schema.js';
import { applyBatch, DEFAULT_INGEST_POLICY, type IngestOutcome, type IngestRequest } from './apply-batch.js';

let store: SqliteStore;
const T0 = 1_700_000_000_000;

beforeEach(async () => {
  store = SqliteStore.fromUrl('file::memory:');
  await store.migrate();
});
afterEach(async () => {
  await store.close();
});

const page = (pageName: 'presell' | 'checkout' | 'thankyou', url = 'https://offer.example/?affId=A1'): FunnelEvent => ({ id: randomUUID(), type: 'page', page: pageName, url });
const lead = (fields: Record<string, string>): FunnelEvent => ({ id: randomUUID(), type: 'lead', fields });
const cart = (): FunnelEvent => ({ id: randomUUID(), type: 'cart', items: [{ id: '41', name: 'Bottle', price: 39.95, qty: 1 }], currency: 'USD' });
const order = (orderId: string): FunnelEvent => ({ id: randomUUID(), type: 'order', orderId });

function ingest(request: Partial<IngestRequest> & Pick<IngestRequest, 'events'>): Promise<IngestOutcome> {
  const full: IngestRequest = { mode: 'new', sessionId: newSessionId(T0), campaignId: '12', ip: '203.0.113.7', userAgent: 'Mozilla/5.0', isBot: false, receivedAt: T0, ...request };
  return store.transaction((tx) => applyBatch(tx, full, DEFAULT_INGEST_POLICY));
}

/** The outcome's session is what the route answers from: it must be the session as stored. */
async function expectOutcomeAsStored(outcome: IngestOutcome): Promise<string> {
  if (!outcome.ok) throw new Error('not accepted');
  expect(outcome.session).toEqual(await store.getSession(outcome.session.id));
  return outcome.session.id;
}

describe('applyBatch', () => {
  it("answers with the session as stored, for a new visitor's batch of every kind of event", async () => {
    const outcome = await ingest({ events: [page('presell'), lead({ firstName: 'Ann', emailAddress: 'ann@example.com' }), cart(), { id: randomUUID(), type: 'exit', page: 'presell' }] });
    const id = await expectOutcomeAsStored(outcome);
    const stored = (await store.getSession(id))!;
    expect(stored).toMatchObject({ lastPage: 'presell', landingUrl: 'https://offer.example/?affId=A1', leadVersion: 1, cart: { currency: 'USD' }, state: 'open' });
    expect(stored.dueAt).toBe(T0 + DEFAULT_INGEST_POLICY.abandonAfterMs);
  });

  it('answers with the session as stored after updates, an order and the thank-you page', async () => {
    const id = await expectOutcomeAsStored(await ingest({ events: [page('presell')] }));
    const existing = { mode: 'existing' as const, sessionId: id };
    await expectOutcomeAsStored(await ingest({ ...existing, receivedAt: T0 + 1_000, events: [lead({ lastName: 'Lee' }), lead({ lastName: 'Lee' })] }));
    await expectOutcomeAsStored(await ingest({ ...existing, receivedAt: T0 + 2_000, events: [page('checkout'), cart(), order('ORD1')] }));
    const done = await ingest({ ...existing, receivedAt: T0 + 3_000, events: [page('thankyou')] });
    await expectOutcomeAsStored(done);
    expect(done.ok && done.session).toMatchObject({ state: 'ordered', stateChangedAt: T0 + 2_000, claimedOrderId: 'ORD1', funnelDone: true, lastPage: 'thankyou', leadVersion: 1, dueAt: T0 + 3_000 });
    expect((await store.listStateChanges(id)).map((change) => change.state)).toEqual(['open', 'ordered']);
  });

  it('keeps the first landing URL, and takes one only from a page view when the session has none', async () => {
    const id = await expectOutcomeAsStored(await ingest({ events: [lead({ firstName: 'Ann' })] }));
    expect((await store.getSession(id))!.landingUrl).toBeUndefined();
    const existing = { mode: 'existing' as const, sessionId: id };
    await expectOutcomeAsStored(await ingest({ ...existing, events: [page('presell', 'https://offer.example/first'), page('checkout', 'https://offer.example/second')] }));
    await expectOutcomeAsStored(await ingest({ ...existing, events: [page('checkout', 'https://offer.example/third')] }));
    expect((await store.getSession(id))!.landingUrl).toBe('https://offer.example/first');
  });

  it('reopens an expired session on new activity, and counts a resent event as a duplicate', async () => {
    const first = page('presell');
    const id = await expectOutcomeAsStored(await ingest({ events: [first] }));
    await store.updateSession(id, { state: 'expired', stateChangedAt: T0 + 1 });
    const resent = await ingest({ mode: 'existing', sessionId: id, receivedAt: T0 + 5_000, events: [first] });
    expect(resent).toMatchObject({ accepted: 0, duplicates: 1 });
    expect((await store.getSession(id))!.state).toBe('expired');
    const back = await ingest({ mode: 'existing', sessionId: id, receivedAt: T0 + 6_000, events: [page('checkout')] });
    await expectOutcomeAsStored(back);
    expect(back.ok && back.session).toMatchObject({ state: 'open', stateChangedAt: T0 + 6_000 });
  });
});
