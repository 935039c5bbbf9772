/**
 * @module lead-merge
 * How typed contact fields accumulate on a session, and when Konnektive can take a partial.
 */
import type { LeadFields } from '../wire-schema.js';

/** The fewest digits a phone number has (a local number without its area code). */
const PHONE_DIGITS = 7;

function phoneDigits(value: string | undefined): number {
  return (value ?? '').replace(/\D/g, '').length;
}

/** A phone value too short to be a phone number ('' is no value: it clears the field). */
function isShortPhone(value: string): boolean {
  const trimmed = value.trim();
  return trimmed !== '' && phoneDigits(trimmed) < PHONE_DIGITS;
}

/**
 * Removes, in place, a phone value too short to be a phone number from a lead event's fields (see
 * {@link mergeLead}), for the ingest path to call before it stores the event itself; says whether
 * it did.
 */
export function dropShortPhone(fields: LeadFields): boolean {
  if (fields.phoneNumber === undefined || !isShortPhone(fields.phoneNumber)) return false;
  delete fields.phoneNumber;
  return true;
}

/**
 * Merges new field values; returns `undefined` when nothing changed. Empty values clear a field.
 *
 * A phone value with fewer than 7 digits is dropped, never stored: no phone number is that short,
 * but a card's security code, a PIN or a one-time code is, and one typed into an input a page
 * labelled as a phone must not reach the store, the dashboard or Konnektive. The phone already
 * stored stays as it was, and a lead event that brings only such a value changes nothing.
 */
export function mergeLead(current: LeadFields, update: LeadFields): LeadFields | undefined {
  const next: LeadFields = { ...current };
  let changed = false;
  for (const [field, raw] of Object.entries(update) as [keyof LeadFields, string | undefined][]) {
    if (raw === undefined) continue;
    const value = raw.trim();
    if (field === 'phoneNumber' && isShortPhone(value)) continue;
    if (value === '') {
      if (next[field] !== undefined) {
        delete next[field];
        changed = true;
      }
    } else if (next[field] !== value) {
      next[field] = value;
      changed = true;
    }
  }
  return changed ? next : undefined;
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export function hasEmail(lead: LeadFields): boolean {
  return lead.emailAddress !== undefined && EMAIL.test(lead.emailAddress);
}

/**
 * Konnektive creates a partial "as soon as you have firstName, lastName, emailAddress or
 * phoneNumber": first and last name, plus an email or a phone number.
 */
export function canImportLead(lead: LeadFields): boolean {
  return Boolean(lead.firstName && lead.lastName && (hasEmail(lead) || phoneDigits(lead.phoneNumber) >= PHONE_DIGITS));
}
