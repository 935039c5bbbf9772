import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../test/support/virtual-clock.js';
import { MAX_TRACKED, rateLimit } from './rate-limit.js';

function appWith(perMinute: number, clock: VirtualClock) {
  const app = new Hono();
  app.use('*', rateLimit({ perMinute, keyOf: (c) => c.req.header('x-ip') ?? '', clock }));
  app.get('/', (c) => c.text('ok'));
  app.onError((error, c) => ('getResponse' in error ? (error as { getResponse(): Response }).getResponse() : c.text('boom', 500)));
  return app;
}
const hit = (app: Hono, ip: string) => app.request('/', { headers: { 'x-ip': ip } });

describe('rateLimit', () => {
  it('refuses past the limit within a minute, with Retry-After, and counts anew in the next minute', async () => {
    const clock = new VirtualClock();
    const app = appWith(2, clock);
    expect((await hit(app, 'a')).status).toBe(200);
    expect((await hit(app, 'a')).status).toBe(200);
    const refused = await hit(app, 'a');
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('60');
    expect((await hit(app, 'b')).status).toBe(200);
    clock.advance(60_000);
    expect((await hit(app, 'a')).status).toBe(200);
  });

  it('keeps at most MAX_TRACKED addresses, dropping the oldest window first', async () => {
    const clock = new VirtualClock();
    const app = appWith(1, clock);
    expect((await hit(app, 'first')).status).toBe(200);
    expect((await hit(app, 'first')).status).toBe(429);
    for (let i = 0; i < MAX_TRACKED; i++) await hit(app, `ip${i}`);
    // `first` was the oldest window and has been forgotten: it counts from zero again.
    expect((await hit(app, 'first')).status).toBe(200);
  }, 30_000);
});
