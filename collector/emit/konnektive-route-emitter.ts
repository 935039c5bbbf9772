/**
 * @module konnektive-route-emitter
 * `EMIT_VIA=konnektive`: CUSTOMER, CART and ORDER sent through Konnektive's "Active Campaign Deep
 * Integration" route, `POST /cart/activecampaign/` (docs/upstreams.md, "The ActiveCampaign route").
 * Konnektive holds the ActiveCampaign credentials and connection (set up under its plugins,
 * "Deep Route"), so the collector needs only its Konnektive API user.
 *
 * Konnektive's full parameter list for this route is not public (its API reference page could not
 * be read). What is VERIFIED, from Konnektive's help pages:
 * - `type` is one of CONNECTION, CART, ORDER, CUSTOMER, QUERY; credentials as on every call;
 * - CART/ORDER fields mirror ActiveCampaign's ecomOrder: `externalcheckoutid`*, `abandonedDate`
 *   (CART), `source`* (1 triggers automations), `email`*, `externalid`*, `totalPrice`* (cents),
 *   `currency`* (3 letters), a connection id (name cut off in the source), product `price`*
 *   (cents) and `quantity`*.
 * What is INFERRED (correct it in the three functions below if Konnektive answers otherwise):
 * - products travel as `orderProducts`, a JSON string of AC's `[{externalid,name,price,quantity}]`
 *   plus, when the catalogue has them, `imageUrl`, `productUrl`, `sku`, `category`, `description`
 *   (form parameters cannot carry an array of objects otherwise);
 * - `externalid`* applies to ORDER only: in ActiveCampaign a record with an `externalid` is an
 *   order, not a cart, so a CART is sent without one;
 * - CUSTOMER takes `email` and `externalid` like AC's ecomCustomer;
 * - `externalCreatedDate`, `orderUrl`, `firstName`, `lastName`, `phoneNumber` and `customerId`
 *   (sent only when the id is Konnektive's numeric customer id, not a session id) are extra
 *   fields Konnektive may use or ignore;
 * - `connectionid` is sent only when `ACTIVECAMPAIGN_CONNECTION_ID` is set; otherwise Konnektive
 *   is assumed to use the connection of its configured route;
 * - the answer's `message.id`, when there is one, is the record's id;
 * - when an earlier attempt may have gone through, `type=QUERY` (`queryType` ORDER for carts and
 *   orders, CUSTOMER for customers) lists what the route stored, as `message.data[]` of the fields
 *   sent; a record with the same `externalcheckoutid` (CART), `externalid` (ORDER) or `email`
 *   (CUSTOMER) means it did, and nothing is sent again. Should the lookup itself fail, the
 *   emission is sent, and a rejection that says "duplicate" or "already exists" also means it
 *   went through (Konnektive relays ActiveCampaign's errors).
 */
import type { KonnektiveApi } from '../konnektive/konnektive-client.js';
import { konnektiveCallRecord } from '../outbox/upstream-call.js';
import { redactMessage } from '../redact.js';
import {
  orderProducts,
  type CartEmission,
  type CustomerEmission,
  type EmissionItem,
  type EmitContext,
  type EmitResult,
  type EmissionMessage,
  type Emitter,
  type OrderEmission,
} from './emission.js';
import { isoDate } from './iso-date.js';
import { KONNEKTIVE_LEAD_MAX } from '../wire-schema.js';

type Params = Record<string, string>;

// ---- the parameter mapping: the one place to correct the route's field names ----

export function konnektiveCustomerParams(customer: CustomerEmission, connectionId?: string): Params {
  return {
    type: 'CUSTOMER',
    email: customer.email,
    externalid: customer.customerExternalId,
    ...person(customer),
    ...(customer.phone ? { phoneNumber: customer.phone } : {}),
    ...(connectionId ? { connectionid: connectionId } : {}),
  };
}

export function konnektiveCartParams(cart: CartEmission, connectionId?: string): Params {
  return {
    type: 'CART',
    externalcheckoutid: cart.cartId,
    source: '1',
    email: cart.email,
    totalPrice: String(cart.totalCents),
    currency: cart.currency,
    abandonedDate: isoDate(cart.abandonedAt),
    externalCreatedDate: isoDate(cart.createdAt),
    orderProducts: products(cart.items),
    ...(cart.orderUrl ? { orderUrl: cart.orderUrl } : {}),
    ...person(cart),
    ...(connectionId ? { connectionid: connectionId } : {}),
  };
}

/** Carries the CART's `externalcheckoutid`, so ActiveCampaign marks that cart recovered. */
export function konnektiveOrderParams(order: OrderEmission, connectionId?: string): Params {
  return {
    type: 'ORDER',
    externalid: order.orderId,
    externalcheckoutid: order.cartId,
    source: '1',
    email: order.email,
    totalPrice: String(order.totalCents),
    currency: order.currency,
    externalCreatedDate: isoDate(order.orderedAt),
    orderProducts: products(order.items),
    ...person(order),
    ...(connectionId ? { connectionid: connectionId } : {}),
  };
}

function products(items: EmissionItem[]): string {
  return JSON.stringify(orderProducts(items));
}

/** A name goes as typed or not at all: one longer than Konnektive keeps of a name is left out. */
const fits = (name: string | undefined, field: 'firstName' | 'lastName'): name is string =>
  name !== undefined && name !== '' && name.length <= KONNEKTIVE_LEAD_MAX[field];

function person(emission: { firstName?: string; lastName?: string; customerExternalId: string }): Params {
  return {
    ...(fits(emission.firstName, 'firstName') ? { firstName: emission.firstName } : {}),
    ...(fits(emission.lastName, 'lastName') ? { lastName: emission.lastName } : {}),
    // Konnektive's customer ids are numbers; a session id (the fallback) means nothing to it.
    ...(/^\d+$/.test(emission.customerExternalId) ? { customerId: emission.customerExternalId } : {}),
  };
}

// ---- the route ----

const ENDPOINT = 'POST /cart/activecampaign/';
const ALREADY_THERE = /duplicate|already exists/i;

export interface KonnektiveRouteEmitterOptions {
  api: KonnektiveApi;
  /** `ACTIVECAMPAIGN_CONNECTION_ID`, when the user set one. */
  connectionId?: string;
}

export function konnektiveRouteEmitter({ api, connectionId }: KonnektiveRouteEmitterOptions): Emitter {
  return {
    route: 'konnektive',
    async emit(emission, context) {
      // Konnektive's ActiveCampaign route has CONNECTION, CUSTOMER, CART and ORDER, and nothing
      // that closes or removes a cart; such a job is never queued on this route.
      if (emission.kind === 'close') return { ok: false, failure: 'rejected', message: "Konnektive's ActiveCampaign route cannot close a cart" };
      if (context.mayAlreadyExist || context.lookupOnly) {
        const stored = await alreadyStored(api, emission, context);
        if (stored === true) return { ok: true };
        // Not knowing is not "absent": a CART must not be cancelled on a failed lookup.
        if (stored !== false && context.lookupOnly) return stored;
        if (context.lookupOnly) return { ok: false, failure: 'absent', message: `no such ${emission.kind} at Konnektive's ActiveCampaign route` };
      }
      const params =
        emission.kind === 'customer'
          ? konnektiveCustomerParams(emission, connectionId)
          : emission.kind === 'cart'
            ? konnektiveCartParams(emission, connectionId)
            : konnektiveOrderParams(emission, connectionId);
      const result = await api.call('activeCampaign', params);
      context.record(konnektiveCallRecord(ENDPOINT, params, result));
      if (result.ok) {
        const id = result.message.id;
        return typeof id === 'string' || typeof id === 'number' ? { ok: true, remoteId: String(id) } : { ok: true };
      }
      const message = redactMessage(result.message);
      if (result.failure === 'rejected' && context.mayAlreadyExist && ALREADY_THERE.test(result.message)) return { ok: true };
      return { ok: false, failure: result.failure, message: `Konnektive ${params.type}: ${message}` };
    },
  };
}

/**
 * Looks for the record an earlier attempt may have created (`type=QUERY`): `true` when found,
 * `false` when the route listed its records and this one is not among them, else the failure.
 */
async function alreadyStored(api: KonnektiveApi, emission: EmissionMessage, context: EmitContext): Promise<boolean | EmitResult> {
  const params = { type: 'QUERY', queryType: emission.kind === 'customer' ? 'CUSTOMER' : 'ORDER' };
  const result = await api.call('activeCampaign', params);
  context.record(konnektiveCallRecord(ENDPOINT, params, result));
  if (!result.ok) return { ok: false, failure: result.failure, message: `Konnektive QUERY: ${redactMessage(result.message)}` };
  if (!Array.isArray(result.message.data)) return { ok: false, failure: 'transient', message: 'Konnektive QUERY answered without a list' };
  const records = result.message.data as Record<string, unknown>[];
  return records.some((record) => {
    switch (emission.kind) {
      case 'customer':
        return record.email === emission.email;
      case 'cart':
        return record.type === 'CART' ? record.externalcheckoutid === emission.cartId : record.externalcheckoutid === emission.cartId && !record.externalid;
      case 'order':
        return record.externalid === emission.orderId;
    }
  });
}
