/**
 * @module card-filter
 * The collector's last line of defence for card data: the snippet never captures card fields,
 * but a lander may put a card number where we do not expect one (a "notes" field, a URL).
 *
 * A number is a card number only when it passes the Luhn check **and** has the prefix and length
 * of a real card brand (braintree's `credit-card-type` table), written with or without single
 * spaces or dashes between its digits. Ad, click and campaign ids, phone numbers and the digits
 * in an email pass Luhn one time in ten; without a brand's prefix and length they are not cards.
 *
 * A value is kept whole or dropped whole, never spliced:
 * - a lead field or product name holding a card number anywhere is dropped;
 * - the phone field holding a valid phone number (libphonenumber-js) is a phone and is kept;
 * - in a URL (page, referrer, and so the landing URL), a query parameter whose whole value is a
 *   card number is removed, and the rest of the URL is kept byte for byte; a card number anywhere
 *   else in the URL (path, fragment, parameter name, inside a longer value) drops the whole URL.
 */

import creditCardType from 'credit-card-type';
import { parsePhoneNumberFromString } from 'libphonenumber-js/max';
import type { FunnelEvent, LeadField } from './wire-schema.js';

/**
 * Digit runs that may be card numbers: 13-19 digits, separated by single spaces or dashes, not
 * glued to letters or digits (so the digit groups inside a UUID or a hex id are not taken).
 */
const CANDIDATE = /(?<![A-Za-z0-9])\d(?:[ -]?\d){12,}(?![A-Za-z0-9])/g;
/** A value that is one number and nothing else, digits with single spaces or dashes between. */
const WHOLE_NUMBER = /^\d(?:[ -]?\d)*$/;

export function passesLuhn(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return sum % 10 === 0;
}

type Pattern = number | [number, number];
interface Brand {
  type: string;
  patterns: Pattern[];
  lengths: number[];
}

/** Every brand `credit-card-type` knows, read once. */
const BRANDS: Brand[] = Object.values(creditCardType.types).map((type) => {
  const info = creditCardType.getTypeInfo(type);
  return { type: info.type, patterns: info.patterns as Pattern[], lengths: info.lengths };
});

function hasPrefix(digits: string, pattern: Pattern): boolean {
  if (typeof pattern === 'number') return digits.startsWith(String(pattern));
  const [min, max] = pattern;
  const width = String(min).length;
  if (digits.length < width) return false;
  const head = Number(digits.slice(0, width));
  return head >= min && head <= max;
}

/**
 * The brands whose prefix and length `digits` has. Every brand is tried (not only the library's
 * best match): a 19-digit number starting 401178 is no Elo card (16 digits) but is a Visa one.
 */
export function cardBrands(digits: string): string[] {
  return BRANDS.filter((brand) => brand.lengths.includes(digits.length) && brand.patterns.some((pattern) => hasPrefix(digits, pattern))).map(
    (brand) => brand.type,
  );
}

/** Digits only: passes Luhn and has a real brand's prefix and length. */
export function isCardDigits(digits: string): boolean {
  return digits.length >= 13 && digits.length <= 19 && /^\d+$/.test(digits) && passesLuhn(digits) && cardBrands(digits).length > 0;
}

/**
 * A run is a card number when it is one, or when a card number is written inside it as whole
 * groups: "4111 1111 1111 1111 12 25" (card, then the expiry) is a run of 20 digits, but its
 * first four groups are a card.
 */
function runHoldsCard(candidate: string): boolean {
  const groups = candidate.split(/[ -]/);
  for (let first = 0; first < groups.length; first++) {
    let digits = '';
    for (let last = first; last < groups.length; last++) {
      digits += groups[last];
      if (digits.length > 19) break;
      if (digits.length >= 13 && isCardDigits(digits)) return true;
    }
  }
  return false;
}

/** Whether a card number is written anywhere in `text`. */
export function containsCardNumber(text: string): boolean {
  for (const match of text.matchAll(CANDIDATE)) if (runHoldsCard(match[0])) return true;
  return false;
}

/** Whether `text` is a card number and nothing else (spaces or dashes allowed between digits). */
export function isWholeCardNumber(text: string): boolean {
  const trimmed = text.trim();
  return WHOLE_NUMBER.test(trimmed) && isCardDigits(trimmed.replace(/[ -]/g, ''));
}

/**
 * A valid phone number written in international form (`+49 1512 3456787`): such a value in the
 * phone field is a phone. Only the international form counts: read as a national number of some
 * countries (Germany, Austria), many card numbers are valid phone numbers too. National numbers
 * need no help: they start with a trunk prefix 0, which no card brand does, or are too short.
 */
export function isValidPhone(value: string): boolean {
  // Without a plus sign (or the full-width one, or a `phone-context=+…`) there is no country
  // calling code and, with no default country, no valid number. Said here before parsing: on a
  // national number the library throws and catches a ParseError, which was 8% of the collector's
  // CPU under a load of lead updates.
  if (!value.includes('+') && !value.includes('\uFF0B')) return false;
  try {
    return parsePhoneNumberFromString(value)?.isValid() ?? false;
  } catch {
    return false;
  }
}

/**
 * `+` as space and ASCII percent escapes decoded, for finding digits, spaces and dashes that a
 * URL encodes. Never throws on a malformed escape (it is left as it is).
 */
function decodeForSearch(text: string): string {
  return text.replace(/\+/g, ' ').replace(/%([0-7][0-9A-Fa-f])/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

export interface UrlScrubResult {
  /** The URL as it was, or with the card-number parameters removed; `undefined` when dropped whole. */
  value: string | undefined;
  /** Names of the query parameters removed (as written, decoded), one per parameter. */
  removedParams: string[];
  /** Set when a card number sat elsewhere in the URL and the whole URL was dropped. */
  droppedWhole: boolean;
}

/**
 * Removes every query parameter whose whole value is a card number; the rest of the URL is kept
 * byte for byte (order, encoding, empty parameters, fragment). A card number anywhere else drops
 * the whole URL.
 */
export function scrubUrl(url: string): UrlScrubResult {
  const hashAt = url.indexOf('#');
  const beforeHash = hashAt === -1 ? url : url.slice(0, hashAt);
  const fragment = hashAt === -1 ? '' : url.slice(hashAt);
  const queryAt = beforeHash.indexOf('?');
  const removedParams: string[] = [];
  let kept = url;
  if (queryAt !== -1) {
    const base = beforeHash.slice(0, queryAt);
    const parts = beforeHash.slice(queryAt + 1).split('&');
    const remaining = parts.filter((part) => {
      const eq = part.indexOf('=');
      if (eq === -1) return true;
      if (!isWholeCardNumber(decodeForSearch(part.slice(eq + 1)))) return true;
      removedParams.push(decodeForSearch(part.slice(0, eq)));
      return false;
    });
    if (removedParams.length > 0) {
      const query = remaining.join('&');
      kept = base + (query === '' ? '' : `?${query}`) + fragment;
    }
  }
  if (containsCardNumber(kept) || containsCardNumber(decodeForSearch(kept))) {
    return { value: undefined, removedParams, droppedWhole: true };
  }
  return { value: kept, removedParams, droppedWhole: false };
}

/** One card number found: where (`field`) and, in a URL, which query parameter (`param`). */
export interface CardDrop {
  /** A lead field name, `url`, `referrer` or `item_name`. */
  field: string;
  /** The query parameter removed from a URL; absent when the whole value was dropped. */
  param?: string;
}

/**
 * Applies the rules above to one event, in place. Lead fields and product names holding a card
 * number are removed; a page URL dropped whole becomes empty (the page view itself is kept); a
 * referrer dropped whole is removed. Ids are validated formats and are left alone.
 * Returns what was dropped, one entry per value or parameter.
 */
export function scrubEvent(event: FunnelEvent): CardDrop[] {
  const drops: CardDrop[] = [];
  const url = (field: 'url' | 'referrer', value: string): string | undefined => {
    const result = scrubUrl(value);
    for (const param of result.removedParams) drops.push({ field, param });
    if (result.droppedWhole) drops.push({ field });
    return result.value;
  };
  switch (event.type) {
    case 'lead': {
      const fields = event.fields;
      for (const [field, value] of Object.entries(fields) as [LeadField, string | undefined][]) {
        if (value === undefined) continue;
        if (field === 'phoneNumber' && isValidPhone(value)) continue;
        if (!containsCardNumber(value)) continue;
        delete fields[field];
        drops.push({ field });
      }
      break;
    }
    case 'page':
      event.url = url('url', event.url) ?? '';
      if (event.referrer !== undefined) {
        const referrer = url('referrer', event.referrer);
        if (referrer === undefined) delete event.referrer;
        else event.referrer = referrer;
      }
      break;
    case 'cart':
      for (const item of event.items) {
        if (item.name === undefined || !containsCardNumber(item.name)) continue;
        delete item.name;
        drops.push({ field: 'item_name' });
      }
      break;
    case 'order':
    case 'exit':
      break;
  }
  return drops;
}

/** Query parameter names are chosen by whoever builds the URL: keep the label set small. */
const SAFE_PARAM = /^[A-Za-z0-9_.-]{1,32}$/;

/**
 * Metric labels for dropped card numbers, with at most `maxParams` distinct parameter names
 * (others, and names that are long or unusual, are counted as `other`).
 */
export function cardDropLabeller(maxParams = 20): (drop: CardDrop) => { field: string; param: string } {
  const seen = new Set<string>();
  return ({ field, param }) => {
    if (param === undefined) return { field, param: '' };
    if (!SAFE_PARAM.test(param)) return { field, param: 'other' };
    if (!seen.has(param)) {
      if (seen.size >= maxParams) return { field, param: 'other' };
      seen.add(param);
    }
    return { field, param };
  };
}
