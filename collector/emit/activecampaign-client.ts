/**
 * @module activecampaign-client
 * A small client for ActiveCampaign's v3 REST API (docs/upstreams.md, "ActiveCampaign"):
 * JSON bodies, the `Api-Token` header, and every request through the account's {@link RateGate}
 * first, so that no worker or collector pushes the account past its 5 requests per second.
 *
 * Answers become values, never exceptions:
 * - 2xx: `ok` with the parsed JSON;
 * - 429, and 503 with `Retry-After`: `rate_limited` with `retryAt`, and the gate is paused until
 *   then for every caller of the account (AC's own WooCommerce plugin treats a 503 with
 *   `Retry-After` as "account blocked until"); a 503 without it is an ordinary outage;
 * - other 5xx, refused or dropped connections, timeouts, a 2xx that is not JSON: `transient`;
 * - a 3xx: `transient`, never followed (the `Api-Token` header would go along to wherever it
 *   points; see http/upstream-redirect.ts), with a message naming ACTIVECAMPAIGN_API_URL;
 * - 401 and 403 (AC answers a bad key with 403): `auth`;
 * - 422: `rejected`, with AC's `errors[]` and whether any of them is a `duplicate`;
 * - 404: `rejected` with `notFound`, which a filtered lookup reads as "zero results" (AC's
 *   plugin does the same);
 * - any other 4xx: `rejected` with AC's message.
 *
 * Each call is reported to the caller's recorder with a redacted summary: ids, amounts, dates and
 * field names, never the API key, an email or a name.
 */
import type { Clock } from '../clock.js';
import { isRedirect, NO_REDIRECTS, redirectProblem } from '../http/upstream-redirect.js';
import { redactMessage, summariseParams } from '../redact.js';
import type { EmitContext } from './emission.js';
import type { RateGate } from './rate-gate.js';

export type AcMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';
export type AcFailure = 'transient' | 'rejected' | 'auth' | 'rate_limited';

/** One entry of a 422's `errors[]`. */
export interface AcError {
  code?: string;
  title?: string;
  detail?: string;
}

export type AcResponse =
  | { ok: true; status: number; body: Record<string, unknown> }
  | {
      ok: false;
      failure: AcFailure;
      /** Redacted, fit for logs and the dead-letter view. */
      message: string;
      status?: number;
      /** `rate_limited` only: when the account takes requests again. */
      retryAt?: number;
      errors: AcError[];
      /** A 422 saying the record exists already. */
      duplicate: boolean;
      /** A 404: for a filtered lookup this means "no match". */
      notFound: boolean;
    };

export type CallRecorder = EmitContext['record'];

export interface ActiveCampaignClient {
  /**
   * `path` is relative to the API base (`/ecomOrders`, `/ecomOrders/12`), with its query string
   * if any (see {@link withFilters}).
   */
  request(method: AcMethod, path: string, body?: unknown, record?: CallRecorder): Promise<AcResponse>;
}

export interface ActiveCampaignClientOptions {
  /** The account's API base, ending in `/api/3`. */
  apiUrl: string;
  apiKey: string;
  gate: Pick<RateGate, 'acquire' | 'pauseUntil'>;
  clock: Clock;
  timeoutMs?: number;
  fetch?: typeof fetch;
}

/** `/ecomOrders?filters[externalid]=…`: AC's filter syntax, values URL-encoded. */
export function withFilters(path: string, filters: Record<string, string>): string {
  const query = new URLSearchParams();
  for (const [field, value] of Object.entries(filters)) query.set(`filters[${field}]`, value);
  return `${path}?${query.toString()}`;
}

export function activeCampaignClient({
  apiUrl,
  apiKey,
  gate,
  clock,
  timeoutMs = 15_000,
  fetch: doFetch = fetch,
}: ActiveCampaignClientOptions): ActiveCampaignClient {
  const base = apiUrl.replace(/\/+$/, '');

  return {
    async request(method, path, body, record) {
      const url = new URL(base + path);
      const endpoint = `${method} ${url.pathname.slice(new URL(base).pathname.length) || '/'}`;
      const requestSummary =
        body === undefined ? summariseQuery(url.searchParams) : JSON.stringify(summariseAcBody(body));

      await gate.acquire();
      const finish = recordingFinish(record, endpoint, requestSummary);

      let response: Response;
      let text: string;
      try {
        response = await doFetch(url, {
          method,
          headers: {
            'Api-Token': apiKey,
            accept: 'application/json',
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
          signal: AbortSignal.timeout(timeoutMs),
          ...NO_REDIRECTS,
        });
        text = await response.text();
      } catch (error) {
        const message =
          error instanceof Error && error.name === 'TimeoutError' ? `timed out after ${timeoutMs} ms` : 'connection failed';
        return finish(failure('transient', message), message);
      }

      const status = response.status;
      const json = parseJson(text);

      if (status >= 200 && status < 300) {
        if (json === undefined) return finish(failure('transient', `HTTP ${status}, not JSON`, { status }), `HTTP ${status}, not JSON`);
        return finish({ ok: true, status, body: json }, summariseAcResponse(json));
      }

      if (isRedirect(status)) {
        const message = redirectProblem(status, response.headers.get('location'), url, 'ACTIVECAMPAIGN_API_URL');
        return finish(failure('transient', message, { status }), message);
      }

      if (status === 429 || status === 503) {
        const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'), clock.now());
        // A 429 always means "too fast"; without a header, one second is AC's own window.
        if (retryAfterMs !== undefined || status === 429) {
          const retryAt = clock.now() + (retryAfterMs ?? 1000);
          await gate.pauseUntil(retryAt);
          const message = `HTTP ${status}: ActiveCampaign asks to wait ${Math.ceil((retryAt - clock.now()) / 1000)} s`;
          return finish(failure('rate_limited', message, { status, retryAt }), message);
        }
      }
      if (status >= 500) return finish(failure('transient', `HTTP ${status}`, { status }), `HTTP ${status}`);

      const errors = parseErrors(json);
      const message = redactMessage(`HTTP ${status}: ${describe(json, errors)}`);
      if (status === 401 || status === 403) return finish(failure('auth', message, { status }), message);
      return finish(
        failure('rejected', message, {
          status,
          errors,
          duplicate: status === 422 && errors.some((e) => e.code === 'duplicate'),
          notFound: status === 404,
        }),
        message,
      );
    },
  };
}

function failure(
  kind: AcFailure,
  message: string,
  extra: { status?: number; retryAt?: number; errors?: AcError[]; duplicate?: boolean; notFound?: boolean } = {},
): AcResponse {
  return {
    ok: false,
    failure: kind,
    message,
    ...(extra.status === undefined ? {} : { status: extra.status }),
    ...(extra.retryAt === undefined ? {} : { retryAt: extra.retryAt }),
    errors: extra.errors ?? [],
    duplicate: extra.duplicate ?? false,
    notFound: extra.notFound ?? false,
  };
}

function parseJson(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** `Retry-After` is seconds or an HTTP date; undefined when absent or unreadable. */
function parseRetryAfter(header: string | null, now: number): number | undefined {
  if (header === null || header.trim() === '') return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

function parseErrors(json: Record<string, unknown> | undefined): AcError[] {
  const list = json?.errors;
  if (!Array.isArray(list)) return [];
  return list
    .filter((e): e is Record<string, unknown> => typeof e === 'object' && e !== null)
    .map((e) => ({
      ...(typeof e.code === 'string' ? { code: e.code } : {}),
      ...(typeof e.title === 'string' ? { title: e.title } : {}),
      ...(typeof e.detail === 'string' ? { detail: e.detail } : {}),
    }));
}

/** AC has no common error schema (reference 2.2): `errors[]`, `message` or `error`. */
function describe(json: Record<string, unknown> | undefined, errors: AcError[]): string {
  if (errors.length > 0) {
    return errors
      .map((e) => [e.code && `[${e.code}]`, e.title, e.detail].filter(Boolean).join(' '))
      .join('; ');
  }
  for (const key of ['message', 'error'] as const) {
    const value = json?.[key];
    if (typeof value === 'string' && value !== '') return value;
  }
  return 'no message';
}

// ---- redacted summaries ----

/** Values that are ids, amounts, enums or dates in AC's bodies: never a person's data. */
const AC_SAFE_KEYS = new Set([
  'id',
  'state',
  'service',
  'acceptsMarketing',
  'externalCreatedDate',
  'externalUpdatedDate',
  'price',
  'quantity',
  'shippingAmount',
  'taxAmount',
  'discountAmount',
  'limit',
  'offset',
]);

/**
 * An AC request body with its shape and keys kept and every value that could be personal
 * replaced by `[redacted]`: emails, and anything not known to be an id, amount, enum or date.
 * Product names are kept (they come from the funnel, not the buyer); URLs keep their origin, path
 * and parameter names.
 */
export function summariseAcBody(value: unknown, key = '', parent = ''): unknown {
  if (Array.isArray(value)) return value.map((item) => summariseAcBody(item, key, key));
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, summariseAcBody(v, k, key)]));
  }
  if (value === null || value === undefined || typeof value === 'boolean') return value;
  if (typeof value === 'number') return AC_SAFE_KEYS.has(key) || isSharedSafe(key) ? value : '[redacted]';
  if (AC_SAFE_KEYS.has(key)) return String(value).slice(0, 64);
  if (key === 'name' && parent === 'orderProducts') return String(value).slice(0, 64);
  // Everything else goes through the collector's shared redaction policy.
  return leafSummary(key, String(value));
}

function isSharedSafe(key: string): boolean {
  return leafSummary(key, '0') === '0';
}

function leafSummary(key: string, value: string): string {
  const summary = JSON.parse(summariseParams({ [key]: value })) as Record<string, string>;
  return summary[key] ?? '[redacted]';
}

/** `filters[email]=…&filters[connectionid]=1` as `{"filters[email]":"[redacted]","filters[connectionid]":"1"}`. */
function summariseQuery(params: URLSearchParams): string {
  const summary: Record<string, unknown> = {};
  for (const [name, value] of params) {
    const field = /^filters\[(.+)\]$/.exec(name)?.[1] ?? name;
    summary[name] = summariseAcBody(value, field);
  }
  return JSON.stringify(summary);
}

/** The ids (and order state) of a response; for lists, how many matched. */
function summariseAcResponse(body: Record<string, unknown>): string {
  const summary: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(body)) {
    if (Array.isArray(value)) {
      summary[key] = value.map((item) => (typeof item === 'object' && item !== null ? (item as Record<string, unknown>).id : undefined));
    } else if (typeof value === 'object' && value !== null) {
      const record = value as Record<string, unknown>;
      if (record.id !== undefined) summary[key] = { id: record.id, ...(record.state === undefined ? {} : { state: record.state }) };
      else if (key === 'meta' && record.total !== undefined) summary[key] = { total: record.total };
    }
  }
  return JSON.stringify(summary).slice(0, 500);
}

// ---- event tracking ----

export interface ActiveCampaignEventTracker {
  /**
   * Records `event` for the contact with `email` (ActiveCampaign's event tracking, "Event is
   * recorded" automations): a form POST to the events URL with the account id and event key.
   * Answered like every other call: `ok`, or a failure value.
   */
  track(event: string, email: string, eventdata: string, record?: CallRecorder): Promise<AcResponse>;
}

export interface ActiveCampaignEventTrackerOptions {
  /** `ACTIVECAMPAIGN_EVENTS_URL`: `https://trackcmp.net/event` unless set. */
  eventsUrl: string;
  accountId: string;
  eventKey: string;
  /** The same account's gate as the API's: event tracking counts as a request of the account. */
  gate: Pick<RateGate, 'acquire' | 'pauseUntil'>;
  clock: Clock;
  timeoutMs?: number;
  fetch?: typeof fetch;
}

/** ActiveCampaign caps an event name at 32 characters. */
export const AC_EVENT_NAME_MAX = 32;

export function activeCampaignEventTracker({ eventsUrl, accountId, eventKey, gate, clock, timeoutMs = 15_000, fetch: doFetch = fetch }: ActiveCampaignEventTrackerOptions): ActiveCampaignEventTracker {
  return {
    async track(event, email, eventdata, record) {
      if (event.length === 0 || event.length > AC_EVENT_NAME_MAX) return failure('rejected', `event name "${event}" must be 1 to ${AC_EVENT_NAME_MAX} characters`);
      const form = new URLSearchParams({ actid: accountId, key: eventKey, event, eventdata, visit: JSON.stringify({ email }) });
      // The event name only: the key, the account, the email and the event's data stay out of the log.
      const requestSummary = JSON.stringify({ event, eventdata: '[redacted]', visit: '[redacted]' });
      await gate.acquire();
      const finish = recordingFinish(record, 'POST /event', requestSummary);
      let response: Response;
      let text: string;
      try {
        response = await doFetch(eventsUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
          body: form.toString(),
          signal: AbortSignal.timeout(timeoutMs),
          ...NO_REDIRECTS,
        });
        text = await response.text();
      } catch (error) {
        const message = error instanceof Error && error.name === 'TimeoutError' ? `timed out after ${timeoutMs} ms` : 'connection failed';
        return finish(failure('transient', message), message);
      }
      const status = response.status;
      const json = parseJson(text);
      if (status >= 200 && status < 300) {
        // AC answers `{"success":1,"message":"Event spawned"}`; anything else did not record it.
        if (json?.success === 1 || json?.success === '1') return finish({ ok: true, status, body: json }, '{"success":1}');
        return finish(failure('rejected', `HTTP ${status}: the event was not recorded`, { status }), `HTTP ${status}, no success`);
      }
      if (isRedirect(status)) {
        const message = redirectProblem(status, response.headers.get('location'), new URL(eventsUrl), 'ACTIVECAMPAIGN_EVENTS_URL');
        return finish(failure('transient', message, { status }), message);
      }
      if (status === 429 || (status === 503 && response.headers.get('retry-after'))) {
        const retryAt = clock.now() + (parseRetryAfter(response.headers.get('retry-after'), clock.now()) ?? 1000);
        await gate.pauseUntil(retryAt);
        const message = `HTTP ${status}: ActiveCampaign asks to wait ${Math.ceil((retryAt - clock.now()) / 1000)} s`;
        return finish(failure('rate_limited', message, { status, retryAt }), message);
      }
      if (status >= 500) return finish(failure('transient', `HTTP ${status}`, { status }), `HTTP ${status}`);
      // AC answers a wrong account id or event key, and a bad event, with 400 `{}`.
      const message = `HTTP ${status}: event tracking refused the event (check ACTIVECAMPAIGN_ACCOUNT_ID, ACTIVECAMPAIGN_EVENT_KEY, and that event tracking is on)`;
      return finish(failure(status === 401 || status === 403 ? 'auth' : 'rejected', message, { status }), message);
    },
  };
}

/**
 * What ends a call once its slot was taken: records it (timed from now) for the delivery log and
 * metrics, and hands the result back.
 */
function recordingFinish(record: CallRecorder | undefined, endpoint: string, requestSummary: string): (result: AcResponse, responseSummary: string) => AcResponse {
  const started = performance.now();
  return (result, responseSummary) => {
    record?.({
      endpoint,
      request: requestSummary,
      response: responseSummary,
      outcome: result.ok ? 'ok' : result.failure === 'rate_limited' ? 'transient' : result.failure,
      ...(result.status === undefined ? {} : { httpStatus: result.status }),
      latencyMs: Math.round(performance.now() - started),
    });
    return result;
  };
}
