import { describe, expect, it } from 'vitest';
import { noun, plural } from './plural.js';

describe('plural', () => {
  it('takes the singular for exactly one, and the plural for none, many and fractions', () => {
    expect(plural(1, 'visitor', 'visitors')).toBe('1 visitor');
    expect(plural(0, 'visitor', 'visitors')).toBe('0 visitors');
    expect(plural(2, 'entry', 'entries')).toBe('2 entries');
    expect(plural(1.5, 'day', 'days')).toBe('1.5 days');
    expect(plural(-1, 'job', 'jobs')).toBe('-1 jobs');
  });

  it('writes the number with the formatter given', () => {
    expect(plural(1200, 'record', 'records', (n) => n.toLocaleString('en-US'))).toBe('1,200 records');
  });

  it('chooses a verb the same way', () => {
    expect(`${plural(1, 'migration', 'migrations')} ${noun(1, 'is', 'are')} pending`).toBe('1 migration is pending');
    expect(`${plural(3, 'migration', 'migrations')} ${noun(3, 'is', 'are')} pending`).toBe('3 migrations are pending');
  });
});
