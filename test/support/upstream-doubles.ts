/**
 * Both upstream doubles on a fresh virtual clock for each test, as the collector's test env
 * (`konnektiveEnv`) expects them, closed after the test together with its collector.
 */
import { afterEach, beforeEach } from 'vitest';
import { startActiveCampaignDouble, type ActiveCampaignDouble } from '../doubles/activecampaign-double.js';
import { startKonnektiveDouble, type KonnektiveDouble } from '../doubles/konnektive-double.js';
import { VirtualClock } from './virtual-clock.js';

export interface UpstreamDoubles {
  clock: VirtualClock;
  crm: KonnektiveDouble;
  ac: ActiveCampaignDouble;
}

/** Registers the hooks: `take` receives each test's doubles; `collector` is closed first. */
export function withUpstreamDoubles(take: (doubles: UpstreamDoubles) => void, collector: () => { close(): Promise<void> } | undefined): void {
  let doubles: UpstreamDoubles | undefined;
  beforeEach(async () => {
    const clock = new VirtualClock();
    const crm = await startKonnektiveDouble({ loginId: 'fb-login', password: 'fb-password', campaigns: ['12'], now: () => clock.now() });
    const ac = await startActiveCampaignDouble({ apiKey: 'ac-test-key', now: () => clock.now() });
    doubles = { clock, crm, ac };
    take(doubles);
  });
  afterEach(async () => {
    await collector()?.close();
    await doubles?.crm.close();
    await doubles?.ac.close();
  });
}
