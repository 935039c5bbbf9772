/**
 * @module config
 * The `data-*` attributes of the snippet's own script tag, read once at start.
 */
import type { PageName } from '../../collector/wire-schema.js';
import { enableDebug } from './util.js';

/** The funnel step this page is (`data-page`); the `page` command may change it in a single-page app. */
export let page: PageName;
/** Where batches go: `/v1/events` beside the script's own URL, or under `data-collector`. */
export let endpoint: string;
export let campaign: string | undefined;
/** The funnel's other domains (`data-domains`), lower case. */
export let domains: string[];
/** `data-form`: the forms whose fields are captured; by default every form with an email or phone field. */
export let formSelector: string | undefined;

const PAGE = /^(presell|lead|checkout|upsell[1-4]|thankyou)$/;

export function isPage(name: unknown): name is PageName {
  return typeof name == 'string' && PAGE.test(name);
}

export function setPage(name: PageName): void {
  page = name;
}

/**
 * Reads the configuration from the script tag; returns its attributes when the tag names a
 * valid page, else `undefined` (and the snippet does nothing).
 */
export function readConfig(script: HTMLScriptElement | null): DOMStringMap | undefined {
  const data = script?.dataset;
  if (!data || !isPage(data.page)) return;
  page = data.page;
  // Resolving against the script's URL keeps a path prefix, for a collector proxied under /fb/.
  endpoint = new URL('v1/events', data.collector ? data.collector.replace(/\/?$/, '/') : script!.src).href;
  campaign = data.campaign;
  domains = (data.domains || '').toLowerCase().split(/[\s,]+/).filter(Boolean);
  formSelector = data.form;
  if (data.debug != null && data.debug != 'false') enableDebug();
  return data;
}
