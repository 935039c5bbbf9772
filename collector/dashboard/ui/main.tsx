/**
 * @module dashboard-ui
 * The dashboard's entry: a header with the four views, chosen by the URL's hash.
 */
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import './app.css';
import { sessionInfo } from './api.js';
import { DeliveryView } from './delivery-view.js';
import { useRoute } from './hooks.js';
import { OverviewView } from './overview-view.js';
import { SessionView } from './session-view.js';
import { SessionsView } from './sessions-view.js';
import { SourcesView } from './sources-view.js';

const VIEWS = [
  ['overview', 'Overview'],
  ['sources', 'Sources'],
  ['sessions', 'Sessions'],
  ['delivery', 'Delivery'],
] as const;

function App() {
  const route = useRoute();
  const view = VIEWS.some(([key]) => key === route.path[0]) ? route.path[0]! : 'overview';
  const [mode, setMode] = useState<string>();
  useEffect(() => {
    sessionInfo().then((info) => setMode(info.mode), () => {});
  }, []);
  useEffect(() => {
    const label = VIEWS.find(([key]) => key === view)?.[1] ?? '';
    document.title = `${label} · funnelbeacon`;
  }, [view]);
  const keep = route.params.get('range') ? `?range=${route.params.get('range')}` : '';
  return (
    <>
      <a class="skip" href="#main" onClick={(e) => { e.preventDefault(); document.getElementById('main')?.focus(); }}>
        Skip to content
      </a>
      <header class="top">
        <span class="brand">funnelbeacon</span>
        {mode === 'sandbox' ? <span class="badge badge-sandbox" title="No credentials: nothing is sent upstream">sandbox</span> : null}
        <nav aria-label="Views">
          {VIEWS.map(([key, label]) => (
            <a key={key} href={`#/${key}${key === 'overview' || key === 'sources' ? keep : ''}`} aria-current={view === key ? 'page' : undefined}>
              {label}
            </a>
          ))}
        </nav>
      </header>
      <main id="main" tabIndex={-1}>
        {view === 'overview' ? <OverviewView route={route} /> : null}
        {view === 'sources' ? <SourcesView route={route} /> : null}
        {view === 'sessions' && route.path[1] ? <SessionView id={route.path[1]} /> : null}
        {view === 'sessions' && !route.path[1] ? <SessionsView route={route} /> : null}
        {view === 'delivery' ? <DeliveryView /> : null}
      </main>
    </>
  );
}

const root = document.getElementById('app')!;
root.textContent = '';
render(<App />, root);
