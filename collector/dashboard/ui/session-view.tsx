/**
 * @module session-view
 * One buyer's session: who (in full: the only place the dashboard shows email and phone), what
 * was in the cart, and a timeline of every page, lead update, state change, recovery click and
 * upstream call with its redacted request and response, a page at a time ("Show more").
 */
import { useState } from 'preact/hooks';
import { UPSTREAM_NAMES } from '../../upstreams.js';
import type { SessionDetailData, SessionTimelineData, TimelineEntryData } from '../api-schema.js';
import { api, isApiError, type ApiError } from './api.js';
import { Badge, Problem, Section, ShowMore } from './components.js';
import { count, dateTime, money, plural, STEP_LABELS, time } from './format.js';
import { usePoll } from './hooks.js';

function pretty(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

function Entry({ entry }: { entry: TimelineEntryData }) {
  switch (entry.kind) {
    case 'page':
      return (
        <>
          <strong>Page: {STEP_LABELS[entry.page] ?? entry.page}</strong>
          <div class="mono wrap">{entry.url}</div>
        </>
      );
    case 'lead':
      return (
        <>
          <strong>Lead update</strong>
          <div class="fields">
            {Object.entries(entry.fields).map(([name, value]) => (
              <span key={name}>
                {name}: <span class="mono">{value}</span>
              </span>
            ))}
          </div>
        </>
      );
    case 'cart':
      return (
        <>
          <strong>Cart</strong>: {entry.items.map((item) => `${item.qty} × ${item.name ?? item.id} at ${item.price} ${entry.currency}`).join(', ')}
        </>
      );
    case 'order':
      return (
        <>
          <strong>Order id reported</strong>: <span class="mono">{entry.orderId}</span>
        </>
      );
    case 'exit':
      return <strong>Left the page</strong>;
    case 'attribution': {
      const values = Object.entries(entry.values);
      return (
        <>
          <strong>Click and consent</strong>: marketing {entry.marketing ? 'allowed' : 'not allowed'}
          {values.length > 0 ? (
            <dl class="attribution">
              {values.flatMap(([key, value]) => [
                <dt key={`${key}:name`}>{key}</dt>,
                <dd key={`${key}:value`} class="mono">
                  {value}
                </dd>,
              ])}
            </dl>
          ) : null}
        </>
      );
    }
    case 'state':
      return (
        <>
          <strong>State</strong> <Badge value={entry.state} />
        </>
      );
    case 'recovery-click':
      return <strong>Recovery link clicked{entry.count > 1 ? ` (${entry.count} clicks so far)` : ''}</strong>;
    case 'recovery-return':
      return <strong>Came back through the recovery link</strong>;
    case 'upstream':
      return (
        <details>
          <summary>
            <strong>
              {UPSTREAM_NAMES[entry.upstream]} {entry.endpoint}
            </strong>{' '}
            <Badge value={entry.outcome} /> {entry.httpStatus ? `HTTP ${entry.httpStatus}` : ''} · {Math.round(entry.latencyMs)} ms
          </summary>
          <div class="exchange">
            <h4>Request (redacted)</h4>
            <pre>{pretty(entry.request) || '(no body)'}</pre>
            <h4>Response</h4>
            <pre>{pretty(entry.response)}</pre>
          </div>
        </details>
      );
  }
}

export function SessionView({ id }: { id: string }) {
  const { data, error } = usePoll<SessionDetailData>(`/sessions/${encodeURIComponent(id)}`);
  return (
    <>
      <div class="toolbar">
        <h1>Session</h1>
        <a href="#/sessions" class="back">
          ← All sessions
        </a>
      </div>
      <Problem error={error} />
      {data ? <Detail data={data} /> : error ? null : <p class="loading">Loading…</p>}
    </>
  );
}

/** Another session of the same buyer (a return through a recovery link, or the cart it came back for). */
function SessionLink({ id }: { id: string }) {
  return (
    <a class="mono" href={`#/sessions/${encodeURIComponent(id)}`}>
      {id}
    </a>
  );
}

function Detail({ data }: { data: SessionDetailData }) {
  const s = data.session;
  const currency = s.cart?.currency ?? 'USD';
  return (
    <>
      <Section title="Buyer">
        <dl class="facts">
          <dt>State</dt>
          <dd>
            <Badge value={s.state} />
          </dd>
          <dt>Email</dt>
          <dd>{s.lead.emailAddress ?? '–'}</dd>
          <dt>Phone</dt>
          <dd>{s.lead.phoneNumber ?? '–'}</dd>
          <dt>Name</dt>
          <dd>{[s.lead.firstName, s.lead.lastName].filter(Boolean).join(' ') || '–'}</dd>
          <dt>Cart</dt>
          <dd>{s.cart ? `${s.cart.items.map((i) => `${i.qty} × ${i.name ?? i.id}`).join(', ')} (${money(s.cart.items.reduce((n, i) => n + Math.round(i.price * 100) * i.qty, 0), currency)})` : '–'}</dd>
          <dt>Order</dt>
          <dd>
            {s.konnektive.orderId ?? s.claimedOrderId ?? '–'}
            {s.orderCheck ? ` (${s.orderCheck.verified ? `verified, ${money(s.orderCheck.totalCents, s.orderCheck.currency ?? currency)}` : `not verified: ${s.orderCheck.reason ?? 'unknown'}`})` : ''}
          </dd>
          <dt>Started</dt>
          <dd>{dateTime(s.createdAt)}</dd>
          <dt>Last seen</dt>
          <dd>{dateTime(s.lastSeenAt)}</dd>
          <dt>Landing page</dt>
          <dd class="mono wrap">{s.landingUrl ?? '–'}</dd>
          <dt>Source</dt>
          <dd>
            {Object.entries(s.sources)
              .filter(([, v]) => v !== '(none)')
              .map(([k, v]) => `${k}=${v}`)
              .join(', ') || '–'}
          </dd>
          <dt>Konnektive session</dt>
          <dd class="mono">{s.konnektive.sessionId ?? '–'}</dd>
          <dt>Session id</dt>
          <dd class="mono">{s.id}</dd>
          {s.recovers && (
            <>
              <dt>Came back for</dt>
              <dd>
                the abandoned cart of <SessionLink id={s.recovers} />, through its recovery link
              </dd>
            </>
          )}
          {s.returns.length > 0 && (
            <>
              <dt>Came back as</dt>
              <dd>
                {s.returns.map((id, i) => (
                  <>
                    {i > 0 && ', '}
                    <SessionLink id={id} />
                  </>
                ))}
              </dd>
            </>
          )}
        </dl>
      </Section>
      <Section title="Sent to ActiveCampaign">
        {data.emissions.length === 0 ? (
          <p class="empty">Nothing yet.</p>
        ) : (
          <ul class="plain">
            {data.emissions.map((e) => (
              <li key={e.kind}>
                <strong>{e.kind.toUpperCase()}</strong> <Badge value={e.status} /> {dateTime(e.updatedAt)} {e.remoteId ? <span class="mono">#{e.remoteId}</span> : null}
              </li>
            ))}
          </ul>
        )}
      </Section>
      {data.lifecycle.length > 0 ? <AfterTheOrder data={data} /> : null}
      <Timeline data={data} />
    </>
  );
}

/**
 * The timeline, oldest first: the first page comes with each refresh, "Show more" adds the next
 * pages below it. A session holds at most its cap of events, and is still read a page at a time.
 */
function Timeline({ data }: { data: SessionDetailData }) {
  const [later, setLater] = useState<{ entries: TimelineEntryData[]; next: string | null }>();
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<ApiError>();
  const entries = later ? [...data.timeline, ...later.entries] : data.timeline;
  const next = later ? later.next : data.timelineNext;
  const more = async () => {
    if (next === null) return;
    setBusy(true);
    setProblem(undefined);
    try {
      const page = await api.get<SessionTimelineData>(`/sessions/${encodeURIComponent(data.session.id)}/timeline?after=${encodeURIComponent(next)}`);
      setLater({ entries: [...(later?.entries ?? []), ...page.timeline], next: page.next });
    } catch (e) {
      if (isApiError(e)) setProblem(e);
    } finally {
      setBusy(false);
    }
  };
  const { totals } = data;
  return (
    <Section title="Timeline">
      <p class="hint timeline-totals">
        {next === null
          ? `${entries.length === 1 ? '' : 'All '}${plural(entries.length, 'entry', 'entries')} shown`
          : `${count(entries.length)} of ${plural(totals.timeline, 'entry', 'entries')} shown`}{' '}
        ·{' '}{plural(totals.events, 'event', 'events')} stored
      </p>
      <Problem error={problem} />
      <ol class="timeline" aria-busy={busy}>
        {entries.map((entry, index) => (
          <li key={index} class={`t-${entry.kind}`}>
            <time dateTime={new Date(entry.at).toISOString()}>{time(entry.at)}</time>
            <div>
              <Entry entry={entry} />
            </div>
          </li>
        ))}
      </ol>
      {next !== null ? <ShowMore busy={busy} onMore={more} /> : null}
    </Section>
  );
}

/** The buyer's lifecycle events (by the lead's email): what Konnektive recorded after the order. */
function AfterTheOrder({ data }: { data: SessionDetailData }) {
  return (
    <Section title="After the order">
      <ul class="plain" id="buyer-lifecycle">
        {data.lifecycle.map((e) => (
          <li key={e.id}>
            <strong>{e.kind.replace(/_/g, ' ')}</strong> {e.occurredAt || dateTime(e.foundAt)}
            {e.amountCents !== null ? ` · ${money(e.amountCents, e.currency ?? 'USD')}` : ''}
            {e.orderId ? <span class="mono"> · order {e.orderId}</span> : null}
            {e.reason ? ` · ${e.reason}` : ''}
            {e.trackingNumber ? <span class="mono"> · {e.trackingNumber}</span> : null}
          </li>
        ))}
      </ul>
    </Section>
  );
}
