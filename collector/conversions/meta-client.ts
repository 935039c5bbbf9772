/**
 * @module meta-client
 * A small client for Meta's Conversions API (reference conversions.md 2.1): server events POSTed
 * as JSON to `{apiUrl}/{pixelId}/events`, the access token in the body (Meta reads it from the
 * body as from the query string, and a body never lands in a proxy's or a log's URL).
 *
 * Answers become values, never exceptions:
 * - 2xx with `events_received`: `ok`;
 * - Graph error code 190 (invalid or expired token), 104 (no token), 102 (session), 10 and
 *   200–299 (permission),
 *   and HTTP 401/403: `auth` (Meta answers a bad token with HTTP 400 and code 190);
 * - codes 4, 17, 32, 613 and 80004 (Graph's rate limits), and HTTP 429: `rate_limited`;
 * - 5xx, an error envelope with `is_transient: true`, timeouts, refused connections, a 2xx that
 *   is not Meta's success answer, and a 3xx (never followed: the token would go along): `transient`;
 * - any other 4xx: `rejected`, with Meta's message.
 * Retrying is safe: Meta counts the same `event_name` + `event_id` once within 48 hours.
 *
 * Each call is reported to the caller's recorder with a redacted summary: event names, ids and
 * times, which `user_data` keys were sent (never their values), value and currency. Messages never
 * hold the token, a hash, an IP, an email or a name.
 */
import { isRedirect, redirectProblem } from '../http/upstream-redirect.js';
import type { MetaServerEvent } from './meta-mapper.js';
import { metaRequestBody } from './meta-mapper.js';
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

export const META_DEFAULT_API_URL = 'https://graph.facebook.com/v25.0';
/** Meta's limit per request [M6]. */
export const META_MAX_EVENTS_PER_REQUEST = 1000;

export type MetaResponse = { ok: true; status: number; eventsReceived: number; fbtraceId?: string } | PlatformFailed;

export interface MetaClient {
  send(events: MetaServerEvent[], record?: PlatformCallRecorder): Promise<MetaResponse>;
  /** For `doctor`: reads the pixel (`GET /{pixelId}?fields=id`), records nothing. */
  check(): Promise<PlatformCheck>;
}

export interface MetaClientOptions {
  /** The Graph API base with its version, `https://graph.facebook.com/v25.0` unless set. */
  apiUrl?: string;
  pixelId: string;
  accessToken: string;
  /** Routes every event to Events Manager's Test Events instead of the pixel's data. */
  testEventCode?: string;
  /** Meta suggests 1.5 s and answers most calls within 0.6 s; a slow answer is retried later. */
  timeoutMs?: number;
  now?: () => number;
  fetch?: typeof fetch;
}

/** Graph API error codes that mean the token or its permissions (Graph API error-handling guide). */
const AUTH_CODES = new Set([102, 104, 190, 10]);
const RATE_LIMIT_CODES = new Set([4, 17, 32, 613, 80004]);
/** Without a `Retry-After`, the next try waits this long (Graph rate limits reset within minutes). */
const RATE_LIMIT_WAIT_MS = 60_000;

export function metaClient({
  apiUrl = META_DEFAULT_API_URL,
  pixelId,
  accessToken,
  testEventCode,
  timeoutMs = 5_000,
  now = Date.now,
  fetch: doFetch = fetch,
}: MetaClientOptions): MetaClient {
  const base = apiUrl.replace(/\/+$/, '');
  const secrets = [accessToken];

  return {
    async send(events, record) {
      const url = `${base}/${encodeURIComponent(pixelId)}/events`;
      // Meta would refuse the whole request: no call is made, so none is recorded.
      if (events.length === 0 || events.length > META_MAX_EVENTS_PER_REQUEST) {
        return failed('rejected', `a request takes 1 to ${META_MAX_EVENTS_PER_REQUEST} events, not ${events.length}`);
      }
      const finish = recordingFinish<MetaResponse>(record, 'POST /events', summariseMetaRequest(events, testEventCode));
      const body = { ...metaRequestBody(events, testEventCode), access_token: accessToken };
      const answer = await exchange(doFetch, url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify(body),
      }, timeoutMs);
      if (!answer.ok) return finish(failed('transient', answer.message), answer.message);

      const { status, text } = answer;
      const json = parseJsonObject(text);
      if (status >= 200 && status < 300) {
        const received = json?.events_received;
        if (typeof received !== 'number') {
          const message = `HTTP ${status}, not Meta's answer (no events_received)`;
          return finish(failed('transient', message, { status }), message);
        }
        const fbtraceId = shortId(json?.fbtrace_id);
        const result: MetaResponse = { ok: true, status, eventsReceived: received, ...(fbtraceId ? { fbtraceId } : {}) };
        const messages = Array.isArray(json?.messages) ? json.messages.length : 0;
        return finish(result, JSON.stringify({ events_received: received, messages, ...(fbtraceId ? { fbtrace_id: fbtraceId } : {}) }));
      }
      if (isRedirect(status)) {
        const message = redirectProblem(status, answer.headers.get('location'), url, 'META_API_URL');
        return finish(failed('transient', message, { status }), message);
      }
      const result = classifyMetaError(status, json, answer.headers, now(), secrets);
      return finish(result, result.message);
    },

    async check() {
      // INFERRED: the Graph API takes the token as an OAuth 2.0 bearer header as well as a
      // parameter; the header keeps it out of the URL.
      const url = `${base}/${encodeURIComponent(pixelId)}?fields=id`;
      const answer = await exchange(doFetch, url, { method: 'GET', headers: { authorization: `Bearer ${accessToken}`, accept: 'application/json' } }, timeoutMs);
      if (!answer.ok) return { outcome: 'other', message: `Meta: ${answer.message}` };
      const json = parseJsonObject(answer.text);
      if (answer.status >= 200 && answer.status < 300) {
        return json?.id === pixelId
          ? { outcome: 'ok', message: `Meta: pixel ${pixelId} readable with the access token` }
          : { outcome: 'other', message: `Meta: HTTP ${answer.status}, not the pixel's answer` };
      }
      if (isRedirect(answer.status)) return { outcome: 'other', message: `Meta: ${redirectProblem(answer.status, answer.headers.get('location'), url, 'META_API_URL')}` };
      const result = classifyMetaError(answer.status, json, answer.headers, now(), secrets);
      return { outcome: result.failure === 'auth' ? 'auth' : 'other', message: `Meta: ${result.message}` };
    },
  };
}

/** A non-2xx answer as a failure, by Meta's error envelope `{"error":{message,type,code,error_subcode,fbtrace_id}}`. */
function classifyMetaError(status: number, json: Record<string, unknown> | undefined, headers: Headers, nowMs: number, secrets: string[]): PlatformFailed {
  const error = typeof json?.error === 'object' && json.error !== null ? (json.error as Record<string, unknown>) : undefined;
  const code = typeof error?.code === 'number' ? error.code : undefined;
  const subcode = typeof error?.error_subcode === 'number' ? error.error_subcode : undefined;
  const text = typeof error?.message === 'string' && error.message !== '' ? error.message : status >= 500 ? 'server error' : 'no message';
  const codes = code === undefined ? '' : ` (code ${code}${subcode === undefined ? '' : `/${subcode}`})`;
  const message = scrub(`HTTP ${status}${codes}: ${text}`, secrets);

  if ((code !== undefined && (AUTH_CODES.has(code) || (code >= 200 && code <= 299))) || status === 401 || status === 403) {
    return failed('auth', message, { status });
  }
  if ((code !== undefined && RATE_LIMIT_CODES.has(code)) || status === 429) {
    const retryAt = nowMs + (retryAfterMs(headers.get('retry-after'), nowMs) ?? RATE_LIMIT_WAIT_MS);
    return failed('rate_limited', message, { status, retryAt });
  }
  if (status >= 500 || error?.is_transient === true) return failed('transient', message, { status });
  return failed('rejected', message, { status });
}

/** Names, ids, times, which user_data keys, value and currency: never a user_data value. */
export function summariseMetaRequest(events: MetaServerEvent[], testEventCode?: string): string {
  return JSON.stringify({
    events: events.slice(0, 20).map((event) => ({
      event_name: shortId(event.event_name),
      event_id: shortId(event.event_id),
      event_time: event.event_time,
      user_data: Object.keys(event.user_data ?? {}),
      ...(event.custom_data?.value === undefined ? {} : { value: event.custom_data.value }),
      ...(event.custom_data?.currency === undefined ? {} : { currency: shortId(event.custom_data.currency) }),
      ...(event.custom_data?.order_id === undefined ? {} : { order_id: shortId(event.custom_data.order_id) }),
      ...(event.custom_data?.contents === undefined ? {} : { contents: event.custom_data.contents.length }),
    })),
    ...(events.length > 20 ? { more: events.length - 20 } : {}),
    ...(testEventCode ? { test: true } : {}),
  });
}
