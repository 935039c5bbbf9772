/**
 * Card data never leaves the page: on a checkout whose inputs are named as real landers name
 * them, a Luhn-valid card number typed in is in no request the page makes, beacons included,
 * while the contact fields beside it are captured.
 */
import { expect, expectLead, sessionIds, test } from './support/fixtures.js';

const CARD = '4111 1111 1111 1111';
const SECOND_CARD = '4242424242424242';
const CVV = '737';

test('no request carries the card number, the expiry or the CVV', async ({ page, stack, requests, pageErrors }) => {
  await page.goto(`${stack.b}/checkout.html`);
  const { session } = await sessionIds(page);

  await page.fill('[name=emailAddress]', 'card.safety@example.com');
  await page.fill('[name=shipAddress1]', '1 Secure Way');
  await page.locator('#billing_fname').pressSequentially(CARD);
  await page.selectOption('[name=cardMonth]', '12');
  await page.selectOption('[name=cardYear]', '2031');
  await page.locator('[name=cardSecurityCode]').pressSequentially(CVV);
  await page.locator('input[autocomplete=cc-number]').pressSequentially(SECOND_CARD);
  await page.locator('input[autocomplete=cc-number]').blur();
  await expectLead(stack, session, { emailAddress: 'card.safety@example.com', address1: '1 Secure Way' });

  // Type once more and leave at once, so that the last values go by beacon.
  await page.locator('#billing_fname').fill(SECOND_CARD);
  await page.fill('[name=shipCity]', 'Vault City');
  await page.click('#pay');
  await page.waitForURL(`${stack.b}/upsell1.html`);
  await expectLead(stack, session, { city: 'Vault City' });

  const toCollector = requests.events();
  console.log(JSON.stringify(requests.all.map((r) => [r.resourceType, r.method, r.url, r.body.slice(0, 120)]), null, 1));
  expect(toCollector.length).toBeGreaterThan(1);
  // Both transports were inspected: fetch while the page lived, the beacon as it left.
  expect(new Set(toCollector.map((request) => request.resourceType))).toEqual(new Set(['fetch', 'ping']));

  const digitsOnly = (text: string) => text.replace(/\D/g, '');
  for (const request of requests.all) {
    for (const secret of [CARD, SECOND_CARD]) {
      expect(request.body, request.url).not.toContain(secret);
      expect(digitsOnly(request.body), request.url).not.toContain(digitsOnly(secret));
      expect(decodeURIComponent(request.url)).not.toContain(secret);
    }
  }
  // Nothing card-shaped reached a lead either: not the number, not the CVV, not the expiry.
  const leadValues = toCollector
    .flatMap((request) => (JSON.parse(request.body) as { events: { type: string; fields?: Record<string, string> }[] }).events)
    .filter((event) => event.type === 'lead')
    .flatMap((event) => Object.values(event.fields ?? {}));
  for (const value of [CVV, '12', '2031', digitsOnly(CARD), SECOND_CARD]) expect(leadValues).not.toContain(value);

  const stored = JSON.stringify(await stack.collector.store.listEvents(session));
  expect(digitsOnly(stored)).not.toContain(digitsOnly(CARD));
  expect(stored).not.toContain(SECOND_CARD);
  expect(pageErrors.list).toEqual([]);
});
