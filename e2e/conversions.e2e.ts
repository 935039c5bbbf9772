/**
 * Conversions to the ad platforms as a buyer causes them, in real Chromium: a landing from an ad
 * on A (click ids in the URL, the pixels' cookies on the page), the lead page on A, the checkout
 * on B, the order paid at Konnektive, the thank-you page. Meta's and TikTok's strict doubles get
 * one Lead, one InitiateCheckout and one Purchase each, within seconds of each cause, carrying
 * the click, the hashed email and the event id the page read with `funnelbeacon('eventId', ...)`.
 * Without marketing consent the funnel reaches Konnektive as ever, the platforms get nothing, and
 * the dashboard's Delivery data counts each conversion skipped for `no_consent`.
 */
import { createHash } from 'node:crypto';
import type { Page } from '@playwright/test';
import type { DeliveryData } from '../collector/dashboard/api-schema.js';
import { startMetaDouble, type MetaDouble } from '../test/doubles/meta-double.js';
import { startTikTokDouble, type TikTokDouble } from '../test/doubles/tiktok-double.js';
import { expect, expectLead, sessionIds, test as base } from './support/fixtures.js';
import type { Stack } from './support/stack.js';

const CLICK = '?fbclid=IwAR_Test-Click_1&ttclid=E.C.P.ttclick1&affId=AFF7';
/** The cookies conv-landing.html writes, as Meta's and TikTok's pixels would. */
const FBP = 'fb.1.1700000000000.1234567890';
const TTP = '2aBcD3eFgH4iJ_kL5mN';
const EMAIL = 'Ada.Lovelace@Example.com';
const TOKEN = 'e2e-dashboard-token-0123456789';
/** Each conversion reaches the platforms within 10 s of its cause (docs/conversions.md). */
const WITHIN = { timeout: 10_000 };

const sha = (text: string) => createHash('sha256').update(text).digest('hex');

interface Platforms {
  meta: MetaDouble;
  tiktok: TikTokDouble;
}

const test = base.extend<{ platforms: Platforms }>({
  platforms: async ({}, use) => {
    const [meta, tiktok] = await Promise.all([startMetaDouble(), startTikTokDouble()]);
    await use({ meta, tiktok });
    await Promise.all([meta.close(), tiktok.close()]);
  },
  // The doubles' addresses are known only once they run: the collector's settings follow them.
  stackEnv: async ({ platforms: { meta, tiktok } }, use) => {
    await use({
      META_PIXEL_ID: meta.pixelId,
      META_ACCESS_TOKEN: 'meta-test-token',
      META_API_URL: meta.apiUrl,
      TIKTOK_PIXEL_CODE: tiktok.pixelCode,
      TIKTOK_ACCESS_TOKEN: 'tiktok-test-token',
      TIKTOK_API_URL: tiktok.url,
      // The thank-you page makes the session due at once; the sweep queues the order check.
      SWEEP_EVERY: '1s',
      DASHBOARD_TOKEN: TOKEN,
    });
  },
});

/** The events of each name a double accepted. */
const metaEvents = (meta: MetaDouble, name: string) => meta.received().filter((received) => received.event.event_name === name).map((received) => received.event as Record<string, any>);
const tiktokEvents = (tiktok: TikTokDouble, name: string) => tiktok.received().filter((received) => received.event.event === name).map((received) => received.event as Record<string, any>);

/** The id the page's pixel code read (`funnelbeacon('eventId', ...)` put it on `<body data-...>`). */
async function pageEventId(page: Page, key: 'leadId' | 'initiateCheckoutId' | 'purchaseId'): Promise<string> {
  await expect.poll(() => page.evaluate((k) => document.body.dataset[k] ?? '', key), { message: `data-${key}` }).not.toBe('');
  return page.evaluate((k) => document.body.dataset[k]!, key);
}

/**
 * The buyer's walk: the landing from the ad and the lead page on A, the checkout on B, the order
 * paid at Konnektive, the thank-you page with its id. `after` runs after each cause, with the id
 * the page read for it.
 */
async function walk(
  page: Page,
  stack: Stack,
  after: Partial<Record<'Lead' | 'InitiateCheckout' | 'Purchase', (pageId: string) => Promise<void>>> = {},
): Promise<{ session: string; orderId: string }> {
  const { a, b, konnektive, collector } = stack;
  await page.goto(`${a}/conv-landing.html${CLICK}`);
  const { session } = await sessionIds(page);

  await page.click('#next');
  await page.waitForURL(`${a}/conv-lead.html`);
  await page.fill('[name=emailAddress]', EMAIL);
  await page.fill('[name=phoneNumber]', '(415) 555-2671');
  await page.fill('[name=firstName]', 'Ada');
  await page.fill('[name=lastName]', 'Lovelace');
  await page.locator('[name=lastName]').blur();
  await expectLead(stack, session, { emailAddress: EMAIL, firstName: 'Ada', lastName: 'Lovelace' });
  await after.Lead?.(await pageEventId(page, 'leadId'));
  // Konnektive has the partial order before the buyer moves on.
  await expect.poll(() => konnektive.leads.size).toBe(1);

  await page.click('#submit');
  await page.waitForURL(`${b}/conv-checkout.html`);
  expect((await sessionIds(page)).session).toBe(session);
  await page.fill('[name=shipAddress1]', '12 Analytical Row');
  await page.fill('[name=shipCity]', 'London');
  await page.fill('[name=shipState]', 'LN');
  await page.fill('[name=shipPostalCode]', '90210');
  await page.locator('[name=shipPostalCode]').blur();
  await expectLead(stack, session, { address1: '12 Analytical Row', postalCode: '90210' });
  await after.InitiateCheckout?.(await pageEventId(page, 'initiateCheckoutId'));

  // The buyer pays: Konnektive completes the session's partial order, the lander shows the thank-you page.
  const orderId = (await collector.store.getSession(session))!.konnektive.orderId!;
  expect(orderId).toBe([...konnektive.leads.values()][0]!.orderId);
  konnektive.completeOrder(orderId, { items: [{ productId: '41', name: 'Bottle', price: '39.95' }] });
  await page.goto(`${b}/conv-thankyou.html?orderId=${orderId}`);
  expect((await sessionIds(page)).session).toBe(session);
  await after.Purchase?.(await pageEventId(page, 'purchaseId'));
  return { session, orderId };
}

test('a walk from an ad sends one Lead, InitiateCheckout and Purchase to Meta and TikTok, with the click and the ids the pages read', async ({ page, stack, platforms }) => {
  const { meta, tiktok } = platforms;
  /** Exactly one event of the conversion on each platform, within 10 s, with the page's id. */
  const arrives = async (metaName: string, tiktokName: string, pageId: string) => {
    await expect.poll(() => metaEvents(meta, metaName).map((event) => event.event_id), { ...WITHIN, message: `Meta ${metaName}` }).toEqual([pageId]);
    await expect.poll(() => tiktokEvents(tiktok, tiktokName).map((event) => event.event_id), { ...WITHIN, message: `TikTok ${tiktokName}` }).toEqual([pageId]);
  };
  const ids: Record<string, string> = {};
  const { session, orderId } = await walk(page, stack, {
    Lead: async (id) => arrives('Lead', 'SubmitForm', (ids.Lead = id)),
    InitiateCheckout: async (id) => arrives('InitiateCheckout', 'InitiateCheckout', (ids.InitiateCheckout = id)),
    Purchase: async (id) => arrives('Purchase', 'CompletePayment', (ids.Purchase = id)),
  });
  // Every domain's page read the same ids: the session's and the conversion's.
  expect(ids).toEqual({ Lead: `${session}.Lead`, InitiateCheckout: `${session}.InitiateCheckout`, Purchase: `${session}.Purchase` });

  // One of each, nothing more, each accepted by the strict doubles.
  expect(meta.received().map((received) => received.event.event_name)).toEqual(['Lead', 'InitiateCheckout', 'Purchase']);
  expect(tiktok.received().map((received) => received.event.event)).toEqual(['SubmitForm', 'InitiateCheckout', 'CompletePayment']);
  expect(meta.requests.every((request) => request.status === 200)).toBe(true);
  expect(tiktok.requests.every((request) => request.status === 200)).toBe(true);

  // Meta: the click kept from the landing URL (its fbclid exactly as it arrived) and A's `_fbp`,
  // on every event, B's included; the email hashed as typed, lowercased.
  for (const event of meta.received().map((received) => received.event as Record<string, any>)) {
    expect(event.user_data.fbc).toMatch(/^fb\.1\.\d{13}\.IwAR_Test-Click_1$/);
    expect(event.user_data).toMatchObject({ fbp: FBP, em: [sha(EMAIL.toLowerCase())], client_user_agent: expect.stringContaining('Chrome/') });
    expect(event.action_source).toBe('website');
  }
  const [metaLead, metaCheckout, metaPurchase] = meta.received().map((received) => received.event as Record<string, any>);
  expect(metaLead!.event_source_url).toBe(`${stack.a}/conv-lead.html`);
  expect(metaCheckout).toMatchObject({ event_source_url: `${stack.b}/conv-checkout.html`, custom_data: { value: 39.95, currency: 'USD' } });
  expect(metaPurchase).toMatchObject({
    event_source_url: `${stack.b}/conv-thankyou.html?orderId=${orderId}`,
    custom_data: { value: 39.95, currency: 'USD', order_id: orderId },
  });

  // TikTok: its click id and `_ttp` cookie, the same hashed email.
  for (const event of tiktok.received().map((received) => received.event as Record<string, any>)) {
    expect(event.user).toMatchObject({ ttclid: 'E.C.P.ttclick1', ttp: TTP, email: sha(EMAIL.toLowerCase()) });
  }
  expect(tiktokEvents(tiktok, 'CompletePayment')[0]).toMatchObject({ properties: { value: 39.95, currency: 'USD' } });
});

test('marketing refused: the funnel reaches Konnektive, the ad platforms get nothing, and the Delivery data counts every conversion skipped for no_consent', async ({ page, stack, platforms }) => {
  const { meta, tiktok } = platforms;
  // The consent manager answers on every page before the snippet loads: analytics yes, marketing no.
  await page.addInitScript(() => {
    const queue = function (...args: unknown[]) {
      (queue.q ||= []).push(args);
    } as ((...args: unknown[]) => void) & { q?: unknown[][] };
    (window as unknown as { funnelbeacon: typeof queue }).funnelbeacon = queue;
    queue('consent', { analytics: true, marketing: false });
  });
  const { session, orderId } = await walk(page, stack);

  // Konnektive has the lead and the order, paid, as ever.
  const [lead] = [...stack.konnektive.leads.values()];
  expect(lead).toMatchObject({ orderId, fields: expect.objectContaining({ emailAddress: EMAIL, firstName: 'Ada' }) });

  // The dashboard's Delivery data, signed in with DASHBOARD_TOKEN: each conversion, once per
  // platform, counted as skipped (the Purchase once the order check verified the order).
  await page.goto(`${stack.collector.url}/dashboard/login`);
  await page.getByLabel('Dashboard token').fill(TOKEN);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL((url) => url.pathname === '/dashboard/');
  const conversions = async () => {
    const response = await page.request.get(`${stack.collector.url}/dashboard/api/delivery`);
    expect(response.status()).toBe(200);
    return ((await response.json()) as DeliveryData).conversions;
  };
  const skipped = (platform: string, conversion: string) => ({ platform, conversion, sent: 0, skipped: { no_consent: 1 }, failedCalls: 0 });
  await expect.poll(conversions, WITHIN).toEqual([
    skipped('meta', 'Lead'),
    skipped('meta', 'InitiateCheckout'),
    skipped('meta', 'Purchase'),
    skipped('tiktok', 'Lead'),
    skipped('tiktok', 'InitiateCheckout'),
    skipped('tiktok', 'Purchase'),
  ]);
  expect((await stack.collector.store.getSession(session))?.state).toBe('complete');
  // Every conversion was decided (skipped) above, so nothing can still be on its way to them.
  expect(meta.requests).toEqual([]);
  expect(tiktok.requests).toEqual([]);
});
