/**
 * @module capture
 * Lead capture: the contact fields of the lead form, read as the visitor types (debounced), and
 * sent as only the values that changed since the last send.
 */
import type { LeadFields } from '../../collector/wire-schema.js';
import { formSelector } from './config.js';
import { classify, FIELDS } from './fields.js';
import { consented, track } from './transport.js';
import { on, soon } from './util.js';

type Field = HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement;

/** What the collector has been sent for each field from this page. */
const sent: LeadFields = {};
let timer: ReturnType<typeof setTimeout>;

export const watchForms = (): void =>
  on('input change focusout', (event) => {
    clearTimeout(timer);
    // While typing, wait for a pause; a finished field (change, blur) goes at once.
    timer = soon(collect, event.type == 'input' ? 1e3 : 0);
  });

/** Sends the fields (from the page or the `lead` command) whose value changed since last sent. */
export const lead = (values: Record<string, unknown>): void => {
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
 * Reads the lead fields of the page: those inside `data-form`, or by default those of every form
 * (and of the formless rest of the page) that has an email or phone field.
 */
export const collect = (): void => {
  if (!consented) return;
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
  lead(values);
};
