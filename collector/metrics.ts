/**
 * @module metrics
 * Prometheus metrics, one registry per collector instance (so tests can run several).
 *
 * Every label has a bounded set of values: each series costs memory until the process ends. The
 * upstream metrics' `endpoint` label is a route template (`PUT /ecomOrders/{id}`), never a path
 * holding a record id, whoever passes it ({@link endpointTemplate}).
 */
import { systemClock, type Clock } from './clock.js';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Store } from './store/store.js';
import { countsRoundTrips } from './store/group-writer.js';
import { recoveryMetrics } from './recovery/recovery-metrics.js';

export interface Metrics {
  readonly registry: Registry;
  readonly eventsAccepted: Counter<'type'>;
  readonly eventsRejected: Counter<'reason'>;
  readonly cardNumbersDropped: Counter<'field' | 'param'>;
  readonly botCallsSuppressed: Counter<'kind'>;
  readonly requestsAborted: Counter;
  readonly upstreamCalls: UpstreamCallCounter;
  readonly upstreamLatency: UpstreamLatencyHistogram;
  readonly recoveryClicks: Counter<'outcome'>;
  readonly conversionsSkipped: Counter<'platform' | 'conversion' | 'reason'>;
  readonly postbacksSkipped: Counter<'postback' | 'reason'>;
  /** Set by the delivery accuracy alerts (collector/accuracy/alerts.ts), per destination. */
  readonly destinationAccuracy: Gauge<'destination'>;
  readonly destinationAlerting: Gauge<'destination'>;
}

/**
 * An upstream endpoint as a metric label: every path segment that is not a plain word (a record
 * id such as `7` or `sandbox-cart-…`, a placeholder) becomes `{id}`, and a query string is
 * dropped. `PUT /ecomOrders/7` and `PUT /ecomOrders/8` are one series, `PUT /ecomOrders/{id}`;
 * ActiveCampaign's resource names and Konnektive's fixed paths and endpoint names are words.
 */
export function endpointTemplate(endpoint: string): string {
  const space = endpoint.indexOf(' ');
  const method = space === -1 ? '' : endpoint.slice(0, space + 1);
  const path = (space === -1 ? endpoint : endpoint.slice(space + 1)).split(/[?#]/)[0]!;
  return method + path.split('/').map((segment) => (segment === '' || /^[A-Za-z]+$/.test(segment) ? segment : '{id}')).join('/');
}

type CallLabels = { upstream: string; endpoint: string; outcome: string };
type LatencyLabels = { upstream: string; endpoint: string };

/**
 * The upstream metrics as the outbox records each call: only these two operations, so that no
 * caller can label a series with anything but {@link endpointTemplate} of its endpoint.
 */
export interface UpstreamCallCounter {
  inc(labels: CallLabels): void;
}
export interface UpstreamLatencyHistogram {
  observe(labels: LatencyLabels, seconds: number): void;
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
  if (countsRoundTrips(store)) {
    // Read from the store at each scrape: the store counts every wait on the database server (a
    // pipelined batch once) and every commit, so both per acknowledged request can be watched
    // under load; `path="ingest"` is the ingest commit groups, `other` the rest (outbox worker,
    // sweeper, reads).
    const counter = (name: string, help: string, field: 'roundTrips' | 'commits') =>
      new Counter({
        name,
        help,
        labelNames: ['path'],
        registers: [registry],
        collect() {
          this.reset();
          for (const [path, counts] of Object.entries(store.counts())) this.inc({ path }, counts[field]);
        },
      });
    counter('funnelbeacon_store_round_trips_total', 'Round trips this collector made to the database (PostgreSQL; a pipelined batch counts once).', 'roundTrips');
    counter('funnelbeacon_store_commits_total', 'Transactions this collector committed (PostgreSQL; a statement outside a transaction counts as one).', 'commits');
  }
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
      help: 'Upstream calls not made because the session was opened by a known bot, by kind (click, lead: Konnektive; conversion: the ad platforms).',
      labelNames: ['kind'],
      registers: [registry],
    }),
    requestsAborted: new Counter({
      name: 'funnelbeacon_requests_aborted_total',
      help: 'Requests whose client hung up before the body was read (nothing stored, nobody answered).',
      registers: [registry],
    }),
    conversionsSkipped: new Counter({
      name: 'funnelbeacon_conversions_skipped_total',
      help: 'Conversions deliberately not sent to an ad platform, by platform, conversion and reason (no_consent, bot, test_order, too_old, session_gone).',
      labelNames: ['platform', 'conversion', 'reason'],
      registers: [registry],
    }),
    destinationAccuracy: new Gauge({
      name: 'funnelbeacon_destination_accuracy',
      help: 'Each destination\'s delivery accuracy over the last two hours ((sent + skipped) / expected; 1 when nothing was expected), as the last alert check found it.',
      labelNames: ['destination'],
      registers: [registry],
    }),
    destinationAlerting: new Gauge({
      name: 'funnelbeacon_destination_alerting',
      help: '1 while a destination is below ALERT_ACCURACY or its upstream refused the credentials, else 0.',
      labelNames: ['destination'],
      registers: [registry],
    }),
    postbacksSkipped: new Counter({
      name: 'funnelbeacon_postbacks_skipped_total',
      help: 'Affiliate postbacks deliberately not fired, by postback and reason (test_order, prepaid, sale_followed, removed).',
      labelNames: ['postback', 'reason'],
      registers: [registry],
    }),
    upstreamCalls: upstreamCallCounter(
      new Counter({
        name: 'funnelbeacon_upstream_calls_total',
        help: 'Calls to Konnektive, ActiveCampaign and the ad platforms, by outcome (endpoint: a route template, never a record id).',
        labelNames: ['upstream', 'endpoint', 'outcome'],
        registers: [registry],
      }),
    ),
    upstreamLatency: upstreamLatencyHistogram(
      new Histogram({
        name: 'funnelbeacon_upstream_call_duration_seconds',
        help: 'Latency of upstream calls.',
        labelNames: ['upstream', 'endpoint'],
        buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
        registers: [registry],
      }),
    ),
  };
}

function upstreamCallCounter(counter: Counter<keyof CallLabels>): UpstreamCallCounter {
  return { inc: (labels) => counter.inc({ ...labels, endpoint: endpointTemplate(labels.endpoint) }) };
}

function upstreamLatencyHistogram(histogram: Histogram<keyof LatencyLabels>): UpstreamLatencyHistogram {
  return { observe: (labels, seconds) => histogram.observe({ ...labels, endpoint: endpointTemplate(labels.endpoint) }, seconds) };
}
