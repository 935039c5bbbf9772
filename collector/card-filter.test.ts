import { describe, expect, it } from 'vitest';
import { passesLuhn, scrubCardNumbers, scrubObject } from './card-filter.js';

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

  it('leaves numbers that are not cards alone', () => {
    for (const value of ['4111111111111112', '+1 555 010 9999', '123456789012', '2025-01-01']) {
      expect(scrubCardNumbers(value)).toEqual({ value, found: 0 });
    }
  });

  it('scrubs nested objects: deletes lead fields, empties required strings', () => {
    const fields: Record<string, unknown> = { firstName: 'Ann', address2: '4111111111111111' };
    expect(scrubObject(fields, true)).toBe(1);
    expect(fields).toEqual({ firstName: 'Ann' });
    const event: Record<string, unknown> = { url: '5500005555555559', nested: { note: 'x 5500-0055-5555-5559' } };
    expect(scrubObject(event)).toBe(2);
    expect(event).toEqual({ url: '', nested: { note: 'x ' } });
  });
});
