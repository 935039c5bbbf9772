/**
 * @module accuracy-view
 * The Delivery view's accuracy section: for each destination, what should have gone over the
 * period (the last 24 hours by default) and what became of it (sent, skipped, failed, missing),
 * its accuracy beside the period before, and on demand the items that failed or are missing, each
 * linked to its session. The figures come from the source of truth, not from the outbox
 * (collector/accuracy/delivery-accuracy.ts), so a cause that queued nothing shows as missing.
 */
import { useEffect, useMemo, useState } from 'preact/hooks';
import type { AccuracyData, AccuracyItemsData } from '../api-schema.js';
import { api, isApiError, type ApiError } from './api.js';
import { DataTable, Problem, Section } from './components.js';
import { count, countsBy, dateTime, percent, type Noun } from './format.js';
import { usePoll } from './hooks.js';

const SPANS = [
  ['2h', 'Last 2 hours', 2 * 3_600_000],
  ['24h', 'Last 24 hours', 24 * 3_600_000],
  ['7d', 'Last 7 days', 7 * 24 * 3_600_000],
] as const;

const SKIP_REASONS: Record<string, Noun> = {
  no_consent: 'no marketing consent',
  bot: ['bot', 'bots'],
  test_order: ['test order', 'test orders'],
  too_old: 'too old',
  session_gone: ['session purged', 'sessions purged'],
  no_name: 'no name',
  order_reported: ['order reported first', 'orders reported first'],
};

type Row = AccuracyData['destinations'][number];

export function AccuracySection() {
  const [span, setSpan] = useState<(typeof SPANS)[number][0]>('24h');
  // The period is fixed when chosen (a poll reads the same period again), the server's default for 24 hours.
  const path = useMemo(() => {
    if (span === '24h') return '/delivery/accuracy';
    const to = Date.now();
    return `/delivery/accuracy?from=${to - SPANS.find(([key]) => key === span)![2]}&to=${to}`;
  }, [span]);
  const { data, error } = usePoll<AccuracyData>(path, 60_000);
  const [open, setOpen] = useState<string>();
  return (
    <Section
      title="Delivery accuracy"
      actions={
        <label>
          <span class="sr-only">Period</span>
          <select value={span} onChange={(e) => setSpan((e.target as HTMLSelectElement).value as typeof span)}>
            {SPANS.map(([key, label]) => (
              <option key={key} value={key}>
                {label}
              </option>
            ))}
          </select>
        </label>
      }
    >
      <p class="hint">
        What should have gone to each destination (from sessions, leads, Konnektive's verified orders and the events routed to each postback), and what
        became of it. Accuracy is (sent + skipped) ÷ expected, leaving out what is still waiting for its first try; the period before is beside it.
      </p>
      <Problem error={error} />
      {!data ? (
        <p class="loading">Loading…</p>
      ) : (
        <DataTable caption="Delivery accuracy per destination" columns={['Destination', 'Expected', 'Sent', 'Skipped', 'Failed', 'Missing', 'Accuracy', 'Before', { srOnly: 'Items' }]} class="compact">
          {data.destinations.flatMap((row) => [
            <AccuracyRow key={row.destination} row={row} threshold={data.threshold} open={open === row.destination} onToggle={() => setOpen(open === row.destination ? undefined : row.destination)} />,
            open === row.destination ? (
              <tr key={`${row.destination}-items`}>
                <td colSpan={9}>
                  <AccuracyItems destination={row.destination} from={data.from} to={data.to} />
                </td>
              </tr>
            ) : null,
          ])}
        </DataTable>
      )}
    </Section>
  );
}

function AccuracyRow({ row, threshold, open, onToggle }: { row: Row; threshold: number; open: boolean; onToggle: () => void }) {
  const { current, previous } = row;
  const skippedBy = countsBy(current.skippedBy, SKIP_REASONS);
  const short = current.failed + current.missing;
  return (
    <tr>
      <th scope="row">{row.label}</th>
      <td>{count(current.expected)}</td>
      <td>{count(current.sent)}</td>
      <td title={skippedBy || undefined}>{count(current.skipped)}</td>
      <td>{count(current.failed)}</td>
      <td>{count(current.missing)}</td>
      <td>
        <strong class={current.accuracy < threshold ? 'problem-text' : undefined}>{percent(current.accuracy)}</strong>
        {current.waiting > 0 ? <span class="hint"> ({count(current.waiting)} waiting)</span> : null}
      </td>
      <td>{previous.expected === 0 ? '–' : percent(previous.accuracy)}</td>
      <td>
        {short > 0 ? (
          <button type="button" aria-expanded={open} onClick={onToggle} aria-label={`${open ? 'Hide' : 'Show'} the items of ${row.label} that failed or are missing`}>
            {open ? 'Hide' : 'Show'}
          </button>
        ) : null}
      </td>
    </tr>
  );
}

/** One destination's items that failed or are missing over the period, newest first, each linked to its session. */
function AccuracyItems({ destination, from, to }: { destination: string; from: number; to: number }) {
  const [data, setData] = useState<AccuracyItemsData>();
  const [problem, setProblem] = useState<ApiError>();
  const path = `/delivery/accuracy/${encodeURIComponent(destination)}/items?from=${from}&to=${to}`;
  useEffect(() => {
    const controller = new AbortController();
    api.get<AccuracyItemsData>(path, controller.signal).then(setData, (e: unknown) => {
      if (isApiError(e)) setProblem(e);
    });
    return () => controller.abort();
  }, [path]);
  if (problem) return <Problem error={problem} />;
  if (!data) return <p class="loading">Loading…</p>;
  if (data.items.length === 0) return <p class="empty">None: every item was sent, skipped or is waiting.</p>;
  return (
    <>
      <ul class="plain">
        {data.items.map((item) => (
          <li key={`${item.sessionId ?? ''} ${item.item}`}>
            {item.sessionId ? <a href={`#/sessions/${encodeURIComponent(item.sessionId)}`}>{item.sessionId}</a> : <span>{item.item}</span>}
            {item.sessionId ? ` · ${item.item}` : ''} · {dateTime(item.at)} ·{' '}
            <strong>{item.status === 'missing' ? 'missing: nothing was queued' : item.job === 'dead' ? 'failed (dead letter, replayable below)' : 'failing (still retried)'}</strong>
            {item.error ? <span class="wrap"> · {item.error}</span> : null}
          </li>
        ))}
      </ul>
      {data.items.length >= data.limit ? <p class="hint">The newest {count(data.limit)} shown.</p> : null}
    </>
  );
}
