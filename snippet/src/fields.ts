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
 * The lead fields the collector takes, each with the pattern that recognises it and the longest
 * value the collector accepts. Patterns are tested in this order on each signal, lower-cased with
 * separators removed (`ship_postal-code` → `shippostalcode`): `emailAddress` is an email before
 * it is an address, and autocomplete's `address-level2` is a city, not an `address2`.
 */
export const FIELDS: [LeadField, RegExp, number][] = [
  ['emailAddress', /mail/, 255],
  ['phoneNumber', /phone|tel|mobile/, 32],
  ['firstName', /first|fname|given/, 50],
  ['lastName', /last|lname|surname|family/, 50],
  ['postalCode', /zip|postal|postcode/, 20],
  ['country', /country/, 64],
  ['city', /city|level2/, 100],
  ['state', /state|province|level1/, 100],
  ['address2', /(addr\w*|line)2|apt/, 255],
  ['address1', /addr|street/, 255],
];

/**
 * Attributes that say what an input is, strongest first. `type` comes after name and id because
 * landers use `type="tel"` for a numeric keypad on zip codes and card numbers.
 */
const SIGNALS = ['data-funnel-field', 'autocomplete', 'name', 'id', 'type', 'placeholder'];

/**
 * Never captured: card number, expiry, CVV/CVC, passwords, bank accounts, SSNs and
 * `autocomplete="cc-*"`; a placeholder shaped like a card number (`4242 4242 4242 4242`, `••••`)
 * or an expiry (`MM / YY`) gives a card input away too. Tested on the raw attributes, so that
 * `\b` sees word edges.
 */
const SENSITIVE =
  /card|\bcc|cc.?[nec]|cv[vcn2]|csc|sec(urity)?.?code|exp(ir|.?[dmy])|pass|pwd|iban|bank|routing|acc(oun)?t.?n|(\b|_)ssn|social|\d{4}[ -]\d{4}[ -]\d|[•*]{4}|mm ?\/ ?yy/;

/** The part of an element classification reads. */
export type Signals = Pick<Element, 'getAttribute'>;

/** The lead field an input holds; `undefined` for anything else, and always for a sensitive input. */
export const classify = (element: Signals): LeadField | undefined => {
  const signals = SIGNALS.map((name) => (element.getAttribute(name) || '').toLowerCase());
  if (!SENSITIVE.test(signals.join(' '))) {
    for (const signal of signals) {
      const word = signal.replace(/[^a-z\d]/g, '');
      for (const [field, pattern] of FIELDS) if (pattern.test(word)) return field;
    }
  }
};

/**
 * A value that is a card number (13-19 digits, spaces or dashes allowed, passing the Luhn check):
 * the last net for a card input that no attribute gave away. Never sent, whatever field it is in.
 */
export const looksLikeCard = (value: string): boolean => {
  const digits = value.replace(/[\s-]/g, '');
  let sum = 0;
  for (let i = digits.length, double = 0; i--; double ^= 1) {
    const d = +digits[i]! << double;
    sum += d > 9 ? d - 9 : d;
  }
  return /^\d{13,19}$/.test(digits) && sum % 10 == 0;
};
