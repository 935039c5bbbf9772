/**
 * @module sources-view
 * The same figures as the overview broken down by affiliate, sub-ids, UTM source and campaign, or
 * device: sales, then carts and recovery. The table scrolls sideways inside its box at phone
 * width, with the source's name kept in view.
 */
import type { SourcesData } from '../api-schema.js';
import { DataTable, MixedCurrencies, Problem, Section } from './components.js';
import { count, money, percent } from './format.js';
import { go, usePoll, type Route } from './hooks.js';
import { RangePicker, rangeOf } from './range.js';

const DIMENSIONS = [
  ['affId', 'Affiliate (affId)'],
  ['c1', 'Sub-id c1'],
  ['c2', 'Sub-id c2'],
  ['c3', 'Sub-id c3'],
  ['utm_source', 'UTM source'],
  ['utm_campaign', 'UTM campaign'],
  ['device', 'Device'],
] as const;

/** The overview's figures, in its order: sales, then carts and recovery. */
const COLUMNS = [
  'Visitors',
  'Leads',
  'Conversion',
  'Orders',
  'Revenue',
  'Avg. order',
  'Rev. / visitor',
  'Upsell take',
  'Carts',
  'Recoverable',
  'Recovered',
  'Recovered rev.',
  'Recovery rate',
  'Lost carts',
] as const;

export function SourcesView({ route }: { route: Route }) {
  const { from, to } = rangeOf(route);
  const dim = DIMENSIONS.some(([key]) => key === route.params.get('dim')) ? route.params.get('dim')! : 'affId';
  const { data, error } = usePoll<SourcesData>(`/sources?dim=${dim}&from=${from}&to=${to}`);
  const label = DIMENSIONS.find(([key]) => key === dim)![1];
  return (
    <>
      <div class="toolbar">
        <h1>Sources</h1>
        <RangePicker route={route} view="sources" />
      </div>
      <label class="select">
        Break down by{' '}
        <select value={dim} onChange={(e) => go('sources', { ...Object.fromEntries(route.params), dim: (e.target as HTMLSelectElement).value })}>
          {DIMENSIONS.map(([key, text]) => (
            <option key={key} value={key}>
              {text}
            </option>
          ))}
        </select>
      </label>
      <Problem error={error} />
      {data ? <MixedCurrencies currencies={data.currencies} /> : null}
      <Section title={`By ${label}`}>
        {!data ? (
          <p class="loading">Loading…</p>
        ) : data.rows.length === 0 ? (
          <p class="empty">No visitors in this period.</p>
        ) : (
          <>
            <p class="hint scroll-hint" aria-hidden="true">Swipe the table sideways for sales, carts and recovery.</p>
            <DataTable caption={`Figures by ${label} for the chosen period`} columns={[label, ...COLUMNS]} class="sources">
              {data.rows.map((row) => {
                const m = (cents: number | null) => money(cents === null ? null : Math.round(cents), data.currency);
                return (
                  <tr key={row.value}>
                    <th scope="row">{row.value}</th>
                    <td>{count(row.figures.visitors)}</td>
                    <td>{count(row.figures.leads)}</td>
                    <td>{percent(row.derived.salesConversion)}</td>
                    <td>{count(row.figures.orders)}</td>
                    <td>{m(row.figures.orderCents)}</td>
                    <td>{m(row.derived.averageOrderCents)}</td>
                    <td>{m(row.derived.revenuePerVisitorCents)}</td>
                    <td>{percent(row.derived.upsellTakeRate)}</td>
                    <td>{count(row.figures.carts)}</td>
                    <td>{m(row.figures.cartCents)}</td>
                    <td>{count(row.figures.recovered)}</td>
                    <td>{m(row.figures.recoveredCents)}</td>
                    <td>{percent(row.derived.recoveryRate)}</td>
                    <td>{count(row.figures.lost)}</td>
                  </tr>
                );
              })}
            </DataTable>
          </>
        )}
      </Section>
    </>
  );
}
