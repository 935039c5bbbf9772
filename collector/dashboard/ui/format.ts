/**
 * @module format
 * Numbers, money, rates and times as the dashboard prints them (the browser's locale).
 */
import { plural as counted } from '../../plural.js';

export function money(cents: number | null | undefined, currency: string): string {
  if (cents === null || cents === undefined) return '–';
  return new Intl.NumberFormat(undefined, { style: 'currency', currency, maximumFractionDigits: cents % 100 === 0 && Math.abs(cents) >= 100_000 ? 0 : 2 }).format(cents / 100);
}

export function count(n: number | null | undefined): string {
  return n === null || n === undefined ? '–' : new Intl.NumberFormat().format(n);
}

/** A count and its noun, in the browser's locale: "1 visitor", "1,200 visitors" ("– visitors" when unknown). */
export function plural(n: number | null | undefined, one: string, many: string): string {
  return n === null || n === undefined ? `– ${many}` : counted(n, one, many, count);
}

/** A noun that changes with its count, as [singular, plural]; a plain string reads the same for any count ("no marketing consent"). */
export type Noun = string | readonly [one: string, many: string];

/** A count per reason, each with its noun: "3 bots, 1 test order" (a reason without a noun is named by its key). */
export function countsBy(counts: Record<string, number>, nouns: Record<string, Noun>): string {
  return Object.entries(counts)
    .map(([key, n]) => {
      const word = nouns[key] ?? key;
      return typeof word === 'string' ? plural(n, word, word) : plural(n, word[0], word[1]);
    })
    .join(', ');
}

export function percent(rate: number | null | undefined): string {
  if (rate === null || rate === undefined) return '–';
  return new Intl.NumberFormat(undefined, { style: 'percent', maximumFractionDigits: 1 }).format(rate);
}

export function dateTime(ms: number | null | undefined): string {
  if (!ms) return '–';
  return new Date(ms).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
}

export function time(ms: number): string {
  return new Date(ms).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

export function ago(ms: number | null | undefined, now = Date.now()): string {
  if (!ms) return 'never';
  const seconds = Math.max(0, Math.round((now - ms) / 1000));
  if (seconds < 60) return `${seconds}s ago`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 86_400) return `${Math.round(seconds / 3600)} h ago`;
  return `${Math.round(seconds / 86_400)} d ago`;
}

/** The change from `before` to `now`, as "+12%" (or "new", or "–" when nothing to compare). */
export function change(now: number | null, before: number | null): { text: string; direction: 'up' | 'down' | 'flat' } {
  if (now === null || before === null) return { text: '–', direction: 'flat' };
  if (before === 0) return now === 0 ? { text: '±0%', direction: 'flat' } : { text: 'new', direction: 'up' };
  const delta = (now - before) / Math.abs(before);
  if (Math.abs(delta) < 0.0005) return { text: '±0%', direction: 'flat' };
  return { text: `${delta > 0 ? '+' : ''}${percent(delta)}`, direction: delta > 0 ? 'up' : 'down' };
}

export const STEP_LABELS: Record<string, string> = {
  presell: 'Presell',
  lead: 'Lead',
  checkout: 'Checkout',
  upsell1: 'Upsell 1',
  upsell2: 'Upsell 2',
  upsell3: 'Upsell 3',
  upsell4: 'Upsell 4',
  thankyou: 'Thank-you',
};
