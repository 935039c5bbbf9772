/**
 * The whole funnel across two domains, as a buyer walks it: one session in the store and one at
 * Konnektive, the landing URL on the first click, one lead created then updated.
 */
import { expect, expectLead, sessionIds, test } from './support/fixtures.js';

test('a five-page funnel on two domains is one session, in the store and at Konnektive', async ({ page, stack, pageErrors }) => {
  const { a, b, konnektive, collector } = stack;
  const landing = `${a}/presell.html?affId=AFF123&c1=blue&utm_source=facebook&utm_campaign=spring%20sale`;

  // Presell (A), entered from an ad.
  await page.goto(landing);
  const { session } = await sessionIds(page);

  // Lead (A), by a link on the same domain.
  await page.click('#next');
  await expect(page).toHaveURL(`${a}/lead.html`);
  expect((await sessionIds(page)).session).toBe(session);
  await page.fill('[name=firstName]', 'Ada');
  await page.fill('[name=lastName]', 'Lovelace');
  await page.fill('[name=emailAddress]', 'ada@example.com');
  await page.locator('[name=emailAddress]').blur();
  await expectLead(stack, session, { firstName: 'Ada', lastName: 'Lovelace', emailAddress: 'ada@example.com' });
  // Konnektive has the partial (a buyer takes longer than this to reach checkout).
  await expect.poll(() => konnektive.leads.size).toBe(1);
  // The form action to the other domain carries the link token.
  await expect(page.locator('#lead')).toHaveAttribute('action', new RegExp(`^${b}/checkout\\.html#_fb=l\\.`));

  // Checkout (B): the session crosses the domain with the form post, and the token leaves the address bar.
  await page.click('#submit');
  await page.waitForURL(`${b}/checkout.html`);
  expect(page.url()).not.toContain('_fb');
  expect((await sessionIds(page)).session).toBe(session);
  await page.fill('[name=shipAddress1]', '12 Analytical Row');
  await page.fill('[name=shipCity]', 'London');
  await page.fill('[name=shipState]', 'LN');
  await page.fill('[name=shipPostalCode]', '90210');
  await page.fill('[name=phoneNumber]', '5555550100');
  await page.locator('[name=phoneNumber]').blur();
  await expectLead(stack, session, { address1: '12 Analytical Row', city: 'London', postalCode: '90210', country: 'US' });
  // One lead at Konnektive: created on the lead page, now updated from checkout.
  const partial = () => [...konnektive.leads.values()];
  await expect.poll(() => partial().map((lead) => lead.fields)).toEqual([
    expect.objectContaining({ firstName: 'Ada', emailAddress: 'ada@example.com', address1: '12 Analytical Row', postalCode: '90210' }),
  ]);
  // Created once, then updated: how many updates depends on how the typing falls into the one-second
  // windows in which changes collapse, so at least one, and never a second partial (one lead above).
  expect(partial()[0]!.history.filter((change) => change.via === 'leads/import').length).toBeGreaterThanOrEqual(2);

  // The buyer pays; the payment redirect to the upsell drops every parameter but the order id,
  // and B still knows the session.
  const orderId = partial()[0]!.orderId;
  expect((await collector.store.getSession(session))?.konnektive.orderId).toBe(orderId);
  konnektive.completeOrder(orderId, { items: [{ productId: '41', name: 'Bottle', price: '39.95' }] });
  await page.goto(`${b}/upsell1.html?orderId=${orderId}`);
  expect((await sessionIds(page)).session).toBe(session);
  await page.click('#next');
  await page.waitForURL(`${b}/thankyou.html`);
  expect((await sessionIds(page)).session).toBe(session);

  // The store: one session, with every page, the cart and the order.
  expect(await collector.store.countSessions()).toBe(1);
  await expect
    .poll(async () => (await collector.store.listEvents(session)).filter((event) => event.type === 'page').map((event) => (event.payload as { page: string }).page))
    .toEqual(['presell', 'lead', 'checkout', 'upsell1', 'thankyou']);
  const stored = await collector.store.getSession(session);
  expect(stored?.landingUrl).toBe(landing);
  expect(stored?.cart).toEqual({ items: [{ id: '41', name: 'Bottle', price: 39.95, qty: 1 }], currency: 'USD' });
  expect(stored?.claimedOrderId).toBe(orderId);

  // Konnektive: one session, five clicks of the right page types, the landing URL on the first.
  await expect.poll(() => [...konnektive.sessions.values()].flatMap((s) => s.clicks).length).toBe(5);
  expect(konnektive.sessions.size).toBe(1);
  const [kSession] = [...konnektive.sessions.values()];
  expect(kSession!.clicks.map((click) => click.pageType)).toEqual(['presellPage', 'leadPage', 'checkoutPage', 'upsellPage1', 'thankyouPage']);
  expect(kSession!.clicks[0]!.requestUri).toBe(landing);
  expect(kSession!.affVals).toMatchObject({ affId: 'AFF123', c1: 'blue' });
  const laterClicks = konnektive.calls.filter((call) => call.path.includes('/clicks/import') && call.result === 'SUCCESS').slice(1);
  expect(laterClicks.map((call) => call.params.sessionId)).toEqual(Array(4).fill(kSession!.sessionId));
  expect(konnektive.leads.size).toBe(1);
  expect(pageErrors.list).toEqual([]);
});
