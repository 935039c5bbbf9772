/**
 * Tests of the Konnektive double itself: integration tests trust it to refuse what Konnektive
 * refuses, so every rule it claims to enforce is proven here over real HTTP.
 */
import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import {
  startKonnektiveDouble,
  KONNEKTIVE_BAD_CREDENTIALS,
  type KonnektiveDouble,
} from './konnektive-double.js';

const CREDS = { loginId: 'fb-login', password: 'fb-password' };
const LANDING = 'https://lp.example/offer?affId=000123&c1=fb&c3=x&utm_source=ads';
const UA = 'Mozilla/5.0 (X11; Linux x86_64) Test';

interface Envelope {
  result: 'SUCCESS' | 'ERROR';
  message: any;
}

let k: KonnektiveDouble;
let clock: number;

beforeEach(async () => {
  clock = Date.UTC(2025, 4, 1, 12, 0, 0);
  k = await startKonnektiveDouble({ now: () => clock, campaigns: ['12', '14'] });
});

afterEach(async () => {
  await k.close();
});

async function call(path: string, params: Record<string, string>, withCreds = true): Promise<Envelope> {
  const res = await fetch(`${k.url}${path}`, {
    method: 'POST',
    body: new URLSearchParams(withCreds ? { ...CREDS, ...params } : params),
  });
  expect(res.status).toBe(200);
  return (await res.json()) as Envelope;
}

const firstClick = (extra: Record<string, string> = {}): Record<string, string> => ({
  campaignId: '12',
  pageType: 'presellPage',
  requestUri: LANDING,
  ipAddress: '203.0.113.5',
  userAgent: UA,
  ...extra,
});

const lead = (extra: Record<string, string> = {}): Record<string, string> => ({
  campaignId: '12',
  firstName: 'Ada',
  lastName: 'Lovelace',
  emailAddress: 'ada@example.com',
  ...extra,
});

function without(params: Record<string, string>, key: string): Record<string, string> {
  const copy = { ...params };
  delete copy[key];
  return copy;
}

async function newSession(): Promise<string> {
  const reply = await call('/landers/clicks/import/', firstClick());
  expect(reply.result).toBe('SUCCESS');
  return reply.message.sessionId as string;
}

async function newLead(extra: Record<string, string> = {}): Promise<string> {
  const reply = await call('/leads/import/', lead(extra));
  expect(reply.result).toBe('SUCCESS');
  return reply.message.orderId as string;
}

describe('transport and credentials', () => {
  it('refuses wrong, missing and over-long credentials with HTTP 200 + ERROR', async () => {
    const wrong = await call('/landers/clicks/import/', { ...firstClick(), loginId: 'fb-login', password: 'nope' }, false);
    expect(wrong).toEqual({ result: 'ERROR', message: KONNEKTIVE_BAD_CREDENTIALS });
    const none = await call('/landers/clicks/import/', firstClick(), false);
    expect(none.message).toContain('Could not authenticate credentials');
    const long = await call('/landers/clicks/import/', { ...firstClick(), loginId: 'x'.repeat(33), password: 'p' }, false);
    expect(long.result).toBe('ERROR');
    expect(long.message).toMatch(/32/);
    expect(k.sessions.size).toBe(0);
  });

  it('rejects JSON bodies and non-form content types', async () => {
    const res = await fetch(`${k.url}/landers/clicks/import/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...CREDS, ...firstClick() }),
    });
    expect(res.status).toBe(200);
    const json = (await res.json()) as Envelope;
    expect(json.result).toBe('ERROR');
    expect(json.message).toMatch(/JSON/);

    const text = await fetch(`${k.url}/landers/clicks/import/`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: new URLSearchParams({ ...CREDS, ...firstClick() }).toString(),
    });
    expect(((await text.json()) as Envelope).result).toBe('ERROR');
    expect(k.sessions.size).toBe(0);
  });

  it('accepts GET with a query string, and POST with credentials in the query string', async () => {
    const query = new URLSearchParams({ ...CREDS, ...firstClick() });
    const get = (await (await fetch(`${k.url}/landers/clicks/import/?${query}`)).json()) as Envelope;
    expect(get.result).toBe('SUCCESS');

    const post = await fetch(`${k.url}/landers/clicks/import/?${new URLSearchParams(CREDS)}`, {
      method: 'POST',
      body: new URLSearchParams(firstClick()),
    });
    expect(((await post.json()) as Envelope).result).toBe('SUCCESS');
    expect(k.sessions.size).toBe(2);
  });

  it('lets a body field override the same query-string field', async () => {
    const post = await fetch(`${k.url}/landers/clicks/import/?campaignId=99`, {
      method: 'POST',
      body: new URLSearchParams({ ...CREDS, ...firstClick({ campaignId: '14' }) }),
    });
    expect(((await post.json()) as Envelope).result).toBe('SUCCESS');
    expect([...k.sessions.values()][0]?.campaignId).toBe('14');
  });

  it('answers HTTP 404 on unknown paths', async () => {
    const res = await fetch(`${k.url}/order/import/`, { method: 'POST', body: new URLSearchParams(CREDS) });
    expect(res.status).toBe(404);
    expect(k.calls.at(-1)?.result).toBe('HTTP404');
  });

  it('follows rotated credentials', async () => {
    k.setCredentials('new-login', 'new-password');
    expect((await call('/landers/clicks/import/', firstClick())).message).toBe(KONNEKTIVE_BAD_CREDENTIALS);
    const fresh = await call(
      '/landers/clicks/import/',
      { ...firstClick(), loginId: 'new-login', password: 'new-password' },
      false,
    );
    expect(fresh.result).toBe('SUCCESS');
  });
});

describe('Import Click', () => {
  it('creates a session on the first click and parses affiliate values from requestUri', async () => {
    const reply = await call('/landers/clicks/import/', firstClick({ httpReferer: 'https://ads.example/?utm_source=x' }));
    expect(reply.result).toBe('SUCCESS');
    expect(reply.message.sessionId).toMatch(/^[0-9a-f]{32}$/);
    expect(reply.message.pixel).toBe('');
    expect(reply.message.affVals).toEqual({ affId: '000123', c1: 'fb', c3: 'x' });
    const session = k.sessions.get(reply.message.sessionId);
    expect(session?.campaignId).toBe('12');
    expect(session?.clicks).toEqual([
      expect.objectContaining({
        pageType: 'presellPage',
        requestUri: LANDING,
        userAgent: UA,
        ipAddress: '203.0.113.5',
        httpReferer: 'https://ads.example/?utm_source=x',
        at: clock,
      }),
    ]);
  });

  it.each(['campaignId', 'pageType', 'userAgent', 'requestUri', 'ipAddress'])(
    'refuses a first click without %s',
    async (field) => {
      const reply = await call('/landers/clicks/import/', without(firstClick(), field));
      expect(reply.result).toBe('ERROR');
      expect(reply.message).toContain(field);
      expect(k.sessions.size).toBe(0);
    },
  );

  it.each([
    ['campaignId', 'abc'],
    ['campaignId', '99'],
    ['pageType', 'catalogPage'],
    ['requestUri', `https://lp.example/?q=${'a'.repeat(500)}`],
    ['requestUri', encodeURIComponent(LANDING)],
    ['requestUri', '/offer?affId=1'],
    ['userAgent', 'u'.repeat(301)],
    ['ipAddress', 'not-an-ip'],
  ])('refuses %s=%s', async (field, value) => {
    const reply = await call('/landers/clicks/import/', firstClick({ [field]: value }));
    expect(reply.result).toBe('ERROR');
    expect(reply.message).toContain(field);
    expect(k.sessions.size).toBe(0);
  });

  it('appends later clicks to the session; requestUri and ipAddress are then optional', async () => {
    const sessionId = await newSession();
    clock += 5_000;
    const reply = await call('/landers/clicks/import/', {
      campaignId: '12',
      pageType: 'leadPage',
      sessionId,
      userAgent: UA,
    });
    expect(reply.result).toBe('SUCCESS');
    expect(reply.message.sessionId).toBe(sessionId);
    expect(reply.message.affVals).toEqual({ affId: '000123', c1: 'fb', c3: 'x' });
    expect(k.sessions.get(sessionId)?.clicks.map((c) => [c.pageType, c.at])).toEqual([
      ['presellPage', clock - 5_000],
      ['leadPage', clock],
    ]);
  });

  it('still requires userAgent on later clicks', async () => {
    const sessionId = await newSession();
    const reply = await call('/landers/clicks/import/', { campaignId: '12', pageType: 'leadPage', sessionId });
    expect(reply.result).toBe('ERROR');
    expect(reply.message).toContain('userAgent');
  });

  it('refuses unknown and over-long session ids', async () => {
    const unknown = await call('/landers/clicks/import/', {
      campaignId: '12',
      pageType: 'leadPage',
      sessionId: 'f'.repeat(32),
      userAgent: UA,
    });
    expect(unknown.message).toContain('Invalid sessionId');
    const long = await call('/landers/clicks/import/', {
      campaignId: '12',
      pageType: 'leadPage',
      sessionId: 'f'.repeat(33),
      userAgent: UA,
    });
    expect(long.result).toBe('ERROR');
    expect(long.message).toContain('sessionId');
  });
});

describe('Import Lead', () => {
  it('creates a partial order linked to the session', async () => {
    const sessionId = await newSession();
    const reply = await call('/leads/import/', lead({ sessionId, country: 'US', phoneNumber: '5550100' }));
    expect(reply.result).toBe('SUCCESS');
    const { message } = reply;
    expect(message.orderId).toMatch(/^[A-Z0-9]{10}$/);
    expect(typeof message.customerId).toBe('number');
    expect(message).toMatchObject({
      orderStatus: 'PARTIAL',
      firstName: 'Ada',
      lastName: 'Lovelace',
      emailAddress: 'ada@example.com',
      country: 'US',
      dateCreated: '2025-05-01 12:00:00',
      dateUpdated: '2025-05-01 12:00:00',
    });
    const stored = k.leads.get(message.orderId);
    expect(stored).toMatchObject({ status: 'PARTIAL', sessionId, totalAmount: '0.00', items: [] });
    expect(stored?.fields.phoneNumber).toBe('5550100');
    expect(stored?.history).toHaveLength(1);
  });

  it('accepts a phone number instead of an email', async () => {
    const reply = await call('/leads/import/', lead({ emailAddress: '', phoneNumber: '+1 555 0100' }));
    expect(reply.result).toBe('SUCCESS');
  });

  it.each(['campaignId', 'firstName', 'lastName'])('refuses a lead without %s', async (field) => {
    const reply = await call('/leads/import/', without(lead(), field));
    expect(reply.result).toBe('ERROR');
    expect(reply.message).toContain(field);
    expect(k.leads.size).toBe(0);
  });

  it('refuses a lead with neither email nor phone', async () => {
    const reply = await call('/leads/import/', without(lead(), 'emailAddress'));
    expect(reply.result).toBe('ERROR');
    expect(reply.message).toMatch(/emailAddress or phoneNumber/);
  });

  it.each([
    ['firstName', 'a'.repeat(51)],
    ['lastName', 'a'.repeat(51)],
    ['emailAddress', 'not-an-email'],
    ['emailAddress', `${'a'.repeat(250)}@example.com`],
    ['phoneNumber', '1'.repeat(33)],
    ['country', 'USA'],
    ['affId', 'a'.repeat(11)],
    ['orderId', 'A'.repeat(31)],
    ['sessionId', 'f'.repeat(32)],
    ['campaignId', '99'],
  ])('refuses %s=%s', async (field, value) => {
    const reply = await call('/leads/import/', lead({ [field]: value }));
    expect(reply.result).toBe('ERROR');
    expect(reply.message).toContain(field);
    expect(k.leads.size).toBe(0);
  });

  it('updates the lead named by orderId instead of creating another', async () => {
    const orderId = await newLead();
    clock += 60_000;
    const reply = await call('/leads/import/', lead({ orderId, lastName: 'King', address1: '1 Main St' }));
    expect(reply.result).toBe('SUCCESS');
    expect(reply.message.orderId).toBe(orderId);
    expect(reply.message.dateUpdated).toBe('2025-05-01 12:01:00');
    expect(k.leads.size).toBe(1);
    const stored = k.leads.get(orderId);
    expect(stored?.fields).toMatchObject({ firstName: 'Ada', lastName: 'King', address1: '1 Main St' });
    expect(stored?.history.map((h) => h.changes.lastName)).toEqual(['Lovelace', 'King']);
  });

  it('refuses an update of an unknown order or of a completed one', async () => {
    const unknown = await call('/leads/import/', lead({ orderId: 'NOSUCHORDR' }));
    expect(unknown.result).toBe('ERROR');
    expect(unknown.message).toContain('orderId');

    const orderId = await newLead();
    k.completeOrder(orderId, { items: [{ productId: 7, name: 'Serum', price: 39.95 }] });
    const late = await call('/leads/import/', lead({ orderId, lastName: 'Late' }));
    expect(late.result).toBe('ERROR');
    expect(k.leads.get(orderId)?.fields.lastName).toBe('Lovelace');
  });

  it('reuses the customerId for the same email', async () => {
    const a = await call('/leads/import/', lead());
    const b = await call('/leads/import/', lead({ emailAddress: 'ADA@example.com' }));
    const c = await call('/leads/import/', lead({ emailAddress: 'bob@example.com' }));
    expect(b.message.customerId).toBe(a.message.customerId);
    expect(c.message.customerId).not.toBe(a.message.customerId);
  });
});

describe('Query Order', () => {
  it('returns an order by orderId in the paged shape, with money as dollar strings', async () => {
    const orderId = await newLead();
    k.completeOrder(orderId, {
      items: [{ productId: 7, name: 'Serum', qty: 1, price: 39.95 }],
      currency: 'USD',
    });
    k.addUpsell(orderId, { productId: '8', name: 'Cream', qty: 2, price: '10.00' });
    const reply = await call('/order/query/', { orderId });
    expect(reply.result).toBe('SUCCESS');
    expect(reply.message).toMatchObject({ totalResults: 1, resultsPerPage: 25, page: 1 });
    expect(reply.message.data).toHaveLength(1);
    expect(reply.message.data[0]).toMatchObject({
      orderId,
      orderStatus: 'COMPLETE',
      emailAddress: 'ada@example.com',
      firstName: 'Ada',
      lastName: 'Lovelace',
      campaignId: 12,
      totalAmount: '59.95',
      currencyCode: 'USD',
      items: [
        { productId: '7', name: 'Serum', qty: 1, price: '39.95', purchaseStatus: 'COMPLETE' },
        { productId: '8', name: 'Cream', qty: 2, price: '10.00', purchaseStatus: 'COMPLETE' },
      ],
    });
    expect(k.leads.get(orderId)?.history.map((h) => h.via)).toEqual(['leads/import', 'completeOrder', 'addUpsell']);
  });

  it('answers ERROR with "no result" when nothing matches', async () => {
    const reply = await call('/order/query/', { orderId: 'NOSUCHORDR' });
    expect(reply.result).toBe('ERROR');
    expect(String(reply.message).toLowerCase()).toContain('no result');
  });

  it('requires a mm/dd/yyyy date range without orderId', async () => {
    const none = await call('/order/query/', {});
    expect(none.message).toMatch(/startDate.*endDate/);
    const iso = await call('/order/query/', { startDate: '2025-05-01', endDate: '05/01/2025' });
    expect(iso.result).toBe('ERROR');
    expect(iso.message).toContain('startDate');
    const impossible = await call('/order/query/', { startDate: '02/30/2025', endDate: '03/01/2025' });
    expect(impossible.result).toBe('ERROR');
    const reversed = await call('/order/query/', { startDate: '05/02/2025', endDate: '05/01/2025' });
    expect(reversed.result).toBe('ERROR');
  });

  it('filters by date range, email, status and campaign, and pages', async () => {
    await newLead();
    const bob = await newLead({ emailAddress: 'bob@example.com', campaignId: '14' });
    clock = Date.UTC(2025, 4, 3, 9, 0, 0);
    k.createCompletedOrder({ email: 'carol@example.com', items: [{ productId: 1, name: 'Kit', price: 20 }] });

    const day1 = await call('/order/query/', { startDate: '05/01/2025', endDate: '05/01/2025' });
    expect(day1.message.totalResults).toBe(2);
    const all = await call('/order/query/', { startDate: '05/01/2025', endDate: '05/03/2025' });
    expect(all.message.totalResults).toBe(3);
    const byEmail = await call('/order/query/', { startDate: '05/01/2025', endDate: '05/03/2025', emailAddress: 'bob@example.com' });
    expect(byEmail.message.data.map((o: { orderId: string }) => o.orderId)).toEqual([bob]);
    const complete = await call('/order/query/', { startDate: '05/01/2025', endDate: '05/03/2025', orderStatus: 'COMPLETE' });
    expect(complete.message.data.map((o: { emailAddress: string }) => o.emailAddress)).toEqual(['carol@example.com']);
    const campaign = await call('/order/query/', { startDate: '05/01/2025', endDate: '05/03/2025', campaignId: '14' });
    expect(campaign.message.totalResults).toBe(1);
    const page2 = await call('/order/query/', { startDate: '05/01/2025', endDate: '05/03/2025', resultsPerPage: '2', page: '2' });
    expect(page2.message).toMatchObject({ totalResults: 3, resultsPerPage: 2, page: 2 });
    expect(page2.message.data).toHaveLength(1);
    const badStatus = await call('/order/query/', { startDate: '05/01/2025', endDate: '05/03/2025', orderStatus: 'DONE' });
    expect(badStatus.result).toBe('ERROR');
  });

  it('caps resultsPerPage at 200', async () => {
    await newLead();
    const reply = await call('/order/query/', { startDate: '05/01/2025', endDate: '05/01/2025', resultsPerPage: '201' });
    expect(reply.result).toBe('ERROR');
    expect(reply.message).toContain('resultsPerPage');
  });
});

describe('test-control helpers', () => {
  it('complete, upsell and status changes update the stored record', async () => {
    const orderId = await newLead();
    clock += 1_000;
    const done = k.completeOrder(orderId, { items: [{ productId: 1, name: 'A', qty: 3, price: '1.10' }], currency: 'EUR' });
    expect(done).toMatchObject({ status: 'COMPLETE', totalAmount: '3.30', currencyCode: 'EUR', dateUpdated: clock });
    k.setOrderStatus(orderId, 'REFUNDED');
    expect(k.leads.get(orderId)?.status).toBe('REFUNDED');
    expect(() => k.completeOrder('NOSUCHORDR', { items: [] })).toThrow();
    const partial = await newLead({ emailAddress: 'p@example.com' });
    expect(() => k.addUpsell(partial, { productId: 1, name: 'A', price: 1 })).toThrow(/PARTIAL/);
  });

  it('createCompletedOrder makes an order without a lead', async () => {
    const order = k.createCompletedOrder({
      email: 'dan@example.com',
      firstName: 'Dan',
      items: [{ productId: 3, name: 'Bundle', price: 99 }],
    });
    expect(order).toMatchObject({ status: 'COMPLETE', totalAmount: '99.00', campaignId: '12' });
    const reply = await call('/order/query/', { orderId: order.orderId });
    expect(reply.message.data[0]).toMatchObject({ emailAddress: 'dan@example.com', firstName: 'Dan' });
  });
});

describe('/cart/activecampaign/', () => {
  const cart = (extra: Record<string, string> = {}): Record<string, string> => ({
    type: 'CART',
    externalcheckoutid: 'sess-1',
    email: 'ada@example.com',
    source: '1',
    totalPrice: '3995',
    currency: 'USD',
    abandonedDate: '2025-05-01T11:00:00+00:00',
    orderProducts: JSON.stringify([{ externalid: '7', name: 'Serum', price: 3995, quantity: 1 }]),
    ...extra,
  });

  it('records accepted calls', async () => {
    const reply = await call('/cart/activecampaign/', cart());
    expect(reply.result).toBe('SUCCESS');
    expect(k.acRoute).toHaveLength(1);
    expect(k.acRoute[0]).toMatchObject({ type: 'CART', params: { externalcheckoutid: 'sess-1', totalPrice: '3995' } });
    expect(k.acRoute[0]?.params).not.toHaveProperty('password');
    const order = await call('/cart/activecampaign/', cart({ type: 'ORDER', externalid: 'ORD1', abandonedDate: '' }));
    expect(order.result).toBe('SUCCESS');
    const query = await call('/cart/activecampaign/', { type: 'QUERY', queryType: 'ORDER' });
    // Carts and orders are one kind of record in ActiveCampaign: QUERY ORDER lists both.
    expect(query.message.data).toEqual([
      expect.objectContaining({ type: 'CART', externalcheckoutid: 'sess-1' }),
      expect.objectContaining({ type: 'ORDER', externalid: 'ORD1' }),
    ]);
  });

  it('requires a known type', async () => {
    expect((await call('/cart/activecampaign/', {})).message).toContain('type');
    expect((await call('/cart/activecampaign/', { type: 'LEAD' })).result).toBe('ERROR');
    expect((await call('/cart/activecampaign/', { type: 'QUERY' })).message).toContain('queryType');
  });

  it.each(['externalcheckoutid', 'email', 'source', 'totalPrice', 'currency', 'abandonedDate'])(
    'refuses a CART without %s',
    async (field) => {
      const reply = await call('/cart/activecampaign/', without(cart(), field));
      expect(reply.result).toBe('ERROR');
      expect(reply.message).toContain(field);
      expect(k.acRoute).toHaveLength(0);
    },
  );

  it.each([
    ['source', '2'],
    ['totalPrice', '39.95'],
    ['currency', 'usd'],
    ['abandonedDate', '2025-05-01 11:00:00 UTC'],
    ['abandonedDate', '2025-05-01T11:00:00'],
    ['orderProducts', 'not json'],
    ['orderProducts', JSON.stringify([{ externalid: '7', name: 'Serum', quantity: 1 }])],
    ['orderProducts', JSON.stringify([{ externalid: '7', name: 'Serum', price: 39.95, quantity: 1 }])],
    ['orderProducts', JSON.stringify([{ name: 'Serum', price: 3995, quantity: 1 }])],
    ['orderProducts', JSON.stringify([{ externalid: '7', name: 'Serum', price: 3995, quantity: 1, imageUrl: 'serum.png' }])],
    ['orderProducts', JSON.stringify([{ externalid: '7', name: 'Serum', price: 3995, quantity: 1, productUrl: 'javascript:alert(1)' }])],
    ['orderUrl', '/r/abc'],
  ])('refuses a CART with %s=%s', async (field, value) => {
    const reply = await call('/cart/activecampaign/', cart({ [field]: value }));
    expect(reply.result).toBe('ERROR');
    expect(reply.message).toContain(field);
    expect(k.acRoute).toHaveLength(0);
  });

  it('requires externalid on ORDER, and email + externalid on CUSTOMER', async () => {
    const order = await call('/cart/activecampaign/', cart({ type: 'ORDER' }));
    expect(order.message).toContain('externalid');
    const customer = await call('/cart/activecampaign/', { type: 'CUSTOMER', email: 'ada@example.com' });
    expect(customer.message).toContain('externalid');
    const noEmail = await call('/cart/activecampaign/', { type: 'CUSTOMER', externalid: '1001' });
    expect(noEmail.message).toContain('email');
    expect(k.acRoute).toHaveLength(0);
  });
});

describe('Query Campaign', () => {
  it("lists the campaign's products under its id, money as dollar strings; by default the tests' products", async () => {
    const answer = await call('/campaign/query/', { campaignId: '12' });
    expect(answer.result).toBe('SUCCESS');
    expect(answer.message.data['12']).toMatchObject({
      campaignId: 12,
      currency: 'USD',
      products: [
        { campaignProductId: 41, productName: 'Bottle', price: '39.95' },
        { campaignProductId: 42, productName: 'Spare filter', price: '12.50' },
      ],
    });
  });

  it('answers with the products a test sets, each campaign its own', async () => {
    k.setCampaignProducts('14', [{ campaignProductId: '7', productName: 'Serum', price: 9.9, imageUrl: 'https://cdn.example/serum.png' }]);
    expect((await call('/campaign/query/', { campaignId: '14' })).message.data['14'].products).toEqual([
      { campaignProductId: 7, productName: 'Serum', price: '9.90', shippingPrice: '0.00', imageUrl: 'https://cdn.example/serum.png' },
    ]);
    expect((await call('/campaign/query/', { campaignId: '12' })).message.data['12'].products).toHaveLength(2);
    k.reset();
    expect((await call('/campaign/query/', { campaignId: '14' })).message.data['14'].products).toHaveLength(2);
  });

  it('requires a campaignId, an integer the account has', async () => {
    expect(await call('/campaign/query/', {})).toEqual({ result: 'ERROR', message: 'campaignId is required' });
    expect(await call('/campaign/query/', { campaignId: '12x' })).toEqual({ result: 'ERROR', message: 'campaignId must be an integer' });
    expect((await call('/campaign/query/', { campaignId: '99' })).message).toMatch(/No result/);
    expect((await call('/campaign/query/', { campaignId: '12' }, false)).message).toBe(KONNEKTIVE_BAD_CREDENTIALS);
  });

  it('fails on purpose alone, while the other calls are answered', async () => {
    k.fail('http500', { path: '/campaign/query/', times: 2 });
    expect((await call('/leads/import/', lead())).result).toBe('SUCCESS');
    for (let i = 0; i < 2; i += 1) {
      const res = await fetch(`${k.url}/campaign/query/`, { method: 'POST', body: new URLSearchParams({ ...CREDS, campaignId: '12' }) });
      expect(res.status).toBe(500);
    }
    expect((await call('/campaign/query/', { campaignId: '12' })).result).toBe('SUCCESS');
    k.fail('badCredentials', { path: '/campaign/query' });
    expect((await call('/campaign/query/', { campaignId: '12' })).message).toBe(KONNEKTIVE_BAD_CREDENTIALS);
    expect((await call('/order/query/', { orderId: 'NONE' })).message).toMatch(/No result/);
    k.recover();
    expect((await call('/campaign/query/', { campaignId: '12' })).result).toBe('SUCCESS');
    expect(() => k.fail('http500', { path: '/nowhere/' })).toThrow(/no path/);
  });
});

describe('failure modes', () => {
  it('http500 for a number of calls, then back to normal', async () => {
    k.fail('http500', { times: 2 });
    for (let i = 0; i < 2; i += 1) {
      const res = await fetch(`${k.url}/landers/clicks/import/`, {
        method: 'POST',
        body: new URLSearchParams({ ...CREDS, ...firstClick() }),
      });
      expect(res.status).toBe(500);
      expect(res.headers.get('content-type')).toContain('text/html');
      expect(await res.text()).toContain('Internal Server Error');
    }
    expect((await call('/landers/clicks/import/', firstClick())).result).toBe('SUCCESS');
    expect(k.calls.map((c) => c.result)).toEqual(['HTTP500', 'HTTP500', 'SUCCESS']);
    expect(k.sessions.size).toBe(1);
  });

  it('down is http500 until recover()', async () => {
    k.fail('down');
    for (let i = 0; i < 3; i += 1) {
      const res = await fetch(`${k.url}/leads/import/`, { method: 'POST', body: new URLSearchParams({ ...CREDS, ...lead() }) });
      expect(res.status).toBe(500);
    }
    k.recover();
    expect((await call('/leads/import/', lead())).result).toBe('SUCCESS');
  });

  it('error and badCredentials answer HTTP 200 ERROR and change nothing', async () => {
    k.fail('error', { times: 1 });
    const generic = await call('/leads/import/', lead());
    expect(generic.result).toBe('ERROR');
    expect(generic.message).not.toContain('authenticate');
    k.fail('badCredentials', { times: 1 });
    expect((await call('/leads/import/', lead())).message).toBe(KONNEKTIVE_BAD_CREDENTIALS);
    expect(k.leads.size).toBe(0);
    expect((await call('/leads/import/', lead())).result).toBe('SUCCESS');
  });

  it('hang never answers, so the client times out; close() still returns', async () => {
    const own = await startKonnektiveDouble();
    own.fail('hang');
    const started = Date.now();
    await expect(
      fetch(`${own.url}/leads/import/`, {
        method: 'POST',
        body: new URLSearchParams({ ...CREDS, ...lead() }),
        signal: AbortSignal.timeout(150),
      }),
    ).rejects.toThrow();
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    // A second hung request that the client does not abort: close() must not wait for it.
    const pending = fetch(`${own.url}/leads/import/`, { method: 'POST', body: new URLSearchParams(CREDS) }).catch(
      (error: unknown) => error,
    );
    await expect.poll(() => own.calls.length).toBe(2);
    expect(own.calls.map((c) => c.result)).toEqual(['HANG', 'HANG']);
    const closeStarted = Date.now();
    await own.close();
    expect(Date.now() - closeStarted).toBeLessThan(1_000);
    expect(await pending).toBeInstanceOf(Error);
  });

  it('refuses a non-positive times', () => {
    expect(() => k.fail('http500', { times: 0 })).toThrow();
  });
});

describe('introspection', () => {
  it('records every call in order, and reset() forgets everything', async () => {
    await newSession();
    await call('/leads/import/', without(lead(), 'firstName'));
    expect(k.calls.map((c) => [c.path, c.result])).toEqual([
      ['/landers/clicks/import/', 'SUCCESS'],
      ['/leads/import/', 'ERROR'],
    ]);
    expect(k.calls[0]?.params).toMatchObject({ pageType: 'presellPage', loginId: 'fb-login' });
    expect(k.calls[1]?.message).toContain('firstName');
    expect(k.calls[0]?.at).toBe(clock);

    k.setCredentials('x', 'y');
    k.fail('error');
    k.reset();
    expect(k.calls).toHaveLength(0);
    expect(k.sessions.size).toBe(0);
    expect(k.leads.size).toBe(0);
    expect((await call('/leads/import/', lead())).result).toBe('SUCCESS');
  });
});

describe('lifecycle queries (/transactions/query/, /purchase/query/, /order/query/ by dateUpdated)', () => {
  const window = { dateRangeType: 'dateUpdated', startDate: '04/30/2025', endDate: '05/01/2025', resultsPerPage: '200' };

  it('refuses what Konnektive refuses: missing or badly written dates, more than 200 a page, unknown enums', async () => {
    for (const path of ['/transactions/query/', '/purchase/query/']) {
      expect((await call(path, {})).message).toMatch(/startDate is required/);
      expect((await call(path, { ...window, startDate: '2025-04-30' })).message).toMatch(/mm\/dd\/yyyy/);
      expect((await call(path, { ...window, resultsPerPage: '201' })).message).toMatch(/resultsPerPage/);
      expect((await call(path, { ...window, dateRangeType: 'dateChanged' })).message).toMatch(/dateRangeType/);
      expect((await call(path, { ...window, startDate: '05/02/2025' })).result).toBe('ERROR');
    }
    expect((await call('/transactions/query/', { ...window, txnType: 'RECURRING' })).message).toMatch(/txnType/);
    // Query Purchases wants startDate strictly before endDate.
    expect((await call('/purchase/query/', { ...window, startDate: '05/01/2025' })).message).toMatch(/before endDate/);
    expect((await call('/transactions/query/', { ...window, startDate: '05/01/2025' })).message).toMatch(/No transactions found/);
    expect((await call('/transactions/query/', window, false)).message).toBe(KONNEKTIVE_BAD_CREDENTIALS);
  });

  it('answers whole days in the account zone by dateUpdated, page by page, and an empty page as ERROR', async () => {
    k.setUtcOffset(-300); // New York in winter: 2025-05-01 12:00 UTC is 07:00 there.
    k.putTransaction({ transactionId: '1', txnType: 'SALE', responseType: 'SUCCESS', orderId: 'A' });
    clock = Date.UTC(2025, 4, 2, 4, 30); // 23:30 on May 1st in the account's zone, May 2nd in UTC
    k.putTransaction({ transactionId: '2', txnType: 'SALE', responseType: 'SUCCESS', orderId: 'B' });
    clock = Date.UTC(2025, 4, 2, 5, 30); // 00:30 on May 2nd in the account's zone
    k.putTransaction({ transactionId: '1', isChargedback: '1' });
    const mayFirst = await call('/transactions/query/', { ...window, startDate: '05/01/2025', endDate: '05/01/2025' });
    expect(mayFirst.message.data.map((row: { transactionId: string }) => row.transactionId)).toEqual(['2']);
    expect(mayFirst.message.data[0].dateUpdated).toBe('2025-05-01 23:30:00');
    const mayFirstToSecond = await call('/transactions/query/', { ...window, startDate: '05/01/2025', endDate: '05/02/2025' });
    expect(mayFirstToSecond.message.data).toHaveLength(2);
    // By dateCreated transaction 1 stays on May 1st.
    expect((await call('/transactions/query/', { ...window, dateRangeType: 'dateCreated', startDate: '05/01/2025', endDate: '05/01/2025' })).message.totalResults).toBe(2);

    for (let i = 0; i < 250; i++) k.putPurchase({ purchaseId: `P${i}`, status: 'ACTIVE', billingCycleNumber: 1 });
    const range = { ...window, startDate: '05/01/2025', endDate: '05/02/2025' };
    const first = await call('/purchase/query/', { ...range, page: '1' });
    const second = await call('/purchase/query/', { ...range, page: '2' });
    expect(first.message.data).toHaveLength(200);
    expect(second.message.data).toHaveLength(50);
    expect(first.message.totalResults).toBe(250);
    expect(await call('/purchase/query/', { ...range, page: '3' })).toEqual({ result: 'ERROR', message: 'No purchases found' });
  });

  it('answers an order\'s fulfillments as set, updated then; and fails on purpose per path', async () => {
    const order = k.createCompletedOrder({ email: 'ann@example.com', items: [{ productId: '41', name: 'Bottle', qty: 1, price: '39.95' }] });
    clock += 3_600_000;
    k.updateOrder(order.orderId, { fulfillments: [{ fulfillmentId: 'F1', status: 'SHIPPED', trackingNumber: '1Z9' }] });
    const found = await call('/order/query/', { ...window, startDate: '05/01/2025', endDate: '05/01/2025' });
    expect(found.message.data[0]).toMatchObject({ orderId: order.orderId, fulfillments: [{ status: 'SHIPPED', trackingNumber: '1Z9' }], dateUpdated: '2025-05-01 13:00:00' });
    k.fail('http500', { path: '/transactions/query/', times: 1 });
    const res = await fetch(`${k.url}/transactions/query/`, { method: 'POST', body: new URLSearchParams({ ...CREDS, ...window }) });
    expect(res.status).toBe(500);
    expect((await call('/transactions/query/', window)).message).toMatch(/No transactions found/);
  });
});
