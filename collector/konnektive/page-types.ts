/**
 * @module page-types
 * Our page names (`data-page`) to Konnektive's `pageType` values.
 */
import type { PageName } from '../wire-schema.js';

export const KONNEKTIVE_PAGE_TYPE: Readonly<Record<PageName, string>> = Object.freeze({
  presell: 'presellPage',
  lead: 'leadPage',
  checkout: 'checkoutPage',
  upsell1: 'upsellPage1',
  upsell2: 'upsellPage2',
  upsell3: 'upsellPage3',
  upsell4: 'upsellPage4',
  thankyou: 'thankyouPage',
});
