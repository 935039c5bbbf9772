/**
 * Card data never leaves the page: on a checkout whose inputs are named as real landers name
 * them, a Luhn-valid card number typed in is in no request the page makes, beacons included,
 * while the contact fields beside it are captured.
 */
import { expect, expectLead, sessionIds, test } from './support/fixtures.js';

const CARD = '4111 1111 1111 1111';
const SECOND_CARD = '4242424242424242';
const CVV = '737';
const digitsOnly = (text: string) => text.replace(/\D/g, '');

test('no request carries the card number, the expiry or the CVV', async ({ page, stack, requests, pageErrors }) => {
  await page.goto(`${stack.b}/checkout.html`);
  const { session } = await sessionIds(page);

  await page.fill('[name=emailAddress]', 'card.safety@example.com');
  await page.fill('[name=shipAddress1]', '1 Secure Way');
  // id="billing_fname", as a real lander copy-pasted it onto its card input.
  await page.locator('#billing_fname').pressSequentially(CARD);
  await page.selectOption('[name=cardMonth]', '12');
  await page.selectOption('[name=cardYear]', '2031');
  await page.locator('[name=cardSecurityCode]').pressSequentially(CVV);
  await page.locator('input[autocomplete=cc-number]').pressSequentially(SECOND_CARD);
  await page.locator('input[autocomplete=cc-number]').blur();
  await expectLead(stack, session, { emailAddress: 'card.safety@example.com', address1: '1 Secure Way' });

  // Change a card field and a contact field, and pay (the page submits by script) with the
  // focus still in the field: the page leaves with unsent changes, and the exit beacon goes.
  await page.locator('#billing_fname').fill(SECOND_CARD);
  await page.fill('[name=shipCity]', 'Vault City');
  await page.evaluate(() => document.querySelector<HTMLFormElement>('#checkout')!.requestSubmit());
  await page.waitForURL(`${stack.b}/upsell1.html`);
  await expectLead(stack, session, { city: 'Vault City' });

  // Everything the browser sent to the collector (exit beacons reach no Playwright request
  // event, so the recording proxy is the complete record), and every other request of the pages.
  const transports = new Set(stack.recorder.batches().map(({ transport }) => transport));
  expect(transports).toEqual(new Set(['fetch', 'beacon']));
  const bodies = [
    ...stack.recorder.requests.map((request) => `${request.path} ${request.body}`),
    ...requests.all.map((request) => `${request.url} ${request.body}`),
  ];
  expect(bodies.length).toBeGreaterThan(5);
  for (const body of bodies) {
    for (const card of [CARD, SECOND_CARD]) {
      expect(body).not.toContain(card);
      expect(digitsOnly(body)).not.toContain(digitsOnly(card));
    }
  }
  // No lead value is card data: not the number, not the CVV, not the expiry.
  const leadValues = stack.recorder
    .batches()
    .flatMap(({ batch }) => batch.events)
    .filter((event) => event.type === 'lead')
    .flatMap((event) => Object.values(event.fields as Record<string, string>));
  expect(leadValues).toContain('Vault City');
  for (const value of [CVV, '12', '2031', digitsOnly(CARD), SECOND_CARD]) expect(leadValues).not.toContain(value);

  expect(digitsOnly(JSON.stringify(await stack.collector.store.listEvents(session)))).not.toContain(digitsOnly(CARD));
  expect(pageErrors.list).toEqual([]);
});
