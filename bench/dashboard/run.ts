/**
 * bench/dashboard: the dashboard's queries on a large store. Fills a store with N sessions
 * (default 1,000,000) spread over 60 days, with a realistic mix of funnel steps, leads, carts,
 * orders, recoveries and emissions (bulk SQL in a transaction), builds the hourly rollup once,
 * then times the overview, the sources breakdown and the session search for today, 7 and 30
 * days: cold (first call on a freshly opened store), warm (median of repeated calls), and live
 * (warm, with the current hour marked dirty before each call, as steady ingest keeps it), on
 * SQLite and on PostgreSQL (a fresh schema, dropped afterwards).
 *
 *   npm run build && node dist/bench/dashboard.js [--sessions 1000000] [--runs 5] [--store sqlite|postgres|both]
 *
 * PostgreSQL: FUNNELBEACON_TEST_POSTGRES_URL, default postgres://postgres@127.0.0.1:5432/test;
 * skipped (and said so) when nothing answers there.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import pg from 'pg';
import { overview, sources } from '../../collector/dashboard/overview.js';
import { listSessions } from '../../collector/dashboard/queries.js';
import { HOUR_MS, refreshRollup } from '../../collector/dashboard/rollup.js';
import { openStore } from '../../collector/store/open-store.js';
import type { SqlAccess, Store } from '../../collector/store/store.js';

const { values } = parseArgs({
  options: {
    sessions: { type: 'string', default: '1000000' },
    runs: { type: 'string', default: '5' },
    store: { type: 'string', default: 'both' },
  },
});
const N = Number(values.sessions);
const RUNS = Number(values.runs);
const DAY = 86_400_000;
const NOW = Date.now();
const START = NOW - 60 * DAY;
const LINK_TTL = 7 * DAY;
const PG_URL = process.env.FUNNELBEACON_TEST_POSTGRES_URL || 'postgres://postgres@127.0.0.1:5432/test';

// ---------------------------------------------------------------------------------------------
// Data: one deterministic generator for both stores.

function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const UAS = {
  mobile: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
  desktop: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
  tablet: 'Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
};
const UTM_SOURCES = ['fb', 'fb', 'fb', 'google', 'google', 'tiktok', 'newsletter', 'taboola'];

interface SessionRow {
  id: string;
  createdAt: number;
  lastSeenAt: number;
  landingUrl: string;
  userAgent: string;
  isBot: boolean;
  lastPage: string;
  lead: string;
  cart: string | null;
  claimedOrderId: string | null;
  konnektive: string;
  state: string;
}
interface Outcome {
  sessionId: string;
  cartAt: number | null;
  cartCents: number | null;
  linkExpiresAt: number | null;
  clicks: number;
  firstClickAt: number | null;
  orderAt: number | null;
  orderCents: number | null;
  recovered: number;
  recoveredByLink: number;
}
interface EmissionRow {
  sessionId: string;
  kind: 'cart' | 'order';
  payload: string;
  at: number;
}
interface Batch {
  sessions: SessionRow[];
  clicks: [string, string][];
  outcomes: Outcome[];
  emissions: EmissionRow[];
}

const CART_1 = JSON.stringify({ items: [{ id: '41', name: 'Bottle', price: 39.95, qty: 1 }], currency: 'USD' });
const CART_2 = JSON.stringify({ items: [{ id: '41', name: 'Bottle', price: 39.95, qty: 2 }], currency: 'USD' });
const ORDER_1 = JSON.stringify({ currency: 'USD', totalPrice: 3995, items: [{ externalid: '41', quantity: 1, price: 3995 }] });
const ORDER_UPSELL = JSON.stringify({ currency: 'USD', totalPrice: 5245, items: [{ externalid: '41', quantity: 1, price: 3995 }, { externalid: '42', quantity: 1, price: 1250 }] });

/** Sessions [from, to): about 45% reach the lead page, 28% leave an email, 22% the checkout, 8% buy; 60% of carts with an email are abandoned, 12% of those recovered. */
function generate(from: number, to: number): Batch {
  const batch: Batch = { sessions: [], clicks: [], outcomes: [], emissions: [] };
  for (let i = from; i < to; i++) {
    const r = prng(i * 2654435761);
    const id = `s${i.toString(36).padStart(8, '0')}`;
    const createdAt = Math.floor(START + (i / N) * 60 * DAY + r() * 60_000);
    const device = r() < 0.62 ? 'mobile' : r() < 0.87 ? 'desktop' : 'tablet';
    const isBot = r() < 0.03;
    const params = new URLSearchParams();
    if (r() < 0.85) params.set('affId', `A${Math.floor(60 * r() * r()) + 1}`);
    if (r() < 0.7) params.set('c1', `sub${Math.floor(300 * r())}`);
    if (r() < 0.9) params.set('utm_source', UTM_SOURCES[Math.floor(r() * UTM_SOURCES.length)]!);
    if (r() < 0.8) params.set('utm_campaign', `camp${Math.floor(150 * r() * r())}`);
    const pages = ['presell'];
    let lead: Record<string, string> = {};
    let konnektive: Record<string, string> = { sessionId: `k${id}` };
    let cart: string | null = null;
    let claimedOrderId: string | null = null;
    let state = 'expired';
    let lastSeenAt = createdAt + Math.floor(r() * 120_000);
    const reachedLead = !isBot && r() < 0.45;
    if (reachedLead) {
      pages.push('lead');
      lastSeenAt += Math.floor(r() * 300_000);
      if (r() < 0.62) {
        lead = { firstName: 'Ann', lastName: `Lee${i}`, emailAddress: `buyer${i}@example.com`, ...(r() < 0.6 ? { phoneNumber: `555${String(i).padStart(7, '0')}` } : {}) };
        konnektive = { ...konnektive, orderId: `K${id.toUpperCase()}`, customerId: String(i) };
      }
      if (r() < 0.5) {
        pages.push('checkout');
        cart = r() < 0.85 ? CART_1 : CART_2;
      }
    }
    const cartCents = cart === CART_2 ? 7990 : 3995;
    const old = NOW - lastSeenAt > 3 * 3_600_000;
    let outcome: Outcome | undefined;
    if (cart && lead.emailAddress && old) {
      const bought = r() < 0.35;
      if (bought) {
        const upsell = r() < 0.3;
        pages.push('upsell1', 'thankyou');
        claimedOrderId = `O${id.toUpperCase()}`;
        state = 'complete';
        const orderAt = lastSeenAt + 15 * 60_000;
        outcome = { sessionId: id, cartAt: null, cartCents: null, linkExpiresAt: null, clicks: 0, firstClickAt: null, orderAt, orderCents: upsell ? 5245 : 3995, recovered: 0, recoveredByLink: 0 };
        batch.emissions.push({ sessionId: id, kind: 'order', payload: upsell ? ORDER_UPSELL : ORDER_1, at: orderAt });
      } else {
        const cartAt = lastSeenAt + 30 * 60_000;
        const recovered = r() < 0.12;
        const clicks = recovered ? 1 + Math.floor(r() * 2) : r() < 0.2 ? 1 : 0;
        const orderAt = recovered ? cartAt + Math.floor(r() * 2 * DAY) : null;
        const byLink = recovered && r() < 0.8 ? 1 : 0;
        state = recovered ? 'complete' : 'abandoned';
        if (recovered) claimedOrderId = `O${id.toUpperCase()}`;
        outcome = {
          sessionId: id,
          cartAt,
          cartCents,
          linkExpiresAt: cartAt + LINK_TTL,
          clicks,
          firstClickAt: clicks > 0 ? cartAt + 3_600_000 : null,
          orderAt: orderAt !== null && orderAt < NOW ? orderAt : null,
          orderCents: orderAt !== null && orderAt < NOW ? cartCents : null,
          recovered: orderAt !== null && orderAt < NOW ? 1 : 0,
          recoveredByLink: orderAt !== null && orderAt < NOW ? byLink : 0,
        };
        batch.emissions.push({ sessionId: id, kind: 'cart', payload: JSON.stringify({ currency: 'USD', totalPrice: cartCents }), at: cartAt });
        if (outcome.orderAt !== null) batch.emissions.push({ sessionId: id, kind: 'order', payload: ORDER_1, at: outcome.orderAt });
      }
    } else if (!old) {
      state = 'open';
    }
    if (outcome) batch.outcomes.push(outcome);
    for (const page of pages) batch.clicks.push([id, page]);
    batch.sessions.push({
      id,
      createdAt,
      lastSeenAt,
      landingUrl: `https://offer.example/presell${params.size ? `?${params}` : ''}`,
      userAgent: isBot ? 'Googlebot/2.1 (+http://www.google.com/bot.html)' : UAS[device],
      isBot,
      lastPage: pages[pages.length - 1]!,
      lead: JSON.stringify(lead),
      cart,
      claimedOrderId,
      konnektive: JSON.stringify(konnektive),
      state,
    });
  }
  return batch;
}

const CHUNK = 20_000;

async function fillSqlite(path: string): Promise<void> {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = OFF');
  const session = db.prepare(
    `INSERT INTO sessions (id, campaign_id, created_at, last_seen_at, landing_url, user_agent, ip, is_bot, last_page, lead, cart, claimed_order_id, konnektive, state, state_changed_at)
     VALUES (?, '12', ?, ?, ?, ?, '203.0.113.9', ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const click = db.prepare('INSERT INTO session_clicks (session_id, page) VALUES (?, ?)');
  const outcome = db.prepare(
    `INSERT INTO session_outcomes (session_id, cart_at, cart_cents, cart_currency, link_expires_at, clicks, first_click_at, last_click_at, order_at, order_cents, order_currency, recovered, recovered_by_link)
     VALUES (?, ?, ?, 'USD', ?, ?, ?, ?, ?, ?, 'USD', ?, ?)`,
  );
  const emission = db.prepare("INSERT INTO emissions (session_id, kind, status, remote_id, payload, created_at, updated_at) VALUES (?, ?, 'sent', ?, ?, ?, ?)");
  const write = db.transaction((batch: Batch) => {
    for (const s of batch.sessions) session.run(s.id, s.createdAt, s.lastSeenAt, s.landingUrl, s.userAgent, s.isBot ? 1 : 0, s.lastPage, s.lead, s.cart, s.claimedOrderId, s.konnektive, s.state, s.lastSeenAt);
    for (const [id, page] of batch.clicks) click.run(id, page);
    for (const o of batch.outcomes) {
      outcome.run(o.sessionId, o.cartAt, o.cartCents, o.linkExpiresAt, o.clicks, o.firstClickAt, o.firstClickAt, o.orderAt, o.orderCents, o.recovered, o.recoveredByLink);
    }
    for (const e of batch.emissions) emission.run(e.sessionId, e.kind, `r-${e.sessionId}-${e.kind}`, e.payload, e.at, e.at);
  });
  for (let from = 0; from < N; from += CHUNK) write(generate(from, Math.min(N, from + CHUNK)));
  db.close();
}

async function fillPostgres(url: string, schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`SET search_path TO ${pg.escapeIdentifier(schema)}`);
    // The bulk load skips the rollup's per-row triggers, then marks every hour dirty at once,
    // as migration 8 does for an existing store.
    for (const table of ['sessions', 'session_clicks', 'session_outcomes', 'emissions']) await client.query(`ALTER TABLE ${table} DISABLE TRIGGER USER`);
    for (let from = 0; from < N; from += CHUNK) {
      const b = generate(from, Math.min(N, from + CHUNK));
      await client.query('BEGIN');
      const col = <T>(rows: T[], pick: (row: T) => unknown) => rows.map(pick);
      await client.query(
        `INSERT INTO sessions (id, campaign_id, created_at, last_seen_at, landing_url, user_agent, ip, is_bot, last_page, lead, cart, claimed_order_id, konnektive, state, state_changed_at)
         SELECT id, '12', c, l, u, ua, '203.0.113.9', bot, lp, lead, cart, co, k, st, l
           FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::boolean[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[])
             AS t(id, c, l, u, ua, bot, lp, lead, cart, co, k, st)`,
        [
          col(b.sessions, (s) => s.id),
          col(b.sessions, (s) => s.createdAt),
          col(b.sessions, (s) => s.lastSeenAt),
          col(b.sessions, (s) => s.landingUrl),
          col(b.sessions, (s) => s.userAgent),
          col(b.sessions, (s) => s.isBot),
          col(b.sessions, (s) => s.lastPage),
          col(b.sessions, (s) => s.lead),
          col(b.sessions, (s) => s.cart),
          col(b.sessions, (s) => s.claimedOrderId),
          col(b.sessions, (s) => s.konnektive),
          col(b.sessions, (s) => s.state),
        ],
      );
      await client.query('INSERT INTO session_clicks (session_id, page) SELECT * FROM unnest($1::text[], $2::text[])', [col(b.clicks, (c) => c[0]), col(b.clicks, (c) => c[1])]);
      await client.query(
        `INSERT INTO session_outcomes (session_id, cart_at, cart_cents, cart_currency, link_expires_at, clicks, first_click_at, last_click_at, order_at, order_cents, order_currency, recovered, recovered_by_link)
         SELECT id, ca, cc, 'USD', le, cl, fc, fc, oa, oc, 'USD', re, rl
           FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::int[], $6::bigint[], $7::bigint[], $8::bigint[], $9::int[], $10::int[]) AS t(id, ca, cc, le, cl, fc, oa, oc, re, rl)`,
        [
          col(b.outcomes, (o) => o.sessionId),
          col(b.outcomes, (o) => o.cartAt),
          col(b.outcomes, (o) => o.cartCents),
          col(b.outcomes, (o) => o.linkExpiresAt),
          col(b.outcomes, (o) => o.clicks),
          col(b.outcomes, (o) => o.firstClickAt),
          col(b.outcomes, (o) => o.orderAt),
          col(b.outcomes, (o) => o.orderCents),
          col(b.outcomes, (o) => o.recovered),
          col(b.outcomes, (o) => o.recoveredByLink),
        ],
      );
      await client.query(
        `INSERT INTO emissions (session_id, kind, status, remote_id, payload, created_at, updated_at)
         SELECT id, k, 'sent', 'r-' || id || '-' || k, p, a, a FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[]) AS t(id, k, p, a)`,
        [col(b.emissions, (e) => e.sessionId), col(b.emissions, (e) => e.kind), col(b.emissions, (e) => e.payload), col(b.emissions, (e) => e.at)],
      );
      await client.query('COMMIT');
    }
    for (const table of ['sessions', 'session_clicks', 'session_outcomes', 'emissions']) await client.query(`ALTER TABLE ${table} ENABLE TRIGGER USER`);
    await client.query('INSERT INTO dashboard_dirty (bucket) SELECT DISTINCT created_at / 3600000 FROM sessions ON CONFLICT DO NOTHING');
    await client.query('INSERT INTO dashboard_dirty (bucket) SELECT DISTINCT cart_at / 3600000 FROM session_outcomes WHERE cart_at IS NOT NULL ON CONFLICT DO NOTHING');
    await client.query('INSERT INTO dashboard_dirty (bucket) SELECT DISTINCT order_at / 3600000 FROM session_outcomes WHERE order_at IS NOT NULL ON CONFLICT DO NOTHING');
    await client.query('ANALYZE');
  } finally {
    await client.end();
  }
}

// ---------------------------------------------------------------------------------------------
// Timing.

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const ms = (x: number) => (x < 10 ? x.toFixed(1) : Math.round(x).toString());

async function timed<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const started = performance.now();
  const value = await fn();
  return [performance.now() - started, value];
}

function startOfToday(): number {
  const d = new Date(NOW);
  d.setHours(0, 0, 0, 0);
  return d.getTime();
}

const RANGES: [string, number, number][] = [
  ['today', startOfToday(), NOW],
  ['7 d', NOW - 7 * DAY, NOW],
  ['30 d', NOW - 30 * DAY, NOW],
];

interface Result {
  store: string;
  query: string;
  range: string;
  cold: number;
  warm: number;
  live: number | undefined;
}

async function markCurrentHour(sql: SqlAccess): Promise<void> {
  await sql.run(
    'INSERT INTO dashboard_dirty (bucket) VALUES (?) ON CONFLICT DO NOTHING',
    [Math.floor(NOW / HOUR_MS)],
  );
}

async function measure(label: string, url: string): Promise<{ results: Result[]; rebuild: { ms: number; hours: number } }> {
  const results: Result[] = [];
  let store: Store = await openStore(url);
  const [rebuildMs, refreshed] = await timed(() => refreshRollup(store.sql(), { budgetMs: Number.POSITIVE_INFINITY, batch: 24 }));
  console.log(`${label}: rollup built from scratch: ${refreshed.hours} hours in ${(rebuildMs / 1000).toFixed(1)} s`);
  if (refreshed.pending !== 0) throw new Error('rollup not complete');

  // A buyer of the 90th percentile of the store's history, found by creation time (indexed).
  const [{ id: someSession } = { id: '' }] = await store
    .sql()
    .all<{ id: string }>('SELECT id FROM sessions WHERE created_at >= ? AND claimed_order_id IS NOT NULL ORDER BY created_at LIMIT 1', [START + 54 * DAY]);
  const email = `buyer${parseInt(someSession.slice(1), 36)}@example.com`;
  const orderId = `O${someSession.toUpperCase()}`;
  const crmOrder = `K${someSession.toUpperCase()}`;

  const queries: { name: string; range: boolean; live: boolean; run: (sql: SqlAccess, from: number, to: number) => Promise<unknown> }[] = [
    { name: 'overview', range: true, live: true, run: (sql, from, to) => overview(sql, from, to, { now: NOW, linkTtlMs: LINK_TTL }) },
    { name: 'sources: affId', range: true, live: true, run: (sql, from, to) => sources(sql, 'affId', from, to, { now: NOW, linkTtlMs: LINK_TTL }) },
    { name: 'sources: utm_source', range: true, live: false, run: (sql, from, to) => sources(sql, 'utm_source', from, to, { now: NOW, linkTtlMs: LINK_TTL }) },
    { name: 'sessions: latest 50', range: false, live: false, run: (sql) => listSessions(sql, { limit: 50 }) },
    { name: 'sessions: by email', range: false, live: false, run: (sql) => listSessions(sql, { q: email, limit: 50 }) },
    { name: 'sessions: by order id', range: false, live: false, run: (sql) => listSessions(sql, { q: orderId, limit: 50 }) },
    { name: 'sessions: by CRM order id', range: false, live: false, run: (sql) => listSessions(sql, { q: crmOrder, limit: 50 }) },
    { name: 'sessions: by affId (A1)', range: false, live: false, run: (sql) => listSessions(sql, { q: 'A1', limit: 50 }) },
  ];
  for (const query of queries) {
    for (const [range, from, to] of query.range ? RANGES : [['–', 0, 0] as [string, number, number]]) {
      // Cold: a freshly opened store (new connection, empty page cache of the connection).
      await store.close();
      store = await openStore(url);
      const [cold, first] = await timed(() => query.run(store.sql(), from, to));
      if (query.name.startsWith('sessions: by') && (first as unknown[]).length === 0) throw new Error(`${query.name}: no match`);
      const warm: number[] = [];
      for (let i = 0; i < RUNS; i++) warm.push((await timed(() => query.run(store.sql(), from, to)))[0]);
      let live: number | undefined;
      if (query.live) {
        const times: number[] = [];
        for (let i = 0; i < RUNS; i++) {
          await markCurrentHour(store.sql());
          times.push((await timed(() => query.run(store.sql(), from, to)))[0]);
        }
        live = median(times);
      }
      results.push({ store: label, query: query.name, range, cold, warm: median(warm), live });
    }
  }
  await store.close();
  return { results, rebuild: { ms: rebuildMs, hours: refreshed.hours } };
}

async function postgresReachable(): Promise<string | undefined> {
  const probe = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 2000 });
  try {
    await probe.connect();
    return undefined;
  } catch (error) {
    return (error as Error).message;
  } finally {
    await probe.end().catch(() => {});
  }
}

const all: Result[] = [];
const loads: string[] = [];
const stores = values.store === 'both' ? ['sqlite', 'postgres'] : [values.store];

if (stores.includes('sqlite')) {
  const dir = mkdtempSync(join(tmpdir(), 'funnelbeacon-dashboard-bench-'));
  try {
    const path = join(dir, 'dashboard.db');
    const migrated = await openStore(`file:${path}`);
    await migrated.migrate();
    await migrated.close();
    const [fillMs] = await timed(() => fillSqlite(path));
    loads.push(`SQLite: ${N.toLocaleString('en')} sessions loaded in ${(fillMs / 1000).toFixed(1)} s`);
    console.log(loads.at(-1));
    const { results, rebuild } = await measure('SQLite', `file:${path}`);
    loads.push(`SQLite: rollup built from scratch (${rebuild.hours} hours) in ${(rebuild.ms / 1000).toFixed(1)} s`);
    all.push(...results);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (stores.includes('postgres')) {
  const unreachable = await postgresReachable();
  if (unreachable) {
    console.log(`PostgreSQL skipped: nothing answers at ${PG_URL} (${unreachable})`);
  } else {
    const schema = `fb_bench_dashboard_${randomBytes(4).toString('hex')}`;
    const url = `${PG_URL}${PG_URL.includes('?') ? '&' : '?'}schema=${schema}`;
    try {
      const migrated = await openStore(url);
      await migrated.migrate();
      await migrated.close();
      const [fillMs] = await timed(() => fillPostgres(PG_URL, schema));
      loads.push(`PostgreSQL: ${N.toLocaleString('en')} sessions loaded in ${(fillMs / 1000).toFixed(1)} s`);
      console.log(loads.at(-1));
      const { results, rebuild } = await measure('PostgreSQL', url);
      loads.push(`PostgreSQL: rollup built from scratch (${rebuild.hours} hours) in ${(rebuild.ms / 1000).toFixed(1)} s`);
      all.push(...results);
    } finally {
      const admin = new pg.Client({ connectionString: PG_URL });
      await admin.connect();
      await admin.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(schema)} CASCADE`);
      await admin.end();
    }
  }
}

console.log(`\nDashboard queries on ${N.toLocaleString('en')} stored sessions (ms; warm and live are medians of ${RUNS})\n`);
console.log('| store | query | range | cold | warm | live (current hour dirty) |');
console.log('|---|---|---|---:|---:|---:|');
for (const r of all) console.log(`| ${r.store} | ${r.query} | ${r.range} | ${ms(r.cold)} | ${ms(r.warm)} | ${r.live === undefined ? '' : ms(r.live)} |`);
const slow = all.filter((r) => r.warm > 100);
console.log(slow.length ? `\nslower than 100 ms warm: ${slow.map((r) => `${r.store} ${r.query} ${r.range}`).join(', ')}` : '\nevery query under 100 ms warm');
for (const line of loads) console.log(line);
