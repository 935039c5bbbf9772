/**
 * @module prefill
 * The recovery prefill: a second small file (`/p.js`, an ES module), which the snippet imports
 * only on a page opened through a recovery link, when the collector's answer to the adoption
 * carried the session's contact and shipping fields. It writes them into the inputs the snippet
 * would capture, recognised the same way (see fields.ts), and fires `input` and `change` so that
 * the lander's own validation and frameworks see them.
 *
 * Never written: card, password, checkbox and radio inputs (they are never recognised as a lead
 * field), hidden, disabled and read-only inputs, and any input that already holds a value (the
 * visitor's own typing, or the browser's autofill, wins). `data-prefill="off"` on the script tag
 * turns it off for the page.
 */
import type { IngestResponse, LeadField } from '../../collector/wire-schema.js';
import { classify } from './fields.js';

type Field = HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement;

const UNWRITABLE = /^(password|checkbox|radio|hidden|file|submit|button|image|reset)$/i;

/** Sets a value the way typing does, so that frameworks which track the value (React) see it. */
const write = (element: Field, value: string): void => {
  const setter = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(element), 'value')?.set;
  if (setter) setter.call(element, value);
  else element.value = value;
  element.dispatchEvent(new Event('input', { bubbles: true }));
  element.dispatchEvent(new Event('change', { bubbles: true }));
};

/** Fills the empty inputs of the lead forms (or of `data-form`) with the session's fields. */
export const fill = (ids: IngestResponse['ids']): number => {
  const tag = document.querySelector<HTMLScriptElement>('script[data-page]');
  const data = (tag && tag.dataset) || {};
  const fields = ids.fields || {};
  if (data.prefill == 'off') return 0;
  const elements = [...document.querySelectorAll<Field>('input,select,textarea')];
  const kinds = elements.map((element) => classify(element as HTMLInputElement));
  // The same scope as capture: `data-form`, else the forms that hold an email or phone field.
  const leadForms = elements.filter((_, i) => /^(em|ph)/.test(kinds[i] || '')).map((element) => element.form);
  let written = 0;
  elements.forEach((element, i) => {
    const field = kinds[i] as LeadField | undefined;
    const value = field && fields[field];
    if (
      value &&
      !element.value &&
      // A select takes only one of its options (a state given as `NY` where the options say `New York` is left alone).
      !(element instanceof HTMLSelectElement && ![...element.options].some((option) => option.value == value)) &&
      !UNWRITABLE.test(element.type) &&
      !element.disabled &&
      !(element as HTMLInputElement).readOnly &&
      (data.form ? element.closest(data.form) : leadForms.includes(element.form))
    ) {
      write(element, value);
      written++;
    }
  });
  return written;
};
