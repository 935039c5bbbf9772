/**
 * @module scenarios
 * The end-to-end scenarios that must hold in every browser engine, written once against
 * {@link EnginePage}: the two-origin walk, the typed lead delivered whatever the way out, card
 * fields never captured, nothing sent without consent, the recovery link restoring the checkout,
 * and a page restored from the back/forward cache. Each runs on a fresh stack (the real collector,
 * the Konnektive double, two lander origins; e2e/support/stack.ts) and a fresh device.
 *
 * What the browser sent is read from the stack's recording proxy, which sees exit beacons too.
 */
import { expect } from 'vitest';
import type { IngestResponse, LeadFields } from '../../collector/wire-schema.js';
import { startStack, type Stack } from '../support/stack.js';
import type { Device, EngineBrowser, EngineName, EnginePage } from './driver.js';

export interface ScenarioContext {
  engine: EngineName;
  stack: Stack;
  /** The buyer's browser; a scenario may open more tabs on it. */
  device: { newPage(): Promise<EnginePage> };
  /** The first tab. */
  page: EnginePage;
  /** Another device of the same engine (the recovery link is opened on another device). */
  anotherDevice(): Promise<{ newPage(): Promise<EnginePage> }>;
}

export interface Scenario {
  name: string;
  /** Collector settings (e.g. a short ABANDON_AFTER). */
  env?: Record<string, string>;
  device?: Device;
  /** The engines that run it, when not all. */
  engines?: readonly EngineName[];
  run(context: ScenarioContext): Promise<void>;
}

/** Runs `scenario` on a stack and device of its own; `prepare` may change the stack first. */
export async function runScenario(browser: EngineBrowser, scenario: Scenario, prepare?: (stack: Stack) => void): Promise<void> {
  const stack = await startStack(scenario.env);
  const devices = [await browser.newDevice(scenario.device ?? 'desktop')];
  try {
    prepare?.(stack);
    const device = devices[0]!;
    await scenario.run({
      engine: browser.engine,
      stack,
      device,
      page: await device.newPage(),
      anotherDevice: async () => {
        const other = await browser.newDevice('desktop');
        devices.push(other);
        return other;
      },
    });
    expect(devices.flatMap((each) => each.errors), 'errors on the pages').toEqual([]);
  } finally {
    for (const device of devices) await device.close().catch(() => undefined);
    await stack.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Helpers

const POLL = { timeout: 10_000, interval: 50 };

/** The session ids, from the `ready` command (waits for the collector's first answer). */
export function sessionIds(page: EnginePage): Promise<IngestResponse['ids']> {
  return page.evaluate(
    () =>
      new Promise<IngestResponse['ids']>((resolve) => {
        (window as unknown as { funnelbeacon: (command: 'ready', callback: typeof resolve) => void }).funnelbeacon('ready', resolve);
      }),
  );
}

/** Waits until the stored session's lead has at least these values. */
export async function expectLead(stack: Stack, session: string, fields: LeadFields): Promise<void> {
  await expect.poll(async () => (await stack.collector.store.getSession(session))?.lead ?? {}, { ...POLL, message: 'stored lead' }).toMatchObject(fields);
}

/** The page views stored for the session, by page name. */
async function pageViews(stack: Stack, session: string): Promise<string[]> {
  return (await stack.collector.store.listEvents(session)).filter((event) => event.type === 'page').map((event) => (event.payload as { page: string }).page);
}

const TYPED = { firstName: 'Grace', lastName: 'Hopper', emailAddress: 'grace@example.com', phoneNumber: '5555550199' };

/** The lead page after the presell (so that there is somewhere to go back to), the lead typed, the focus left in the last field. */
async function typeLead(page: EnginePage, stack: Stack): Promise<string> {
  await page.goto(`${stack.a}/presell.html`);
  await page.click('#next');
  await page.waitForUrl(`${stack.a}/lead.html`);
  const { session } = await sessionIds(page);
  for (const [name, value] of Object.entries(TYPED)) await page.fill(`[name=${name}]`, value);
  return session;
}

/** The last keystrokes reached the collector by beacon: the page was leaving, not idling. */
async function expectExitBeacon(stack: Stack): Promise<void> {
  await expect
    .poll(
      () =>
        stack.recorder
          .batches()
          .filter(({ transport }) => transport === 'beacon')
          .flatMap(({ batch }) => batch.events)
          .some((event) => (event.fields as { phoneNumber?: string } | undefined)?.phoneNumber === TYPED.phoneNumber),
      { ...POLL, message: 'an exit beacon with the last typed value' },
    )
    .toBe(true);
}

// ---------------------------------------------------------------------------------------------
// The scenarios

/** A five-page funnel on two origins: one session in the store and at Konnektive, a click per page, the typed lead. */
async function walk({ page, stack }: ScenarioContext): Promise<void> {
  const { a, b, konnektive, collector } = stack;
  const landing = `${a}/presell.html?affId=AFF123&c1=blue`;
  await page.goto(landing);
  const { session } = await sessionIds(page);

  await page.click('#next');
  await page.waitForUrl(`${a}/lead.html`);
  expect((await sessionIds(page)).session).toBe(session);
  await page.fill('[name=firstName]', 'Ada');
  await page.fill('[name=lastName]', 'Lovelace');
  await page.fill('[name=emailAddress]', 'ada@example.com');
  await page.click('#submit');
  await page.waitForUrl(`${b}/checkout.html`);
  // The session crossed the domain with the form post.
  expect((await sessionIds(page)).session).toBe(session);
  await expectLead(stack, session, { firstName: 'Ada', lastName: 'Lovelace', emailAddress: 'ada@example.com' });
  await page.fill('[name=shipAddress1]', '12 Analytical Row');
  await page.fill('[name=shipCity]', 'London');
  await page.fill('[name=shipPostalCode]', '90210');
  await page.fill('[name=phoneNumber]', '5555550100');
  await page.click('h1');
  await expectLead(stack, session, { address1: '12 Analytical Row', city: 'London', postalCode: '90210', phoneNumber: '5555550100' });
  await expect.poll(() => konnektive.leads.size, POLL).toBe(1);

  const orderId = [...konnektive.leads.values()][0]!.orderId;
  konnektive.completeOrder(orderId, { items: [{ productId: '41', name: 'Bottle', price: '39.95' }] });
  await page.goto(`${b}/upsell1.html?orderId=${orderId}`);
  expect((await sessionIds(page)).session).toBe(session);
  await page.click('#next');
  await page.waitForUrl(`${b}/thankyou.html`);
  expect((await sessionIds(page)).session).toBe(session);

  expect(await collector.store.countSessions()).toBe(1);
  await expect.poll(() => pageViews(stack, session), POLL).toEqual(['presell', 'lead', 'checkout', 'upsell1', 'thankyou']);
  await expect.poll(() => [...konnektive.sessions.values()].flatMap((s) => s.clicks).length, POLL).toBe(5);
  expect(konnektive.sessions.size).toBe(1);
  const [kSession] = [...konnektive.sessions.values()];
  expect(kSession!.clicks.map((click) => click.pageType)).toEqual(['presellPage', 'leadPage', 'checkoutPage', 'upsellPage1', 'thankyouPage']);
  expect(kSession!.clicks[0]!.requestUri).toBe(landing);
  expect(konnektive.leads.size).toBe(1);
  expect([...konnektive.leads.values()][0]!.fields).toMatchObject({ firstName: 'Ada', emailAddress: 'ada@example.com', address1: '12 Analytical Row' });
}

/**
 * The walk on a phone. Chromium has a phone's viewport and touch input (taps). WebKitGTK's
 * MiniBrowser has Safari's iPhone user agent and a window as narrow as it goes (447 CSS pixels),
 * and is clicked with the mouse: its WebDriver has no touch input (a touch action never completes).
 */
async function phoneWalk(context: ScenarioContext): Promise<void> {
  const { page, stack, engine } = context;
  await page.goto(`${stack.a}/privacy.html`);
  const screen = await page.evaluate(() => ({ width: outerWidth, touch: navigator.maxTouchPoints > 0 && matchMedia('(pointer: coarse)').matches }));
  expect(screen.width, "a phone's window").toBeLessThan(500);
  if (engine === 'chromium') expect(screen.touch, 'touch input').toBe(true);
  await walk(context);
}

/** The ways a buyer leaves the lead page with the last keystrokes still unsent (the focus in the field). */
export const EXITS: Record<string, (context: ScenarioContext) => Promise<void>> = {
  'navigating to another address': async ({ page, stack }) => page.goto(`${stack.a}/privacy.html`),
  reloading: async ({ page }) => page.reload(),
  'going back': async ({ page }) => page.back(),
  'closing the tab': async ({ page }) => page.close(),
  // Pressing Enter or clicking the button would move the focus first (a finished field is sent
  // at once); a landing page's script submitting keeps it in the field.
  'submitting the form by script': async ({ page, stack }) => {
    await page.evaluate(() => document.querySelector<HTMLFormElement>('#lead')!.requestSubmit());
    await page.waitForUrl(`${stack.b}/checkout.html`);
  },
};

export function exitScenario(way: string): Scenario {
  return {
    name: `the typed lead reaches the collector on leaving by ${way}`,
    run: async (context) => {
      const session = await typeLead(context.page, context.stack);
      // The page leaves from the front: a hidden page would have sent its beacon already.
      expect(await context.page.evaluate(() => document.hidden), 'the page is hidden before it leaves').toBe(false);
      await EXITS[way]!(context);
      await expectLead(context.stack, session, TYPED);
      await expectExitBeacon(context.stack);
    },
  };
}

const CARD = '4111 1111 1111 1111';
const SECOND_CARD = '4242424242424242';
const CVV = '737';
const digits = (text: string) => text.replace(/\D/g, '');

async function cardFields({ page, stack }: ScenarioContext): Promise<void> {
  await page.goto(`${stack.b}/checkout.html`);
  const { session } = await sessionIds(page);
  await page.fill('[name=emailAddress]', 'card.safety@example.com');
  await page.fill('[name=shipAddress1]', '1 Secure Way');
  await page.fill('#billing_fname', CARD);
  await page.fill('[name=cardSecurityCode]', CVV);
  await page.fill('input[autocomplete=cc-number]', SECOND_CARD);
  await page.click('h1');
  await expectLead(stack, session, { emailAddress: 'card.safety@example.com', address1: '1 Secure Way' });
  // A card field and a contact field changed, and the page pays by script with the focus still
  // in the field: the exit beacon goes with whatever the form holds.
  await page.fill('#billing_fname', SECOND_CARD);
  await page.fill('[name=shipCity]', 'Vault City');
  await page.evaluate(() => document.querySelector<HTMLFormElement>('#checkout')!.requestSubmit());
  await page.waitForUrl(`${stack.b}/upsell1.html`);
  await expectLead(stack, session, { city: 'Vault City' });

  const bodies = stack.recorder.requests.map((request) => `${request.path} ${request.body}`);
  expect(bodies.length).toBeGreaterThan(3);
  for (const body of [...bodies, JSON.stringify(await stack.collector.store.listEvents(session))]) {
    for (const card of [CARD, SECOND_CARD]) expect(digits(body)).not.toContain(digits(card));
  }
  const leadValues = stack.recorder
    .batches()
    .flatMap(({ batch }) => batch.events)
    .filter((event) => event.type === 'lead')
    .flatMap((event) => Object.values(event.fields as Record<string, string>));
  expect(leadValues).toContain('Vault City');
  expect(leadValues).not.toContain(CVV);
}

async function consentOff({ page, stack }: ScenarioContext): Promise<void> {
  stack.vars.CONSENT = 'required';
  await page.goto(`${stack.a}/lead.html`);
  // The script has started (it replaced the queueing stub) ...
  await expect
    .poll(() => page.evaluate(() => typeof (window as unknown as { funnelbeacon: { q?: unknown } }).funnelbeacon.q), { ...POLL, message: 'the snippet started' })
    .toBe('undefined');
  await page.fill('[name=firstName]', 'Hedy');
  await page.fill('[name=emailAddress]', 'hedy@example.com');
  await page.click('h1');
  await page.fill('[name=phoneNumber]', '5555550123');
  // ... stores nothing, and leaving sends nothing either.
  expect(await page.evaluate(() => [document.cookie, localStorage.length])).toEqual(['', 0]);
  expect(await page.cookies()).toEqual([]);
  await page.goto(`${stack.a}/privacy.html`);
  // One more page of the funnel through the same browser: the closed page's beacons, had there
  // been any, are delivered before it (the browser sends them in order, on the same connection pool).
  await page.goto(`${stack.b}/thankyou.html`);
  await expect
    .poll(() => page.evaluate(() => typeof (window as unknown as { funnelbeacon: { q?: unknown } }).funnelbeacon.q), POLL)
    .toBe('undefined');
  expect(stack.recorder.requests).toEqual([]);
  expect(await stack.collector.store.countSessions()).toBe(0);
}

async function recoveryLink({ page, stack, anotherDevice }: ScenarioContext): Promise<void> {
  const { a, b, konnektive, collector } = stack;
  await page.goto(`${a}/lead.html`);
  const { session } = await sessionIds(page);
  await page.fill('[name=firstName]', 'Ada');
  await page.fill('[name=emailAddress]', 'ada@example.com');
  await page.fill('[name=phoneNumber]', '5555550100');
  await page.click('#submit');
  await page.waitForUrl(`${b}/checkout.html`);
  await page.fill('[name=shipAddress1]', '12 Analytical Row');
  await page.fill('[name=shipCity]', 'London');
  await page.fill('#billing_fname', CARD);
  await page.click('h1');
  await expectLead(stack, session, { emailAddress: 'ada@example.com', address1: '12 Analytical Row', city: 'London' });

  // ABANDON_AFTER passes: the CART goes out with its recovery link.
  await expect.poll(() => konnektive.acRoute.filter((call) => call.type === 'CART').length, { ...POLL, timeout: 20_000 }).toBe(1);
  const orderUrl = konnektive.acRoute.find((call) => call.type === 'CART')!.params.orderUrl!;
  expect(orderUrl.startsWith(`${collector.url}/r/`)).toBe(true);

  // Another device follows it: the checkout on B, prefilled, the card empty, the token gone.
  const back = await (await anotherDevice()).newPage();
  await back.goto(orderUrl);
  await back.waitForUrl(`${b}/checkout.html`);
  const values = () =>
    back.evaluate(() => Object.fromEntries(['emailAddress', 'phoneNumber', 'shipAddress1', 'shipCity', 'cardNumber'].map((name) => [name, document.querySelector<HTMLInputElement>(`[name=${name}]`)!.value])));
  await expect.poll(values, { ...POLL, message: 'the prefilled checkout' }).toEqual({
    emailAddress: 'ada@example.com',
    phoneNumber: '5555550100',
    shipAddress1: '12 Analytical Row',
    shipCity: 'London',
    cardNumber: '',
  });
  const returned = (await sessionIds(back)).session;
  expect(returned).not.toBe(session);
  expect((await collector.store.getSession(returned))?.recoversSessionId).toBe(session);
}

/**
 * Left for another page and brought back from the back/forward cache (the same window object):
 * the same session, no second page view, and typing is sent again.
 */
async function backForwardCache({ page, stack }: ScenarioContext): Promise<void> {
  const { a, konnektive } = stack;
  await page.goto(`${a}/lead.html`);
  const { session } = await sessionIds(page);
  await page.evaluate(() => ((window as unknown as { beforeLeaving: boolean }).beforeLeaving = true));
  await page.click('#away');
  await page.waitForUrl(`${a}/privacy.html`);
  await page.back();
  await page.waitForUrl(`${a}/lead.html`);
  expect(await page.evaluate(() => (window as unknown as { beforeLeaving?: boolean }).beforeLeaving), 'restored from the back/forward cache').toBe(true);

  expect((await sessionIds(page)).session).toBe(session);
  await page.fill('[name=emailAddress]', 'restored@example.com');
  await page.click('h1');
  // The lead typed after the restore is stored: whatever the restored page sent before it
  // (a second page view, had it sent one) was sent and stored before it.
  await expectLead(stack, session, { emailAddress: 'restored@example.com' });
  expect(await pageViews(stack, session)).toEqual(['lead']);
  expect(await stack.collector.store.countSessions()).toBe(1);
  await expect.poll(() => [...konnektive.sessions.values()].flatMap((s) => s.clicks).length, POLL).toBe(1);
}

export const SCENARIOS: Scenario[] = [
  { name: 'a five-page funnel on two origins is one session, a click per page, with the typed lead', run: walk },
  ...Object.keys(EXITS).map(exitScenario),
  { name: 'card fields are never captured, beacons included', run: cardFields },
  { name: 'without consent, nothing is stored or sent, leaving included', run: consentOff },
  {
    name: 'the recovery link restores the checkout on another device',
    env: { ABANDON_AFTER: '2s', UPSELL_WINDOW: '2s', SWEEP_EVERY: '200ms' },
    run: recoveryLink,
  },
  { name: 'a page restored from the back/forward cache keeps its session and counts no second page view', run: backForwardCache },
  {
    name: 'on a phone (phone viewport, touch where the automation has it), the funnel walk is one session with the typed lead',
    device: 'phone',
    engines: ['chromium', 'webkit'],
    run: phoneWalk,
  },
];
