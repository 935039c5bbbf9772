/**
 * @module conversion
 * One conversion as every ad platform's mapper receives it: what happened, when, on which page,
 * who the buyer is (as typed, never hashed or normalised yet: each platform's mapper does that
 * its own way) and the click that brought them. The job handler builds it from the session, its
 * attribution and the job's payload (conversion-jobs.ts); the mappers turn it into a platform's
 * wire format (meta-mapper.ts, tiktok-mapper.ts).
 */
import type { Config } from '../config.js';
import type { AttributionValues, ConversionName } from '../wire-schema.js';

export type { ConversionName } from '../wire-schema.js';

/** The ad platforms funnelbeacon sends conversions to (each a folder-level client and mapper here). */
export const AD_PLATFORMS = ['meta', 'tiktok'] as const;
export type AdPlatform = (typeof AD_PLATFORMS)[number];

/** A line of what was bought: the ORDER's items (from Konnektive's answer), or the cart's. */
export interface ConversionItem {
  id: string;
  name?: string;
  quantity: number;
  /** Major units (39.95), one unit's price. */
  price: number;
}

export interface Conversion {
  name: ConversionName;
  /** Shared with the browser pixel (`conversionEventId`): the platform counts the two once. */
  eventId: string;
  /** When the cause happened (ms since the epoch): the lead typed, the checkout reached, the order decided. */
  eventTimeMs: number;
  /** The page the conversion happened on, exactly as the browser reported it. */
  sourceUrl?: string;
  referrer?: string;
  /** The buyer, exactly as typed (the mappers normalise and hash). */
  user: {
    email?: string;
    phone?: string;
    firstName?: string;
    lastName?: string;
    city?: string;
    state?: string;
    postalCode?: string;
    /** ISO 3166 alpha-2, as typed. */
    country?: string;
    /** The advertiser's id for the person: Konnektive's customer id when known, else the session id. */
    externalId?: string;
    ip?: string;
    userAgent?: string;
  };
  /** The click: `fbc`, `fbp`, `ttclid`, `ttp`, ... as the snippet kept them. */
  click: AttributionValues;
  /** Purchase (and InitiateCheckout with a cart): major units and ISO 4217 code. */
  value?: number;
  currency?: string;
  contents?: ConversionItem[];
  orderId?: string;
}

/**
 * The platforms this collector sends conversions to: those with credentials, or in sandbox mode
 * both (recorded for the Delivery view, never sent).
 */
export function activeAdPlatforms(config: Pick<Config, 'sandbox' | 'adPlatforms'>): readonly AdPlatform[] {
  return AD_PLATFORMS.filter((platform) => config.sandbox || config.adPlatforms[platform] !== undefined);
}
