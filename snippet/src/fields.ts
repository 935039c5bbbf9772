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
 * tested in this order on each signal, lower-cased with separators removed (`ship_postal-code`
 * → `shippostalcode`): `emailAddress` is an email before it is an address, and autocomplete's
 * `address-level2` is a city, not an `address2`.
 */
export const FIELDS: [LeadField, RegExp][] = [
  ['emailAddress', /mail/],
  ['phoneNumber', /phone|tel/],
  ['firstName', /first|fname|given/],
  ['lastName', /last|lname|family/],
  ['postalCode', /zip|postal/],
  ['country', /country/],
  ['city', /city|level2/],
  ['state', /state|level1/],
  ['address2', /(addr\w*|line)2/],
  ['address1', /addr|street/],
];

/**
 * Never captured: card number, expiry, CVV/CVC, passwords, bank accounts, SSNs and
 * `autocomplete="cc-*"`; a placeholder shaped like a card number (`4242 4242 ...`, `••••`) or an
 * expiry (`MM / YY`) gives a card input away too. Nor are checkboxes and radio buttons, whose
 * value is not typed (an `emailOptIn` box is no email).
 */
const NEVER = /checkbox|radio|card|\bcc|cc.?n|cv[vcn]|csc|sec(urity)?.?code|exp|pass|pwd|iban|bank|routing|acc(oun)?t.?n|ssn|social|\d{4} \d{4}|[•*]{4}|mm ?\/ ?yy/;

/** The part of an input classification reads. */
export type Signals = Pick<HTMLInputElement, 'name' | 'id' | 'type' | 'autocomplete' | 'placeholder'> & {
  dataset: { funnelField?: string };
};

/** The lead field an input holds; `undefined` for anything else, and always for a sensitive input. */
export const classify = (element: Signals): LeadField | undefined => {
  // What says what an input is, strongest first: `data-funnel-field`, autocomplete, name, id,
  // type, placeholder. `type` comes after name and id because landers use `type="tel"` for a
  // numeric keypad on zip codes and card numbers.
  const signals = [element.dataset.funnelField, element.autocomplete, element.name, element.id, element.type, element.placeholder].map(
    (signal) => (signal || '').toLowerCase(),
  );
  if (!NEVER.test(signals.join(' '))) {
    for (const signal of signals) {
      const word = signal.replace(/[^a-z\d]/g, '');
      for (const [field, pattern] of FIELDS) if (pattern.test(word)) return field;
    }
  }
};
