/**
 * A conversion in flight when the collector is killed with SIGKILL, on both stores: a real
 * `funnelbeacon serve` process walks a buyer through the funnel (Lead, InitiateCheckout,
 * Purchase to Meta and TikTok), dies at a chosen moment of a Meta call, and is restarted on the
 * same store.
 *
 * - Killed right after Meta accepted the Purchase (`events_received`), before the collector could
 *   commit the outcome: the restarted collector sends it again with the same event id (a retry
 *   does, docs/conversions.md "Delivery"), so Meta may receive it twice but counts it once.
 * - Killed while Meta had not answered the Lead yet (the double hangs): Meta never took it, the
 *   restarted collector delivers it, once.
 *
 * Either way every conversion ends delivered (its job done), none is lost or dead.
 *
 * The collector reaches Meta through a small proxy, which is what aims the first kill: it passes
 * Meta's answer on, then kills the collector that asked (as crash-after-answer.test.ts does with
 * Konnektive). Whether the collector had committed the outcome before the signal landed is read
 * from the store before the restart, and the resend is asserted accordingly.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { openStore } from '../../collector/store/open-store.js';
import type { Store } from '../../collector/store/store.js';
import type { ConversionName, IngestResponse } from '../../collector/wire-schema.js';
import { startActiveCampaignDouble, type ActiveCampaignDouble } from '../doubles/activecampaign-double.js';
import { startKonnektiveDouble, type KonnektiveDouble } from '../doubles/konnektive-double.js';
import { startMetaDouble, type MetaDouble } from '../doubles/meta-double.js';
import { startTikTokDouble, type TikTokDouble } from '../doubles/tiktok-double.js';
import { BROWSER_UA, eventually, LANDER_ORIGIN, TEST_SECRET } from '../support/test-collector.js';
import { faultBackends, spawnCollector, type FaultBackend, type SpawnedCollector } from './support.js';

const backends = await faultBackends();
const CONVERSIONS: ConversionName[] = ['Lead', 'InitiateCheckout', 'Purchase'];
const FBCLID = 'IwAR2xYz_AbC-123';

/** The Meta request the proxy kills the collector after (its answer passed on first). */
type KillRule = (eventName: string) => boolean;

interface Rig {
  crm: KonnektiveDouble;
  ac: ActiveCampaignDouble;
  meta: MetaDouble;
  tiktok: TikTokDouble;
  databaseUrl: string;
  /** The running collector (the restarted one after a kill). */
  collector(): SpawnedCollector;
  /** Arms the proxy: the first Meta request `rule` matches is answered, then its collector is killed. */
  killAfterAnswer(rule: KillRule): void;
  /** Kills now (SIGKILL) and waits for the process to be gone. */
  kill(): Promise<void>;
  killed(): boolean;
  restart(): Promise<void>;
  store(): Promise<Store>;
  close(): Promise<void>;
}

async function startRig(backend: FaultBackend): Promise<Rig> {
  const crm = await startKonnektiveDouble({ loginId: 'fb-login', password: 'fb-password', campaigns: ['12'] });
  const ac = await startActiveCampaignDouble({ apiKey: 'ac-test-key' });
  const meta = await startMetaDouble();
  const tiktok = await startTikTokDouble();
  const databaseUrl = backend.newDatabaseUrl();
  let current: SpawnedCollector | undefined;
  let killRule: KillRule | undefined;
  let killedOne = false;
  let store: Store | undefined;

  const proxy = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', async () => {
      const body = Buffer.concat(chunks);
      let upstream: Response;
      try {
        upstream = await fetch(new URL(req.url ?? '/', meta.url), {
          method: req.method ?? 'POST',
          headers: { 'content-type': req.headers['content-type'] ?? 'application/json', ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}) },
          ...(req.method === 'GET' ? {} : { body }),
        });
      } catch {
        // The double hung and was closed, or dropped the connection: so does the proxy.
        res.socket?.destroy();
        return;
      }
      const answer = Buffer.from(await upstream.arrayBuffer());
      const eventName = eventNameOf(body);
      const target = current;
      const aimed = killRule !== undefined && upstream.status === 200 && eventName !== undefined && killRule(eventName) && target !== undefined;
      if (aimed) killRule = undefined;
      res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/json' });
      res.end(answer, () => {
        if (!aimed) return;
        killedOne = true;
        target.child.kill('SIGKILL');
      });
    });
  });
  const proxyUrl = await new Promise<string>((resolve) => proxy.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(proxy.address() as AddressInfo).port}`)));

  const env = {
    SECRET: TEST_SECRET,
    ALLOWED_ORIGINS: LANDER_ORIGIN,
    KONNEKTIVE_LOGIN_ID: 'fb-login',
    KONNEKTIVE_PASSWORD: 'fb-password',
    KONNEKTIVE_API_URL: crm.url,
    KONNEKTIVE_CAMPAIGNS: '12',
    EMIT_VIA: 'activecampaign',
    ACTIVECAMPAIGN_API_URL: ac.url,
    ACTIVECAMPAIGN_API_KEY: 'ac-test-key',
    SWEEP_EVERY: '250ms',
    // A dead collector's job is taken over a second after it last renewed its lease.
    OUTBOX_LEASE: '1s',
    META_PIXEL_ID: meta.pixelId,
    META_ACCESS_TOKEN: 'meta-test-token',
    META_API_URL: `${proxyUrl}/v25.0`,
    TIKTOK_PIXEL_CODE: tiktok.pixelCode,
    TIKTOK_ACCESS_TOKEN: 'tiktok-test-token',
    TIKTOK_API_URL: tiktok.url,
  };
  current = await spawnCollector(databaseUrl, env);

  return {
    crm,
    ac,
    meta,
    tiktok,
    databaseUrl,
    collector: () => current!,
    killAfterAnswer(rule) {
      killRule = rule;
    },
    async kill() {
      killedOne = true;
      current!.child.kill('SIGKILL');
      await current!.exited;
    },
    killed: () => killedOne,
    async restart() {
      expect((await current!.exited).signal).toBe('SIGKILL');
      current = await spawnCollector(databaseUrl, env);
    },
    // Opened once the first collector has migrated the fresh store; reads only.
    store: async () => (store ??= await openStore(databaseUrl)),
    async close() {
      if (current && current.child.exitCode === null && current.child.signalCode === null) {
        current.child.kill('SIGTERM');
        await current.exited;
      }
      await store?.close();
      proxy.close();
      proxy.closeAllConnections();
      await meta.close();
      await tiktok.close();
      await crm.close();
      await ac.close();
    },
  };
}

function eventNameOf(body: Buffer): string | undefined {
  try {
    const parsed = JSON.parse(body.toString()) as { data?: { event_name?: unknown }[] };
    const name = parsed.data?.[0]?.event_name;
    return typeof name === 'string' ? name : undefined;
  } catch {
    return undefined;
  }
}

/** The buyer's browser: each batch to whichever collector runs now. */
function buyer(rig: Rig) {
  let token: string | undefined;
  const page = (name: string, url: string) => ({ id: randomUUID(), type: 'page', page: name, url });
  const post = async (events: unknown[]) => {
    const res = await fetch(`http://127.0.0.1:${rig.collector().port}/v1/events`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain', origin: LANDER_ORIGIN, 'user-agent': BROWSER_UA },
      body: JSON.stringify({ ...(token ? { session: token } : {}), campaign: '12', events }),
    });
    expect(res.status).toBe(200);
    const answer = (await res.json()) as IngestResponse;
    token = answer.session;
    return answer;
  };
  return {
    /** The presell with the ad click, marketing allowed. */
    land: () =>
      post([
        page('presell', `https://offer.example/presell?fbclid=${FBCLID}&ttclid=E.C.P.tt-1`),
        { id: randomUUID(), type: 'attribution', marketing: true, values: { fbc: `fb.1.${Date.now()}.${FBCLID}`, fbp: 'fb.1.1765000000000.987654321', ttclid: 'E.C.P.tt-1', ttp: 'ttp-cookie-1' } },
      ]),
    lead: () => post([page('lead', 'https://offer.example/lead'), { id: randomUUID(), type: 'lead', fields: { firstName: 'Ann', lastName: 'Lee', emailAddress: 'ann@example.com', phoneNumber: '(415) 555-2671', country: 'US' } }]),
    checkout: () => post([page('checkout', 'https://secure.example/checkout'), { id: randomUUID(), type: 'cart', items: [{ id: '41', name: 'Bottle', price: 39.95, qty: 1 }], currency: 'USD' }]),
    /** Konnektive takes the payment of the partial order, then the buyer sees the thank-you page. */
    async pay() {
      const orderId = await eventually(() => [...rig.crm.leads.keys()][0], { timeoutMs: 15_000 });
      rig.crm.completeOrder(orderId, { items: [{ productId: '41', name: 'Bottle', qty: 1, price: '39.95' }] });
      await post([page('thankyou', 'https://secure.example/thanks'), { id: randomUUID(), type: 'order', orderId }]);
      return orderId;
    },
  };
}

const metaIds = (rig: Rig, events: 'received' | 'counted') => rig.meta[events]().map((item) => item.event.event_id);
const tiktokIds = (rig: Rig, events: 'received' | 'counted') => rig.tiktok[events]().map((item) => item.event.event_id);
const occurrences = (ids: (string | undefined)[], id: string) => ids.filter((each) => each === id).length;

/** The conversion jobs of a session on both platforms, read from the store. */
async function conversionJobs(rig: Rig, session: string) {
  const store = await rig.store();
  const jobs = [...(await store.listJobs({ sessionId: `meta:${session}` })), ...(await store.listJobs({ sessionId: `tiktok:${session}` }))];
  return jobs.map((job) => ({ kind: job.kind, name: (job.payload as { name: string }).name, state: job.state }));
}

/**
 * Waits until each platform counts the three conversions and every conversion job is done; a
 * failure says what the store and the doubles hold.
 */
async function delivered(rig: Rig, session: string): Promise<void> {
  await eventually(
    async () => {
      if (rig.meta.counted().length < 3 || rig.tiktok.counted().length < 3) return false;
      const jobs = await conversionJobs(rig, session);
      return jobs.length === 6 && jobs.every((job) => job.state === 'done');
    },
    { timeoutMs: 45_000 },
  ).catch(async (error: Error) => {
    throw new Error(`${error.message}: jobs ${JSON.stringify(await conversionJobs(rig, session))}, meta ${JSON.stringify(metaIds(rig, 'received'))}, tiktok ${JSON.stringify(tiktokIds(rig, 'received'))}\n${rig.collector().output().slice(-4000)}`);
  });
}

/** What holds whatever the moment of the kill: each conversion counted once per platform, sent at most twice, its job done. */
async function expectDeliveredOnce(rig: Rig, session: string): Promise<void> {
  const eventIds = CONVERSIONS.map((name) => `${session}.${name}`);
  expect(metaIds(rig, 'counted')).toEqual(eventIds);
  expect(tiktokIds(rig, 'counted')).toEqual(eventIds);
  for (const id of eventIds) {
    expect(occurrences(metaIds(rig, 'received'), id)).toBeLessThanOrEqual(2);
    expect(occurrences(tiktokIds(rig, 'received'), id)).toBeLessThanOrEqual(2);
  }
  const jobs = await conversionJobs(rig, session);
  expect(jobs.map((job) => `${job.kind} ${job.name} ${job.state}`).sort()).toEqual(
    ['meta.conversion', 'tiktok.conversion'].flatMap((kind) => CONVERSIONS.map((name) => `${kind} ${name} done`)).sort(),
  );
}

for (const backend of backends) {
  describe.skipIf(backend.skip !== undefined)(`a conversion in flight when the collector is killed -9: ${backend.name}`, () => {
    afterAll(() => backend.cleanup());

    it('killed right after Meta accepted the Purchase: resent with the same event id after the restart, counted once, its job done', async () => {
      const rig = await startRig(backend);
      try {
        const browser = buyer(rig);
        const first = await browser.land();
        const session = first.ids.session;
        await browser.lead();
        await browser.checkout();
        await eventually(() => rig.meta.counted().length === 2 && rig.tiktok.counted().length === 2, { timeoutMs: 15_000 });

        rig.killAfterAnswer((eventName) => eventName === 'Purchase');
        await browser.pay();
        await eventually(() => rig.killed(), { timeoutMs: 30_000 });
        expect((await rig.collector().exited).signal).toBe('SIGKILL');
        const purchaseId = `${session}.Purchase`;
        // Meta took it: the answer was on its way when the process died.
        expect(occurrences(metaIds(rig, 'received'), purchaseId)).toBe(1);
        // Whether the outcome reached the store before the signal: usually not (the job is still
        // held under the dead collector's lease); if it did, nothing is left to resend.
        const jobBefore = (await conversionJobs(rig, session)).find((job) => job.kind === 'meta.conversion' && job.name === 'Purchase');
        expect(jobBefore).toBeDefined();
        const committedBeforeKill = jobBefore!.state === 'done';

        await rig.restart();
        await delivered(rig, session);
        await expectDeliveredOnce(rig, session);
        expect(occurrences(metaIds(rig, 'received'), purchaseId)).toBe(committedBeforeKill ? 1 : 2);
        // The Lead and the InitiateCheckout were done before the kill: the restart resends neither.
        expect(occurrences(metaIds(rig, 'received'), `${session}.Lead`)).toBe(1);
        expect(occurrences(metaIds(rig, 'received'), `${session}.InitiateCheckout`)).toBe(1);
      } finally {
        await rig.close();
      }
    }, 90_000);

    it('killed while Meta had not answered the Lead yet: Meta never took it; the restarted collector delivers it, once', async () => {
      const rig = await startRig(backend);
      try {
        const browser = buyer(rig);
        const first = await browser.land();
        const session = first.ids.session;
        // Meta's first request (the Lead) gets no answer; the collector dies while it waits.
        rig.meta.fail('hang', { times: 1 });
        await browser.lead();
        await eventually(() => rig.meta.requests.some((request) => request.failure === 'hang'), { timeoutMs: 15_000 });
        await rig.kill();
        expect(rig.meta.received()).toEqual([]);

        await rig.restart();
        await browser.checkout();
        await browser.pay();
        await delivered(rig, session);
        await expectDeliveredOnce(rig, session);
        // The hung request was never accepted: Meta received each conversion exactly once.
        expect(metaIds(rig, 'received')).toEqual(CONVERSIONS.map((name) => `${session}.${name}`));
      } finally {
        await rig.close();
      }
    }, 90_000);
  });
}
