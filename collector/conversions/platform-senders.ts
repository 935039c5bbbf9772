/**
 * @module platform-senders
 * One sender per ad platform the collector is configured for: what the conversion job hands a
 * {@link Conversion} to. Each maps it with its platform's mapper (meta-mapper.ts,
 * tiktok-mapper.ts) and sends it with its client, one event per request: a conversion leaves as
 * soon as its job runs, and one the platform refuses never takes another with it.
 *
 * Every call is recorded with the conversion's name as its endpoint (`Purchase`), so the delivery
 * log reads "Meta Purchase" and the Delivery view counts conversions by name. A third platform
 * (Google Ads' Data Manager API) is a mapper and a client from the same `Conversion`, and one
 * entry here.
 */
import type { Config } from '../config.js';
import type { CallFailure, CallRecord } from '../outbox/upstream-call.js';
import type { AdPlatform, Conversion } from './conversion.js';
import { metaClient } from './meta-client.js';
import { metaEventProblem, metaRequestBody, metaServerEvent } from './meta-mapper.js';
import type { PlatformCheck, PlatformFailed } from './platform-call.js';
import { tiktokClient } from './tiktok-client.js';
import { tiktokEvent, tiktokRequestBody } from './tiktok-mapper.js';

export type SendResult = { ok: true; call: CallRecord } | { ok: false; failure: CallFailure; call: CallRecord };

export interface ConversionSender {
  /** The request as sandbox mode records it (no credentials in it). */
  request(conversion: Conversion): { endpoint: string; body: unknown };
  send(conversion: Conversion): Promise<SendResult>;
  /** For `doctor`: the credentials work, with a call that records nothing real. */
  check(): Promise<PlatformCheck>;
}

/** The senders of every active platform: the configured ones, or in sandbox mode both (which only record). */
export function conversionSenders(config: Pick<Config, 'sandbox' | 'adPlatforms'>, doFetch?: typeof fetch, now: () => number = Date.now): Partial<Record<AdPlatform, ConversionSender>> {
  const senders: Partial<Record<AdPlatform, ConversionSender>> = {};
  const { meta, tiktok } = config.adPlatforms;
  if (meta || config.sandbox) {
    const client = meta ? metaClient({ ...meta, testEventCode: meta.testEventCode, now, ...(doFetch ? { fetch: doFetch } : {}) }) : undefined;
    senders.meta = {
      request: (conversion) => ({ endpoint: conversion.name, body: metaRequestBody([metaServerEvent(conversion)], meta?.testEventCode) }),
      async send(conversion) {
        // A website event Meta would refuse (no page URL, no user agent) fails every event sent
        // with it; it is refused here, named, as a dead letter.
        const problem = metaEventProblem(conversion, now());
        if (problem) return refused(conversion, problem);
        if (!client) return refused(conversion, 'Meta is not configured');
        return outcome(conversion, (record) => client.send([metaServerEvent(conversion)], record));
      },
      check: async () => (client ? client.check() : { outcome: 'other', message: 'Meta: not configured' }),
    };
  }
  if (tiktok || config.sandbox) {
    const client = tiktok ? tiktokClient({ ...tiktok, now, ...(doFetch ? { fetch: doFetch } : {}) }) : undefined;
    senders.tiktok = {
      request: (conversion) => ({ endpoint: conversion.name, body: tiktokRequestBody(tiktok?.pixelCode ?? '{pixel code}', [tiktokEvent(conversion)], tiktok?.testEventCode) }),
      async send(conversion) {
        if (!client) return refused(conversion, 'TikTok is not configured');
        return outcome(conversion, (record) => client.send([tiktokEvent(conversion)], record));
      },
      check: async () => (client ? client.check() : { outcome: 'other', message: 'TikTok: not configured' }),
    };
  }
  return senders;
}

/** Runs one client call, keeping its delivery-log record under the conversion's name. */
async function outcome(conversion: Conversion, call: (record: (call: CallRecord) => void) => Promise<{ ok: true } | PlatformFailed>): Promise<SendResult> {
  let recorded: CallRecord | undefined;
  const result = await call((record) => (recorded = record));
  const record: CallRecord = { ...(recorded ?? { request: '', response: '', outcome: result.ok ? 'ok' : 'transient', latencyMs: 0 }), endpoint: conversion.name };
  if (result.ok) return { ok: true, call: record };
  return { ok: false, call: record, failure: { failure: result.failure, message: result.message, ...(result.retryAt === undefined ? {} : { retryAt: result.retryAt }) } };
}

function refused(conversion: Conversion, message: string): SendResult {
  return {
    ok: false,
    call: { endpoint: conversion.name, request: JSON.stringify({ event_id: conversion.eventId }), response: message, outcome: 'rejected', latencyMs: 0 },
    failure: { failure: 'rejected', message },
  };
}
