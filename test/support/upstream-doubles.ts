/**
 * Both upstream doubles on a fresh virtual clock for each test, as the collector's test env
 * (`konnektiveEnv`) expects them, closed after the test together with its collector.
 */
import { afterEach, beforeEach } from 'vitest';
import { startActiveCampaignDouble, type ActiveCampaignDouble } from '../doubles/activecampaign-double.js';
import { startKonnektiveDouble, type KonnektiveDouble } from '../doubles/konnektive-double.js';
import { konnektiveEnv } from './test-collector.js';
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

/**
 * The collector's settings for an emission route against both doubles, as the abandonment tests
 * run it: carts abandoned after 30 minutes, an upsell window of 15 (`extra` overrides any).
 */
export function emissionEnv({ crm, ac }: Pick<UpstreamDoubles, 'crm' | 'ac'>, route: 'activecampaign' | 'konnektive', extra: Record<string, string> = {}): Record<string, string> {
  return konnektiveEnv(crm.url, {
    EMIT_VIA: route,
    ACTIVECAMPAIGN_API_URL: ac.url,
    ACTIVECAMPAIGN_API_KEY: 'ac-test-key',
    ABANDON_AFTER: '30m',
    UPSELL_WINDOW: '15m',
    ...extra,
  });
}
