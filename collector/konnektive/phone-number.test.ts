import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parsePhoneNumberFromString } from 'libphonenumber-js/max';
import { konnektivePhoneNumber } from './phone-number.js';
import { internationalPhone } from '../../test/support/value-arbitraries.js';

describe('the phone number Konnektive receives', () => {
  it('is a valid international number in E.164, the same number as typed', () => {
    expect(konnektivePhoneNumber('+49 1512 3456787')).toBe('+4915123456787');
    fc.assert(
      fc.property(internationalPhone, (typed) => {
        const sent = konnektivePhoneNumber(typed);
        expect(sent).toMatch(/^\+\d{6,15}$/);
        expect(sent).toBe(parsePhoneNumberFromString(typed)!.number);
      }),
      { numRuns: 500 },
    );
  });

  it('is what was typed when it would need a guess: national form, an extension, not a valid number', () => {
    for (const typed of ['(555) 010-1234', '0151 23456787', '+49 1512 3456787 ext. 12', '+1 555', 'call me', '']) {
      expect(konnektivePhoneNumber(typed), typed).toBe(typed);
    }
  });
});
