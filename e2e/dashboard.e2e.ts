/**
 * The dashboard as a funnel owner first meets it, in real Chromium.
 *
 * 1. Sandbox mode, as `npm start` runs it: three visitors walk the demo funnel at `/demo/` (one
 *    types a lead and leaves the checkout, one buys with the upsell, one bounces on the presell);
 *    `sweep --once` turns the idle checkout into an abandoned cart. The dashboard shows the
 *    funnel counts, the buyer's timeline and the CART that sandbox mode did not send, with its
 *    `orderUrl`. That recovery link, opened on another device, leads back to the prefilled
 *    checkout; the buyer pays, and the overview counts the cart as recovered, with its revenue.
 * 2. Live mode with the strict Konnektive double and a DASHBOARD_TOKEN: the double refuses an
 *    Import Click, which becomes a dead letter; the owner signs in and replays it from Delivery.
 *
 * Each view is saved at 1280x800 and at phone width (390x844), into test-results/screenshots/, or
 * into the directory FUNNELBEACON_SCREENSHOTS_DIR names: `docs/screenshots` refreshes the images
 * the README and docs/dashboard.md show (a test run leaves the repository's files alone). Nothing here sleeps: every
 * wait polls the store or the page.
 */
import { mkdir } from 'node:fs/promises';
import type { Browser, Locator, Page } from '@playwright/test';
import type { RunningCollector } from '../collector/server.js';
import type { Emission, SessionState } from '../collector/store/store.js';
import { expect, sessionIds, test } from './support/fixtures.js';
import { startSandboxCollector, type SandboxCollector } from './support/sandbox.js';

const DESKTOP_CHROME =
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const TOKEN = 'e2e-dashboard-token-0123456789';
const SHOTS = process.env.FUNNELBEACON_SCREENSHOTS_DIR || 'test-results/screenshots';
const VIEWPORTS = { desktop: { width: 1280, height: 800 }, phone: { width: 390, height: 844 } } as const;

test.use({ stackEnv: { DASHBOARD_TOKEN: TOKEN } });

/** A buyer on a device of their own: a fresh context (no storage shared with anyone), errors watched. */
async function visitor(browser: Browser): Promise<{ page: Page; errors: string[]; close: () => Promise<void> }> {
  const context = await browser.newContext({ userAgent: DESKTOP_CHROME, viewport: VIEWPORTS.desktop });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(`uncaught: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error' && !/Failed to load resource|net::ERR_/.test(message.text())) errors.push(`console: ${message.text()}`);
  });
  return {
    page,
    errors,
    close: async () => {
      expect(errors, 'errors on the buyer page').toEqual([]);
      await context.close();
    },
  };
}

/** Saves the page at 1280x800 and at 390x844 (full page), then goes back to desktop width. */
async function screenshots(page: Page, name: string, ready: () => Promise<void>): Promise<void> {
  await mkdir(SHOTS, { recursive: true });
  for (const [kind, size] of Object.entries(VIEWPORTS)) {
    await page.setViewportSize(size);
    await ready();
    await page.evaluate(() => document.fonts.ready.then(() => undefined));
    await page.screenshot({ path: `${SHOTS}/${name}-${kind}.png`, fullPage: true, animations: 'disabled' });
  }
  await page.setViewportSize(VIEWPORTS.desktop);
}

async function waitForLead(collector: RunningCollector, session: string, fields: Record<string, string>): Promise<void> {
  await expect.poll(async () => (await collector.store.getSession(session))?.lead ?? {}, { message: 'stored lead' }).toMatchObject(fields);
}

/** Sweeps (`sweep --once`) until the session's emission of `kind` is sent. */
async function sweepUntilSent(sandbox: SandboxCollector, session: string, kind: Emission['kind']): Promise<void> {
  await expect
    .poll(
      async () => {
        await sandbox.sweep();
        return (await sandbox.collector.store.listEmissions({ sessionId: session })).find((e) => e.kind === kind)?.status ?? 'none';
      },
      { timeout: 30_000, intervals: [200], message: `${kind} of ${session}` },
    )
    .toBe('sent');
}

async function stateOf(collector: RunningCollector, session: string): Promise<SessionState | undefined> {
  return (await collector.store.getSession(session))?.state;
}

/** The value of one figure on the overview (a `Stat`, labelled for screen readers). */
const stat = (page: Page, label: string): Locator => page.getByRole('group', { name: label, exact: true }).locator('dd.value');
const statHint = (page: Page, label: string): Locator => page.getByRole('group', { name: label, exact: true }).locator('dd.hint');
/** The visitors of one step in the funnel's table. */
const stepVisitors = (page: Page, step: string): Locator =>
  page.locator('table.funnel-table tbody tr').filter({ has: page.getByRole('rowheader', { name: step, exact: true }) }).locator('td').first();

test('sandbox: walk the demo, abandon, see the cart on the dashboard, recover it through its link', async ({ page, browser }) => {
  test.setTimeout(120_000);
  const sandbox = await startSandboxCollector({ ABANDON_AFTER: '2s', UPSELL_WINDOW: '2s' });
  try {
    const { collector, url } = sandbox;

    // 1. Ada walks presell -> lead -> checkout, types her contact and address, and leaves.
    const ada = await visitor(browser);
    await ada.page.goto(`${url}/demo/?affId=A1&c1=spring&utm_source=fb&utm_campaign=launch`);
    const { session } = await sessionIds(ada.page);
    await ada.page.getByRole('link', { name: 'Tell me more' }).click();
    await ada.page.waitForURL(`${url}/demo/lead`);
    await ada.page.getByLabel('First name').fill('Ada');
    await ada.page.getByLabel('Last name').fill('Lovelace');
    await ada.page.getByLabel('Email').fill('ada@example.com');
    await ada.page.getByLabel('Phone').fill('5555550100');
    await waitForLead(collector, session, { firstName: 'Ada', emailAddress: 'ada@example.com', phoneNumber: '5555550100' });
    await ada.page.click('#to-checkout');
    await ada.page.waitForURL(`${url}/demo/checkout`);
    expect((await sessionIds(ada.page)).session).toBe(session);
    await ada.page.getByLabel('Street').fill('12 Analytical Row');
    await ada.page.getByLabel('City').fill('London');
    await ada.page.getByLabel('Zip').fill('90210');
    await ada.page.getByLabel('Zip').blur();
    await waitForLead(collector, session, { address1: '12 Analytical Row', city: 'London', postalCode: '90210' });
    await ada.close();

    // Grace buys straight through and takes the upsell; a third visitor only reads the presell.
    const grace = await visitor(browser);
    await grace.page.goto(`${url}/demo/?affId=A2&utm_source=google&utm_campaign=search`);
    const graceSession = (await sessionIds(grace.page)).session;
    await grace.page.getByRole('link', { name: 'Tell me more' }).click();
    await grace.page.waitForURL(`${url}/demo/lead`);
    await grace.page.getByLabel('First name').fill('Grace');
    await grace.page.getByLabel('Last name').fill('Hopper');
    await grace.page.getByLabel('Email').fill('grace@example.com');
    await waitForLead(collector, graceSession, { emailAddress: 'grace@example.com' });
    await grace.page.click('#to-checkout');
    await grace.page.waitForURL(`${url}/demo/checkout`);
    await grace.page.click('#pay');
    await grace.page.waitForURL(/\/demo\/upsell\?orderId=DEMO/);
    await grace.page.click('#accept');
    await grace.page.waitForURL(/\/demo\/thanks\?orderId=DEMO/);
    await expect.poll(async () => (await collector.store.getSession(graceSession))?.lastPage).toBe('thankyou');
    await grace.close();

    const bounce = await visitor(browser);
    await bounce.page.goto(`${url}/demo/?utm_source=newsletter`);
    const bounceSession = (await sessionIds(bounce.page)).session;
    await bounce.close();

    // `sweep --once` after ABANDON_AFTER: Ada's cart is abandoned and its CART recorded; Grace's ORDER too.
    await sweepUntilSent(sandbox, session, 'cart');
    expect(await stateOf(collector, session)).toBe('abandoned');
    await sweepUntilSent(sandbox, graceSession, 'order');
    // No lead, no cart: never a CART; once idle long enough it is merely expired.
    expect(['open', 'expired']).toContain(await stateOf(collector, bounceSession));
    expect(await collector.store.listEmissions({ sessionId: bounceSession })).toEqual([]);

    // 2. The dashboard: funnel counts, Ada's timeline, the CART request with its orderUrl.
    await page.goto(`${url}/dashboard/#/overview?range=7d`);
    await expect(page.getByRole('heading', { name: 'Overview', level: 1 })).toBeVisible();
    await expect(stepVisitors(page, 'Presell')).toHaveText('3');
    await expect(stepVisitors(page, 'Lead')).toHaveText('2');
    await expect(stepVisitors(page, 'Checkout')).toHaveText('2');
    await expect(stepVisitors(page, 'Upsell 1')).toHaveText('1');
    await expect(stepVisitors(page, 'Thank-you')).toHaveText('1');
    await expect(stat(page, 'Carts abandoned')).toHaveText('1');
    await expect(statHint(page, 'Carts abandoned')).toHaveText('$39.95 recoverable');
    await expect(stat(page, 'Orders')).toHaveText('1');
    await expect(stat(page, 'Carts recovered')).toHaveText('0');

    await page.getByRole('navigation', { name: 'Views' }).getByRole('link', { name: 'Sessions' }).click();
    await page.getByLabel('Search sessions by email, order id, affiliate or session id').fill('ada@example.com');
    await page.getByRole('button', { name: 'Search' }).click();
    const rows = page.locator('table.sessions tbody tr');
    await expect(rows).toHaveCount(1);
    await expect(rows.first()).not.toContainText('ada@example.com'); // masked in lists
    await expect(rows.first()).toContainText('A1');
    await rows.first().getByRole('link').click();
    await expect(page.getByRole('heading', { name: 'Session', level: 1 })).toBeVisible();
    const timeline = page.locator('ol.timeline');
    await expect(page.locator('dl.facts')).toContainText('ada@example.com'); // in full on its own page
    for (const step of ['Page: Presell', 'Page: Lead', 'Page: Checkout', 'Lead update']) await expect(timeline).toContainText(step);
    await expect(timeline.locator('li.t-state').filter({ hasText: 'abandoned' })).toHaveCount(1);
    const cartCall = timeline.locator('li.t-upstream').filter({ hasText: 'ActiveCampaign POST /ecomOrders' });
    await expect(cartCall).toHaveCount(1);
    await expect(timeline.locator('li.t-upstream').filter({ hasText: 'Konnektive' }).first()).toBeVisible();

    await page.getByRole('navigation', { name: 'Views' }).getByRole('link', { name: 'Delivery' }).click();
    await expect(page.getByRole('heading', { name: 'Requests sandbox mode did not send' })).toBeVisible();
    const cartRequest = page.locator('ul.requests details').filter({ hasText: 'ActiveCampaign POST /ecomOrders' }).filter({ hasText: 'orderUrl' });
    await expect(cartRequest).toHaveCount(1);
    await cartRequest.locator('summary').click();
    const body = cartRequest.locator('pre');
    await expect(body).toContainText(`"externalcheckoutid": "${session}"`);
    await expect(body).toContainText('"totalPrice": 3995');
    // In sandbox mode the request is shown whole (the dashboard answers this machine only).
    await expect(body).toContainText('"email": "ada@example.com"');
    await expect(body).toContainText('"connectionid": "{connectionid}"');
    await expect(body).toContainText(`"orderUrl": "${url}/r/`);
    const orderUrl = /"orderUrl": "([^"]+)"/.exec((await body.textContent()) ?? '')![1]!;
    // Whole typed values, case as typed: the token is random base64url, so a short or
    // case-blind pattern ("ada") turns up in it by chance now and then.
    for (const typed of ['Lovelace', 'ada@example.com', 'ada%40example.com', 'London', 'Analytical', '5555550100', '90210']) expect(orderUrl).not.toContain(typed);
    await expect(page.getByRole('heading', { name: 'Dead letters' })).toBeVisible();
    await expect(page.getByRole('group', { name: 'ActiveCampaign' })).toContainText('sandbox');
    await screenshots(page, 'delivery', () => expect(body).toBeVisible());

    // 3. The recovery link on another device: the prefilled checkout; Ada pays, declines the upsell.
    const back = await visitor(browser);
    await back.page.goto(orderUrl);
    await back.page.waitForURL(`${url}/demo/checkout`);
    await expect(back.page.getByLabel('Email')).toHaveValue('ada@example.com');
    await expect(back.page.getByLabel('City')).toHaveValue('London');
    // A session of its own, linked to the abandoned one (a link never hands out the buyer's session).
    const returned = (await sessionIds(back.page)).session;
    expect((await collector.store.getSession(returned))?.recoversSessionId).toBe(session);
    await back.page.click('#pay');
    await back.page.waitForURL(/\/demo\/upsell\?orderId=DEMO/);
    await back.page.click('#decline');
    await back.page.waitForURL(/\/demo\/thanks\?orderId=DEMO/);
    await expect.poll(async () => (await collector.store.getSession(returned))?.lastPage).toBe('thankyou');
    await back.close();
    await sweepUntilSent(sandbox, session, 'order');
    expect(await stateOf(collector, session)).toBe('complete');

    // The overview counts the cart recovered, by link, with its revenue (it refreshes by itself).
    await page.getByRole('navigation', { name: 'Views' }).getByRole('link', { name: 'Overview' }).click();
    await expect(stat(page, 'Carts recovered')).toHaveText('1');
    await expect(statHint(page, 'Carts recovered')).toHaveText('1 by link');
    await expect(stat(page, 'Recovered revenue')).toHaveText('$39.95');
    await expect(statHint(page, 'Recovered revenue')).toHaveText('$39.95 by link');
    await expect(stat(page, 'Recovery rate')).toHaveText('100%');
    await expect(stat(page, 'Recovery link clicks')).toHaveText('1');
    await expect(stat(page, 'Orders')).toHaveText('2');
    await expect(stat(page, 'Revenue')).toHaveText('$92.40');
    await expect(stat(page, 'Carts abandoned')).toHaveText('1');
    await screenshots(page, 'overview', () => expect(stat(page, 'Carts recovered')).toHaveText('1'));

    await page.getByRole('navigation', { name: 'Views' }).getByRole('link', { name: 'Sources' }).click();
    await expect(page.getByRole('heading', { name: 'Sources', level: 1 })).toBeVisible();
    await page.getByLabel('Break down by').selectOption('utm_source');
    const sourceRows = page.locator('table.data tbody tr');
    await expect(sourceRows).toHaveCount(3);
    // The overview's figures, per source: Ada's recovered cart is fb's.
    const headers = (await page.locator('table.data thead th').allTextContents()).slice(1);
    expect(headers).toEqual(['Visitors', 'Leads', 'Conversion', 'Orders', 'Revenue', 'Avg. order', 'Rev. / visitor', 'Upsell take', 'Carts', 'Recoverable', 'Recovered', 'Recovered rev.', 'Recovery rate', 'Lost carts']);
    const fb = sourceRows.filter({ has: page.getByRole('rowheader', { name: 'fb', exact: true }) });
    const cell = (name: string) => fb.locator('td').nth(headers.indexOf(name));
    await expect(cell('Revenue')).toHaveText('$39.95');
    await expect(cell('Avg. order')).toHaveText('$39.95');
    await expect(cell('Recoverable')).toHaveText('$39.95');
    await expect(cell('Recovered rev.')).toHaveText('$39.95');
    await expect(cell('Recovery rate')).toHaveText('100%');
    await expect(cell('Lost carts')).toHaveText('0');
    await screenshots(page, 'sources', () => expect(sourceRows).toHaveCount(3));

    await page.getByRole('navigation', { name: 'Views' }).getByRole('link', { name: 'Sessions' }).click();
    await expect(page.getByRole('heading', { name: 'Latest sessions' })).toBeVisible();
    // Three visitors, and Ada's return through the recovery link: a session of its own.
    await expect(page.locator('table.sessions tbody tr')).toHaveCount(4);
    await screenshots(page, 'sessions', () => expect(page.locator('table.sessions tbody tr')).toHaveCount(4));

    await page.goto(`${url}/dashboard/#/sessions/${encodeURIComponent(session)}`);
    await expect(timeline.locator('li.t-state').filter({ hasText: 'complete' })).toHaveCount(1);
    await expect(timeline).toContainText('Came back through the recovery link');
    // The session Ada came back as, one click away, and it names the cart it came back for.
    await page.locator('dl.facts').getByRole('link', { name: returned }).click();
    await expect(page.locator('dl.facts')).toContainText('Came back for');
    await expect(page.locator('dl.facts').getByRole('link', { name: session })).toBeVisible();
    await page.locator('dl.facts').getByRole('link', { name: session }).click();
    await expect(page.locator('dl.facts')).toContainText('Came back as');
    await expect(timeline.locator('li.t-upstream').filter({ hasText: 'ActiveCampaign PUT /ecomOrders' })).toHaveCount(1);
    await timeline.locator('li.t-upstream').filter({ hasText: 'ActiveCampaign POST /ecomOrders' }).locator('summary').click();
    await expect(timeline.locator('li.t-upstream').filter({ hasText: 'ActiveCampaign POST /ecomOrders' }).locator('pre').first()).toContainText('externalcheckoutid');
    await screenshots(page, 'session', () => expect(page.locator('dl.facts')).toContainText('complete'));
  } finally {
    await sandbox.close();
  }
});

test('sandbox: a demo order rebills, declines, recovers, is refunded and cancels; the overview shows what happened after the order', async ({ page, browser }) => {
  test.setTimeout(90_000);
  const sandbox = await startSandboxCollector({ LIFECYCLE_SYNC: 'on' });
  try {
    const { collector, url } = sandbox;
    const buyer = await visitor(browser);
    await buyer.page.goto(`${url}/demo/lead`);
    const { session } = await sessionIds(buyer.page);
    await buyer.page.getByLabel('First name').fill('Lin');
    await buyer.page.getByLabel('Email').fill('lin@example.com');
    await waitForLead(collector, session, { emailAddress: 'lin@example.com' });
    await buyer.page.click('#to-checkout');
    await buyer.page.waitForURL(`${url}/demo/checkout`);
    await buyer.page.click('#pay');
    await buyer.page.waitForURL(/\/demo\/upsell\?orderId=DEMO/);
    await buyer.page.click('#decline');
    await buyer.page.waitForURL(/\/demo\/thanks\?orderId=DEMO/);
    await expect.poll(async () => (await collector.store.getSession(session))?.lastPage).toBe('thankyou');
    await buyer.page.getByRole('link', { name: 'after the order' }).click();
    await buyer.page.waitForURL(`${url}/demo/lifecycle`);
    const events = async () => Number((await collector.store.sql().all<{ n: number }>('SELECT COUNT(*) AS n FROM lifecycle_events'))[0]?.n ?? 0);
    for (const [button, total] of [['Rebill', 2], ['Decline a rebill', 3], ['Rebill', 4], ['Refund half', 5], ['Cancel', 6]] as const) {
      await buyer.page.getByRole('button', { name: button, exact: true }).click();
      await expect.poll(events, { message: `events after ${button}` }).toBe(total);
    }
    await buyer.close();

    await page.goto(`${url}/dashboard/#/overview`);
    await expect(stat(page, 'Rebills')).toHaveText('2');
    await expect(stat(page, 'Rebill declines')).toHaveText('1');
    await expect(stat(page, 'Recovered rebills')).toHaveText('1');
    await expect(stat(page, 'Refunds')).toHaveText('1');
    await expect(statHint(page, 'Refunds')).toHaveText('$19.98');
    await expect(stat(page, 'Cancellations')).toHaveText('1');
    await expect(stat(page, 'Net revenue')).toHaveText('$99.87');
    await screenshots(page, 'overview-lifecycle', () => expect(stat(page, 'Recovered rebills')).toHaveText('1'));

    // The buyer's page lists the events after the order.
    await page.goto(`${url}/dashboard/#/sessions/${encodeURIComponent(session)}`);
    await expect(page.locator('#buyer-lifecycle li')).toHaveCount(6);
    await expect(page.locator('#buyer-lifecycle')).toContainText('subscription cancelled');
  } finally {
    await sandbox.close();
  }
});

test('a view asked for while the dashboard loads is the view it shows', async ({ browser }) => {
  const sandbox = await startSandboxCollector();
  try {
    const owner = await visitor(browser);
    // The hash changes after the dashboard's module has rendered and before its effects run (they
    // wait for a frame), as when the owner follows a link while the page is still loading.
    await owner.page.addInitScript(() => document.addEventListener('DOMContentLoaded', () => (location.hash = '#/delivery')));
    await owner.page.goto(`${sandbox.url}/dashboard/`);
    await expect(owner.page.getByRole('heading', { name: 'Dead letters' })).toBeVisible();
    await expect(owner.page.getByRole('navigation', { name: 'Views' }).getByRole('link', { name: 'Delivery' })).toHaveAttribute('aria-current', 'page');
    await owner.close();
  } finally {
    await sandbox.close();
  }
});

test('live: a job the upstream refused is a dead letter, replayed from the Delivery view after signing in', async ({ page, stack }) => {
  const { a, collector, konnektive } = stack;

  // Konnektive refuses the first Import Click: a refusal is not retried, the job is dead at once.
  konnektive.fail('error', { times: 1 });
  await page.goto(`${a}/presell.html?affId=A1&utm_source=fb`);
  const { session } = await sessionIds(page);
  await expect.poll(async () => (await collector.store.listJobs({ sessionId: session, state: 'dead' })).length).toBe(1);
  expect(konnektive.sessions.size).toBe(0);

  // Outside sandbox mode the dashboard asks for DASHBOARD_TOKEN first.
  await page.goto(`${collector.url}/dashboard/#/delivery`);
  await page.waitForURL((u) => u.pathname === '/dashboard/login');
  await page.getByLabel('Dashboard token').fill(TOKEN);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL((u) => u.pathname === '/dashboard/');
  await page.goto(`${collector.url}/dashboard/#/delivery`);

  const dead = page.locator('table.data tbody tr').filter({ hasText: 'An unexpected error occurred' });
  await expect(dead).toHaveCount(1);
  await expect(dead).toContainText('Konnektive');
  const konnektiveCard = page.getByRole('group', { name: 'Konnektive' });
  await expect(konnektiveCard).toContainText('An unexpected error occurred');
  await screenshots(page, 'delivery-dead-letter', () => expect(dead).toHaveCount(1));

  await dead.getByRole('button', { name: /^Replay job \d+$/ }).click();
  await expect(page.getByRole('status')).toHaveText('1 job back in the outbox.');
  // The worker sends it again; Konnektive takes it this time, and the dead letter is gone.
  await expect.poll(() => konnektive.sessions.size).toBe(1);
  await expect.poll(async () => (await collector.store.listJobs({ sessionId: session, state: 'dead' })).length).toBe(0);
  await expect(page.getByText('None: every job was delivered or is still being tried.')).toBeVisible();
  expect(await collector.store.getSession(session)).toMatchObject({ konnektive: { sessionId: expect.any(String) } });
});
