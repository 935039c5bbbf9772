/**
 * @module postback-values
 * What a postback says about one event: the values its `{token}`s stand for, as plain text by
 * token name. Money is kept in cents, as everywhere in funnelbeacon, and written in major units
 * only here, where a network reads it (`3995` → `39.95`).
 */
import type { Postback, PostbackEvent, PostbackToken } from './postback-file.js';

/** One event's values; what is unknown (no affiliate, no consent for the email hash) is left out. */
export interface PostbackValues {
  event: PostbackEvent;
  /** funnelbeacon's id of the event, the same across retries: the network's duplicate key. */
  eventId: string;
  affId?: string;
  c1?: string;
  c2?: string;
  c3?: string;
  c4?: string;
  c5?: string;
  /** The landing URL's `clickid`, `click_id` or `cid`; `{clickId}` falls back to `c1` without it. */
  clickId?: string;
  /** Konnektive's order id. */
  orderId?: string;
  /** The event's amount in cents (the order's, the upsell's, the refund's). */
  amountCents?: number;
  currency?: string;
  /** SHA-256 of the lowercased email, hex; only with marketing consent. */
  emailSha256?: string;
}

/** `3995` → `"39.95"`, `5` → `"0.05"`, `-1250` → `"-12.50"`: integer arithmetic, no float rounding. */
export function majorUnits(cents: number): string {
  const whole = Math.round(cents);
  const sign = whole < 0 ? '-' : '';
  const absolute = Math.abs(whole);
  return `${sign}${Math.floor(absolute / 100)}.${String(absolute % 100).padStart(2, '0')}`;
}

/** Each token's text, by name: an unknown value is the empty string. */
export function tokenTexts(values: PostbackValues): Record<PostbackToken, string> {
  return {
    event: values.event,
    eventId: values.eventId,
    affId: values.affId ?? '',
    c1: values.c1 ?? '',
    c2: values.c2 ?? '',
    c3: values.c3 ?? '',
    c4: values.c4 ?? '',
    c5: values.c5 ?? '',
    clickId: values.clickId ?? values.c1 ?? '',
    orderId: values.orderId ?? '',
    amount: values.amountCents === undefined ? '' : majorUnits(values.amountCents),
    currency: values.currency ?? '',
    email_sha256: values.emailSha256 ?? '',
  };
}

/** SHA-256 of `sample@example.com`: plainly not a buyer's. */
export const SAMPLE_EMAIL_SHA256 = 'd96f4cbfc0d99cb4f8222c3cbb6939063f6295077e3d7d44bdf2517879641887';

/**
 * A plausible order for `postbacks check` and `postbacks test`: the postback's own first
 * affiliate (or `AFF7`) and the event it fires on, a $39.95 order but for a lead. Ids say SAMPLE
 * so that a network's report shows them for what they are.
 */
export function sampleValues(postback: Postback): PostbackValues {
  return {
    event: postback.on,
    eventId: `sample.${postback.on}`,
    affId: postback.affIds?.[0] ?? 'AFF7',
    c1: 'sub1',
    c2: 'sub2',
    c3: 'sub3',
    c4: 'sub4',
    c5: 'sub5',
    clickId: 'SAMPLECLICK1',
    // Konnektive gives a lead an order id too (its partial order); a lead has no amount.
    orderId: 'SAMPLE123',
    ...(postback.on === 'lead' ? {} : { amountCents: 3995, currency: 'USD' }),
    emailSha256: SAMPLE_EMAIL_SHA256,
  };
}
