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

test('a security code in a tel input, a PIN, a one-time code and hidden inputs are never sent', async ({ page, stack, requests, pageErrors }) => {
  // The lander names its CVV input cv2 and gives it type="tel" (for the keypad); there is no phone
  // field; hidden inputs hold a sign-in flow's state and a saved card's digits.
  await page.goto(`${stack.a}/checkout-cvv.html`);
  const { session } = await sessionIds(page);

  await page.fill('[name=firstName]', 'Victor');
  await page.fill('[name=lastName]', 'Visitor');
  await page.fill('[name=emailAddress]', 'victor@example.com');
  await page.locator('[name=cv2]').pressSequentially(CVV);
  await page.locator('[name=pin]').pressSequentially('4321');
  await page.locator('[autocomplete=one-time-code]').pressSequentially('918273');
  await page.locator('[autocomplete=one-time-code]').blur();
  // A field typed after them: once it is stored, everything typed before it was read and sent.
  await page.fill('[name=city]', 'Springfield');
  await page.locator('[name=city]').blur();
  await expectLead(stack, session, { firstName: 'Victor', lastName: 'Visitor', emailAddress: 'victor@example.com', city: 'Springfield' });

  // Change the security code and then the city, and pay at once: the page leaves with unsent
  // changes, and the exit beacon goes with what the last read of the form found.
  await page.locator('[name=cv2]').fill('738');
  await page.fill('[name=city]', 'Shelbyville');
  await page.evaluate(() => document.querySelector<HTMLFormElement>('#checkout')!.requestSubmit());
  await page.waitForURL(`${stack.a}/upsell1.html`);
  await expectLead(stack, session, { city: 'Shelbyville' });

  const leads = stack.recorder
    .batches()
    .flatMap(({ batch }) => batch.events)
    .filter((event) => event.type === 'lead')
    .map((event) => event.fields as Record<string, string>);
  expect(leads.length).toBeGreaterThan(0);
  for (const fields of leads) {
    expect(Object.keys(fields)).not.toContain('phoneNumber');
    expect(Object.keys(fields)).not.toContain('state');
    for (const value of [CVV, '738', '4321', '918273', '4242', '424242', 'oauth-state-7f3a9c', 'evt-91c2d7e4b8']) expect(Object.values(fields)).not.toContain(value);
  }
  expect(leads.flatMap((fields) => Object.values(fields))).toEqual(expect.arrayContaining(['Springfield', 'Shelbyville']));

  // Not in any request the pages made, beacons included, nor in what the collector stored. (The
  // short codes are looked for as whole JSON strings: the random event ids may hold their digits.)
  const bodies = [
    ...stack.recorder.requests.map((request) => `${request.path} ${request.body}`),
    ...requests.all.map((request) => `${request.url} ${request.body}`),
  ];
  expect(new Set(stack.recorder.batches().map(({ transport }) => transport))).toEqual(new Set(['fetch', 'beacon']));
  const stored = JSON.stringify([await stack.collector.store.listEvents(session), await stack.collector.store.getSession(session)]);
  for (const text of [...bodies, stored]) {
    for (const value of [CVV, '738', '4321', '918273', '4242', '424242']) expect(text).not.toContain(`"${value}"`);
    expect(text).not.toContain('oauth-state-7f3a9c');
    expect(text).not.toContain('evt-91c2d7e4b8');
  }
  expect((await stack.collector.store.getSession(session))!.lead).toEqual({
    firstName: 'Victor',
    lastName: 'Visitor',
    emailAddress: 'victor@example.com',
    city: 'Shelbyville',
  });
  expect(pageErrors.list).toEqual([]);
});
