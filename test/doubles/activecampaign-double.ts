/**
 * @module activecampaign-double
 * A strict stand-in for the ActiveCampaign v3 "Deep Data" API (connections, e-commerce customers,
 * orders and abandoned carts), the contact side the lifecycle sync writes (`contact/sync` with
 * custom field values, fields, tags, contact tags, tracking logs) and event tracking
 * (`POST /event`, trackcmp.net's form), run as a real HTTP server on 127.0.0.1 so that funnelbeacon's
 * integration tests exercise the real client, its throttle and its timeouts.
 *
 * It rejects what the real API rejects, as far as public sources show
 * (docs/upstreams.md, "ActiveCampaign"): a missing or wrong `Api-Token` (403),
 * more than 5 requests in any one second (429 with `Retry-After`), bodies not wrapped in the
 * singular resource key, missing or malformed fields (422 in AC's `errors[]` shape), ids of
 * connections or customers that do not exist, money that is not integer cents, dates without a
 * UTC offset, and a second create for a cart or order id it already holds. It keeps every request
 * and record so tests can assert the final state, reports the busiest second it admitted
 * (`maxRequestsInAnyWindow()`), and can fail on purpose (`fail()`).
 */
import { FailureSwitch } from './failure-switch.js';
import type http from 'node:http';
import { startHttpDouble } from './http-double.js';
import { connectionsResource } from './activecampaign/connections.js';
import { customersResource } from './activecampaign/customers.js';
import { ordersResource } from './activecampaign/orders.js';
import { contactsResource, type AcContact, type AcContactTag, type AcField, type AcTag, type AcTrackingLog } from './activecampaign/contacts.js';
import type { AcConnection, AcCustomer, AcOrder } from './activecampaign/records.js';
import type { Reply, ResourceRoute } from './activecampaign/wire.js';

export type { AcContact, AcContactTag, AcField, AcTag, AcTrackingLog } from './activecampaign/contacts.js';
export { AC_ORDER_STATE, type AcConnection, type AcCustomer, type AcOrder, type AcOrderDiscount, type AcOrderProduct, type AcOrderState } from './activecampaign/records.js';

const WINDOW_MS = 1000;

/**
 * `down` resets the connection without an HTTP answer (as an unreachable or crashing upstream
 * does); `http503` answers 503 with `Retry-After` unless `retryAfterSeconds: null`; `lost` does
 * what the request asks and then resets the connection, so the caller never learns it worked
 * (a timeout after ActiveCampaign wrote).
 */
export type AcFailureMode = 'http500' | 'http503' | 'hang' | 'down' | 'lost';

export interface AcFailOptions {
  /** Fail this many requests, then recover; omitted = until `recover()`. */
  times?: number;
  /** `http503` only: the `Retry-After` value (default 1), or null to send none. */
  retryAfterSeconds?: number | null;
}

export interface ActiveCampaignDoubleOptions {
  apiKey?: string;
  rateLimitPerSecond?: number;
  now?: () => number;
  /** Event tracking (`POST /event`, trackcmp.net's route): the account id and event key it takes. */
  eventAccountId?: string;
  eventKey?: string;
}

export interface AcRequestRecord {
  method: string;
  /** Path without the query string, e.g. `/api/3/ecomOrders/1`. */
  path: string;
  query: Record<string, string>;
  /** Parsed JSON, the raw text when it did not parse, undefined when empty. */
  body: unknown;
  /** 0 when no HTTP answer was given (`hang`, `down`). */
  status: number;
  failure?: AcFailureMode;
  at: number;
}

export interface AcStats {
  total: number;
  rateLimited: number;
  /** Count per HTTP status; key 0 = no HTTP answer. */
  byStatus: Record<number, number>;
}

export interface ActiveCampaignDouble {
  /** Origin, e.g. `http://127.0.0.1:40123` (routes live under `/api/3`). */
  readonly url: string;
  /** `url` + `/api/3`. */
  readonly apiUrl: string;
  readonly requests: AcRequestRecord[];
  readonly connections: Map<string, AcConnection>;
  readonly customers: Map<string, AcCustomer>;
  readonly orders: Map<string, AcOrder>;
  readonly contacts: Map<string, AcContact>;
  readonly fields: Map<string, AcField>;
  readonly tags: Map<string, AcTag>;
  readonly contactTags: Map<string, AcContactTag>;
  /** Every event tracked through `POST /event`, oldest first. */
  readonly trackingLogs: AcTrackingLog[];
  /** `url` + `/event`: what `ACTIVECAMPAIGN_EVENTS_URL` points at in tests. */
  readonly eventsUrl: string;
  readonly stats: AcStats;
  /** Highest number of requests admitted (not answered 429) within any one-second window. */
  maxRequestsInAnyWindow(): number;
  fail(mode: AcFailureMode, options?: AcFailOptions): void;
  recover(): void;
  setApiKey(apiKey: string): void;
  /** Forgets all requests, records, stats, rate-limit history and failures. */
  reset(): void;
  close(): Promise<void>;
}

export async function startActiveCampaignDouble(options: ActiveCampaignDoubleOptions = {}): Promise<ActiveCampaignDouble> {
  const now = options.now ?? Date.now;
  const initialKey = options.apiKey ?? 'ac-test-key';
  const limit = options.rateLimitPerSecond ?? 5;
  let apiKey = initialKey;

  const requests: AcRequestRecord[] = [];
  const connections = new Map<string, AcConnection>();
  const customers = new Map<string, AcCustomer>();
  const orders = new Map<string, AcOrder>();
  const contacts = new Map<string, AcContact>();
  const fields = new Map<string, AcField>();
  const tags = new Map<string, AcTag>();
  const contactTags = new Map<string, AcContactTag>();
  const trackingLogs: AcTrackingLog[] = [];
  const contactIds = { contact: 0, field: 0, tag: 0, contactTag: 0, trackingLog: 0 };
  const eventAccount = { actid: options.eventAccountId ?? '1000', key: options.eventKey ?? 'ac-event-key' };
  const stats: AcStats = { total: 0, rateLimited: 0, byStatus: {} };
  /** Arrival times of every admitted request, oldest first. */
  const admitted: number[] = [];
  const ids = { connection: 0, customer: 0, order: 0, product: 0, discount: 0 };
  const failure = new FailureSwitch<AcFailureMode, { retryAfter: number | null }>('activecampaign');

  const hanging = new Set<http.ServerResponse>();

  function inWindow(at: number): number {
    let count = 0;
    for (let i = admitted.length - 1; i >= 0; i -= 1) {
      const t = admitted[i];
      if (t === undefined || t <= at - WINDOW_MS) break;
      if (t <= at) count += 1;
    }
    return count;
  }

  // ---- views (wire shapes) ----

  const store = { now, connections, customers, orders, ids };
  const connectionRoutes = connectionsResource(store);
  const orderRoutes = ordersResource(store, connectionRoutes.view);
  const resources: Record<string, ResourceRoute> = {
    connections: connectionRoutes.route,
    ecomCustomers: customersResource(store).route,
    ecomOrders: orderRoutes.route,
  };
  const contactRoutes = contactsResource({ now, contacts, fields, tags, contactTags, trackingLogs, ids: contactIds });

  function route(method: string, path: string, query: Record<string, string>, body: unknown): Reply {
    const parts = path.replace(/\/+$/, '').split('/').slice(3); // drop '', 'api', '3'
    const [resource, id, ...rest] = parts;
    const routes = rest.length === 0 && resource !== undefined ? resources[resource] : undefined;
    const contactReply = resource !== undefined && rest.length <= 1 ? contactRoutes.route(method, resource, id, rest[0], query, body) : undefined;
    return routes?.(method, id, query, body) ?? contactReply ?? { status: 404, body: { message: 'Not Found' } };
  }

  // ---- HTTP plumbing ----

  function count(status: number): void {
    stats.byStatus[status] = (stats.byStatus[status] ?? 0) + 1;
  }

  function send(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    const type = typeof body === 'string' ? 'text/html; charset=utf-8' : 'application/json; charset=utf-8';
    res.writeHead(status, { 'content-type': type, 'content-length': String(Buffer.byteLength(text)), ...headers });
    res.end(text);
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
    const entry: AcRequestRecord = { method, path: url.pathname, query, body, status: 0, at };
    requests.push(entry);
    stats.total += 1;
    const finish = (status: number, payload: unknown, headers: Record<string, string> = {}): void => {
      entry.status = status;
      count(status);
      send(res, status, payload, headers);
    };

    // A refused connection never reaches AC's rate limiter, so `down` comes first.
    if (failure.current?.mode === 'down') {
      failure.take();
      entry.failure = 'down';
      count(0);
      res.socket?.destroy();
      return;
    }

    const used = inWindow(at);
    if (used >= limit) {
      const oldest = admitted[admitted.length - used] ?? at;
      const retryAfter = Math.max(1, Math.ceil((oldest + WINDOW_MS - at) / 1000));
      stats.rateLimited += 1;
      finish(429, { message: 'Too Many Requests' }, {
        'retry-after': String(retryAfter),
        'ratelimit-limit': String(limit),
        'ratelimit-remaining': '0',
      });
      return;
    }
    admitted.push(at);
    const rateHeaders = { 'ratelimit-limit': String(limit), 'ratelimit-remaining': String(limit - used - 1) };

    const failing = failure.take();
    if (failing) {
      entry.failure = failing.mode;
      if (failing.mode === 'hang') {
        count(0);
        hanging.add(res);
        res.on('close', () => hanging.delete(res));
        return;
      }
      if (failing.mode === 'lost') {
        if (req.headers['api-token'] === apiKey || url.pathname === '/event') {
          orderRoutes.refreshStates(at);
          if (url.pathname === '/event' && method === 'POST') contactRoutes.trackEvent(raw, eventAccount);
          else if (bodyIsJson) route(method, url.pathname, query, body);
        }
        count(0);
        res.socket?.destroy();
        return;
      }
      if (failing.mode === 'http503') {
        const headers: Record<string, string> =
          failing.retryAfter === null ? {} : { 'retry-after': String(failing.retryAfter) };
        finish(503, '<html><body><h1>503 Service Unavailable</h1></body></html>', headers);
        return;
      }
      finish(500, '<html><body><h1>500 Internal Server Error</h1></body></html>');
      return;
    }

    // Event tracking is its own host in AC (trackcmp.net), authenticated by the form's actid and key.
    if (url.pathname === '/event' && method === 'POST') {
      const reply = contactRoutes.trackEvent(raw, eventAccount);
      finish(reply.status, reply.body, rateHeaders);
      return;
    }
    if (req.headers['api-token'] !== apiKey) {
      finish(403, { message: 'Forbidden: missing or invalid Api-Token' }, rateHeaders);
      return;
    }
    if (!url.pathname.startsWith('/api/3/')) {
      finish(404, { message: 'Not Found' }, rateHeaders);
      return;
    }
    if ((method === 'POST' || method === 'PUT') && !bodyIsJson) {
      finish(400, { message: 'The request body is not valid JSON' }, rateHeaders);
      return;
    }
    orderRoutes.refreshStates(at);
    const reply = route(method, url.pathname, query, body);
    finish(reply.status, reply.body, rateHeaders);
  }

  const shell = await startHttpDouble(handle);
  const origin = shell.url;

  return {
    url: origin,
    apiUrl: `${origin}/api/3`,
    requests,
    connections,
    customers,
    orders,
    contacts,
    fields,
    tags,
    contactTags,
    trackingLogs,
    eventsUrl: `${origin}/event`,
    stats,
    maxRequestsInAnyWindow() {
      let best = 0;
      let start = 0;
      for (let end = 0; end < admitted.length; end += 1) {
        const last = admitted[end] ?? 0;
        while ((admitted[start] ?? last) <= last - WINDOW_MS) start += 1;
        best = Math.max(best, end - start + 1);
      }
      return best;
    },
    fail(mode, failOptions = {}) {
      const { retryAfterSeconds } = failOptions;
      if (retryAfterSeconds !== undefined && retryAfterSeconds !== null && (!Number.isInteger(retryAfterSeconds) || retryAfterSeconds < 0)) {
        throw new Error('activecampaign double: retryAfterSeconds must be a non-negative integer or null');
      }
      failure.set(mode, failOptions, { retryAfter: retryAfterSeconds === undefined ? 1 : retryAfterSeconds });
    },
    recover() {
      failure.clear();
    },
    setApiKey(key) {
      apiKey = key;
    },
    reset() {
      requests.length = 0;
      connections.clear();
      customers.clear();
      orders.clear();
      contacts.clear();
      fields.clear();
      tags.clear();
      contactTags.clear();
      trackingLogs.length = 0;
      Object.assign(contactIds, { contact: 0, field: 0, tag: 0, contactTag: 0, trackingLog: 0 });
      admitted.length = 0;
      stats.total = 0;
      stats.rateLimited = 0;
      for (const key of Object.keys(stats.byStatus)) delete stats.byStatus[Number(key)];
      Object.assign(ids, { connection: 0, customer: 0, order: 0, product: 0, discount: 0 });
      failure.clear();
      apiKey = initialKey;
      for (const res of hanging) res.socket?.destroy();
      hanging.clear();
    },
    close: () => shell.close(),
  };
}
