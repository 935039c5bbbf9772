// The baseline: a bare Hono endpoint on the same Node server adapter, answering 204 to any
// POST /v1/events after reading the body. What it costs is what HTTP alone costs here.
import { serve } from '@hono/node-server';
import { Hono } from 'hono';

const app = new Hono();
app.post('/v1/events', async (c) => {
  await c.req.text();
  return c.body(null, 204);
});
serve({ fetch: app.fetch, port: Number(process.env.PORT ?? 0), hostname: '127.0.0.1' }, (info) => {
  process.stdout.write(`listening ${info.port}\n`);
});
