/**
 * The TikTok Events 2.0 body made from a conversion: TikTok's event names, the email and external
 * id hashed as for Meta, the phone hashed in E.164, the click's ttclid and _ttp unhashed.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { BUYER, purchaseConversion } from '../../test/support/conversions.js';
import { tiktokEvent, tiktokEventTooOld, tiktokRequestBody } from './tiktok-mapper.js';

const sha = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');
const NOW = Date.UTC(2026, 11, 7, 16, 0, 0);

describe('tiktokEvent', () => {
  it('maps a Purchase to CompletePayment with hashed user fields and the order', () => {
    expect(tiktokEvent(purchaseConversion(NOW))).toEqual({
      event: 'CompletePayment',
      event_time: Math.floor((NOW - 30_000) / 1000),
      event_id: 'sess_8f2k1.Purchase',
      user: {
        email: sha('ada.lovelace@example.com'),
        phone: sha('+14155552671'),
        external_id: sha('kc-cust-42'),
        ip: '203.0.113.9',
        user_agent: BUYER.userAgent,
        ttclid: 'E.C.P.ttclid-abc',
        ttp: 'ttp-cookie-123',
      },
      page: { url: 'https://shop.example/thank-you?order=1', referrer: 'https://shop.example/checkout' },
      properties: {
        currency: 'USD',
        value: 52.45,
        content_type: 'product',
        contents: [
          { content_id: '41', content_name: 'Bottle', quantity: 1, price: 39.95 },
          { content_id: '42', content_name: 'Spare filter', quantity: 1, price: 12.5 },
        ],
        order_id: 'KC-1001',
      },
    });
  });

  it('names a Lead SubmitForm and a checkout InitiateCheckout', () => {
    expect(tiktokEvent(purchaseConversion(NOW, { name: 'Lead' })).event).toBe('SubmitForm');
    expect(tiktokEvent(purchaseConversion(NOW, { name: 'InitiateCheckout' })).event).toBe('InitiateCheckout');
  });

  it('leaves the phone out when its country code is unknown', () => {
    const event = tiktokEvent(purchaseConversion(NOW, { user: { phone: '415 555 2671', userAgent: 'UA' }, click: {} }));
    expect(event.user).toEqual({ user_agent: 'UA' });
  });

  it('wraps events for the pixel, with the test event code only when set', () => {
    const event = tiktokEvent(purchaseConversion(NOW));
    expect(tiktokRequestBody('CPIXEL', [event])).toEqual({ event_source: 'web', event_source_id: 'CPIXEL', data: [event] });
    expect(tiktokRequestBody('CPIXEL', [event], 'TEST1').test_event_code).toBe('TEST1');
  });

  it('is never sent after 7 days or more than a minute ahead', () => {
    expect(tiktokEventTooOld({ eventTimeMs: NOW - 8 * 24 * 60 * 60_000 }, NOW)).toBe(true);
    expect(tiktokEventTooOld({ eventTimeMs: NOW + 120_000 }, NOW)).toBe(true);
    expect(tiktokEventTooOld({ eventTimeMs: NOW - 60_000 }, NOW)).toBe(false);
  });
});
