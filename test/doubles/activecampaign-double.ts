/**
 * @module activecampaign-double
 * A strict stand-in for the ActiveCampaign v3 "Deep Data" API (connections, e-commerce customers,
 * orders and abandoned carts), run as a real HTTP server on 127.0.0.1 so that funnelbeacon's
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
import { EMAIL, isBlank, isHttpUrl, isInt, isIsoDateWithOffset, productProblems } from './wire-checks.js';
import type http from 'node:http';
import { startHttpDouble } from './http-double.js';

/** AC's e-commerce order states. */
export const AC_ORDER_STATE = { pending: 0, completed: 1, abandoned: 2, recovered: 3, waiting: 4 } as const;
export type AcOrderState = (typeof AC_ORDER_STATE)[keyof typeof AC_ORDER_STATE];

/**
 * `down` resets the connection without an HTTP answer (as an unreachable or crashing upstream
 * does); `http503` answers 503 with `Retry-After` unless `retryAfterSeconds: null`.
 */
export type AcFailureMode = 'http500' | 'http503' | 'hang' | 'down';

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

export interface AcConnection {
  id: string;
  service: string;
  externalid: string;
  name: string;
  logoUrl: string;
  linkUrl: string;
  listId?: string;
  createdAt: number;
}

export interface AcCustomer {
  id: string;
  connectionid: string;
  externalid: string;
  email: string;
  acceptsMarketing?: string;
  createdAt: number;
}

export interface AcOrderProduct {
  id: string;
  externalid: string;
  name: string;
  price: number;
  quantity: number;
  category?: string;
  sku?: string;
  description?: string;
  imageUrl?: string;
  productUrl?: string;
}

export interface AcOrderDiscount {
  id: string;
  name: string;
  type: 'order' | 'shipping';
  discountAmount: number;
}

export interface AcOrder {
  id: string;
  connectionid: string;
  customerid: string;
  externalid: string | null;
  externalcheckoutid: string | null;
  source: 0 | 1;
  email: string;
  totalPrice: number;
  currency: string;
  state: AcOrderState;
  externalCreatedDate: string;
  externalUpdatedDate?: string;
  abandonedDate?: string;
  orderUrl?: string;
  shippingMethod?: string;
  orderNumber?: string;
  shippingAmount?: number;
  taxAmount?: number;
  discountAmount?: number;
  orderProducts: AcOrderProduct[];
  orderDiscounts: AcOrderDiscount[];
  createdAt: number;
  updatedAt: number;
  /** Every accepted write, in order: the unwrapped `ecomOrder` body as sent. */
  history: Array<{ method: 'POST' | 'PUT'; body: Record<string, unknown>; at: number }>;
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

type Json = Record<string, unknown>;
type ErrorCode = 'field_missing' | 'field_invalid' | 'duplicate' | 'related_missing';
interface AcError {
  title: string;
  detail: string;
  code: ErrorCode;
  source: { pointer: string };
}
interface Reply {
  status: number;
  body: unknown;
}

const WINDOW_MS = 1000;

function acError(code: ErrorCode, field: string, title: string, detail = ''): AcError {
  return { title, detail, code, source: { pointer: `/data/attributes/${field}` } };
}

function missing(field: string): AcError {
  return acError('field_missing', field, `The ${field} field is required`);
}

function invalid(field: string, detail: string): AcError {
  return acError('field_invalid', field, `The ${field} field is invalid`, detail);
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** AC prints dates as ISO 8601 with an offset; the double uses UTC. */
function acDate(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, '+00:00');
}

/** Ids may come as JSON numbers or numeric strings (AC's own examples send `"1"`). */
function idOf(value: unknown): string | undefined {
  if (typeof value === 'number' && Number.isInteger(value) && value > 0) return String(value);
  if (typeof value === 'string' && /^\d+$/.test(value) && Number(value) > 0) return String(Number(value));
  return undefined;
}

function externalIdOf(value: unknown): string | undefined {
  if (typeof value === 'string' && value.trim() !== '') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}

function stringField(body: Json, errors: AcError[], field: string, required: boolean): void {
  const value = body[field];
  if (isBlank(value)) {
    if (required) errors.push(missing(field));
  } else if (typeof value !== 'string' && typeof value !== 'number') {
    errors.push(invalid(field, `${field} must be a string`));
  }
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

  /** A cart whose abandonedDate has passed leaves "pending"; re-evaluated on every request. */
  function refreshStates(at: number): void {
    for (const order of orders.values()) {
      if (order.state === AC_ORDER_STATE.pending && order.externalid === null && order.abandonedDate) {
        if (Date.parse(order.abandonedDate) <= at) order.state = AC_ORDER_STATE.abandoned;
      }
    }
  }

  // ---- views (wire shapes) ----

  function connectionView(c: AcConnection): Json {
    return {
      service: c.service,
      externalid: c.externalid,
      name: c.name,
      isInternal: '0',
      connectionType: 'ecommerce',
      status: '1',
      syncStatus: '0',
      logoUrl: c.logoUrl,
      linkUrl: c.linkUrl,
      ...(c.listId === undefined ? {} : { listId: c.listId }),
      cdate: acDate(c.createdAt),
      udate: acDate(c.createdAt),
      links: { options: `/api/3/connections/${c.id}/options`, customers: `/api/3/connections/${c.id}/customers` },
      id: c.id,
    };
  }

  function customerView(c: AcCustomer): Json {
    return {
      connectionid: c.connectionid,
      externalid: c.externalid,
      email: c.email,
      ...(c.acceptsMarketing === undefined ? {} : { acceptsMarketing: c.acceptsMarketing }),
      tstamp: acDate(c.createdAt),
      links: { connection: `/api/3/ecomCustomers/${c.id}/connection`, orders: `/api/3/ecomCustomers/${c.id}/orders` },
      id: c.id,
      connection: c.connectionid,
    };
  }

  function productView(p: AcOrderProduct, order: AcOrder): Json {
    return { ...p, orderid: order.id, connectionid: order.connectionid, ecomOrder: order.id };
  }

  function orderView(o: AcOrder): Json {
    const optional: Json = {};
    for (const key of [
      'externalUpdatedDate',
      'abandonedDate',
      'orderUrl',
      'shippingMethod',
      'orderNumber',
      'shippingAmount',
      'taxAmount',
      'discountAmount',
    ] as const) {
      if (o[key] !== undefined) optional[key] = o[key];
    }
    return {
      externalid: o.externalid,
      externalcheckoutid: o.externalcheckoutid,
      source: String(o.source),
      email: o.email,
      currency: o.currency,
      connectionid: o.connectionid,
      customerid: o.customerid,
      totalPrice: o.totalPrice,
      ...optional,
      externalCreatedDate: o.externalCreatedDate,
      totalProducts: o.orderProducts.reduce((sum, p) => sum + p.quantity, 0),
      createdDate: acDate(o.createdAt),
      updatedDate: acDate(o.updatedAt),
      state: o.state,
      connection: o.connectionid,
      orderProducts: o.orderProducts.map((p) => p.id),
      orderDiscounts: o.orderDiscounts.map((d) => d.id),
      customer: o.customerid,
      orderDate: o.externalCreatedDate,
      tstamp: acDate(o.updatedAt),
      links: {
        connection: `/api/3/ecomOrders/${o.id}/connection`,
        customer: `/api/3/ecomOrders/${o.id}/customer`,
        orderProducts: `/api/3/ecomOrders/${o.id}/orderProducts`,
        orderDiscounts: `/api/3/ecomOrders/${o.id}/orderDiscounts`,
      },
      id: o.id,
    };
  }

  function orderReply(status: number, o: AcOrder): Reply {
    const connection = connections.get(o.connectionid);
    return {
      status,
      body: {
        connections: connection ? [connectionView(connection)] : [],
        ecomOrderProducts: o.orderProducts.map((p) => productView(p, o)),
        ecomOrderDiscounts: o.orderDiscounts.map((d) => ({ ...d, orderid: o.id })),
        ecomOrder: orderView(o),
      },
    };
  }

  function notFound(resource: string, id: string): Reply {
    return { status: 404, body: { message: `No Result found for ${resource} with id ${id}` } };
  }

  function unprocessable(errors: AcError[]): Reply {
    return { status: 422, body: { errors } };
  }

  function list<T>(key: string, items: T[], query: Record<string, string>, view: (item: T) => Json): Reply {
    const limit = Math.min(Math.max(Number(query.limit ?? 20) || 20, 1), 100);
    const offset = Math.max(Number(query.offset ?? 0) || 0, 0);
    return {
      status: 200,
      body: { [key]: items.slice(offset, offset + limit).map(view), meta: { total: String(items.length) } },
    };
  }

  /** Reads `{"<key>": {...}}`; undefined when the body is not wrapped that way. */
  function unwrap(body: unknown, key: string): Json | undefined {
    return isObject(body) && isObject(body[key]) ? body[key] : undefined;
  }

  function notWrapped(key: string): Reply {
    return unprocessable([acError('field_missing', key, `The request body must be a JSON object wrapped in "${key}"`)]);
  }

  // ---- connections ----

  function createConnection(body: unknown): Reply {
    const fields = unwrap(body, 'connection');
    if (!fields) return notWrapped('connection');
    const errors: AcError[] = [];
    for (const field of ['service', 'externalid', 'name', 'logoUrl', 'linkUrl']) stringField(fields, errors, field, true);
    if (errors.length === 0) {
      const service = String(fields.service);
      const externalid = String(fields.externalid);
      for (const c of connections.values()) {
        if (c.service === service && c.externalid === externalid) {
          errors.push(acError('duplicate', 'externalid', 'A connection for this service and externalid already exists'));
        }
      }
    }
    if (errors.length > 0) return unprocessable(errors);
    ids.connection += 1;
    const connection: AcConnection = {
      id: String(ids.connection),
      service: String(fields.service),
      externalid: String(fields.externalid),
      name: String(fields.name),
      logoUrl: String(fields.logoUrl),
      linkUrl: String(fields.linkUrl),
      createdAt: now(),
    };
    if (!isBlank(fields.listId)) connection.listId = String(fields.listId);
    connections.set(connection.id, connection);
    return { status: 201, body: { connection: connectionView(connection) } };
  }

  // ---- customers ----

  function createCustomer(body: unknown): Reply {
    const data = unwrap(body, 'ecomCustomer');
    if (!data) return notWrapped('ecomCustomer');
    const errors: AcError[] = [];
    const connectionid = idOf(data.connectionid);
    if (isBlank(data.connectionid)) errors.push(missing('connectionid'));
    else if (!connectionid) errors.push(invalid('connectionid', 'connectionid must be a numeric id'));
    else if (!connections.has(connectionid)) {
      errors.push(acError('related_missing', 'connectionid', `No connection with id ${connectionid}`));
    }
    stringField(data, errors, 'externalid', true);
    if (isBlank(data.email)) errors.push(missing('email'));
    else if (typeof data.email !== 'string' || !EMAIL.test(data.email)) errors.push(invalid('email', 'Not a valid email address'));
    if (!isBlank(data.acceptsMarketing) && !['0', '1', 0, 1].includes(data.acceptsMarketing as string | number)) {
      errors.push(invalid('acceptsMarketing', 'acceptsMarketing must be 0 or 1'));
    }
    if (errors.length === 0 && connectionid) {
      const email = String(data.email).toLowerCase();
      for (const c of customers.values()) {
        if (c.connectionid === connectionid && c.email.toLowerCase() === email) {
          errors.push(acError('duplicate', 'email', 'A customer with this email already exists for this connection'));
        }
      }
    }
    if (errors.length > 0 || !connectionid) return unprocessable(errors);
    ids.customer += 1;
    const customer: AcCustomer = {
      id: String(ids.customer),
      connectionid,
      externalid: String(data.externalid),
      email: String(data.email),
      createdAt: now(),
    };
    if (!isBlank(data.acceptsMarketing)) customer.acceptsMarketing = String(data.acceptsMarketing);
    customers.set(customer.id, customer);
    return { status: 201, body: { ecomCustomer: customerView(customer) } };
  }

  // ---- orders ----

  /**
   * Checks the fields present in an `ecomOrder` body. On POST the required ones must be there;
   * on PUT every field is optional but what is sent must still be valid.
   */
  function checkOrderFields(data: Json, isCreate: boolean, existing?: AcOrder): AcError[] {
    const errors: AcError[] = [];
    const required = (field: string): boolean => {
      if (!isBlank(data[field])) return true;
      if (isCreate) errors.push(missing(field));
      return false;
    };

    for (const field of ['externalid', 'externalcheckoutid']) {
      const value = data[field];
      if (!isBlank(value) && externalIdOf(value) === undefined) errors.push(invalid(field, `${field} must be a string`));
    }
    const externalid = isBlank(data.externalid) ? undefined : externalIdOf(data.externalid);
    const checkoutid = isBlank(data.externalcheckoutid) ? undefined : externalIdOf(data.externalcheckoutid);
    if (isCreate && externalid === undefined && checkoutid === undefined) {
      errors.push(
        acError('field_missing', 'externalid', 'Either externalid or externalcheckoutid is required'),
      );
    }

    if (required('source') && !['0', '1', 0, 1].includes(data.source as string | number)) {
      errors.push(invalid('source', 'source must be 0 (historical) or 1 (real-time)'));
    }
    if (required('email') && (typeof data.email !== 'string' || !EMAIL.test(data.email))) {
      errors.push(invalid('email', 'Not a valid email address'));
    }
    if (required('totalPrice') && !isInt(data.totalPrice, 0)) {
      errors.push(invalid('totalPrice', 'totalPrice must be an integer number of cents, >= 0'));
    }
    if (required('currency') && (typeof data.currency !== 'string' || !/^[A-Z]{3}$/.test(data.currency))) {
      errors.push(invalid('currency', 'currency must be a 3-letter ISO 4217 code such as USD'));
    }

    let connectionid = existing?.connectionid;
    if (required('connectionid')) {
      connectionid = idOf(data.connectionid);
      if (!connectionid) errors.push(invalid('connectionid', 'connectionid must be a numeric id'));
      else if (!connections.has(connectionid)) {
        errors.push(acError('related_missing', 'connectionid', `No connection with id ${connectionid}`));
      }
    }
    if (required('customerid')) {
      const customerid = idOf(data.customerid);
      const customer = customerid ? customers.get(customerid) : undefined;
      if (!customerid) errors.push(invalid('customerid', 'customerid must be a numeric id'));
      else if (!customer || (connectionid !== undefined && customer.connectionid !== connectionid)) {
        errors.push(acError('related_missing', 'customerid', `No customer with id ${customerid} for this connection`));
      }
    }

    if (required('externalCreatedDate') && !isIsoDateWithOffset(data.externalCreatedDate)) {
      errors.push(invalid('externalCreatedDate', 'Use ISO 8601 with a UTC offset, e.g. 2016-09-13T17:41:39-04:00'));
    }
    if (!isBlank(data.externalUpdatedDate) && !isIsoDateWithOffset(data.externalUpdatedDate)) {
      errors.push(invalid('externalUpdatedDate', 'Use ISO 8601 with a UTC offset'));
    }
    // A cart (checkout id, no order id) is only a cart with the date it was abandoned.
    const cartOnCreate = isCreate && checkoutid !== undefined && externalid === undefined;
    if (isBlank(data.abandonedDate)) {
      if (cartOnCreate) errors.push(missing('abandonedDate'));
    } else if (!isIsoDateWithOffset(data.abandonedDate)) {
      errors.push(invalid('abandonedDate', 'Use ISO 8601 with a UTC offset'));
    }

    for (const field of ['shippingAmount', 'taxAmount', 'discountAmount']) {
      if (!isBlank(data[field]) && !isInt(data[field], 0)) errors.push(invalid(field, `${field} must be an integer number of cents, >= 0`));
    }
    for (const field of ['orderUrl', 'shippingMethod', 'orderNumber']) stringField(data, errors, field, false);
    // The email's "Return to checkout" button and product links: AC takes absolute http(s) URLs only.
    if (!isBlank(data.orderUrl) && !isHttpUrl(data.orderUrl)) errors.push(invalid('orderUrl', 'orderUrl must be an absolute http(s) URL'));

    if (data.orderProducts !== undefined) {
      if (!Array.isArray(data.orderProducts)) errors.push(invalid('orderProducts', 'orderProducts must be an array'));
      else {
        data.orderProducts.forEach((product: unknown, i: number) => {
          const at = `orderProducts/${i}`;
          if (!isObject(product)) {
            errors.push(invalid(at, 'each order product must be an object'));
            return;
          }
          for (const problem of productProblems(product)) {
            errors.push(problem.kind === 'missing' ? missing(`${at}/${problem.field}`) : invalid(`${at}/${problem.field}`, problem.message));
          }
        });
      }
    }
    if (data.orderDiscounts !== undefined) {
      if (!Array.isArray(data.orderDiscounts)) errors.push(invalid('orderDiscounts', 'orderDiscounts must be an array'));
      else {
        data.orderDiscounts.forEach((discount: unknown, i: number) => {
          const at = `orderDiscounts/${i}`;
          if (!isObject(discount)) errors.push(invalid(at, 'each order discount must be an object'));
          else {
            if (isBlank(discount.name)) errors.push(missing(`${at}/name`));
            if (discount.type !== 'order' && discount.type !== 'shipping') errors.push(invalid(`${at}/type`, 'type must be order or shipping'));
            if (!isInt(discount.discountAmount, 0)) errors.push(invalid(`${at}/discountAmount`, 'discountAmount must be an integer >= 0'));
          }
        });
      }
    }

    // The reference leaves duplicate creates open; the double refuses them (see README).
    if (connectionid !== undefined) {
      for (const [field, value] of [
        ['externalid', externalid],
        ['externalcheckoutid', checkoutid],
      ] as const) {
        if (value === undefined) continue;
        for (const other of orders.values()) {
          if (other !== existing && other.connectionid === connectionid && other[field] === value) {
            errors.push(acError('duplicate', field, `An order with this ${field} already exists for this connection (order ${other.id})`));
          }
        }
      }
    }
    return errors;
  }

  function applyOrderFields(order: AcOrder, data: Json): void {
    if (!isBlank(data.externalid)) order.externalid = externalIdOf(data.externalid) ?? null;
    if (!isBlank(data.externalcheckoutid)) order.externalcheckoutid = externalIdOf(data.externalcheckoutid) ?? null;
    if (!isBlank(data.source)) order.source = Number(data.source) === 1 ? 1 : 0;
    if (!isBlank(data.email)) order.email = String(data.email);
    if (isInt(data.totalPrice, 0)) order.totalPrice = data.totalPrice;
    if (!isBlank(data.currency)) order.currency = String(data.currency);
    if (!isBlank(data.connectionid)) order.connectionid = idOf(data.connectionid) ?? order.connectionid;
    if (!isBlank(data.customerid)) order.customerid = idOf(data.customerid) ?? order.customerid;
    if (!isBlank(data.externalCreatedDate)) order.externalCreatedDate = String(data.externalCreatedDate);
    if (!isBlank(data.externalUpdatedDate)) order.externalUpdatedDate = String(data.externalUpdatedDate);
    if (!isBlank(data.abandonedDate)) order.abandonedDate = String(data.abandonedDate);
    for (const field of ['orderUrl', 'shippingMethod', 'orderNumber'] as const) {
      if (!isBlank(data[field])) order[field] = String(data[field]);
    }
    for (const field of ['shippingAmount', 'taxAmount', 'discountAmount'] as const) {
      const value = data[field];
      if (isInt(value, 0)) order[field] = value;
    }
    if (Array.isArray(data.orderProducts)) {
      order.orderProducts = (data.orderProducts as Json[]).map((p) => {
        ids.product += 1;
        const product: AcOrderProduct = {
          id: String(ids.product),
          externalid: String(p.externalid),
          name: String(p.name),
          price: p.price as number,
          quantity: p.quantity as number,
        };
        for (const key of ['category', 'sku', 'description', 'imageUrl', 'productUrl'] as const) {
          if (!isBlank(p[key])) product[key] = String(p[key]);
        }
        return product;
      });
    }
    if (Array.isArray(data.orderDiscounts)) {
      order.orderDiscounts = (data.orderDiscounts as Json[]).map((d) => {
        ids.discount += 1;
        return {
          id: String(ids.discount),
          name: String(d.name),
          type: d.type as 'order' | 'shipping',
          discountAmount: d.discountAmount as number,
        };
      });
    }
  }

  function createOrder(body: unknown): Reply {
    const data = unwrap(body, 'ecomOrder');
    if (!data) return notWrapped('ecomOrder');
    const errors = checkOrderFields(data, true);
    if (errors.length > 0) return unprocessable(errors);
    const at = now();
    ids.order += 1;
    const order: AcOrder = {
      id: String(ids.order),
      connectionid: '',
      customerid: '',
      externalid: null,
      externalcheckoutid: null,
      source: 0,
      email: '',
      totalPrice: 0,
      currency: '',
      state: AC_ORDER_STATE.completed,
      externalCreatedDate: '',
      orderProducts: [],
      orderDiscounts: [],
      createdAt: at,
      updatedAt: at,
      history: [{ method: 'POST', body: data, at }],
    };
    applyOrderFields(order, data);
    if (order.externalid === null) {
      order.state = Date.parse(order.abandonedDate ?? '') <= at ? AC_ORDER_STATE.abandoned : AC_ORDER_STATE.pending;
    }
    orders.set(order.id, order);
    return orderReply(201, order);
  }

  function updateOrder(id: string, body: unknown): Reply {
    const order = orders.get(id);
    if (!order) return notFound('EcomOrder', id);
    const data = unwrap(body, 'ecomOrder');
    if (!data) return notWrapped('ecomOrder');
    const errors = checkOrderFields(data, false, order);
    if (errors.length > 0) return unprocessable(errors);
    const wasCart = order.externalid === null;
    const before = order.state;
    applyOrderFields(order, data);
    if (wasCart && order.externalid !== null) {
      // AC's guide: setting externalid on an abandoned cart is how a recovery is reported.
      order.state = before === AC_ORDER_STATE.abandoned ? AC_ORDER_STATE.recovered : AC_ORDER_STATE.completed;
    }
    order.updatedAt = now();
    order.history.push({ method: 'PUT', body: data, at: order.updatedAt });
    return orderReply(200, order);
  }

  function filterBy<T extends object>(items: Iterable<T>, query: Record<string, string>, fields: string[]): T[] {
    return [...items].filter((item) =>
      fields.every((field) => {
        const wanted = query[`filters[${field}]`];
        if (wanted === undefined) return true;
        const actual = (item as Record<string, unknown>)[field];
        if (field === 'email') return String(actual ?? '').toLowerCase() === wanted.toLowerCase();
        return actual !== null && actual !== undefined && String(actual) === wanted;
      }),
    );
  }

  function route(method: string, path: string, query: Record<string, string>, body: unknown): Reply {
    const parts = path.replace(/\/+$/, '').split('/').slice(3); // drop '', 'api', '3'
    const [resource, id, ...rest] = parts;
    if (rest.length > 0 || resource === undefined) return { status: 404, body: { message: 'Not Found' } };

    if (resource === 'connections') {
      if (id === undefined && method === 'POST') return createConnection(body);
      if (id === undefined && method === 'GET') {
        return list('connections', filterBy(connections.values(), query, ['service', 'externalid']), query, connectionView);
      }
      if (id !== undefined && method === 'GET') {
        const c = connections.get(id);
        return c ? { status: 200, body: { connection: connectionView(c) } } : notFound('Connection', id);
      }
    }
    if (resource === 'ecomCustomers') {
      if (id === undefined && method === 'POST') return createCustomer(body);
      if (id === undefined && method === 'GET') {
        const found = filterBy(customers.values(), query, ['email', 'connectionid', 'externalid']);
        return list('ecomCustomers', found, query, customerView);
      }
      if (id !== undefined && method === 'GET') {
        const c = customers.get(id);
        return c ? { status: 200, body: { ecomCustomer: customerView(c) } } : notFound('EcomCustomer', id);
      }
    }
    if (resource === 'ecomOrders') {
      if (id === undefined && method === 'POST') return createOrder(body);
      if (id === undefined && method === 'GET') {
        const found = filterBy(orders.values(), query, [
          'externalid',
          'externalcheckoutid',
          'email',
          'customerid',
          'connectionid',
          'state',
        ]);
        return list('ecomOrders', found, query, orderView);
      }
      if (id !== undefined && method === 'GET') {
        const o = orders.get(id);
        return o ? orderReply(200, o) : notFound('EcomOrder', id);
      }
      if (id !== undefined && method === 'PUT') return updateOrder(id, body);
      if (id !== undefined && method === 'DELETE') {
        if (!orders.delete(id)) return notFound('EcomOrder', id);
        return { status: 200, body: {} };
      }
    }
    return { status: 404, body: { message: 'Not Found' } };
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
      if (failing.mode === 'http503') {
        const headers: Record<string, string> =
          failing.retryAfter === null ? {} : { 'retry-after': String(failing.retryAfter) };
        finish(503, '<html><body><h1>503 Service Unavailable</h1></body></html>', headers);
        return;
      }
      finish(500, '<html><body><h1>500 Internal Server Error</h1></body></html>');
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
    refreshStates(at);
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
