/**
 * @module connect
 * `funnelbeacon connect`: creates the ActiveCampaign connection (AC's "store") once, as
 * Konnektive's deep-integration guide says to do first. On the `activecampaign` route it is
 * `POST /connections` (after looking for ours by service and external id); on the `konnektive`
 * route it is `type=CONNECTION` on `/cart/activecampaign/` (after a `QUERY` for one). Running it
 * again finds the connection and changes nothing. It prints the id to put in
 * `ACTIVECAMPAIGN_CONNECTION_ID`.
 *
 * With `LIFECYCLE_SYNC=on` it also creates the lifecycle contact fields that are missing
 * (collector/lifecycle/lifecycle-fields.ts), found by their personalization tags, so a second run
 * creates none.
 */
import type { Config } from '../config.js';
import { acCall, connectionFilter, konnektiveAdvice, type DoctorOptions } from '../doctor-checks.js';
import { acConnectionBody } from '../emit/activecampaign-bodies.js';
import { konnektiveClient, type KonnektiveApi, type KonnektiveResult } from '../konnektive/konnektive-client.js';
import { readKonnektiveAnswer } from '../konnektive/konnektive-probe.js';
import { systemClock } from '../clock.js';
import { activeCampaignClient } from '../emit/activecampaign-client.js';
import { ensureLifecycleFields } from '../lifecycle/lifecycle-fields.js';

export interface ConnectResult {
  ok: boolean;
  created: boolean;
  id: string | undefined;
  message: string;
}

async function connectDirect(config: Config, options: DoctorOptions): Promise<ConnectResult> {
  const found = await acCall(config, 'GET', connectionFilter(config), undefined, options);
  if (!found.ok) return { ok: false, created: false, id: undefined, message: found.error && found.status !== 0 ? `ActiveCampaign ${found.error}` : describeAcFailure(found.status) };
  const existing = (found.body?.connections as { id?: string }[] | undefined)?.[0];
  if (existing?.id) return { ok: true, created: false, id: String(existing.id), message: `connection ${existing.id} exists already; nothing changed` };
  const posted = await acCall(config, 'POST', '/connections', acConnectionBody(config.publicUrl), options);
  const id = (posted.body?.connection as { id?: string } | undefined)?.id;
  if (!posted.ok || !id) return { ok: false, created: false, id: undefined, message: posted.error && posted.status !== 0 ? `ActiveCampaign ${posted.error}` : describeAcFailure(posted.status) };
  return { ok: true, created: true, id: String(id), message: `connection ${id} created` };
}

function describeAcFailure(status: number): string {
  if (status === 0) return 'ActiveCampaign is unreachable: check ACTIVECAMPAIGN_API_URL';
  if (status === 401 || status === 403) return 'ActiveCampaign refused the API key: check ACTIVECAMPAIGN_API_KEY';
  if (status === 429) return 'ActiveCampaign is limiting this account\'s request rate (HTTP 429): run connect again in a few seconds';
  return `ActiveCampaign answered HTTP ${status}: check ACTIVECAMPAIGN_API_URL`;
}

/**
 * A failed call on Konnektive's route, read as the doctor's probe reads it: the IP whitelist, the
 * credentials and an unreachable host get the doctor's advice; a refusal of the call itself is
 * Konnektive's own message.
 */
function describeKonnektiveFailure(config: Config, what: string, result: Extract<KonnektiveResult, { ok: false }>): string {
  const read = readKonnektiveAnswer(result);
  if (read.status === 'ok' || (read.status === 'unexpected answer' && read.credentialsAccepted)) {
    return `Konnektive refused ${what} ("${result.message.slice(0, 160)}"): check that the ActiveCampaign plugin is enabled in Konnektive`;
  }
  return konnektiveAdvice(config.konnektive?.apiUrl ?? '', read);
}

async function connectViaKonnektive(config: Config, api: KonnektiveApi): Promise<ConnectResult> {
  const query = await api.call('activeCampaign', { type: 'QUERY', queryType: 'CONNECTION' });
  // An empty answer may come as an ERROR saying "No results", as Query Order's does: no connection yet.
  const empty = !query.ok && readKonnektiveAnswer(query).status === 'ok';
  if (!query.ok && !empty) return { ok: false, created: false, id: undefined, message: describeKonnektiveFailure(config, 'the connection query', query) };
  const existing = query.ok && Array.isArray(query.message.data) ? (query.message.data as Record<string, unknown>[])[0] : undefined;
  if (existing) {
    const id = existing.id ?? existing.connectionid;
    return { ok: true, created: false, id: id === undefined ? undefined : String(id), message: 'the connection exists already; nothing changed' };
  }
  const created = await api.call('activeCampaign', { type: 'CONNECTION', ...acConnectionBody(config.publicUrl).connection });
  if (!created.ok) return { ok: false, created: false, id: undefined, message: describeKonnektiveFailure(config, 'to create the connection', created) };
  const id = created.message.id ?? created.message.connectionid;
  return { ok: true, created: true, id: id === undefined ? undefined : String(id), message: 'connection created' };
}

/**
 * Requests of `connect` leave at most three a second: it may run beside a collector whose own
 * calls use the account's limit of five, and a second or two more do not matter here.
 */
const CONNECT_SPACING_MS = 350;

/** Creates the lifecycle contact fields that are missing, after the connection. */
async function withLifecycleFields(config: Config, options: DoctorOptions, result: ConnectResult): Promise<ConnectResult> {
  const ac = config.activeCampaign;
  if (!result.ok || !config.lifecycle.enabled || !ac) return result;
  const clock = options.clock ?? systemClock;
  let next = 0;
  const gate = {
    acquire: async () => {
      const wait = next - clock.now();
      next = Math.max(next, clock.now()) + CONNECT_SPACING_MS;
      if (wait > 0) await clock.sleep(wait);
    },
    pauseUntil: (until: number) => {
      next = Math.max(next, until);
      return Promise.resolve();
    },
  };
  const client = activeCampaignClient({ apiUrl: ac.apiUrl, apiKey: ac.apiKey, gate, clock, timeoutMs: options.timeoutMs ?? 10_000, ...(options.fetch ? { fetch: options.fetch } : {}) });
  const fields = await ensureLifecycleFields(client);
  if (!fields.ok) return { ...result, ok: false, message: `${result.message}; the lifecycle contact fields were not all created (ActiveCampaign ${fields.message}): run connect again` };
  const made = fields.created.length === 0 ? 'the lifecycle contact fields exist already' : `lifecycle contact fields created: ${fields.created.join(', ')}`;
  return { ...result, message: `${result.message}; ${made}` };
}

export async function connect(config: Config, options: DoctorOptions = {}): Promise<ConnectResult> {
  return withLifecycleFields(config, options, await connectRoute(config, options));
}

async function connectRoute(config: Config, options: DoctorOptions): Promise<ConnectResult> {
  if (config.emitVia === 'activecampaign' && config.activeCampaign) return connectDirect(config, options);
  if (config.emitVia === 'konnektive' && config.konnektive) {
    return connectViaKonnektive(config, konnektiveClient({ ...config.konnektive, timeoutMs: options.timeoutMs ?? 10_000, ...(options.fetch ? { fetch: options.fetch } : {}) }));
  }
  return { ok: false, created: false, id: undefined, message: 'nothing to connect in sandbox mode: set EMIT_VIA=activecampaign (with ACTIVECAMPAIGN_API_URL and _KEY) or the Konnektive credentials' };
}

/** The CLI's lines for a result. */
export function connectLines(result: ConnectResult): string[] {
  if (!result.ok) return [`funnelbeacon connect: ${result.message}`];
  return [
    result.message,
    result.id === undefined ? 'Konnektive did not report the connection id; nothing to set.' : `ACTIVECAMPAIGN_CONNECTION_ID=${result.id}`,
  ];
}
