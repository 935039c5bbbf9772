/**
 * @module meta-double
 * A strict stand-in for Meta's Conversions API (reference conversions.md 2.1), run as a real HTTP
 * server on 127.0.0.1 so that funnelbeacon's tests exercise the real client, its timeouts and its
 * reading of Meta's error envelope.
 *
 * It refuses what Meta refuses, with HTTP 400 and Meta's envelope
 * `{"error":{message,type,code,error_subcode?,is_transient,fbtrace_id}}`: a missing access token
 * (code 104) or a wrong one (code 190; Meta does not answer 401), a pixel it does not hold (code
 * 100, subcode 33), and a batch with any invalid event (code 100): Meta rejects the entire batch
 * when one event is invalid. An event is invalid without `event_name`, `event_time`,
 * `action_source` or `user_data`; as a website event without `event_source_url` or
 * `user_data.client_user_agent`; with `event_time` older than 7 days or ahead of the double's
 * clock by more than a minute; with a hashed key (`em`, `ph`, `fn`, `ln`, `ct`, `st`, `zp`,
 * `country`, `external_id`) that is not 64 lowercase hex characters; with an `fbc` not shaped
 * `fb.{index}.{13-digit ms}.{fbclid}`; as a Purchase without `value` and `currency`. `data` must
 * hold 1 to 1,000 events.
 *
 * It deduplicates as Meta does: the same `event_name` and `event_id` within 48 hours of the first
 * counts once (`received()` holds every accepted event, `counted()` the ones Meta would count).
 * It can fail on purpose (`fail()`).
 */
import type http from 'node:http';
import { FailureSwitch, type FailOptions } from './failure-switch.js';
import { startHttpDouble } from './http-double.js';

const DAY_MS = 24 * 60 * 60_000;
const MAX_AGE_MS = 7 * DAY_MS;
/** INFERRED: Meta's tolerance for clocks running ahead is not documented; a minute is allowed. */
const MAX_FUTURE_MS = 60_000;
const DEDUP_WINDOW_MS = 2 * DAY_MS;
const MAX_EVENTS = 1000;
const HASHED_KEYS = ['em', 'ph', 'fn', 'ln', 'ct', 'st', 'zp', 'country', 'external_id', 'ge', 'db'] as const;
const ACTION_SOURCES = new Set(['email', 'website', 'app', 'phone_call', 'chat', 'physical_store', 'system_generated', 'business_messaging', 'other']);
const SHA256_HEX = /^[0-9a-f]{64}$/;
const FBC = /^fb\.\d\.\d{13}\..+$/;

/**
 * `http500`: 500 with Meta's transient envelope (code 2); `notJson`: 200 with an HTML page;
 * `badToken`: 400 code 190 whatever the token; `rateLimited`: 400 with a rate-limit code (17
 * unless `code` says 4, 32, 613 or 80004); `http429`: a bare 429; `hang`: no answer;
 * `down`: the socket is destroyed as the request arrives.
 */
export type MetaFailureMode = 'http500' | 'notJson' | 'badToken' | 'rateLimited' | 'http429' | 'hang' | 'down';

export interface MetaFailOptions extends FailOptions {
  /** `rateLimited` only: the Graph error code (default 17). */
  code?: number;
}

export interface MetaDoubleOptions {
  pixelId?: string;
  accessToken?: string;
  /** The Graph API version in `apiUrl` (the double answers any `vNN.N`). */
  version?: string;
  now?: () => number;
}

export interface MetaRequestRecord {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: http.IncomingHttpHeaders;
  /** Parsed JSON, the raw text when it did not parse, undefined when empty. */
  body: unknown;
  /** 0 when no HTTP answer was given (`hang`, `down`). */
  status: number;
  failure?: MetaFailureMode;
  at: number;
}

/** One event of an accepted batch, as sent, with when it arrived. */
export interface MetaReceivedEvent {
  event: Record<string, unknown> & { event_name: string; event_time: number; event_id?: string };
  pixelId: string;
  testEventCode?: string;
  receivedAt: number;
}

export interface MetaDouble {
  /** Origin, e.g. `http://127.0.0.1:40123`. */
  readonly url: string;
  /** `url` + `/v25.0`: what the client's `apiUrl` points at. */
  readonly apiUrl: string;
  readonly pixelId: string;
  readonly requests: MetaRequestRecord[];
  /** Every event of every accepted batch, duplicates included, oldest first. */
  received(): MetaReceivedEvent[];
  /** The events Meta would count: the first of each `event_name` + `event_id` within 48 hours. */
  counted(): MetaReceivedEvent[];
  fail(mode: MetaFailureMode, options?: MetaFailOptions): void;
  recover(): void;
  setAccessToken(token: string): void;
  reset(): void;
  close(): Promise<void>;
}

type Reply = { status: number; body: unknown };

let trace = 0;
const fbtraceId = (): string => `AbCdEf${(trace += 1).toString(36).padStart(6, '0')}`;

function graphError(message: string, code: number, extra: { subcode?: number; transient?: boolean; type?: string; userMsg?: string } = {}): Reply['body'] {
  return {
    error: {
      message,
      type: extra.type ?? 'OAuthException',
      code,
      ...(extra.subcode === undefined ? {} : { error_subcode: extra.subcode }),
      is_transient: extra.transient ?? false,
      ...(extra.userMsg === undefined ? {} : { error_user_title: 'Invalid event', error_user_msg: extra.userMsg }),
      fbtrace_id: fbtraceId(),
    },
  };
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const nonEmptyString = (value: unknown): value is string => typeof value === 'string' && value.trim() !== '';

/** What is wrong with one server event, by Meta's rules; undefined when it is valid. */
export function metaEventProblem(event: unknown, nowMs: number): string | undefined {
  if (!isObject(event)) return 'an event must be an object';
  if (!nonEmptyString(event.event_name)) return 'event_name is required';
  if (event.event_time === undefined) return 'event_time is required';
  if (typeof event.event_time !== 'number' || !Number.isInteger(event.event_time)) return 'event_time must be an integer number of seconds';
  const timeMs = event.event_time * 1000;
  if (timeMs < nowMs - MAX_AGE_MS) return 'event_time is more than 7 days in the past';
  if (timeMs > nowMs + MAX_FUTURE_MS) return 'event_time is in the future';
  if (!nonEmptyString(event.action_source)) return 'action_source is required';
  if (!ACTION_SOURCES.has(event.action_source)) return `action_source ${JSON.stringify(event.action_source)} is not one of Meta's`;
  if (event.event_id !== undefined && typeof event.event_id !== 'string') return 'event_id must be a string';
  if (!isObject(event.user_data)) return 'user_data is required';
  const user = event.user_data;
  if (event.action_source === 'website') {
    if (!nonEmptyString(event.event_source_url)) return 'event_source_url is required for website events';
    if (!nonEmptyString(user.client_user_agent)) return 'client_user_agent is required for website events';
  }
  for (const key of HASHED_KEYS) {
    const value = user[key];
    if (value === undefined) continue;
    const values = Array.isArray(value) ? value : [value];
    if (values.length === 0 || values.some((v) => typeof v !== 'string' || !SHA256_HEX.test(v))) return `user_data.${key} must be SHA-256 hashed (64 lowercase hex characters)`;
  }
  for (const key of ['client_ip_address', 'client_user_agent', 'fbc', 'fbp'] as const) {
    if (user[key] !== undefined && typeof user[key] !== 'string') return `user_data.${key} must be a string`;
  }
  if (user.fbc !== undefined && !FBC.test(user.fbc as string)) return 'user_data.fbc must be fb.{subdomain_index}.{creation_time_ms}.{fbclid}';
  if (event.custom_data !== undefined) {
    if (!isObject(event.custom_data)) return 'custom_data must be an object';
    const custom = event.custom_data;
    if (custom.value !== undefined && (typeof custom.value !== 'number' || !Number.isFinite(custom.value))) return 'custom_data.value must be a number';
    if (custom.currency !== undefined && (typeof custom.currency !== 'string' || !/^[A-Za-z]{3}$/.test(custom.currency))) return 'custom_data.currency must be an ISO 4217 code';
    if (custom.contents !== undefined) {
      if (!Array.isArray(custom.contents)) return 'custom_data.contents must be an array';
      for (const item of custom.contents) {
        if (!isObject(item) || !nonEmptyString(item.id)) return 'custom_data.contents[].id is required';
        if (typeof item.quantity !== 'number' || !Number.isInteger(item.quantity) || item.quantity < 1) return 'custom_data.contents[].quantity must be a positive integer';
        if (item.item_price !== undefined && typeof item.item_price !== 'number') return 'custom_data.contents[].item_price must be a number';
      }
    }
  }
  if (event.event_name === 'Purchase') {
    const custom = isObject(event.custom_data) ? event.custom_data : {};
    if (custom.value === undefined || custom.currency === undefined) return 'custom_data.value and custom_data.currency are required for Purchase events';
  }
  return undefined;
}

export async function startMetaDouble(options: MetaDoubleOptions = {}): Promise<MetaDouble> {
  const now = options.now ?? Date.now;
  const pixelId = options.pixelId ?? '1234567890123456';
  const initialToken = options.accessToken ?? 'meta-test-token';
  const version = options.version ?? 'v25.0';
  let accessToken = initialToken;
  const requests: MetaRequestRecord[] = [];
  const received: MetaReceivedEvent[] = [];
  const failure = new FailureSwitch<MetaFailureMode, { code: number }>('meta');
  const hanging = new Set<http.ServerResponse>();

  /** The token from the body, the query string or an `Authorization: Bearer|OAuth` header. */
  function tokenOf(req: http.IncomingMessage, query: Record<string, string>, body: unknown): string | undefined {
    if (isObject(body) && typeof body.access_token === 'string') return body.access_token;
    if (query.access_token !== undefined) return query.access_token;
    const auth = /^(?:Bearer|OAuth)\s+(.+)$/i.exec(req.headers.authorization ?? '');
    return auth?.[1];
  }

  function route(method: string, path: string, token: string | undefined, body: unknown, bodyIsJson: boolean, at: number): Reply {
    const match = /^\/v\d+\.\d+\/([^/]+)(\/events)?\/?$/.exec(path);
    if (!match) return { status: 400, body: graphError('Unknown path components', 2500) };
    if (token === undefined || token === '') return { status: 400, body: graphError('An access token is required to request this resource.', 104) };
    if (token !== accessToken) return { status: 400, body: graphError('Invalid OAuth access token - Cannot parse access token', 190) };
    const [, node, edge] = match;
    if (node !== pixelId) {
      return { status: 400, body: graphError(`Unsupported ${method.toLowerCase()} request. Object with ID '${node}' does not exist, cannot be loaded due to missing permissions, or does not support this operation.`, 100, { subcode: 33, type: 'GraphMethodException' }) };
    }
    if (edge === undefined) return method === 'GET' ? { status: 200, body: { id: pixelId } } : { status: 400, body: graphError('Unsupported post request.', 100) };
    if (method !== 'POST') return { status: 400, body: graphError('Unsupported get request.', 100) };
    if (!bodyIsJson || !isObject(body)) return { status: 400, body: graphError('Invalid parameter', 100, { userMsg: 'The request body must be a JSON object' }) };
    const data = body.data;
    if (!Array.isArray(data) || data.length === 0) return { status: 400, body: graphError('Invalid parameter', 100, { userMsg: 'data is required: an array of at least one event' }) };
    if (data.length > MAX_EVENTS) return { status: 400, body: graphError('Invalid parameter', 100, { userMsg: `data holds ${data.length} events; at most ${MAX_EVENTS}` }) };
    if (body.test_event_code !== undefined && typeof body.test_event_code !== 'string') return { status: 400, body: graphError('Invalid parameter', 100, { userMsg: 'test_event_code must be a string' }) };
    // One invalid event rejects the entire batch.
    for (const [index, event] of data.entries()) {
      const problem = metaEventProblem(event, at);
      if (problem) return { status: 400, body: graphError('Invalid parameter', 100, { userMsg: `data[${index}]: ${problem}` }) };
    }
    for (const event of data as MetaReceivedEvent['event'][]) {
      received.push({ event, pixelId, receivedAt: at, ...(typeof body.test_event_code === 'string' ? { testEventCode: body.test_event_code } : {}) });
    }
    return { status: 200, body: { events_received: data.length, messages: [], fbtrace_id: fbtraceId() } };
  }

  function handle(req: http.IncomingMessage, res: http.ServerResponse, raw: string): void {
    const at = now();
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const method = req.method ?? 'GET';
    const query = Object.fromEntries(url.searchParams);
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
    const entry: MetaRequestRecord = { method, path: url.pathname, query, headers: req.headers, body, status: 0, at };
    requests.push(entry);
    const finish = (status: number, payload: unknown): void => {
      entry.status = status;
      const text = typeof payload === 'string' ? payload : JSON.stringify(payload);
      const type = typeof payload === 'string' ? 'text/html; charset=utf-8' : 'application/json; charset=UTF-8';
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
          finish(500, graphError('An unexpected error has occurred. Please retry your request later.', 2, { transient: true }));
          return;
        case 'notJson':
          finish(200, '<html><body>Sorry, something went wrong.</body></html>');
          return;
        case 'badToken':
          finish(400, graphError('Error validating access token: Session has expired.', 190, { subcode: 463 }));
          return;
        case 'rateLimited':
          finish(400, graphError(`(#${failing.code}) User request limit reached`, failing.code));
          return;
        case 'http429':
          finish(429, graphError('Too many requests', 4, { transient: true }));
          return;
      }
    }
    const reply = route(method, url.pathname, tokenOf(req, query, body), body, bodyIsJson, at);
    finish(reply.status, reply.body);
  }

  const shell = await startHttpDouble(handle);

  function counted(): MetaReceivedEvent[] {
    const firstSeen = new Map<string, number>();
    const result: MetaReceivedEvent[] = [];
    for (const item of received) {
      const id = item.event.event_id;
      if (typeof id !== 'string' || id === '') {
        result.push(item);
        continue;
      }
      const key = `${item.pixelId}\u0000${item.event.event_name}\u0000${id}`;
      const first = firstSeen.get(key);
      if (first !== undefined && item.receivedAt - first < DEDUP_WINDOW_MS) continue;
      firstSeen.set(key, item.receivedAt);
      result.push(item);
    }
    return result;
  }

  return {
    url: shell.url,
    apiUrl: `${shell.url}/${version}`,
    pixelId,
    requests,
    received: () => [...received],
    counted,
    fail(mode, failOptions = {}) {
      const code = failOptions.code ?? 17;
      if (mode === 'rateLimited' && ![4, 17, 32, 613, 80004].includes(code)) throw new Error('meta double: code must be one of Meta\'s rate-limit codes');
      failure.set(mode, failOptions, { code });
    },
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
