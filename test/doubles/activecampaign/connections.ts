/**
 * `/api/3/connections`: the store an integration writes to (ActiveCampaign's "connection").
 */
import { isBlank } from '../wire-checks.js';
import type { AcConnection } from './records.js';
import { acDate, acError, filterBy, list, notFound, notWrapped, stringField, unprocessable, unwrap, type AcError, type AcStore, type Json, type Reply, type ResourceRoute } from './wire.js';

export function connectionsResource(store: AcStore) {
  const { now, connections, ids } = store;

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

  const route: ResourceRoute = (method, id, query, body) => {
    if (id === undefined && method === 'POST') return createConnection(body);
    if (id === undefined && method === 'GET') {
      return list('connections', filterBy(connections.values(), query, ['service', 'externalid']), query, connectionView);
    }
    if (id !== undefined && method === 'GET') {
      const c = connections.get(id);
      return c ? { status: 200, body: { connection: connectionView(c) } } : notFound('Connection', id);
    }
    return undefined;
  };

  return { route, view: connectionView };
}
