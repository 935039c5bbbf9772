/**
 * @module config
 * The `data-*` attributes of the snippet's own script tag, read once at start.
 */
import type { PageName } from '../../collector/wire-schema.js';

/** The funnel step this page is (`data-page`); the `page` command may change it in a single-page app. */
export let page: PageName;
/** Where batches go: `/v1/events` on `data-collector`, else on the origin the script came from. */
export let endpoint: string;
/**
 * The tag's `data-*` attributes, for those used as written where they are needed: `data-campaign`
 * (sent with each batch), `data-form` (the forms whose fields are captured; by default every form
 * with an email or phone field), `data-domains` (the funnel's other domains, read by `d.js`),
 * `data-debug`.
 */
export let tag: DOMStringMap;
/** The snippet's own URL: the files it loads on demand sit beside it. */
export let src: string;

/** Makes `name` this page's funnel step when it is one; says whether it was. */
export const setPage = (name: unknown): boolean =>
  /^(presell|lead|checkout|upsell[1-4]|thankyou)$/.test(name as string) && !!(page = name as PageName);

/**
 * Reads the configuration from the script tag. Returns its attributes when the tag names a valid
 * page, else `undefined`, and then the snippet does nothing at all.
 */
export const readConfig = (script: HTMLScriptElement | null): DOMStringMap | undefined => {
  const data = script && script.dataset;
  if (data && setPage(data.page)) {
    src = script.src;
    endpoint = new URL('/v1/events', data.collector || src).href;
    return (tag = data);
  }
};
