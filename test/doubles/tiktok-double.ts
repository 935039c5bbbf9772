/**
 * @module tiktok-double
 * A strict stand-in for TikTok's Events API 2.0 (`POST /open_api/v1.3/event/track/`, reference
 * conversions.md 2.3, 2.4), run as a real HTTP server on 127.0.0.1.
 *
 * TikTok answers HTTP 200 whether it took the events or not; the body's `code` says which:
 * `{"code":0,"message":"OK","request_id":…,"data":{}}`, or a non-zero code with a message. The
 * double refuses (codes INFERRED from public client code, TikTok's reference was not read): a
 * missing `Access-Token` header (40104) or a wrong one (40105), a pixel code it does not hold
 * (40001, no permission), and a malformed request (40002): `event_source` other than `web`,
 * `data` not 1 to 1,000 events, and any event without a standard `event` name, an integer
 * `event_time` no more than 7 days old and not ahead of the clock, or an `event_id`; with
 * `user.email`, `user.phone` or `user.external_id` not 64 lowercase hex characters; with
 * `ttclid`, `ttp`, `ip` or `user_agent` not a string; with a `value` that is not a number or
 * contents without `content_id`. Any invalid event fails the request (as Meta does; INFERRED).
 *
 * It deduplicates like TikTok: the same `event` and `event_id` within 48 hours counts once
 * (`received()` vs `counted()`). It can fail on purpose (`fail()`).
 */
import type http from 'node:http';
import { FailureSwitch, type FailOptions } from './failure-switch.js';
import { startHttpDouble } from './http-double.js';

const DAY_MS = 24 * 60 * 60_000;
const MAX_AGE_MS = 7 * DAY_MS;
const MAX_FUTURE_MS = 60_000;
const DEDUP_WINDOW_MS = 2 * DAY_MS;
const MAX_EVENTS = 1000;
const TRACK_PATH = '/open_api/v1.3/event/track/';
const SHA256_HEX = /^[0-9a-f]{64}$/;

/** TikTok's standard web events (Lead and Purchase are its newer names, INFERRED). */
export const TIKTOK_STANDARD_EVENTS = new Set([
  'AddPaymentInfo',
  'AddToCart',
  'AddToWishlist',
  'ClickButton',
  'CompletePayment',
  'CompleteRegistration',
  'Contact',
  'Download',
  'InitiateCheckout',
  'PlaceAnOrder',
  'Search',
  'SubmitForm',
  'Subscribe',
  'ViewContent',
  'Lead',
  'Purchase',
]);

/**
 * `http500`: 500 with an HTML page; `systemError`: 200 with code 50000; `badToken`: 200 with
 * 40105 whatever the token; `rateLimited`: 200 with 40100; `http429`: a bare 429; `hang`: no
 * answer; `down`: the socket is destroyed as the request arrives.
 */
export type TikTokFailureMode = 'http500' | 'systemError' | 'badToken' | 'rateLimited' | 'http429' | 'hang' | 'down';

export interface TikTokDoubleOptions {
  pixelCode?: string;
  accessToken?: string;
  now?: () => number;
}

export interface TikTokRequestRecord {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: unknown;
  /** HTTP status; 0 when none was given. */
  status: number;
  /** TikTok's `code` in the answer, when it gave one. */
  code?: number;
  failure?: TikTokFailureMode;
  at: number;
}

export interface TikTokReceivedEvent {
  event: Record<string, unknown> & { event: string; event_time: number; event_id: string };
  pixelCode: string;
  testEventCode?: string;
  receivedAt: number;
}

export interface TikTokDouble {
  /** Origin: what the client's `apiUrl` points at. */
  readonly url: string;
  readonly pixelCode: string;
  readonly requests: TikTokRequestRecord[];
  received(): TikTokReceivedEvent[];
  counted(): TikTokReceivedEvent[];
  fail(mode: TikTokFailureMode, options?: FailOptions): void;
  recover(): void;
  setAccessToken(token: string): void;
  reset(): void;
  close(): Promise<void>;
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const nonEmptyString = (value: unknown): value is string => typeof value === 'string' && value.trim() !== '';

/** What is wrong with one `data[]` item by TikTok's rules as public clients follow them; undefined when valid. */
export function tiktokEventProblem(item: unknown, nowMs: number): string | undefined {
  if (!isObject(item)) return 'an event must be an object';
  if (!nonEmptyString(item.event)) return 'event is required';
  if (!TIKTOK_STANDARD_EVENTS.has(item.event)) return `event ${JSON.stringify(item.event)} is not a standard event`;
  if (typeof item.event_time !== 'number' || !Number.isInteger(item.event_time)) return 'event_time must be an integer number of seconds';
  if (item.event_time * 1000 < nowMs - MAX_AGE_MS) return 'event_time is more than 7 days in the past';
  if (item.event_time * 1000 > nowMs + MAX_FUTURE_MS) return 'event_time is in the future';
  if (!nonEmptyString(item.event_id)) return 'event_id is required';
  if (item.user !== undefined) {
    if (!isObject(item.user)) return 'user must be an object';
    for (const key of ['email', 'phone', 'external_id'] as const) {
      const value = item.user[key];
      if (value !== undefined && (typeof value !== 'string' || !SHA256_HEX.test(value))) return `user.${key} must be SHA-256 hashed (64 lowercase hex characters)`;
    }
    for (const key of ['ttclid', 'ttp', 'ip', 'user_agent'] as const) {
      if (item.user[key] !== undefined && typeof item.user[key] !== 'string') return `user.${key} must be a string`;
    }
  }
  if (item.page !== undefined) {
    if (!isObject(item.page)) return 'page must be an object';
    for (const key of ['url', 'referrer'] as const) if (item.page[key] !== undefined && typeof item.page[key] !== 'string') return `page.${key} must be a string`;
  }
  if (item.properties !== undefined) {
    if (!isObject(item.properties)) return 'properties must be an object';
    const p = item.properties;
    if (p.value !== undefined && (typeof p.value !== 'number' || !Number.isFinite(p.value))) return 'properties.value must be a number';
    if (p.currency !== undefined && (typeof p.currency !== 'string' || !/^[A-Z]{3}$/.test(p.currency))) return 'properties.currency must be an ISO 4217 code';
    if (p.contents !== undefined) {
      if (!Array.isArray(p.contents)) return 'properties.contents must be an array';
      for (const c of p.contents) {
        if (!isObject(c) || !nonEmptyString(c.content_id)) return 'properties.contents[].content_id is required';
        if (c.quantity !== undefined && (typeof c.quantity !== 'number' || !Number.isInteger(c.quantity) || c.quantity < 1)) return 'properties.contents[].quantity must be a positive integer';
        if (c.price !== undefined && typeof c.price !== 'number') return 'properties.contents[].price must be a number';
      }
    }
  }
  return undefined;
}

let requestCounter = 0;
const requestId = (): string => `2026120716000${(requestCounter += 1).toString().padStart(8, '0')}`;

export async function startTikTokDouble(options: TikTokDoubleOptions = {}): Promise<TikTokDouble> {
  const now = options.now ?? Date.now;
  const pixelCode = options.pixelCode ?? 'CTESTPIXEL0123456789';
  const initialToken = options.accessToken ?? 'tiktok-test-token';
  let accessToken = initialToken;
  const requests: TikTokRequestRecord[] = [];
  const received: TikTokReceivedEvent[] = [];
  const failure = new FailureSwitch<TikTokFailureMode>('tiktok');
  const hanging = new Set<http.ServerResponse>();

  const answer = (code: number, message: string) => ({ code, message, request_id: requestId(), data: {} });

  function track(token: string | undefined, body: unknown, bodyIsJson: boolean, at: number): { code: number; message: string } {
    if (token === undefined || token === '') return { code: 40104, message: 'Access token is null, you should set it in http header with key Access-Token.' };
    if (token !== accessToken) return { code: 40105, message: 'Access token is incorrect or has been revoked.' };
    if (!bodyIsJson || !isObject(body)) return { code: 40002, message: 'The request body must be JSON.' };
    if (body.event_source !== 'web') return { code: 40002, message: 'event_source: must be web for pixel events.' };
    if (!nonEmptyString(body.event_source_id)) return { code: 40002, message: 'event_source_id: Missing data for required field.' };
    if (body.event_source_id !== pixelCode) return { code: 40001, message: 'No permission to operate pixel code.' };
    if (body.test_event_code !== undefined && typeof body.test_event_code !== 'string') return { code: 40002, message: 'test_event_code: Not a valid string.' };
    const data = body.data;
    if (!Array.isArray(data) || data.length === 0 || data.length > MAX_EVENTS) return { code: 40002, message: `data: must hold 1 to ${MAX_EVENTS} events.` };
    for (const [index, item] of data.entries()) {
      const problem = tiktokEventProblem(item, at);
      if (problem) return { code: 40002, message: `data[${index}]: ${problem}` };
    }
    for (const item of data as TikTokReceivedEvent['event'][]) {
      received.push({ event: item, pixelCode, receivedAt: at, ...(typeof body.test_event_code === 'string' ? { testEventCode: body.test_event_code } : {}) });
    }
    return { code: 0, message: 'OK' };
  }

  function handle(req: http.IncomingMessage, res: http.ServerResponse, raw: string): void {
    const at = now();
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const method = req.method ?? 'GET';
    let body: unknown;
    let bodyIsJson = true;
    if (raw.trim() !== '') {
      try {
        body = JSON.parse(raw) as unknown;
      } catch {
        body = raw;
        bodyIsJson = false;
      }
    }
    const entry: TikTokRequestRecord = { method, path: url.pathname, headers: req.headers, body, status: 0, at };
    requests.push(entry);
    const finish = (status: number, payload: unknown): void => {
      entry.status = status;
      if (isObject(payload) && typeof payload.code === 'number') entry.code = payload.code;
      const text = typeof payload === 'string' ? payload : JSON.stringify(payload);
      const type = typeof payload === 'string' ? 'text/html; charset=utf-8' : 'application/json';
      res.writeHead(status, { 'content-type': type, 'content-length': String(Buffer.byteLength(text)) });
      res.end(text);
    };

    const failing = failure.take();
    if (failing) {
      entry.failure = failing.mode;
      switch (failing.mode) {
        case 'down':
          res.socket?.destroy();
          return;
        case 'hang':
          hanging.add(res);
          res.on('close', () => hanging.delete(res));
          return;
        case 'http500':
          finish(500, '<html><body><h1>500 Internal Server Error</h1></body></html>');
          return;
        case 'systemError':
          finish(200, answer(50000, 'System error, please try again later.'));
          return;
        case 'badToken':
          finish(200, answer(40105, 'Access token is incorrect or has been revoked.'));
          return;
        case 'rateLimited':
          finish(200, answer(40100, 'Too many requests. Please retry in some time.'));
          return;
        case 'http429':
          finish(429, answer(40100, 'Too many requests.'));
          return;
      }
    }
    if (url.pathname !== TRACK_PATH) {
      finish(404, '<html><body>404 page not found</body></html>');
      return;
    }
    if (method !== 'POST') {
      finish(405, answer(40002, `Method ${method} not allowed.`));
      return;
    }
    const header = req.headers['access-token'];
    const result = track(Array.isArray(header) ? header[0] : header, body, bodyIsJson, at);
    finish(200, answer(result.code, result.message));
  }

  const shell = await startHttpDouble(handle);

  function counted(): TikTokReceivedEvent[] {
    const firstSeen = new Map<string, number>();
    return received.filter((item) => {
      const key = `${item.pixelCode}\u0000${item.event.event}\u0000${item.event.event_id}`;
      const first = firstSeen.get(key);
      if (first !== undefined && item.receivedAt - first < DEDUP_WINDOW_MS) return false;
      firstSeen.set(key, item.receivedAt);
      return true;
    });
  }

  return {
    url: shell.url,
    pixelCode,
    requests,
    received: () => [...received],
    counted,
    fail: (mode, failOptions = {}) => failure.set(mode, failOptions, {}),
    recover: () => failure.clear(),
    setAccessToken(token) {
      accessToken = token;
    },
    reset() {
      requests.length = 0;
      received.length = 0;
      failure.clear();
      accessToken = initialToken;
      for (const res of hanging) res.socket?.destroy();
      hanging.clear();
    },
    close: () => shell.close(),
  };
}
