/**
 * A buyer's conversion as the job handler would build it, for the mapper and client tests: every
 * field a real Purchase has, with the click's Meta and TikTok ids.
 */
import { expect } from 'vitest';
import type { Conversion } from '../../collector/conversions/conversion.js';

export const BUYER = {
  email: ' Ada.Lovelace@Example.com ',
  phone: '(415) 555-2671',
  firstName: '  José ',
  lastName: 'Núñez',
  city: 'San Francisco',
  state: 'CA',
  postalCode: '94103-1234',
  country: 'US',
  externalId: 'kc-cust-42',
  ip: '203.0.113.9',
  userAgent: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Safari/605.1.15',
} as const;

export function purchaseConversion(nowMs: number, overrides: Partial<Conversion> = {}): Conversion {
  return {
    name: 'Purchase',
    eventId: 'sess_8f2k1.Purchase',
    eventTimeMs: nowMs - 30_000,
    sourceUrl: 'https://shop.example/thank-you?order=1',
    referrer: 'https://shop.example/checkout',
    user: { ...BUYER },
    click: {
      fbc: 'fb.1.1733580000000.IwAR2xyzClickId',
      fbp: 'fb.1.1733580000000.1234567890',
      ttclid: 'E.C.P.ttclid-abc',
      ttp: 'ttp-cookie-123',
    },
    value: 52.45,
    currency: 'usd',
    contents: [
      { id: '41', name: 'Bottle', quantity: 1, price: 39.95 },
      { id: '42', name: 'Spare filter', quantity: 1, price: 12.5 },
    ],
    orderId: 'KC-1001',
    ...overrides,
  };
}

/** Every personal value of {@link BUYER} and the token-like strings a summary must never hold. */
export const PERSONAL_VALUES = ['ada.lovelace', 'Lovelace', 'José', 'josé', 'Núñez', '4155552671', '555-2671', '203.0.113.9', 'San Francisco', 'kc-cust-42', 'ttclid-abc', 'IwAR2xyzClickId'];

/**
 * Fails when anything the delivery log or the dead-letter view would keep holds the token, a
 * SHA-256 hash, an email, an IP or any of the buyer's values.
 */
export function expectNothingPersonal(kept: string, token: string): void {
  expect(kept).not.toContain(token);
  expect(kept).not.toMatch(/[0-9a-f]{64}/);
  expect(kept).not.toMatch(/@/);
  for (const value of PERSONAL_VALUES) expect(kept).not.toContain(value);
}
