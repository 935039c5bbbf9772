/**
 * @module metrics
 * Prometheus metrics, one registry per collector instance (so tests can run several).
 */
import { systemClock, type Clock } from './clock.js';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Store } from './store/store.js';
import { recoveryMetrics } from './recovery/recovery-metrics.js';

export interface Metrics {
  readonly registry: Registry;
  readonly eventsAccepted: Counter<'type'>;
  readonly eventsRejected: Counter<'reason'>;
  readonly cardNumbersDropped: Counter<'field' | 'param'>;
  readonly botCallsSuppressed: Counter<'kind'>;
  readonly requestsAborted: Counter;
  readonly upstreamCalls: Counter<'upstream' | 'endpoint' | 'outcome'>;
  readonly upstreamLatency: Histogram<'upstream' | 'endpoint'>;
  readonly recoveryClicks: Counter<'outcome'>;
}

export function createMetrics(store: Store, { defaults = true, clock = systemClock }: { defaults?: boolean; clock?: Clock } = {}): Metrics {
  const registry = new Registry();
  if (defaults) collectDefaultMetrics({ register: registry, prefix: 'funnelbeacon_' });
  new Gauge({
    name: 'funnelbeacon_outbox_jobs',
    help: 'Outbox jobs by state.',
    labelNames: ['state'],
    registers: [registry],
    async collect() {
      const counts = await store.countJobsByState();
      for (const [state, count] of Object.entries(counts)) this.set({ state }, count);
    },
  });
  return {
    registry,
    ...recoveryMetrics(registry, store, clock),
    eventsAccepted: new Counter({
      name: 'funnelbeacon_events_accepted_total',
      help: 'Events stored, by event type (resends are not counted).',
      labelNames: ['type'],
      registers: [registry],
    }),
    eventsRejected: new Counter({
      name: 'funnelbeacon_events_rejected_total',
      help: 'Ingest requests rejected, by reason.',
      labelNames: ['reason'],
      registers: [registry],
    }),
    cardNumbersDropped: new Counter({
      name: 'funnelbeacon_card_numbers_dropped_total',
      help: 'Card numbers kept out of the store: by field, and for a URL query parameter removed, by its name (bounded; else "other").',
      labelNames: ['field', 'param'],
      registers: [registry],
    }),
    botCallsSuppressed: new Counter({
      name: 'funnelbeacon_bot_calls_suppressed_total',
      help: 'Konnektive calls not made because the session was opened by a known bot, by kind (click, lead).',
      labelNames: ['kind'],
      registers: [registry],
    }),
    requestsAborted: new Counter({
      name: 'funnelbeacon_requests_aborted_total',
      help: 'Requests whose client hung up before the body was read (nothing stored, nobody answered).',
      registers: [registry],
    }),
    upstreamCalls: new Counter({
      name: 'funnelbeacon_upstream_calls_total',
      help: 'Calls to Konnektive and ActiveCampaign, by outcome.',
      labelNames: ['upstream', 'endpoint', 'outcome'],
      registers: [registry],
    }),
    upstreamLatency: new Histogram({
      name: 'funnelbeacon_upstream_call_duration_seconds',
      help: 'Latency of upstream calls.',
      labelNames: ['upstream', 'endpoint'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
  };
}
