/**
 * The Meta server event made from a conversion: hashed fields as Meta matches them, click cookies
 * and device data unhashed, the order's contents, and the events that must never be sent.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { purchaseConversion } from '../../test/support/conversions.js';
import { metaServerEvent, metaEventProblem, metaEventTooOld, metaRequestBody } from './meta-mapper.js';

const sha = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');
const NOW = Date.UTC(2026, 11, 7, 16, 0, 0);

describe('metaServerEvent', () => {
  it('maps a Purchase to a website event with hashed user data and the order', () => {
    const event = metaServerEvent(purchaseConversion(NOW));
    expect(event).toEqual({
      event_name: 'Purchase',
      event_time: Math.floor((NOW - 30_000) / 1000),
      event_id: 'sess_8f2k1.Purchase',
      event_source_url: 'https://shop.example/thank-you?order=1',
      referrer_url: 'https://shop.example/checkout',
      action_source: 'website',
      user_data: {
        em: [sha('ada.lovelace@example.com')],
        ph: [sha('14155552671')],
        fn: [sha('josé')],
        ln: [sha('núñez')],
        ct: [sha('sanfrancisco')],
        st: [sha('ca')],
        zp: [sha('94103')],
        country: [sha('us')],
        external_id: [sha('kc-cust-42')],
        client_ip_address: '203.0.113.9',
        client_user_agent: expect.stringContaining('Mozilla/5.0') as unknown as string,
        fbc: 'fb.1.1733580000000.IwAR2xyzClickId',
        fbp: 'fb.1.1733580000000.1234567890',
      },
      custom_data: {
        value: 52.45,
        currency: 'USD',
        contents: [
          { id: '41', quantity: 1, item_price: 39.95 },
          { id: '42', quantity: 1, item_price: 12.5 },
        ],
        content_type: 'product',
        order_id: 'KC-1001',
        num_items: 2,
      },
    });
  });

  it('maps a Lead without custom data and leaves out what the buyer did not give', () => {
    const event = metaServerEvent(
      purchaseConversion(NOW, { name: 'Lead', eventId: 's.Lead', value: undefined, currency: undefined, contents: undefined, orderId: undefined, referrer: undefined, user: { email: 'a@b.co', userAgent: 'UA' }, click: {} }),
    );
    expect(event.event_name).toBe('Lead');
    expect(event.custom_data).toBeUndefined();
    expect(event.referrer_url).toBeUndefined();
    expect(event.user_data).toEqual({ em: [sha('a@b.co')], client_user_agent: 'UA' });
  });

  it('keeps the click id exactly as the cookie held it (case-sensitive)', () => {
    const event = metaServerEvent(purchaseConversion(NOW, { click: { fbc: 'fb.1.1733580000000.AbCdEf' } }));
    expect(event.user_data.fbc).toBe('fb.1.1733580000000.AbCdEf');
  });

  it('wraps events in data[] with the test event code only when set', () => {
    const event = metaServerEvent(purchaseConversion(NOW));
    expect(metaRequestBody([event])).toEqual({ data: [event] });
    expect(metaRequestBody([event], 'TEST123')).toEqual({ data: [event], test_event_code: 'TEST123' });
  });
});

describe('events never sent', () => {
  it('too old after 7 days, or more than a minute ahead', () => {
    const day = 24 * 60 * 60_000;
    expect(metaEventTooOld({ eventTimeMs: NOW - 7 * day + 1000 }, NOW)).toBe(false);
    expect(metaEventTooOld({ eventTimeMs: NOW - 7 * day - 1000 }, NOW)).toBe(true);
    expect(metaEventTooOld({ eventTimeMs: NOW + 30_000 }, NOW)).toBe(false);
    expect(metaEventTooOld({ eventTimeMs: NOW + 61_000 }, NOW)).toBe(true);
  });
  it('a website event needs the page and the user agent', () => {
    expect(metaEventProblem(purchaseConversion(NOW), NOW)).toBeUndefined();
    expect(metaEventProblem(purchaseConversion(NOW, { sourceUrl: undefined }), NOW)).toMatch(/event_source_url/);
    const noAgent = purchaseConversion(NOW);
    delete (noAgent.user as { userAgent?: string }).userAgent;
    expect(metaEventProblem(noAgent, NOW)).toMatch(/client_user_agent/);
    expect(metaEventProblem(purchaseConversion(NOW, { eventTimeMs: NOW - 8 * 24 * 60 * 60_000 }), NOW)).toMatch(/7 days/);
  });
});
