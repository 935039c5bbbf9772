/**
 * @module card-filter
 * The collector's last line of defence for card data: the snippet never captures card fields,
 * but a lander may put a card number where we do not expect one (a "notes" field, a URL).
 * Any run of 13-19 digits (spaces and dashes allowed between them) that passes the Luhn check is
 * removed before anything is stored.
 */

/** Digit runs that may be card numbers: 13-19 digits, separated by single spaces or dashes. */
const CANDIDATE = /\d(?:[ -]?\d){12,18}/g;

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

function isCardNumber(candidate: string): boolean {
  const digits = candidate.replace(/[ -]/g, '');
  return digits.length >= 13 && digits.length <= 19 && passesLuhn(digits);
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
 * Walks a parsed event and removes card numbers from every string in it. A property whose whole
 * value was a card number is deleted when `deleteWhole` is set (lead fields: the field is simply
 * not captured), else emptied (required strings such as a URL keep their place). Returns how
 * many were removed.
 */
export function scrubObject(target: Record<string, unknown>, deleteWhole = false): number {
  let found = 0;
  for (const [key, value] of Object.entries(target)) {
    if (typeof value === 'string') {
      const result = scrubCardNumbers(value);
      if (result.found === 0) continue;
      found += result.found;
      if (result.value !== undefined) target[key] = result.value;
      else if (deleteWhole) delete target[key];
      else target[key] = '';
    } else if (value && typeof value === 'object') {
      found += scrubObject(value as Record<string, unknown>, deleteWhole);
    }
  }
  return found;
}
