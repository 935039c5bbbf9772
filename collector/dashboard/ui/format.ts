/**
 * @module format
 * Numbers, money, rates and times as the dashboard prints them (the browser's locale).
 */

export function money(cents: number | null | undefined, currency: string): string {
  if (cents === null || cents === undefined) return '–';
  return new Intl.NumberFormat(undefined, { style: 'currency', currency, maximumFractionDigits: cents % 100 === 0 && Math.abs(cents) >= 100_000 ? 0 : 2 }).format(cents / 100);
}

export function count(n: number | null | undefined): string {
  return n === null || n === undefined ? '–' : new Intl.NumberFormat().format(n);
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
