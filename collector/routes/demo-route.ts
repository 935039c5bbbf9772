/**
 * @module demo-route
 * `GET /demo/`: the demo funnel, in sandbox mode only (see demo/demo-pages.ts), and to this
 * machine only: `/demo/recorded` lists recovery links that open a buyer's prefilled checkout, and
 * `/demo/lifecycle` makes a demo order rebill, decline, refund or cancel (demo/demo-lifecycle.ts).
 */
import { Hono } from 'hono';
import { z } from 'zod';
import type { Clock } from '../clock.js';
import { systemClock } from '../clock.js';
import { applyDemoChange, DEMO_LIFECYCLE_ACTIONS, demoOrders, lifecyclePage } from '../demo/demo-lifecycle.js';
import { fail } from '../http/errors.js';
import { sandboxLifecycleLedger } from '../konnektive/sandbox-konnektive.js';
import { queueLifecyclePoll } from '../lifecycle/lifecycle-poller.js';
import type { Config } from '../config.js';
import { DEMO_PAGES, recordedPage } from '../demo/demo-pages.js';
import { sandboxLocalOnly } from '../http/sandbox-guard.js';
import type { Store } from '../store/store.js';

const DemoChange = z.object({ orderId: z.string().min(1).max(100), action: z.enum(DEMO_LIFECYCLE_ACTIONS) }).strict();

export function demoRoute({ store, config, clock = systemClock, wakeWorker }: { store: Store; config: Config; clock?: Pick<Clock, 'now'>; wakeWorker?: () => void }): Hono {
  const app = new Hono();
  // Scoped to /demo: this app is mounted at the root, where a `*` middleware would guard every route.
  const localOnly = sandboxLocalOnly(config);
  app.use('/demo', localOnly);
  app.use('/demo/*', localOnly);
  app.get('/demo', (c) => c.redirect('/demo/'));
  for (const [path, html] of Object.entries(DEMO_PAGES)) app.get(path, (c) => c.html(html));
  // What sandbox mode recorded instead of sending: the CART shows its orderUrl, to be opened.
  app.get('/demo/recorded', async (c) => {
    const rows = (await store.listAttempts())
      .filter((attempt) => attempt.outcome === 'sandbox' && attempt.endpoint.includes('/ecomOrders'))
      .map((attempt) => {
        const order = ((JSON.parse(attempt.request) as { ecomOrder?: Record<string, unknown> }).ecomOrder ?? {}) as Record<string, unknown>;
        return {
          at: attempt.createdAt,
          endpoint: attempt.endpoint,
          cartId: String(order.externalcheckoutid ?? ''),
          total: `${(Number(order.totalPrice ?? 0) / 100).toFixed(2)} ${String(order.currency ?? '')}`,
          orderUrl: typeof order.orderUrl === 'string' ? order.orderUrl : undefined,
        };
      })
      .reverse();
    return c.html(recordedPage(rows), 200, { 'Cache-Control': 'no-store' });
  });
  app.get('/demo/lifecycle', async (c) => c.html(lifecyclePage(await demoOrders(store.sql()), { enabled: config.lifecycle.enabled }), 200, { 'Cache-Control': 'no-store' }));
  // JSON only: a form another site posts to this machine cannot send it without a CORS preflight, which /demo never grants.
  app.post('/demo/lifecycle', async (c) => {
    if (!(c.req.header('content-type') ?? '').toLowerCase().startsWith('application/json')) fail(415, 'unsupported_media_type', 'Send the change as JSON.');
    const parsed = DemoChange.safeParse(await c.req.json().catch(() => undefined));
    if (!parsed.success) fail(400, 'bad_request', `Expected {"orderId", "action": one of ${DEMO_LIFECYCLE_ACTIONS.join(', ')}}.`);
    const order = (await demoOrders(store.sql())).find((o) => o.orderId === parsed.data.orderId);
    if (!order) fail(404, 'not_found', 'No demo order with this id (the latest 100 sessions with an email and an order are).');
    const now = clock.now();
    const what = applyDemoChange(sandboxLifecycleLedger, order, parsed.data.action, now, config.lifecycle.timeZone);
    await queueLifecyclePoll(store, now);
    wakeWorker?.();
    return c.json({ ok: true, message: `Sandbox Konnektive now holds ${what} of order ${order.orderId}; a lifecycle poll is queued.` });
  });
  return app;
}
