/**
 * @module tiktok-client
 * A small client for TikTok's Events API 2.0 (reference conversions.md 2.3, 2.4): web events
 * POSTed as JSON to `{apiUrl}/open_api/v1.3/event/track/` with the `Access-Token` header.
 *
 * TikTok answers HTTP 200 with `{"code":0,"message":"OK","request_id":…}` when it took the events,
 * and a non-zero `code` (under HTTP 200 as well) when it did not. Answers become values, never
 * exceptions. Which code means what is INFERRED from public client code, not TikTok's reference:
 * - `code` 0 under 2xx: `ok`;
 * - HTTP 401/403, codes 40001 (no permission) and 40101–40105 (app or access token invalid,
 *   expired, missing or revoked), and any message naming the access token, a permission or
 *   authorisation: `auth`;
 * - HTTP 429 and code 40100 (too many requests): `rate_limited`;
 * - 5xx, codes 50000 and above, timeouts, refused connections, a 2xx that is not JSON, a 3xx
 *   (never followed: the token would go along): `transient`;
 * - any other non-zero code or 4xx: `rejected`, with TikTok's message.
 * Retrying is safe: TikTok counts the same event and `event_id` once within 48 hours.
 */
import { isRedirect, redirectProblem } from '../http/upstream-redirect.js';
import type { TikTokEvent } from './tiktok-mapper.js';
import { tiktokRequestBody } from './tiktok-mapper.js';
import {
  exchange,
  failed,
  parseJsonObject,
  recordingFinish,
  retryAfterMs,
  scrub,
  shortId,
  type PlatformCallRecorder,
  type PlatformCheck,
  type PlatformFailed,
} from './platform-call.js';

export const TIKTOK_DEFAULT_API_URL = 'https://business-api.tiktok.com';
export const TIKTOK_TRACK_PATH = '/open_api/v1.3/event/track/';
/** The test code `check()` sends under: its event shows in Events Manager's test view only. */
export const TIKTOK_CHECK_TEST_CODE = 'TEST_FUNNELBEACON';
/** INFERRED: TikTok's batch limit is not in the reference; Meta's 1,000 bounds it here too. */
export const TIKTOK_MAX_EVENTS_PER_REQUEST = 1000;

export type TikTokResponse = { ok: true; status: number; requestId?: string } | PlatformFailed;

export interface TikTokClient {
  send(events: TikTokEvent[], record?: PlatformCallRecorder): Promise<TikTokResponse>;
  /**
   * For `doctor`: one clearly fake event (`event_id` `funnelbeacon-check-…`, no user data but a
   * user agent) under {@link TIKTOK_CHECK_TEST_CODE}, so a working token is proven without
   * recording anything in the pixel's real data. An empty `data: []` would record nothing either,
   * but TikTok may refuse it as a malformed request and so prove nothing about the token.
   */
  check(): Promise<PlatformCheck>;
}

export interface TikTokClientOptions {
  /** The host, `https://business-api.tiktok.com` unless set. */
  apiUrl?: string;
  pixelCode: string;
  accessToken: string;
  testEventCode?: string;
  timeoutMs?: number;
  now?: () => number;
  fetch?: typeof fetch;
}

const AUTH_CODES = new Set([40001, 40101, 40102, 40103, 40104, 40105]);
const AUTH_MESSAGE = /access[_ ]?token|permission|\bauth/i;
const RATE_LIMIT_CODE = 40100;
const RATE_LIMIT_WAIT_MS = 60_000;

export function tiktokClient({
  apiUrl = TIKTOK_DEFAULT_API_URL,
  pixelCode,
  accessToken,
  testEventCode,
  timeoutMs = 5_000,
  now = Date.now,
  fetch: doFetch = fetch,
}: TikTokClientOptions): TikTokClient {
  const url = `${apiUrl.replace(/\/+$/, '')}${TIKTOK_TRACK_PATH}`;
  const secrets = [accessToken];

  async function post(events: TikTokEvent[], code: string | undefined, record?: PlatformCallRecorder): Promise<TikTokResponse> {
    // No call is made for a batch TikTok would refuse, so none is recorded.
    if (events.length === 0 || events.length > TIKTOK_MAX_EVENTS_PER_REQUEST) {
      return failed('rejected', `a request takes 1 to ${TIKTOK_MAX_EVENTS_PER_REQUEST} events, not ${events.length}`);
    }
    const finish = recordingFinish<TikTokResponse>(record, 'POST /event/track', summariseTikTokRequest(events, code));
    const answer = await exchange(doFetch, url, {
      method: 'POST',
      headers: { 'Access-Token': accessToken, 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify(tiktokRequestBody(pixelCode, events, code)),
    }, timeoutMs);
    if (!answer.ok) return finish(failed('transient', answer.message), answer.message);

    const { status, text, headers } = answer;
    const json = parseJsonObject(text);
    if (isRedirect(status)) {
      const message = redirectProblem(status, headers.get('location'), url, 'TIKTOK_API_URL');
      return finish(failed('transient', message, { status }), message);
    }
    const apiCode = typeof json?.code === 'number' ? json.code : undefined;
    const requestId = shortId(json?.request_id);
    if (status >= 200 && status < 300 && apiCode === 0) {
      return finish({ ok: true, status, ...(requestId ? { requestId } : {}) }, JSON.stringify({ code: 0, ...(requestId ? { request_id: requestId } : {}) }));
    }
    if (status >= 200 && status < 300 && apiCode === undefined) {
      const message = `HTTP ${status}, not TikTok's answer (no code)`;
      return finish(failed('transient', message, { status }), message);
    }
    const said = typeof json?.message === 'string' && json.message !== '' ? json.message : status >= 500 ? 'server error' : 'no message';
    const message = scrub(`HTTP ${status}${apiCode === undefined ? '' : ` (code ${apiCode})`}: ${said}`, secrets);
    const result = classify(status, apiCode, said, headers, message);
    return finish(result, message);
  }

  function classify(status: number, apiCode: number | undefined, text: string, headers: Headers, message: string): PlatformFailed {
    if (status === 401 || status === 403 || (apiCode !== undefined && AUTH_CODES.has(apiCode)) || AUTH_MESSAGE.test(text)) {
      return failed('auth', message, { status });
    }
    if (status === 429 || apiCode === RATE_LIMIT_CODE) {
      const at = now();
      return failed('rate_limited', message, { status, retryAt: at + (retryAfterMs(headers.get('retry-after'), at) ?? RATE_LIMIT_WAIT_MS) });
    }
    if (status >= 500 || (apiCode !== undefined && apiCode >= 50000)) return failed('transient', message, { status });
    return failed('rejected', message, { status });
  }

  return {
    send: (events, record) => post(events, testEventCode, record),

    async check() {
      const at = now();
      const probe: TikTokEvent = {
        event: 'SubmitForm',
        event_time: Math.floor(at / 1000),
        event_id: `funnelbeacon-check-${at}`,
        user: { user_agent: 'funnelbeacon doctor' },
      };
      const result = await post([probe], TIKTOK_CHECK_TEST_CODE);
      if (result.ok) return { outcome: 'ok', message: `TikTok: pixel ${pixelCode} takes events with the access token (test event code ${TIKTOK_CHECK_TEST_CODE})` };
      return { outcome: result.failure === 'auth' ? 'auth' : 'other', message: `TikTok: ${result.message}` };
    },
  };
}

/** Names, ids, times, which user keys, value and currency: never a user value. */
export function summariseTikTokRequest(events: TikTokEvent[], testEventCode?: string): string {
  return JSON.stringify({
    events: events.slice(0, 20).map((event) => ({
      event: shortId(event.event),
      event_id: shortId(event.event_id),
      event_time: event.event_time,
      user: Object.keys(event.user ?? {}),
      ...(event.properties?.value === undefined ? {} : { value: event.properties.value }),
      ...(event.properties?.currency === undefined ? {} : { currency: shortId(event.properties.currency) }),
      ...(event.properties?.order_id === undefined ? {} : { order_id: shortId(event.properties.order_id) }),
      ...(event.properties?.contents === undefined ? {} : { contents: event.properties.contents.length }),
    })),
    ...(events.length > 20 ? { more: events.length - 20 } : {}),
    ...(testEventCode ? { test: true } : {}),
  });
}
