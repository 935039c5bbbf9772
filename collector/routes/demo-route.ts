/**
 * @module demo-route
 * `GET /demo/`: the demo funnel, in sandbox mode only (see demo/demo-pages.ts).
 */
import { Hono } from 'hono';
import { DEMO_PAGES } from '../demo/demo-pages.js';

export function demoRoute(): Hono {
  const app = new Hono();
  app.get('/demo', (c) => c.redirect('/demo/'));
  for (const [path, html] of Object.entries(DEMO_PAGES)) app.get(path, (c) => c.html(html));
  return app;
}
