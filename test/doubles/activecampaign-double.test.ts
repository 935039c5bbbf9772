/**
 * Tests of the ActiveCampaign double itself: integration tests trust it to refuse what AC
 * refuses and to enforce the 5 requests/second limit, so each rule is proven here over real
 * HTTP. A fake clock drives the rate-limit windows, so no test sleeps.
 */
import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { startActiveCampaignDouble, AC_ORDER_STATE, type ActiveCampaignDouble } from './activecampaign-double.js';

const KEY = 'ac-test-key';

let ac: ActiveCampaignDouble;
let clock: number;

beforeEach(async () => {
  clock = Date.UTC(2025, 4, 1, 12, 0, 0);
  ac = await startActiveCampaignDouble({ now: () => clock });
});

afterEach(async () => {
  await ac.close();
});

interface Answer {
  status: number;
  headers: Headers;
  json: any;
}

/** Sends one request; the clock moves a full second first so the rate limit stays out of the way. */
async function api(
  method: string,
  path: string,
  body?: unknown,
  opts: { token?: string | null; tick?: number; raw?: string } = {},
): Promise<Answer> {
  clock += opts.tick ?? 1_000;
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  const token = opts.token === undefined ? KEY : opts.token;
  if (token !== null) headers['Api-Token'] = token;
  const res = await fetch(`${ac.apiUrl}${path}`, {
    method,
    headers,
    body: opts.raw ?? (body === undefined ? undefined : JSON.stringify(body)),
  });
  const text = await res.text();
  let json: unknown = text;
  try {
    json = JSON.parse(text);
  } catch {
    // HTML error pages stay text
  }
  return { status: res.status, headers: res.headers, json };
}

const iso = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, '+00:00');

const connectionBody = (extra: Record<string, unknown> = {}) => ({
  connection: {
    service: 'funnelbeacon',
    externalid: 'store-1',
    name: 'Test Store',
    logoUrl: 'https://shop.example/logo.png',
    linkUrl: 'https://shop.example',
    ...extra,
  },
});

async function connection(externalid = 'store-1'): Promise<string> {
  const res = await api('POST', '/connections', connectionBody({ externalid }));
  expect(res.status).toBe(201);
  return res.json.connection.id as string;
}

async function customer(connectionid: string, email = 'ada@example.com'): Promise<string> {
  const res = await api('POST', '/ecomCustomers', { ecomCustomer: { connectionid, externalid: 'cust-1', email } });
  expect(res.status).toBe(201);
  return res.json.ecomCustomer.id as string;
}

async function setup(): Promise<{ connectionid: string; customerid: string }> {
  const connectionid = await connection();
  return { connectionid, customerid: await customer(connectionid) };
}

function cartFields(ids: { connectionid: string; customerid: string }, extra: Record<string, unknown> = {}) {
  return {
    externalcheckoutid: 'sess-1',
    source: 1,
    email: 'ada@example.com',
    totalPrice: 3995,
    currency: 'USD',
    connectionid: ids.connectionid,
    customerid: ids.customerid,
    externalCreatedDate: iso(clock - 3_600_000),
    abandonedDate: iso(clock - 60_000),
    orderProducts: [{ externalid: '7', name: 'Serum', price: 3995, quantity: 1 }],
    ...extra,
  };
}

function without<T extends Record<string, unknown>>(fields: T, key: string): Record<string, unknown> {
  const copy: Record<string, unknown> = { ...fields };
  delete copy[key];
  return copy;
}

function codes(answer: Answer): Array<[string, string]> {
  return (answer.json.errors as Array<{ code: string; source: { pointer: string } }>).map((e) => [e.code, e.source.pointer]);
}

describe('authentication', () => {
  it.each([
    ['missing', null],
    ['wrong', 'not-the-key'],
  ])('answers 403 to a %s Api-Token and creates nothing', async (_label, token) => {
    const res = await api('POST', '/connections', connectionBody(), { token });
    expect(res.status).toBe(403);
    expect(typeof res.json.message).toBe('string');
    expect(ac.connections.size).toBe(0);
  });

  it('follows a rotated key', async () => {
    ac.setApiKey('rotated');
    expect((await api('GET', '/connections')).status).toBe(403);
    expect((await api('GET', '/connections', undefined, { token: 'rotated' })).status).toBe(200);
  });
});

describe('connections', () => {
  it('creates a connection with a string id and finds it by filters', async () => {
    const res = await api('POST', '/connections', connectionBody());
    expect(res.status).toBe(201);
    expect(res.json.connection).toMatchObject({ id: '1', service: 'funnelbeacon', externalid: 'store-1' });
    await connection('store-2');
    const found = await api('GET', '/connections?filters[service]=funnelbeacon&filters[externalid]=store-2');
    expect(found.status).toBe(200);
    expect(found.json.connections.map((c: { id: string }) => c.id)).toEqual(['2']);
    expect(found.json.meta.total).toBe('1');
  });

  it.each(['service', 'externalid', 'name', 'logoUrl', 'linkUrl'])('refuses a connection without %s', async (field) => {
    const res = await api('POST', '/connections', { connection: without(connectionBody().connection, field) });
    expect(res.status).toBe(422);
    expect(codes(res)).toEqual([['field_missing', `/data/attributes/${field}`]]);
    expect(ac.connections.size).toBe(0);
  });

  it('refuses a body not wrapped in "connection", and a duplicate', async () => {
    const bare = await api('POST', '/connections', connectionBody().connection);
    expect(bare.status).toBe(422);
    await connection();
    const dup = await api('POST', '/connections', connectionBody());
    expect(dup.status).toBe(422);
    expect(codes(dup)[0]?.[0]).toBe('duplicate');
    expect(ac.connections.size).toBe(1);
  });
});

describe('ecomCustomers', () => {
  it('creates a customer and finds it by email and connection', async () => {
    const connectionid = await connection();
    const res = await api('POST', '/ecomCustomers', {
      ecomCustomer: { connectionid: Number(connectionid), externalid: 'c1', email: 'ada@example.com', acceptsMarketing: '1' },
    });
    expect(res.status).toBe(201);
    expect(res.json.ecomCustomer).toMatchObject({ id: '1', connectionid: '1', email: 'ada@example.com' });
    const found = await api('GET', `/ecomCustomers?filters[email]=ADA%40example.com&filters[connectionid]=${connectionid}`);
    expect(found.json.ecomCustomers).toHaveLength(1);
    const none = await api('GET', '/ecomCustomers?filters[email]=bob%40example.com');
    expect(none.status).toBe(200);
    expect(none.json.ecomCustomers).toEqual([]);
  });

  it.each(['connectionid', 'externalid', 'email'])('refuses a customer without %s', async (field) => {
    const connectionid = await connection();
    const fields = { connectionid, externalid: 'c1', email: 'ada@example.com' };
    const res = await api('POST', '/ecomCustomers', { ecomCustomer: without(fields, field) });
    expect(res.status).toBe(422);
    expect(codes(res)).toContainEqual(['field_missing', `/data/attributes/${field}`]);
    expect(ac.customers.size).toBe(0);
  });

  it('refuses an unknown connection, a bad email and a duplicate email on the same connection', async () => {
    const unknown = await api('POST', '/ecomCustomers', { ecomCustomer: { connectionid: '9', externalid: 'c1', email: 'a@example.com' } });
    expect(codes(unknown)).toEqual([['related_missing', '/data/attributes/connectionid']]);
    const connectionid = await connection();
    const bad = await api('POST', '/ecomCustomers', { ecomCustomer: { connectionid, externalid: 'c1', email: 'nope' } });
    expect(codes(bad)).toEqual([['field_invalid', '/data/attributes/email']]);
    await customer(connectionid, 'ada@example.com');
    const dup = await api('POST', '/ecomCustomers', { ecomCustomer: { connectionid, externalid: 'c2', email: 'Ada@Example.com' } });
    expect(dup.status).toBe(422);
    expect(codes(dup)).toEqual([['duplicate', '/data/attributes/email']]);
    const other = await connection('store-2');
    await customer(other, 'ada@example.com');
    expect(ac.customers.size).toBe(2);
  });
});

describe('ecomOrders: create', () => {
  it('creates an abandoned cart: 201, string ids, state 2, side-loaded products', async () => {
    const ids = await setup();
    const res = await api('POST', '/ecomOrders', { ecomOrder: cartFields(ids) });
    expect(res.status).toBe(201);
    expect(res.json.ecomOrder).toMatchObject({
      id: '1',
      externalcheckoutid: 'sess-1',
      externalid: null,
      connectionid: ids.connectionid,
      customerid: ids.customerid,
      source: '1',
      totalPrice: 3995,
      state: AC_ORDER_STATE.abandoned,
    });
    expect(res.json.ecomOrderProducts).toEqual([expect.objectContaining({ externalid: '7', price: 3995, quantity: 1 })]);
    expect(res.json.connections).toHaveLength(1);
    expect(ac.orders.get('1')?.state).toBe(AC_ORDER_STATE.abandoned);
  });

  it('creates a completed order with externalid and accepts source as a string', async () => {
    const ids = await setup();
    const fields = { ...without(cartFields(ids), 'abandonedDate'), externalid: 'ORD1', source: '1' };
    const res = await api('POST', '/ecomOrders', { ecomOrder: fields });
    expect(res.status).toBe(201);
    expect(res.json.ecomOrder.state).toBe(AC_ORDER_STATE.completed);
  });

  it.each(['source', 'email', 'totalPrice', 'currency', 'connectionid', 'customerid', 'externalCreatedDate', 'abandonedDate'])(
    'refuses a cart without %s',
    async (field) => {
      const ids = await setup();
      const res = await api('POST', '/ecomOrders', { ecomOrder: without(cartFields(ids), field) });
      expect(res.status).toBe(422);
      expect(codes(res)).toEqual([['field_missing', `/data/attributes/${field}`]]);
      expect(ac.orders.size).toBe(0);
    },
  );

  it('refuses an order with neither externalid nor externalcheckoutid', async () => {
    const ids = await setup();
    const res = await api('POST', '/ecomOrders', { ecomOrder: without(cartFields(ids), 'externalcheckoutid') });
    expect(res.status).toBe(422);
    expect(codes(res)[0]?.[0]).toBe('field_missing');
  });

  it.each([
    ['totalPrice', 39.95],
    ['totalPrice', '3995'],
    ['totalPrice', -1],
    ['source', 2],
    ['currency', 'usd'],
    ['currency', 'US'],
    ['email', 'not-an-email'],
    ['externalCreatedDate', '2025-05-01 11:00:00 UTC'],
    ['externalCreatedDate', '2025-05-01T11:00:00'],
    ['abandonedDate', '2025-05-01'],
    ['abandonedDate', '2025-02-30T11:00:00Z'],
    ['shippingAmount', 1.5],
  ])('refuses %s=%j with field_invalid', async (field, value) => {
    const ids = await setup();
    const res = await api('POST', '/ecomOrders', { ecomOrder: cartFields(ids, { [field]: value }) });
    expect(res.status).toBe(422);
    expect(codes(res)).toEqual([['field_invalid', `/data/attributes/${field}`]]);
    expect(ac.orders.size).toBe(0);
  });

  it('refuses the guide spelling abandoned_date (abandonedDate is the field)', async () => {
    const ids = await setup();
    const fields = { ...without(cartFields(ids), 'abandonedDate'), abandoned_date: iso(clock - 60_000) };
    const res = await api('POST', '/ecomOrders', { ecomOrder: fields });
    expect(codes(res)).toEqual([['field_missing', '/data/attributes/abandonedDate']]);
  });

  it.each([
    [{ name: 'Serum', price: 3995, quantity: 1 }, 'field_missing', 'externalid'],
    [{ externalid: '7', price: 3995, quantity: 1 }, 'field_missing', 'name'],
    [{ externalid: '7', name: 'Serum', quantity: 1 }, 'field_missing', 'price'],
    [{ externalid: '7', name: 'Serum', price: 3995 }, 'field_missing', 'quantity'],
    [{ externalid: '7', name: 'Serum', price: 39.95, quantity: 1 }, 'field_invalid', 'price'],
    [{ externalid: '7', name: 'Serum', price: 3995, quantity: 0 }, 'field_invalid', 'quantity'],
    [{ externalid: '7', name: 'Serum', price: 3995, quantity: 1, imageUrl: '/serum.png' }, 'field_invalid', 'imageUrl'],
    [{ externalid: '7', name: 'Serum', price: 3995, quantity: 1, productUrl: 'javascript:alert(1)' }, 'field_invalid', 'productUrl'],
    [{ externalid: '7', name: 'Serum', price: 3995, quantity: 1, sku: 7 }, 'field_invalid', 'sku'],
  ])('refuses order product %j', async (product, code, field) => {
    const ids = await setup();
    const res = await api('POST', '/ecomOrders', { ecomOrder: cartFields(ids, { orderProducts: [product] }) });
    expect(res.status).toBe(422);
    expect(codes(res)).toEqual([[code, `/data/attributes/orderProducts/0/${field}`]]);
  });

  it('takes an absolute http(s) orderUrl and product URLs, and refuses any other', async () => {
    const ids = await setup();
    const product = { externalid: '7', name: 'Serum', price: 3995, quantity: 1, imageUrl: 'https://cdn.example/s.png', productUrl: 'https://shop.example/s' };
    const ok = await api('POST', '/ecomOrders', { ecomOrder: cartFields(ids, { orderUrl: 'https://collect.example/r/abc', orderProducts: [product] }) });
    expect(ok.status).toBe(201);
    const bad = await api('POST', '/ecomOrders', { ecomOrder: cartFields(ids, { externalcheckoutid: 'other', orderUrl: '/r/abc' }) });
    expect(bad.status).toBe(422);
    expect(codes(bad)).toEqual([['field_invalid', '/data/attributes/orderUrl']]);
  });

  it('refuses unknown connections and customers, and a customer of another connection', async () => {
    const ids = await setup();
    const noConn = await api('POST', '/ecomOrders', { ecomOrder: cartFields(ids, { connectionid: '9' }) });
    expect(codes(noConn)).toContainEqual(['related_missing', '/data/attributes/connectionid']);
    const noCust = await api('POST', '/ecomOrders', { ecomOrder: cartFields(ids, { customerid: 9 }) });
    expect(codes(noCust)).toEqual([['related_missing', '/data/attributes/customerid']]);
    const other = await connection('store-2');
    const crossed = await api('POST', '/ecomOrders', { ecomOrder: cartFields(ids, { connectionid: other }) });
    expect(codes(crossed)).toEqual([['related_missing', '/data/attributes/customerid']]);
    expect(ac.orders.size).toBe(0);
  });

  it('refuses a second create for the same cart or order id on a connection', async () => {
    const ids = await setup();
    expect((await api('POST', '/ecomOrders', { ecomOrder: cartFields(ids) })).status).toBe(201);
    const again = await api('POST', '/ecomOrders', { ecomOrder: cartFields(ids) });
    expect(again.status).toBe(422);
    expect(codes(again)).toEqual([['duplicate', '/data/attributes/externalcheckoutid']]);
    const order = { ...cartFields(ids, { externalcheckoutid: 'sess-2' }), externalid: 'ORD1' };
    expect((await api('POST', '/ecomOrders', { ecomOrder: order })).status).toBe(201);
    const dupOrder = await api('POST', '/ecomOrders', { ecomOrder: { ...order, externalcheckoutid: 'sess-3' } });
    expect(codes(dupOrder)).toEqual([['duplicate', '/data/attributes/externalid']]);
    expect(ac.orders.size).toBe(2);
  });

  it('answers 422 to an unwrapped body and 400 to invalid JSON', async () => {
    const ids = await setup();
    const bare = await api('POST', '/ecomOrders', cartFields(ids));
    expect(bare.status).toBe(422);
    expect(codes(bare)).toEqual([['field_missing', '/data/attributes/ecomOrder']]);
    const broken = await api('POST', '/ecomOrders', undefined, { raw: '{"ecomOrder":' });
    expect(broken.status).toBe(400);
    expect(ac.orders.size).toBe(0);
  });
});

describe('ecomOrders: update, lookup, states', () => {
  it('PUT with externalid turns an abandoned cart into a recovered order and merges fields', async () => {
    const ids = await setup();
    await api('POST', '/ecomOrders', { ecomOrder: cartFields(ids) });
    const res = await api('PUT', '/ecomOrders/1', { ecomOrder: { externalid: 'ORD1', totalPrice: 5995, source: 0 } });
    expect(res.status).toBe(200);
    expect(res.json.ecomOrder).toMatchObject({
      externalid: 'ORD1',
      externalcheckoutid: 'sess-1',
      totalPrice: 5995,
      email: 'ada@example.com',
      source: '0',
      state: AC_ORDER_STATE.recovered,
    });
    const stored = ac.orders.get('1');
    expect(stored?.history.map((h) => h.method)).toEqual(['POST', 'PUT']);
    expect(stored?.orderProducts).toHaveLength(1);
  });

  it('a cart whose abandonedDate is still ahead is pending, then abandoned once it passes', async () => {
    const ids = await setup();
    const res = await api('POST', '/ecomOrders', { ecomOrder: cartFields(ids, { abandonedDate: iso(clock + 30 * 60_000) }) });
    expect(res.json.ecomOrder.state).toBe(AC_ORDER_STATE.pending);
    clock += 31 * 60_000;
    const later = await api('GET', '/ecomOrders/1');
    expect(later.json.ecomOrder.state).toBe(AC_ORDER_STATE.abandoned);
  });

  it('PUT with externalid on a still-pending cart completes it', async () => {
    const ids = await setup();
    await api('POST', '/ecomOrders', { ecomOrder: cartFields(ids, { abandonedDate: iso(clock + 30 * 60_000) }) });
    const res = await api('PUT', '/ecomOrders/1', { ecomOrder: { externalid: 'ORD1' } });
    expect(res.json.ecomOrder.state).toBe(AC_ORDER_STATE.completed);
  });

  it('PUT validates what it is sent and changes nothing on 422', async () => {
    const ids = await setup();
    await api('POST', '/ecomOrders', { ecomOrder: cartFields(ids) });
    const res = await api('PUT', '/ecomOrders/1', { ecomOrder: { totalPrice: 59.95, externalid: 'ORD1' } });
    expect(res.status).toBe(422);
    expect(codes(res)).toEqual([['field_invalid', '/data/attributes/totalPrice']]);
    expect(ac.orders.get('1')).toMatchObject({ totalPrice: 3995, externalid: null, state: AC_ORDER_STATE.abandoned });
    expect(ac.orders.get('1')?.history).toHaveLength(1);
  });

  it('PUT refuses an externalid another order already holds', async () => {
    const ids = await setup();
    await api('POST', '/ecomOrders', { ecomOrder: cartFields(ids) });
    await api('POST', '/ecomOrders', { ecomOrder: { ...cartFields(ids, { externalcheckoutid: 'sess-2' }), externalid: 'ORD1' } });
    const res = await api('PUT', '/ecomOrders/1', { ecomOrder: { externalid: 'ORD1' } });
    expect(codes(res)).toEqual([['duplicate', '/data/attributes/externalid']]);
  });

  it('answers 404 in AC shape for an unknown order', async () => {
    const get = await api('GET', '/ecomOrders/42');
    expect(get.status).toBe(404);
    expect(get.json).toEqual({ message: 'No Result found for EcomOrder with id 42' });
    const put = await api('PUT', '/ecomOrders/42', { ecomOrder: { externalid: 'X' } });
    expect(put.status).toBe(404);
  });

  it('lists orders by externalcheckoutid, externalid, email and state', async () => {
    const ids = await setup();
    await api('POST', '/ecomOrders', { ecomOrder: cartFields(ids) });
    await api('POST', '/ecomOrders', { ecomOrder: { ...cartFields(ids, { externalcheckoutid: 'sess-2' }), externalid: 'ORD2' } });
    const byCart = await api('GET', '/ecomOrders?filters[externalcheckoutid]=sess-1');
    expect(byCart.json.ecomOrders.map((o: { id: string }) => o.id)).toEqual(['1']);
    expect(byCart.json.meta.total).toBe('1');
    const byOrder = await api('GET', '/ecomOrders?filters[externalid]=ORD2');
    expect(byOrder.json.ecomOrders.map((o: { id: string }) => o.id)).toEqual(['2']);
    const byEmail = await api('GET', '/ecomOrders?filters[email]=ada%40example.com');
    expect(byEmail.json.ecomOrders).toHaveLength(2);
    const abandoned = await api('GET', `/ecomOrders?filters[state]=${AC_ORDER_STATE.abandoned}`);
    expect(abandoned.json.ecomOrders.map((o: { id: string }) => o.id)).toEqual(['1']);
    const none = await api('GET', '/ecomOrders?filters[externalcheckoutid]=nope');
    expect(none.status).toBe(200);
    expect(none.json.ecomOrders).toEqual([]);
  });
});

describe('rate limit', () => {
  it('admits 5 requests in a second, answers the 6th 429 with Retry-After, and the 429 changes nothing', async () => {
    for (let i = 0; i < 5; i += 1) {
      const res = await api('GET', '/connections', undefined, { tick: 0 });
      expect(res.status).toBe(200);
      expect(res.headers.get('ratelimit-remaining')).toBe(String(4 - i));
    }
    const limited = await api('POST', '/connections', connectionBody(), { tick: 0 });
    expect(limited.status).toBe(429);
    const retryAfter = limited.headers.get('retry-after');
    expect(retryAfter).toMatch(/^\d+$/);
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
    expect(ac.connections.size).toBe(0);
    expect(ac.stats.rateLimited).toBe(1);
    expect(ac.stats.byStatus[429]).toBe(1);
    expect(ac.maxRequestsInAnyWindow()).toBe(5);

    const after = await api('POST', '/connections', connectionBody(), { tick: 1_000 });
    expect(after.status).toBe(201);
    expect(ac.maxRequestsInAnyWindow()).toBe(5);
  });

  it('uses a sliding window: no burst across a second boundary', async () => {
    clock = Date.UTC(2025, 4, 1, 12, 0, 0, 900);
    for (let i = 0; i < 5; i += 1) expect((await api('GET', '/connections', undefined, { tick: 10 })).status).toBe(200);
    // 12:00:01.000 begins a new calendar second, but the last 1000 ms already hold 5 requests.
    clock = Date.UTC(2025, 4, 1, 12, 0, 1, 100);
    expect((await api('GET', '/connections', undefined, { tick: 0 })).status).toBe(429);
    clock = Date.UTC(2025, 4, 1, 12, 0, 1, 910);
    expect((await api('GET', '/connections', undefined, { tick: 0 })).status).toBe(200);
    expect((await api('GET', '/connections', undefined, { tick: 0 })).status).toBe(429);
    expect(ac.maxRequestsInAnyWindow()).toBe(5);
  });

  it('reports the busiest admitted second, and honours rateLimitPerSecond', async () => {
    const slow = await startActiveCampaignDouble({ rateLimitPerSecond: 2, now: () => clock });
    try {
      const send = () => fetch(`${slow.apiUrl}/connections`, { headers: { 'Api-Token': KEY } }).then((r) => r.status);
      expect([await send(), await send(), await send()]).toEqual([200, 200, 429]);
      clock += 600;
      expect(await send()).toBe(429);
      clock += 400;
      expect(await send()).toBe(200);
      expect(slow.stats).toMatchObject({ total: 5, rateLimited: 2 });
      expect(slow.maxRequestsInAnyWindow()).toBe(2);
    } finally {
      await slow.close();
    }
  });
});

describe('failure modes', () => {
  it('http500 for a number of requests, then back to normal', async () => {
    ac.fail('http500', { times: 2 });
    for (let i = 0; i < 2; i += 1) {
      const res = await api('POST', '/connections', connectionBody());
      expect(res.status).toBe(500);
      expect(res.headers.get('content-type')).toContain('text/html');
    }
    expect((await api('POST', '/connections', connectionBody())).status).toBe(201);
    expect(ac.requests.map((r) => [r.status, r.failure])).toEqual([
      [500, 'http500'],
      [500, 'http500'],
      [201, undefined],
    ]);
  });

  it('http503 sends Retry-After (configurable, or none) until recover()', async () => {
    ac.fail('http503', { retryAfterSeconds: 7 });
    const first = await api('GET', '/connections');
    expect(first.status).toBe(503);
    expect(first.headers.get('retry-after')).toBe('7');
    expect((await api('GET', '/connections')).status).toBe(503);
    ac.fail('http503', { retryAfterSeconds: null, times: 1 });
    const bare = await api('GET', '/connections');
    expect(bare.status).toBe(503);
    expect(bare.headers.get('retry-after')).toBeNull();
    expect((await api('GET', '/connections')).status).toBe(200);
    ac.fail('http503');
    ac.recover();
    expect((await api('GET', '/connections')).status).toBe(200);
  });

  it('down resets the connection without an HTTP answer', async () => {
    ac.fail('down', { times: 1 });
    await expect(api('POST', '/connections', connectionBody())).rejects.toThrow();
    expect(ac.requests[0]).toMatchObject({ status: 0, failure: 'down' });
    expect(ac.connections.size).toBe(0);
    expect((await api('POST', '/connections', connectionBody())).status).toBe(201);
  });

  it('hang never answers, so the client times out; close() still returns', async () => {
    const own = await startActiveCampaignDouble();
    own.fail('hang');
    const started = Date.now();
    await expect(
      fetch(`${own.apiUrl}/connections`, { headers: { 'Api-Token': KEY }, signal: AbortSignal.timeout(150) }),
    ).rejects.toThrow();
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    const pending = fetch(`${own.apiUrl}/connections`, { headers: { 'Api-Token': KEY } }).catch((error: unknown) => error);
    await expect.poll(() => own.requests.length).toBe(2);
    const closeStarted = Date.now();
    await own.close();
    expect(Date.now() - closeStarted).toBeLessThan(1_000);
    expect(await pending).toBeInstanceOf(Error);
    expect(own.stats.byStatus[0]).toBe(2);
  });

  it('refuses a non-positive times', () => {
    expect(() => ac.fail('http500', { times: 0 })).toThrow();
  });
});

describe('introspection', () => {
  it('records requests and stats, and reset() forgets everything', async () => {
    const ids = await setup();
    await api('POST', '/ecomOrders', { ecomOrder: without(cartFields(ids), 'email') });
    await api('GET', '/connections', undefined, { token: 'bad' });
    expect(ac.requests.map((r) => [r.method, r.path, r.status])).toEqual([
      ['POST', '/api/3/connections', 201],
      ['POST', '/api/3/ecomCustomers', 201],
      ['POST', '/api/3/ecomOrders', 422],
      ['GET', '/api/3/connections', 403],
    ]);
    expect(ac.requests[2]?.body).toMatchObject({ ecomOrder: { externalcheckoutid: 'sess-1' } });
    expect(ac.requests[3]?.at).toBe(clock);
    expect(ac.stats).toEqual({ total: 4, rateLimited: 0, byStatus: { 201: 2, 422: 1, 403: 1 } });

    ac.fail('http500');
    ac.setApiKey('other');
    ac.reset();
    expect(ac.requests).toHaveLength(0);
    expect(ac.connections.size + ac.customers.size + ac.orders.size).toBe(0);
    expect(ac.stats).toEqual({ total: 0, rateLimited: 0, byStatus: {} });
    expect(ac.maxRequestsInAnyWindow()).toBe(0);
    const again = await api('POST', '/connections', connectionBody());
    expect(again.status).toBe(201);
    expect(again.json.connection.id).toBe('1');
  });

  it('answers 404 outside the known routes', async () => {
    expect((await api('DELETE', '/ecomOrders/1')).status).toBe(404);
    expect((await api('GET', '/contacts')).status).toBe(404);
  });
});

describe('the contact side the lifecycle sync writes', () => {
  async function event(form: Record<string, string>): Promise<{ status: number; json: unknown }> {
    clock += 1_000;
    const res = await fetch(ac.eventsUrl, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form).toString() });
    return { status: res.status, json: await res.json() };
  }

  it('creates fields once per title and perstag, and checks the values contact/sync writes into them', async () => {
    const made = await api('POST', '/fields', { field: { title: 'Next Bill Date', type: 'date', perstag: 'FB_NEXT_BILL_DATE' } });
    expect(made.status).toBe(201);
    expect((await api('POST', '/fields', { field: { title: 'Next Bill Date', type: 'date' } })).json.errors[0].code).toBe('duplicate');
    expect((await api('POST', '/fields', { field: { title: 'Other', type: 'date', perstag: 'fb_next_bill_date' } })).json.errors[0].code).toBe('field_invalid');
    expect((await api('POST', '/fields', { field: { title: 'X', type: 'colour' } })).status).toBe(422);
    expect((await api('GET', '/fields?filters[perstag]=FB_NEXT_BILL_DATE')).json.fields).toHaveLength(1);
    const id = made.json.field.id as string;
    expect((await api('POST', '/contact/sync', { contact: { email: 'a@example.com', fieldValues: [{ field: id, value: '12/01/2026' }] } })).status).toBe(422);
    expect((await api('POST', '/contact/sync', { contact: { email: 'a@example.com', fieldValues: [{ field: '999', value: 'x' }] } })).json.errors[0].code).toBe('related_missing');
    expect((await api('POST', '/contact/sync', { email: 'a@example.com' })).status).toBe(422);
    const synced = await api('POST', '/contact/sync', { contact: { email: 'a@example.com', fieldValues: [{ field: id, value: '2026-12-01' }] } });
    expect(synced.status).toBe(201);
    expect((await api('POST', '/contact/sync', { contact: { email: 'A@example.com', firstName: 'Ann' } })).status).toBe(200);
    expect(ac.contacts.size).toBe(1);
    expect([...ac.contacts.values()][0]?.fieldValues.get(id)).toBe('2026-12-01');
  });

  it('adds a tag to a contact once, lists and deletes it by the contactTag id', async () => {
    const contact = (await api('POST', '/contact/sync', { contact: { email: 'a@example.com' } })).json.contact.id as string;
    const tag = (await api('POST', '/tags', { tag: { tag: 'fb-customer', tagType: 'contact' } })).json.tag.id as string;
    expect((await api('POST', '/tags', { tag: { tag: 'FB-Customer', tagType: 'contact' } })).json.errors[0].code).toBe('duplicate');
    expect((await api('GET', '/tags?search=fb-cust')).json.tags).toHaveLength(1);
    expect((await api('POST', '/contactTags', { contactTag: { contact: '77', tag } })).status).toBe(404);
    const added = await api('POST', '/contactTags', { contactTag: { contact, tag } });
    expect(added.status).toBe(201);
    expect((await api('POST', '/contactTags', { contactTag: { contact, tag } })).json.errors[0].code).toBe('duplicate');
    expect((await api('GET', `/contacts/${contact}/contactTags`)).json.contactTags).toEqual([expect.objectContaining({ contact, tag })]);
    expect((await api('DELETE', `/contactTags/${added.json.contactTag.id}`)).status).toBe(200);
    expect((await api('DELETE', `/contactTags/${added.json.contactTag.id}`)).json.message).toMatch(/No Result found for SubscriberTag/);
  });

  it("tracks an event only with the account's id and key, a name of at most 32 characters and a contact's email", async () => {
    const good = { actid: '1000', key: 'ac-event-key', event: 'rebill_declined', eventdata: '{"id":"e1"}', visit: JSON.stringify({ email: 'a@example.com' }) };
    expect(await event({ ...good, key: 'wrong' })).toEqual({ status: 400, json: {} });
    expect((await event({ ...good, event: 'x'.repeat(33) })).status).toBe(400);
    expect((await event({ ...good, visit: 'a@example.com' })).status).toBe(400);
    expect(await event(good)).toEqual({ status: 200, json: { success: 1, message: 'Event spawned' } });
    const contact = [...ac.contacts.values()][0]?.id ?? '';
    expect((await api('GET', `/contacts/${contact}/trackingLogs`)).json.trackingLogs).toEqual([expect.objectContaining({ value: 'rebill_declined', data: '{"id":"e1"}' })]);
  });

  it("'lost' does what was asked and never answers", async () => {
    ac.fail('lost', { times: 1 });
    clock += 1_000;
    await expect(fetch(`${ac.apiUrl}/tags`, { method: 'POST', headers: { 'Api-Token': KEY, 'content-type': 'application/json' }, body: JSON.stringify({ tag: { tag: 'fb-paused' } }) })).rejects.toThrow();
    expect([...ac.tags.values()].map((t) => t.tag)).toEqual(['fb-paused']);
  });
});
