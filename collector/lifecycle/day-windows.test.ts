import { describe, expect, it } from 'vitest';
import { addDays, dayIn, dayOfKonnektiveTime, isTimeZone, konnektiveDate, lifecycleWindow } from './day-windows.js';

const NY = 'America/New_York';

describe('lifecycle day windows', () => {
  it('counts days in the account zone, not UTC: 03:30 UTC is still the evening before in New York', () => {
    const at = Date.UTC(2026, 11, 8, 3, 30); // 2026-12-07 22:30 in New York
    expect(dayIn(at, 'UTC')).toBe('2026-12-08');
    expect(dayIn(at, NY)).toBe('2026-12-07');
    expect(lifecycleWindow(at, NY, 2)).toEqual({
      days: ['2026-12-05', '2026-12-06', '2026-12-07'],
      startDate: '12/05/2026',
      endDate: '12/07/2026',
    });
  });

  it('a change at 23:59 in the account zone is still read by the first poll after its midnight', () => {
    const changedAt = Date.UTC(2026, 11, 8, 4, 59); // 23:59 New York
    const pollAfterMidnight = Date.UTC(2026, 11, 8, 5, 1); // 00:01 New York, next day
    const changedDay = dayIn(changedAt, NY);
    expect(changedDay).toBe('2026-12-07');
    const window = lifecycleWindow(pollAfterMidnight, NY, 2);
    expect(window.endDate).toBe('12/08/2026');
    expect(window.days).toContain(changedDay);
    // Even with no look-back beyond yesterday the day is kept.
    expect(lifecycleWindow(pollAfterMidnight, NY, 1).days).toEqual(['2026-12-07', '2026-12-08']);
  });

  it('DST changes move midnight, never the days read', () => {
    // 2026-03-08: New York springs forward (a 23-hour day); 2026-11-01 falls back (25 hours).
    expect(lifecycleWindow(Date.UTC(2026, 2, 9, 4, 30), NY, 1).days).toEqual(['2026-03-08', '2026-03-09']);
    expect(dayIn(Date.UTC(2026, 2, 9, 3, 59), NY)).toBe('2026-03-08'); // 23:59 EDT
    expect(dayIn(Date.UTC(2026, 10, 2, 4, 59), NY)).toBe('2026-11-01'); // 23:59 EST
    expect(dayIn(Date.UTC(2026, 10, 2, 5, 0), NY)).toBe('2026-11-02');
    expect(addDays('2026-03-09', -1)).toBe('2026-03-08');
    expect(addDays('2026-01-01', -1)).toBe('2025-12-31');
  });

  it('formats as m/d/Y and reads both of Konnektive timestamp shapes', () => {
    expect(konnektiveDate('2026-03-08')).toBe('03/08/2026');
    expect(dayOfKonnektiveTime('2026-12-01 23:59:59')).toBe('2026-12-01');
    expect(dayOfKonnektiveTime('3/8/2026 10:00')).toBe('2026-03-08');
    expect(dayOfKonnektiveTime('yesterday')).toBeUndefined();
  });

  it('knows IANA zones and refuses others', () => {
    expect(isTimeZone(NY)).toBe(true);
    expect(isTimeZone('Europe/Berlin')).toBe(true);
    expect(isTimeZone('Mars/Olympus')).toBe(false);
  });
});
