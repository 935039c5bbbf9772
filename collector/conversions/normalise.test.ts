/**
 * Normalisation and hashing of the buyer's fields: an ad platform matches only a hash of exactly
 * the string it would have made itself, so each rule is pinned to its normalised string, and the
 * expected hashes are computed here with node:crypto rather than copied from the module.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  e164Phone,
  hashUserFields,
  normaliseCity,
  normaliseCountry,
  normaliseEmail,
  normaliseExternalId,
  normaliseName,
  normalisePhone,
  normaliseState,
  normaliseZip,
  sha256Hex,
} from './normalise.js';

const sha = (text: string) => createHash('sha256').update(Buffer.from(text, 'utf8')).digest('hex');

describe('sha256Hex', () => {
  it('is lowercase hex SHA-256 of the UTF-8 string (known vectors)', () => {
    expect(sha256Hex('')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(sha256Hex('josé')).toBe(sha('josé'));
    expect(sha256Hex('josé')).not.toBe(sha('jose'));
  });
});

describe('email', () => {
  it('is trimmed and lowercased', () => {
    expect(normaliseEmail('  Ada.Lovelace@Example.COM ')).toBe('ada.lovelace@example.com');
  });
  it('is absent when empty or not shaped like an address', () => {
    expect(normaliseEmail('   ')).toBeUndefined();
    expect(normaliseEmail(undefined)).toBeUndefined();
    expect(normaliseEmail('not an email')).toBeUndefined();
  });
});

describe('phone', () => {
  it('gets the country calling code when typed without one', () => {
    expect(normalisePhone('(415) 555-2671', 'US')).toBe('14155552671');
    expect(normalisePhone('0412 345 678', 'AU')).toBe('61412345678');
    expect(normalisePhone('020 7946 0958', 'gb')).toBe('442079460958');
    expect(normalisePhone('06 12 34 56 78', 'FR')).toBe('33612345678');
    expect(normalisePhone('087 123 4567', 'IE')).toBe('353871234567');
    // Italy keeps its leading 0 after the code.
    expect(normalisePhone('06 1234 5678', 'IT')).toBe('390612345678');
  });
  it('keeps a country code typed with + or 00', () => {
    expect(normalisePhone('+44 20 7946 0958', undefined)).toBe('442079460958');
    expect(normalisePhone('+44 20 7946 0958', 'US')).toBe('442079460958');
    expect(normalisePhone('0044 20 7946 0958', 'US')).toBe('442079460958');
  });
  it('reads an 11-digit North American number starting with 1 as already international', () => {
    expect(normalisePhone('1-415-555-2671', 'US')).toBe('14155552671');
  });
  it('hashes the digits as typed when the country is unknown', () => {
    expect(normalisePhone('(415) 555-2671', undefined)).toBe('4155552671');
    expect(normalisePhone('415 555 2671', 'ZZ')).toBe('4155552671');
  });
  it('is absent without digits', () => {
    expect(normalisePhone('n/a', 'US')).toBeUndefined();
    expect(normalisePhone('', 'US')).toBeUndefined();
  });
  it('is E.164 for TikTok only when the country code is known', () => {
    expect(e164Phone('(415) 555-2671', 'US')).toBe('+14155552671');
    expect(e164Phone('+44 20 7946 0958', undefined)).toBe('+442079460958');
    expect(e164Phone('(415) 555-2671', undefined)).toBeUndefined();
  });
});

describe('names, city, state, zip, country, external id', () => {
  it('keeps accented letters as lowercase UTF-8 and drops spaces and punctuation', () => {
    expect(normaliseName('  José ')).toBe('josé');
    expect(normaliseName("O'Brien-Smith")).toBe('obriensmith');
    expect(normaliseName('ÉLODIE')).toBe('élodie');
    expect(normaliseName('Zoë Ann')).toBe('zoëann');
    // A decomposed é (e + combining accent) hashes as the composed one.
    expect(normaliseName('Jose\u0301')).toBe('josé');
    expect(normaliseName('王 小明')).toBe('王小明');
    expect(normaliseName(' . ')).toBeUndefined();
  });
  it('city: lowercase letters only', () => {
    expect(normaliseCity('New York')).toBe('newyork');
    expect(normaliseCity('St. Louis')).toBe('stlouis');
    expect(normaliseCity('Zürich')).toBe('zürich');
  });
  it('state: lowercase without spaces or punctuation, as typed', () => {
    expect(normaliseState(' CA ')).toBe('ca');
    expect(normaliseState('New South Wales')).toBe('newsouthwales');
  });
  it('zip: US first 5 digits; elsewhere lowercase without spaces', () => {
    expect(normaliseZip('94103-1234', 'US')).toBe('94103');
    expect(normaliseZip('94103-1234', undefined)).toBe('94103');
    expect(normaliseZip('SW1A 1AA', 'GB')).toBe('sw1a1aa');
    expect(normaliseZip('  ', 'US')).toBeUndefined();
  });
  it('country: two lowercase letters, else absent', () => {
    expect(normaliseCountry(' US ')).toBe('us');
    expect(normaliseCountry('United States')).toBeUndefined();
  });
  it('external id: trimmed, otherwise as given', () => {
    expect(normaliseExternalId(' Cust-42 ')).toBe('Cust-42');
    expect(normaliseExternalId('  ')).toBeUndefined();
  });
});

describe('hashUserFields', () => {
  it('hashes every normalised field and leaves out the empty ones', () => {
    const hashes = hashUserFields({
      email: ' Ada@Example.com',
      phone: '(415) 555-2671',
      firstName: '  José ',
      lastName: 'Núñez',
      city: 'San Francisco',
      state: 'CA',
      postalCode: '94103-1234',
      country: 'US',
      externalId: 'cust-42',
      ip: '203.0.113.9',
      userAgent: 'Mozilla/5.0',
    });
    expect(hashes).toEqual({
      em: sha('ada@example.com'),
      ph: sha('14155552671'),
      fn: sha('josé'),
      ln: sha('núñez'),
      ct: sha('sanfrancisco'),
      st: sha('ca'),
      zp: sha('94103'),
      country: sha('us'),
      external_id: sha('cust-42'),
    });
  });
  it('gives no key for a field that is empty once normalised', () => {
    expect(hashUserFields({ email: '  ', firstName: '--', phone: '+44 20 7946 0958' })).toEqual({ ph: sha('442079460958') });
  });
});
