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
 * Every string field of every event type is filtered: the fields are read from the wire schema
 * (see {@link scrubEvent}), not listed here. A value is kept whole or dropped whole, never spliced:
 * - a value holding a card number anywhere is dropped: a lead field, any field of a cart item
 *   (its name, SKU, category, description), the currency;
 * - the phone field holding a valid phone number (libphonenumber-js) is a phone and is kept;
 * - in a URL (a page's URL and referrer, and so the landing URL; a cart item's `imageUrl` and
 *   `productUrl`), a query parameter whose whole value is a card number is removed, and the rest
 *   of the URL is kept byte for byte; a card number anywhere else in the URL (path, fragment,
 *   parameter name, inside a longer value) drops the whole URL;
 * - a card number in a value no event is valid without (a cart item's `id`, an order's `orderId`)
 *   refuses the request (the route answers a 400 that names the field): nothing of the batch is
 *   stored. Inventing
 *   a value, or removing the item or the order, would send ActiveCampaign and Konnektive a wrong
 *   cart or order; a lander that does this is misconfigured and should hear of it;
 * - the event `id`, a UUID the snippet draws, is not scanned: one random UUID in about 26,600
 *   holds a digit run that reads as a card number (measured on 5,000,000), and refusing those
 *   would drop a valid batch in about 2,600.
 */

import creditCardType from 'credit-card-type';
import { parsePhoneNumberFromString } from 'libphonenumber-js/max';
import { FunnelEvent } from './wire-schema.js';

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

/**
 * Whether `text` holds at least 13 digits, the fewest a card number has. Most values (names,
 * product fields, most URLs) have fewer, and are answered without running the pattern. Decoding a
 * URL's escapes never adds digits: `%34` is the digits 3 and 4 before it is the digit 4 after.
 */
function hasCardManyDigits(text: string): boolean {
  let digits = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code >= 48 && code <= 57 && ++digits >= 13) return true;
  }
  return false;
}

/** Whether a card number is written anywhere in `text`. */
export function containsCardNumber(text: string): boolean {
  if (!hasCardManyDigits(text)) return false;
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
  if (!hasCardManyDigits(url)) return { value: url, removedParams: [], droppedWhole: false };
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
  /**
   * The field's name: a lead field's as it is (`address2`), a cart item's prefixed `item_`
   * (`item_sku`), any other as it is (`url`, `referrer`, `orderId`).
   */
  field: string;
  /** The query parameter removed from a URL; absent when the whole value was dropped. */
  param?: string;
  /**
   * Set when the value is one no event is valid without, so the request must be refused: what to
   * tell the lander. Scrubbing stops there; nothing of the batch may be stored.
   */
  refused?: string;
}

/** How one string field of an event is read, derived from the wire schema. */
interface StringField {
  key: string;
  /** The metric label ({@link CardDrop.field}). */
  label: string;
  /** A URL (`url`, `referrer`, `…Url`): only a parameter that is a card number goes. */
  url: boolean;
  /** The phone field: a valid international phone number is a phone. */
  phone: boolean;
  /** Dropping the value removes the key. */
  optional: boolean;
  /** A required field whose schema takes an empty string: dropping the value empties it. */
  emptyOk: boolean;
}

interface Shape {
  strings: StringField[];
  objects: { key: string; shape: Shape }[];
  arrays: { key: string; element: Shape }[];
}

interface ZodLike {
  _zod: { def: { type: string; format?: string; innerType?: ZodLike; in?: ZodLike; element?: ZodLike; shape?: Record<string, ZodLike> } };
  safeParse(value: unknown): { success: boolean };
}

/**
 * The string fields of one event type, found by walking its schema once: every string is
 * scanned but a UUID (the snippet's event id: one random UUID in about 26,600 holds a digit run
 * that reads as a card, and it is no value a person types). Enums and literals are not free text.
 */
function shapeOf(object: ZodLike, prefix: string): Shape {
  const shape: Shape = { strings: [], objects: [], arrays: [] };
  for (const [key, field] of Object.entries(object._zod.def.shape ?? {})) {
    let inner = field;
    let optional = false;
    for (;;) {
      const def = inner._zod.def;
      if (def.type === 'optional' || def.type === 'default' || def.type === 'nullable') optional ||= def.type === 'optional';
      else if (def.type !== 'pipe') break;
      inner = (def.type === 'pipe' ? def.in : def.innerType)!;
    }
    const def = inner._zod.def;
    if (def.type === 'string' && def.format !== 'uuid') {
      shape.strings.push({
        key,
        label: prefix + key,
        url: key === 'url' || key === 'referrer' || key.endsWith('Url'),
        phone: key === 'phoneNumber',
        optional,
        emptyOk: !optional && field.safeParse('').success,
      });
    } else if (def.type === 'object') {
      shape.objects.push({ key, shape: shapeOf(inner, prefix) });
    } else if (def.type === 'array' && def.element?._zod.def.type === 'object') {
      shape.arrays.push({ key, element: shapeOf(def.element, `${key.replace(/s$/, '')}_`) });
    } else if (!NOT_TEXT.has(def.type) && def.format !== 'uuid') {
      // A shape added to the schema that this walk does not know could carry text past the
      // filter: fail loudly (the card filter's tests walk every event type) instead.
      throw new Error(`card filter: ${prefix}${key} is a ${def.type} field, which scrubEvent does not know how to walk`);
    }
  }
  return shape;
}

/** Schema types that hold no free text. */
const NOT_TEXT = new Set(['number', 'boolean', 'literal', 'enum']);

let shapes: Map<string, Shape> | undefined;
/** Built on the first event, once. */
function shapeOfEvent(type: string): Shape {
  shapes ??= new Map(
    (FunnelEvent.options as unknown as ZodLike[]).map((option) => [
      String((option._zod.def.shape!.type as unknown as { value: string }).value),
      shapeOf(option, ''),
    ]),
  );
  return shapes.get(type)!;
}

/** Scrubs `object` in place; `false` once a value refuses the request (its drop says why). */
function scrubObject(object: Record<string, unknown>, shape: Shape, path: string, type: string, drops: CardDrop[]): boolean {
  for (const field of shape.strings) {
    const value = object[field.key];
    if (typeof value !== 'string' || value === '') continue;
    if (field.url) {
      const result = scrubUrl(value);
      for (const param of result.removedParams) drops.push({ field: field.label, param });
      if (!result.droppedWhole) {
        if (result.value !== value) object[field.key] = result.value;
        continue;
      }
    } else if (!containsCardNumber(value) || (field.phone && isValidPhone(value))) {
      // The cheap test first: the phone library is asked only about a value holding a card.
      continue;
    }
    if (field.optional) delete object[field.key];
    else if (field.emptyOk) object[field.key] = '';
    else {
      const refused = `${path}${field.key} of ${/^[aeiou]/.test(type) ? 'an' : 'a'} ${type} event holds a card number, which the collector never stores, and no ${type} event is valid without it: nothing of this batch was stored.`;
      drops.push({ field: field.label, refused });
      return false;
    }
    drops.push({ field: field.label });
  }
  for (const { key, shape: inner } of shape.objects) {
    const value = object[key];
    if (value !== null && typeof value === 'object' && !scrubObject(value as Record<string, unknown>, inner, `${path}${key}.`, type, drops)) return false;
  }
  for (const { key, element } of shape.arrays) {
    const value = object[key];
    if (!Array.isArray(value)) continue;
    for (let i = 0; i < value.length; i++) {
      if (!scrubObject(value[i] as Record<string, unknown>, element, `${path}${key}.${i}.`, type, drops)) return false;
    }
  }
  return true;
}

/**
 * Applies the rules above to every string field of one event, in place, walking the wire
 * schema's fields (so a field added to the schema is filtered without being listed here). A value
 * holding a card number is dropped whole: an optional field is removed, a page URL (required, and
 * may be empty) is emptied and the page view kept. A required value no event is valid without (a
 * cart item's `id`, an order's `orderId`) ends the scrub with a drop whose `refused` says why: the
 * caller refuses the request before anything reaches the store.
 * Returns what was dropped, one entry per value or parameter.
 */
export function scrubEvent(event: FunnelEvent): CardDrop[] {
  const drops: CardDrop[] = [];
  scrubObject(event as unknown as Record<string, unknown>, shapeOfEvent(event.type), '', event.type, drops);
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
