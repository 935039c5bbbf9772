/**
 * @module activecampaign-emitter
 * `EMIT_VIA=activecampaign`: CUSTOMER, CART and ORDER written straight to ActiveCampaign's v3
 * Deep Data API (docs/upstreams.md, "Resources" and "Carts, orders and recovery").
 *
 * - The connection (AC's "store") is `ACTIVECAMPAIGN_CONNECTION_ID` when set; otherwise it is
 *   looked up by service `funnelbeacon` and the host of `PUBLIC_URL`, and created if missing, once
 *   per process.
 * - The e-commerce customer is looked up by email and connection, and created if missing.
 * - A CART is an ecomOrder with `externalcheckoutid` (the session's cart id), no `externalid`
 *   and an `abandonedDate`; `source=1` so that "Abandons cart" automations start.
 * - An ORDER that follows a CART updates that same record (PUT) with `externalid`: AC then marks
 *   the cart recovered. An ORDER without a CART is created with `externalid` only: AC requires
 *   `abandonedDate` whenever `externalcheckoutid` is sent, and there is no cart to link.
 *
 * AC has no idempotency key and creating an order is not idempotent (docs/upstreams.md), so
 * duplicates are avoided the way AC's WooCommerce plugin does it: when an earlier attempt may have
 * reached AC (`mayAlreadyExist`), the record is looked up before anything is created, and a 422
 * `duplicate` on create is answered by looking the record up and carrying on with its id.
 *
 * The request bodies are built in activecampaign-bodies.ts, which the sandbox route uses too, so
 * that what the sandbox shows is what this route sends.
 */
import type { Clock } from '../clock.js';
import type { Config } from '../config.js';
import type { Store } from '../store/store.js';
import {
  activeCampaignClient,
  withFilters,
  type AcResponse,
  type ActiveCampaignClient,
  type CallRecorder,
} from './activecampaign-client.js';
import { AC_SERVICE, acCartBody, acConnectionBody, acCustomerBody, acOrderBody } from './activecampaign-bodies.js';
import type { CartEmission, CloseEmission, CustomerEmission, EmitResult, Emitter, OrderEmission } from './emission.js';
import { RateGate } from './rate-gate.js';

/** One rate limit per AC account: the account is the API host. */
export function activeCampaignRateKey(apiUrl: string): string {
  return `activecampaign:${new URL(apiUrl).host}`;
}

export interface ActiveCampaignEmitterOptions {
  config: Pick<Config, 'activeCampaign' | 'activeCampaignRatePerSecond' | 'publicUrl'>;
  clock: Clock;
  /** Holds the account's shared rate slots; needed unless `client` is given. */
  store?: Pick<Store, 'reserveRateSlot' | 'deferRateSlots' | 'recordRateSend' | 'forgetRateSend'>;
  client?: ActiveCampaignClient;
  timeoutMs?: number;
  fetch?: typeof fetch;
}

type Failure = Extract<EmitResult, { ok: false }>;
type Step<T> = { ok: true; value: T } | Failure;
/** Where a record is found again: a list resource and its filters. */
type Lookup = { resource: string; filters: Record<string, string> };

function failed(response: Extract<AcResponse, { ok: false }>): Failure {
  return {
    ok: false,
    failure: response.failure,
    message: response.message,
    ...(response.retryAt === undefined ? {} : { retryAt: response.retryAt }),
  };
}

/** Integer cents only: a float or a negative here is a bug upstream of this route, not AC's call. */
function amountProblem(emission: CartEmission | OrderEmission): string | undefined {
  const cents = (n: number) => Number.isInteger(n) && n >= 0;
  if (!cents(emission.totalCents)) return `totalCents must be integer cents, got ${emission.totalCents}`;
  for (const item of emission.items) {
    if (!cents(item.priceCents)) return `item ${item.id}: priceCents must be integer cents, got ${item.priceCents}`;
    if (!Number.isInteger(item.quantity) || item.quantity < 1) return `item ${item.id}: quantity must be an integer >= 1`;
  }
  return undefined;
}

export function activeCampaignEmitter(options: ActiveCampaignEmitterOptions): Emitter {
  const { config, clock } = options;
  const ac = config.activeCampaign;
  const client = options.client ?? buildClient();

  function buildClient(): ActiveCampaignClient {
    if (!ac) throw new Error('activeCampaignEmitter: ACTIVECAMPAIGN_API_URL and ACTIVECAMPAIGN_API_KEY are not configured');
    if (!options.store) throw new Error('activeCampaignEmitter: a store (for the shared rate limit) or a client is required');
    const gate = new RateGate({ store: options.store, clock, key: activeCampaignRateKey(ac.apiUrl), perSecond: config.activeCampaignRatePerSecond });
    return activeCampaignClient({
      apiUrl: ac.apiUrl,
      apiKey: ac.apiKey,
      gate,
      clock,
      ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
      ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
    });
  }

  /** First match of a filtered list; AC may answer "no match" with an empty list or a 404. */
  async function findOne(resource: string, filters: Record<string, string>, record: CallRecorder): Promise<Step<string | undefined>> {
    const response = await client.request('GET', withFilters(`/${resource}`, filters), undefined, record);
    if (!response.ok) return response.notFound ? { ok: true, value: undefined } : failed(response);
    const list = response.body[resource];
    const first: unknown = Array.isArray(list) ? list[0] : undefined;
    const id = typeof first === 'object' && first !== null ? (first as Record<string, unknown>).id : undefined;
    return { ok: true, value: id === undefined || id === null ? undefined : String(id) };
  }

  /**
   * Creates a record. A 422 `duplicate` means it is there already (a racing worker, or an earlier
   * attempt whose answer was lost), so it is looked up and its id used.
   */
  async function create(path: string, body: Record<string, unknown>, lookup: Lookup, record: CallRecorder): Promise<Step<string>> {
    const response = await client.request('POST', path, body, record);
    return settle(response, body, lookup, record);
  }

  /** The id of what was written, or, for a `duplicate`, of the record that holds it already. */
  async function settle(response: AcResponse, body: Record<string, unknown>, lookup: Lookup, record: CallRecorder): Promise<Step<string>> {
    if (response.ok) {
      const id = idIn(response.body, Object.keys(body)[0]);
      return id === undefined ? { ok: false, failure: 'transient', message: 'ActiveCampaign answered without an id' } : { ok: true, value: id };
    }
    if (response.duplicate) {
      const found = await findOne(lookup.resource, lookup.filters, record);
      if (!found.ok) return found;
      if (found.value !== undefined) return { ok: true, value: found.value };
    }
    return failed(response);
  }

  // The connection is the same for every emission: resolved once, shared by concurrent callers,
  // forgotten on failure so that the next emission tries again.
  let connection: Promise<Step<string>> | undefined = ac?.connectionId ? Promise.resolve({ ok: true, value: ac.connectionId }) : undefined;

  function connectionId(record: CallRecorder): Promise<Step<string>> {
    connection ??= resolveConnection(record).then((step) => {
      if (!step.ok) connection = undefined;
      return step;
    });
    return connection;
  }

  async function resolveConnection(record: CallRecorder): Promise<Step<string>> {
    const body = acConnectionBody(config.publicUrl);
    const filters = { service: AC_SERVICE, externalid: body.connection.externalid ?? '' };
    const found = await findOne('connections', filters, record);
    if (!found.ok) return found;
    if (found.value !== undefined) return { ok: true, value: found.value };
    return create('/connections', body, { resource: 'connections', filters }, record);
  }

  async function customerId(emission: CustomerEmission | CartEmission | OrderEmission, connectionid: string, record: CallRecorder): Promise<Step<string>> {
    const filters = { email: emission.email, connectionid };
    const found = await findOne('ecomCustomers', filters, record);
    if (!found.ok) return found;
    if (found.value !== undefined) return { ok: true, value: found.value };
    return create('/ecomCustomers', acCustomerBody(emission, connectionid), { resource: 'ecomCustomers', filters }, record);
  }

  async function emitCart(cart: CartEmission, connectionid: string, mayAlreadyExist: boolean, record: CallRecorder, lookupOnly = false): Promise<EmitResult> {
    const filters = { externalcheckoutid: cart.cartId, connectionid };
    if (mayAlreadyExist || lookupOnly) {
      const found = await findOne('ecomOrders', filters, record);
      if (!found.ok) return found;
      if (found.value !== undefined) return { ok: true, remoteId: found.value };
      if (lookupOnly) return { ok: false, failure: 'absent', message: 'no such cart in ActiveCampaign' };
    }
    const customer = await customerId(cart, connectionid, record);
    if (!customer.ok) return customer;
    const posted = await create('/ecomOrders', acCartBody(cart, { connectionid, customerid: customer.value }), { resource: 'ecomOrders', filters }, record);
    return posted.ok ? { ok: true, remoteId: posted.value } : posted;
  }

  async function emitOrder(order: OrderEmission, connectionid: string, mayAlreadyExist: boolean, record: CallRecorder): Promise<EmitResult> {
    const byOrderId = { resource: 'ecomOrders', filters: { externalid: order.orderId, connectionid } };
    if (mayAlreadyExist) {
      // Covers both ways an earlier attempt could have succeeded: the POST and the recovery PUT.
      const found = await findOne(byOrderId.resource, byOrderId.filters, record);
      if (!found.ok) return found;
      if (found.value !== undefined) return { ok: true, remoteId: found.value };
    }
    const customer = await customerId(order, connectionid, record);
    if (!customer.ok) return customer;
    const body = acOrderBody(order, { connectionid, customerid: customer.value });

    let cart = order.cartRemoteId;
    if (cart === undefined && order.recoversCart) {
      const found = await findOne('ecomOrders', { externalcheckoutid: order.cartId, connectionid }, record);
      if (!found.ok) return found;
      cart = found.value;
    }
    if (cart !== undefined) {
      const response = await client.request('PUT', `/ecomOrders/${encodeURIComponent(cart)}`, body, record);
      // A 404: the cart was deleted in AC. The purchase must still arrive, as a plain order.
      if (response.ok || !response.notFound) {
        const put = await settle(response, body, byOrderId, record);
        return put.ok ? { ok: true, remoteId: put.value } : put;
      }
    }
    const posted = await create('/ecomOrders', body, byOrderId, record);
    return posted.ok ? { ok: true, remoteId: posted.value } : posted;
  }

  /** Closes a CART paid with another order: found by its id (or its cart id), then deleted. */
  async function closeCart(close: CloseEmission, connectionid: string, record: CallRecorder): Promise<EmitResult> {
    let remoteId = close.cartRemoteId;
    if (remoteId === undefined) {
      const found = await findOne('ecomOrders', { externalcheckoutid: close.cartId, connectionid }, record);
      if (!found.ok) return found;
      // Nothing to close: the cart never arrived, or someone removed it in ActiveCampaign.
      if (found.value === undefined) return { ok: true };
      remoteId = found.value;
    }
    const response = await client.request('DELETE', `/ecomOrders/${encodeURIComponent(remoteId)}`, undefined, record);
    if (response.ok || response.notFound) return { ok: true };
    return failed(response);
  }

  return {
    route: 'activecampaign',
    async emit(emission, context) {
      if (emission.kind === 'close') {
        const connection = await connectionId(context.record.bind(context));
        return connection.ok ? closeCart(emission, connection.value, context.record.bind(context)) : connection;
      }
      if (emission.kind !== 'customer') {
        const problem = amountProblem(emission);
        if (problem) return { ok: false, failure: 'rejected', message: problem };
      }
      const record = context.record.bind(context);
      const connection = await connectionId(record);
      if (!connection.ok) return connection;
      switch (emission.kind) {
        case 'customer': {
          const customer = await customerId(emission, connection.value, record);
          return customer.ok ? { ok: true, remoteId: customer.value } : customer;
        }
        case 'cart':
          return emitCart(emission, connection.value, context.mayAlreadyExist, record, context.lookupOnly);
        case 'order':
          return emitOrder(emission, connection.value, context.mayAlreadyExist, record);
      }
    },
  };
}

function idIn(body: Record<string, unknown>, key: string | undefined): string | undefined {
  const written = key === undefined ? undefined : body[key];
  const id = typeof written === 'object' && written !== null ? (written as Record<string, unknown>).id : undefined;
  return id === undefined || id === null ? undefined : String(id);
}
