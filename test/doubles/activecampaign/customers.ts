/**
 * `/api/3/ecomCustomers`: e-commerce customers, one per email and connection.
 */
import { EMAIL, isBlank } from '../wire-checks.js';
import type { AcCustomer } from './records.js';
import { acDate, acError, filterBy, idOf, invalid, list, missing, notFound, notWrapped, stringField, unprocessable, unwrap, type AcError, type AcStore, type Json, type Reply, type ResourceRoute } from './wire.js';

export function customersResource(store: AcStore) {
  const { now, connections, customers, ids } = store;

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

  const route: ResourceRoute = (method, id, query, body) => {
    if (id === undefined && method === 'POST') return createCustomer(body);
    if (id === undefined && method === 'GET') {
      const found = filterBy(customers.values(), query, ['email', 'connectionid', 'externalid']);
      return list('ecomCustomers', found, query, customerView);
    }
    if (id !== undefined && method === 'GET') {
      const c = customers.get(id);
      return c ? { status: 200, body: { ecomCustomer: customerView(c) } } : notFound('EcomCustomer', id);
    }
    return undefined;
  };

  return { route };
}
