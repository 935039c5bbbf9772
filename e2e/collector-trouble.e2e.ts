/**
 * The host page keeps working when the collector is down, slow or failing: no uncaught error,
 * clicks and forms and links behave. Events that could not be sent wait in localStorage and go
 * with the next page of the same domain.
 */
import type { Page } from '@playwright/test';
import { expect, expectLead, test } from './support/fixtures.js';
import { closedOrigin, startFaultyCollector } from './support/faulty-collector.js';
import type { Stack } from './support/stack.js';

const LEAD = { firstName: 'Katherine', lastName: 'Johnson', emailAddress: 'katherine@example.com' };

/** Uses the page as a buyer would, and checks that each thing still does what it should. */
async function useThePage(page: Page, stack: Stack): Promise<void> {
  await page.goto(`${stack.a}/host.html`);
  await page.waitForFunction(() => typeof (window as unknown as { funnelbeacon: { q?: unknown } }).funnelbeacon.q === 'undefined');
  for (let i = 0; i < 3; i++) await page.click('#count');
  await expect(page.locator('#clicks')).toHaveText('3');
  await page.fill('[name=firstName]', LEAD.firstName);
  await page.fill('[name=lastName]', LEAD.lastName);
  await page.fill('[name=emailAddress]', LEAD.emailAddress);
  await page.locator('[name=emailAddress]').blur();
  // The script answers its API synchronously whatever the network does.
  expect(await page.evaluate(() => typeof (window as unknown as { funnelbeacon: unknown }).funnelbeacon)).toBe('function');
  await page.click('#next');
  await page.waitForURL(`${stack.b}/thankyou.html`);
}

test('a collector that is down', async ({ page, stack, pageErrors }) => {
  stack.vars.EVENTS = await closedOrigin();
  await useThePage(page, stack);
  expect(pageErrors.list).toEqual([]);
});

test('a collector answering 500', async ({ page, stack, pageErrors }) => {
  const faulty = await startFaultyCollector('error');
  stack.vars.EVENTS = faulty.origin;
  await useThePage(page, stack);
  await expect.poll(() => faulty.bodies.length).toBeGreaterThan(0);
  expect(pageErrors.list).toEqual([]);
  await faulty.close();
});

test('a collector that takes seconds to answer', async ({ page, stack, pageErrors }) => {
  const faulty = await startFaultyCollector('slow', 8_000);
  stack.vars.EVENTS = faulty.origin;
  await useThePage(page, stack);
  expect(pageErrors.list).toEqual([]);
  await faulty.close();
});

test('events that could not be sent go with the next page of the domain', async ({ page, stack, pageErrors }) => {
  stack.vars.EVENTS = await closedOrigin();
  await page.goto(`${stack.a}/host.html`);
  await page.fill('[name=firstName]', LEAD.firstName);
  await page.fill('[name=lastName]', LEAD.lastName);
  await page.fill('[name=emailAddress]', LEAD.emailAddress);
  await page.locator('[name=emailAddress]').blur();
  await expect
    .poll(() => page.evaluate(() => localStorage.getItem('funnelbeacon.q') ?? ''))
    .toContain(LEAD.emailAddress);

  // The collector is back; the buyer goes on to another page of the same domain.
  stack.vars.EVENTS = stack.recorder.origin;
  await page.goto(`${stack.a}/presell.html`);
  await page.waitForFunction(() => document.cookie.includes('funnelbeacon='));
  const session = await page.evaluate(() => document.cookie.match(/funnelbeacon=s\.([^.;]+)/)![1]!);
  await expectLead(stack, session, LEAD);
  const pages = (await stack.collector.store.listEvents(session)).filter((event) => event.type === 'page');
  expect(pages.map((event) => (event.payload as { page: string }).page)).toEqual(['lead', 'presell']);
  await expect.poll(() => page.evaluate(() => JSON.parse(localStorage.getItem('funnelbeacon.q') ?? '[]').length)).toBe(0);
  expect(pageErrors.list).toEqual([]);
});
