import { describe, expect, it } from 'vitest';
import { count, countsBy, plural } from './format.js';

describe('the dashboard counts', () => {
  it('says "1 visitor" and "2 visitors", with the number in the browser\'s locale', () => {
    expect(plural(1, 'visitor', 'visitors')).toBe('1 visitor');
    expect(plural(0, 'visitor', 'visitors')).toBe('0 visitors');
    expect(plural(1200, 'lead', 'leads')).toBe(`${count(1200)} leads`);
  });

  it('takes the plural for a count it does not know', () => {
    expect(plural(null, 'visitor', 'visitors')).toBe('– visitors');
    expect(plural(undefined, 'entry', 'entries')).toBe('– entries');
  });

  it('names each reason with the form its count takes, and an unknown reason by its key', () => {
    const nouns = { bot: ['bot', 'bots'], test_order: ['test order', 'test orders'], no_consent: 'no marketing consent' } as const;
    expect(countsBy({ bot: 1, test_order: 2, no_consent: 1 }, nouns)).toBe('1 bot, 2 test orders, 1 no marketing consent');
    expect(countsBy({ bot: 3, test_order: 1, something_new: 2 }, nouns)).toBe('3 bots, 1 test order, 2 something_new');
    expect(countsBy({}, nouns)).toBe('');
  });
});
