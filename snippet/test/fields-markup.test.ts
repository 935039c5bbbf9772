/**
 * The classifier against markup as real checkouts write it: each row is an element copied from a
 * lander, a hosted payment form or a shop theme (attributes as published), and the lead field it
 * holds, or none. The element is read the way the DOM reflects it to the snippet (see `reflect`).
 */
import { describe, expect, it } from 'vitest';
import type { LeadField } from '../../collector/wire-schema.js';
import { classify, type Signals } from '../src/fields.js';

/** Input types the HTML standard knows; any other `type` attribute reflects as `text`. */
const INPUT_TYPES = new Set([
  'hidden', 'text', 'search', 'tel', 'url', 'email', 'password', 'date', 'month', 'week', 'time', 'datetime-local',
  'number', 'range', 'color', 'checkbox', 'radio', 'file', 'submit', 'image', 'reset', 'button',
]);

/**
 * One element's markup as the snippet sees it: `type` lower-cased, unknown types as `text`, a
 * select as `select-one`, a textarea as `textarea`; `maxLength` -1 when absent (and none at all
 * on a select); `data-funnel-field` in the dataset.
 */
function reflect(markup: string): Signals {
  const tag = /^<(\w+)/.exec(markup)![1]!.toLowerCase();
  const attributes = new Map([...markup.matchAll(/([\w-]+)="([^"]*)"/g)].map(([, name, value]) => [name!.toLowerCase(), value!]));
  const written = (attributes.get('type') ?? 'text').toLowerCase();
  const type = tag === 'select' ? 'select-one' : tag === 'textarea' ? 'textarea' : INPUT_TYPES.has(written) ? written : 'text';
  const maxlength = attributes.get('maxlength');
  return {
    name: attributes.get('name') ?? '',
    id: attributes.get('id') ?? '',
    type,
    autocomplete: (attributes.get('autocomplete') ?? '') as AutoFill,
    placeholder: attributes.get('placeholder') ?? '',
    maxLength: tag === 'select' ? (undefined as unknown as number) : maxlength === undefined ? -1 : Number(maxlength),
    dataset: { funnelField: attributes.get('data-funnel-field') },
  };
}

type Row = [markup: string, field: LeadField | undefined];

const KONNEKTIVE: Row[] = [
  // Konnektive and Checkout Champ landers: the API's names, type="TEXT", often no name at all.
  ['<input type="TEXT" name="firstName" placeholder="First Name">', 'firstName'],
  ['<input type="TEXT" name="lastName" placeholder="Last Name">', 'lastName'],
  ['<input type="TEXT" name="emailAddress" placeholder="Email Address">', 'emailAddress'],
  ['<input type="TEXT" name="phoneNumber" placeholder="Phone">', 'phoneNumber'],
  ['<input type="tel" name="phoneNumber" maxlength="14" placeholder="(555) 555-5555">', 'phoneNumber'],
  ['<input type="TEXT" name="shipAddress1" placeholder="Street Address">', 'address1'],
  ['<input type="TEXT" name="shipAddress2" placeholder="Apt / Suite">', 'address2'],
  ['<input type="TEXT" name="shipCity" placeholder="City">', 'city'],
  ['<select name="shipState">', 'state'],
  ['<input type="tel" name="shipPostalCode" maxlength="5" placeholder="Zip Code">', 'postalCode'],
  ['<select name="shipCountry">', 'country'],
  ['<input type="TEXT" name="postalCode">', 'postalCode'],
  ['<input type="TEXT" id="fname" placeholder="First Name">', 'firstName'],
  ['<input type="TEXT" id="lname" placeholder="Last Name">', 'lastName'],
  ['<input type="TEXT" id="emailAddress">', 'emailAddress'],
  ['<input type="TEXT" name="cardNumber" placeholder="Card Number">', undefined],
  ['<input type="tel" name="cardNumber" maxlength="16">', undefined],
  ['<input type="tel" name="cardSecurityCode" maxlength="4" placeholder="CVV">', undefined],
  ['<input type="TEXT" name="cardSecurityCode">', undefined],
  ['<select name="cardMonth">', undefined],
  ['<select name="cardYear">', undefined],
  ['<input type="tel" name="cardNumber" id="billing_fname" placeholder="Card Number">', undefined],
  ['<input type="TEXT" id="billing_fname" name="billing_fname" placeholder="•••• •••• •••• ••••">', undefined],
  ['<input type="tel" name="card-number">', undefined],
  ['<input type="tel" name="cvv-number">', undefined],
  ['<input type="number" name="ccnumber">', undefined],
  ['<input type="tel" name="creditCardNumber">', undefined],
  ['<input type="hidden" name="campaignId" value="12">', undefined],
  ['<input type="hidden" name="orderId" value="7A1B2C3D4E">', undefined],
  ['<input type="checkbox" name="billShipSame" checked>', undefined],
];

const STRIPE: Row[] = [
  // Stripe Elements: the host page around the card iframe, then the inputs inside the iframe.
  ['<input id="cardholder-name" name="cardholder-name" placeholder="Jane Doe">', undefined],
  ['<input type="hidden" name="stripeToken">', undefined],
  ['<input id="email" type="email" placeholder="jane.doe@example.com" required>', 'emailAddress'],
  ['<input class="InputElement" name="cardnumber" autocomplete="cc-number" inputmode="numeric" placeholder="1234 1234 1234 1234">', undefined],
  ['<input class="InputElement" name="exp-date" autocomplete="cc-exp" inputmode="numeric" placeholder="MM / YY">', undefined],
  ['<input class="InputElement" name="cvc" autocomplete="cc-csc" inputmode="numeric" placeholder="CVC">', undefined],
  ['<input class="InputElement" name="postal" autocomplete="postal-code" placeholder="ZIP">', 'postalCode'],
  // Link's sign-in code.
  ['<input autocomplete="one-time-code" inputmode="numeric" maxlength="6">', undefined],
];

const BRAINTREE: Row[] = [
  // Braintree hosted fields: the inputs of each iframe, and a host page that gives its
  // containers input ids.
  ['<input type="tel" name="credit-card-number" id="credit-card-number" autocomplete="cc-number">', undefined],
  ['<input type="tel" name="cvv" id="cvv" autocomplete="cc-csc" maxlength="4">', undefined],
  ['<input type="tel" name="expiration" id="expiration" autocomplete="cc-exp">', undefined],
  ['<input type="text" name="cardholder-name" id="cardholder-name" autocomplete="cc-name">', undefined],
  ['<input type="text" name="postal-code" id="postal-code" autocomplete="billing postal-code">', 'postalCode'],
  ['<input type="tel" id="cvv">', undefined],
  ['<input type="text" id="expirationDate">', undefined],
  ['<input type="text" id="postalCode">', 'postalCode'],
  ['<input type="hidden" name="payment_method_nonce">', undefined],
];

const WOOCOMMERCE: Row[] = [
  ['<input type="text" class="input-text" name="billing_first_name" id="billing_first_name" autocomplete="given-name">', 'firstName'],
  ['<input type="text" class="input-text" name="billing_last_name" id="billing_last_name" autocomplete="family-name">', 'lastName'],
  ['<input type="text" class="input-text" name="billing_company" id="billing_company" autocomplete="organization">', undefined],
  ['<select name="billing_country" id="billing_country" autocomplete="country">', 'country'],
  ['<input type="text" name="billing_address_1" id="billing_address_1" placeholder="House number and street name" autocomplete="address-line1">', 'address1'],
  ['<input type="text" name="billing_address_2" id="billing_address_2" placeholder="Apartment, suite, unit, etc. (optional)" autocomplete="address-line2">', 'address2'],
  ['<input type="text" name="billing_city" id="billing_city" autocomplete="address-level2">', 'city'],
  ['<select name="billing_state" id="billing_state" autocomplete="address-level1">', 'state'],
  ['<input type="text" name="billing_postcode" id="billing_postcode" autocomplete="postal-code">', 'postalCode'],
  ['<input type="tel" name="billing_phone" id="billing_phone" autocomplete="tel">', 'phoneNumber'],
  ['<input type="email" name="billing_email" id="billing_email" autocomplete="email username">', 'emailAddress'],
  ['<input type="text" name="shipping_first_name" id="shipping_first_name" autocomplete="given-name">', 'firstName'],
  ['<input type="text" name="shipping_postcode" id="shipping_postcode" autocomplete="postal-code">', 'postalCode'],
  ['<textarea name="order_comments" id="order_comments" placeholder="Notes about your order, e.g. special notes for delivery.">', undefined],
  ['<input type="password" name="account_password" id="account_password" autocomplete="new-password">', undefined],
  ['<input type="hidden" id="woocommerce-process-checkout-nonce" name="woocommerce-process-checkout-nonce" value="5e1c8a2b9f">', undefined],
  ['<input type="hidden" name="_wp_http_referer" value="/?wc-ajax=update_order_review">', undefined],
];

const SHOPIFY: Row[] = [
  ['<input type="email" name="checkout[email]" id="checkout_email" autocomplete="shipping email" placeholder="Email">', 'emailAddress'],
  ['<input name="checkout[shipping_address][first_name]" autocomplete="shipping given-name" placeholder="First name">', 'firstName'],
  ['<input name="checkout[shipping_address][last_name]" autocomplete="shipping family-name" placeholder="Last name">', 'lastName'],
  ['<input name="checkout[shipping_address][address1]" autocomplete="shipping address-line1" placeholder="Address">', 'address1'],
  ['<input name="checkout[shipping_address][address2]" autocomplete="shipping address-line2" placeholder="Apartment, suite, etc. (optional)">', 'address2'],
  ['<input name="checkout[shipping_address][city]" autocomplete="shipping address-level2" placeholder="City">', 'city'],
  ['<select name="checkout[shipping_address][country]" autocomplete="shipping country">', 'country'],
  ['<select name="checkout[shipping_address][province]" autocomplete="shipping address-level1">', 'state'],
  ['<input name="checkout[shipping_address][zip]" autocomplete="shipping postal-code" placeholder="ZIP code">', 'postalCode'],
  // India's checkout says "PIN code" for the postal code, as a card's PIN form might: the PIN wins,
  // and the postal code is not captured (one field lost, never a PIN sent).
  ['<input name="checkout[shipping_address][zip]" autocomplete="shipping postal-code" placeholder="PIN code">', undefined],
  ['<input type="tel" name="checkout[shipping_address][phone]" autocomplete="shipping tel" placeholder="Phone">', 'phoneNumber'],
  ['<input type="checkbox" name="checkout[buyer_accepts_marketing]" value="1">', undefined],
  ['<input type="hidden" name="checkout[client_details][browser_width]" value="1280">', undefined],
  ['<input name="checkout[reduction_code]" placeholder="Gift card or discount code">', undefined],
  // The card iframe.
  ['<input autocomplete="cc-csc" id="verification_value" name="verification_value" type="tel" placeholder="Security code">', undefined],
  ['<input id="verification_value" name="verification_value" type="tel">', undefined],
];

const FUNNEL_BUILDERS: Row[] = [
  // ClickFunnels and HighLevel (GHL) order forms.
  ['<input type="text" name="name" placeholder="Full Name...">', undefined],
  ['<input type="email" name="email" placeholder="Email Address...">', 'emailAddress'],
  ['<input type="text" name="phone" placeholder="Phone Number...">', 'phoneNumber'],
  ['<input type="tel" name="phone" placeholder="Phone">', 'phoneNumber'],
  ['<input type="text" name="first_name">', 'firstName'],
  ['<input type="text" name="last_name">', 'lastName'],
  ['<input type="text" name="shipping_address" placeholder="Full Address...">', 'address1'],
  ['<input type="text" name="shipping_city" placeholder="City Name...">', 'city'],
  ['<input type="text" name="shipping_state" placeholder="State / Province...">', 'state'],
  ['<input type="text" name="shipping_zip" placeholder="Zip Code...">', 'postalCode'],
  ['<select name="shipping_country">', 'country'],
  ['<input type="text" name="full_name" placeholder="Full Name">', undefined],
  ['<input type="text" name="fullname">', undefined],
  ['<input type="text" name="postal_code" placeholder="Postal Code">', 'postalCode'],
  ['<input type="tel" name="number" placeholder="Credit Card Number">', undefined],
  ['<input type="text" name="code" autocomplete="one-time-code" maxlength="6" placeholder="Enter the code we texted you">', undefined],
];

/** Every input the outside review found misread, written as the review gave it. */
const MISREAD_BEFORE: Row[] = [
  ['<input type="tel" name="cv2" maxlength="4">', undefined],
  ['<input type="tel" name="cvd">', undefined],
  ['<input type="tel" name="cid">', undefined],
  ['<input type="tel" name="csv">', undefined],
  ['<input type="tel" name="securityNumber">', undefined],
  ['<input type="tel" name="verificationCode">', undefined],
  ['<input type="tel" name="pin">', undefined],
  ['<input type="tel" name="otp">', undefined],
  ['<input type="tel" name="otp" autocomplete="one-time-code">', undefined],
  ['<input type="tel" autocomplete="one-time-code">', undefined],
  ['<input type="tel" name="pan">', undefined],
  ['<input type="tel" name="number">', undefined],
  ['<input type="tel" name="mm">', undefined],
  ['<input type="tel" name="yy">', undefined],
  ['<input type="tel" name="validThru">', undefined],
  ['<input type="hidden" name="last4" value="4242">', undefined],
  ['<input type="hidden" name="first6" value="424242">', undefined],
  ['<input type="hidden" name="emailVerificationToken" value="a8f5f167f44f4964e6c998dee827110c">', undefined],
  ['<input type="hidden" name="telemetryKey" value="tk_91ab">', undefined],
  ['<input type="hidden" name="state" value="oauth-state-7f3a9c">', undefined],
];

/** Security codes named any other way seen on checkouts, and the same names copy-pasted beside a lead name. */
const SECURITY_CODES: Row[] = [
  ['<input type="tel" name="cvv2" maxlength="4">', undefined],
  ['<input type="tel" name="cvc2">', undefined],
  ['<input type="tel" name="card_cid">', undefined],
  ['<input type="tel" name="cardPIN">', undefined],
  ['<input type="password" name="atm_pin">', undefined],
  ['<input type="tel" name="PINNumber">', undefined],
  ['<input type="tel" name="pin_code">', undefined],
  ['<input type="tel" name="OTPCode">', undefined],
  ['<input type="text" name="totp" inputmode="numeric">', undefined],
  ['<input type="text" name="mfa_code">', undefined],
  ['<input type="text" name="sms_code" placeholder="One-time passcode">', undefined],
  ['<input type="text" name="expiry" placeholder="MM/YY">', undefined],
  ['<input type="text" name="card_expiry" placeholder="MMYY">', undefined],
  ['<input type="text" name="valid" placeholder="Valid thru">', undefined],
  ['<input type="month" name="expires">', undefined],
  ['<input type="tel" name="cv2" id="billing_phone" placeholder="Phone">', undefined],
  ['<input type="tel" name="phoneNumber" id="cvv">', undefined],
  ['<input type="tel" data-funnel-field="phoneNumber" name="otp">', undefined],
  ['<input type="hidden" data-funnel-field="emailAddress" name="email">', undefined],
  ['<input type="text" name="last4" placeholder="Last 4 digits">', undefined],
];

/** Lead fields whose names hold one of the short never-read words inside a longer word. */
const NOT_MISTAKEN: Row[] = [
  ['<input type="tel" name="shipping_phone" placeholder="Shipping phone">', 'phoneNumber'],
  ['<input type="text" name="city" id="city">', 'city'],
  ['<input type="text" name="pincode" placeholder="Pincode" maxlength="6">', 'postalCode'],
  ['<input type="email" name="companyEmail">', 'emailAddress'],
  ['<input type="email" name="email" placeholder="For shipping updates and our Pinterest picks">', 'emailAddress'],
  ['<input type="tel" name="mobile" maxlength="10" placeholder="Mobile">', 'phoneNumber'],
  ['<input type="text" name="telephone">', 'phoneNumber'],
  ['<input type="text" name="country" placeholder="e.g. Japan">', 'country'],
  ['<input type="text" name="shipping_opinion_email">', 'emailAddress'],
  ['<input type="text" name="spinner_zip">', 'postalCode'],
  ['<input type="text" name="description_city">', 'city'],
  ['<input type="text" name="telemetryKey">', undefined],
];

describe.each([
  ['Konnektive and Checkout Champ landers', KONNEKTIVE],
  ['Stripe Elements', STRIPE],
  ['Braintree hosted fields', BRAINTREE],
  ['WooCommerce', WOOCOMMERCE],
  ['Shopify checkout', SHOPIFY],
  ['ClickFunnels and HighLevel', FUNNEL_BUILDERS],
  ['inputs misread before', MISREAD_BEFORE],
  ['security codes', SECURITY_CODES],
  ['look-alike words', NOT_MISTAKEN],
])('classify: real markup, %s', (_, rows) => {
  it.each(rows)('%s → %s', (markup, field) => {
    expect(classify(reflect(markup))).toBe(field);
  });
});

describe('reflect: the table reads markup the way the DOM does', () => {
  it('lower-cases the type, reads unknown types as text, and selects and textareas by their tag', () => {
    expect(reflect('<input type="TEXT" name="a">').type).toBe('text');
    expect(reflect('<input type="phone" name="a">').type).toBe('text');
    expect(reflect('<select name="a">').type).toBe('select-one');
    expect(reflect('<textarea name="a">').type).toBe('textarea');
    expect(reflect('<input name="a">').maxLength).toBe(-1);
    expect(reflect('<input name="a" maxlength="4">').maxLength).toBe(4);
  });
});
