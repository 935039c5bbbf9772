/**
 * @module lead-capture
 * The lead capture proper, a file of its own (`/c.js`, an ES module) that the snippet imports
 * only on a page that has form fields (see capture.ts): reads the contact fields of the lead
 * form, recognised by fields.ts, and hands on only the values that changed since the last send.
 * Presell, upsell and thank-you pages, which have no form, never load it.
 */
import type { LeadFields } from '../../collector/wire-schema.js';
import { classify, FIELDS } from './fields.js';

type Field = HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement;
/** The snippet's `track`: queues a lead event for the collector. */
type Track = (event: { type: 'lead'; fields: LeadFields }) => void;

/** What the collector has been sent for each field from this page. */
const sent: LeadFields = {};

/** Sends the fields (from the page or the `lead` command) whose value changed since last sent. */
export const lead = (values: Record<string, unknown>, track: Track): void => {
  const changed: LeadFields = {};
  let any = false;
  for (const [field] of FIELDS) {
    const value = values[field];
    if (typeof value == 'string') {
      const clean = value.trim();
      if (clean != (sent[field] || '')) {
        changed[field] = sent[field] = clean;
        any = true;
      }
    }
  }
  if (any) track({ type: 'lead', fields: changed });
};

/**
 * Reads the lead fields of the page: those inside `formSelector` (`data-form`), or by default
 * those of every form (and of the formless rest of the page) that has an email or phone field.
 */
export const collect = (formSelector: string | undefined, track: Track): void => {
  const elements = [...document.querySelectorAll<Field>('input,select,textarea')];
  const fields = (elements as HTMLInputElement[]).map(classify);
  const leadForms = elements.filter((_, i) => /^(em|ph)/.test(fields[i]!)).map((element) => element.form);
  const values: Record<string, string> = {};
  elements.forEach((element, i) => {
    const field = fields[i];
    if (field && (formSelector ? element.closest(formSelector) : leadForms.includes(element.form))) {
      // Where two inputs hold one field (shipping and billing address), the first one filled wins.
      values[field] ||= element.value;
    }
  });
  lead(values, track);
};
