/**
 * What the ad platforms need to match a conversion to its click, against the real collector: a
 * landing from an ad (click ids, affiliate and UTM values in the URL, the pixels' cookies on the
 * page) gives the session one attribution event with the values exactly as they arrived; the
 * marketing choice keeps the ad platforms' keys out (their cookies not even read); and
 * `funnelbeacon('eventId', ...)` gives the pixel the event id the collector's conversion carries.
 */
import type { Page } from '@playwright/test';
import type { AttributionEvent } from '../collector/wire-schema.js';
import { expect, sessionIds, test } from './support/fixtures.js';
import type { Stack } from './support/stack.js';

const LANDING = '?fbclid=AbC_123&ttclid=T.1&affId=A7&c1=s1&utm_source=fb';
const FBP = 'fb.1.1700000000000.1234567890';
const TTP = '2aBcD3eFgH4iJ_kL5mN';

type Funnelbeacon = (command: string, ...args: unknown[]) => void;

/** The session's stored attribution events (their payloads), once there are `count` of them. */
async function attributionEvents(stack: Stack, session: string, count: number): Promise<AttributionEvent[]> {
  await expect
    .poll(async () => (await stack.collector.store.listEvents(session)).filter((event) => event.type === 'attribution').length, { message: 'attribution events' })
    .toBe(count);
  return (await stack.collector.store.listEvents(session)).filter((event) => event.type === 'attribution').map((event) => event.payload as AttributionEvent);
}

/**
 * Waits until the attribution code has looked at this page and every queued event is
 * acknowledged: whatever the page had to tell has reached the collector by then. What it looked
 * at starts with the session's id, which a visitor's first page does not know yet (`''`).
 */
async function settled(page: Page, session = ''): Promise<void> {
  await page.waitForFunction(
    (id) => (localStorage.getItem('funnelbeacon.s') ?? '-').startsWith(`${id},`) && localStorage.getItem('funnelbeacon.q') === '[]',
    session,
  );
}

/** Before the page's own scripts: counts every read of `document.cookie` (the snippet's included). */
async function countCookieReads(page: Page): Promise<void> {
  await page.addInitScript(() => {
    const cookie = Object.getOwnPropertyDescriptor(Document.prototype, 'cookie')!;
    const counter = window as unknown as { cookieReads: number };
    counter.cookieReads = 0;
    Object.defineProperty(Document.prototype, 'cookie', {
      ...cookie,
      get(this: Document) {
        counter.cookieReads++;
        return cookie.get!.call(this);
      },
    });
  });
}

test('a landing from an ad: one attribution event with every value as it arrived, sent once', async ({ page, stack }) => {
  await page.goto(`${stack.a}/ad-landing.html${LANDING}`);
  const { session } = await sessionIds(page);
  const [event, ...more] = await attributionEvents(stack, session, 1);
  expect(more).toEqual([]);
  expect(event).toMatchObject({
    type: 'attribution',
    marketing: true,
    values: { fbp: FBP, ttclid: 'T.1', ttp: TTP, affId: 'A7', c1: 's1', utm_source: 'fb' },
  });
  expect(Object.keys(event!.values).sort()).toEqual(['affId', 'c1', 'fbc', 'fbp', 'ttclid', 'ttp', 'utm_source']);
  // Meta's click value: its version, subdomain index, when the click was first seen (ms), the fbclid as it was.
  expect(event!.values.fbc).toMatch(/^fb\.1\.\d{13}\.AbC_123$/);

  // A reload and the next page of the domain have nothing new: nothing more is sent.
  await page.reload();
  await settled(page, session);
  await page.goto(`${stack.a}/presell.html`);
  await settled(page, session);
  expect(await attributionEvents(stack, session, 1)).toEqual([event]);
});

test('with marketing refused by the consent manager: no ad key, and no cookie read', async ({ page, stack }) => {
  await countCookieReads(page);
  // The consent manager answered before the snippet loaded: a queued command.
  await page.addInitScript(() => {
    const queue = function (...args: unknown[]) {
      (queue.q ||= []).push(args);
    } as ((...args: unknown[]) => void) & { q?: unknown[][] };
    (window as unknown as { funnelbeacon: typeof queue }).funnelbeacon = queue;
    queue('consent', { analytics: true, marketing: false });
  });
  await page.goto(`${stack.a}/ad-landing.html${LANDING}`);
  const { session } = await sessionIds(page);
  const [event] = await attributionEvents(stack, session, 1);
  expect(event).toMatchObject({ type: 'attribution', marketing: false, values: { affId: 'A7', c1: 's1', utm_source: 'fb' } });
  expect(Object.keys(event!.values).sort()).toEqual(['affId', 'c1', 'utm_source']);
  await settled(page);
  // The page wrote its cookies; nothing on it, the snippet included, read them.
  expect(await page.evaluate(() => (window as unknown as { cookieReads: number }).cookieReads)).toBe(0);
  // The funnel is tracked as ever.
  expect((await stack.collector.store.getSession(session))?.landingUrl).toBe(`${stack.a}/ad-landing.html${LANDING}`);
});

test('data-consent="analytics": marketing off until the visitor allows it, then the ad keys follow', async ({ page, stack }) => {
  await countCookieReads(page);
  await page.goto(`${stack.a}/ad-landing-analytics.html${LANDING}`);
  const { session } = await sessionIds(page);
  const [first] = await attributionEvents(stack, session, 1);
  expect(first).toMatchObject({ marketing: false, values: { affId: 'A7', c1: 's1', utm_source: 'fb' } });
  expect(Object.keys(first!.values).sort()).toEqual(['affId', 'c1', 'utm_source']);
  await settled(page);
  expect(await page.evaluate(() => (window as unknown as { cookieReads: number }).cookieReads)).toBe(0);

  await page.evaluate(() => (window as unknown as { funnelbeacon: Funnelbeacon }).funnelbeacon('consent', true));
  const [, second] = await attributionEvents(stack, session, 2);
  // The new choice, with what it allows: the keys already told are not told again.
  expect(second).toMatchObject({ marketing: true, values: { fbp: FBP, ttclid: 'T.1', ttp: TTP } });
  expect(Object.keys(second!.values).sort()).toEqual(['fbc', 'fbp', 'ttclid', 'ttp']);
  expect(second!.values.fbc).toMatch(/^fb\.1\.\d{13}\.AbC_123$/);
});

test("eventId gives the pixel the conversion's event id: the session's id and the conversion", async ({ page, stack }) => {
  await page.goto(`${stack.a}/ad-landing.html${LANDING}`);
  const ids = await sessionIds(page);
  const eventId = (name: string) =>
    page.evaluate(
      (conversion) =>
        new Promise<string | null>((resolve) =>
          (window as unknown as { funnelbeacon: Funnelbeacon }).funnelbeacon('eventId', conversion, (id?: string) => resolve(id ?? null)),
        ),
      name,
    );
  expect(await eventId('Purchase')).toBe(`${ids.session}.Purchase`);
  expect(await eventId('Lead')).toBe(`${ids.session}.Lead`);
  expect(await eventId('InitiateCheckout')).toBe(`${ids.session}.InitiateCheckout`);
  expect(await eventId('toString')).toBeNull();
  // The collector's answer says the same.
  expect(ids.eventIds).toEqual({ Lead: `${ids.session}.Lead`, InitiateCheckout: `${ids.session}.InitiateCheckout`, Purchase: `${ids.session}.Purchase` });

  // The next page of the domain knows the session before the collector answers.
  await page.goto(`${stack.a}/presell.html`);
  expect(await eventId('Purchase')).toBe(`${ids.session}.Purchase`);
});
