/**
 * @module demo-route
 * `GET /demo/`: the demo funnel, in sandbox mode only (see demo/demo-pages.ts), and to this
 * machine only: `/demo/recorded` lists recovery links that open a buyer's prefilled checkout.
 */
import { Hono } from 'hono';
import type { Config } from '../config.js';
import { DEMO_PAGES, recordedPage } from '../demo/demo-pages.js';
import { sandboxLocalOnly } from '../http/sandbox-guard.js';
import type { Store } from '../store/store.js';

export function demoRoute({ store, config }: { store: Store; config: Config }): Hono {
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
  return app;
}
