/**
 * @module phone-number
 * The phone number Konnektive receives. The store keeps the value exactly as the buyer typed it;
 * only the Import Lead parameter is normalised, and only when nothing has to be guessed: a valid
 * number written in international form, without an extension, is sent in E.164
 * (`+49 1512 3456787` as `+4915123456787`), the same number without spaces or punctuation.
 * Anything else (a national number, whose country would be a guess; an extension; a value that is
 * not a valid number) is sent as typed.
 */
import { parsePhoneNumberFromString } from 'libphonenumber-js/max';

export function konnektivePhoneNumber(typed: string): string {
  // No plus sign, no international form: sent as typed without asking the library, which throws
  // and catches a ParseError for every national number (see `isValidPhone` in card-filter.ts).
  if (!typed.includes('+') && !typed.includes('\uFF0B')) return typed;
  try {
    const phone = parsePhoneNumberFromString(typed);
    if (phone?.isValid() && phone.ext === undefined) return phone.number;
  } catch {
    // Not a number libphonenumber can read: send it as typed.
  }
  return typed;
}
