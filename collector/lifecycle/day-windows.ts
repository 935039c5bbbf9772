/**
 * @module day-windows
 * The days the lifecycle poll reads. Konnektive filters `dateUpdated` by whole calendar days in
 * the account's time zone and ignores any time given, so a window is a list of days, never an
 * instant: today in that zone and the `lookbackDays` days before it. A change made at 23:59 is
 * read again after midnight (its day is yesterday then), whatever the collector's own zone, and
 * a DST change only moves where midnight falls, never which days are read: days are counted on
 * the calendar, not in hours.
 */

/** Whether `name` is an IANA time zone this runtime knows (config refuses any other). */
export function isTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

/** The calendar day (`YYYY-MM-DD`) it is at `nowMs` in `timeZone`. */
export function dayIn(nowMs: number, timeZone: string): string {
  const parts = new Intl.DateTimeFormat('en-US', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).formatToParts(nowMs);
  const part = (type: string) => parts.find((p) => p.type === type)?.value ?? '';
  return `${part('year')}-${part('month')}-${part('day')}`;
}

/** `day` moved by `delta` calendar days (computed on the calendar at UTC noon: no zone, no DST). */
export function addDays(day: string, delta: number): string {
  const [y, m, d] = day.split('-').map(Number) as [number, number, number];
  return new Date(Date.UTC(y, m - 1, d + delta, 12)).toISOString().slice(0, 10);
}

/** Konnektive's date format, PHP's `m/d/Y`: `2026-03-08` → `03/08/2026`. */
export function konnektiveDate(day: string): string {
  const [y, m, d] = day.split('-');
  return `${m}/${d}/${y}`;
}

export interface DayWindow {
  /** The days read, oldest first (`YYYY-MM-DD`, the account's calendar). */
  days: string[];
  /** The same, as Konnektive's `startDate` / `endDate`. */
  startDate: string;
  endDate: string;
}

/** The window read at `nowMs`: today in the account's zone and the `lookbackDays` days before. */
export function lifecycleWindow(nowMs: number, timeZone: string, lookbackDays: number): DayWindow {
  const today = dayIn(nowMs, timeZone);
  const days: string[] = [];
  for (let back = Math.max(0, Math.floor(lookbackDays)); back >= 0; back--) days.push(addDays(today, -back));
  return { days, startDate: konnektiveDate(days[0]!), endDate: konnektiveDate(today) };
}

/**
 * The day (`YYYY-MM-DD`) of a Konnektive timestamp: a wall-clock string in the account's zone
 * with no offset (`2026-12-01 23:59:59`), or `m/d/Y` with a time. `undefined` when unreadable.
 */
export function dayOfKonnektiveTime(text: string): string | undefined {
  const iso = /^(\d{4})-(\d{2})-(\d{2})/.exec(text);
  if (iso) return `${iso[1]}-${iso[2]}-${iso[3]}`;
  const us = /^(\d{1,2})\/(\d{1,2})\/(\d{4})/.exec(text);
  if (us) return `${us[3]}-${us[1]!.padStart(2, '0')}-${us[2]!.padStart(2, '0')}`;
  return undefined;
}
