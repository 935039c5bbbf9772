/**
 * Postbacks fired at the receiver double over real HTTP on 127.0.0.1: a GET with the values in
 * the query, a POST with a form or JSON body, each as the network receives it; every answer a
 * value of its kind; and the delivery log keeping the URL but not the email hash.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startPostbackReceiver, type PostbackReceiver } from '../../test/doubles/postback-receiver.js';
import type { CallRecord } from '../outbox/upstream-call.js';
import { firePostback } from './postback-client.js';
import type { Postback } from './postback-file.js';
import { postbackRequest } from './postback-request.js';
import type { PostbackValues } from './postback-values.js';

let receiver: PostbackReceiver;
beforeAll(async () => {
  receiver = await startPostbackReceiver();
});
afterAll(async () => {
  await receiver.close();
});
beforeEach(() => receiver.reset());

const HASH = 'b'.repeat(64);
const values: PostbackValues = { event: 'sale', eventId: 'sess_1.sale.1001', affId: 'AFF7', c1: 'a&b=c d+e/é', orderId: '1001', amountCents: 3995, currency: 'USD', emailSha256: HASH };
const postback = (extra: Partial<Postback> = {}): Postback => ({
  name: 'net-sale',
  on: 'sale',
  method: 'GET',
  url: `${receiver.url}/pb?aff={affId}&sub={c1}&oid={orderId}&amt={amount}&cur={currency}&eid={eventId}&em={email_sha256}`,
  skipPrepaid: false,
  skipTestOrders: false,
  ...extra,
});

async function fire(p: Postback = postback(), timeoutMs = 2_000) {
  const records: CallRecord[] = [];
  const result = await firePostback(postbackRequest(p, values), { timeoutMs, record: (call) => records.push(call) });
  expect(records).toHaveLength(1);
  return { result, record: records[0]! };
}

describe('what the network receives', () => {
  it('a GET: every value in the query, decoded by the network exactly as it was', async () => {
    const { result, record } = await fire();
    expect(result).toEqual({ ok: true, status: 200, answer: 'OK' });
    expect(receiver.calls).toHaveLength(1);
    const call = receiver.calls[0]!;
    expect(call).toMatchObject({ method: 'GET', path: '/pb', query: { aff: 'AFF7', sub: 'a&b=c d+e/é', oid: '1001', amt: '39.95', cur: 'USD', eid: 'sess_1.sale.1001', em: HASH } });
    expect(call.headers['user-agent']).toBe('funnelbeacon-postback');
    expect(record).toMatchObject({ endpoint: 'GET net-sale', outcome: 'ok', httpStatus: 200, response: 'HTTP 200: OK' });
    expect(record.request).toBe(`${receiver.url}/pb?aff=AFF7&sub=a%26b%3Dc%20d%2Be%2F%C3%A9&oid=1001&amt=39.95&cur=USD&eid=sess_1.sale.1001&em=[hash]`);
  });

  it('a POST form: every token by name in the body, the URL\'s tokens rendered too', async () => {
    const { result, record } = await fire(postback({ method: 'POST', body: 'form', url: `${receiver.url}/lead?aff={affId}` }));
    expect(result.ok).toBe(true);
    const call = receiver.calls[0]!;
    expect(call).toMatchObject({ method: 'POST', path: '/lead', query: { aff: 'AFF7' } });
    expect(call.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(call.body).toEqual({ event: 'sale', eventId: 'sess_1.sale.1001', affId: 'AFF7', c1: 'a&b=c d+e/é', c2: '', c3: '', c4: '', c5: '', clickId: 'a&b=c d+e/é', orderId: '1001', amount: '39.95', currency: 'USD', email_sha256: HASH });
    expect(record.endpoint).toBe('POST net-sale');
    expect(record.request).toContain('email_sha256=[hash]');
    expect(record.request).not.toContain(HASH);
  });

  it('a POST json: the same as an object, the amount a number', async () => {
    await fire(postback({ method: 'POST', body: 'json', url: `${receiver.url}/lead` }));
    const call = receiver.calls[0]!;
    expect(call.headers['content-type']).toBe('application/json');
    expect(call.body).toMatchObject({ event: 'sale', affId: 'AFF7', c1: 'a&b=c d+e/é', amount: 39.95, email_sha256: HASH });
  });
});

describe('what came of it', () => {
  it('any 2xx is ok, with the answer scrubbed and cut to 500 characters', async () => {
    receiver.answerWith(202, `accepted for buyer@example.com from 203.0.113.9 ${'x'.repeat(1000)}`);
    const { result, record } = await fire();
    expect(result.ok && result.status).toBe(202);
    const answer = result.ok ? result.answer : '';
    expect(answer).toMatch(/^accepted for \[email\] from \[ip\] x+$/);
    expect(answer).toHaveLength(500);
    expect(record.response).toBe(`HTTP 202: ${answer}`);
  });

  it('400, 404, 410 and 422 are rejected (dead letter with the answer)', async () => {
    receiver.fail('notFound', { times: 1 });
    expect((await fire()).result).toEqual({ ok: false, failure: 'rejected', status: 404, message: 'postback "net-sale": HTTP 404: Not Found' });
    for (const status of [400, 410, 422]) {
      receiver.answerWith(status, 'invalid offer');
      const { result, record } = await fire();
      expect(result).toEqual({ ok: false, failure: 'rejected', status, message: `postback "net-sale": HTTP ${status}: invalid offer` });
      expect(record).toMatchObject({ outcome: 'rejected', httpStatus: status, response: `postback "net-sale": HTTP ${status}: invalid offer` });
    }
  });

  it('5xx and other 4xx are transient (retried)', async () => {
    receiver.fail('http500', { times: 1 });
    const { result, record } = await fire();
    expect(result).toEqual({ ok: false, failure: 'transient', status: 500, message: 'postback "net-sale": HTTP 500: <html><body><h1>500 Internal Server Error</h1></body></html>' });
    expect(record).toMatchObject({ outcome: 'transient', httpStatus: 500 });
    for (const status of [401, 403, 429, 503]) {
      receiver.answerWith(status, 'later');
      expect((await fire()).result).toMatchObject({ ok: false, failure: 'transient', status });
    }
  });

  it('a timeout and a dropped connection are transient', async () => {
    receiver.fail('hang', { times: 1 });
    const hung = await fire(postback(), 300);
    expect(hung.result).toEqual({ ok: false, failure: 'transient', message: 'postback "net-sale": timed out after 300 ms' });
    expect(hung.record).toMatchObject({ outcome: 'transient', response: 'postback "net-sale": timed out after 300 ms' });
    expect(hung.record.httpStatus).toBeUndefined();
    receiver.fail('down', { times: 1 });
    expect((await fire()).result).toEqual({ ok: false, failure: 'transient', message: 'postback "net-sale": connection failed' });
  });

  it('a redirect is not followed: transient, naming the postback and where it pointed', async () => {
    receiver.fail('redirect', { times: 1 });
    const { result } = await fire();
    expect(result).toEqual({
      ok: false,
      failure: 'transient',
      status: 302,
      message: 'postback "net-sale": the network answered with a redirect (HTTP 302 to https://elsewhere.example), not followed: put the address it redirects to in the postback\'s url',
    });
    expect(receiver.calls).toHaveLength(1);
  });
});
