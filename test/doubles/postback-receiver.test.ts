/**
 * Tests of the postback receiver double itself, over real HTTP: what it records of each call,
 * the bodies it refuses, and the failures it gives on purpose.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startPostbackReceiver, type PostbackReceiver } from './postback-receiver.js';

let receiver: PostbackReceiver;
beforeAll(async () => {
  receiver = await startPostbackReceiver();
});
afterAll(async () => {
  await receiver.close();
});
beforeEach(() => receiver.reset());

describe('recording', () => {
  it('records a GET with its query decoded and as it arrived, and answers 200 OK', async () => {
    const res = await fetch(`${receiver.url}/pb?aff=AFF7&sub=a%26b%20c&amt=39.95`, { headers: { 'user-agent': 'probe' } });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('OK');
    expect(receiver.calls).toHaveLength(1);
    expect(receiver.calls[0]).toMatchObject({ method: 'GET', path: '/pb', query: { aff: 'AFF7', sub: 'a&b c', amt: '39.95' }, rawQuery: 'aff=AFF7&sub=a%26b%20c&amt=39.95', rawBody: '', status: 200 });
    expect(receiver.calls[0]?.headers['user-agent']).toBe('probe');
    expect(receiver.calls[0]?.body).toBeUndefined();
  });

  it('parses a form body and a JSON body by their content type', async () => {
    await fetch(`${receiver.url}/lead`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'event=lead&c1=x%2By' });
    await fetch(`${receiver.url}/lead?k=1`, { method: 'POST', headers: { 'content-type': 'application/json; charset=utf-8' }, body: '{"event":"lead","amount":39.95}' });
    expect(receiver.calls.map((call) => [call.method, call.query, call.body, call.status])).toEqual([
      ['POST', {}, { event: 'lead', c1: 'x+y' }, 200],
      ['POST', { k: '1' }, { event: 'lead', amount: 39.95 }, 200],
    ]);
  });

  it('answers what it is told to', async () => {
    receiver.answerWith(201, 'accepted: 1');
    const res = await fetch(`${receiver.url}/pb`);
    expect([res.status, await res.text()]).toEqual([201, 'accepted: 1']);
  });
});

describe('refusals', () => {
  it('refuses a POST body it cannot read (400) and a method other than GET or POST (405)', async () => {
    const bad = await fetch(`${receiver.url}/pb`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{nope' });
    expect([bad.status, await bad.text()]).toEqual([400, 'invalid JSON']);
    const xml = await fetch(`${receiver.url}/pb`, { method: 'POST', headers: { 'content-type': 'text/xml' }, body: '<a/>' });
    expect([xml.status, await xml.text()]).toEqual([400, 'unsupported content type text/xml']);
    expect((await fetch(`${receiver.url}/pb`, { method: 'PUT', body: 'x' })).status).toBe(405);
    expect(receiver.calls.map((call) => call.status)).toEqual([400, 400, 405]);
  });
});

describe('failing on purpose', () => {
  it('500, 404 and a redirect for the given number of calls, then OK again', async () => {
    receiver.fail('http500', { times: 1 });
    expect((await fetch(`${receiver.url}/pb`)).status).toBe(500);
    expect((await fetch(`${receiver.url}/pb`)).status).toBe(200);
    receiver.fail('notFound');
    expect((await fetch(`${receiver.url}/pb`)).status).toBe(404);
    expect((await fetch(`${receiver.url}/pb`)).status).toBe(404);
    receiver.fail('redirect', { times: 1 });
    const moved = await fetch(`${receiver.url}/pb`, { redirect: 'manual' });
    expect([moved.status, moved.headers.get('location')]).toEqual([302, 'https://elsewhere.example/pb']);
    receiver.recover();
    expect((await fetch(`${receiver.url}/pb`)).status).toBe(200);
    expect(receiver.calls.map((call) => call.failure ?? 'none')).toEqual(['http500', 'none', 'notFound', 'notFound', 'redirect', 'none']);
  });

  it('down drops the connection; hang never answers', async () => {
    receiver.fail('down', { times: 1 });
    await expect(fetch(`${receiver.url}/pb`)).rejects.toThrow();
    receiver.fail('hang', { times: 1 });
    await expect(fetch(`${receiver.url}/pb`, { signal: AbortSignal.timeout(200) })).rejects.toThrow();
    expect(receiver.calls.map((call) => [call.failure, call.status])).toEqual([
      ['down', 0],
      ['hang', 0],
    ]);
  });
});
