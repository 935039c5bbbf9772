/**
 * Cart recovery as a buyer lives it, in real Chromium on two lander origins: the lead page on A,
 * the checkout on B. The buyer leaves; the CART carries a recovery link; opened on another
 * device (a new browser context), it lands on the checkout with the contact and address fields
 * filled and the card fields empty; the buyer pays; the ORDER recovers the same cart, and the
 * report counts one cart recovered by link, with its revenue.
 */
import { spawnSync } from 'node:child_process';
import type { Browser, Page } from '@playwright/test';
import { signRecovery } from '../collector/tokens.js';
import { expect, expectLead, sessionIds, test } from './support/fixtures.js';
import { SECRET } from './support/stack.js';

const DESKTOP_CHROME =
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const CARD = '4111 1111 1111 1111';

test.use({ stackEnv: { ABANDON_AFTER: '2s', UPSELL_WINDOW: '2s', SWEEP_EVERY: '200ms' } });

/** Another device: a fresh context, with no storage of any origin, and its errors watched. */
async function anotherDevice(browser: Browser): Promise<{ page: Page; errors: string[]; close: () => Promise<void> }> {
  const context = await browser.newContext({ userAgent: DESKTOP_CHROME });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(`uncaught: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error' && !/Failed to load resource|net::ERR_/.test(message.text())) errors.push(`console: ${message.text()}`);
  });
  return { page, errors, close: () => context.close() };
}

test('a recovery link brings the buyer back on another device, prefilled, and the paid cart counts as recovered by link', async ({ page, browser, stack }) => {
  const { a, b, konnektive, collector } = stack;

  // 1. Lead form on A, checkout on B, a card number typed, then gone.
  await page.goto(`${a}/lead.html`);
  const { session } = await sessionIds(page);
  await page.fill('[name=firstName]', 'Ada');
  await page.fill('[name=lastName]', 'Lovelace');
  await page.fill('[name=emailAddress]', 'ada@example.com');
  await page.fill('[name=phoneNumber]', '5555550100');
  await page.click('#submit');
  await page.waitForURL(`${b}/checkout.html`);
  await page.fill('[name=shipAddress1]', '12 Analytical Row');
  await page.fill('[name=shipCity]', 'London');
  await page.fill('[name=shipState]', 'LN');
  await page.fill('[name=shipPostalCode]', '90210');
  await page.locator('#billing_fname').pressSequentially(CARD);
  await page.locator('[name=cardSecurityCode]').pressSequentially('737');
  await page.locator('[name=shipPostalCode]').focus();
  await expectLead(stack, session, { emailAddress: 'ada@example.com', address1: '12 Analytical Row', city: 'London', postalCode: '90210' });
  await page.close();

  // 2. ABANDON_AFTER passes: the CART goes out through Konnektive's route, with its orderUrl.
  await expect.poll(() => konnektive.acRoute.filter((call) => call.type === 'CART').length, { timeout: 20_000 }).toBe(1);
  const cart = konnektive.acRoute.find((call) => call.type === 'CART')!;
  expect(cart.params.externalcheckoutid).toBe(session);
  const orderUrl = cart.params.orderUrl!;
  expect(orderUrl.startsWith(`${collector.url}/r/`)).toBe(true);
  // Whole typed values, case as typed: the token is random base64url, so a short or case-blind
  // pattern ("ada") turns up in it by chance now and then.
  for (const typed of ['Lovelace', 'ada@example.com', 'ada%40example.com', 'Analytical', 'London', '90210']) expect(orderUrl).not.toContain(typed);

  // 3. Another device opens it: the checkout on B, `_fb` gone, contact and address filled, card empty.
  const device = await anotherDevice(browser);
  const back = device.page;
  await back.goto(orderUrl);
  await expect(back).toHaveURL(`${b}/checkout.html`);
  await expect(back.locator('[name=emailAddress]')).toHaveValue('ada@example.com');
  await expect(back.locator('[name=phoneNumber]')).toHaveValue('5555550100');
  await expect(back.locator('[name=shipAddress1]')).toHaveValue('12 Analytical Row');
  await expect(back.locator('[name=shipCity]')).toHaveValue('London');
  await expect(back.locator('[name=shipState]')).toHaveValue('LN');
  await expect(back.locator('[name=shipPostalCode]')).toHaveValue('90210');
  await expect(back.locator('#billing_fname')).toHaveValue('');
  await expect(back.locator('[name=cardSecurityCode]')).toHaveValue('');
  await expect(back.locator('input[autocomplete=cc-number]')).toHaveValue('');
  expect(back.url()).not.toContain('_fb');
  // A session of its own, linked to the abandoned one: the link never hands out the buyer's session.
  const returned = (await sessionIds(back)).session;
  expect(returned).not.toBe(session);
  expect((await collector.store.getSession(returned))?.recoversSessionId).toBe(session);

  // 4. Pays: the ORDER carries the same externalcheckoutid.
  const orderId = [...konnektive.leads.values()][0]!.orderId;
  konnektive.completeOrder(orderId, { items: [{ productId: '41', name: 'Bottle', price: '39.95' }] });
  await back.locator('#billing_fname').pressSequentially(CARD);
  await back.click('#pay');
  await back.waitForURL(`${b}/upsell1.html`);
  await back.goto(`${b}/upsell1.html?orderId=${orderId}`);
  await back.click('#next');
  await back.waitForURL(`${b}/thankyou.html`);
  await expect.poll(() => konnektive.acRoute.filter((call) => call.type === 'ORDER').length, { timeout: 20_000 }).toBe(1);
  const order = konnektive.acRoute.find((call) => call.type === 'ORDER')!;
  expect(order.params.externalcheckoutid).toBe(session);
  expect(order.params.externalid).toBe(orderId);

  // `funnelbeacon report --json`: one cart recovered by link, with its revenue. The ORDER's
  // outcome is stored when the worker records the call's answer, a moment after ActiveCampaign
  // has it: ask until it is there.
  const report = () => {
    const run = spawnSync(process.execPath, ['dist/cli.js', 'report', '--json'], { env: { PATH: process.env.PATH ?? '', ...stack.env }, encoding: 'utf8', timeout: 15_000 });
    expect(run.status, run.stderr).toBe(0);
    return JSON.parse(run.stdout);
  };
  await expect.poll(report, { timeout: 10_000 }).toMatchObject({
    cartsAbandoned: 1,
    recoverableRevenue: { USD: 3995 },
    cartsRecovered: 1,
    cartsRecoveredByLink: 1,
    recoveredRevenue: { USD: 3995 },
    recoveredByLinkRevenue: { USD: 3995 },
    orders: 1,
    recoveryClicks: 1,
  });
  expect(device.errors).toEqual([]);
  await device.close();
});

test('prefill never writes into card, password or checkbox inputs, nor over what the visitor typed', async ({ page, browser, stack }) => {
  const { b, collector } = stack;
  await page.goto(`${b}/checkout-cardlike.html`);
  const { session } = await sessionIds(page);
  await page.fill('#fname', 'Grace');
  await page.fill('#lname', 'Hopper');
  await page.fill('[name=emailAddress]', 'grace@example.com');
  await page.fill('[name=shipAddress1]', '1 Navy Yard');
  await page.fill('[name=shipCity]', 'Arlington');
  await page.fill('[name=shipPostalCode]', '22202');
  await page.selectOption('[name=shipState]', 'NY');
  await page.locator('[name=shipPostalCode]').blur();
  await expectLead(stack, session, { firstName: 'Grace', lastName: 'Hopper', city: 'Arlington', state: 'NY', postalCode: '22202' });
  await page.close();

  // The buyer follows the link on another device and types a city before the collector answers.
  const device = await anotherDevice(browser);
  const back = device.page;
  let release!: () => void;
  const typed = new Promise<void>((resolve) => (release = resolve));
  await back.route('**/v1/events', async (route) => {
    await typed;
    await route.continue();
  });
  await back.goto(`${collector.url}/r/${signRecovery(SECRET, session, Date.now() + 60_000)}`);
  await expect(back).toHaveURL(`${b}/checkout-cardlike.html`);
  await back.fill('[name=shipCity]', 'Typed Town');
  release();

  await expect(back.locator('#fname')).toHaveValue('Grace');
  await expect(back.locator('#lname')).toHaveValue('Hopper');
  await expect(back.locator('[name=emailAddress]')).toHaveValue('grace@example.com');
  await expect(back.locator('[name=shipAddress1]')).toHaveValue('1 Navy Yard');
  await expect(back.locator('[name=shipState]')).toHaveValue('NY');
  await expect(back.locator('[name=shipCity]')).toHaveValue('Typed Town');
  for (const selector of ['[name=cardNumber]', '[name=card-number]', '[name=ccnumber]', '[name=cvv-number]', '#billing_fname', '[name=accountPassword]']) {
    await expect(back.locator(selector), selector).toHaveValue('');
  }
  await expect(back.locator('[name=emailOptIn]')).not.toBeChecked();
  await expect(back.locator('[name=emailOptIn]')).toHaveValue('');
  expect(device.errors).toEqual([]);
  await device.close();
});

test('data-prefill="off" leaves the inputs alone, while ready still hands the page the cart of the data-product attributes and the fields', async ({ page, browser, stack }) => {
  const { b, collector } = stack;
  await page.goto(`${b}/checkout-restore.html`);
  const { session } = await sessionIds(page);
  await page.fill('[name=firstName]', 'Ada');
  await page.fill('[name=emailAddress]', 'ada@example.com');
  await page.fill('[name=shipCity]', 'London');
  await page.locator('[name=firstName]').focus();
  await expectLead(stack, session, { firstName: 'Ada', emailAddress: 'ada@example.com', city: 'London' });
  // Every data-product-* attribute reached the stored cart.
  const cart = {
    items: [
      {
        id: '41',
        name: 'Bottle',
        price: 39.95,
        qty: 2,
        imageUrl: 'https://cdn.example/bottle.png?v=2',
        productUrl: 'https://offer.example/bottle',
        sku: 'BTL-1',
        category: 'Bottles',
        description: 'A steel bottle',
      },
    ],
    currency: 'EUR',
  };
  expect((await collector.store.getSession(session))?.cart).toEqual(cart);
  await page.close();

  const device = await anotherDevice(browser);
  const back = device.page;
  await back.goto(`${collector.url}/r/${signRecovery(SECRET, session, Date.now() + 60_000)}`);
  await expect(back).toHaveURL(`${b}/checkout-restore.html`);
  const restored = await back.waitForFunction(() => (window as unknown as { restored?: unknown }).restored).then((handle) => handle.jsonValue());
  expect(restored).toMatchObject({ cart, fields: { firstName: 'Ada', emailAddress: 'ada@example.com', city: 'London' } });
  expect((await collector.store.getSession((restored as { session: string }).session))?.recoversSessionId).toBe(session);
  // Nothing was written (the prefill code, once loaded, reads data-prefill and stops).
  await back.waitForFunction(() => performance.getEntriesByType('resource').some((entry) => entry.name.endsWith('/p.js')));
  await back.evaluate(() => new Promise((resolve) => setTimeout(resolve, 200)));
  for (const name of ['firstName', 'emailAddress', 'shipCity']) await expect(back.locator(`[name=${name}]`), name).toHaveValue('');
  expect(device.errors).toEqual([]);
  await device.close();
});
