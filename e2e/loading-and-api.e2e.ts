/**
 * How the script may be loaded (defer, async, injected by another script), what it adds to the
 * page (one global), when it stands down (no valid data-page), and the commands of its API.
 */
import type { Page } from '@playwright/test';
import { expect, expectLead, sessionIds, test } from './support/fixtures.js';
import type { Stack } from './support/stack.js';

type Api = (command: string, ...args: unknown[]) => void;

/** Adds the snippet to a page as a tag manager would (Trusted Types are enforced on the fixtures). */
function inject(page: Page, stack: Stack, dataset: Record<string, string>): Promise<void> {
  return page.evaluate(
    ({ src, dataset }) =>
      new Promise<void>((resolve, reject) => {
        const { trustedTypes } = window as unknown as {
          trustedTypes: { createPolicy(name: string, rules: { createScriptURL(url: string): string }): { createScriptURL(url: string): string } };
        };
        const policy = trustedTypes.createPolicy(`test${Math.random()}`, { createScriptURL: (url: string) => url });
        const script = document.createElement('script');
        Object.assign(script.dataset, dataset);
        script.onload = () => resolve();
        script.onerror = () => reject(new Error('the snippet did not load'));
        script.src = policy.createScriptURL(src);
        document.head.appendChild(script);
      }),
    { src: `${stack.collector.url}/f.js`, dataset },
  );
}

test('loaded with async, it replays the commands queued before it', async ({ page, stack, pageErrors }) => {
  await page.goto(`${stack.a}/async.html`);
  const { session } = await sessionIds(page);
  await expectLead(stack, session, { emailAddress: 'queued@example.com', firstName: 'Queued' });
  expect(pageErrors.list).toEqual([]);
});

test('injected by another script, it works the same', async ({ page, stack, pageErrors }) => {
  await page.goto(`${stack.a}/injected.html`);
  const { session } = await sessionIds(page);
  await expectLead(stack, session, { emailAddress: 'injected@example.com', lastName: 'Manager' });
  const [view] = await stack.collector.store.listEvents(session);
  expect(view?.payload).toMatchObject({ type: 'page', page: 'checkout', url: `${stack.a}/injected.html` });
  expect(pageErrors.list).toEqual([]);
});

test('it adds one global, funnelbeacon, and nothing else', async ({ page, stack }) => {
  await page.goto(`${stack.a}/privacy.html`);
  const before = await page.evaluate(() => Object.getOwnPropertyNames(window));
  await inject(page, stack, { page: 'presell', campaign: '12', collector: stack.recorder.origin });
  await sessionIds(page);
  const after = await page.evaluate(() => Object.getOwnPropertyNames(window));
  expect(after.filter((name) => !before.includes(name))).toEqual(['funnelbeacon']);
});

test('without a valid data-page it does nothing at all', async ({ page, stack, requests }) => {
  await page.goto(`${stack.a}/privacy.html`);
  await inject(page, stack, { page: 'checkout-page', campaign: '12', collector: stack.recorder.origin });
  expect(await page.evaluate(() => typeof (window as unknown as { funnelbeacon?: unknown }).funnelbeacon)).toBe('undefined');
  expect(await page.evaluate(() => [document.cookie, localStorage.length])).toEqual(['', 0]);
  expect(requests.events()).toEqual([]);
});

test('commands: page for single-page apps, cart, order, lead, ready', async ({ page, stack, pageErrors }) => {
  await page.goto(`${stack.a}/host.html`);
  const { session } = await sessionIds(page);
  await page.evaluate(() => {
    const funnelbeacon = (window as unknown as { funnelbeacon: Api }).funnelbeacon;
    history.pushState(null, '', '/checkout-step?step=2');
    funnelbeacon('page', 'checkout');
    funnelbeacon('cart', { items: [{ id: '77', name: 'Two bottles', price: 59.9, qty: 2 }], currency: 'EUR' });
    funnelbeacon('lead', { emailAddress: 'spa@example.com', phoneNumber: '5555550177', notAField: 'dropped' });
    funnelbeacon('order', { orderId: 'ORD-123' });
    funnelbeacon('no-such-command', 1, 2);
    funnelbeacon('order', null);
  });
  await expectLead(stack, session, { emailAddress: 'spa@example.com', phoneNumber: '5555550177' });
  await expect.poll(async () => (await stack.collector.store.getSession(session))?.claimedOrderId).toBe('ORD-123');
  const stored = await stack.collector.store.getSession(session);
  expect(stored?.cart).toEqual({ items: [{ id: '77', name: 'Two bottles', price: 59.9, qty: 2 }], currency: 'EUR' });
  expect(stored?.lastPage).toBe('checkout');
  const views = (await stack.collector.store.listEvents(session)).filter((event) => event.type === 'page').map((event) => event.payload);
  expect(views[1]).toMatchObject({ page: 'checkout', url: `${stack.a}/checkout-step?step=2`, referrer: `${stack.a}/host.html` });
  expect(pageErrors.list).toEqual([]);
});

test('the link command hands a script the URL that carries the session', async ({ page, stack }) => {
  await page.goto(`${stack.a}/lead.html`);
  // Asked at once, before the collector's first answer: the callback waits for it.
  const url = await page.evaluate(
    (target) => new Promise<string>((resolve) => (window as unknown as { funnelbeacon: Api }).funnelbeacon('link', target, resolve)),
    `${stack.b}/checkout.html?affId=A7`,
  );
  expect(url).toMatch(new RegExp(`^${stack.b}/checkout\\.html\\?affId=A7#_fb=l\\.`));
  const { session } = await sessionIds(page);
  await page.goto(url);
  expect((await sessionIds(page)).session).toBe(session);
  expect(page.url()).toBe(`${stack.b}/checkout.html?affId=A7`);
  // A URL on no funnel domain comes back as it is.
  const elsewhere = await page.evaluate(
    () => new Promise<string>((resolve) => (window as unknown as { funnelbeacon: Api }).funnelbeacon('link', 'https://example.org/x', resolve)),
  );
  expect(elsewhere).toBe('https://example.org/x');
});

test('a landing URL longer than the collector takes is sent without its query, never cut mid-value', async ({ page, stack, pageErrors }) => {
  const long = `${stack.a}/presell.html?affId=A1&fbclid=${'x'.repeat(2100)}&utm_content=120212345678901234`;
  await page.goto(long);
  const { session } = await sessionIds(page);
  const stored = await stack.collector.store.getSession(session);
  expect(stored?.landingUrl).toBe(`${stack.a}/presell.html`);
  // A URL that fits is kept as it came.
  const fits = `${stack.a}/presell.html?affId=A1&utm_content=120212345678901234`;
  await page.goto(fits);
  await expect.poll(async () => (await stack.collector.store.listEvents(session)).map((event) => (event.payload as { url?: string }).url).at(-1)).toBe(fits);
  expect(pageErrors.list).toEqual([]);
});
