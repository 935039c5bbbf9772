/**
 * @module health-route
 * `GET /healthz` (is the store reachable, what state is each upstream in) and `GET /metrics`.
 * In sandbox mode `/metrics` answers this machine only, like the dashboard; a live collector
 * leaves it to the reverse proxy (deploy/nginx.conf allows the operator's addresses only).
 */
import { Hono } from 'hono';
import type { Config } from '../config.js';
import { sandboxLocalOnly } from '../http/sandbox-guard.js';
import type { Metrics } from '../metrics.js';
import type { Store } from '../store/store.js';
import type { UpstreamHealth } from '../upstream-health.js';

export function healthRoute({ store, health, metrics, config }: { store: Store; health: UpstreamHealth; metrics: Metrics; config: Config }): Hono {
  const app = new Hono();

  app.get('/healthz', async (c) => {
    let storeOk = true;
    try {
      await store.ping();
    } catch {
      storeOk = false;
    }
    const upstreams = health.all();
    const paused = Object.values(upstreams).some((status) => status.state === 'paused');
    const status = !storeOk ? 'down' : paused ? 'degraded' : 'ok';
    return c.json(
      { status, mode: config.sandbox ? 'sandbox' : 'live', store: { kind: store.kind, ok: storeOk }, upstreams },
      storeOk ? 200 : 503,
    );
  });

  app.get('/metrics', sandboxLocalOnly(config), async (c) => {
    const body = await metrics.registry.metrics();
    return c.body(body, 200, { 'content-type': metrics.registry.contentType });
  });

  return app;
}
