/**
 * @module fields
 * Which lead field an input holds, decided from its attributes alone (pure, unit-tested), and
 * the exclusions that hold whatever the configuration says.
 *
 * Real Konnektive landers name inputs after the API (`emailAddress`, `shipAddress1`,
 * `cardSecurityCode`), write `type="TEXT"`, rarely set `autocomplete`, and sometimes copy-paste
 * ids (a card input with `id="billing_fname"`). So every signal is read together, and a card-like
 * signal in any of them wins over everything else.
 */
import type { LeadField } from '../../collector/wire-schema.js';

/** The lead fields the collector accepts, with the longest value it takes for each. */
export const LIMITS: [LeadField, number][] = [
  ['firstName', 50],
  ['lastName', 50],
  ['emailAddress', 255],
  ['phoneNumber', 32],
  ['address1', 255],
  ['address2', 255],
  ['city', 100],
  ['state', 100],
  ['postalCode', 20],
  ['country', 64],
];

/**
 * Attributes that say what an input is, strongest first. `type` comes after name and id because
 * landers use `type="tel"` for a numeric keyboard on zip codes and card numbers.
 */
const SIGNALS = ['data-funnel-field', 'autocomplete', 'name', 'id', 'type', 'placeholder', 'aria-label'];

/**
 * Never captured: card number, expiry, CVV/CVC, passwords, bank accounts, SSNs, and
 * `autocomplete="cc-*"`; a placeholder shaped like a card number (`1234 5678 9012 3456`, `••••`)
 * or an expiry (`MM / YY`) counts too. Tested on the raw attributes so that `\b` sees word edges.
 */
const SENSITIVE =
  /card|\bcc|cc.?(num|exp|cv|cs)|cv[vcn2]|csc|secur|expir|exp.?[dmy]|pass|pwd|iban|bank|routing|acc(oun)?t.?(num|no)|(\b|_)ssn|social|\d{4}[ -]\d{4}[ -]\d|[•*]{4}|mm ?\/ ?yy/;

/**
 * Tested in order on each signal, lower-cased with separators removed (`ship_postal-code` →
 * `shippostalcode`). Order matters: `emailAddress` is an email before it is an address, and
 * `address-level2` is a city, not an `address2`.
 */
const RULES: [LeadField, RegExp][] = [
  ['emailAddress', /mail/],
  ['phoneNumber', /phone|tel|mobile|cell/],
  ['firstName', /first|fname|given/],
  ['lastName', /last|lname|surname|family/],
  ['postalCode', /zip|post(al|code)|pincode/],
  ['country', /country/],
  ['city', /city|town|level2/],
  ['state', /state|province|region|level1/],
  ['address2', /(addr\w*|line)2|apt|suite/],
  ['address1', /addr|street/],
];

/** The part of an element classification reads. */
export type Signals = Pick<Element, 'getAttribute'>;

/** The lead field an input holds, or `undefined` for anything else, sensitive inputs included. */
export function classify(element: Signals): LeadField | undefined {
  const signals = SIGNALS.map((name) => (element.getAttribute(name) || '').toLowerCase());
  if (SENSITIVE.test(signals.join(' '))) return;
  for (const signal of signals) {
    const word = signal.replace(/[^a-z\d]/g, '');
    for (const [field, pattern] of RULES) if (word && pattern.test(word)) return field;
  }
}

/**
 * A value that is a card number (13-19 digits, spaces or dashes allowed, passing the Luhn check):
 * the last net for a card input that no attribute gave away. Never sent, whatever field it is in.
 */
export function looksLikeCard(value: string): boolean {
  const digits = value.replace(/[\s-]/g, '');
  if (!/^\d{13,19}$/.test(digits)) return false;
  let sum = 0;
  for (let i = digits.length, double = 0; i--; double ^= 1) {
    const d = +digits[i]! << double;
    sum += d > 9 ? d - 9 : d;
  }
  return sum % 10 == 0;
}
