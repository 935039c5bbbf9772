/**
 * @module delivery-view
 * What the collector sends upstream: outbox jobs by state, dead letters with replay, each
 * upstream's health, the doctor's checks, and in sandbox mode every request that would have
 * been sent.
 */
import { useEffect, useState } from 'preact/hooks';
import { UPSTREAM_NAMES, UPSTREAMS } from '../../upstreams.js';
import type { DeliveryData, DoctorData, SandboxRequestsData } from '../api-schema.js';
import { api, isApiError, type ApiError } from './api.js';
import { Badge, DataTable, Problem, Section, ShowMore } from './components.js';
import { ago, count, countsBy, dateTime, plural, type Noun } from './format.js';
import { usePoll } from './hooks.js';
import { JobLink } from './job-link.js';
import { AccuracySection } from './accuracy-view.js';

const NAMES = UPSTREAM_NAMES;

function pretty(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

export function DeliveryView() {
  const { data, error, reload } = usePoll<DeliveryData>('/delivery');
  const [message, setMessage] = useState<string>();
  const [problem, setProblem] = useState<ApiError>();
  const replay = async (path: string, body: unknown) => {
    setProblem(undefined);
    try {
      const { replayed } = await api.post<{ replayed: number }>(path, body);
      setMessage(replayed === 0 ? 'Nothing to replay: already back in the outbox.' : `${plural(replayed, 'job', 'jobs')} back in the outbox.`);
      reload();
    } catch (e) {
      if (isApiError(e)) setProblem(e);
    }
  };
  return (
    <>
      <div class="toolbar">
        <h1>Delivery</h1>
      </div>
      <Problem error={error ?? problem} />
      <p class="status" role="status" aria-live="polite">
        {message ?? ''}
      </p>
      {!data ? (
        <p class="loading">Loading…</p>
      ) : (
        <>
          <Section title="Upstreams">
            <div class="cards">
              {data.upstreams.map((u) => (
                <div class="card" key={u.upstream} role="group" aria-label={NAMES[u.upstream]}>
                  <h3>
                    {NAMES[u.upstream]} <Badge value={u.state} />
                  </h3>
                  {u.reason ? <p class="problem-text">Paused: {u.reason}</p> : null}
                  <p>Last success: {ago(u.lastSuccessAt)}</p>
                  <p>Last error: {u.lastErrorAt ? `${ago(u.lastErrorAt)}: ${u.lastError}` : 'none'}</p>
                </div>
              ))}
            </div>
          </Section>
          <Section title="Outbox">
            <JobCounts data={data} />
          </Section>
          <AccuracySection />
          {data.conversions.length > 0 || data.upstreams.some((u) => u.upstream === 'meta' || u.upstream === 'tiktok') ? <Conversions data={data} /> : null}
          {data.postbacks.length > 0 || data.upstreams.some((u) => u.upstream === 'postbacks') ? <Postbacks data={data} /> : null}
          <Section
            title="Dead letters"
            actions={
              data.dead.length > 0 ? (
                <button type="button" onClick={() => void replay('/delivery/replay-all', {})}>
                  Replay all
                </button>
              ) : null
            }
          >
            {data.dead.length === 0 ? (
              <p class="empty">None: every job was delivered or is still being tried.</p>
            ) : (
              <DataTable
                caption="Jobs that failed their last attempt"
                columns={['Job', 'Upstream', 'Kind', 'Attempts', 'Error', 'Session', { srOnly: 'Action' }]}
              >
                {data.dead.map((job) => (
                  <tr key={job.id}>
                    <td>#{job.id}</td>
                    <td>{NAMES[job.upstream]}</td>
                    <td>{job.kind}</td>
                    <td>{job.attempts}</td>
                    <td class="wrap">{job.lastError ?? '–'}</td>
                    <td>
                      <JobLink jobKey={job.sessionId} label="open" />
                    </td>
                    <td>
                      <button type="button" onClick={() => void replay('/delivery/replay', { id: job.id })} aria-label={`Replay job ${job.id}`}>
                        Replay
                      </button>
                    </td>
                  </tr>
                ))}
              </DataTable>
            )}
          </Section>
          <Doctor />
          {data.mode === 'sandbox' || data.sandboxRequests.length > 0 ? <SandboxRequests data={data} /> : null}
        </>
      )}
    </>
  );
}

type SandboxRequest = DeliveryData['sandboxRequests'][number];

/**
 * Every request sandbox mode recorded instead of sending, newest first: the latest page comes
 * with each refresh, "Show more" adds older pages below it.
 */
function SandboxRequests({ data }: { data: DeliveryData }) {
  const [older, setOlder] = useState<{ requests: SandboxRequest[]; next: number | null }>();
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<ApiError>();
  const seen = new Set<number>();
  const requests = [...data.sandboxRequests, ...(older?.requests ?? [])].filter((r) => !seen.has(r.id) && seen.add(r.id));
  const next = older ? older.next : data.sandboxNext;
  const more = async () => {
    if (next === null) return;
    setBusy(true);
    setProblem(undefined);
    try {
      const page = await api.get<SandboxRequestsData>(`/delivery/sandbox?before=${next}`);
      setOlder({ requests: [...(older?.requests ?? []), ...page.requests], next: page.next });
    } catch (e) {
      if (isApiError(e)) setProblem(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Section title="Requests sandbox mode did not send">
      {data.mode === 'sandbox' ? (
        <p class="hint">
          Each body in full, as it would have gone. <code>{'{connectionid}'}</code> and <code>{'{customerid}'}</code> stand for the ids ActiveCampaign
          would give: live, the collector looks up its connection and the buyer's customer record and sends their ids there.
        </p>
      ) : null}
      <Problem error={problem} />
      {requests.length === 0 ? (
        <p class="empty">None yet: walk the demo funnel at /demo/.</p>
      ) : (
        <>
          <ul class="plain requests" aria-busy={busy}>
            {requests.map((r) => (
              <li key={r.id}>
                <details>
                  <summary>
                    <strong>
                      {NAMES[r.upstream]} {r.endpoint}
                    </strong>{' '}
                    · {dateTime(r.createdAt)}
                  </summary>
                  {/* Outside the summary: a link inside it would take the click meant to open the request. */}
                  {r.sessionId ? (
                    <p>
                      <JobLink jobKey={r.sessionId} label="Open the session" />
                    </p>
                  ) : null}
                  <pre>{pretty(r.request) || '(no body)'}</pre>
                </details>
              </li>
            ))}
          </ul>
          {next !== null ? (
            <ShowMore busy={busy} onMore={more} />
          ) : (
            <p class="hint">{requests.length === 1 ? 'That is the only one.' : `All ${count(requests.length)} shown.`}</p>
          )}
        </>
      )}
    </Section>
  );
}

const SKIP_REASONS: Record<string, Noun> = {
  no_consent: 'no marketing consent',
  bot: ['bot', 'bots'],
  test_order: ['test order', 'test orders'],
  too_old: 'too old',
  session_gone: ['session purged', 'sessions purged'],
};

/** Each ad platform's conversions over the last 7 days: sent, deliberately skipped (and why), failed calls. */
function Conversions({ data }: { data: DeliveryData }) {
  return (
    <Section title="Conversions to the ad platforms (last 7 days)">
      {data.conversions.length === 0 ? (
        <p class="empty">None yet: a lead, a checkout or an order sends its first.</p>
      ) : (
        <DataTable caption="Conversions by platform" columns={['Platform', 'Conversion', data.mode === 'sandbox' ? 'Recorded' : 'Sent', 'Skipped', 'Failed calls']} class="compact">
          {data.conversions.map((c) => (
            <tr key={`${c.platform} ${c.conversion}`}>
              <th scope="row">{NAMES[c.platform]}</th>
              <td>{c.conversion}</td>
              <td>{count(c.sent)}</td>
              <td class="wrap">
                {Object.keys(c.skipped).length === 0
                  ? '0'
                  : countsBy(c.skipped, SKIP_REASONS)}
              </td>
              <td>{count(c.failedCalls)}</td>
            </tr>
          ))}
        </DataTable>
      )}
    </Section>
  );
}

const POSTBACK_SKIPS: Record<string, Noun> = {
  test_order: ['test order', 'test orders'],
  prepaid: 'prepaid',
  sale_followed: 'a sale followed',
  removed: 'removed from the file',
};

/** Each affiliate postback over the last 7 days: fired, skipped (and why), failed, dead, and the network's last answer. */
function Postbacks({ data }: { data: DeliveryData }) {
  return (
    <Section title="Affiliate postbacks (last 7 days)">
      {data.postbacks.length === 0 ? (
        <p class="empty">None fired yet: a lead, a sale, an upsell, a rebill, a refund or a chargeback fires the postbacks that cover it.</p>
      ) : (
        <DataTable caption="Postbacks by name" columns={['Postback', data.mode === 'sandbox' ? 'Recorded' : 'Fired', 'Skipped', 'Failed calls', 'Dead', 'Last answer']} class="compact">
          {data.postbacks.map((p) => (
            <tr key={p.postback}>
              <th scope="row">{p.postback}</th>
              <td>{count(p.fired)}</td>
              <td class="wrap">
                {Object.keys(p.skipped).length === 0
                  ? '0'
                  : countsBy(p.skipped, POSTBACK_SKIPS)}
              </td>
              <td>{count(p.failedCalls)}</td>
              <td>{count(p.dead)}</td>
              <td class="wrap">
                {p.lastAnswer ? (
                  <>
                    <Badge value={p.lastAnswer.outcome} /> {p.lastAnswer.httpStatus ? `HTTP ${p.lastAnswer.httpStatus}` : ''} {ago(p.lastAnswer.at)}: <span class="mono">{p.lastAnswer.response}</span>
                  </>
                ) : (
                  '–'
                )}
              </td>
            </tr>
          ))}
        </DataTable>
      )}
    </Section>
  );
}

function JobCounts({ data }: { data: DeliveryData }) {
  const n = (state: string, upstream: string) => data.jobs.find((j) => j.state === state && j.upstream === upstream)?.count ?? 0;
  return (
    <DataTable caption="Outbox jobs by state and upstream" columns={['Upstream', 'Waiting', 'Running', 'Dead']} class="compact" scroll={false}>
      {UPSTREAMS.filter((u) => u === 'konnektive' || u === 'activecampaign' || data.jobs.some((j) => j.upstream === u)).map((u) => (
        <tr key={u}>
          <th scope="row">{NAMES[u]}</th>
          <td>{count(n('pending', u))}</td>
          <td>{count(n('running', u))}</td>
          <td>{count(n('dead', u))}</td>
        </tr>
      ))}
    </DataTable>
  );
}

function Doctor() {
  const [result, setResult] = useState<DoctorData>();
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<ApiError>();
  const run = async () => {
    setBusy(true);
    setProblem(undefined);
    try {
      setResult(await api.post<DoctorData>('/doctor'));
    } catch (e) {
      if (isApiError(e)) setProblem(e);
    } finally {
      setBusy(false);
    }
  };
  useEffect(() => void run(), []);
  return (
    <Section
      title="Checks"
      actions={
        <button type="button" onClick={() => void run()} disabled={busy}>
          {busy ? 'Checking…' : 'Run checks'}
        </button>
      }
    >
      <Problem error={problem} />
      {result ? (
        <ul class="checks" aria-busy={busy}>
          {result.checks.map((check, index) => (
            <li key={index} class={`check-${check.status}`}>
              <Badge value={check.status} /> <strong>{check.name}</strong>: {check.message}
            </li>
          ))}
        </ul>
      ) : (
        <p class="loading">Checking…</p>
      )}
    </Section>
  );
}
