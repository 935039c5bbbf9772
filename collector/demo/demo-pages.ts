/**
 * @module demo-pages
 * The five-page demo funnel that sandbox mode serves at `/demo/`, so a fresh install can be tried
 * in a browser at once: presell, lead form, checkout with a one-product cart, one upsell, and
 * thank-you. The script tags are the ones a user pastes into a real funnel; the little inline
 * scripts only stand in for the payment step (a real checkout posts the card to Konnektive and
 * comes back with the order id).
 */

import { BOTTLE, FILTER } from './demo-products.js';

const layout = (title: string, step: number, tag: string, body: string): string => `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · funnelbeacon demo</title>
<script>window.funnelbeacon=window.funnelbeacon||function(){(funnelbeacon.q=funnelbeacon.q||[]).push(arguments)}</script>
${tag}
<style>
body { font: 16px/1.5 system-ui, sans-serif; max-width: 40rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
label { display: block; margin: .6rem 0; }
input { font: inherit; padding: .3rem; width: 100%; box-sizing: border-box; }
a.button, button { display: inline-block; margin: 1rem .5rem 0 0; padding: .6rem 1.2rem; background: #1b6ef3; color: #fff; border: 0; border-radius: 4px; text-decoration: none; font: inherit; cursor: pointer; }
a.secondary { background: #e6e9ef; color: #222; }
ol.steps { display: flex; flex-wrap: wrap; gap: .3rem 1rem; padding: 0; list-style: none; font-size: .85rem; color: #777; }
ol.steps li[aria-current] { color: #111; font-weight: 600; }
aside { margin-top: 2rem; padding: 1rem; background: #f4f4f4; font-size: .9rem; }
</style>
</head>
<body>
<ol class="steps" aria-label="Demo funnel steps">
${['Presell', 'Lead', 'Checkout', 'Upsell', 'Thank-you'].map((name, index) => `<li${index === step ? ' aria-current="step"' : ''}>${index + 1}. ${name}</li>`).join('')}
</ol>
${body}
<aside>funnelbeacon sandbox demo: every Konnektive and ActiveCampaign call this funnel causes is
recorded by the collector, not sent. Watch it on the <a href="/dashboard/">dashboard</a>: leave
the checkout after typing an email and the cart is abandoned after ABANDON_AFTER (2 minutes in
sandbox mode), its CART carrying a recovery link; pay and it becomes an order. See also
<a href="/demo/recorded">the recorded CARTs and ORDERs</a>, and, once you paid, what happens
<a href="/demo/lifecycle">after the order</a> (a rebill, a declined rebill, a refund, a cancel).</aside>
</body>
</html>
`;

const tag = (page: string, extra = '') => `<script defer src="/f.js" data-page="${page}" data-campaign="1"${extra}></script>`;

/** `/demo/recorded`: the CARTs and ORDERs sandbox mode recorded, newest first, each CART with its recovery link. */
export function recordedPage(rows: { at: number; endpoint: string; cartId: string; total: string; orderUrl: string | undefined }[]): string {
  const escape = (text: string) => text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
  const body = rows.length
    ? `<table>
<tr><th>recorded</th><th>request</th><th>externalcheckoutid</th><th>total</th><th>orderUrl (the recovery link)</th></tr>
${rows
  .map(
    (row) =>
      `<tr><td>${new Date(row.at).toISOString()}</td><td>${escape(row.endpoint)}</td><td>${escape(row.cartId)}</td><td>${escape(row.total)}</td><td>${
        row.orderUrl ? `<a href="${escape(row.orderUrl)}">${escape(row.orderUrl)}</a>` : ''
      }</td></tr>`,
  )
  .join('\n')}
</table>`
    : '<p>Nothing recorded yet: walk the demo, leave the checkout after typing an email, and wait ABANDON_AFTER.</p>';
  return layout('Recorded CARTs and ORDERs', -1, '', `<h1>Recorded CARTs and ORDERs</h1>\n${body}`);
}

export const DEMO_PAGES: Readonly<Record<string, string>> = Object.freeze({
  '/demo/': layout(
    'The bottle',
    0,
    tag('presell'),
    `<h1>The last water bottle you will buy</h1>
<p>This page is the presell: the first page of the funnel. Its visit opens a session and a
Konnektive click. Ad parameters in its address (<code>?affId=A1&amp;c1=spring&amp;utm_source=fb</code>)
show up in the dashboard's Sources.</p>
<a class="button" href="/demo/lead">Tell me more</a>`,
  ),
  '/demo/lead': layout(
    'Get the offer',
    1,
    tag('lead'),
    `<h1>Where should we send your offer?</h1>
<p>Fields are captured as you type. With a name and an email or phone, Konnektive gets a partial.</p>
<form action="/demo/checkout">
<label>First name <input name="firstName" autocomplete="given-name"></label>
<label>Last name <input name="lastName" autocomplete="family-name"></label>
<label>Email <input name="emailAddress" type="email" autocomplete="email"></label>
<label>Phone <input name="phoneNumber" type="tel" autocomplete="tel"></label>
</form>
<a class="button" id="to-checkout" href="/demo/checkout">Continue to checkout</a>`,
  ),
  '/demo/checkout': layout(
    'Checkout',
    2,
    tag('checkout', ` data-product="${BOTTLE.id}" data-product-name="${BOTTLE.name}" data-price="${BOTTLE.price}" data-qty="1" data-currency="USD"`),
    `<h1>Checkout: Bottle, $39.95</h1>
<p>Fields are captured as you type (card fields never are). Leave after typing an email and the
cart is abandoned after ABANDON_AFTER (or at once with <code>funnelbeacon sweep --once</code> once
that time has passed); its CART carries a recovery link. Open that link, in this browser or
another, and you are back here with the fields filled in; pay and the cart counts as recovered.</p>
<form>
<label>First name <input name="firstName" autocomplete="given-name"></label>
<label>Last name <input name="lastName" autocomplete="family-name"></label>
<label>Email <input name="emailAddress" type="email" autocomplete="email"></label>
<label>Phone <input name="phoneNumber" type="tel" autocomplete="tel"></label>
<label>Street <input name="address1" autocomplete="address-line1"></label>
<label>City <input name="city" autocomplete="address-level2"></label>
<label>Zip <input name="postalCode" autocomplete="postal-code"></label>
<label>Card number <input name="cardNumber" autocomplete="cc-number" inputmode="numeric"></label>
</form>
<a class="button" id="pay" href="/demo/upsell">Pay $39.95</a>
<script>
// Stands in for the payment step: Konnektive would redirect with the new order id.
document.getElementById('pay').addEventListener('click', function () {
  this.href = '/demo/upsell?orderId=DEMO' + Math.random().toString(36).slice(2, 10).toUpperCase();
});
</script>`,
  ),
  '/demo/upsell': layout(
    'One more thing',
    3,
    tag('upsell1', ' data-order-param="orderId"'),
    `<h1>Add a spare filter for $12.50?</h1>
<p>The order id came with this page's address. Taking the offer adds it to the order.</p>
<a class="button" id="accept" href="/demo/thanks">Yes, add it</a>
<a class="button secondary" id="decline" href="/demo/thanks">No thanks</a>
<script>
var orderId = new URLSearchParams(location.search).get('orderId') || '';
var next = '/demo/thanks?orderId=' + encodeURIComponent(orderId);
document.getElementById('accept').href = next;
document.getElementById('decline').href = next;
// Stands in for Konnektive's upsale call: the order now holds both products.
document.getElementById('accept').addEventListener('click', function () {
  funnelbeacon('cart', { items: [${JSON.stringify({ ...BOTTLE, qty: 1 })}, ${JSON.stringify({ ...FILTER, qty: 1 })}], currency: 'USD' });
});
</script>`,
  ),
  '/demo/thanks': layout(
    'Thank you',
    4,
    tag('thankyou', ' data-order-param="orderId"'),
    `<h1>Thank you!</h1>
<p>The order id comes from this page's address. At the next sweep the collector verifies it
(in sandbox mode, against the cart the pages showed) and records the ORDER it would send.
See it on the <a href="/dashboard/#/overview?range=today">dashboard</a>.</p>`,
  ),
});
