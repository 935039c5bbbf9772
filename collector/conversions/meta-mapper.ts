/**
 * @module meta-mapper
 * A {@link Conversion} as a Meta Conversions API server event (reference conversions.md 2.1): the
 * website event with the same `event_name` and `event_id` as the browser pixel's, so Meta counts
 * the two once, the buyer's fields normalised and hashed (normalise.ts), and the click's `fbc`,
 * `fbp`, IP and user agent as they are (Meta asks for those unhashed).
 *
 * Pure: no clock, no I/O. Whether an event may be sent at all is {@link metaEventProblem}'s to say,
 * because Meta refuses the whole request when one event in it is too old or lacks what a website
 * event needs.
 */
import type { Conversion, ConversionName } from './conversion.js';
import { hashUserFields, type HashedUserFields } from './normalise.js';

/** Meta takes events up to 7 days old; an older one fails the entire request. */
export const META_MAX_EVENT_AGE_MS = 7 * 24 * 60 * 60_000;
/** Clock skew tolerated before an event counts as "in the future". */
export const META_MAX_FUTURE_MS = 60_000;

const META_EVENT_NAMES: Record<ConversionName, string> = {
  Lead: 'Lead',
  InitiateCheckout: 'InitiateCheckout',
  Purchase: 'Purchase',
};

/** Hashed keys carry an array of one hash each (Meta takes a string or a list for every one of them). */
export type MetaUserData = { [K in keyof HashedUserFields]?: [string] } & {
  client_ip_address?: string;
  client_user_agent?: string;
  fbc?: string;
  fbp?: string;
};

export interface MetaContent {
  id: string;
  quantity: number;
  item_price: number;
}

export interface MetaCustomData {
  value?: number;
  currency?: string;
  contents?: MetaContent[];
  content_type?: 'product';
  order_id?: string;
  num_items?: number;
}

export interface MetaServerEvent {
  event_name: string;
  /** Unix seconds. */
  event_time: number;
  event_id: string;
  event_source_url?: string;
  referrer_url?: string;
  action_source: 'website';
  user_data: MetaUserData;
  custom_data?: MetaCustomData;
}

export interface MetaRequestBody {
  data: MetaServerEvent[];
  test_event_code?: string;
}

export function metaServerEvent(conversion: Conversion): MetaServerEvent {
  const { user, click } = conversion;
  const hashes = hashUserFields(user);
  const userData: MetaUserData = Object.fromEntries(Object.entries(hashes).map(([key, hash]) => [key, [hash]]));
  if (nonBlank(user.ip)) userData.client_ip_address = user.ip.trim();
  if (nonBlank(user.userAgent)) userData.client_user_agent = user.userAgent;
  if (nonBlank(click.fbc)) userData.fbc = click.fbc;
  if (nonBlank(click.fbp)) userData.fbp = click.fbp;

  const customData = metaCustomData(conversion);
  return {
    event_name: META_EVENT_NAMES[conversion.name],
    event_time: Math.floor(conversion.eventTimeMs / 1000),
    event_id: conversion.eventId,
    ...(nonBlank(conversion.sourceUrl) ? { event_source_url: conversion.sourceUrl } : {}),
    ...(nonBlank(conversion.referrer) ? { referrer_url: conversion.referrer } : {}),
    action_source: 'website',
    user_data: userData,
    ...(customData === undefined ? {} : { custom_data: customData }),
  };
}

function metaCustomData(conversion: Conversion): MetaCustomData | undefined {
  const data: MetaCustomData = {};
  if (conversion.value !== undefined && Number.isFinite(conversion.value)) data.value = conversion.value;
  if (nonBlank(conversion.currency)) data.currency = conversion.currency.trim().toUpperCase();
  const items = conversion.contents ?? [];
  if (items.length > 0) {
    data.contents = items.map((item) => ({ id: item.id, quantity: item.quantity, item_price: item.price }));
    data.content_type = 'product';
    data.num_items = items.reduce((sum, item) => sum + item.quantity, 0);
  }
  if (nonBlank(conversion.orderId)) data.order_id = conversion.orderId;
  return Object.keys(data).length === 0 ? undefined : data;
}

export function metaRequestBody(events: MetaServerEvent[], testEventCode?: string): MetaRequestBody {
  return { data: events, ...(nonBlank(testEventCode) ? { test_event_code: testEventCode } : {}) };
}

/** Older than Meta's 7 days, or more than a minute ahead: Meta would refuse it, so it is never sent. */
export function metaEventTooOld(conversion: Pick<Conversion, 'eventTimeMs'>, nowMs: number): boolean {
  return conversion.eventTimeMs < nowMs - META_MAX_EVENT_AGE_MS || conversion.eventTimeMs > nowMs + META_MAX_FUTURE_MS;
}

/**
 * Why Meta would refuse this conversion as a website event, or undefined when it can go: too old
 * or in the future, or without the page URL or user agent a website event requires. Sending it
 * anyway would fail every other event of the same request.
 */
export function metaEventProblem(conversion: Conversion, nowMs: number): string | undefined {
  if (conversion.eventTimeMs > nowMs + META_MAX_FUTURE_MS) return 'event_time is in the future';
  if (metaEventTooOld(conversion, nowMs)) return 'event_time is more than 7 days old';
  if (!nonBlank(conversion.sourceUrl)) return 'no event_source_url (the page the conversion happened on)';
  if (!nonBlank(conversion.user.userAgent)) return 'no client_user_agent';
  return undefined;
}

function nonBlank(value: string | undefined): value is string {
  return value !== undefined && value.trim() !== '';
}
