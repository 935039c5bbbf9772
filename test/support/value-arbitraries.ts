/**
 * fast-check generators for the card filter's property tests: card numbers of every brand in
 * `credit-card-type`'s table, and the real data that must never be taken for one (ad, click and
 * campaign ids, international phone numbers, emails with digit runs).
 */
import fc from 'fast-check';
import creditCardType from 'credit-card-type';
import { getCountries, getExampleNumber, parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js/max';
import examples from 'libphonenumber-js/examples.mobile.json';
import { isCardDigits, passesLuhn } from '../../collector/card-filter.js';

/** `body` plus the digit that makes it pass Luhn. */
export function withCheckDigit(body: string): string {
  for (let d = 0; d < 10; d++) if (passesLuhn(body + d)) return body + d;
  throw new Error('unreachable');
}

const digits = (min: number, max: number) => fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: min, maxLength: max });

export interface GeneratedCard {
  brand: string;
  digits: string;
  /** As a person might write it: no separators, or groups split by spaces or dashes. */
  written: string;
}

/** One arbitrary per brand: a prefix from the brand's table, one of its lengths, a Luhn check digit. */
export const cardOfBrand = (type: string): fc.Arbitrary<GeneratedCard> => {
  const info = creditCardType.getTypeInfo(type);
  const prefix = fc.constantFrom(...info.patterns).chain((pattern) =>
    Array.isArray(pattern) ? fc.integer({ min: pattern[0]!, max: pattern[1]! }).map(String) : fc.constant(String(pattern)),
  );
  const length = fc.constantFrom(...info.lengths.filter((n) => n >= 13));
  return fc
    .tuple(prefix, length, digits(19, 19), fc.constantFrom('', ' ', '-'), fc.boolean())
    .map(([head, len, fill, separator, brandGaps]) => {
      const number = withCheckDigit((head + fill).slice(0, len - 1));
      const gaps = brandGaps ? info.gaps : [4, 8, 12, 16];
      let written = '';
      for (let i = 0; i < number.length; i++) written += (separator && gaps.includes(i) ? separator : '') + number[i];
      return { brand: type, digits: number, written };
    });
};

export const CARD_BRANDS = Object.values(creditCardType.types).filter((type) => creditCardType.getTypeInfo(type).lengths.some((n) => n >= 13));

/** A card number of any brand. */
export const anyCard = fc.constantFrom(...CARD_BRANDS).chain(cardOfBrand);

/**
 * Numeric ids of 13-19 digits that pass Luhn but have no card brand's prefix and length:
 * Facebook-style ad, ad set and campaign ids (`238…`, `120…`, 17-18 digits), and numeric
 * campaign or click ids of any shape.
 */
export const numericId = fc
  .oneof(
    fc.tuple(fc.constantFrom('2385', '2386', '238', '120', '1202'), digits(13, 15)).map(([head, rest]) => head + rest),
    digits(12, 18),
  )
  .map((body) => withCheckDigit(body.slice(0, 18)))
  .filter((id) => id.length >= 13 && !isCardDigits(id));

/** Click ids with a numeric id glued to letters (`fb.1.` cookies, gclid-like): letters, digits, `_`. */
export const clickId = fc
  .tuple(fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'), minLength: 1, maxLength: 4 }), numericId, fc.string({ unit: fc.constantFrom(...'abcdefXYZ_'), maxLength: 20 }))
  .map(([head, id, tail]) => head + id + tail);

/** A query parameter name an ad platform or a lander uses for ids. */
export const idParam = fc.constantFrom('utm_content', 'utm_term', 'utm_campaign', 'utm_id', 'fbclid', 'gclid', 'ad_id', 'adset_id', 'campaign_id', 'c1', 'c2', 'c3', 'sub1', 'click_id');

const COUNTRIES = getCountries().filter((country) => getExampleNumber(country, examples) !== undefined);

/**
 * Valid phone numbers of many countries: each country's example mobile number with its last
 * digits varied (kept only while still valid), written in international form.
 */
export const internationalPhone = fc
  .tuple(fc.constantFrom(...COUNTRIES), digits(3, 3), fc.constantFrom('international', 'e164', 'dashes'))
  .map(([country, tail, style]) => {
    const example = getExampleNumber(country as CountryCode, examples)!;
    const national = example.nationalNumber.slice(0, -3) + tail;
    const varied = parsePhoneNumberFromString(`+${example.countryCallingCode}${national}`);
    const phone = varied?.isValid() ? varied : example;
    if (style === 'e164') return phone.number;
    const international = phone.formatInternational();
    return style === 'dashes' ? international.replace(/ /g, '-') : international;
  });

/** Emails whose local part holds a digit run that is no card number. */
export const emailWithDigits = fc
  .tuple(
    fc.constantFrom('ann', 'bob.lee', 'k', 'orders', 'mrs_smith'),
    fc.constantFrom('.', '_', '-', '+', ''),
    fc.oneof(numericId, digits(1, 12), digits(20, 24)),
    fc.constantFrom('', '.x', '-x', '_2'),
    fc.constantFrom('example.com', 'mail.example.org', 'gmx.de', 'example.co.uk'),
  )
  .map(([name, separator, run, tail, domain]) => `${name}${separator}${run}${tail}@${domain}`);
