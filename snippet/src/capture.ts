/**
 * @module capture
 * Lead capture, as every page carries it: when to read the lead form (as the visitor types,
 * debounced; at once when a field is finished; on leaving), and loading the code that reads it.
 * That code, the field recognition with its card-data exclusions, is a second file (`/c.js`,
 * lead-capture.ts) imported only on a page that has form fields: at start, once the document is
 * parsed, or at the first focus, so it is in place long before the visitor has typed anything.
 * Pages without fields never load it.
 */
import { src, tag } from './config.js';
import type * as LeadCapture from './lead-capture.js';
import { consented, track } from './transport.js';
import { log, on, soon } from './util.js';

let code: typeof LeadCapture | undefined;
let loading: Promise<typeof LeadCapture> | undefined;
let timer: ReturnType<typeof setTimeout>;

/**
 * Runs `fn` with the capture code: at once when it is in place (so that on leaving the beacon
 * goes right after), else once `c.js`, beside the snippet's own file, has loaded. Calls made
 * while it loads wait on one promise, so they run in the order they were made (a browser
 * settles separate `import()`s of one URL in any order: the page's last `lead` must win).
 */
const withCode = (fn: (code: typeof LeadCapture) => void): unknown =>
  code ? fn(code) : (loading ||= import(new URL('c.js', src).href)).then((module) => fn((code = module)), log);

export const watchForms = (): void => {
  // Once the document is parsed (or now, when it is already), and again at each focus, change,
  // input (after a pause in typing) and blur. The first of these on a page with fields loads the code.
  timer = soon(collect);
  on('DOMContentLoaded focusin input change focusout', ({ type }) => {
    clearTimeout(timer);
    timer = soon(collect, type == 'input' ? 1e3 : 0);
  });
};

/** Sends the fields of the `lead` command whose value changed since last sent. */
export const lead = (values: Record<string, unknown>): unknown => withCode((code) => code.lead(values, track));

/** Reads the lead fields of the page, when it has any, and sends what changed. */
export const collect = (): unknown => consented && document.querySelector('input,select,textarea') && withCode((code) => code.collect(tag.form, track));
