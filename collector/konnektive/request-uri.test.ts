/**
 * Import Click's requestUri: a landing URL over Konnektive's 500 characters loses whole query
 * parameters (attribution first to stay), never part of a value.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fitRequestUri } from './request-uri.js';

const MAX = 500;

describe('fitRequestUri', () => {
  it('sends a URL that fits as it is, without its fragment', () => {
    const url = 'https://offer.example/presell?affId=A1&utm_content=120212345678901234&sub=a%20b+c';
    expect(fitRequestUri(url, MAX)).toBe(url);
    expect(fitRequestUri(`${url}#reviews`, MAX)).toBe(url);
  });

  it('drops whole parameters from a long URL, keeping the attribution ones and the order', () => {
    const fbclid = 'IwAR' + 'x'.repeat(480);
    const url = `https://offer.example/presell?fbclid=${fbclid}&affId=A1&c1=sub1&utm_source=fb&utm_content=120212345678901234&gad=1`;
    const fitted = fitRequestUri(url, MAX);
    expect(fitted).toBe('https://offer.example/presell?affId=A1&c1=sub1&utm_source=fb&utm_content=120212345678901234&gad=1');
    // The old rule cut the URL at 500 characters, mid-value.
    expect(url.slice(0, MAX)).not.toContain('affId');
  });

  it('falls back to the path, then the origin, when not even one parameter fits', () => {
    expect(fitRequestUri(`https://offer.example/p?x=${'y'.repeat(600)}`, MAX)).toBe('https://offer.example/p');
    expect(fitRequestUri(`https://offer.example/${'p'.repeat(600)}?affId=A1`, MAX)).toBe('https://offer.example');
    // A path of exactly the limit still fits, without its query.
    const path = `https://offer.example/${'p'.repeat(MAX - 'https://offer.example/'.length)}`;
    expect(fitRequestUri(`${path}?affId=A1`, MAX)).toBe(path);
  });

  it('never sends more than the limit, and every parameter it sends is one of the URL, byte for byte, in order', () => {
    const param = fc
      .tuple(fc.stringMatching(/^[A-Za-z_][\w.-]{0,15}$/), fc.stringMatching(/^[\w.%+~-]{0,200}$/))
      .map(([name, value]) => `${name}=${value}`);
    fc.assert(
      fc.property(fc.array(param, { maxLength: 30 }), fc.stringMatching(/^(\/[\w.-]{1,40}){0,4}$/), (params, path) => {
        const url = `https://offer.example${path}${params.length ? `?${params.join('&')}` : ''}`;
        const fitted = fitRequestUri(url, MAX);
        expect(fitted.length).toBeLessThanOrEqual(MAX);
        if (url.length <= MAX) expect(fitted).toBe(url);
        const [base, query = ''] = fitted.split('?');
        expect(url.startsWith(base!)).toBe(true);
        const sent = query === '' ? [] : query.split('&');
        let from = 0;
        for (const each of sent) {
          const at = params.indexOf(each, from);
          expect(at, each).toBeGreaterThanOrEqual(0);
          from = at + 1;
        }
      }),
      { numRuns: 500 },
    );
  });
});
