/**
 * @module range
 * The period picker: today, 7 days, 30 days or custom dates, kept in the URL.
 */
import type { Route } from './hooks.js';
import { go } from './hooks.js';

export const RANGES = [
  ['today', 'Today'],
  ['7d', '7 days'],
  ['30d', '30 days'],
  ['custom', 'Custom'],
] as const;

const DAY = 86_400_000;

function startOfDay(ms: number): number {
  const d = new Date(ms);
  d.setHours(0, 0, 0, 0);
  return d.getTime();
}

function dayInput(ms: number): string {
  const d = new Date(ms);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
}

/** [from, to) for the route's range, in the browser's time zone; `to` rounded up to the minute. */
export function rangeOf(route: Route, now = Date.now()): { key: string; from: number; to: number } {
  const key = route.params.get('range') ?? '7d';
  const to = Math.ceil(now / 60_000) * 60_000;
  if (key === 'today') return { key, from: startOfDay(now), to };
  if (key === '30d') return { key, from: to - 30 * DAY, to };
  if (key === 'custom') {
    const from = Date.parse(`${route.params.get('from') ?? ''}T00:00:00`);
    const until = Date.parse(`${route.params.get('to') ?? ''}T00:00:00`);
    if (Number.isFinite(from) && Number.isFinite(until) && until >= from) return { key, from, to: until + DAY };
    return { key, from: startOfDay(now) - 6 * DAY, to: startOfDay(now) + DAY };
  }
  return { key: '7d', from: to - 7 * DAY, to };
}

export function RangePicker({ route, view }: { route: Route; view: string }) {
  const current = rangeOf(route);
  const params = Object.fromEntries(route.params);
  return (
    <form class="range" aria-label="Period" onSubmit={(e) => e.preventDefault()}>
      <fieldset>
        <legend class="sr-only">Period</legend>
        {RANGES.map(([key, label]) => (
          <label key={key} class={current.key === key ? 'chip active' : 'chip'}>
            <input
              type="radio"
              name="range"
              value={key}
              checked={current.key === key}
              onChange={() =>
                go(view, key === 'custom' ? { ...params, range: key, from: dayInput(current.from), to: dayInput(current.to - 1) } : { ...params, range: key, from: undefined, to: undefined })
              }
            />
            {label}
          </label>
        ))}
      </fieldset>
      {current.key === 'custom' ? (
        <span class="custom-dates">
          <label>
            From <input type="date" value={dayInput(current.from)} onChange={(e) => go(view, { ...params, from: (e.target as HTMLInputElement).value })} />
          </label>
          <label>
            To <input type="date" value={dayInput(current.to - 1)} onChange={(e) => go(view, { ...params, to: (e.target as HTMLInputElement).value })} />
          </label>
        </span>
      ) : null}
    </form>
  );
}
