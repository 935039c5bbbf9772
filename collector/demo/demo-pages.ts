/**
 * @module demo-pages
 * A three-page demo funnel that sandbox mode serves at `/demo/`, so a fresh install can be tried
 * in a browser at once: a presell page, a checkout with a lead form and a one-product cart, and a
 * thank-you page that reports the order id from its URL. The script tags are the ones a user
 * pastes into a real funnel.
 */

const layout = (title: string, tag: string, body: string): string => `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · funnelbeacon demo</title>
${tag}
<style>
body { font: 16px/1.5 system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; padding: 0 1rem; color: #222; }
label { display: block; margin: .6rem 0; }
input { font: inherit; padding: .3rem; width: 100%; box-sizing: border-box; }
a.button, button { display: inline-block; margin-top: 1rem; padding: .6rem 1.2rem; background: #1b6ef3; color: #fff; border: 0; border-radius: 4px; text-decoration: none; font: inherit; }
aside { margin-top: 2rem; padding: 1rem; background: #f4f4f4; font-size: .9rem; }
</style>
</head>
<body>
${body}
<aside>funnelbeacon sandbox demo: every Konnektive and ActiveCampaign call this funnel causes is
recorded by the collector, not sent. See <a href="/demo/recorded">the recorded CARTs and ORDERs</a>
(a CART's <code>orderUrl</code> is its recovery link: open it), <a href="/healthz">/healthz</a> and
<a href="/metrics">/metrics</a>.</aside>
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
  return layout('Recorded CARTs and ORDERs', '', `<h1>Recorded CARTs and ORDERs</h1>\n${body}`);
}

export const DEMO_PAGES: Readonly<Record<string, string>> = Object.freeze({
  '/demo/': layout(
    'The bottle',
    tag('presell'),
    `<h1>The last water bottle you will buy</h1>
<p>This page is the presell: the first page of the funnel. Its visit opens a session and a
Konnektive click.</p>
<a class="button" href="/demo/checkout">Get yours</a>`,
  ),
  '/demo/checkout': layout(
    'Checkout',
    tag('checkout', ' data-product="41" data-product-name="Bottle" data-price="39.95" data-qty="1" data-currency="USD"'),
    `<h1>Checkout: Bottle, $39.95</h1>
<p>Fields are captured as you type (card fields never are). Leave after typing an email and the
cart is abandoned after ABANDON_AFTER (or at once with <code>funnelbeacon sweep --once</code> once
that time has passed); its CART carries a recovery link. Open that link, in this browser or
another, and you are back here with the fields filled in; pay and the cart counts as recovered
(<code>funnelbeacon report</code>).</p>
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
<!-- A real checkout posts the card to Konnektive, then lands here with the order id. -->
<a class="button" href="/demo/thanks?orderId=DEMO1001">Pay $39.95</a>`,
  ),
  '/demo/thanks': layout(
    'Thank you',
    tag('thankyou', ' data-order-param="orderId"'),
    `<h1>Thank you!</h1>
<p>The order id comes from this page's address. At the next sweep the collector verifies it
(in sandbox mode, against the cart the page showed) and records the ORDER it would send.</p>`,
  ),
});
