/**
 * Conversions from two collectors on one PostgreSQL store, both running workers and sweeps: the
 * buyer's requests go to one and then the other (as a load balancer spreads them), and each is
 * also resent to the other collector. Meta and TikTok must still receive each conversion once:
 * "once" is decided in the store, not in a collector's memory.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FunnelEvent, IngestResponse } from '../wire-schema.js';
import { startActiveCampaignDouble, type ActiveCampaignDouble } from '../../test/doubles/activecampaign-double.js';
import { startKonnektiveDouble, type KonnektiveDouble } from '../../test/doubles/konnektive-double.js';
import { startMetaDouble, type MetaDouble } from '../../test/doubles/meta-double.js';
import { startTikTokDouble, type TikTokDouble } from '../../test/doubles/tiktok-double.js';
import { testPostgres } from '../../test/support/postgres.js';
import { ev, eventually, startTestCollector, type TestCollector } from '../../test/support/test-collector.js';
import { emissionEnv } from '../../test/support/upstream-doubles.js';
import { VirtualClock } from '../../test/support/virtual-clock.js';

const postgres = await testPostgres();
const FBCLID = 'IwAR2xYz_AbC-123';
const ann = { firstName: 'Ann', lastName: 'Lee', emailAddress: 'ann@example.com', phoneNumber: '(415) 555-2671', country: 'US' };

describe.skipIf(postgres.skip !== undefined)('conversions from two collectors on one PostgreSQL store', () => {
  let clock: VirtualClock;
  let crm: KonnektiveDouble;
  let ac: ActiveCampaignDouble;
  let meta: MetaDouble;
  let tiktok: TikTokDouble;
  let a: TestCollector | undefined;
  let b: TestCollector | undefined;

  beforeEach(async () => {
    clock = new VirtualClock();
    crm = await startKonnektiveDouble({ loginId: 'fb-login', password: 'fb-password', campaigns: ['12'], now: () => clock.now() });
    ac = await startActiveCampaignDouble({ apiKey: 'ac-test-key', now: () => clock.now() });
    meta = await startMetaDouble({ now: () => clock.now() });
    tiktok = await startTikTokDouble({ now: () => clock.now() });
  });
  afterEach(async () => {
    await a?.close();
    await b?.close();
    await meta.close();
    await tiktok.close();
    await crm.close();
    await ac.close();
  });
  afterAll(() => postgres.dropSchemas());

  /** Both collectors on one fresh schema; the first migrates it before the second starts. */
  async function startBoth() {
    const env = emissionEnv({ crm, ac }, 'activecampaign', {
      DATABASE_URL: postgres.newSchemaUrl(),
      META_PIXEL_ID: meta.pixelId,
      META_ACCESS_TOKEN: 'meta-test-token',
      META_API_URL: meta.apiUrl,
      TIKTOK_PIXEL_CODE: tiktok.pixelCode,
      TIKTOK_ACCESS_TOKEN: 'tiktok-test-token',
      TIKTOK_API_URL: tiktok.url,
    });
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

  it('a walk split between them, each request also resent to the other, sends each platform one Lead, one InitiateCheckout and one Purchase', async () => {
    const { a, b } = await startBoth();
    const attribution = { id: randomUUID(), type: 'attribution', marketing: true, values: { fbc: `fb.1.${clock.now()}.${FBCLID}`, fbp: 'fb.1.1765000000000.987654321', ttclid: 'E.C.P.tt-1', ttp: 'ttp-cookie-1' } } as FunnelEvent;
    const landing = [ev.page('presell', `https://offer.example/presell?fbclid=${FBCLID}&ttclid=E.C.P.tt-1`), attribution];
    // The first batch carries no session yet: its resend finds the session it opened by its event ids.
    const first = await sendBoth(a, b, undefined, landing);
    const token = first.session;
    const session = first.ids.session;

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
    await sendBoth(a, b, token, [ev.page('thankyou', 'https://secure.example/thanks'), ev.order(orderId)]);
    // The thank-you page makes the session due: both sweeps see it, the order is checked.
    await idle(1_000);
    // Long after: nothing more goes out (an order check run twice, a retry).
    await idle(20 * 60_000);

    const eventIds = [`${session}.Lead`, `${session}.InitiateCheckout`, `${session}.Purchase`];
    expect(meta.received().map((item) => [item.event.event_name, item.event.event_id])).toEqual([
      ['Lead', eventIds[0]],
      ['InitiateCheckout', eventIds[1]],
      ['Purchase', eventIds[2]],
    ]);
    expect(tiktok.received().map((item) => [item.event.event, item.event.event_id])).toEqual([
      ['SubmitForm', eventIds[0]],
      ['InitiateCheckout', eventIds[1]],
      ['CompletePayment', eventIds[2]],
    ]);
    const conversionJobs = (await a.store.listJobs({})).filter((job) => job.kind === 'meta.conversion' || job.kind === 'tiktok.conversion');
    expect(conversionJobs.map((job) => `${job.kind} ${(job.payload as { name: string }).name} ${job.state}`).sort()).toEqual(
      ['meta.conversion', 'tiktok.conversion'].flatMap((kind) => ['InitiateCheckout', 'Lead', 'Purchase'].map((name) => `${kind} ${name} done`)),
    );
  }, 60_000);
});
