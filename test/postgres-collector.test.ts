/**
 * The whole collector on the PostgreSQL store: a funnel relayed to Konnektive and an abandoned
 * cart delivered to ActiveCampaign, as on SQLite. The store's own contract suite covers the rest.
 */
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { IngestResponse } from '../collector/wire-schema.js';
import { startActiveCampaignDouble, type ActiveCampaignDouble } from './doubles/activecampaign-double.js';
import { startKonnektiveDouble, type KonnektiveDouble } from './doubles/konnektive-double.js';
import { testPostgres } from './support/postgres.js';
import { ev, eventually, konnektiveEnv, startTestCollector, type TestCollector } from './support/test-collector.js';
import { VirtualClock } from './support/virtual-clock.js';

const postgres = await testPostgres();

describe.skipIf(postgres.skip !== undefined)('collector on PostgreSQL', () => {
  let crm: KonnektiveDouble;
  let ac: ActiveCampaignDouble;
  let collector: TestCollector;
  const clock = new VirtualClock();

  beforeEach(async () => {
    crm = await startKonnektiveDouble({ loginId: 'fb-login', password: 'fb-password', campaigns: ['12'], now: clock.now });
    ac = await startActiveCampaignDouble({ apiKey: 'ac-test-key', now: clock.now });
    collector = await startTestCollector(
      konnektiveEnv(crm.url, {
        DATABASE_URL: postgres.newSchemaUrl(),
        EMIT_VIA: 'activecampaign',
        ACTIVECAMPAIGN_API_URL: ac.url,
        ACTIVECAMPAIGN_API_KEY: 'ac-test-key',
      }),
      { clock, fetch: clock.fetch, runSweeper: false },
    );
  });
  afterEach(async () => {
    await collector.close();
    await crm.close();
    await ac.close();
  });
  afterAll(() => postgres.dropSchemas());

  it('relays a funnel to Konnektive and sends the abandoned cart to ActiveCampaign once', async () => {
    const post = async (session: string | undefined, events: unknown[]) =>
      (await (await collector.post({ ...(session ? { session } : {}), campaign: '12', events })).json()) as IngestResponse;
    const first = await post(undefined, [ev.page('presell', 'https://offer.example/?affId=A1')]);
    await post(first.session, [ev.page('lead', 'https://offer.example/lead'), ev.lead({ firstName: 'Ann', lastName: 'Lee', emailAddress: 'ann@example.com' })]);
    await post(first.session, [ev.page('checkout', 'https://secure.example/checkout'), ev.cart([{ id: '41', name: 'Bottle', price: 39.95, qty: 1 }])]);
    const idle = async () => {
      collector.worker.notify();
      await eventually(async () => {
        const jobs = await collector.store.listJobs({});
        return !jobs.some((job) => job.state === 'running' || (job.state === 'pending' && job.runAt <= clock.now()));
      }, { timeoutMs: 10_000 });
    };
    await idle();
    expect([...crm.sessions.values()][0]?.clicks.map((click) => click.pageType)).toEqual(['presellPage', 'leadPage', 'checkoutPage']);
    expect(crm.leads.size).toBe(1);

    clock.advance(31 * 60_000);
    await collector.sweeper.sweepOnce();
    await idle();
    await collector.sweeper.sweepOnce();
    await idle();
    expect([...ac.orders.values()].map((order) => [order.externalcheckoutid, order.state, order.totalPrice])).toEqual([[first.ids.session, 2, 3995]]);
    expect(await collector.store.getSession(first.ids.session)).toMatchObject({ state: 'abandoned' });
  });
});
