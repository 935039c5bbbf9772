/**
 * Whatever the way out of the lead page, the values typed last reach the collector: they go by
 * sendBeacon on pagehide or visibilitychange, with no wait for the typing debounce.
 */
import type { Page } from '@playwright/test';
import type { Stack } from './support/stack.js';
import { expect, expectLead, sessionIds, test } from './support/fixtures.js';

const TYPED = { firstName: 'Grace', lastName: 'Hopper', emailAddress: 'grace@example.com', phoneNumber: '5555550199' };

/** Opens the lead page (after the presell, so that there is somewhere to go back to) and types the lead. */
async function typeLead(page: Page, stack: Stack): Promise<string> {
  await page.goto(`${stack.a}/presell.html`);
  await page.click('#next');
  await page.waitForURL(`${stack.a}/lead.html`);
  return typeHere(page);
}

/** Types the lead on the page as it is, the last keystroke right before the test leaves. */
async function typeHere(page: Page): Promise<string> {
  const { session } = await sessionIds(page);
  await page.fill('[name=firstName]', TYPED.firstName);
  await page.fill('[name=lastName]', TYPED.lastName);
  await page.fill('[name=emailAddress]', TYPED.emailAddress);
  await page.locator('[name=phoneNumber]').pressSequentially(TYPED.phoneNumber);
  return session;
}

/** The collector got the last keystrokes by beacon: the page was leaving, not idling. */
async function expectExitBeacon(stack: Stack): Promise<void> {
  await expect
    .poll(() =>
      stack.recorder
        .batches()
        .filter(({ transport }) => transport === 'beacon')
        .flatMap(({ batch }) => batch.events)
        .some((event) => (event.fields as { phoneNumber?: string } | undefined)?.phoneNumber === TYPED.phoneNumber),
    )
    .toBe(true);
}

test.describe('the last typed values reach the collector when the buyer leaves', () => {
  // Clicking moves the focus out of the field first, and a finished field is sent at once; the
  // cases that keep the focus in the field leave with the last keystrokes still unsent, and
  // only the exit beacon can deliver them.
  test('by clicking a link', async ({ page, stack }) => {
    const session = await typeLead(page, stack);
    await page.click('#away');
    await page.waitForURL(`${stack.a}/privacy.html`);
    await expectLead(stack, session, TYPED);
  });

  test('by a link followed with the focus still in the field', async ({ page, stack }) => {
    const session = await typeLead(page, stack);
    await page.evaluate(() => document.querySelector<HTMLAnchorElement>('#away')!.click());
    await page.waitForURL(`${stack.a}/privacy.html`);
    await expectLead(stack, session, TYPED);
    await expectExitBeacon(stack);
  });

  test('by clicking the submit button', async ({ page, stack }) => {
    const session = await typeLead(page, stack);
    await page.click('#submit');
    await page.waitForURL(`${stack.b}/checkout.html`);
    await expectLead(stack, session, TYPED);
  });

  test('by a form submitted by script, with the focus still in the field', async ({ page, stack }) => {
    const session = await typeLead(page, stack);
    // (Pressing Enter would also fire change, which sends the field before the page leaves.)
    await page.evaluate(() => document.querySelector<HTMLFormElement>('#lead')!.requestSubmit());
    await page.waitForURL(`${stack.b}/checkout.html`);
    await expectLead(stack, session, TYPED);
    await expectExitBeacon(stack);
  });

  test('by reloading', async ({ page, stack }) => {
    const session = await typeLead(page, stack);
    await page.reload();
    await expectLead(stack, session, TYPED);
    await expectExitBeacon(stack);
  });

  test('by closing the tab', async ({ page, stack }) => {
    const session = await typeLead(page, stack);
    await page.close();
    await expectLead(stack, session, TYPED);
    await expectExitBeacon(stack);
  });

  test('by going back', async ({ page, stack }) => {
    const session = await typeLead(page, stack);
    // A page restored from the back/forward cache fires no load event: wait for the commit.
    await page.goBack({ waitUntil: 'commit' });
    await expectLead(stack, session, TYPED);
    await expectExitBeacon(stack);
  });

  test('by going forward, from a page restored from the back/forward cache', async ({ page, stack }) => {
    await restoredLeadPage(page, stack);
    const session = await typeHere(page);
    await page.goForward({ waitUntil: 'commit' });
    await expectLead(stack, session, TYPED);
    await expectExitBeacon(stack);
  });
});

test('a page restored from the back/forward cache resumes sending while it lives', async ({ page, stack }) => {
  await restoredLeadPage(page, stack);
  const session = await typeHere(page);
  await page.locator('[name=phoneNumber]').blur();
  await expectLead(stack, session, TYPED);
  await expect(page).toHaveURL(`${stack.a}/lead.html`);
});

/** The lead page, left for another page and brought back from the back/forward cache. */
async function restoredLeadPage(page: Page, stack: Stack): Promise<void> {
  await page.goto(`${stack.a}/lead.html`);
  await sessionIds(page);
  await page.evaluate(() => ((window as unknown as { beforeLeaving: boolean }).beforeLeaving = true));
  await page.click('#away');
  await page.waitForURL(`${stack.a}/privacy.html`);
  await page.goBack({ waitUntil: 'commit' });
  await expect(page).toHaveURL(`${stack.a}/lead.html`);
  // Same window object as before: the page came back from the cache, not from the network.
  await expect.poll(() => page.evaluate(() => (window as unknown as { beforeLeaving?: boolean }).beforeLeaving)).toBe(true);
}
