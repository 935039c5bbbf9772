/**
 * Prometheus labels stay bounded: an upstream call's `endpoint` label is its route template, so
 * calls on three different ActiveCampaign records (the real client against the strict double,
 * recorded as the outbox records every call) make one series, not one per record, each with its
 * own histogram, held until the process ends.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { systemClock } from './clock.js';
import { activeCampaignClient } from './emit/activecampaign-client.js';
import { createLogger } from './logger.js';
import { createMetrics, endpointTemplate } from './metrics.js';
import { JobEffects } from './outbox/job-outcome.js';
import { recordCall } from './outbox/upstream-call.js';
import { openStore } from './store/open-store.js';
import type { Job, Store } from './store/store.js';
import { UpstreamHealth } from './upstream-health.js';
import { startActiveCampaignDouble, type ActiveCampaignDouble } from '../test/doubles/activecampaign-double.js';
import { testEnv } from '../test/support/test-collector.js';

let ac: ActiveCampaignDouble;
let store: Store;
beforeEach(async () => {
  ac = await startActiveCampaignDouble({ apiKey: 'ac-test-key' });
  store = await openStore(testEnv().DATABASE_URL!);
  await store.migrate();
});
afterEach(async () => {
  await ac.close();
  await store.close();
});

const job = { id: 1, sessionId: 's', upstream: 'activecampaign', kind: 'emitOrder', payload: {}, state: 'running', attempts: 0, runAt: 0, lastError: undefined, createdAt: 0 } as unknown as Job;

describe('upstream metrics', () => {
  it('three calls on three ActiveCampaign records are one series, labelled with the route template', async () => {
    const metrics = createMetrics(store, { defaults: false });
    const deps = { metrics, logger: createLogger('silent'), health: new UpstreamHealth({ konnektive: 'ok', activecampaign: 'ok' }, systemClock), clock: systemClock };
    const client = activeCampaignClient({
      apiUrl: `${ac.url}/api/3`,
      apiKey: 'ac-test-key',
      gate: { acquire: async () => {}, pauseUntil: async () => {} },
      clock: systemClock,
    });
    const effects = new JobEffects();
    for (const id of ['7', '8', '9']) {
      await client.request('PUT', `/ecomOrders/${id}`, { ecomOrder: { externalCreatedDate: '2026-01-01T00:00:00-05:00' } }, (call) => recordCall(deps, 'activecampaign', job, effects, call));
    }
    expect(ac.requests.map((request) => request.path)).toEqual(['/api/3/ecomOrders/7', '/api/3/ecomOrders/8', '/api/3/ecomOrders/9']);
    // The delivery log keeps which record each call was about.
    expect(effects.attempts.map((attempt) => attempt.endpoint)).toEqual(['PUT /ecomOrders/7', 'PUT /ecomOrders/8', 'PUT /ecomOrders/9']);

    const text = await metrics.registry.metrics();
    const calls = text.split('\n').filter((line) => line.startsWith('funnelbeacon_upstream_calls_total{'));
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatch(/^funnelbeacon_upstream_calls_total\{upstream="activecampaign",endpoint="PUT \/ecomOrders\/\{id\}",outcome="\w+"\} 3$/);
    const latency = text.split('\n').filter((line) => line.startsWith('funnelbeacon_upstream_call_duration_seconds_count{'));
    expect(latency).toEqual(['funnelbeacon_upstream_call_duration_seconds_count{upstream="activecampaign",endpoint="PUT /ecomOrders/{id}"} 3']);
    expect(text).not.toMatch(/ecomOrders\/[789]/);
  });

  it('the sandbox route\'s made-up ids and a DELETE of closed carts make one series too', async () => {
    const metrics = createMetrics(store, { defaults: false });
    for (const id of ['sandbox-cart-P8EE_a1', 'sandbox-cart-P8EE_b2', 'sandbox-cart-P8EE_c3']) {
      metrics.upstreamCalls.inc({ upstream: 'activecampaign', endpoint: `PUT /ecomOrders/${id}`, outcome: 'sandbox' });
    }
    for (const id of ['41', '42', '43']) {
      metrics.upstreamCalls.inc({ upstream: 'activecampaign', endpoint: `DELETE /ecomOrders/${id}`, outcome: 'ok' });
      metrics.upstreamLatency.observe({ upstream: 'activecampaign', endpoint: `DELETE /ecomOrders/${id}` }, 0.1);
    }
    const text = await metrics.registry.metrics();
    expect(text.split('\n').filter((line) => line.startsWith('funnelbeacon_upstream_calls_total{'))).toEqual([
      'funnelbeacon_upstream_calls_total{upstream="activecampaign",endpoint="PUT /ecomOrders/{id}",outcome="sandbox"} 3',
      'funnelbeacon_upstream_calls_total{upstream="activecampaign",endpoint="DELETE /ecomOrders/{id}",outcome="ok"} 3',
    ]);
    expect(text).toContain('funnelbeacon_upstream_call_duration_seconds_count{upstream="activecampaign",endpoint="DELETE /ecomOrders/{id}"} 3');
    expect(text).not.toMatch(/ecomOrders\/(4\d|sandbox)/);
  });

  it('route templates: record ids and sandbox ids become {id}; resource names, Konnektive paths and endpoint names stay', () => {
    expect(endpointTemplate('PUT /ecomOrders/7')).toBe('PUT /ecomOrders/{id}');
    expect(endpointTemplate('PUT /ecomOrders/sandbox-cart-P8EE_x1')).toBe('PUT /ecomOrders/{id}');
    expect(endpointTemplate('DELETE /ecomOrders/%7Bcart%20id%7D')).toBe('DELETE /ecomOrders/{id}');
    expect(endpointTemplate('GET /contacts/12/contactTags')).toBe('GET /contacts/{id}/contactTags');
    expect(endpointTemplate('GET /ecomCustomers?filters[email]=ann@example.com')).toBe('GET /ecomCustomers');
    expect(endpointTemplate('POST /ecomOrders')).toBe('POST /ecomOrders');
    expect(endpointTemplate('POST /landers/clicks/import/')).toBe('POST /landers/clicks/import/');
    expect(endpointTemplate('importClick')).toBe('importClick');
  });
});
