/**
 * @module normalise
 * The buyer's fields as the ad platforms match them: normalised the way Meta's customer
 * information parameters ask (reference conversions.md 2.1) and hashed with SHA-256 as lowercase
 * hex. A platform can only match a hash of exactly the string it hashed itself, so each field has
 * one rule, applied the same way for every conversion and every platform that shares it (TikTok
 * hashes the same email; its phone is this phone in E.164, see {@link e164Phone}).
 *
 * A field that is empty once normalised is absent, never the hash of an empty string: that hash
 * matches nobody and would only lower the event's match quality.
 */
import { createHash } from 'node:crypto';
import type { Conversion } from './conversion.js';

export const sha256Hex = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');

/** Letters of any script (and their combining marks), nothing else. */
const NOT_LETTER = /[^\p{L}\p{M}]/gu;
const NOT_LETTER_OR_DIGIT = /[^\p{L}\p{M}\p{N}]/gu;
/** Loose on purpose: a typo's hash matches nobody, but the shape of an address is enough to try. */
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

const present = (value: string): string | undefined => (value === '' ? undefined : value);

/** Trimmed and lowercased; absent when it is not shaped like an address. */
export function normaliseEmail(email: string | undefined): string | undefined {
  const value = email?.trim().toLowerCase() ?? '';
  return EMAIL.test(value) ? value : undefined;
}

/**
 * Calling codes of the countries funnels sell to most, with the national trunk prefix a number
 * typed nationally starts with (`020 7946 0958` in GB is `44 20 7946 0958`). Italy keeps its
 * leading 0 after the code; Spain and Mexico have no trunk prefix; North America's is the `1`
 * that is also its calling code.
 */
const CALLING_CODES: Record<string, { code: string; trunk?: string }> = {
  US: { code: '1' },
  CA: { code: '1' },
  GB: { code: '44', trunk: '0' },
  AU: { code: '61', trunk: '0' },
  DE: { code: '49', trunk: '0' },
  FR: { code: '33', trunk: '0' },
  ES: { code: '34' },
  IT: { code: '39' },
  NL: { code: '31', trunk: '0' },
  IE: { code: '353', trunk: '0' },
  NZ: { code: '64', trunk: '0' },
  MX: { code: '52' },
  BR: { code: '55', trunk: '0' },
};

/** Digits with the country code, and whether that code is known rather than assumed absent. */
function phoneDigits(phone: string | undefined, country: string | undefined): { digits: string; international: boolean } | undefined {
  const typed = phone?.trim() ?? '';
  const digits = typed.replace(/\D/g, '');
  if (digits === '') return undefined;
  // `+44…` and `0044…` carry their country code already.
  if (/^[+\uFF0B]/.test(typed)) return { digits, international: true };
  if (digits.startsWith('00')) return present(digits.slice(2)) === undefined ? undefined : { digits: digits.slice(2), international: true };
  const known = CALLING_CODES[country?.trim().toUpperCase() ?? ''];
  if (known === undefined) return { digits, international: false };
  // A North American number typed as `1 415 555 2671` already starts with its code.
  if (known.code === '1' && digits.length === 11 && digits.startsWith('1')) return { digits, international: true };
  const national = known.trunk !== undefined && digits.startsWith(known.trunk) ? digits.slice(known.trunk.length) : digits;
  return national === '' ? undefined : { digits: known.code + national, international: true };
}

/**
 * Digits only, with the country code: a number typed without one (no `+`, no `00`) gets the
 * calling code of the lead's country when that is in the table; otherwise its digits are hashed
 * as typed (Meta still matches some of those; guessing a code would match nobody).
 */
export function normalisePhone(phone: string | undefined, country?: string): string | undefined {
  return phoneDigits(phone, country)?.digits;
}

/**
 * The phone in E.164 (`+14155552671`), as TikTok hashes it; absent when its country code is
 * unknown, since a `+` before a national number names another country's subscriber.
 */
export function e164Phone(phone: string | undefined, country?: string): string | undefined {
  const parsed = phoneDigits(phone, country);
  return parsed?.international ? `+${parsed.digits}` : undefined;
}

/** First and last names: lowercase letters of any script (`José` stays `josé`), no spaces or punctuation. */
export function normaliseName(name: string | undefined): string | undefined {
  return present((name ?? '').normalize('NFC').toLowerCase().replace(NOT_LETTER, ''));
}

/** Lowercase letters only: `New York` → `newyork`. */
export function normaliseCity(city: string | undefined): string | undefined {
  return present((city ?? '').normalize('NFC').toLowerCase().replace(NOT_LETTER, ''));
}

/**
 * Lowercase without spaces or punctuation, as typed (`CA` → `ca`, `Île-de-France` →
 * `îledefrance`); a full US state name is not turned into its code. Digits stay: some countries'
 * regions are numbered.
 */
export function normaliseState(state: string | undefined): string | undefined {
  return present((state ?? '').normalize('NFC').toLowerCase().replace(NOT_LETTER_OR_DIGIT, ''));
}

/**
 * Lowercase without spaces or dashes (`SW1A 1AA` → `sw1a1aa`); in the US (or with no country, for
 * a ZIP+4 such as `94103-1234`) the first five digits.
 */
export function normaliseZip(zip: string | undefined, country?: string): string | undefined {
  const typed = zip?.trim() ?? '';
  const us = normaliseCountry(country) === 'us' || (normaliseCountry(country) === undefined && /^\d{5}(-?\d{4})?$/.test(typed));
  if (us) return present(typed.replace(/\D/g, '').slice(0, 5));
  return present(typed.normalize('NFC').toLowerCase().replace(NOT_LETTER_OR_DIGIT, ''));
}

/** ISO 3166 alpha-2 in lowercase; anything else is absent. */
export function normaliseCountry(country: string | undefined): string | undefined {
  const value = country?.trim().toLowerCase() ?? '';
  return /^[a-z]{2}$/.test(value) ? value : undefined;
}

/** The advertiser's own id, trimmed and otherwise as given (it is never typed by the buyer). */
export function normaliseExternalId(id: string | undefined): string | undefined {
  return present(id?.trim() ?? '');
}

const hashed = (value: string | undefined): string | undefined => (value === undefined ? undefined : sha256Hex(value));

/** Meta's `user_data` hash keys: each one SHA-256 of the normalised field, absent when empty. */
export interface HashedUserFields {
  em?: string;
  ph?: string;
  fn?: string;
  ln?: string;
  ct?: string;
  st?: string;
  zp?: string;
  country?: string;
  external_id?: string;
}

/** Every personal field of the buyer, normalised and hashed; absent keys are left out. */
export function hashUserFields(user: Conversion['user']): HashedUserFields {
  const fields: HashedUserFields = {
    em: hashed(normaliseEmail(user.email)),
    ph: hashed(normalisePhone(user.phone, user.country)),
    fn: hashed(normaliseName(user.firstName)),
    ln: hashed(normaliseName(user.lastName)),
    ct: hashed(normaliseCity(user.city)),
    st: hashed(normaliseState(user.state)),
    zp: hashed(normaliseZip(user.postalCode, user.country)),
    country: hashed(normaliseCountry(user.country)),
    external_id: hashed(normaliseExternalId(user.externalId)),
  };
  return Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined)) as HashedUserFields;
}
