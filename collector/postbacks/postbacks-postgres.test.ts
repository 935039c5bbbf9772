/**
 * Affiliate postbacks from two collectors on one PostgreSQL store, both running workers and
 * sweeps: the buyer's requests go to one and then the other (as a load balancer spreads them),
 * and each is also resent to the other collector. The network must still receive each postback
 * once: "once" is decided in the store (the event's routing marker, each postback's marker per
 * event, each call's marker per attempt), not in a collector's memory.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FunnelEvent, IngestResponse } from '../wire-schema.js';
import { startActiveCampaignDouble, type ActiveCampaignDouble } from '../../test/doubles/activecampaign-double.js';
import { startKonnektiveDouble, type KonnektiveDouble } from '../../test/doubles/konnektive-double.js';
import { startPostbackReceiver, type PostbackReceiver } from '../../test/doubles/postback-receiver.js';
import { testPostgres } from '../../test/support/postgres.js';
import { ev, eventually, startTestCollector, type TestCollector } from '../../test/support/test-collector.js';
import { emissionEnv } from '../../test/support/upstream-doubles.js';
import { VirtualClock } from '../../test/support/virtual-clock.js';
import { JOB_KINDS } from '../outbox/job-kinds.js';
import type { PostbackFirePayload } from './postback-jobs.js';
import type { PostbackRoutePayload } from './postback-queue.js';

const postgres = await testPostgres();
const ann = { firstName: 'Ann', lastName: 'Lee', emailAddress: 'ann@example.com', phoneNumber: '(415) 555-2671', country: 'US' };

describe.skipIf(postgres.skip !== undefined)('affiliate postbacks from two collectors on one PostgreSQL store', () => {
  let clock: VirtualClock;
  let crm: KonnektiveDouble;
  let ac: ActiveCampaignDouble;
  let network: PostbackReceiver;
  let a: TestCollector | undefined;
  let b: TestCollector | undefined;

  beforeEach(async () => {
    clock = new VirtualClock();
    crm = await startKonnektiveDouble({ loginId: 'fb-login', password: 'fb-password', campaigns: ['12'], now: () => clock.now() });
    ac = await startActiveCampaignDouble({ apiKey: 'ac-test-key', now: () => clock.now() });
    network = await startPostbackReceiver();
  });
  afterEach(async () => {
    await a?.close();
    await b?.close();
    await network.close();
    await crm.close();
    await ac.close();
  });
  afterAll(() => postgres.dropSchemas());

  function postbacksFile(): string {
    const path = join(mkdtempSync(join(tmpdir(), 'funnelbeacon-postbacks-')), 'postbacks.json');
    const url = network.url;
    const postbacks = [
      { name: 'all-leads', on: 'lead', method: 'POST', body: 'json', url: `${url}/lead` },
      { name: 'cpl', on: 'lead', leadDelay: 10, url: `${url}/cpl?eid={eventId}` },
      { name: 'net-sale', on: 'sale', affIds: ['AFF7'], url: `${url}/pb?aff={affId}&sub={c1}&oid={orderId}&amt={amount}&cur={currency}&eid={eventId}` },
      { name: 'net-upsell', on: 'upsell', affIds: ['AFF7'], url: `${url}/up?oid={orderId}&amt={amount}&eid={eventId}` },
      { name: 'other-sale', on: 'sale', affIds: ['AFF9'], url: `${url}/other?oid={orderId}` },
    ];
    writeFileSync(path, JSON.stringify({ postbacks }));
    return path;
  }

  /** Both collectors on one fresh schema with one postbacks file; the first migrates it before the second starts. */
  async function startBoth() {
    const env = emissionEnv({ crm, ac }, 'activecampaign', { DATABASE_URL: postgres.newSchemaUrl(), POSTBACKS_FILE: postbacksFile() });
    a = await startTestCollector(env, { clock, fetch: clock.fetch, runSweeper: false });
    b = await startTestCollector(env, { clock, fetch: clock.fetch, runSweeper: false });
    return { a, b };
  }

  /**
   * Every job that can run now has run, on either collector: none running, and no queue's first
   * unfinished job due (one store, so one listing sees both workers' jobs).
   */
  const settle = async () => {
    a!.worker.notify();
    b!.worker.notify();
    await eventually(async () => {
      const open = (await a!.store.listJobs({})).filter((job) => job.state === 'pending' || job.state === 'running');
      const heads = new Map<string, (typeof open)[number]>();
      for (const job of open) if (!heads.has(job.sessionId) || heads.get(job.sessionId)!.id > job.id) heads.set(job.sessionId, job);
      return [...heads.values()].every((job) => job.state === 'pending' && job.runAt > clock.now());
    }, { timeoutMs: 20_000 });
  };

  /** Idle time passes: both collectors sweep at once, then every job that can run runs. */
  const idle = async (ms: number) => {
    clock.advance(ms);
    await Promise.all([a!.sweeper.sweepOnce(), b!.sweeper.sweepOnce()]);
    await settle();
  };

  async function post(collector: TestCollector, token: string | undefined, events: FunnelEvent[]): Promise<IngestResponse> {
    const res = await collector.post({ ...(token ? { session: token } : {}), campaign: '12', events });
    expect(res.status).toBe(200);
    return (await res.json()) as IngestResponse;
  }

  /**
   * The batch to `to`, and the same batch (the same event ids) resent to `resend` at the same
   * time. Both answers name the same session.
   */
  async function sendBoth(to: TestCollector, resend: TestCollector, token: string | undefined, events: FunnelEvent[]): Promise<IngestResponse> {
    const [answer, again] = await Promise.all([post(to, token, events), post(resend, token, events)]);
    expect(again.ids.session).toBe(answer.ids.session);
    return answer;
  }

  it('a walk split between them, each request also resent to the other, fires each postback that covers it once', async () => {
    const { a, b } = await startBoth();
    const attribution = { id: randomUUID(), type: 'attribution', marketing: true, values: { affId: 'AFF7', c1: 'sub1', clickId: 'clk-9' } } as FunnelEvent;
    const landing = [ev.page('presell', 'https://offer.example/presell?affId=AFF7&c1=sub1&clickid=clk-9'), attribution];
    // The first batch carries no session yet: its resend finds the session it opened by its event ids.
    const first = await sendBoth(a, b, undefined, landing);
    const token = first.session;
    const session = first.ids.session;

    // The lead reaches both at once: one lead event, so one routing and one call per postback.
    await sendBoth(a, b, token, [ev.page('lead', 'https://offer.example/lead'), ev.lead(ann)]);
    await settle();
    const checkout = () => [ev.page('checkout', 'https://secure.example/checkout'), ev.cart([{ id: '41', name: 'Bottle', price: 39.95, qty: 1 }])];
    await sendBoth(b, a, token, checkout());
    // The checkout reloaded in two tabs, each reaching another collector: new event ids, the
    // same cause, at the same time; only the store's once-marker tells them apart.
    await Promise.all([post(a, token, checkout()), post(b, token, checkout())]);
    await settle();
    const orderId = (await a.store.getSession(session))!.konnektive.orderId!;
    expect(orderId).toBeDefined();
    crm.completeOrder(orderId, { items: [{ productId: '41', name: 'Bottle', qty: 1, price: '39.95' }] });
    crm.addUpsell(orderId, { productId: '77', name: 'Second bottle', qty: 1, price: '19.95' });
    await sendBoth(a, b, token, [ev.page('thankyou', 'https://secure.example/thanks'), ev.order(orderId)]);
    // The thank-you page makes the session due: both sweeps see it, the order is checked (twice
    // over, maybe): the sale and the upsell are routed once each.
    await idle(1_000);
    // Long after, past the CPL postback's ten minutes: nothing more goes out (an order check run
    // twice, a retry), and the CPL postback is skipped, the lead having become a sale.
    await idle(20 * 60_000);

    expect(network.calls.map((call) => `${call.method} ${call.path} ${call.status}`)).toEqual(expect.arrayContaining(['POST /lead 200', 'GET /pb 200', 'GET /up 200']));
    expect(network.calls.map((call) => call.path).sort()).toEqual(['/lead', '/pb', '/up']);
    const on = (path: string) => network.calls.find((call) => call.path === path)!;
    expect(on('/lead').body).toMatchObject({ event: 'lead', eventId: `${session}.lead`, affId: 'AFF7', c1: 'sub1', clickId: 'clk-9' });
    expect(on('/pb').query).toEqual({ aff: 'AFF7', sub: 'sub1', oid: orderId, amt: '39.95', cur: 'USD', eid: `${orderId}.sale` });
    expect(on('/up').query).toEqual({ oid: orderId, amt: '19.95', eid: `${orderId}.upsell.1.77` });

    // In the store: one routing per event, one fire per postback and event, each done with one
    // attempt (the call, or the CPL postback's skip); none interrupted, none dead.
    const jobs = await a.store.listJobs({});
    const routes = jobs.filter((job) => job.kind === JOB_KINDS.postbackRoute);
    expect(routes.map((job) => `${(job.payload as unknown as PostbackRoutePayload).eventId} ${job.state}`).sort()).toEqual(
      [`${orderId}.sale done`, `${orderId}.upsell.1.77 done`, `${session}.lead done`].sort(),
    );
    const fires = jobs.filter((job) => job.kind === JOB_KINDS.postbackFire);
    const fired = await Promise.all(
      fires.map(async (job) => {
        const attempts = await a.store.listAttempts(job.id);
        return `${(job.payload as unknown as PostbackFirePayload).postback} ${job.state} ${attempts.map((attempt) => `${attempt.outcome}:${attempt.httpStatus ?? attempt.response}`).join(',')}`;
      }),
    );
    expect(fired.sort()).toEqual(['all-leads done ok:200', 'cpl done skipped:sale_followed', 'net-sale done ok:200', 'net-upsell done ok:200']);
  }, 60_000);
});
