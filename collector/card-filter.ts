/**
 * @module card-filter
 * The collector's last line of defence for card data: the snippet never captures card fields,
 * but a lander may put a card number where we do not expect one (a "notes" field, a URL).
 * Any run of 13-19 digits (spaces and dashes allowed between them) that passes the Luhn check is
 * removed before anything is stored.
 */

import type { FunnelEvent } from './wire-schema.js';

/**
 * Digit runs that may be card numbers: 13-19 digits, separated by single spaces or dashes, not
 * glued to letters or digits (so the digit groups inside a UUID or a hex id are not taken).
 */
const CANDIDATE = /(?<![A-Za-z0-9])\d(?:[ -]?\d){12,}(?![A-Za-z0-9])/g;

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

/**
 * A run is a card number when it is one, or when a card number is written inside it as whole
 * groups: "4111 1111 1111 1111 12 25" (card, then the expiry) is a run of 20 digits that fails
 * Luhn, but its first four groups pass.
 */
function isCardNumber(candidate: string): boolean {
  const groups = candidate.split(/[ -]/);
  for (let first = 0; first < groups.length; first++) {
    let digits = '';
    for (let last = first; last < groups.length; last++) {
      digits += groups[last];
      if (digits.length > 19) break;
      if (digits.length >= 13 && passesLuhn(digits)) return true;
    }
  }
  return false;
}

export interface ScrubResult {
  /** The value with card numbers cut out, or `undefined` when the whole value was one. */
  value: string | undefined;
  found: number;
}

/** Removes card numbers from one string value. */
export function scrubCardNumbers(value: string): ScrubResult {
  let found = 0;
  const scrubbed = value.replace(CANDIDATE, (candidate) => {
    if (!isCardNumber(candidate)) return candidate;
    found++;
    return '';
  });
  if (found === 0) return { value, found };
  return { value: scrubbed.trim() === '' ? undefined : scrubbed, found };
}

/**
 * Removes card numbers from the free text of an event: lead fields (a field that was a card
 * number is not captured at all), URLs, referrers and product names. Ids are validated formats
 * and are left alone. Returns how many were removed.
 */
export function scrubEvent(event: FunnelEvent): number {
  let found = 0;
  const clean = (value: string | undefined): string | undefined => {
    if (value === undefined) return undefined;
    const result = scrubCardNumbers(value);
    found += result.found;
    return result.value ?? '';
  };
  switch (event.type) {
    case 'lead':
      for (const [field, value] of Object.entries(event.fields) as [keyof typeof event.fields, string | undefined][]) {
        if (value === undefined) continue;
        const result = scrubCardNumbers(value);
        if (result.found === 0) continue;
        found += result.found;
        if (result.value === undefined) delete event.fields[field];
        else event.fields[field] = result.value;
      }
      break;
    case 'page':
      event.url = clean(event.url)!;
      if (event.referrer !== undefined) event.referrer = clean(event.referrer);
      break;
    case 'cart':
      for (const item of event.items) if (item.name !== undefined) item.name = clean(item.name);
      break;
    case 'order':
    case 'exit':
      break;
  }
  return found;
}
