/**
 * @module sources-view
 * The same figures broken down by affiliate, sub-ids, UTM source and campaign, or device.
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
          <DataTable
            caption={`Figures by ${label} for the chosen period`}
            columns={[label, 'Visitors', 'Leads', 'Orders', 'Revenue', 'Conversion', 'Rev. / visitor', 'Carts', 'Recovered']}
          >
            {data.rows.map((row) => (
              <tr key={row.value}>
                <th scope="row">{row.value}</th>
                <td>{count(row.figures.visitors)}</td>
                <td>{count(row.figures.leads)}</td>
                <td>{count(row.figures.orders)}</td>
                <td>{money(row.figures.orderCents, data.currency)}</td>
                <td>{percent(row.derived.salesConversion)}</td>
                <td>{money(row.derived.revenuePerVisitorCents === null ? null : Math.round(row.derived.revenuePerVisitorCents), data.currency)}</td>
                <td>{count(row.figures.carts)}</td>
                <td>{count(row.figures.recovered)}</td>
              </tr>
            ))}
          </DataTable>
        )}
      </Section>
    </>
  );
}
