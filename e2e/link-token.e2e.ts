/**
 * The link token that carries the session to the next domain, in the URL fragment
 * (`#_fb=<token>`): a valid one is adopted by a domain that holds no session yet, an expired or
 * tampered one is refused (a new session starts), a domain that holds a session keeps it (no link
 * someone else made can pull a visitor into their session), and no token stays in the address bar.
 *
 * These tests read tokens only as far as the snippet does (the session id is the part after the
 * first dot) and otherwise go by what the collector answers.
 */
import type { Page } from '@playwright/test';
import { signLink, signRecovery } from '../collector/tokens.js';
import type { IngestResponse } from '../collector/wire-schema.js';
import { expect, expectLead, sessionIds, test } from './support/fixtures.js';
import { SECRET, type Stack } from './support/stack.js';

/** A session on domain A, and the link to checkout on B that its lead page decorates. */
async function sessionOnA(page: Page, stack: Stack): Promise<{ session: string; href: string }> {
  await page.goto(`${stack.a}/lead.html`);
  const { session } = await sessionIds(page);
  const link = page.locator('#to-checkout');
  await expect(link).toHaveAttribute('href', /#_fb=l\./);
  return { session, href: (await link.getAttribute('href'))! };
}

/** The link token in a URL's fragment. */
function tokenOf(href: string): string {
  return /[#&]_fb=([^&]*)/.exec(new URL(href).hash)![1]!;
}

/** An ordinary desktop Chrome: the collector relays nothing for a known bot. */
const CHROME_UA = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';

/** The session a token names: the part after the kind. */
const sessionIdOf = (token: string): string => token.split('.')[1]!;

/**
 * Someone else's session, made without a browser (as a redirector can on every click): a page
 * view with their affiliate id, and the collector's answer, link token included.
 */
async function othersSession(stack: Stack, origin = stack.a): Promise<IngestResponse> {
  const response = await fetch(`${stack.collector.url}/v1/events`, {
    method: 'POST',
    headers: { origin, 'content-type': 'text/plain', 'user-agent': CHROME_UA },
    body: JSON.stringify({
      campaign: '12',
      events: [{ id: crypto.randomUUID(), type: 'page', page: 'checkout', url: `${origin}/checkout.html?affId=ATTACKER` }],
    }),
  });
  expect(response.status).toBe(200);
  return (await response.json()) as IngestResponse;
}

test('a valid link token in the fragment carries the session, and leaves the address bar', async ({ page, stack }) => {
  const { session, href } = await sessionOnA(page, stack);
  expect(new URL(href).search, 'the token is not in the query').toBe('');
  await page.goto(`${stack.b}/checkout.html?utm_source=kept#_fb=${tokenOf(href)}`);
  expect((await sessionIds(page)).session).toBe(session);
  expect(page.url()).toBe(`${stack.b}/checkout.html?utm_source=kept`);
  expect(await stack.collector.store.countSessions()).toBe(1);
  // The page view went without the token and without a fragment.
  const views = (await stack.collector.store.listEvents(session)).filter((event) => event.type === 'page').map((event) => event.payload);
  expect(views.at(-1)).toMatchObject({ url: `${stack.b}/checkout.html?utm_source=kept` });
});

test('a fresh browser adopts a link token from the fragment, and the address bar is clean', async ({ page, browser, stack }) => {
  const { session, href } = await sessionOnA(page, stack);
  // Another browser, with nothing stored for either domain, opens the link.
  const fresh = await browser.newContext();
  try {
    const other = await fresh.newPage();
    await other.goto(`${stack.b}/checkout.html?affId=A1#_fb=${tokenOf(href)}`);
    expect((await sessionIds(other)).session).toBe(session);
    expect(other.url()).toBe(`${stack.b}/checkout.html?affId=A1`);
    expect(await other.evaluate(() => location.hash)).toBe('');
  } finally {
    await fresh.close();
  }
});

test('a token appended to a fragment the page had leaves that fragment as it was', async ({ page, stack }) => {
  const { session, href } = await sessionOnA(page, stack);
  await page.goto(`${stack.b}/checkout.html?affId=A1#step-2&_fb=${tokenOf(href)}`);
  expect((await sessionIds(page)).session).toBe(session);
  expect(page.url()).toBe(`${stack.b}/checkout.html?affId=A1#step-2`);
});

test('a token first in a fragment that goes on leaves the rest of it', async ({ page, browser, stack }) => {
  const { session, href } = await sessionOnA(page, stack);
  const fresh = await browser.newContext();
  try {
    const other = await fresh.newPage();
    await other.goto(`${stack.b}/checkout.html#_fb=${tokenOf(href)}&step=2`);
    expect((await sessionIds(other)).session).toBe(session);
    expect(other.url()).toBe(`${stack.b}/checkout.html#step=2`);
  } finally {
    await fresh.close();
  }
});

test('links and form actions to the other domain carry the token in the fragment, replacing an older one', async ({ page, stack }) => {
  await page.goto(`${stack.a}/lead.html`);
  await sessionIds(page);
  // A link added late, which already carries a fragment and a stale token.
  await page.evaluate((b) => {
    const anchor = document.createElement('a');
    anchor.id = 'late';
    anchor.href = `${b}/checkout.html?affId=A1#reviews&_fb=l.stale`;
    anchor.textContent = 'late';
    document.body.append(anchor);
  }, stack.b);
  await page.locator('#late').dispatchEvent('pointerdown');
  const late = (await page.locator('#late').getAttribute('href'))!;
  expect(late).toMatch(new RegExp(`^${stack.b}/checkout\\.html\\?affId=A1#reviews&_fb=l\\.`));
  expect(late).not.toContain('stale');
  await expect(page.locator('#lead')).toHaveAttribute('action', new RegExp(`^${stack.b}/checkout\\.html#_fb=l\\.`));
  // Links within this domain carry nothing.
  expect(await page.locator('#away').getAttribute('href')).toBe(`${stack.a}/privacy.html`);
});

test("a page's fragment never leaves the browser: page views are sent without it", async ({ page, stack }) => {
  await page.goto(`${stack.a}/presell.html?affId=A1&email=ann%40example.com#access_token=ya29.SECRET-OAUTH-TOKEN&state=xyz`);
  const { session } = await sessionIds(page);
  // A single-page app's next step: its URL and its referrer (the previous URL) go without the fragment too.
  await page.evaluate(() => {
    history.pushState(null, '', '/checkout-step?step=2#card');
    (window as unknown as { funnelbeacon: (command: string, page: string) => void }).funnelbeacon('page', 'checkout');
  });
  await expect.poll(async () => (await stack.collector.store.listEvents(session)).filter((event) => event.type === 'page').length).toBe(2);
  const views = (await stack.collector.store.listEvents(session)).filter((event) => event.type === 'page').map((event) => event.payload);
  expect(views).toEqual([
    expect.objectContaining({ url: `${stack.a}/presell.html?affId=A1&email=ann%40example.com` }),
    expect.objectContaining({ url: `${stack.a}/checkout-step?step=2`, referrer: `${stack.a}/presell.html?affId=A1&email=ann%40example.com` }),
  ]);
  expect((await stack.collector.store.getSession(session))!.landingUrl).toBe(`${stack.a}/presell.html?affId=A1&email=ann%40example.com`);
  for (const request of stack.recorder.requests) expect(request.body).not.toContain('SECRET-OAUTH-TOKEN');
  // The page's own fragment is left where it was.
  expect(page.url()).toBe(`${stack.a}/checkout-step?step=2#card`);
});

test('a tampered link token is refused: a new session starts, the token is gone', async ({ page, stack }) => {
  const { session, href } = await sessionOnA(page, stack);
  const token = tokenOf(href);
  const tampered = token.slice(0, -2) + (token.endsWith('AA') ? 'BB' : 'AA');
  await page.goto(`${stack.b}/checkout.html?affId=X1#_fb=${tampered}`);
  const adopted = await sessionIds(page);
  expect(adopted.session).not.toBe(session);
  expect(page.url()).toBe(`${stack.b}/checkout.html?affId=X1`);
  expect(await stack.collector.store.countSessions()).toBe(2);
  const answer = stack.recorder.batches().find(({ batch }) => batch.link === tampered);
  expect(answer, 'the page sent the token it was given').toBeTruthy();
});

test('an expired link token is refused: a new session starts, the token is gone', async ({ page, stack }) => {
  const { session } = await sessionOnA(page, stack);
  const expired = signLink(SECRET, session, Date.now() - 1_000);
  await page.goto(`${stack.b}/checkout.html#_fb=${expired}`);
  const adopted = await sessionIds(page);
  expect(adopted.session).not.toBe(session);
  expect(page.url()).toBe(`${stack.b}/checkout.html`);
  expect(await stack.collector.store.countSessions()).toBe(2);
});

test('a token for the session this domain already holds changes nothing', async ({ page, stack }) => {
  const { session, href } = await sessionOnA(page, stack);
  await page.goto(`${stack.b}/checkout.html#_fb=${tokenOf(href)}`);
  expect((await sessionIds(page)).session).toBe(session);
  // Back to A with a token of the same session: A keeps its stored session and sends no link.
  const backToA = signLink(SECRET, session, Date.now() + 60_000);
  const before = stack.recorder.batches().length;
  await page.goto(`${stack.a}/presell.html#_fb=${backToA}`);
  expect((await sessionIds(page)).session).toBe(session);
  expect(page.url()).toBe(`${stack.a}/presell.html`);
  const sent = stack.recorder.batches().slice(before);
  expect(sent.every(({ batch }) => batch.link === undefined && batch.session !== undefined)).toBe(true);
});

test("a visitor who holds a session keeps it when a link carries someone else's: what they type lands in their own", async ({ page, stack }) => {
  // The visitor's own session on the lander.
  await page.goto(`${stack.a}/lead.html`);
  const own = (await sessionIds(page)).session;

  // A link that names another session (made as an attacker makes it, no browser needed).
  const other = await othersSession(stack);
  const otherId = sessionIdOf(other.session);
  expect(sessionIdOf(other.link)).toBe(otherId);
  expect(otherId).not.toBe(own);

  const before = stack.recorder.batches().length;
  await page.goto(`${stack.a}/lead.html?utm_source=mail#_fb=${other.link}`);
  expect(page.url(), 'the token left the address bar').toBe(`${stack.a}/lead.html?utm_source=mail`);
  expect((await sessionIds(page)).session).toBe(own);

  await page.fill('[name=firstName]', 'Victor');
  await page.fill('[name=lastName]', 'Visitor');
  await page.fill('[name=emailAddress]', 'victor@example.com');
  await page.locator('[name=emailAddress]').blur();
  await expectLead(stack, own, { firstName: 'Victor', lastName: 'Visitor', emailAddress: 'victor@example.com' });

  // Nothing was ever sent with the other session's link or in its name, and it holds no lead.
  const sent = stack.recorder.batches().slice(before);
  expect(sent.length).toBeGreaterThan(0);
  for (const { batch } of sent) {
    expect(batch.link).toBeUndefined();
    expect(sessionIdOf(batch.session!)).toBe(own);
  }
  const othersStored = await stack.collector.store.getSession(otherId);
  expect(othersStored, 'the other session exists').toBeDefined();
  expect(othersStored!.lead).toEqual({});
  expect(JSON.stringify(await stack.collector.store.listEvents(otherId))).not.toContain('victor@example.com');

  // On the next domain, where the visitor also holds a session, the same.
  await page.goto(`${stack.b}/checkout.html`);
  const ownOnB = (await sessionIds(page)).session;
  await page.goto(`${stack.b}/checkout.html?utm_source=mail#_fb=${(await othersSession(stack)).link}`);
  expect((await sessionIds(page)).session).toBe(ownOnB);
  expect(page.url()).toBe(`${stack.b}/checkout.html?utm_source=mail`);
});

test("a recovery link to someone else's cart leaves the session a visitor holds alone", async ({ page, stack }) => {
  await page.goto(`${stack.a}/checkout.html`);
  const own = (await sessionIds(page)).session;
  const other = await othersSession(stack);
  const recovery = signRecovery(SECRET, sessionIdOf(other.session), Date.now() + 3_600_000);

  const before = stack.recorder.batches().length;
  await page.goto(`${stack.collector.url}/r/${recovery}`);
  await page.waitForURL(`${stack.a}/checkout.html?affId=ATTACKER`);
  expect((await sessionIds(page)).session).toBe(own);
  const sent = stack.recorder.batches().slice(before);
  expect(sent.length).toBeGreaterThan(0);
  expect(sent.every(({ batch }) => batch.link === undefined && sessionIdOf(batch.session!) === own)).toBe(true);
});

test('back through their own recovery link in the same browser, the buyer is sent as returning', async ({ page, stack }) => {
  await page.goto(`${stack.b}/checkout.html`);
  const own = (await sessionIds(page)).session;
  await page.fill('[name=emailAddress]', 'ann@example.com');
  await page.locator('[name=emailAddress]').blur();
  await expectLead(stack, own, { emailAddress: 'ann@example.com' });

  const before = stack.recorder.batches().length;
  await page.goto(`${stack.collector.url}/r/${signRecovery(SECRET, own, Date.now() + 3_600_000)}`);
  await page.waitForURL(`${stack.b}/checkout.html`);
  const returned = (await sessionIds(page)).session;
  // The recovery landing's token, naming the session this domain holds, went to the collector,
  // which recorded the return (a new session linked to the abandoned one).
  const links = stack.recorder
    .batches()
    .slice(before)
    .map(({ batch }) => batch.link)
    .filter((link) => link !== undefined);
  expect(links).toHaveLength(1);
  expect(sessionIdOf(links[0]!)).toBe(own);
  expect((await stack.collector.store.getSession(returned))?.recoversSessionId).toBe(own);
});

test('a forged session token is refused and replaced, and what was refused goes again', async ({ page, stack, context }) => {
  const forged = 's.AAAAAAAAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA';
  // Planted where the snippet keeps the session (once: the replacement must stay).
  await context.addInitScript((token) => {
    if (!localStorage.getItem('funnelbeacon')) localStorage.setItem('funnelbeacon', token);
  }, forged);
  await page.goto(`${stack.a}/lead.html`);
  const { session } = await sessionIds(page);
  expect(session).not.toBe('AAAAAAAAAAAAAAAAAAAAAA');
  expect(await page.evaluate(() => localStorage.getItem('funnelbeacon'))).toMatch(new RegExp(`^s\\.${session}\\.`));
  expect(await page.evaluate(() => document.cookie)).toContain(`funnelbeacon=s.${session}.`);
  // The page view refused with the forged token went again under the new session.
  const views = (await stack.collector.store.listEvents(session)).filter((event) => event.type === 'page');
  expect(views).toHaveLength(1);
  expect(stack.recorder.batches().filter(({ batch }) => batch.session === forged)).toHaveLength(1);
});

test('a funnelbeacon cookie planted for the whole domain (as a sibling subdomain can) is never read', async ({ page, stack, context }) => {
  const other = await othersSession(stack);
  // A cookie with a Domain attribute, as `evil.example.com` sets one for `example.com`.
  await context.addCookies([{ name: 'funnelbeacon', value: other.session, domain: 'localhost', path: '/lead.html' }]);
  await page.goto(`${stack.a}/lead.html`);
  const { session } = await sessionIds(page);
  expect(session).not.toBe(sessionIdOf(other.session));
  expect(stack.recorder.batches().filter(({ batch }) => batch.session === other.session)).toEqual([]);
});

test('with localStorage blocked, the session lives in the cookie, found by its exact name', async ({ page, stack, context }) => {
  await context.addInitScript(() => {
    Object.defineProperty(window, 'localStorage', {
      get() {
        throw new DOMException('The operation is insecure.', 'SecurityError');
      },
    });
  });
  const other = await othersSession(stack);
  // Cookies whose names end in ours are other cookies.
  await context.addCookies([
    { name: 'notfunnelbeacon', value: other.session, url: stack.a },
    { name: 'x_funnelbeacon', value: other.session, url: stack.a },
  ]);
  await page.goto(`${stack.a}/lead.html`);
  const { session } = await sessionIds(page);
  expect(session).not.toBe(sessionIdOf(other.session));
  expect(stack.recorder.batches().filter(({ batch }) => batch.session === other.session)).toEqual([]);
  // The next page of the domain finds the session in the cookie.
  await page.goto(`${stack.a}/presell.html`);
  expect((await sessionIds(page)).session).toBe(session);
  expect(await stack.collector.store.countSessions()).toBe(2);
});

test.describe('on https', () => {
  const SHOP = 'https://shop.lander.test';
  test.use({ stackEnv: { ALLOWED_ORIGINS: SHOP } });

  test('the session cookie is __Host- and Secure: a sibling subdomain cannot plant one this page reads', async ({ page, context, stack }) => {
    const other = await othersSession(stack, SHOP);
    // Two https hosts of one site, served by the test: a sibling that plants cookies for the
    // whole site, and the shop. The shop's page loads the snippet from the collector and sends
    // to the recorder on this machine, which Chromium allows a public page once permitted.
    await context.grantPermissions(['local-network-access']);
    const page_ = (head: string) =>
      `<!doctype html><html><head><meta charset="utf-8"><title>shop</title>${head}</head><body><form><input name="emailAddress"></form></body></html>`;
    await context.route('https://evil.lander.test/**', (route) =>
      route.fulfill({
        contentType: 'text/html',
        body: page_(`<script>
          document.cookie = 'funnelbeacon=${other.session}; domain=lander.test; path=/';
          document.cookie = '__Host-funnelbeacon=${other.session}; domain=lander.test; path=/; secure';
        </script>`),
      }),
    );
    await context.route(`${SHOP}/**`, (route) =>
      route.fulfill({
        contentType: 'text/html',
        body: page_(`<script defer src="${stack.collector.url}/f.js" data-page="checkout" data-campaign="12" data-collector="${stack.recorder.origin}"></script>`),
      }),
    );
    // Where localStorage is blocked, the cookie is all the snippet has.
    await context.addInitScript(() => {
      Object.defineProperty(window, 'localStorage', {
        get() {
          throw new DOMException('The operation is insecure.', 'SecurityError');
        },
      });
    });

    await page.goto('https://evil.lander.test/');
    await page.goto(`${SHOP}/checkout.html`);
    const cookies = await page.evaluate(() => document.cookie);
    expect(cookies, 'the plain cookie reached the shop; the __Host- one did not').toContain(`funnelbeacon=${other.session}`);
    const { session } = await sessionIds(page);
    expect(session).not.toBe(sessionIdOf(other.session));
    expect(stack.recorder.batches().filter(({ batch }) => batch.session === other.session)).toEqual([]);
    const own = (await context.cookies(SHOP)).find((cookie) => cookie.name === '__Host-funnelbeacon');
    expect(own).toMatchObject({ domain: 'shop.lander.test', path: '/', secure: true });
    expect(sessionIdOf(own!.value)).toBe(session);
    // The next page of the shop finds its own session.
    await page.goto(`${SHOP}/upsell1.html`);
    expect((await sessionIds(page)).session).toBe(session);
  });
});

test('a page left open keeps fresh tokens on its links', async ({ page, stack }) => {
  await page.clock.install();
  const { session, href } = await sessionOnA(page, stack);
  const link = page.locator('#to-checkout');
  // Nine minutes later the first token is a minute from expiring: the page has renewed it.
  await page.clock.fastForward('09:00');
  await expect.poll(async () => tokenOf((await link.getAttribute('href'))!)).not.toBe(tokenOf(href));
  const refreshes = stack.recorder.batches().filter(({ batch }) => batch.events.length === 0);
  expect(refreshes.map(({ batch }) => batch.session)).toEqual([expect.stringMatching(/^s\./)]);
  await page.goto((await link.getAttribute('href'))!);
  expect((await sessionIds(page)).session).toBe(session);
});
