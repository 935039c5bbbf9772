import { Hono, type Context } from 'hono';
import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../test/support/virtual-clock.js';
import { ByteBudget, MAX_TRACKED, rateLimit } from './rate-limit.js';

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

describe('ByteBudget', () => {
  /** A route that reads the body as the ingest route does: refused before it when spent, charged after. */
  function appWithBudget(bytesPerMinute: number, clock: VirtualClock) {
    const app = new Hono();
    const budget = new ByteBudget({ bytesPerMinute, keyOf: (c) => c.req.header('x-ip') ?? '', clock });
    let bodiesRead = 0;
    app.use('*', budget.beforeBody);
    app.post('/', async (c) => {
      const text = await c.req.text();
      bodiesRead++;
      budget.charge(c, Buffer.byteLength(text));
      return c.text('ok');
    });
    app.onError((error, c) => ('getResponse' in error ? (error as { getResponse(): Response }).getResponse() : c.text('boom', 500)));
    return { app, bodiesRead: () => bodiesRead };
  }
  const send = (app: Hono, ip: string, bytes: number) => app.request('/', { method: 'POST', headers: { 'x-ip': ip }, body: 'x'.repeat(bytes) });

  it('refuses the body that passes the budget and every request of that address until the minute ends, with Retry-After', async () => {
    const clock = new VirtualClock();
    const { app, bodiesRead } = appWithBudget(1_000, clock);
    expect((await send(app, 'a', 600)).status).toBe(200);
    clock.advance(15_000);
    const over = await send(app, 'a', 600);
    expect(over.status).toBe(429);
    expect(over.headers.get('retry-after')).toBe('45');
    expect(await over.json()).toEqual({ error: { code: 'rate_limited', message: 'Too much data from this address; try again later.' } });
    // Spent: the next request is refused before its body is read, however small.
    const read = bodiesRead();
    const small = await send(app, 'a', 1);
    expect(small.status).toBe(429);
    expect(bodiesRead()).toBe(read);
    // Another address has its own budget; the next minute starts anew.
    expect((await send(app, 'b', 900)).status).toBe(200);
    clock.advance(45_000);
    expect((await send(app, 'a', 1_000)).status).toBe(200);
  });

  it('keeps at most MAX_TRACKED addresses, dropping the oldest window first', () => {
    const clock = new VirtualClock();
    let key = 'first';
    const budget = new ByteBudget({ bytesPerMinute: 10, keyOf: () => key, clock });
    const context = {} as Context;
    budget.charge(context, 10);
    expect(() => budget.charge(context, 1)).toThrow();
    for (let i = 0; i < MAX_TRACKED; i++) {
      key = `ip${i}`;
      budget.charge(context, 1);
    }
    // `first` was the oldest window and has been forgotten: it counts from zero again.
    key = 'first';
    expect(() => budget.charge(context, 10)).not.toThrow();
  });
});
