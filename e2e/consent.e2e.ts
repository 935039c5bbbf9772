/**
 * `data-consent="required"`: nothing is captured, stored or sent until
 * `funnelbeacon('consent', true)`; then everything is, what happened before included.
 */
import { expect, expectLead, sessionIds, test } from './support/fixtures.js';

test('nothing is sent before consent, everything after', async ({ page, stack, requests }) => {
  stack.vars.CONSENT = 'required';
  await page.goto(`${stack.a}/lead.html?utm_source=newsletter`);
  // The script has started (it replaced the queueing stub) ...
  await page.waitForFunction(() => typeof (window as unknown as { funnelbeacon: { q?: unknown } }).funnelbeacon.q === 'undefined');
  await page.fill('[name=firstName]', 'Hedy');
  await page.fill('[name=lastName]', 'Lamarr');
  await page.fill('[name=emailAddress]', 'hedy@example.com');
  await page.locator('[name=emailAddress]').blur();
  await page.click('body');
  // ... and, with everything typed and finished, has sent nothing and stored nothing.
  expect(requests.events()).toEqual([]);
  expect(stack.recorder.requests).toEqual([]);
  expect(await page.evaluate(() => [document.cookie, localStorage.length])).toEqual(['', 0]);

  await page.evaluate(() => (window as unknown as { funnelbeacon: (command: string, value: boolean) => void }).funnelbeacon('consent', true));
  const { session } = await sessionIds(page);
  await expectLead(stack, session, { firstName: 'Hedy', lastName: 'Lamarr', emailAddress: 'hedy@example.com' });
  const stored = await stack.collector.store.getSession(session);
  expect(stored?.landingUrl).toBe(`${stack.a}/lead.html?utm_source=newsletter`);

  // From then on, as usual: typing is sent, and the session is kept.
  await page.fill('[name=phoneNumber]', '5555550123');
  await page.locator('[name=phoneNumber]').blur();
  await expectLead(stack, session, { phoneNumber: '5555550123' });
  expect(await page.evaluate(() => document.cookie)).toContain('funnelbeacon=');
});

test('without consent, leaving the page sends nothing either', async ({ page, stack }) => {
  stack.vars.CONSENT = 'required';
  await page.goto(`${stack.a}/lead.html`);
  await page.waitForFunction(() => typeof (window as unknown as { funnelbeacon: { q?: unknown } }).funnelbeacon.q === 'undefined');
  await page.fill('[name=emailAddress]', 'nobody@example.com');
  await page.evaluate(() => document.querySelector<HTMLAnchorElement>('#away')!.click());
  await page.waitForURL(`${stack.a}/privacy.html`);
  // The privacy page has no snippet; give the closed page's beacons, if any, a round trip to
  // arrive by loading one more page through the same browser.
  await page.goto(`${stack.b}/thankyou.html`);
  expect(stack.recorder.requests).toEqual([]);
  expect(await stack.collector.store.countSessions()).toBe(0);
});
