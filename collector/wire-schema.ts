/**
 * @module wire-schema
 * What the snippet sends to `POST /v1/events`, defined once. The collector validates with these
 * schemas; the snippet imports only the inferred types (no runtime cost in the browser).
 * Every string and number is bounded so that a hostile body cannot make us store much.
 */
import { z } from 'zod';

export const PAGE_NAMES = [
  'presell',
  'lead',
  'checkout',
  'upsell1',
  'upsell2',
  'upsell3',
  'upsell4',
  'thankyou',
] as const;
export type PageName = (typeof PAGE_NAMES)[number];

/** Konnektive's Import Lead parameter names: the only lead fields the collector keeps. */
export const LEAD_FIELDS = [
  'firstName',
  'lastName',
  'emailAddress',
  'phoneNumber',
  'address1',
  'address2',
  'city',
  'state',
  'postalCode',
  'country',
] as const;
export type LeadField = (typeof LEAD_FIELDS)[number];

export const MAX_EVENTS_PER_BATCH = 50;
export const MAX_BODY_BYTES = 64 * 1024;

/**
 * Whether both stores can keep a string as sent. JavaScript strings are UTF-16 and may hold what
 * PostgreSQL refuses: a NUL character (U+0000; no PostgreSQL text or JSON value holds one) and an
 * unpaired surrogate (`"\ud800"` in the body). `JSON.stringify` writes the latter back as that
 * escape, which PostgreSQL reads as invalid JSON as soon as a query or an index looks inside the
 * column, and a text column gets U+FFFD instead. SQLite takes both, so without this the same body
 * was kept on one store and a 500 on the other. No lander has a reason to send either; a body
 * holding one is refused whole, on both stores, naming the field. Two native scans of each string
 * the schema keeps: measured 0.6 µs more for a typical 3-event batch (3.4 -> 4.0 µs to validate),
 * less than the walk over the whole parsed body that looked for NUL before.
 */
function storable(text: string): boolean {
  // `isWellFormed` is Node 20's (ES2024); the project's lib is ES2023.
  return (text as unknown as { isWellFormed(): boolean }).isWellFormed() && !text.includes('\0');
}

/** Refines every string the schema keeps that no format already limits to ASCII (see {@link storable}). */
const STORABLE = {
  error: (issue: { input?: unknown }) =>
    typeof issue.input === 'string' && issue.input.includes('\0')
      ? 'a NUL character (U+0000) cannot be stored'
      : 'an unpaired UTF-16 surrogate cannot be stored',
  /** Read by the events route: these refusals are counted apart (`reason="unstorable_text"`). */
  params: { unstorable: true },
} as const;

/** A string of at most `max` characters that both stores can keep. */
const text = (max: number) => z.string().max(max).refine(storable, STORABLE);

/** For other schemas whose strings reach a query (the dashboard's search): the same check. */
export const storableText = (schema: z.ZodString) => schema.refine(storable, STORABLE);

const eventBase = {
  /** Client-made UUID: a resent event is recognised and changes nothing. */
  id: z.uuid(),
  /** Client clock in ms since the epoch, informational only (the collector stamps its own time). */
  ts: z.number().int().min(0).max(8_640_000_000_000).optional(),
};

const url = text(2048);

export const PageViewEvent = z.object({
  ...eventBase,
  type: z.literal('page'),
  page: z.enum(PAGE_NAMES),
  url,
  referrer: url.optional(),
});

/** Konnektive's maximum length of each Import Lead field (see docs/upstreams.md, Import Lead). */
export const KONNEKTIVE_LEAD_MAX: Readonly<Record<LeadField, number>> = Object.freeze({
  firstName: 50,
  lastName: 50,
  emailAddress: 255,
  phoneNumber: 32,
  address1: 255,
  address2: 255,
  city: 100,
  state: 100,
  postalCode: 20,
  /** A 2-letter code. */
  country: 2,
});

/**
 * A lead value is kept as it was typed, up to 1,024 characters (more is no lead field, and the
 * batch is refused). One longer than Konnektive keeps is neither cut nor refused here: refusing
 * would drop the whole batch (the page view, the cart) for one over-long name, and a cut value
 * would reach the CRM altered. The relay leaves it out of Import Lead instead (konnektive-relay.ts).
 */
const leadValue = text(1024).optional();

export const LeadFields = z
  .object(
    Object.fromEntries(LEAD_FIELDS.map((field) => [field, leadValue])) as {
      [K in LeadField]: typeof leadValue;
    },
  )
  .strict();

export const LeadEvent = z.object({
  ...eventBase,
  type: z.literal('lead'),
  fields: LeadFields,
});

/**
 * A URL ActiveCampaign shows in its abandoned-cart email (product image and link): absolute
 * http(s) only, refused otherwise (never "fixed": it reaches the CRM as the page gave it).
 */
export const ProductUrl = text(2048)
  .refine((value) => {
    if (!/^https?:\/\/[^\s]+$/i.test(value)) return false;
    try {
      return /^https?:$/.test(new URL(value).protocol);
    } catch {
      return false;
    }
  }, 'an absolute http(s) URL');

export const CartItem = z.object({
  id: text(64).min(1),
  name: text(200).optional(),
  price: z.number().min(0).max(1_000_000),
  qty: z.number().int().min(1).max(1000),
  /** What ActiveCampaign's abandoned-cart email shows for the product (`orderProducts[]`). */
  imageUrl: ProductUrl.optional(),
  productUrl: ProductUrl.optional(),
  sku: text(100).min(1).optional(),
  category: text(200).min(1).optional(),
  description: text(1000).min(1).optional(),
});

export const CartEvent = z.object({
  ...eventBase,
  type: z.literal('cart'),
  items: z.array(CartItem).max(25),
  currency: z.string().regex(/^[A-Z]{3}$/, 'a 3-letter ISO currency code'),
});

export const OrderEvent = z.object({
  ...eventBase,
  type: z.literal('order'),
  orderId: z.string().regex(/^[A-Za-z0-9_-]{1,30}$/, 'a Konnektive order id'),
});

export const ExitEvent = z.object({
  ...eventBase,
  type: z.literal('exit'),
  page: z.enum(PAGE_NAMES),
});

/**
 * What the ad platforms and affiliate networks need to match a conversion to its click, as the
 * landing URL and the page's cookies had it (never altered: `fbclid` is case-sensitive).
 * `fbc` is Meta's click value (`fb.1.<ms>.<fbclid>`, or the page's `_fbc` cookie), `fbp` the
 * `_fbp` cookie, `ttp` TikTok's `_ttp` cookie, `clickId` the landing URL's `clickid`, `click_id`
 * or `cid` parameter (an affiliate tracker's click).
 */
export const ATTRIBUTION_KEYS = [
  'fbc',
  'fbp',
  'ttclid',
  'ttp',
  'gclid',
  'gbraid',
  'wbraid',
  'affId',
  'c1',
  'c2',
  'c3',
  'c4',
  'c5',
  'clickId',
  'utm_source',
  'utm_medium',
  'utm_campaign',
  'utm_term',
  'utm_content',
] as const;
export type AttributionKey = (typeof ATTRIBUTION_KEYS)[number];

/** Keys that identify a person to an ad platform: read and kept only with marketing consent. */
export const AD_KEYS: readonly AttributionKey[] = ['fbc', 'fbp', 'ttclid', 'ttp', 'gclid', 'gbraid', 'wbraid'];

const attributionValue = text(512).min(1).optional();

export const AttributionValues = z
  .object(
    Object.fromEntries(ATTRIBUTION_KEYS.map((key) => [key, attributionValue])) as {
      [K in AttributionKey]: typeof attributionValue;
    },
  )
  .strict();
export type AttributionValues = z.infer<typeof AttributionValues>;

/**
 * Sent once per session per domain, with the first page that has anything to add, and again when
 * the visitor's marketing choice changes. The collector keeps each key's first value for the
 * session (later domains add what it lacks, never replace), and the latest `marketing` choice.
 */
export const AttributionEvent = z.object({
  ...eventBase,
  type: z.literal('attribution'),
  /** The visitor allowed marketing: conversions may go to the ad platforms. */
  marketing: z.boolean(),
  values: AttributionValues,
});

export const FunnelEvent = z.discriminatedUnion('type', [PageViewEvent, LeadEvent, CartEvent, OrderEvent, ExitEvent, AttributionEvent]);

export const EventBatch = z
  .object({
    /** Session token from an earlier response; absent on a visitor's first request. */
    session: text(200).optional(),
    /** Link token carried from another funnel domain; adopts that session. */
    link: text(200).optional(),
    campaign: z.string().regex(/^\d{1,10}$/, 'a numeric campaign id').optional(),
    /** May be empty when a session is given: the answer then only refreshes the link token. */
    events: z.array(FunnelEvent).max(MAX_EVENTS_PER_BATCH),
  })
  .strict()
  .refine((batch) => batch.events.length > 0 || batch.session !== undefined, {
    message: 'a batch without a session needs at least one event',
    path: ['events'],
  });

export type FunnelEvent = z.infer<typeof FunnelEvent>;
export type EventBatch = z.infer<typeof EventBatch>;
export type CartItem = z.infer<typeof CartItem>;
export type LeadFields = z.infer<typeof LeadFields>;
export type AttributionEvent = z.infer<typeof AttributionEvent>;

/** The body of a 200 answer: what the snippet keeps for its next request and the next domain. */
export interface IngestResponse {
  /** Signed session token to send back as `session`. */
  session: string;
  /** Signed, short-lived token for links to the funnel's other domains. */
  link: string;
  /** When `link` stops being accepted (ms since the epoch). */
  linkExpires: number;
  /** Events stored by this request; events already stored earlier count as duplicates. */
  accepted: number;
  duplicates: number;
  /**
   * On a recovery landing only: the URL of the prefill code, which the snippet loads (unless the
   * page says `data-prefill="off"`) to write `ids.fields` into the checkout's empty inputs.
   */
  prefill?: string;
  /** Set when the request carried a link token that was expired or forged: a new session began. */
  linkRefused?: true;
  /**
   * Public ids for the `ready` command. On a recovery landing (the request carried the recovery
   * flavour of the link token) also the session's cart and contact and shipping fields: the
   * snippet prefills the checkout with them, and a page that builds its cart in script restores it.
   */
  ids: {
    session: string;
    konnektiveSession?: string;
    orderId?: string;
    cart?: { items: CartItem[]; currency: string };
    fields?: LeadFields;
    /**
     * The event id of each conversion the collector sends to the ad platforms for this session,
     * for the browser pixel's `eventID` / `event_id` (the `eventId` command): the platform then
     * counts the browser's event and the server's once.
     */
    eventIds: Record<ConversionName, string>;
  };
}

/** The conversions sent to the ad platforms (Meta's names; TikTok's are mapped from these). */
export const CONVERSION_NAMES = ['Lead', 'InitiateCheckout', 'Purchase'] as const;
export type ConversionName = (typeof CONVERSION_NAMES)[number];

/**
 * A conversion's event id: the same for a retry, a replay, a second collector and the page that
 * reads it, because it is made only of the session and the conversion.
 */
export const conversionEventId = (sessionId: string, name: ConversionName): string => `${sessionId}.${name}`;

/** Error answers, here and on every other route. */
export interface ErrorResponse {
  error: { code: string; message: string };
}

/** Every conversion's event id for a session (the answer's `ids.eventIds`). */
export const conversionEventIds = (sessionId: string): Record<ConversionName, string> => ({
  Lead: conversionEventId(sessionId, 'Lead'),
  InitiateCheckout: conversionEventId(sessionId, 'InitiateCheckout'),
  Purchase: conversionEventId(sessionId, 'Purchase'),
});
