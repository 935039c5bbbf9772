/**
 * @module delivery-accuracy.test
 * The accuracy figures on a fixture whose sent, skipped, failed, waiting and missing items are
 * known, written through the store's own methods (sessions, events, jobs claimed and finished by
 * a worker's calls, emissions), on SQLite and, when it answers, on PostgreSQL.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { testPostgres } from '../../test/support/postgres.js';
import type { Config } from '../config.js';
import { PostgresStore } from '../store/postgres-store.js';
import { SqliteStore } from '../store/sqlite-store.js';
import type { DeliveryAttempt, JobCompletion, NewJob, NewSession, OrderCheck, Store, StoreTx } from '../store/store.js';
import { accuracyItems, deliveryAccuracy, destinations, type Destination } from './delivery-accuracy.js';

const postgres = await testPostgres();
const dirs: string[] = [];
const BACKENDS: { name: string; skip: string | undefined; open: () => Store }[] = [
  {
    name: 'sqlite',
    skip: undefined,
    open: () => {
      const dir = mkdtempSync(join(tmpdir(), 'funnelbeacon-accuracy-'));
      dirs.push(dir);
      return new SqliteStore(join(dir, 'store.db'));
    },
  },
  { name: 'postgres', skip: postgres.skip, open: () => PostgresStore.fromUrl(postgres.url, { schema: postgres.newSchema() }) },
];

const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 11, 7, 10, 0, 0);
const PERIOD = { from: T0, to: T0 + 2 * HOUR };

/** A collector sending to Konnektive, ActiveCampaign and Meta (the destinations' configuration only). */
const ACCURACY_CONFIG = {
  emitVia: 'activecampaign',
  activeCampaign: { apiUrl: 'https://acct.api-us1.com', apiKey: 'k' },
  lifecycle: { enabled: false },
  sandbox: false,
  adPlatforms: { meta: { pixelId: '1', accessToken: 't', apiUrl: 'https://graph.example' }, tiktok: undefined },
} as unknown as Config;

const session = (id: string, at: number, isBot = false): NewSession => ({
  id,
  campaignId: '1',
  createdAt: at,
  lastSeenAt: at,
  landingUrl: 'https://shop.example/',
  referrer: undefined,
  userAgent: 'Mozilla/5.0 (test)',
  ip: '203.0.113.9',
  isBot,
});

const verified = (orderId: string, test = false): OrderCheck => ({
  orderId,
  checkedAt: T0 + 30 * 60_000,
  verified: true,
  order: { orderId, customerId: 'C1', email: 'a@example.com', status: 'COMPLETE', items: [], totalCents: 3995, currency: 'USD', createdAt: '2026-12-07', ...(test ? { test } : {}) },
});

let eventSeq = 0;
async function pageView(tx: StoreTx, sessionId: string, page: 'landing' | 'checkout', at: number) {
  const id = `ev-${++eventSeq}`;
  await tx.insertEvent({ id, sessionId, type: 'page', receivedAt: at, payload: { id, type: 'page', page, url: `https://shop.example/${page}` } });
}

const clickJob = (sessionId: string, page: string, at: number): NewJob => ({ sessionId, upstream: 'konnektive', kind: 'konnektive.click', payload: { page, url: 'https://shop.example/' }, runAt: at });
const metaJob = (sessionId: string, name: string, at: number): NewJob => ({
  sessionId: `meta:${sessionId}`,
  upstream: 'meta',
  kind: 'meta.conversion',
  payload: { session: sessionId, name, at },
  runAt: at,
});

/** How each job finishes: done with an attempt's outcome, dead, or failing (back to pending with one attempt counted). */
type Fate = { done: 'ok' | `skipped:${string}` } | { dead: string } | { failing: string };

/**
 * The fixture, in the period unless said otherwise:
 * - s1: a person with a full lead, a landing and a checkout page view, a verified order.
 * - s2: a lead with an email and no name, a landing page view, nothing queued for its click.
 * - s3: a lead with a phone and names (no Import Lead queued), a landing whose click waits.
 * - s4: a lead with an email and no name, a landing whose click keeps failing; its cart was abandoned and the CART is a dead letter.
 * - s5: a verified test order whose ORDER was never queued.
 * - b1: a bot with an email and a page view.
 * - old: before the period, with a page view and nothing queued.
 */
async function writeFixture(store: Store): Promise<void> {
  const at = T0 + 10 * 60_000;
  const fates = new Map<number, Fate>();
  const queue = async (tx: StoreTx, job: NewJob, fate?: Fate) => {
    const id = await tx.enqueue(job);
    if (fate) fates.set(id, fate);
  };
  await store.transaction(async (tx) => {
    for (const id of ['s1', 's2', 's3', 's4', 's5']) await tx.insertSession(session(id, at));
    await tx.insertSession(session('b1', at, true));
    await tx.insertSession(session('old', T0 - HOUR));
    await tx.updateSession('s1', { lead: { firstName: 'Ann', lastName: 'Lee', emailAddress: 'a@example.com' }, orderCheck: verified('O1'), state: 'complete', stateChangedAt: at });
    await tx.updateSession('s2', { lead: { emailAddress: 'b@example.com' } });
    await tx.updateSession('s3', { lead: { firstName: 'Cy', lastName: 'Ng', phoneNumber: '+15555550123' } });
    await tx.updateSession('s4', { lead: { emailAddress: 'd@example.com' }, cart: { items: [{ id: 'p1', price: 10, qty: 1 }], currency: 'USD' }, state: 'abandoned', stateChangedAt: at });
    await tx.updateSession('s5', { orderCheck: verified('O5', true), state: 'complete', stateChangedAt: at });
    await tx.updateSession('b1', { lead: { emailAddress: 'bot@example.com' } });
    for (const id of ['s1', 's2', 's3', 's4', 'b1', 'old']) await pageView(tx, id, 'landing', at);
    await pageView(tx, 's1', 'checkout', at + 1);

    // Queued first: a session's jobs run in order, and its failing click would hold it back.
    await tx.insertEmission({ sessionId: 's4', kind: 'cart', payload: {}, now: at });
    await queue(tx, { sessionId: 's4', upstream: 'activecampaign', kind: 'emit.cart', payload: {}, runAt: at }, { dead: 'ActiveCampaign answered 422' });
    await queue(tx, clickJob('s1', 'landing', at), { done: 'ok' });
    await queue(tx, clickJob('s1', 'checkout', at), { dead: 'Konnektive refused the click' });
    await queue(tx, clickJob('s3', 'landing', T0 + 3 * HOUR));
    await queue(tx, clickJob('s4', 'landing', at), { failing: 'Konnektive timed out' });
    await queue(tx, { sessionId: 's1', upstream: 'konnektive', kind: 'konnektive.lead', payload: {}, runAt: at }, { done: 'ok' });

    await queue(tx, metaJob('s1', 'Lead', at), { done: 'ok' });
    await queue(tx, metaJob('s2', 'Lead', at), { done: 'skipped:no_consent' });
    await queue(tx, metaJob('b1', 'Lead', at), { done: 'skipped:bot' });
    await queue(tx, metaJob('s3', 'Lead', at), { dead: 'Meta refused the event' });
    await queue(tx, metaJob('s5', 'Purchase', at), { done: 'skipped:test_order' });

    await tx.insertEmission({ sessionId: 's1', kind: 'order', payload: {}, now: at });
    await queue(tx, { sessionId: 's1', upstream: 'activecampaign', kind: 'emit.order', payload: {}, runAt: at }, { done: 'ok' });
  });
  // A worker claims and finishes them (one per session at a time, as it does).
  for (;;) {
    const claimed = (await store.claimJobs({ now: at, owner: 'w', limit: 50, leaseMs: 60_000, skipUpstreams: [] })).filter((job) => fates.has(job.id));
    if (claimed.length === 0) break;
    await store.completeJobs(
      'w',
      claimed.map((job) => {
        const fate = fates.get(job.id)!;
        fates.delete(job.id);
        const attempt = (outcome: DeliveryAttempt['outcome'], response: string): DeliveryAttempt => ({
          jobId: job.id,
          upstream: job.upstream,
          endpoint: String(job.payload.name ?? job.kind),
          request: '{}',
          response,
          outcome,
          httpStatus: undefined,
          latencyMs: 1,
          createdAt: at,
        });
        let completion: JobCompletion;
        let attempts: DeliveryAttempt[];
        if ('done' in fate) {
          completion = { state: 'done' };
          attempts = [fate.done === 'ok' ? attempt('ok', '{}') : attempt('skipped', fate.done.slice('skipped:'.length))];
        } else if ('dead' in fate) {
          completion = { state: 'dead', error: fate.dead };
          attempts = [attempt('rejected', fate.dead)];
        } else {
          completion = { state: 'pending', runAt: T0 + 5 * HOUR, error: fate.failing, countAttempt: true };
          attempts = [attempt('transient', fate.failing)];
        }
        return { id: job.id, sessionId: job.sessionId, completion, attempts, sessionPatch: undefined };
      }),
    );
  }
  await store.updateEmission('s1', 'order', { status: 'sent', now: at });
}

for (const backend of BACKENDS) {
  describe.skipIf(backend.skip !== undefined)(`delivery accuracy: ${backend.name}`, () => {
    let store: Store;
    let list: Destination[];
    const byId = (id: string) => list.find((each) => each.id === id)!;

    beforeEach(async () => {
      store = backend.open();
      await store.migrate();
      await writeFixture(store);
      list = destinations(ACCURACY_CONFIG);
    });
    afterEach(() => store.close());
    afterAll(async () => {
      for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
      await postgres.dropSchemas();
    });

    it('counts every destination from its source of truth: sent, skipped by reason, failed, waiting, missing', async () => {
      const figures = Object.fromEntries((await deliveryAccuracy(store.sql(), list, PERIOD)).map((row) => [row.destination, row]));
      expect(Object.keys(figures)).toEqual([
        'konnektive-click',
        'konnektive-lead',
        'activecampaign-cart',
        'activecampaign-order',
        'meta-lead',
        'meta-initiatecheckout',
        'meta-purchase',
      ]);
      const pick = (id: string) => {
        const { expected, sent, skipped, skippedBy, failed, waiting, missing, accuracy } = figures[id]!;
        return { expected, sent, skipped, skippedBy, failed, waiting, missing, accuracy };
      };
      // Five (session, page) pairs of people in the period: the bot's and the older session's are not expected.
      // The waiting click counts neither way: 1 sent of the 4 due.
      expect(pick('konnektive-click')).toEqual({ expected: 5, sent: 1, skipped: 0, skippedBy: {}, failed: 2, waiting: 1, missing: 1, accuracy: 0.25 });
      // s2's and s4's leads have an email and no name: Konnektive takes none.
      expect(pick('konnektive-lead')).toEqual({ expected: 4, sent: 1, skipped: 2, skippedBy: { no_name: 2 }, failed: 0, waiting: 0, missing: 1, accuracy: 0.75 });
      expect(pick('activecampaign-cart')).toEqual({ expected: 1, sent: 0, skipped: 0, skippedBy: {}, failed: 1, waiting: 0, missing: 0, accuracy: 0 });
      expect(pick('activecampaign-order')).toEqual({ expected: 2, sent: 1, skipped: 0, skippedBy: {}, failed: 0, waiting: 0, missing: 1, accuracy: 0.5 });
      // The bot's lead is expected by the ad platform, and skipped by its delivery; s4's queued nothing.
      expect(pick('meta-lead')).toEqual({ expected: 5, sent: 1, skipped: 2, skippedBy: { no_consent: 1, bot: 1 }, failed: 1, waiting: 0, missing: 1, accuracy: 0.6 });
      // s1 reached the checkout, but without a cart: no InitiateCheckout was due.
      expect(pick('meta-initiatecheckout')).toMatchObject({ expected: 0, accuracy: 1 });
      expect(pick('meta-purchase')).toEqual({ expected: 2, sent: 0, skipped: 1, skippedBy: { test_order: 1 }, failed: 0, waiting: 0, missing: 1, accuracy: 0.5 });
    });

    it('counts nothing outside the period', async () => {
      const before = await deliveryAccuracy(store.sql(), list, { from: T0 - 2 * HOUR, to: T0 });
      expect(before.find((row) => row.destination === 'konnektive-click')).toMatchObject({ expected: 1, missing: 1 });
      expect(before.filter((row) => row.destination !== 'konnektive-click').every((row) => row.expected === 0 && row.accuracy === 1)).toBe(true);
    });

    it('lists the items that failed or are missing, with what happened to them', async () => {
      const items = await accuracyItems(store.sql(), byId('konnektive-click'), PERIOD);
      expect(items.map(({ sessionId, item, status, job, error }) => ({ sessionId, item, status, job, error }))).toEqual([
        { sessionId: 's1', item: 'checkout', status: 'failed', job: 'dead', error: 'Konnektive refused the click' },
        { sessionId: 's2', item: 'landing', status: 'missing', job: null, error: null },
        { sessionId: 's4', item: 'landing', status: 'failed', job: 'failing', error: 'Konnektive timed out' },
      ]);
      expect(await accuracyItems(store.sql(), byId('meta-lead'), PERIOD)).toMatchObject([
        { sessionId: 's3', item: 'Lead', status: 'failed', job: 'dead', error: 'Meta refused the event' },
        { sessionId: 's4', item: 'Lead', status: 'missing', job: null },
      ]);
      expect(await accuracyItems(store.sql(), byId('konnektive-click'), PERIOD, 1)).toHaveLength(1);
    });
  });
}
