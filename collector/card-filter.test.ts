import { describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { passesLuhn, scrubCardNumbers, scrubEvent } from './card-filter.js';
import type { FunnelEvent } from './wire-schema.js';

describe('card filter', () => {
  it('knows Luhn-valid numbers', () => {
    expect(passesLuhn('4111111111111111')).toBe(true);
    expect(passesLuhn('4111111111111112')).toBe(false);
  });

  it('drops a whole value that is a card number, with spaces or dashes', () => {
    for (const value of ['4111111111111111', '4111 1111 1111 1111', '4111-1111-1111-1111', '378282246310005']) {
      expect(scrubCardNumbers(value)).toEqual({ value: undefined, found: 1 });
    }
  });

  it('cuts a card number out of a longer value and keeps the rest', () => {
    expect(scrubCardNumbers('notes 4111 1111 1111 1111 thanks')).toEqual({ value: 'notes  thanks', found: 1 });
  });

  it('finds a card number followed or preceded by other digit groups (expiry, CVV)', () => {
    for (const value of ['4111111111111111 12/25', '4111 1111 1111 1111 123', '4111-1111-1111-1111 12 25', '12 25 4111 1111 1111 1111']) {
      const result = scrubCardNumbers(value);
      expect(result.found, value).toBe(1);
      expect(result.value ?? '', value).not.toMatch(/4111/);
    }
  });

  it('leaves numbers that are not cards alone', () => {
    for (const value of ['4111111111111112', '+1 555 010 9999', '123456789012', '2025-01-01']) {
      expect(scrubCardNumbers(value)).toEqual({ value, found: 0 });
    }
  });

  it('does not take the digit groups of a UUID for a card number', () => {
    // This UUID holds "8-4081-9561-383446", a Luhn-valid run of 15 digits with dashes.
    const id = '48adc716-1cb8-4081-9561-383446c3b624';
    expect(scrubCardNumbers(`https://x.example/order/${id}`).found).toBe(0);
  });

  it('scrubs an event: deletes lead fields, empties URLs, leaves ids alone', () => {
    const lead = { id: randomUUID(), type: 'lead', fields: { firstName: 'Ann', address2: '4111111111111111' } } as FunnelEvent;
    expect(scrubEvent(lead)).toBe(1);
    expect(lead).toMatchObject({ fields: { firstName: 'Ann' } });
    const page = { id: randomUUID(), type: 'page', page: 'checkout', url: 'https://x.example/?cc=5500-0055-5555-5559', referrer: '5500005555555559' } as FunnelEvent;
    expect(scrubEvent(page)).toBe(2);
    expect(page).toMatchObject({ url: 'https://x.example/?cc=', referrer: '' });
  });
});
