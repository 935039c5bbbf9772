/**
 * @module dashboard-route
 * `/dashboard`: the Preact UI (built by build.mjs into dist/dashboard/) under a strict
 * Content-Security-Policy, its login form, and its JSON API under `/dashboard/api/`. Every
 * answer is checked against its zod schema (collector/dashboard/api-schema.ts) before it leaves.
 */
import type { PostbackRegistry } from '../postbacks/postback-file.js';
import { systemClock, type Clock } from '../clock.js';
import { readFileSync } from 'node:fs';
import { Hono, type Context } from 'hono';
import { deleteCookie, setCookie } from 'hono/cookie';
import type { z } from 'zod';
import type { Config } from '../config.js';
import {
  AccuracyDestinationParam,
  AccuracyItemsResponse,
  AccuracyQuery,
  AccuracyResponse,
  DeliveryResponse,
  DoctorResponse,
  OverviewResponse,
  RangeQuery,
  ReplayBody,
  ReplayResponse,
  SandboxRequestsQuery,
  SandboxRequestsResponse,
  SessionDetailResponse,
  SessionTimelineResponse,
  TimelineQuery,
  SessionIdParam,
  SessionInfoResponse,
  SessionListResponse,
  SessionsQuery,
  SourcesQuery,
  SourcesResponse,
} from '../dashboard/api-schema.js';
import { dashboardAuth, SESSION_COOKIE, type DashboardAuth } from '../dashboard/auth.js';
import { accuracyItems, deliveryAccuracy, destinations, DRILL_DOWN_LIMIT } from '../accuracy/delivery-accuracy.js';
import { lifecycleNote, overview, sources } from '../dashboard/overview.js';
import { conversionCounts, postbackCounts, deadLetters, jobCounts, lastCalls, listSessions, replayJob, sandboxRequests, sessionDetail, sessionTimeline } from '../dashboard/queries.js';
import { runChecks, type Check } from '../doctor-checks.js';
import { fail } from '../http/errors.js';
import type { Store, Upstream } from '../store/store.js';
import type { UpstreamHealth } from '../upstream-health.js';
import { htmlPage } from '../http/html-page.js';

export const DASHBOARD_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const DEFAULT_LINK_TTL_MS = 7 * 86_400_000;

export interface DashboardRouteDeps {
  /** `POSTBACKS_FILE`'s postbacks in force (the accuracy lists each). */
  postbacks?: PostbackRegistry;
  config: Config;
  secret: string;
  store: Store;
  health: UpstreamHealth;
  /** Time of sign-ins, figures and replays. */
  clock?: Clock;
  /** Where the built UI lives (default dist/dashboard). */
  assetsDir?: string;
  /** Doctor checks, replaceable in tests. */
  checks?: () => Promise<Check[]>;
  /** Lifetime of a recovery link: carts older than this without an order are lost. */
  linkTtlMs?: number;
}

function readAsset(dir: string, name: string): string | undefined {
  try {
    return readFileSync(`${dir}/${name}`, 'utf8');
  } catch {
    return undefined;
  }
}

const page = (title: string, body: string, script = true) =>
  htmlPage({
    title,
    head: `<link rel="stylesheet" href="/dashboard/app.css">${script ? '\n<script type="module" src="/dashboard/app.js"></script>' : ''}`,
    body,
  });

const LOGIN_PAGE = (message: string) =>
  page(
    'Sign in · funnelbeacon',
    `<main class="login">
<h1>funnelbeacon</h1>
<form method="post" action="/dashboard/login">
<label for="token">Dashboard token</label>
<input id="token" name="token" type="password" autocomplete="current-password" required maxlength="512">
${message ? `<p class="error" role="alert">${message}</p>` : ''}
<button type="submit">Sign in</button>
</form>
<p class="hint">The token is the collector's DASHBOARD_TOKEN.</p>
</main>`,
    false,
  );

export function dashboardRoute({ config, secret, store, health, clock = systemClock, assetsDir = 'dist/dashboard', checks, linkTtlMs = DEFAULT_LINK_TTL_MS, postbacks }: DashboardRouteDeps): Hono {
  const now = () => clock.now();
  const app = new Hono();
  const auth = dashboardAuth({ config, secret, clock, revocations: store });
  const sql = store.sql();
  const assets = { js: readAsset(assetsDir, 'app.js'), css: readAsset(assetsDir, 'app.css') };
  const runDoctor = checks ?? (() => runChecks({ ok: true, config }, { store, clock }));
  let lastDoctor: { at: number; checks: Check[] } | undefined;

  const send = <S extends z.ZodType>(c: Context, schema: S, value: z.input<S>) => c.json(schema.parse(value) as never);
  const query = <S extends z.ZodType>(c: Context, schema: S): z.output<S> => {
    const parsed = schema.safeParse(c.req.query());
    if (!parsed.success) fail(400, 'bad_request', parsed.error.issues.map((issue) => `${issue.path.join('.') || 'query'}: ${issue.message}`).join('; '));
    return parsed.data;
  };

  app.use('/dashboard/*', async (c, next) => {
    await next();
    c.header('content-security-policy', DASHBOARD_CSP);
    c.header('x-content-type-options', 'nosniff');
    c.header('referrer-policy', 'no-referrer');
    c.header('x-frame-options', 'DENY');
    if (c.req.path.startsWith('/dashboard/api/')) c.header('cache-control', 'no-store');
  });

  app.get('/dashboard', (c) => c.redirect('/dashboard/'));
  app.get('/dashboard/', async (c) => {
    try {
      await auth.identify(c);
    } catch (error) {
      if (!config.sandbox && config.dashboardToken) return c.redirect('/dashboard/login');
      throw error;
    }
    if (!assets.js) fail(503, 'not_built', 'The dashboard is not built: run `node build.mjs` (npm start does).');
    return c.html(page('funnelbeacon', '<div id="app"><p class="loading">Loading the dashboard…</p></div>'));
  });
  app.get('/dashboard/app.js', (c) => {
    if (!assets.js) fail(404, 'not_built', 'The dashboard is not built.');
    return c.body(assets.js, 200, { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'no-cache' });
  });
  app.get('/dashboard/app.css', (c) => {
    if (!assets.css) fail(404, 'not_built', 'The dashboard is not built.');
    return c.body(assets.css, 200, { 'content-type': 'text/css; charset=utf-8', 'cache-control': 'no-cache' });
  });

  app.get('/dashboard/login', (c) => (config.sandbox ? c.redirect('/dashboard/') : c.html(LOGIN_PAGE(''))));
  app.post('/dashboard/login', async (c) => {
    // Browsers say where a form came from in Sec-Fetch-Site. Under the dashboard's no-referrer
    // policy Chromium sends `Origin: null` even for its own form, so Origin is only the fallback
    // for clients that send no Sec-Fetch-Site.
    const site = c.req.header('sec-fetch-site');
    const origin = c.req.header('origin');
    const sameOrigin = site ? site === 'same-origin' : !origin || origin === new URL(c.req.url).origin || origin === config.publicUrl;
    if (!sameOrigin) fail(403, 'csrf', 'Sign in from the dashboard itself.');
    const form = await c.req.parseBody().catch(() => ({}) as Record<string, unknown>);
    const given = typeof form.token === 'string' ? form.token.slice(0, 512) : '';
    let cookie: string;
    try {
      cookie = await auth.login(c, given);
    } catch (error) {
      const status = (error as { status?: number }).status;
      if (status === 401) return c.html(LOGIN_PAGE('That token is not right.'), 401);
      if (status === 429) return c.html(LOGIN_PAGE('Too many failed attempts: wait a few minutes.'), 429);
      throw error;
    }
    setCookie(c, SESSION_COOKIE, cookie, {
      httpOnly: true,
      sameSite: 'Strict',
      secure: auth.secureCookie(c),
      path: '/dashboard',
      maxAge: Math.floor(auth.sessionMs / 1000),
    });
    return c.redirect('/dashboard/', 303);
  });

  const api = new Hono();
  api.use('*', auth.guard);

  api.get('/session', (c) => {
    const who = c.get('dashboardAuth' as never) as DashboardAuth;
    return send(c, SessionInfoResponse, { mode: config.sandbox ? 'sandbox' : 'live', csrf: auth.csrfFor(who), auth: who.kind });
  });
  api.post('/logout', async (c) => {
    // Ended on the server too: a copy of the cookie replayed later is refused by every collector.
    await auth.endCookieSession(c);
    deleteCookie(c, SESSION_COOKIE, { path: '/dashboard' });
    return c.body(null, 204);
  });

  api.get('/overview', async (c) => {
    const { from, to } = query(c, RangeQuery);
    return send(c, OverviewResponse, await overview(sql, from, to, { now: now(), linkTtlMs, lifecycle: { enabled: config.lifecycle.enabled, note: lifecycleNote(config) } }));
  });

  api.get('/sources', async (c) => {
    const { from, to, dim } = query(c, SourcesQuery);
    return send(c, SourcesResponse, await sources(sql, dim, from, to, { now: now(), linkTtlMs }));
  });

  api.get('/sessions', async (c) => {
    const { q, before, limit } = query(c, SessionsQuery);
    return send(c, SessionListResponse, { sessions: await listSessions(sql, { ...(q ? { q } : {}), ...(before ? { before } : {}), limit }) });
  });

  api.get('/sessions/:id', async (c) => {
    const id = SessionIdParam.safeParse(c.req.param('id'));
    if (!id.success) fail(400, 'bad_request', 'Not a session id.');
    const detail = await sessionDetail(store, id.data);
    if (!detail) fail(404, 'not_found', 'No such session.');
    return send(c, SessionDetailResponse, detail);
  });

  // Later pages of a session's timeline ("Show more" on the session's page).
  api.get('/sessions/:id/timeline', async (c) => {
    const id = SessionIdParam.safeParse(c.req.param('id'));
    if (!id.success) fail(400, 'bad_request', 'Not a session id.');
    const { after, limit } = query(c, TimelineQuery);
    return send(c, SessionTimelineResponse, await sessionTimeline(sql, id.data, { ...(after ? { after } : {}), limit }));
  });

  const showsSandbox = config.sandbox || config.emitVia === 'sandbox';
  /** The period of the Delivery view's conversion counts. */
  const CONVERSION_COUNT_DAYS = 7;
  const SANDBOX_PAGE = 50;

  api.get('/delivery', async (c) => {
    const status = health.all();
    const upstreams = await Promise.all(
      (Object.keys(status) as Upstream[]).map(async (upstream) => ({
        upstream,
        state: status[upstream].state,
        reason: status[upstream].reason ?? null,
        since: status[upstream].since,
        ...(await lastCalls(sql, upstream)),
      })),
    );
    const recorded = showsSandbox ? await sandboxRequests(sql, SANDBOX_PAGE) : { requests: [], next: null };
    return send(c, DeliveryResponse, {
      mode: config.sandbox ? 'sandbox' : 'live',
      jobs: await jobCounts(sql),
      dead: await deadLetters(sql, 100),
      upstreams,
      sandboxRequests: recorded.requests,
      sandboxNext: recorded.next,
      conversions: await conversionCounts(sql, now() - CONVERSION_COUNT_DAYS * 24 * 60 * 60_000),
      postbacks: await postbackCounts(sql, now() - CONVERSION_COUNT_DAYS * 24 * 60 * 60_000),
    });
  });

  // Older pages of the sandbox's requests ("Show more" on the Delivery view).
  api.get('/delivery/sandbox', async (c) => {
    const { before, limit } = query(c, SandboxRequestsQuery);
    return send(c, SandboxRequestsResponse, showsSandbox ? await sandboxRequests(sql, limit, before) : { requests: [], next: null });
  });

  // Delivery accuracy per destination (collector/accuracy/): the period and the one before it.
  // Read at each request: a reloaded POSTBACKS_FILE changes the postbacks listed.
  const accuracyDestinations = () => destinations(config, postbacks?.postbacks);
  const accuracyPeriod = (c: Context) => {
    const { from, to } = query(c, AccuracyQuery);
    const end = to ?? (from !== undefined ? Math.min(from + 86_400_000, now()) : now());
    const start = from ?? end - 86_400_000;
    if (end <= start) fail(400, 'bad_request', '`to` must be after `from`');
    return { from: start, to: end };
  };
  const figures = ({ destination: _d, label: _l, ...rest }: Awaited<ReturnType<typeof deliveryAccuracy>>[number]) => rest;

  api.get('/delivery/accuracy', async (c) => {
    const period = accuracyPeriod(c);
    const previous = { from: 2 * period.from - period.to, to: period.from };
    const list = accuracyDestinations();
    const [current, before] = [await deliveryAccuracy(sql, list, period), await deliveryAccuracy(sql, list, previous)];
    return send(c, AccuracyResponse, {
      ...period,
      previous,
      threshold: config.alerts.accuracy,
      destinations: current.map((row, index) => ({ destination: row.destination, label: row.label, current: figures(row), previous: figures(before[index]!) })),
    });
  });

  api.get('/delivery/accuracy/:destination/items', async (c) => {
    const id = AccuracyDestinationParam.safeParse(c.req.param('destination'));
    const destination = id.success ? accuracyDestinations().find((each) => each.id === id.data) : undefined;
    if (!destination) fail(404, 'not_found', 'No such destination.');
    const period = accuracyPeriod(c);
    return send(c, AccuracyItemsResponse, {
      destination: destination.id,
      label: destination.label,
      ...period,
      items: await accuracyItems(sql, destination, period, DRILL_DOWN_LIMIT),
      limit: DRILL_DOWN_LIMIT,
    });
  });

  api.post('/delivery/replay', async (c) => {
    const body = ReplayBody.safeParse(await c.req.json().catch(() => undefined));
    if (!body.success) fail(400, 'bad_request', 'Expected {"id": <dead job id>}.');
    const replayed = (await replayJob(sql, body.data.id, now())) ? 1 : 0;
    return send(c, ReplayResponse, { replayed });
  });

  api.post('/delivery/replay-all', async (c) => send(c, ReplayResponse, { replayed: await store.replayDeadJobs(now()) }));

  api.post('/doctor', async (c) => {
    // The checks call upstreams: at most one run per 10 s, whoever asks.
    if (!lastDoctor || now() - lastDoctor.at > 10_000) lastDoctor = { at: now(), checks: await runDoctor() };
    return send(c, DoctorResponse, lastDoctor);
  });

  app.route('/dashboard/api', api);
  return app;
}
