/**
 * @module doctor-checks
 * The checks behind `funnelbeacon doctor` and the dashboard's Delivery view: the configuration,
 * the store, each configured upstream (with harmless reads only), and `PUBLIC_URL`. Each check
 * says ok, or what is wrong and what to do about it. Nothing here writes upstream.
 */
import { systemClock, type Clock } from './clock.js';
import type { Config, ConfigResult } from './config.js';
import { konnektiveClient, type KonnektiveApi } from './konnektive/konnektive-client.js';
import { probeKonnektive, readKonnektiveAnswer, type KonnektiveProbe } from './konnektive/konnektive-probe.js';
import { AC_SERVICE, acConnectionBody } from './emit/activecampaign-bodies.js';
import { addDays, dayIn, konnektiveDate } from './lifecycle/day-windows.js';
import { SOURCE_ENDPOINT, LIFECYCLE_SOURCES, type LifecycleSource } from './lifecycle/konnektive-lifecycle-client.js';
import { openStore } from './store/open-store.js';
import { POSTGRES_PLANS, SQLITE_PLANS } from './store/plans.js';
import { POSTGRES_MIGRATIONS } from './store/postgres-migrations.js';
import { SQLITE_MIGRATIONS } from './store/sqlite-migrations.js';
import type { Store } from './store/store.js';
import { AD_PLATFORMS } from './conversions/conversion.js';
import { conversionSenders } from './conversions/platform-senders.js';
import { loadPostbacks } from './postbacks/postback-file.js';
import { isRedirect, NO_REDIRECTS, redirectProblem } from './http/upstream-redirect.js';
import { noun, plural } from './plural.js';

export type CheckStatus = 'ok' | 'warn' | 'fail';

export interface Check {
  /** What was checked: `config`, `store`, `konnektive`, `konnektive campaign 12`, `activecampaign`, `public url`. */
  name: string;
  status: CheckStatus;
  /** What was found and, when it is not ok, what to do. Never a credential. */
  message: string;
}

export interface DoctorOptions {
  fetch?: typeof fetch;
  timeoutMs?: number;
  /** A store already open (the running collector's); otherwise the check opens its own. */
  store?: Store;
  /** Time, for Konnektive's date-bounded Query Order. */
  clock?: Clock;
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
    }),
  ]);
}

/** The store answers, and every migration of this version is applied. */
export async function checkStore(config: Config, { store, timeoutMs = 5_000 }: DoctorOptions = {}): Promise<Check> {
  const where = config.databaseUrl.startsWith('file:') ? config.databaseUrl : `postgres://…@${config.databaseUrl.split('@').pop()}`;
  let own: Store | undefined;
  try {
    const db = store ?? (own = await openStore(config.databaseUrl));
    await withTimeout(db.ping(), timeoutMs, 'the store');
    const known = (db.kind === 'sqlite' ? SQLITE_MIGRATIONS : POSTGRES_MIGRATIONS).map((m) => m.version);
    let applied = new Set<number>();
    try {
      // The store's own statement (it has no method that lists applied migrations).
      const statement = (db.kind === 'sqlite' ? SQLITE_PLANS : POSTGRES_PLANS).appliedMigrations;
      applied = new Set((await db.sql().all<{ version: number }>(statement)).map((row) => Number(row.version)));
    } catch {
      // No migrations table yet: every version is pending.
    }
    const pending = known.filter((version) => !applied.has(version));
    if (pending.length > 0) {
      return {
        name: 'store',
        status: 'fail',
        message: `${db.kind} at ${where} is reachable but ${plural(pending.length, 'migration', 'migrations')} ${noun(pending.length, 'is', 'are')} pending (${pending.join(', ')}): run \`funnelbeacon migrate\` (serve also migrates at start).`,
      };
    }
    const reachable = `${db.kind} at ${where} reachable, schema up to date`;
    if (db.kind === 'postgres' && (await autovacuumOff(db))) {
      return {
        name: 'store',
        status: 'warn',
        message: `${reachable}, but the server runs with autovacuum off: nothing gathers the statistics its planner needs as funnelbeacon's tables grow, or clears their dead rows, and queries slow down with them. Turn it on (autovacuum = on in postgresql.conf, the default), or run VACUUM ANALYZE on a schedule.`,
      };
    }
    return { name: 'store', status: 'ok', message: reachable };
  } catch (error) {
    return {
      name: 'store',
      status: 'fail',
      message: `cannot reach the store at ${where}: ${error instanceof Error ? error.message : String(error)}. Check DATABASE_URL, that the server runs and accepts this user.`,
    };
  } finally {
    await own?.close().catch(() => {});
  }
}

/** The PostgreSQL server's autovacuum launcher is off (its statistics then never refresh by themselves). */
async function autovacuumOff(store: Store): Promise<boolean> {
  const [row] = await store.sql().all<{ autovacuum: string }>("SELECT current_setting('autovacuum') AS autovacuum");
  return row?.autovacuum === 'off';
}

/**
 * What to do about a Konnektive answer that is not ok, for `doctor` and `connect`. `unexpected
 * answer` from Konnektive itself depends on the call, so the caller says it.
 */
export function konnektiveAdvice(url: string, probe: Exclude<KonnektiveProbe, { status: 'ok' }>): string {
  const quoted = `"${probe.message.slice(0, 160)}"`;
  switch (probe.status) {
    case 'ip not whitelisted':
      return `Konnektive refuses this server's IP address (${quoted}): add the collector's public IP to the API user's IP whitelist (Admin → Users), or a provider keyword such as AWS or GOOGLE.`;
    case 'credentials refused':
      return 'Konnektive refuses the API credentials: check KONNEKTIVE_LOGIN_ID and KONNEKTIVE_PASSWORD (an API user, not a CRM login), and that the user may call Import Click, Import Lead, Query Order and Query Campaign.';
    case 'unreachable':
      return `${url} is unreachable (${probe.message}): check KONNEKTIVE_API_URL and this server's outbound network.`;
    case 'redirected':
      return `${url} ${probe.message}.`;
    case 'unexpected answer':
      return probe.credentialsAccepted
        ? `Konnektive accepts the credentials from this IP but refused the call (${quoted}).`
        : `${url} did not answer like Konnektive's API (${probe.message}): check KONNEKTIVE_API_URL, or try again later if Konnektive is having trouble.`;
  }
}

/** Credentials and IP whitelist (the relay's probe: a Query Order for today), then each allowed campaign. */
export async function checkKonnektive(config: Config, api: KonnektiveApi, now: number): Promise<Check[]> {
  const url = config.konnektive?.apiUrl ?? '';
  const probe = await probeKonnektive(api, now);
  const checks: Check[] = [];
  if (probe.status === 'unexpected answer' && probe.credentialsAccepted) {
    // The API user and this address pass; Query Order itself (which the relay needs) does not.
    checks.push({
      name: 'konnektive',
      status: 'fail',
      message: `${url} accepts the API credentials from this IP, but refused a Query Order for today ("${probe.message.slice(0, 160)}"): check that the API user may call Query Order (the collector uses it to find orders).`,
    });
  } else if (probe.status !== 'ok') {
    return [{ name: 'konnektive', status: 'fail', message: konnektiveAdvice(url, probe) }];
  } else {
    checks.push({ name: 'konnektive', status: 'ok', message: `${url} accepts the API credentials from this IP` });
  }
  for (const campaignId of config.campaigns) {
    const found = await api.call('queryCampaign', { campaignId });
    checks.push(
      found.ok
        ? { name: `konnektive campaign ${campaignId}`, status: 'ok', message: `campaign ${campaignId} exists` }
        : found.failure === 'rejected'
          ? {
              name: `konnektive campaign ${campaignId}`,
              status: 'fail',
              message: `Konnektive does not know campaign ${campaignId} ("${found.message.slice(0, 120)}"): fix KONNEKTIVE_CAMPAIGNS (and the pages' data-campaign).`,
            }
          : { name: `konnektive campaign ${campaignId}`, status: 'warn', message: `could not look campaign ${campaignId} up (${found.message.slice(0, 120)})` },
    );
  }
  return checks;
}

/** The Konnektive permission each lifecycle read needs, as the API user's Access Details name it. */
export const LIFECYCLE_PERMISSIONS: Readonly<Record<LifecycleSource, string>> = Object.freeze({
  transactions: 'Query Transactions',
  purchases: 'Query Purchases',
  orders: 'Query Order',
});

/** Konnektive's "No … found / matching" is zero rows: the read is allowed. */
const NO_ROWS = /^no\b.*\b(found|match)/i;

/**
 * With LIFECYCLE_SYNC=on: each Konnektive query the sync makes, once, over yesterday and today in
 * the account's zone, one row (a harmless read). A refusal of an API user whose credentials work is a missing
 * permission: the check names the one to grant.
 */
export async function checkLifecyclePermissions(config: Config, api: KonnektiveApi, now: number): Promise<Check[]> {
  // Yesterday to today, as the poll asks (Query Purchases wants its start before its end).
  const today = dayIn(now, config.lifecycle.timeZone);
  const window = { startDate: konnektiveDate(addDays(today, -1)), endDate: konnektiveDate(today) };
  const checks: Check[] = [];
  for (const source of LIFECYCLE_SOURCES) {
    const permission = LIFECYCLE_PERMISSIONS[source];
    const name = `konnektive ${permission.toLowerCase()}`;
    let answer;
    try {
      answer = await api.call(SOURCE_ENDPOINT[source], { dateRangeType: 'dateUpdated', ...window, resultsPerPage: '1', page: '1' });
    } catch (error) {
      checks.push({ name, status: 'warn', message: `could not try ${permission} (${error instanceof Error ? error.message : String(error)})` });
      continue;
    }
    if (answer.ok || (answer.failure === 'rejected' && NO_ROWS.test(answer.message.trim()))) {
      checks.push({ name, status: 'ok', message: `the API user may call ${permission} (the lifecycle sync reads ${source} with it)` });
    } else if (answer.failure === 'rejected') {
      checks.push({
        name,
        status: 'fail',
        message: `Konnektive refused ${permission} ("${answer.message.slice(0, 120)}"): grant ${permission} to the API user (Admin → Users → the API user → Access Details); the lifecycle sync reads ${source} with it.`,
      });
    } else {
      checks.push({ name, status: 'fail', message: `${permission}: ${konnektiveAdvice(config.konnektive?.apiUrl ?? '', readKonnektiveAnswer(answer) as Exclude<KonnektiveProbe, { status: 'ok' }>)}` });
    }
  }
  return checks;
}

/**
 * The event tracking settings. ActiveCampaign has no harmless call that checks the event key: the
 * only call that takes it (`POST /event`) tracks an event on a contact, and doctor writes nothing.
 * So the account id's form is checked, and the check says where the key's first use shows.
 */
export function checkEventTracking(config: Config): Check {
  const events = config.activeCampaignEvents;
  if (!events) {
    return { name: 'activecampaign events', status: 'ok', message: 'event tracking is off (set ACTIVECAMPAIGN_ACCOUNT_ID and ACTIVECAMPAIGN_EVENT_KEY to track lifecycle events)' };
  }
  if (!/^\d{1,12}$/.test(events.accountId)) {
    return { name: 'activecampaign events', status: 'fail', message: 'ACTIVECAMPAIGN_ACCOUNT_ID is not the numeric account id (actid) that Settings → Tracking → Event Tracking shows.' };
  }
  return {
    name: 'activecampaign events',
    status: 'ok',
    message: `account id ${events.accountId} has the form Event Tracking shows. ActiveCampaign offers no harmless call that checks ACTIVECAMPAIGN_EVENT_KEY (only tracking an event does, and doctor writes nothing): the first lifecycle event's call shows in Delivery whether the key is accepted.`,
  };
}

interface AcAnswer {
  ok: boolean;
  status: number;
  body: Record<string, unknown> | undefined;
  /** Why there is no answer to read: the host is unreachable (status 0), or it redirected (a 3xx, not followed). */
  error?: string;
}

/** One call to ActiveCampaign's API v3 (the CLI's few calls stay far below the rate limit). */
export async function acCall(
  config: Config,
  method: 'GET' | 'POST',
  path: string,
  body: unknown,
  { fetch: doFetch = fetch, timeoutMs = 10_000 }: DoctorOptions = {},
): Promise<AcAnswer> {
  const ac = config.activeCampaign!;
  try {
    const response = await doFetch(`${ac.apiUrl}${path}`, {
      method,
      headers: { 'Api-Token': ac.apiKey, accept: 'application/json', ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(timeoutMs),
      ...NO_REDIRECTS,
    });
    const text = await response.text();
    if (isRedirect(response.status)) {
      return { ok: false, status: response.status, body: undefined, error: redirectProblem(response.status, response.headers.get('location'), ac.apiUrl, 'ACTIVECAMPAIGN_API_URL') };
    }
    let parsed: Record<string, unknown> | undefined;
    try {
      parsed = JSON.parse(text) as Record<string, unknown>;
    } catch {
      parsed = undefined;
    }
    return { ok: response.ok && parsed !== undefined, status: response.status, body: parsed };
  } catch (error) {
    const message = error instanceof Error && error.name === 'TimeoutError' ? `timed out after ${timeoutMs} ms` : 'connection failed';
    return { ok: false, status: 0, body: undefined, error: message };
  }
}

export const connectionFilter = (config: Config): string => {
  const { externalid } = acConnectionBody(config.publicUrl).connection;
  return `/connections?filters[service]=${encodeURIComponent(AC_SERVICE)}&filters[externalid]=${encodeURIComponent(externalid ?? '')}`;
};

function acProblem(config: Config, answer: AcAnswer): Check | undefined {
  const url = config.activeCampaign?.apiUrl ?? '';
  if (answer.status === 0) {
    return { name: 'activecampaign', status: 'fail', message: `${url} is unreachable (${answer.error}): check ACTIVECAMPAIGN_API_URL (Settings → Developer shows it, e.g. https://ACCOUNT.api-us1.com).` };
  }
  if (isRedirect(answer.status)) {
    return { name: 'activecampaign', status: 'fail', message: `${url} ${answer.error}.` };
  }
  if (answer.status === 401 || answer.status === 403) {
    return { name: 'activecampaign', status: 'fail', message: 'the API key is refused: copy ACTIVECAMPAIGN_API_KEY again from Settings → Developer.' };
  }
  if (answer.status === 429) {
    return { name: 'activecampaign', status: 'warn', message: `${url} is limiting this account's request rate (HTTP 429), so nothing was checked: run the check again in a few seconds.` };
  }
  if (!answer.ok) {
    return {
      name: 'activecampaign',
      status: 'fail',
      message: `${url} did not answer like ActiveCampaign's API (HTTP ${answer.status}${answer.body ? '' : ', not JSON'}): check ACTIVECAMPAIGN_API_URL.`,
    };
  }
  return undefined;
}

/** URL and key (a read of the connections), then the connection itself. */
export async function checkActiveCampaign(config: Config, options: DoctorOptions = {}): Promise<Check[]> {
  const ac = config.activeCampaign!;
  if (ac.connectionId) {
    const answer = await acCall(config, 'GET', `/connections/${ac.connectionId}`, undefined, options);
    if (answer.status === 404 && answer.body) {
      return [
        { name: 'activecampaign', status: 'ok', message: `${ac.apiUrl} accepts the API key` },
        {
          name: 'activecampaign connection',
          status: 'fail',
          message: `connection ${ac.connectionId} (ACTIVECAMPAIGN_CONNECTION_ID) does not exist: run \`funnelbeacon connect\` and put the id it prints in ACTIVECAMPAIGN_CONNECTION_ID.`,
        },
      ];
    }
    const problem = acProblem(config, answer);
    if (problem) return [problem];
    return [
      { name: 'activecampaign', status: 'ok', message: `${ac.apiUrl} accepts the API key` },
      { name: 'activecampaign connection', status: 'ok', message: `connection ${ac.connectionId} exists` },
    ];
  }
  const answer = await acCall(config, 'GET', connectionFilter(config), undefined, options);
  const problem = acProblem(config, answer);
  if (problem) return [problem];
  const found = (answer.body?.connections as { id?: string }[] | undefined)?.[0];
  return [
    { name: 'activecampaign', status: 'ok', message: `${ac.apiUrl} accepts the API key` },
    found
      ? { name: 'activecampaign connection', status: 'ok', message: `connection ${found.id} exists: set ACTIVECAMPAIGN_CONNECTION_ID=${found.id} to skip its lookup` }
      : {
          name: 'activecampaign connection',
          status: 'fail',
          message: 'no funnelbeacon connection in this account yet: run `funnelbeacon connect` and put the id it prints in ACTIVECAMPAIGN_CONNECTION_ID.',
        },
  ];
}

/**
 * ActiveCampaign credentials set while carts and orders do not go to ActiveCampaign directly:
 * they are checked all the same (the owner set them for a reason), and the check says why they
 * are not used. On the `konnektive` route `ACTIVECAMPAIGN_CONNECTION_ID` is used (sent as
 * Konnektive's `connectionid`), so that connection must exist; without it, the route's own
 * connection is checked apart (`checkKonnektiveConnection`) and ours is not looked for.
 */
export async function checkUnusedActiveCampaign(config: Config, options: DoctorOptions = {}): Promise<Check[]> {
  const ac = config.activeCampaign!;
  const sendsId = config.emitVia === 'konnektive' && ac.connectionId !== undefined;
  const why =
    config.emitVia === 'konnektive'
      ? sendsId
        ? "not used to send: EMIT_VIA=konnektive sends carts and orders through Konnektive's ActiveCampaign route, with ACTIVECAMPAIGN_CONNECTION_ID as its connectionid (the URL and key serve only to check that id here); set EMIT_VIA=activecampaign to send directly"
        : "ACTIVECAMPAIGN_API_URL and ACTIVECAMPAIGN_API_KEY are set but not used: EMIT_VIA=konnektive sends carts and orders through Konnektive's ActiveCampaign route, which holds its own connection. Set EMIT_VIA=activecampaign to send directly, or remove the two"
      : 'ACTIVECAMPAIGN_API_URL and ACTIVECAMPAIGN_API_KEY are set but not used: EMIT_VIA=sandbox records carts and orders and sends nothing. Set EMIT_VIA=activecampaign to send them, or remove the two';
  const checks = await checkActiveCampaign(config, options);
  return checks
    .filter((check) => sendsId || check.name !== 'activecampaign connection')
    .map((check) =>
      check.name === 'activecampaign'
        ? { ...check, status: 'warn', message: `${why}. ${{ ok: 'The key works', warn: 'The key could not be checked', fail: 'The key does not work' }[check.status]}: ${check.message}` }
        : // The route's own connection check comes next under the plain name.
          { ...check, name: 'activecampaign connection id' },
    );
}

/** On the `konnektive` route Konnektive holds the connection: it must have been created. */
export async function checkKonnektiveConnection(config: Config, api: KonnektiveApi): Promise<Check> {
  const answer = await api.call('activeCampaign', { type: 'QUERY', queryType: 'CONNECTION' });
  if (!answer.ok) {
    const read = readKonnektiveAnswer(answer);
    const message =
      read.status === 'unexpected answer' && read.credentialsAccepted
        ? `Konnektive's ActiveCampaign route refused a connection query ("${answer.message.slice(0, 120)}"): enable the ActiveCampaign plugin in Konnektive.`
        : read.status === 'ok'
          ? `Konnektive's ActiveCampaign route found no connection ("${answer.message.slice(0, 120)}"): run \`funnelbeacon connect\`.`
          : `Konnektive's ActiveCampaign route: ${konnektiveAdvice(config.konnektive?.apiUrl ?? '', read)}`;
    return { name: 'activecampaign connection', status: 'fail', message };
  }
  const data = answer.message.data;
  return Array.isArray(data) && data.length > 0
    ? { name: 'activecampaign connection', status: 'ok', message: "Konnektive's ActiveCampaign route has a connection" }
    : { name: 'activecampaign connection', status: 'fail', message: "Konnektive's ActiveCampaign route has no connection yet: run `funnelbeacon connect`." };
}

/** `PUBLIC_URL/healthz` answers, from here, as a collector. */
export async function checkPublicUrl(config: Config, { fetch: doFetch = fetch, timeoutMs = 5_000 }: DoctorOptions = {}): Promise<Check> {
  const url = `${config.publicUrl}/healthz`;
  const unreachable = config.sandbox ? 'warn' : 'fail';
  try {
    const response = await doFetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    const body = (await response.json().catch(() => undefined)) as { status?: unknown } | undefined;
    if (body && typeof body.status === 'string') return { name: 'public url', status: 'ok', message: `${config.publicUrl} reaches a funnelbeacon collector` };
    return {
      name: 'public url',
      status: unreachable,
      message: `${url} answered HTTP ${response.status}, but not as a funnelbeacon collector: PUBLIC_URL must be the origin browsers use to reach this collector (check the reverse proxy).`,
    };
  } catch {
    return {
      name: 'public url',
      status: unreachable,
      message: `${config.publicUrl} is not reachable from here: start the collector, and set PUBLIC_URL to the origin browsers reach it at (recovery links and the snippet use it).`,
    };
  }
}

/** Every check, in order. */
export async function runChecks(result: ConfigResult, options: DoctorOptions = {}): Promise<Check[]> {
  if (!result.ok) return result.problems.map((problem) => ({ name: 'config', status: 'fail' as const, message: problem }));
  const config = result.config;
  const checks: Check[] = [
    { name: 'config', status: 'ok', message: `${config.sandbox ? 'sandbox mode (no upstream credentials)' : 'live mode'}, emitting via ${config.emitVia}` },
  ];
  if (!config.sandbox && !config.dashboardToken) {
    checks.push({ name: 'dashboard', status: 'warn', message: 'DASHBOARD_TOKEN is not set: the dashboard is closed outside sandbox mode. Set it to a long random string.' });
  }
  checks.push(await checkStore(config, options));
  const now = (options.clock ?? systemClock).now();
  const konnektive = config.konnektive ? konnektiveClient({ ...config.konnektive, timeoutMs: options.timeoutMs ?? 10_000, ...(options.fetch ? { fetch: options.fetch } : {}) }) : undefined;
  if (konnektive) checks.push(...(await checkKonnektive(config, konnektive, now)));
  else checks.push({ name: 'konnektive', status: 'ok', message: 'not configured; calls are recorded in sandbox mode' });
  if (config.activeCampaign) {
    checks.push(...(config.emitVia === 'activecampaign' ? await checkActiveCampaign(config, options) : await checkUnusedActiveCampaign(config, options)));
  }
  if (config.emitVia === 'konnektive' && konnektive && checks.every((c) => c.name !== 'konnektive' || c.status === 'ok')) {
    checks.push(await checkKonnektiveConnection(config, konnektive));
  }
  if (config.lifecycle.enabled) {
    // The permissions are worth asking about only once the API user and this address are accepted.
    if (konnektive && checks.every((c) => c.name !== 'konnektive' || c.status === 'ok')) checks.push(...(await checkLifecyclePermissions(config, konnektive, now)));
    else if (!konnektive && !config.sandbox) checks.push({ name: 'lifecycle sync', status: 'fail', message: 'lifecycle sync reads Konnektive and needs KONNEKTIVE_LOGIN_ID and KONNEKTIVE_PASSWORD' });
    if (config.activeCampaign) checks.push(checkEventTracking(config));
  } else if (config.konnektive && !config.activeCampaign) {
    checks.push({ name: 'lifecycle sync', status: 'ok', message: 'off. Lifecycle sync needs ACTIVECAMPAIGN_API_URL and ACTIVECAMPAIGN_API_KEY (with the Konnektive route alone it cannot run).' });
  }
  checks.push(...(await checkAdPlatforms(config, options)));
  if (config.postbacksFile !== undefined) checks.push(...checkPostbacksFile(config.postbacksFile));
  checks.push(await checkPublicUrl(config, options));
  return checks;
}

/** `POSTBACKS_FILE` reads and holds no problem (one failed check per problem); nothing is fired. */
export function checkPostbacksFile(path: string): Check[] {
  const read = loadPostbacks(path);
  if (!read.ok) return read.problems.map((problem) => ({ name: 'postbacks', status: 'fail' as const, message: problem }));
  const count = read.postbacks.length;
  return [{ name: 'postbacks', status: 'ok', message: `${path}: ${plural(count, 'postback', 'postbacks')} (funnelbeacon postbacks check prints each one's request)` }];
}

/**
 * Each configured ad platform's credentials, with a call that records nothing real (Meta: the
 * pixel read back; TikTok: an event in test mode). In sandbox mode both only record.
 */
export async function checkAdPlatforms(config: Config, options: DoctorOptions = {}): Promise<Check[]> {
  if (config.sandbox) return [{ name: 'ad platforms', status: 'ok', message: 'sandbox mode: conversions to Meta and TikTok are recorded on the Delivery view, never sent' }];
  const senders = conversionSenders(config, options.fetch);
  const checks: Check[] = [];
  for (const platform of AD_PLATFORMS) {
    const sender = senders[platform];
    if (!sender) continue;
    const found = await sender.check();
    const status = found.outcome === 'ok' ? 'ok' : 'fail';
    const advice = found.outcome === 'auth' ? ` (check ${platform === 'meta' ? 'META_ACCESS_TOKEN and META_PIXEL_ID' : 'TIKTOK_ACCESS_TOKEN and TIKTOK_PIXEL_CODE'})` : '';
    checks.push({ name: platform, status, message: `${found.message}${advice}` });
  }
  return checks;
}
