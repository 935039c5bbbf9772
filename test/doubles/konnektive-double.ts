/**
 * @module konnektive-double
 * A strict stand-in for the Konnektive CRM API, run as a real HTTP server on 127.0.0.1 so that
 * funnelbeacon's integration tests exercise the real client code, sockets and timeouts included.
 *
 * It rejects what the real API would reject, as far as public sources show
 * (docs/upstreams.md, "Konnektive"): credentials on every call, required
 * parameters and their maximum lengths, page types, campaign ids, session and order ids it never
 * handed out, JSON bodies. Like Konnektive it answers errors with HTTP 200 and
 * `{"result":"ERROR","message":"<string>"}`, so a client that only looks at the status code
 * fails these tests. It keeps every call, session and lead so tests can assert the final CRM
 * state, and it can fail on purpose (`fail()`) to drive the collector's retry and timeout paths.
 */
import { FailureSwitch } from './failure-switch.js';
import { EMAIL, isHttpUrl, isIsoDateWithOffset, productProblems } from './wire-checks.js';
import type http from 'node:http';
import { startHttpDouble } from './http-double.js';
import { isIP } from 'node:net';
import { randomBytes } from 'node:crypto';

export const KONNEKTIVE_PAGE_TYPES = [
  'presellPage',
  'leadPage',
  'checkoutPage',
  'upsellPage1',
  'upsellPage2',
  'upsellPage3',
  'upsellPage4',
  'thankyouPage',
] as const;
export type KonnektivePageType = (typeof KONNEKTIVE_PAGE_TYPES)[number];

export const KONNEKTIVE_ORDER_STATUSES = ['PARTIAL', 'COMPLETE', 'DECLINED', 'REFUNDED', 'CANCELLED'] as const;
export type KonnektiveOrderStatus = (typeof KONNEKTIVE_ORDER_STATUSES)[number];

export const KONNEKTIVE_AC_TYPES = ['CONNECTION', 'CART', 'ORDER', 'CUSTOMER', 'QUERY'] as const;
export type KonnektiveAcType = (typeof KONNEKTIVE_AC_TYPES)[number];

/** `down` is an alias of `http500`. */
export type KonnektiveFailureMode = 'http500' | 'hang' | 'error' | 'badCredentials' | 'ipNotWhitelisted' | 'permissionDenied' | 'down';

export const KONNEKTIVE_BAD_CREDENTIALS = 'Could not authenticate credentials';
/** Contains "No result", which is what public clients match to mean "empty page". */
export const KONNEKTIVE_NO_RESULTS = 'No results found matching those parameters';
export const KONNEKTIVE_GENERIC_ERROR = 'An unexpected error occurred, please try again';
/**
 * The refusal of a call from an address missing from the API user's IP whitelist. Konnektive's
 * exact wording is not public (docs/upstreams.md documents only the whitelist itself): this is
 * our stand-in, naming the IP and the whitelist as such errors do.
 */
export const KONNEKTIVE_IP_NOT_WHITELISTED = 'IP address 127.0.0.1 is not whitelisted for this API user';
/**
 * The refusal of an endpoint the API user was not granted (Access Details). Konnektive's wording
 * is not public either: our stand-in, an ERROR under HTTP 200 after the credentials were accepted.
 */
export const KONNEKTIVE_PERMISSION_DENIED = 'API user does not have permission to access this endpoint';

export interface KonnektiveDoubleOptions {
  loginId?: string;
  password?: string;
  /** Campaign ids that exist in the account. */
  campaigns?: string[];
  now?: () => number;
  /**
   * The account's time zone, as minutes east of UTC (default 0). Konnektive prints an order's
   * `dateCreated`/`dateUpdated` in it, without an offset, and reads Query Order's
   * `startDate`/`endDate` as its days.
   */
  utcOffsetMinutes?: number;
  /**
   * Each campaign's products, as Query Campaign lists them; a campaign left out sells
   * {@link DEFAULT_CAMPAIGN_PRODUCTS}.
   */
  products?: Record<string, KonnektiveCampaignProductInput[]>;
}

/** A product of a campaign, as the account sells it (`campaignProductId` is what pages give). */
export interface KonnektiveCampaignProductInput {
  campaignProductId: string | number;
  productName: string;
  /** Dollars: 39.95 or "39.95". */
  price: number | string;
  imageUrl?: string;
}

/** What every campaign of the double sells unless told otherwise: the products the tests' carts hold. */
export const DEFAULT_CAMPAIGN_PRODUCTS: readonly KonnektiveCampaignProductInput[] = Object.freeze([
  { campaignProductId: 41, productName: 'Bottle', price: '39.95' },
  { campaignProductId: 42, productName: 'Spare filter', price: '12.50' },
]);

export type KonnektiveCallResult = 'SUCCESS' | 'ERROR' | 'HTTP500' | 'HANG' | 'HTTP404' | 'HTTP405';

export interface KonnektiveCall {
  method: string;
  /** Path as received, without the query string. */
  path: string;
  /** Query-string and body parameters merged (body wins), credentials included. */
  params: Record<string, string>;
  result: KonnektiveCallResult;
  /** The envelope's `message`, or a short note for HTTP-level answers. */
  message: unknown;
  at: number;
}

export interface KonnektiveClick {
  pageType: KonnektivePageType;
  requestUri?: string;
  userAgent: string;
  ipAddress?: string;
  httpReferer?: string;
  at: number;
  /** Everything sent except the credentials. */
  params: Record<string, string>;
}

export interface KonnektiveSession {
  sessionId: string;
  campaignId: string;
  affVals: Record<string, string>;
  clicks: KonnektiveClick[];
  createdAt: number;
}

export interface KonnektiveItem {
  productId: string;
  name: string;
  qty: number;
  /** Dollars with two decimals, as Konnektive sends money: "39.95". */
  price: string;
  purchaseStatus: string;
}

export interface KonnektiveItemInput {
  productId: string | number;
  name: string;
  qty?: number;
  /** Dollars: 39.95 or "39.95". */
  price: number | string;
  purchaseStatus?: string;
}

export interface KonnektiveOrderChange {
  at: number;
  via: 'leads/import' | 'completeOrder' | 'addUpsell' | 'createCompletedOrder' | 'setOrderStatus' | 'updateOrder';
  /** The lead fields sent (credentials removed), or a summary of the helper call. */
  changes: Record<string, string>;
}

/** One CRM order: a partial created by Import Lead, or a completed order. */
export interface KonnektiveOrder {
  orderId: string;
  customerId: number;
  campaignId: string;
  status: KonnektiveOrderStatus;
  /** Lead fields as last sent (firstName, emailAddress, address1, custom1, ...). */
  fields: Record<string, string>;
  sessionId?: string;
  items: KonnektiveItem[];
  /** Dollars with two decimals. */
  totalAmount: string;
  currencyCode: string;
  dateCreated: number;
  dateUpdated: number;
  history: KonnektiveOrderChange[];
  /** Fields set by {@link KonnektiveDouble.updateOrder} (fulfillments, ...), answered as given. */
  extra?: Record<string, unknown>;
}

/**
 * A transaction or purchase (subscription) the account holds, for the lifecycle queries: its
 * fields as Query Transactions / Query Purchases answer them, and when it was created and last
 * updated (printed in the account's zone).
 */
export interface KonnektiveLifecycleRecord {
  fields: Record<string, unknown>;
  dateCreated: number;
  dateUpdated: number;
}

/** Query Transactions' `txnType` and `responseType` filters. */
export const KONNEKTIVE_TXN_TYPES = ['SALE', 'AUTHORIZE', 'CAPTURE', 'VOID', 'REFUND'] as const;
export const KONNEKTIVE_RESPONSE_TYPES = ['SUCCESS', 'HARD_DECLINE', 'SOFT_DECLINE'] as const;

export interface KonnektiveAcRouteCall {
  type: KonnektiveAcType;
  params: Record<string, string>;
  at: number;
}

export interface KonnektiveDouble {
  /** Origin, e.g. `http://127.0.0.1:40123`. */
  readonly url: string;
  readonly calls: KonnektiveCall[];
  readonly sessions: Map<string, KonnektiveSession>;
  /** Every order, partial or complete, by orderId. */
  readonly leads: Map<string, KonnektiveOrder>;
  readonly acRoute: KonnektiveAcRouteCall[];
  /**
   * Makes the next `times` requests (all of them when omitted) fail in `mode`; with `path`
   * (`/campaign/query/`, say) only requests to that path fail, and the others are answered.
   */
  fail(mode: KonnektiveFailureMode, options?: { times?: number; path?: string }): void;
  /** Replaces what a campaign sells (Query Campaign's `products`). */
  setCampaignProducts(campaignId: string, products: KonnektiveCampaignProductInput[]): void;
  recover(): void;
  /** Simulates the API user's credentials being rotated in the CRM. */
  setCredentials(loginId: string, password: string): void;
  /** Moves the account to another time zone (minutes east of UTC), as its settings can. */
  setUtcOffset(minutes: number): void;
  completeOrder(orderId: string, options: { items: KonnektiveItemInput[]; currency?: string }): KonnektiveOrder;
  addUpsell(orderId: string, item: KonnektiveItemInput): KonnektiveOrder;
  createCompletedOrder(options: {
    email: string;
    firstName?: string;
    lastName?: string;
    phoneNumber?: string;
    campaignId?: string;
    sessionId?: string;
    items: KonnektiveItemInput[];
    currency?: string;
  }): KonnektiveOrder;
  setOrderStatus(orderId: string, status: KonnektiveOrderStatus): KonnektiveOrder;
  /** Sets fields of an order (`fulfillments`, ...) as Query Order will answer them; updates it now. */
  updateOrder(orderId: string, fields: Record<string, unknown>): KonnektiveOrder;
  /** Transactions by `transactionId` and purchases by `purchaseId` (Query Transactions / Query Purchases). */
  readonly transactions: Map<string, KonnektiveLifecycleRecord>;
  readonly purchases: Map<string, KonnektiveLifecycleRecord>;
  /** Adds a transaction, or changes one (fields merged): created or updated now. */
  putTransaction(fields: Record<string, unknown> & { transactionId: string }): KonnektiveLifecycleRecord;
  /** Adds a purchase, or changes one (fields merged): created or updated now. */
  putPurchase(fields: Record<string, unknown> & { purchaseId: string }): KonnektiveLifecycleRecord;
  /** Forgets all calls, sessions, orders and failures; restores the initial credentials. */
  reset(): void;
  close(): Promise<void>;
}

type Params = Record<string, string>;
type Outcome = { ok: true; message: Record<string, unknown> } | { ok: false; message: string };

/** Konnektive publishes no limit for most optional fields; this only stops absurd values. */
const DEFAULT_MAX = 255;
const INT = /^\d+$/;

const LEAD_FIELDS: Record<string, number> = {
  firstName: 50,
  lastName: 50,
  emailAddress: 255,
  phoneNumber: 32,
  address1: DEFAULT_MAX,
  address2: DEFAULT_MAX,
  city: DEFAULT_MAX,
  state: DEFAULT_MAX,
  postalCode: DEFAULT_MAX,
  country: 2,
  shipFirstName: 50,
  shipLastName: 50,
  shipAddress1: DEFAULT_MAX,
  shipAddress2: DEFAULT_MAX,
  shipCity: DEFAULT_MAX,
  shipState: DEFAULT_MAX,
  shipPostalCode: DEFAULT_MAX,
  shipCountry: 2,
  billShipSame: 5,
  ipAddress: 45,
  affId: 10,
  sourceValue1: DEFAULT_MAX,
  sourceValue2: DEFAULT_MAX,
  sourceValue3: DEFAULT_MAX,
  sourceValue4: DEFAULT_MAX,
  sourceValue5: DEFAULT_MAX,
  custom1: DEFAULT_MAX,
  custom2: DEFAULT_MAX,
  custom3: DEFAULT_MAX,
  custom4: DEFAULT_MAX,
  custom5: DEFAULT_MAX,
  disableCustomerDedup: 5,
};
const BOOLEAN = /^(0|1|true|false)$/i;

function has(p: Params, key: string): boolean {
  const value = p[key];
  return value !== undefined && value.trim() !== '';
}

function checkField(p: Params, errors: string[], name: string, rule: { required?: boolean; max?: number }): void {
  const value = p[name];
  if (value === undefined || value.trim() === '') {
    if (rule.required) errors.push(`${name} is required`);
    return;
  }
  if (rule.max !== undefined && value.length > rule.max) {
    errors.push(`${name} may not be greater than ${rule.max} characters`);
  }
}

function withoutCredentials(p: Params): Params {
  const { loginId: _l, password: _p, ...rest } = p;
  return rest;
}

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

/** Konnektive prints dates as `YYYY-MM-DD HH:mm:ss` in the account's time zone, with no offset. */
function crmDate(ms: number, offsetMs: number): string {
  const d = new Date(ms + offsetMs);
  return (
    `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ` +
    `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`
  );
}

/** Parses `mm/dd/yyyy` (as Query Order wants) to the UTC midnight of that day. */
function parseUsDate(text: string): number | undefined {
  const m = /^(\d{1,2})\/(\d{1,2})\/(\d{4})$/.exec(text);
  if (!m) return undefined;
  const month = Number(m[1]);
  const day = Number(m[2]);
  const year = Number(m[3]);
  if (month < 1 || month > 12) return undefined;
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (day < 1 || day > daysInMonth) return undefined;
  return Date.UTC(year, month - 1, day);
}

/** `orderProducts` travels as a JSON string inside the form; each entry mirrors AC's product. */
function checkOrderProducts(text: string): string[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return ['orderProducts must be a JSON array'];
  }
  if (!Array.isArray(parsed)) return ['orderProducts must be a JSON array'];
  const errors: string[] = [];
  parsed.forEach((product: unknown, i: number) => {
    if (typeof product !== 'object' || product === null || Array.isArray(product)) {
      errors.push(`orderProducts[${i}] must be an object`);
      return;
    }
    for (const problem of productProblems(product as Record<string, unknown>)) errors.push(`orderProducts[${i}].${problem.message}`);
  });
  return errors;
}

function toCents(price: number | string): number {
  const value = typeof price === 'number' ? price : Number(price);
  if (!Number.isFinite(value) || value < 0) throw new Error(`invalid price ${String(price)}`);
  return Math.round(value * 100);
}

function dollars(cents: number): string {
  return (cents / 100).toFixed(2);
}

function toItem(input: KonnektiveItemInput, defaultStatus: string): KonnektiveItem {
  return {
    productId: String(input.productId),
    name: input.name,
    qty: input.qty ?? 1,
    price: dollars(toCents(input.price)),
    purchaseStatus: input.purchaseStatus ?? defaultStatus,
  };
}

function totalOf(items: KonnektiveItem[]): string {
  return dollars(items.reduce((sum, item) => sum + toCents(item.price) * item.qty, 0));
}

/** 10 uppercase alphanumerics, the shape of a Konnektive order id. */
function newOrderId(taken: Map<string, unknown>): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
  for (;;) {
    const bytes = randomBytes(10);
    let id = '';
    for (const b of bytes) id += alphabet[b % alphabet.length];
    if (!taken.has(id)) return id;
  }
}

export async function startKonnektiveDouble(options: KonnektiveDoubleOptions = {}): Promise<KonnektiveDouble> {
  const now = options.now ?? Date.now;
  const initialLoginId = options.loginId ?? 'fb-login';
  const initialPassword = options.password ?? 'fb-password';
  const campaigns = new Set(options.campaigns ?? ['12']);

  let loginId = initialLoginId;
  let password = initialPassword;
  const initialUtcOffsetMs = (options.utcOffsetMinutes ?? 0) * 60_000;
  let utcOffsetMs = initialUtcOffsetMs;
  const failure = new FailureSwitch<KonnektiveFailureMode>('konnektive');
  /** Failures armed for one path only. */
  const pathFailures = new Map<string, FailureSwitch<KonnektiveFailureMode>>();
  const campaignProducts = new Map<string, KonnektiveCampaignProductInput[]>(Object.entries(options.products ?? {}));
  let nextCustomerId = 1001;

  const calls: KonnektiveCall[] = [];
  const sessions = new Map<string, KonnektiveSession>();
  const leads = new Map<string, KonnektiveOrder>();
  const transactions = new Map<string, KonnektiveLifecycleRecord>();
  const purchases = new Map<string, KonnektiveLifecycleRecord>();
  const acRoute: KonnektiveAcRouteCall[] = [];
  const customersByEmail = new Map<string, number>();
  const hanging = new Set<http.ServerResponse>();

  function customerIdFor(email: string | undefined, dedup: boolean): number {
    const key = email?.toLowerCase();
    if (key && dedup) {
      const known = customersByEmail.get(key);
      if (known !== undefined) return known;
    }
    const id = nextCustomerId++;
    if (key && !customersByEmail.has(key)) customersByEmail.set(key, id);
    return id;
  }

  function checkCampaign(p: Params, errors: string[]): void {
    const campaignId = p.campaignId;
    if (campaignId === undefined || campaignId.trim() === '') errors.push('campaignId is required');
    else if (!INT.test(campaignId) || !campaigns.has(campaignId)) errors.push(`Invalid campaignId ${campaignId}`);
  }

  function importClick(p: Params): Outcome {
    const errors: string[] = [];
    checkCampaign(p, errors);
    const pageType = p.pageType;
    if (!has(p, 'pageType')) errors.push('pageType is required');
    else if (!(KONNEKTIVE_PAGE_TYPES as readonly string[]).includes(pageType ?? '')) {
      errors.push(`Invalid pageType ${pageType}`);
    }
    checkField(p, errors, 'userAgent', { required: true, max: 300 });
    checkField(p, errors, 'httpReferer', { max: 1000 });
    const firstClick = !has(p, 'sessionId');
    checkField(p, errors, 'requestUri', { required: firstClick, max: 500 });
    checkField(p, errors, 'ipAddress', { required: firstClick, max: 45 });
    if (has(p, 'ipAddress') && isIP(p.ipAddress ?? '') === 0) errors.push('ipAddress must be a valid IP address');
    let landing: URL | undefined;
    if (has(p, 'requestUri') && (p.requestUri ?? '').length <= 500) {
      // A URL that does not parse here is usually one encoded twice by the caller.
      try {
        landing = new URL(p.requestUri ?? '');
        if (landing.protocol !== 'http:' && landing.protocol !== 'https:') throw new Error('not http');
      } catch {
        errors.push('requestUri must be the full landing page URL');
      }
    }
    let session: KonnektiveSession | undefined;
    if (!firstClick) {
      checkField(p, errors, 'sessionId', { max: 32 });
      session = sessions.get(p.sessionId ?? '');
      if (!session) errors.push('Invalid sessionId');
    }
    if (errors.length > 0) return { ok: false, message: errors.join('; ') };

    const affVals: Record<string, string> = {};
    if (landing) {
      for (const key of ['affId', 'c1', 'c2', 'c3']) {
        const value = landing.searchParams.get(key);
        if (value !== null) affVals[key] = value;
      }
    }
    if (!session) {
      const sessionId = randomBytes(16).toString('hex');
      session = { sessionId, campaignId: p.campaignId ?? '', affVals, clicks: [], createdAt: now() };
      sessions.set(sessionId, session);
    }
    const click: KonnektiveClick = {
      pageType: pageType as KonnektivePageType,
      userAgent: p.userAgent ?? '',
      at: now(),
      params: withoutCredentials(p),
    };
    if (has(p, 'requestUri')) click.requestUri = p.requestUri;
    if (has(p, 'ipAddress')) click.ipAddress = p.ipAddress;
    if (has(p, 'httpReferer')) click.httpReferer = p.httpReferer;
    session.clicks.push(click);
    return {
      ok: true,
      message: { sessionId: session.sessionId, pixel: '', affVals: landing ? affVals : session.affVals },
    };
  }

  function leadMessage(order: KonnektiveOrder): Record<string, unknown> {
    return {
      orderId: order.orderId,
      customerId: order.customerId,
      orderStatus: order.status,
      orderType: 'NEW_SALE',
      campaignId: Number(order.campaignId),
      dateCreated: crmDate(order.dateCreated, utcOffsetMs),
      dateUpdated: crmDate(order.dateUpdated, utcOffsetMs),
      ...order.fields,
      billShipSame: order.fields.billShipSame ?? '1',
      customTaxSet: 0,
      shipmentInsured: 0,
      agentUserId: null,
    };
  }

  function importLead(p: Params): Outcome {
    const errors: string[] = [];
    checkCampaign(p, errors);
    checkField(p, errors, 'firstName', { required: true, max: 50 });
    checkField(p, errors, 'lastName', { required: true, max: 50 });
    if (!has(p, 'emailAddress') && !has(p, 'phoneNumber')) errors.push('emailAddress or phoneNumber is required');
    for (const [name, max] of Object.entries(LEAD_FIELDS)) {
      if (name !== 'firstName' && name !== 'lastName') checkField(p, errors, name, { max });
    }
    if (has(p, 'emailAddress') && !EMAIL.test(p.emailAddress ?? '')) errors.push('emailAddress must be a valid email address');
    for (const name of ['country', 'shipCountry']) {
      if (has(p, name) && !/^[A-Za-z]{2}$/.test(p[name] ?? '')) errors.push(`${name} must be a 2-letter country code`);
    }
    for (const name of ['billShipSame', 'disableCustomerDedup']) {
      if (has(p, name) && !BOOLEAN.test(p[name] ?? '')) errors.push(`${name} must be 0 or 1`);
    }
    if (has(p, 'ipAddress') && isIP(p.ipAddress ?? '') === 0) errors.push('ipAddress must be a valid IP address');
    if (has(p, 'sessionId')) {
      checkField(p, errors, 'sessionId', { max: 32 });
      if (!sessions.has(p.sessionId ?? '')) errors.push('Invalid sessionId');
    }
    let existing: KonnektiveOrder | undefined;
    if (has(p, 'orderId')) {
      checkField(p, errors, 'orderId', { max: 30 });
      existing = leads.get(p.orderId ?? '');
      if (!existing) errors.push(`Invalid orderId ${p.orderId}`);
      else if (existing.status !== 'PARTIAL') errors.push(`Order ${existing.orderId} is not a partial order`);
    }
    if (errors.length > 0) return { ok: false, message: errors.join('; ') };

    const at = now();
    const fields: Params = {};
    for (const name of Object.keys(LEAD_FIELDS)) {
      const value = p[name];
      if (value !== undefined && value.trim() !== '') fields[name] = value;
    }
    const change: KonnektiveOrderChange = { at, via: 'leads/import', changes: withoutCredentials(p) };
    if (existing) {
      Object.assign(existing.fields, fields);
      existing.campaignId = p.campaignId ?? existing.campaignId;
      if (has(p, 'sessionId')) existing.sessionId = p.sessionId;
      existing.dateUpdated = at;
      existing.history.push(change);
      return { ok: true, message: leadMessage(existing) };
    }
    const dedup = !/^(1|true)$/i.test(p.disableCustomerDedup ?? '');
    const order: KonnektiveOrder = {
      orderId: newOrderId(leads),
      customerId: customerIdFor(fields.emailAddress, dedup),
      campaignId: p.campaignId ?? '',
      status: 'PARTIAL',
      fields,
      items: [],
      totalAmount: '0.00',
      currencyCode: 'USD',
      dateCreated: at,
      dateUpdated: at,
      history: [change],
    };
    if (has(p, 'sessionId')) order.sessionId = p.sessionId;
    leads.set(order.orderId, order);
    return { ok: true, message: leadMessage(order) };
  }

  function orderView(order: KonnektiveOrder): Record<string, unknown> {
    const { firstName, lastName, emailAddress, phoneNumber, ...rest } = order.fields;
    return {
      orderId: order.orderId,
      customerId: order.customerId,
      orderStatus: order.status,
      orderType: 'NEW_SALE',
      emailAddress: emailAddress ?? null,
      phoneNumber: phoneNumber ?? null,
      firstName: firstName ?? null,
      lastName: lastName ?? null,
      ...rest,
      campaignId: Number(order.campaignId),
      dateCreated: crmDate(order.dateCreated, utcOffsetMs),
      dateUpdated: crmDate(order.dateUpdated, utcOffsetMs),
      totalAmount: order.totalAmount,
      currencyCode: order.currencyCode,
      items: order.items.map((item) => ({ ...item })),
      ...structuredClone(order.extra ?? {}),
    };
  }

  /**
   * Query Transactions and Query Purchases (docs/upstreams.md, "Lifecycle sync"): strict about
   * what public clients validate: dates in m/d/Y, required without a look-up key; start not after
   * end (purchases: strictly before); `dateRangeType`; `resultsPerPage` 1..200; the enums. Dates
   * are whole days in the account's zone; nothing found is an ERROR, as Konnektive answers it.
   */
  function lifecycleQuery(records: Map<string, KonnektiveLifecycleRecord>, what: 'transactions' | 'purchases'): (p: Params) => Outcome {
    const keys = what === 'transactions' ? ['transactionId', 'orderId', 'purchaseId', 'customerId'] : ['purchaseId', 'orderId', 'customerId'];
    return (p) => {
      const errors: string[] = [];
      for (const key of ['orderId', 'purchaseId']) checkField(p, errors, key, { max: 30 });
      if (has(p, 'customerId') && !INT.test(p.customerId ?? '')) errors.push('customerId must be an integer');
      const byKey = keys.some((key) => has(p, key));
      let start: number | undefined;
      let end: number | undefined;
      for (const name of ['startDate', 'endDate'] as const) {
        if (!has(p, name)) {
          if (!byKey) errors.push(`${name} is required`);
        } else if (parseUsDate(p[name] ?? '') === undefined) errors.push(`${name} must be a date in mm/dd/yyyy format`);
      }
      const startDay = has(p, 'startDate') ? parseUsDate(p.startDate ?? '') : undefined;
      const endDay = has(p, 'endDate') ? parseUsDate(p.endDate ?? '') : undefined;
      if (startDay !== undefined && endDay !== undefined) {
        if (startDay > endDay || (what === 'purchases' && startDay === endDay)) errors.push(what === 'purchases' ? 'startDate must be before endDate' : 'startDate must not be after endDate');
      }
      // The days are the account's: its midnight is UTC's minus the offset; any time given is ignored.
      if (startDay !== undefined) start = startDay - utcOffsetMs;
      if (endDay !== undefined) end = endDay - utcOffsetMs + 86_400_000 - 1;
      const dateRangeType = p.dateRangeType ?? 'dateCreated';
      if (dateRangeType !== 'dateCreated' && dateRangeType !== 'dateUpdated') errors.push('Invalid dateRangeType');
      if (what === 'transactions') {
        if (has(p, 'txnType') && !(KONNEKTIVE_TXN_TYPES as readonly string[]).includes(p.txnType ?? '')) errors.push(`Invalid txnType ${p.txnType}`);
        if (has(p, 'responseType') && !(KONNEKTIVE_RESPONSE_TYPES as readonly string[]).includes(p.responseType ?? '')) errors.push(`Invalid responseType ${p.responseType}`);
      }
      const perPage = has(p, 'resultsPerPage') ? Number(p.resultsPerPage) : 25;
      if (!Number.isInteger(perPage) || perPage < 1 || perPage > 200) errors.push('resultsPerPage must be between 1 and 200');
      const page = has(p, 'page') ? Number(p.page) : 1;
      if (!Number.isInteger(page) || page < 1) errors.push('page must be a positive integer');
      if (errors.length > 0) return { ok: false, message: errors.join('; ') };

      const found = [...records.values()].filter((record) => {
        const when = dateRangeType === 'dateUpdated' ? record.dateUpdated : record.dateCreated;
        if (start !== undefined && when < start) return false;
        if (end !== undefined && when > end) return false;
        for (const key of keys) if (has(p, key) && String(record.fields[key] ?? '') !== p[key]) return false;
        for (const key of ['txnType', 'responseType', 'status']) if (has(p, key) && String(record.fields[key] ?? '') !== p[key]) return false;
        return true;
      });
      found.sort((a, b) => a.dateCreated - b.dateCreated);
      const data = found.slice((page - 1) * perPage, page * perPage);
      if (data.length === 0) return { ok: false, message: what === 'transactions' ? 'No transactions found matching those parameters' : 'No purchases found' };
      return {
        ok: true,
        message: {
          totalResults: found.length,
          resultsPerPage: perPage,
          page,
          data: data.map((record) => ({ ...structuredClone(record.fields), dateCreated: crmDate(record.dateCreated, utcOffsetMs), dateUpdated: crmDate(record.dateUpdated, utcOffsetMs) })),
        },
      };
    };
  }

  function putRecord(records: Map<string, KonnektiveLifecycleRecord>, id: string, fields: Record<string, unknown>): KonnektiveLifecycleRecord {
    const at = now();
    const existing = records.get(id);
    const record = existing ? { ...existing, fields: { ...existing.fields, ...structuredClone(fields) }, dateUpdated: at } : { fields: structuredClone(fields), dateCreated: at, dateUpdated: at };
    records.set(id, record);
    return record;
  }

  function queryOrder(p: Params): Outcome {
    const errors: string[] = [];
    checkField(p, errors, 'orderId', { max: 30 });
    let start: number | undefined;
    let end: number | undefined;
    if (!has(p, 'orderId')) {
      for (const name of ['startDate', 'endDate'] as const) {
        if (!has(p, name)) errors.push(`${name} is required`);
        else if (parseUsDate(p[name] ?? '') === undefined) errors.push(`${name} must be a date in mm/dd/yyyy format`);
      }
      // The days are the account's: its midnight is UTC's minus the offset.
      const startDay = parseUsDate(p.startDate ?? '');
      const endDay = parseUsDate(p.endDate ?? '');
      start = startDay === undefined ? undefined : startDay - utcOffsetMs;
      end = endDay === undefined ? undefined : endDay - utcOffsetMs + 86_400_000 - 1;
      if (start !== undefined && end !== undefined && start > end) errors.push('startDate must be before endDate');
    }
    const dateRangeType = p.dateRangeType ?? 'dateCreated';
    if (dateRangeType !== 'dateCreated' && dateRangeType !== 'dateUpdated') errors.push('Invalid dateRangeType');
    if (has(p, 'orderStatus') && !(KONNEKTIVE_ORDER_STATUSES as readonly string[]).includes(p.orderStatus ?? '')) {
      errors.push(`Invalid orderStatus ${p.orderStatus}`);
    }
    if (has(p, 'campaignId') && !INT.test(p.campaignId ?? '')) errors.push('campaignId must be an integer');
    const perPage = has(p, 'resultsPerPage') ? Number(p.resultsPerPage) : 25;
    if (!Number.isInteger(perPage) || perPage < 1 || perPage > 200) errors.push('resultsPerPage must be between 1 and 200');
    const page = has(p, 'page') ? Number(p.page) : 1;
    if (!Number.isInteger(page) || page < 1) errors.push('page must be a positive integer');
    if (errors.length > 0) return { ok: false, message: errors.join('; ') };

    let found: KonnektiveOrder[];
    if (has(p, 'orderId')) {
      const order = leads.get(p.orderId ?? '');
      found = order ? [order] : [];
    } else {
      found = [...leads.values()].filter((order) => {
        const when = dateRangeType === 'dateUpdated' ? order.dateUpdated : order.dateCreated;
        if (start !== undefined && when < start) return false;
        if (end !== undefined && when > end) return false;
        if (has(p, 'orderStatus') && order.status !== p.orderStatus) return false;
        if (has(p, 'campaignId') && order.campaignId !== p.campaignId) return false;
        for (const field of ['emailAddress', 'phoneNumber', 'firstName', 'lastName', 'ipAddress']) {
          const wanted = p[field];
          if (wanted && (order.fields[field] ?? '').toLowerCase() !== wanted.toLowerCase()) return false;
        }
        return true;
      });
      found.sort((a, b) => a.dateCreated - b.dateCreated);
    }
    const data = found.slice((page - 1) * perPage, page * perPage);
    if (data.length === 0) return { ok: false, message: KONNEKTIVE_NO_RESULTS };
    return { ok: true, message: { totalResults: found.length, resultsPerPage: perPage, page, data: data.map(orderView) } };
  }

  function cartActiveCampaign(p: Params): Outcome {
    const errors: string[] = [];
    const type = p.type;
    if (!has(p, 'type')) return { ok: false, message: 'type is required' };
    if (!(KONNEKTIVE_AC_TYPES as readonly string[]).includes(type ?? '')) return { ok: false, message: `Invalid type ${type}` };
    if (type === 'CART' || type === 'ORDER') {
      checkField(p, errors, 'externalcheckoutid', { required: true });
      checkField(p, errors, 'email', { required: true });
      if (has(p, 'email') && !EMAIL.test(p.email ?? '')) errors.push('email must be a valid email address');
      if (!has(p, 'source')) errors.push('source is required');
      else if (p.source !== '0' && p.source !== '1') errors.push('source must be 0 or 1');
      if (!has(p, 'totalPrice')) errors.push('totalPrice is required');
      else if (!INT.test(p.totalPrice ?? '')) errors.push('totalPrice must be an integer amount in cents');
      if (!has(p, 'currency')) errors.push('currency is required');
      else if (!/^[A-Z]{3}$/.test(p.currency ?? '')) errors.push('currency must be a 3-letter ISO code');
      if (type === 'CART') {
        if (!has(p, 'abandonedDate')) errors.push('abandonedDate is required');
        else if (!isIsoDateWithOffset(p.abandonedDate ?? '')) errors.push('abandonedDate must be ISO 8601 with a UTC offset');
      } else {
        checkField(p, errors, 'externalid', { required: true });
      }
      if (p.orderProducts !== undefined) errors.push(...checkOrderProducts(p.orderProducts));
      if (p.orderUrl !== undefined && !isHttpUrl(p.orderUrl)) errors.push('orderUrl must be an absolute http(s) URL');
    } else if (type === 'CUSTOMER') {
      checkField(p, errors, 'email', { required: true });
      if (has(p, 'email') && !EMAIL.test(p.email ?? '')) errors.push('email must be a valid email address');
      checkField(p, errors, 'externalid', { required: true });
    } else if (type === 'QUERY') {
      if (!has(p, 'queryType')) errors.push('queryType is required');
      else if (!['CONNECTION', 'PRODUCTS', 'ORDER', 'CUSTOMER'].includes(p.queryType ?? '')) {
        errors.push(`Invalid queryType ${p.queryType}`);
      }
    }
    if (errors.length > 0) return { ok: false, message: errors.join('; ') };

    const at = now();
    const params = withoutCredentials(p);
    if (type === 'QUERY') {
      // ActiveCampaign keeps carts and orders as one kind of record, so ORDER lists both.
      const wanted = p.queryType === 'PRODUCTS' || p.queryType === 'ORDER' ? ['CART', 'ORDER'] : [p.queryType];
      const data = acRoute
        .map((call, index) => ({ call, id: String(index + 1) }))
        .filter(({ call }) => wanted.includes(call.type))
        .map(({ call, id }) => ({ id, ...call.params }));
      acRoute.push({ type, params, at });
      return { ok: true, message: { queryType: p.queryType, data } };
    }
    acRoute.push({ type: type as KonnektiveAcType, params, at });
    return { ok: true, message: { type, status: 'accepted', id: String(acRoute.length) } };
  }

  /**
   * Query Campaign: read-only. `campaignId` is required (every public client sends it); one the
   * account does not have finds nothing. The answer holds the campaign under its id, as public
   * clients read it (`message.data[campaignId].products`), money as dollar strings.
   */
  function queryCampaign(p: Params): Outcome {
    if (!has(p, 'campaignId')) return { ok: false, message: 'campaignId is required' };
    const campaignId = p.campaignId ?? '';
    if (!INT.test(campaignId)) return { ok: false, message: 'campaignId must be an integer' };
    if (!campaigns.has(campaignId)) return { ok: false, message: KONNEKTIVE_NO_RESULTS };
    const products = (campaignProducts.get(campaignId) ?? DEFAULT_CAMPAIGN_PRODUCTS).map((product) => ({
      campaignProductId: Number(product.campaignProductId),
      productName: product.productName,
      price: dollars(toCents(product.price)),
      shippingPrice: '0.00',
      ...(product.imageUrl === undefined ? {} : { imageUrl: product.imageUrl }),
    }));
    return {
      ok: true,
      message: {
        totalResults: 1,
        data: { [campaignId]: { campaignId: Number(campaignId), campaignName: `Campaign ${campaignId}`, currency: 'USD', currencySymbol: '$', products, countries: [], coupons: [], shipProfiles: [] } },
      },
    };
  }

  const routes: Record<string, (p: Params) => Outcome> = {
    '/campaign/query/': queryCampaign,
    '/landers/clicks/import/': importClick,
    '/leads/import/': importLead,
    '/order/query/': queryOrder,
    '/transactions/query/': lifecycleQuery(transactions, 'transactions'),
    '/purchase/query/': lifecycleQuery(purchases, 'purchases'),
    '/cart/activecampaign/': cartActiveCampaign,
  };

  function record(req: http.IncomingMessage, path: string, params: Params, result: KonnektiveCallResult, message: unknown): void {
    calls.push({ method: req.method ?? '', path, params, result, message, at: now() });
  }

  function sendJson(res: http.ServerResponse, body: unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse, body: string): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const path = url.pathname;
    const params: Params = Object.fromEntries(url.searchParams);
    const contentType = (req.headers['content-type'] ?? '').toLowerCase();
    const trimmed = body.trim();
    let bodyProblem: string | undefined;
    if (req.method === 'POST' && trimmed !== '') {
      if (contentType.includes('json') || trimmed.startsWith('{') || trimmed.startsWith('[')) {
        bodyProblem = 'JSON request bodies are not supported: send application/x-www-form-urlencoded fields or a query string';
      } else if (!contentType.startsWith('application/x-www-form-urlencoded')) {
        bodyProblem = `Unsupported content type "${contentType || 'none'}": send application/x-www-form-urlencoded fields`;
      } else {
        // PHP-style merge: a field in the body overrides the same name in the query string.
        Object.assign(params, Object.fromEntries(new URLSearchParams(body)));
      }
    }

    const routed = path.endsWith('/') ? path : `${path}/`;
    const mode = pathFailures.get(routed)?.take()?.mode ?? failure.take()?.mode;
    if (mode === 'hang') {
      record(req, path, params, 'HANG', null);
      hanging.add(res);
      res.on('close', () => hanging.delete(res));
      return;
    }
    if (mode === 'http500' || mode === 'down') {
      record(req, path, params, 'HTTP500', 'simulated HTTP 500');
      const html = '<html><head><title>500 Internal Server Error</title></head><body><h1>Internal Server Error</h1></body></html>';
      res.writeHead(500, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(html) });
      res.end(html);
      return;
    }

    const route = routes[path.endsWith('/') ? path : `${path}/`];
    if (!route) {
      record(req, path, params, 'HTTP404', 'not found');
      res.writeHead(404, { 'content-type': 'text/html; charset=utf-8' });
      res.end('<html><body><h1>404 Not Found</h1></body></html>');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'POST') {
      record(req, path, params, 'HTTP405', 'method not allowed');
      res.writeHead(405, { allow: 'GET, POST', 'content-type': 'text/plain' });
      res.end('Method Not Allowed');
      return;
    }

    let outcome: Outcome;
    if (mode === 'error') outcome = { ok: false, message: KONNEKTIVE_GENERIC_ERROR };
    else if (mode === 'badCredentials') outcome = { ok: false, message: KONNEKTIVE_BAD_CREDENTIALS };
    else if (mode === 'ipNotWhitelisted') outcome = { ok: false, message: KONNEKTIVE_IP_NOT_WHITELISTED };
    else if (mode === 'permissionDenied') outcome = { ok: false, message: KONNEKTIVE_PERMISSION_DENIED };
    else if (bodyProblem) outcome = { ok: false, message: bodyProblem };
    else if ((params.loginId ?? '').length > 32 || (params.password ?? '').length > 32) {
      outcome = { ok: false, message: 'loginId and password may not be greater than 32 characters' };
    } else if (params.loginId !== loginId || params.password !== password) {
      outcome = { ok: false, message: KONNEKTIVE_BAD_CREDENTIALS };
    } else outcome = route(params);

    if (outcome.ok) {
      record(req, path, params, 'SUCCESS', outcome.message);
      sendJson(res, { result: 'SUCCESS', message: outcome.message });
    } else {
      record(req, path, params, 'ERROR', outcome.message);
      sendJson(res, { result: 'ERROR', message: outcome.message });
    }
  }

  const shell = await startHttpDouble(handle);

  function requireOrder(orderId: string): KonnektiveOrder {
    const order = leads.get(orderId);
    if (!order) throw new Error(`konnektive double: no order ${orderId}`);
    return order;
  }

  const double: KonnektiveDouble = {
    url: shell.url,
    calls,
    sessions,
    leads,
    acRoute,
    fail(mode, { path, ...failOptions } = {}) {
      if (path === undefined) return failure.set(mode, failOptions, {});
      const routed = path.endsWith('/') ? path : `${path}/`;
      if (!(routed in routes)) throw new Error(`konnektive double: no path ${path}`);
      const one = pathFailures.get(routed) ?? new FailureSwitch<KonnektiveFailureMode>(`konnektive ${routed}`);
      one.set(mode, failOptions, {});
      pathFailures.set(routed, one);
    },
    recover() {
      failure.clear();
      pathFailures.clear();
    },
    setCampaignProducts(campaignId, products) {
      campaignProducts.set(campaignId, products.map((product) => ({ ...product })));
    },
    setCredentials(newLoginId, newPassword) {
      loginId = newLoginId;
      password = newPassword;
    },
    setUtcOffset(minutes) {
      utcOffsetMs = minutes * 60_000;
    },
    completeOrder(orderId, { items, currency }) {
      const order = requireOrder(orderId);
      order.status = 'COMPLETE';
      order.items = items.map((item) => toItem(item, 'COMPLETE'));
      order.totalAmount = totalOf(order.items);
      if (currency) order.currencyCode = currency;
      order.dateUpdated = now();
      order.history.push({
        at: order.dateUpdated,
        via: 'completeOrder',
        changes: { orderStatus: 'COMPLETE', totalAmount: order.totalAmount, items: String(order.items.length) },
      });
      return order;
    },
    addUpsell(orderId, item) {
      const order = requireOrder(orderId);
      // An upsell is sold on the back of a completed checkout; on a partial it is a test bug.
      if (order.status !== 'COMPLETE') throw new Error(`konnektive double: order ${orderId} is ${order.status}, not COMPLETE`);
      const added = toItem(item, 'COMPLETE');
      order.items.push(added);
      order.totalAmount = totalOf(order.items);
      order.dateUpdated = now();
      order.history.push({
        at: order.dateUpdated,
        via: 'addUpsell',
        changes: { productId: added.productId, price: added.price, totalAmount: order.totalAmount },
      });
      return order;
    },
    createCompletedOrder(input) {
      const at = now();
      const campaignId = input.campaignId ?? [...campaigns][0] ?? '1';
      const fields: Params = { emailAddress: input.email };
      if (input.firstName) fields.firstName = input.firstName;
      if (input.lastName) fields.lastName = input.lastName;
      if (input.phoneNumber) fields.phoneNumber = input.phoneNumber;
      const items = input.items.map((item) => toItem(item, 'COMPLETE'));
      const order: KonnektiveOrder = {
        orderId: newOrderId(leads),
        customerId: customerIdFor(input.email, true),
        campaignId,
        status: 'COMPLETE',
        fields,
        items,
        totalAmount: totalOf(items),
        currencyCode: input.currency ?? 'USD',
        dateCreated: at,
        dateUpdated: at,
        history: [{ at, via: 'createCompletedOrder', changes: { emailAddress: input.email } }],
      };
      if (input.sessionId) order.sessionId = input.sessionId;
      leads.set(order.orderId, order);
      return order;
    },
    setOrderStatus(orderId, status) {
      const order = requireOrder(orderId);
      order.status = status;
      order.dateUpdated = now();
      order.history.push({ at: order.dateUpdated, via: 'setOrderStatus', changes: { orderStatus: status } });
      return order;
    },
    updateOrder(orderId, fields) {
      const order = requireOrder(orderId);
      order.extra = { ...order.extra, ...structuredClone(fields) };
      order.dateUpdated = now();
      order.history.push({ at: order.dateUpdated, via: 'updateOrder', changes: Object.fromEntries(Object.keys(fields).map((key) => [key, 'set'])) });
      return order;
    },
    transactions,
    purchases,
    putTransaction: (fields) => putRecord(transactions, fields.transactionId, fields),
    putPurchase: (fields) => putRecord(purchases, fields.purchaseId, fields),
    reset() {
      calls.length = 0;
      transactions.clear();
      purchases.clear();
      acRoute.length = 0;
      sessions.clear();
      leads.clear();
      customersByEmail.clear();
      nextCustomerId = 1001;
      failure.clear();
      pathFailures.clear();
      campaignProducts.clear();
      for (const [campaignId, products] of Object.entries(options.products ?? {})) campaignProducts.set(campaignId, products);
      loginId = initialLoginId;
      password = initialPassword;
      utcOffsetMs = initialUtcOffsetMs;
      for (const res of hanging) res.socket?.destroy();
      hanging.clear();
    },
    close: () => shell.close(),
  };
  return double;
}
