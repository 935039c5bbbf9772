/**
 * @module sessions-view
 * Recent sessions, searchable by email, order id, affiliate or session id. Email and phone are
 * masked here; the session's own page shows them.
 */
import { useState } from 'preact/hooks';
import type { SessionListData } from '../api-schema.js';
import { Badge, DataTable, Problem, Section } from './components.js';
import { ago, money, STEP_LABELS } from './format.js';
import { go, usePoll, type Route } from './hooks.js';

export function SessionsView({ route }: { route: Route }) {
  const q = route.params.get('q') ?? '';
  const [text, setText] = useState(q);
  const { data, error } = usePoll<SessionListData>(`/sessions?limit=50${q ? `&q=${encodeURIComponent(q)}` : ''}`);
  return (
    <>
      <div class="toolbar">
        <h1>Sessions</h1>
        <form
          class="search"
          role="search"
          onSubmit={(e) => {
            e.preventDefault();
            go('sessions', { q: text.trim() || undefined });
          }}
        >
          <label for="session-search" class="sr-only">
            Search sessions by email, order id, affiliate or session id
          </label>
          <input id="session-search" type="search" placeholder="email, order id, affId or session id" value={text} maxLength={255} onInput={(e) => setText((e.target as HTMLInputElement).value)} />
          <button type="submit">Search</button>
        </form>
      </div>
      <Problem error={error} />
      <Section title={q ? `Sessions matching “${q}”` : 'Latest sessions'}>
        {!data ? (
          <p class="loading">Loading…</p>
        ) : data.sessions.length === 0 ? (
          <p class="empty">{q ? 'No session matches.' : 'No sessions yet: open the demo funnel at /demo/.'}</p>
        ) : (
          <DataTable
            caption="Sessions, newest first; select one to see its timeline"
            columns={['Started', 'State', 'Last step', 'Email', 'Phone', 'Cart', 'Order', 'Affiliate', 'Device']}
            class="sessions"
          >
            {data.sessions.map((s) => (
              <tr key={s.id}>
                <td>
                  <a href={`#/sessions/${encodeURIComponent(s.id)}`} aria-label={`Session started ${ago(s.createdAt)}, ${s.state}`}>
                    {ago(s.createdAt)}
                  </a>
                </td>
                <td>
                  <Badge value={s.state} />
                </td>
                <td>{s.lastPage ? STEP_LABELS[s.lastPage] ?? s.lastPage : '–'}</td>
                <td>{s.email ?? '–'}</td>
                <td>{s.phone ?? '–'}</td>
                <td>{s.cartCents === null ? '–' : money(s.cartCents, s.currency ?? 'USD')}</td>
                <td>{s.orderId ?? '–'}</td>
                <td>{s.affId ?? '–'}</td>
                <td>{s.device}</td>
              </tr>
            ))}
          </DataTable>
        )}
      </Section>
    </>
  );
}
