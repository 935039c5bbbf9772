/**
 * @module recovery-metrics
 * What recovery brings in, in `/metrics`: carts abandoned, recovered and recovered by link, and
 * recovered revenue by currency (all time, read from the store's recovery facts at each scrape),
 * and the clicks on recovery links (counted by this process).
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Clock } from '../clock.js';
import type { FunnelReport, Store } from '../store/store.js';

export function recoveryMetrics(registry: Registry, store: Store, clock: Clock): { recoveryClicks: Counter<'outcome'> } {
  // One store query per scrape feeds every gauge below.
  let pending: { at: number; report: Promise<FunnelReport> } | undefined;
  const report = (): Promise<FunnelReport> => {
    const now = clock.now();
    if (!pending || now - pending.at > 1_000) pending = { at: now, report: store.funnelReport(0, now + 1) };
    return pending.report;
  };
  const gauge = (name: string, help: string, pick: (r: FunnelReport) => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      async collect() {
        this.set(pick(await report()));
      },
    });
  gauge('funnelbeacon_carts_abandoned', 'Carts abandoned: CARTs delivered to ActiveCampaign.', (r) => r.cartsAbandoned);
  gauge('funnelbeacon_carts_recovered', 'Abandoned carts followed by an ORDER.', (r) => r.cartsRecovered);
  gauge('funnelbeacon_carts_recovered_by_link', 'Recovered carts whose buyer came back through the recovery link first.', (r) => r.cartsRecoveredByLink);
  gauge('funnelbeacon_carts_lost', 'Carts abandoned longer than the recovery link lives, without an order.', (r) => r.cartsLost);
  new Gauge({
    name: 'funnelbeacon_recovered_revenue_cents',
    help: 'Revenue of recovered carts, in cents, by currency; by_link="true" for those recovered by link.',
    labelNames: ['currency', 'by_link'],
    registers: [registry],
    async collect() {
      const r = await report();
      this.reset();
      for (const [currency, cents] of Object.entries(r.recoveredRevenue)) this.set({ currency, by_link: 'false' }, cents);
      for (const [currency, cents] of Object.entries(r.recoveredByLinkRevenue)) this.set({ currency, by_link: 'true' }, cents);
    },
  });
  return {
    recoveryClicks: new Counter({
      name: 'funnelbeacon_recovery_link_clicks_total',
      help: 'GET requests on recovery links, by where they led: checkout, done (already paid) or fallback.',
      labelNames: ['outcome'],
      registers: [registry],
    }),
  };
}
