/**
 * A postback's request for one event: every token replaced by its value, URL-encoded where it
 * lands, the amount in major units, and a POST's body holding every token by name.
 */
import { describe, expect, it } from 'vitest';
import type { Postback } from './postback-file.js';
import { postbackRequest } from './postback-request.js';
import { majorUnits, SAMPLE_EMAIL_SHA256, sampleValues, type PostbackValues } from './postback-values.js';

const HASH = 'a'.repeat(64);
const postback = (extra: Partial<Postback> = {}): Postback => ({ name: 'net-sale', on: 'sale', method: 'GET', url: 'https://network.example/pb', skipPrepaid: false, skipTestOrders: false, ...extra });

const values: PostbackValues = {
  event: 'sale',
  eventId: 'sess_1.sale.1001',
  affId: 'AFF7',
  c1: 'one',
  c2: 'two',
  c3: 'three',
  c4: 'four',
  c5: 'five',
  clickId: 'clk-9',
  orderId: '1001',
  amountCents: 3995,
  currency: 'USD',
  emailSha256: HASH,
};

const EVERY_TOKEN_URL =
  'https://network.example/pb/{event}?e={eventId}&a={affId}&c1={c1}&c2={c2}&c3={c3}&c4={c4}&c5={c5}&click={clickId}&o={orderId}&amt={amount}&cur={currency}&em={email_sha256}';

describe('tokens in the URL', () => {
  it('replaces every token by its value', () => {
    expect(postbackRequest(postback({ url: EVERY_TOKEN_URL }), values)).toEqual({
      postback: 'net-sale',
      method: 'GET',
      url: `https://network.example/pb/sale?e=sess_1.sale.1001&a=AFF7&c1=one&c2=two&c3=three&c4=four&c5=five&click=clk-9&o=1001&amt=39.95&cur=USD&em=${HASH}`,
      headers: { 'user-agent': 'funnelbeacon-postback', accept: '*/*' },
      loggedUrl: 'https://network.example/pb/sale?e=sess_1.sale.1001&a=AFF7&c1=one&c2=two&c3=three&c4=four&c5=five&click=clk-9&o=1001&amt=39.95&cur=USD&em=[hash]',
    });
  });

  it('encodes each value where it lands: &, =, space, +, /, unicode never become URL syntax', () => {
    const awkward = 'a&b=c d+e/f?g#h%é✓';
    const request = postbackRequest(postback({ url: 'https://network.example/pb/{affId}?sub={c1}&x=1' }), { ...values, affId: awkward, c1: awkward });
    const encoded = 'a%26b%3Dc%20d%2Be%2Ff%3Fg%23h%25%C3%A9%E2%9C%93';
    expect(request.url).toBe(`https://network.example/pb/${encoded}?sub=${encoded}&x=1`);
    const url = new URL(request.url);
    expect(url.searchParams.get('sub')).toBe(awkward);
    expect(url.searchParams.get('x')).toBe('1');
    expect(decodeURIComponent(url.pathname.split('/')[2] ?? '')).toBe(awkward);
  });

  it('an unknown value is empty: no affiliate, no consent for the email hash, no amount', () => {
    const request = postbackRequest(postback({ url: EVERY_TOKEN_URL }), { event: 'lead', eventId: 'sess_2.lead' });
    expect(request.url).toBe('https://network.example/pb/lead?e=sess_2.lead&a=&c1=&c2=&c3=&c4=&c5=&click=&o=&amt=&cur=&em=');
    expect(request.loggedUrl).toBe(request.url);
  });

  it('{clickId} is the click id, else c1', () => {
    const url = 'https://network.example/pb?t={clickId}';
    expect(postbackRequest(postback({ url }), values).url).toBe('https://network.example/pb?t=clk-9');
    expect(postbackRequest(postback({ url }), { ...values, clickId: undefined }).url).toBe('https://network.example/pb?t=one');
    expect(postbackRequest(postback({ url }), { event: 'sale', eventId: 'e' }).url).toBe('https://network.example/pb?t=');
  });

  it('{amount} in major units, two decimals and a dot', () => {
    const amount = (amountCents: number) => postbackRequest(postback({ url: 'https://network.example/pb?amt={amount}' }), { ...values, amountCents }).url.split('=')[1];
    expect([0, 5, 3995, 100000, 1250].map(amount)).toEqual(['0.00', '0.05', '39.95', '1000.00', '12.50']);
    expect(majorUnits(-1250)).toBe('-12.50');
    expect(majorUnits(-5)).toBe('-0.05');
  });
});

describe('a POST body', () => {
  it('form: every token by name, form-encoded, with the URL\'s tokens rendered too', () => {
    const request = postbackRequest(postback({ method: 'POST', body: 'form', url: 'https://network.example/pb?aff={affId}' }), { ...values, c2: 'a&b=c d+e' });
    expect(request.url).toBe('https://network.example/pb?aff=AFF7');
    expect(request.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(request.body).toBe(
      `event=sale&eventId=sess_1.sale.1001&affId=AFF7&c1=one&c2=a%26b%3Dc+d%2Be&c3=three&c4=four&c5=five&clickId=clk-9&orderId=1001&amount=39.95&currency=USD&email_sha256=${HASH}`,
    );
    expect(Object.fromEntries(new URLSearchParams(request.body))).toMatchObject({ c2: 'a&b=c d+e', amount: '39.95' });
    expect(request.loggedBody).toContain('&email_sha256=[hash]');
    expect(request.loggedBody).not.toContain(HASH);
  });

  it('json: the same as an object, the amount a number (null when unknown)', () => {
    const request = postbackRequest(postback({ method: 'POST', body: 'json', url: 'https://tracker.example/lead' }), values);
    expect(request.headers['content-type']).toBe('application/json');
    expect(JSON.parse(request.body ?? '')).toEqual({
      event: 'sale',
      eventId: 'sess_1.sale.1001',
      affId: 'AFF7',
      c1: 'one',
      c2: 'two',
      c3: 'three',
      c4: 'four',
      c5: 'five',
      clickId: 'clk-9',
      orderId: '1001',
      amount: 39.95,
      currency: 'USD',
      email_sha256: HASH,
    });
    expect(JSON.parse(request.loggedBody ?? '')).toMatchObject({ email_sha256: '[hash]' });
    const lead = postbackRequest(postback({ method: 'POST', body: 'json', on: 'lead' }), { event: 'lead', eventId: 'sess_2.lead' });
    expect(JSON.parse(lead.body ?? '')).toMatchObject({ amount: null, affId: '', email_sha256: '' });
  });
});

describe('sample values', () => {
  it('a plausible order: the postback\'s first affiliate or AFF7, a $39.95 sale, SAMPLE ids', () => {
    const sale = sampleValues(postback({ affIds: ['AFF9', 'AFF7'] }));
    expect(sale).toMatchObject({ event: 'sale', eventId: 'sample.sale', affId: 'AFF9', c1: 'sub1', orderId: 'SAMPLE123', amountCents: 3995, currency: 'USD', emailSha256: SAMPLE_EMAIL_SHA256 });
    expect(sampleValues(postback())).toMatchObject({ affId: 'AFF7' });
    const lead = sampleValues(postback({ on: 'lead' }));
    expect(lead).toMatchObject({ event: 'lead', eventId: 'sample.lead' });
    expect(lead.amountCents).toBeUndefined();
  });
});
