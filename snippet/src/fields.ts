/**
 * @module fields
 * Which lead field an input holds, decided from its attributes alone (pure, unit-tested), and
 * the exclusions that hold whatever the configuration says.
 *
 * Real Konnektive landers name inputs after the API (`emailAddress`, `shipAddress1`,
 * `cardSecurityCode`), write `type="TEXT"`, rarely set `autocomplete`, and sometimes copy-paste
 * ids (a card input with `id="billing_fname"`). So all signals are read together, and a card-like
 * signal in any of them wins over everything else.
 */
import type { LeadField } from '../../collector/wire-schema.js';

/**
 * The lead fields the collector takes, each with the pattern that recognises it. Patterns are
 * tested in this order on each signal, split into lower-case words (`ship_postal-code` and
 * `shipPostalCode` → `ship postal code`): `emailAddress` is an email before it is an address, and
 * autocomplete's `address-level2` is a city, not an `address2`. A phone is said by name: `tel`
 * counts only as a word of its own (autocomplete's `tel`, `billing tel`, `tel-national`), never
 * inside one (`telemetryKey`, `hotel`), and never as an input's type, which landers also give to
 * zip codes, card numbers and CVVs for the numeric keypad. `fname` and `lname` count only at a
 * word's start (`billing_lname`, not `fullname`).
 */
export const FIELDS: [LeadField, RegExp][] = [
  ['emailAddress', /mail/],
  ['phoneNumber', /phone|mobile|\btel\d*\b/],
  ['firstName', /first|\bfname|given/],
  ['lastName', /last|\blname|family|surname/],
  ['postalCode', /zip|postal|post ?code|pincode/],
  ['country', /country/],
  ['city', /city|level2/],
  ['state', /state|province|level1/],
  ['address2', /(addr\w*|line) ?2/],
  ['address1', /addr|street/],
];

/**
 * Never captured, in any signal: card number, expiry, CVV/CVC, PINs, one-time and verification
 * codes, passwords, bank accounts, SSNs and `autocomplete="cc-*"`; a placeholder shaped like a
 * card number (`4242 4242 4242 4242`, `••••`) or an expiry (`MM / YY`) gives a card input away
 * too. The short names (`cid`, `csv`, `pin`, `otp`, `pan`, `mm`, `yy`...) count only as whole
 * words, so that `city`, `shipping`, `spinner`, `Pinterest`, `company` or India's `pincode` stay
 * what they are; the unmistakable ones (`cvv`, `cv2`, `card`, `exp`...) count anywhere.
 */
const NEVER =
  /card|\bcc|cc ?n|cv[vcnd\d]|csc|sec\w* ?(code|num)|one ?time|verif|exp|pass|pwd|iban|bank|routing|acc(oun)?t ?n|ssn|social|\b(cid|csv|t?otp|pin|pan|(mm|yy)+|thru|[2m]fa|last ?4|first ?6)\d*\b|\d{4} \d{4} \d{4}|[•*]{4}/;

/**
 * The only input types a visitor types contact details into: text, tel, textarea, email, number,
 * search, select. Never read: hidden inputs (a page's own state: tokens, ids, `last4`),
 * passwords, checkboxes and radio buttons (an `emailOptIn` box is no email), dates and months (a
 * card's expiry), files and buttons.
 */
const TYPED = /^(te|em|nu|se)/;

/** The part of an input classification reads. */
export type Signals = Pick<HTMLInputElement, 'name' | 'id' | 'type' | 'autocomplete' | 'placeholder' | 'maxLength'> & {
  dataset: { funnelField?: string };
};

/** `cardSecurityCode`, `PINNumber`, `checkout[shipping_address][zip]` → `card security code`, `pin number`, `checkout shipping address zip`. */
const words = (signal?: string): string =>
  (signal || '')
    .replace(/([a-z\d])([A-Z])|([A-Z])([A-Z][a-z])/g, '$1$3 $2$4')
    .toLowerCase()
    .replace(/[^a-z\d•*]+/g, ' ');

/** The lead field an input holds; `undefined` for anything else, and always for a sensitive input. */
export const classify = (element: Signals): LeadField | undefined => {
  const type = words(element.type);
  // What says what an input is, strongest first: `data-funnel-field`, autocomplete, name, id,
  // type (an email input is an email; a tel input says nothing, see FIELDS), placeholder.
  const signals = [element.dataset.funnelField, element.autocomplete, element.name, element.id, type == 'tel' ? '' : type, element.placeholder].map(words);
  if (TYPED.test(type) && !NEVER.test(signals.join(' '))) {
    for (const signal of signals) {
      for (const [field, pattern] of FIELDS) {
        // A field that takes fewer than 7 characters holds no phone number (a CVV, a PIN, an area code).
        if (pattern.test(signal)) return field == 'phoneNumber' && element.maxLength > -1 && element.maxLength < 7 ? undefined : field;
      }
    }
  }
};
