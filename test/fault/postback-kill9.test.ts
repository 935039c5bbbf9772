/**
 * An affiliate postback in flight when the collector is killed with SIGKILL, on both stores: a
 * real `funnelbeacon serve` process with a POSTBACKS_FILE walks an affiliate's buyer through the
 * funnel (the lead, a paid order with one upsell), dies at a chosen moment of a postback, and is
 * restarted on the same store.
 *
 * A network pays the affiliate for each postback it takes, so a postback is fired at most once
 * per recorded attempt (docs/postbacks.md, postback-jobs.ts): before the call starts, the fire
 * handler commits a marker for the job's attempt number (the count of its recorded attempts).
 * A restarted collector that finds that marker spent and no attempt recorded knows a call began
 * whose answer it never recorded: it does not fire again, and makes the postback a dead letter,
 * "interrupted", for the owner. So:
 *
 * - Killed after the network answered 200 to the sale postback, before the outcome was committed:
 *   the network received it once and never again; the job ends a dead letter, interrupted.
 * - Killed while the network had not answered the lead postback (it hangs): the call had begun,
 *   so it is not fired again either, even though the network recovers; it too ends interrupted.
 *   Whether the network counted it, the collector cannot know: it prefers a postback the owner
 *   checks with the network and replays (docs/postbacks.md) to one the network pays twice.
 * - The network answered 500: that answer is a recorded attempt, so the retry has a marker of
 *   its own and fires (a kill during the backoff changes nothing): it fires once, no `interrupted`.
 *
 * The collector reaches the network through a small proxy, which is what aims the first kill: it
 * passes the network's 200 on but holds back the answer's last bytes (the collector reads the
 * whole answer before it records the call), so the kill lands between the network's answer and
 * the commit by construction, not by a race.
 */
import { INTERRUPTED as INTERRUPTED_MESSAGE } from '../../collector/postbacks/postback-jobs.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { postbackFireKey } from '../../collector/postbacks/postback-jobs.js';
import { postbackRouteKey } from '../../collector/postbacks/postback-queue.js';
import { openStore } from '../../collector/store/open-store.js';
import type { Store } from '../../collector/store/store.js';
import type { IngestResponse } from '../../collector/wire-schema.js';
import { startActiveCampaignDouble, type ActiveCampaignDouble } from '../doubles/activecampaign-double.js';
import { startKonnektiveDouble, type KonnektiveDouble } from '../doubles/konnektive-double.js';
import { startPostbackReceiver, type PostbackReceiver } from '../doubles/postback-receiver.js';
import { BROWSER_UA, eventually, LANDER_ORIGIN, TEST_SECRET } from '../support/test-collector.js';
import { faultBackends, spawnCollector, type FaultBackend, type SpawnedCollector } from './support.js';

const backends = await faultBackends();
/** The postbacks the walk fires, each on its own path of the network. */
const WALK = { 'all-leads': '/lead', 'net-sale': '/pb', 'net-upsell': '/up' } as const;
type WalkPostback = keyof typeof WALK;

interface Rig {
  crm: KonnektiveDouble;
  ac: ActiveCampaignDouble;
  network: PostbackReceiver;
  databaseUrl: string;
  /** The running collector (the restarted one after a kill). */
  collector(): SpawnedCollector;
  /** Arms the proxy: the first 200 the network answers on `path` is passed on without its end, and held. */
  holdAnswer(path: string): void;
  /** Whether the armed answer is held now. */
  holding(): boolean;
  /** Requests the proxy has passed to the network and not yet answered. */
  inFlight(): number;
  /** Kills now (SIGKILL), waits for the process to be gone, then drops a held answer. */
  kill(): Promise<void>;
  restart(): Promise<void>;
  store(): Promise<Store>;
  close(): Promise<void>;
}

function postbacksFile(proxyUrl: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'funnelbeacon-postbacks-')), 'postbacks.json');
  const postbacks = [
    { name: 'all-leads', on: 'lead', method: 'POST', body: 'json', url: `${proxyUrl}${WALK['all-leads']}` },
    { name: 'net-sale', on: 'sale', affIds: ['AFF7'], url: `${proxyUrl}${WALK['net-sale']}?aff={affId}&sub={c1}&oid={orderId}&amt={amount}&cur={currency}&eid={eventId}` },
    { name: 'net-upsell', on: 'upsell', affIds: ['AFF7'], url: `${proxyUrl}${WALK['net-upsell']}?oid={orderId}&amt={amount}&eid={eventId}` },
    // Another affiliate's: never fires for this walk.
    { name: 'other-sale', on: 'sale', affIds: ['AFF9'], url: `${proxyUrl}/other?oid={orderId}` },
  ];
  writeFileSync(path, JSON.stringify({ postbacks }));
  return path;
}

async function startRig(backend: FaultBackend): Promise<Rig> {
  const crm = await startKonnektiveDouble({ loginId: 'fb-login', password: 'fb-password', campaigns: ['12'] });
  const ac = await startActiveCampaignDouble({ apiKey: 'ac-test-key' });
  const network = await startPostbackReceiver();
  const databaseUrl = backend.newDatabaseUrl();
  let current: SpawnedCollector | undefined;
  let holdPath: string | undefined;
  let held: http.ServerResponse | undefined;
  let inFlight = 0;
  let store: Store | undefined;

  const proxy = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', async () => {
      const body = Buffer.concat(chunks);
      const target = new URL(req.url ?? '/', network.url);
      inFlight++;
      let upstream: Response;
      try {
        upstream = await fetch(target, {
          method: req.method ?? 'GET',
          redirect: 'manual',
          headers: req.headers['content-type'] ? { 'content-type': req.headers['content-type'] } : {},
          ...(req.method === 'GET' ? {} : { body }),
        });
      } catch {
        // The network hung and was closed, or dropped the connection: so does the proxy.
        inFlight--;
        res.socket?.destroy();
        return;
      }
      const answer = Buffer.from(await upstream.arrayBuffer());
      inFlight--;
      const aimed = holdPath !== undefined && upstream.status === 200 && target.pathname === holdPath;
      if (aimed) {
        holdPath = undefined;
        // No content-length: the answer goes chunked, and its closing chunk is what is held.
        res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'text/plain' });
        res.write(answer, () => (held = res));
        return;
      }
      res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'text/plain', 'content-length': String(answer.length) });
      res.end(answer);
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
    POSTBACKS_FILE: postbacksFile(proxyUrl),
  };
  current = await spawnCollector(databaseUrl, env);

  return {
    crm,
    ac,
    network,
    databaseUrl,
    collector: () => current!,
    holdAnswer(path) {
      holdPath = path;
    },
    holding: () => held !== undefined,
    inFlight: () => inFlight,
    async kill() {
      current!.child.kill('SIGKILL');
      await current!.exited;
      held?.destroy();
      held = undefined;
    },
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
      held?.destroy();
      proxy.close();
      proxy.closeAllConnections();
      await network.close();
      await crm.close();
      await ac.close();
    },
  };
}

/** An affiliate's buyer (AFF7, sub-id sub1): each batch to whichever collector runs now. */
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
    /** The presell with the affiliate's click, marketing allowed. */
    land: () =>
      post([
        page('presell', 'https://offer.example/presell?affId=AFF7&c1=sub1&clickid=clk-9'),
        { id: randomUUID(), type: 'attribution', marketing: true, values: { affId: 'AFF7', c1: 'sub1', clickId: 'clk-9' } },
      ]),
    lead: () => post([page('lead', 'https://offer.example/lead'), { id: randomUUID(), type: 'lead', fields: { firstName: 'Ann', lastName: 'Lee', emailAddress: 'ann@example.com', phoneNumber: '(415) 555-2671', country: 'US' } }]),
    checkout: () => post([page('checkout', 'https://secure.example/checkout'), { id: randomUUID(), type: 'cart', items: [{ id: '41', name: 'Bottle', price: 39.95, qty: 1 }], currency: 'USD' }]),
    /** Konnektive takes the payment of the partial order with one upsell, then the buyer sees the thank-you page. */
    async pay() {
      const orderId = await eventually(() => [...rig.crm.leads.keys()][0], { timeoutMs: 15_000 });
      rig.crm.completeOrder(orderId, { items: [{ productId: '41', name: 'Bottle', qty: 1, price: '39.95' }] });
      rig.crm.addUpsell(orderId, { productId: '77', name: 'Second bottle', qty: 1, price: '19.95' });
      await post([page('thankyou', 'https://secure.example/thanks'), { id: randomUUID(), type: 'order', orderId }]);
      return orderId;
    },
  };
}

/** The network's calls on a postback's path: `status` 0 is a call it never answered. */
const calls = (rig: Rig, name: WalkPostback) => rig.network.calls.filter((call) => call.path === WALK[name]);
const statuses = (rig: Rig, name: WalkPostback) => calls(rig, name).map((call) => call.status);

/** A postback's fire job for the session, with its delivery log, read from the store. */
async function fireJob(rig: Rig, session: string, name: WalkPostback) {
  const store = await rig.store();
  const jobs = await store.listJobs({ sessionId: postbackFireKey(postbackRouteKey({ session, eventId: '' }), name) });
  if (jobs.length > 1) throw new Error(`${name}: ${jobs.length} fire jobs for one event`);
  const job = jobs[0];
  if (!job) return undefined;
  const attempts = (await store.listAttempts(job.id)).map((attempt) => ({ outcome: attempt.outcome, status: attempt.httpStatus ?? null, response: attempt.response }));
  return { state: job.state, attempts };
}

/** Waits until every postback of the walk has its fire job done; a failure says what the store and the network hold. */
async function walkDone(rig: Rig, session: string): Promise<void> {
  await eventually(
    async () => {
      // Finished: delivered, or a dead letter (an interrupted call waits for the owner).
      for (const name of Object.keys(WALK) as WalkPostback[]) if (!['done', 'dead'].includes((await fireJob(rig, session, name))?.state ?? '')) return false;
      return true;
    },
    { timeoutMs: 45_000 },
  ).catch(async (error: Error) => {
    const jobs = await Promise.all((Object.keys(WALK) as WalkPostback[]).map(async (name) => [name, await fireJob(rig, session, name)]));
    throw new Error(`${error.message}: jobs ${JSON.stringify(jobs)}, network ${JSON.stringify(rig.network.calls.map((call) => [call.path, call.status]))}\n${rig.collector().output().slice(-4000)}`);
  });
}

/** A postback the network took once: one call, answered 200, and its job's one attempt `ok`. */
async function expectFiredOnce(rig: Rig, session: string, name: WalkPostback): Promise<void> {
  expect(statuses(rig, name)).toEqual([200]);
  expect(await fireJob(rig, session, name)).toEqual({ state: 'done', attempts: [{ outcome: 'ok', status: 200, response: 'HTTP 200: OK' }] });
}

const INTERRUPTED = { state: 'dead', attempts: [{ outcome: 'transient', status: null, response: INTERRUPTED_MESSAGE }] };

for (const backend of backends) {
  describe.skipIf(backend.skip !== undefined)(`an affiliate postback in flight when the collector is killed -9: ${backend.name}`, () => {
    afterAll(() => backend.cleanup());

    it('killed after the network answered 200 to the sale postback, before the outcome was committed: received once, never fired again, a dead letter as interrupted', async () => {
      const rig = await startRig(backend);
      try {
        const browser = buyer(rig);
        const session = (await browser.land()).ids.session;
        await browser.lead();
        await eventually(async () => (await fireJob(rig, session, 'all-leads'))?.state === 'done', { timeoutMs: 15_000 });
        await browser.checkout();

        rig.holdAnswer(WALK['net-sale']);
        const orderId = await browser.pay();
        await eventually(() => rig.holding(), { timeoutMs: 30_000 });
        // The upsell's postback fires meanwhile under its own key: let it finish, so that the kill
        // interrupts the sale's call alone.
        await eventually(async () => (await fireJob(rig, session, 'net-upsell'))?.state === 'done', { timeoutMs: 15_000 });
        // The network took the sale; the collector has its 200 but not the answer's end, so it has
        // recorded nothing: the job is still held under its lease, with no attempt.
        expect(calls(rig, 'net-sale').map((call) => [call.status, call.query])).toEqual([[200, { aff: 'AFF7', sub: 'sub1', oid: orderId, amt: '39.95', cur: 'USD', eid: `${orderId}.sale` }]]);
        expect(await fireJob(rig, session, 'net-sale')).toEqual({ state: 'running', attempts: [] });
        await rig.kill();

        await rig.restart();
        await walkDone(rig, session);
        // Taken over after the lease: its call had begun (its marker is spent) and no answer was
        // recorded, so it is not fired again. The network still has exactly the one call.
        expect(await fireJob(rig, session, 'net-sale')).toEqual(INTERRUPTED);
        expect(statuses(rig, 'net-sale')).toEqual([200]);
        await expectFiredOnce(rig, session, 'all-leads');
        await expectFiredOnce(rig, session, 'net-upsell');
        expect(rig.network.calls.map((call) => call.path).sort()).toEqual(['/lead', '/pb', '/up']);
      } finally {
        await rig.close();
      }
    }, 90_000);

    it('killed while the network had not answered the lead postback: the call had begun, so it is not fired again once the network recovers; a dead letter as interrupted', async () => {
      const rig = await startRig(backend);
      try {
        const browser = buyer(rig);
        const session = (await browser.land()).ids.session;
        // The network's next call (the lead postback, the only one the lead fires) gets no answer.
        rig.network.fail('hang', { times: 1 });
        await browser.lead();
        await eventually(() => calls(rig, 'all-leads').some((call) => call.failure === 'hang'), { timeoutMs: 15_000 });
        // The collector waits for the answer (up to its 10 s timeout): nothing recorded yet. Its
        // marker was committed before the call started; that marker is what the restart reads.
        expect(await fireJob(rig, session, 'all-leads')).toEqual({ state: 'running', attempts: [] });
        await rig.kill();

        rig.network.recover();
        await rig.restart();
        await browser.checkout();
        const orderId = await browser.pay();
        await walkDone(rig, session);
        // One call reached the network and was never answered: whether the network counted it is
        // unknowable, and firing again could pay the affiliate twice. At most one call per
        // recorded attempt: the recovered network is not asked again; the Delivery view shows it
        // as interrupted, for the owner to check with the network.
        expect(statuses(rig, 'all-leads')).toEqual([0]);
        // (A hung call's body is left unparsed by the receiver: read it as sent.)
        expect(JSON.parse(calls(rig, 'all-leads')[0]!.rawBody)).toMatchObject({ event: 'lead', eventId: `${session}.lead`, affId: 'AFF7', c1: 'sub1', clickId: 'clk-9' });
        expect(await fireJob(rig, session, 'all-leads')).toEqual(INTERRUPTED);
        await expectFiredOnce(rig, session, 'net-sale');
        await expectFiredOnce(rig, session, 'net-upsell');
        expect(calls(rig, 'net-sale')[0]!.query.eid).toBe(`${orderId}.sale`);
      } finally {
        await rig.close();
      }
    }, 90_000);

    it('the network answered 500 and the collector was killed before the retry: the retry fires once after the restart, nothing interrupted', async () => {
      const rig = await startRig(backend);
      try {
        const browser = buyer(rig);
        const session = (await browser.land()).ids.session;
        rig.network.fail('http500', { times: 1 });
        await browser.lead();
        // The 500 is recorded with the job's retry (two seconds or more away, DEFAULT_BACKOFF).
        await eventually(async () => (await fireJob(rig, session, 'all-leads'))?.attempts.length === 1, { timeoutMs: 15_000 });
        expect(await fireJob(rig, session, 'all-leads')).toMatchObject({ state: 'pending', attempts: [{ outcome: 'transient', status: 500 }] });
        // Killed during the backoff, no call in flight: nothing is left half done.
        expect(rig.inFlight()).toBe(0);
        await rig.kill();

        await rig.restart();
        await browser.checkout();
        await browser.pay();
        await walkDone(rig, session);
        // The failed call is an attempt of its own: the retry's marker is a new one, and it fires.
        expect(statuses(rig, 'all-leads')).toEqual([500, 200]);
        const lead = await fireJob(rig, session, 'all-leads');
        expect(lead).toMatchObject({ state: 'done', attempts: [{ outcome: 'transient', status: 500 }, { outcome: 'ok', status: 200 }] });
        expect(lead!.attempts.some((attempt) => attempt.response === INTERRUPTED_MESSAGE)).toBe(false);
        await expectFiredOnce(rig, session, 'net-sale');
        await expectFiredOnce(rig, session, 'net-upsell');
      } finally {
        await rig.close();
      }
    }, 90_000);
  });
}
