/**
 * @module tiktok-mapper
 * A {@link Conversion} as a TikTok Events API 2.0 web event (reference conversions.md 2.3, 2.4):
 * TikTok's standard event name for each conversion, the pixel's `event_id` so TikTok counts the
 * browser's and the server's event once, the email and external id hashed as for Meta, the phone
 * hashed in E.164, and the click's `ttclid` and `_ttp` cookie as they are.
 *
 * Pure: no clock, no I/O. The field list is the one public clients send (reference 2.4), not read
 * on TikTok's own reference page.
 */
import type { Conversion, ConversionName } from './conversion.js';
import { e164Phone, normaliseEmail, normaliseExternalId, sha256Hex } from './normalise.js';

/** TikTok's standard events for funnelbeacon's conversions. */
export const TIKTOK_EVENT_NAMES: Record<ConversionName, TikTokEventName> = {
  Lead: 'SubmitForm',
  InitiateCheckout: 'InitiateCheckout',
  Purchase: 'CompletePayment',
};
export type TikTokEventName = 'SubmitForm' | 'InitiateCheckout' | 'CompletePayment';

/** INFERRED: the same 7 days as Meta (TikTok's limit is not in the reference). */
export const TIKTOK_MAX_EVENT_AGE_MS = 7 * 24 * 60 * 60_000;
export const TIKTOK_MAX_FUTURE_MS = 60_000;

export interface TikTokUser {
  email?: string;
  phone?: string;
  external_id?: string;
  ip?: string;
  user_agent?: string;
  ttclid?: string;
  ttp?: string;
}

export interface TikTokContent {
  content_id: string;
  content_name?: string;
  quantity: number;
  price: number;
}

export interface TikTokProperties {
  currency?: string;
  value?: number;
  content_type?: 'product';
  contents?: TikTokContent[];
  order_id?: string;
}

export interface TikTokEvent {
  event: TikTokEventName;
  /** Unix seconds. */
  event_time: number;
  event_id: string;
  user: TikTokUser;
  page?: { url?: string; referrer?: string };
  properties?: TikTokProperties;
}

export interface TikTokRequestBody {
  event_source: 'web';
  event_source_id: string;
  test_event_code?: string;
  data: TikTokEvent[];
}

export function tiktokEvent(conversion: Conversion): TikTokEvent {
  const { user: buyer, click } = conversion;
  const user: TikTokUser = {};
  const email = normaliseEmail(buyer.email);
  if (email !== undefined) user.email = sha256Hex(email);
  const phone = e164Phone(buyer.phone, buyer.country);
  if (phone !== undefined) user.phone = sha256Hex(phone);
  const externalId = normaliseExternalId(buyer.externalId);
  if (externalId !== undefined) user.external_id = sha256Hex(externalId);
  if (nonBlank(buyer.ip)) user.ip = buyer.ip.trim();
  if (nonBlank(buyer.userAgent)) user.user_agent = buyer.userAgent;
  if (nonBlank(click.ttclid)) user.ttclid = click.ttclid;
  if (nonBlank(click.ttp)) user.ttp = click.ttp;

  const page = {
    ...(nonBlank(conversion.sourceUrl) ? { url: conversion.sourceUrl } : {}),
    ...(nonBlank(conversion.referrer) ? { referrer: conversion.referrer } : {}),
  };
  const properties = tiktokProperties(conversion);
  return {
    event: TIKTOK_EVENT_NAMES[conversion.name],
    event_time: Math.floor(conversion.eventTimeMs / 1000),
    event_id: conversion.eventId,
    user,
    ...(Object.keys(page).length === 0 ? {} : { page }),
    ...(properties === undefined ? {} : { properties }),
  };
}

function tiktokProperties(conversion: Conversion): TikTokProperties | undefined {
  const properties: TikTokProperties = {};
  if (nonBlank(conversion.currency)) properties.currency = conversion.currency.trim().toUpperCase();
  if (conversion.value !== undefined && Number.isFinite(conversion.value)) properties.value = conversion.value;
  const items = conversion.contents ?? [];
  if (items.length > 0) {
    properties.content_type = 'product';
    properties.contents = items.map((item) => ({
      content_id: item.id,
      ...(nonBlank(item.name) ? { content_name: item.name } : {}),
      quantity: item.quantity,
      price: item.price,
    }));
  }
  if (nonBlank(conversion.orderId)) properties.order_id = conversion.orderId;
  return Object.keys(properties).length === 0 ? undefined : properties;
}

export function tiktokRequestBody(pixelCode: string, events: TikTokEvent[], testEventCode?: string): TikTokRequestBody {
  return {
    event_source: 'web',
    event_source_id: pixelCode,
    ...(nonBlank(testEventCode) ? { test_event_code: testEventCode } : {}),
    data: events,
  };
}

/** Older than 7 days or more than a minute ahead: never sent. */
export function tiktokEventTooOld(conversion: Pick<Conversion, 'eventTimeMs'>, nowMs: number): boolean {
  return conversion.eventTimeMs < nowMs - TIKTOK_MAX_EVENT_AGE_MS || conversion.eventTimeMs > nowMs + TIKTOK_MAX_FUTURE_MS;
}

function nonBlank(value: string | undefined): value is string {
  return value !== undefined && value.trim() !== '';
}
