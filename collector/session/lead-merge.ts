/**
 * @module lead-merge
 * How typed contact fields accumulate on a session, and when Konnektive can take a partial.
 */
import type { LeadFields } from '../wire-schema.js';

/** Merges new field values; returns `undefined` when nothing changed. Empty values clear a field. */
export function mergeLead(current: LeadFields, update: LeadFields): LeadFields | undefined {
  const next: LeadFields = { ...current };
  let changed = false;
  for (const [field, raw] of Object.entries(update) as [keyof LeadFields, string | undefined][]) {
    if (raw === undefined) continue;
    const value = raw.trim();
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
  const phoneDigits = (lead.phoneNumber ?? '').replace(/\D/g, '');
  return Boolean(lead.firstName && lead.lastName && (hasEmail(lead) || phoneDigits.length >= 7));
}
