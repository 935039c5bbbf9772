/**
 * bench/accuracy: the delivery accuracy check (the Delivery view's figures and the alerts' check)
 * on a store that has just filled: N sessions begun within the last two hours, each with its
 * page views, lead, cart, and the jobs and attempts of every destination (Konnektive, ActiveCampaign,
 * Meta, TikTok, one lead postback), written in bulk in one transaction. Times every destination's
 * figures over the last two hours, first as the store stands (on PostgreSQL: no statistics gathered
 * yet, as after a burst of traffic, before autovacuum has looked), then after ANALYZE, on SQLite and
 * on PostgreSQL (a fresh schema, dropped afterwards). Prints the slowest destinations of each run.
 *
 *   npm run build && node dist/bench/accuracy.js [--sessions 100000] [--store sqlite|postgres|both]
 *
 * PostgreSQL: FUNNELBEACON_TEST_POSTGRES_URL, default postgres://postgres@127.0.0.1:5432/test;
 * skipped (and said so) when nothing answers there.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { destinationAccuracy, destinations } from '../../collector/accuracy/delivery-accuracy.js';
import type { Config } from '../../collector/config.js';
import { openStore } from '../../collector/store/open-store.js';
import type { Store } from '../../collector/store/store.js';

const { values } = parseArgs({
  options: {
    sessions: { type: 'string', default: '100000' },
    store: { type: 'string', default: 'both' },
    // Prints the plan of one destination's query (as filled) instead of timing them all.
    explain: { type: 'string' },
  },
});
const N = Number(values.sessions);
const HOUR = 3_600_000;
const NOW = Date.now();
const PG_URL = process.env.FUNNELBEACON_TEST_POSTGRES_URL || 'postgres://postgres@127.0.0.1:5432/test';

/** A collector sending everywhere: Konnektive, ActiveCampaign, its lifecycle, Meta and TikTok. */
const CONFIG = {
  emitVia: 'activecampaign',
  activeCampaign: { apiUrl: 'https://acct.api-us1.com', apiKey: 'k' },
  lifecycle: { enabled: true },
  sandbox: false,
  adPlatforms: { meta: { pixelId: '1', accessToken: 't', apiUrl: 'https://graph.example' }, tiktok: { pixelCode: 'P', accessToken: 't', apiUrl: 'https://tiktok.example' } },
} as unknown as Config;
const POSTBACKS = [{ name: 'all-leads', on: 'lead' as const }];

/**
 * The fill, as SQL over `generate_series`-like numbers `g.i` in 0..N-1 (a recursive CTE on
 * SQLite): who each session is and what it caused, deterministic from its number.
 */
function fillStatements(sqlite: boolean): string[] {
  const series = sqlite
    ? `WITH RECURSIVE g(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM g WHERE i + 1 < ${N})`
    : `WITH g(i) AS (SELECT generate_series(0, ${N - 1}))`;
  const bool = (expr: string) => (sqlite ? `(${expr})` : `(${expr})::boolean`);
  const at = `(${NOW - 2 * HOUR} + g.i * ${Math.floor((2 * HOUR) / N)})`;
  const sid = `('s' || g.i)`;
  // Every session views the landing page; 60% leave a lead (95% of them named), 40% reach the
  // checkout with a cart, 5% pay; 1% are bots.
  const lead = `CASE WHEN g.i % 10 < 6 THEN '{"firstName":"Ann","lastName":"' || CASE WHEN g.i % 20 = 0 THEN '' ELSE 'Lee' END || '","emailAddress":"a' || g.i || '@example.com"}' ELSE '{}' END`;
  const cart = `CASE WHEN g.i % 10 < 4 THEN '{"items":[{"id":"41","price":39.95,"qty":1}],"currency":"USD"}' END`;
  const order = `CASE WHEN g.i % 20 = 1 THEN '{"orderId":"O' || g.i || '","verified":true}' END`;
  const job = (kind: string, key: string, payload: string, where: string, state = `CASE WHEN g.i % 97 = 0 THEN 'dead' ELSE 'done' END`) =>
    `${series} INSERT INTO outbox (session_id, upstream, kind, payload, state, attempts, run_at, created_at, updated_at)
       SELECT ${key}, '${kind.split('.')[0]}', '${kind}', ${payload}, ${state}, 1, ${at}, ${at}, ${at} FROM g WHERE ${where}`;
  return [
    `${series} INSERT INTO sessions (id, campaign_id, created_at, last_seen_at, landing_url, user_agent, ip, is_bot, lead, cart, order_check, state)
       SELECT ${sid}, '1', ${at}, ${at}, 'https://shop.example/?affId=AFF' || (g.i % 3), 'Mozilla/5.0', '203.0.113.9', ${bool('g.i % 100 = 99')}, ${lead}, ${cart}, ${order},
              CASE WHEN g.i % 10 < 4 AND g.i % 20 <> 1 THEN 'abandoned' ELSE 'open' END FROM g`,
    `${series} INSERT INTO events (id, session_id, type, received_at, payload)
       SELECT 'e' || g.i || p.page, ${sid}, 'page', ${at}, '{"type":"page","page":"' || p.page || '"}'
         FROM g JOIN (SELECT 'landing' AS page UNION ALL SELECT 'checkout') p ON p.page = 'landing' OR g.i % 10 < 4`,
    `${series} INSERT INTO session_states (session_id, state, at) SELECT ${sid}, 'abandoned', ${at} FROM g WHERE g.i % 10 < 4 AND g.i % 20 <> 1`,
    `${series} INSERT INTO emissions (session_id, kind, status, payload, created_at, updated_at)
       SELECT ${sid}, CASE WHEN g.i % 20 = 1 THEN 'order' ELSE 'cart' END, 'sent', '{}', ${at}, ${at} FROM g WHERE g.i % 10 < 4`,
    job('konnektive.click', sid, `'{"page":"landing","url":"https://shop.example/"}'`, 'g.i % 100 <> 99'),
    job('konnektive.click', sid, `'{"page":"checkout","url":"https://shop.example/"}'`, 'g.i % 10 < 4 AND g.i % 100 <> 99'),
    job('konnektive.lead', sid, `'{}'`, 'g.i % 10 < 6 AND g.i % 100 <> 99'),
    ...['meta', 'tiktok'].flatMap((platform) => [
      job(`${platform}.conversion`, `'${platform}:' || ${sid}`, `'{"session":"s' || g.i || '","name":"Lead"}'`, 'g.i % 10 < 6 AND g.i % 100 <> 99'),
      job(`${platform}.conversion`, `'${platform}:' || ${sid}`, `'{"session":"s' || g.i || '","name":"InitiateCheckout"}'`, 'g.i % 10 < 4 AND g.i % 100 <> 99'),
      job(`${platform}.conversion`, `'${platform}:' || ${sid}`, `'{"session":"s' || g.i || '","name":"Purchase"}'`, 'g.i % 20 = 1 AND g.i % 100 <> 99'),
    ]),
    job('postback.route', `'postbacks:' || ${sid}`, `'{"session":"s' || g.i || '","event":"lead","eventId":"s' || g.i || '.lead"}'`, 'g.i % 10 < 6', `'done'`),
    job('postback.fire', `'postbacks:' || ${sid} || '/all-leads'`, `'{"eventId":"s' || g.i || '.lead"}'`, 'g.i % 10 < 6'),
    // One attempt per job; a third of the conversions skipped for want of consent.
    `INSERT INTO delivery_attempts (job_id, upstream, endpoint, request, response, outcome, http_status, latency_ms, created_at)
       SELECT o.id, o.upstream, o.kind, '{}', CASE WHEN o.id % 3 = 0 AND o.upstream IN ('meta', 'tiktok') THEN 'no_consent' ELSE '{}' END,
              CASE WHEN o.state = 'dead' THEN 'failed' WHEN o.id % 3 = 0 AND o.upstream IN ('meta', 'tiktok') THEN 'skipped' ELSE 'sent' END, 200, 100, o.created_at
         FROM outbox o`,
  ];
}

async function fill(store: Store): Promise<void> {
  const sqlite = store.sql().dialect.name === 'sqlite';
  await store.sql().transaction(async (sql) => {
    for (const statement of fillStatements(sqlite)) await sql.run(statement);
  });
}

async function timeAll(store: Store, label: string): Promise<void> {
  const list = destinations(CONFIG, POSTBACKS);
  const period = { from: NOW - 2 * HOUR, to: NOW + 1 };
  const times: [string, number, number][] = [];
  const started = performance.now();
  for (const destination of list) {
    const t = performance.now();
    const figures = await destinationAccuracy(store.sql(), destination, period);
    times.push([destination.id, performance.now() - t, figures.expected]);
  }
  const total = performance.now() - started;
  times.sort((a, b) => b[1] - a[1]);
  console.log(`  ${label}: all ${list.length} destinations in ${(total / 1000).toFixed(2)} s; slowest: ${times.slice(0, 4).map(([id, ms, n]) => `${id} ${ms.toFixed(0)} ms (${n} items)`).join(', ')}`);
}

async function run(name: 'sqlite' | 'postgres'): Promise<void> {
  let url: string;
  let cleanup: () => Promise<void>;
  if (name === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'funnelbeacon-bench-accuracy-'));
    url = `file:${join(dir, 'store.db')}`;
    cleanup = async () => rmSync(dir, { recursive: true, force: true });
  } else {
    const probe = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 2000 });
    try {
      await probe.connect();
    } catch (error) {
      console.log(`postgres: skipped, nothing answers at ${PG_URL} (${(error as Error).message})`);
      return;
    }
    const schema = `fb_bench_accuracy_${randomBytes(4).toString('hex')}`;
    url = `${PG_URL}${PG_URL.includes('?') ? '&' : '?'}schema=${schema}`;
    cleanup = async () => {
      await probe.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await probe.end();
    };
  }
  const store = await openStore(url);
  await store.migrate();
  try {
    const t = performance.now();
    await fill(store);
    console.log(`${name}: ${N} sessions filled in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    if (values.explain) {
      const destination = destinations(CONFIG, POSTBACKS).find((d) => d.id === values.explain);
      if (!destination) throw new Error(`no destination ${values.explain}`);
      const source = destination.items(store.sql().dialect);
      const plan = await store.sql().all(`EXPLAIN SELECT ${source.job} AS job, ${source.skip} AS skip ${source.rows}`, [NOW - 2 * HOUR, NOW + 1]);
      for (const row of plan) console.log(Object.values(row).join(' | '));
      return;
    }
    await timeAll(store, 'as filled');
    await store.sql().run('ANALYZE');
    await timeAll(store, 'after ANALYZE');
  } finally {
    await store.close();
    await cleanup();
  }
}

for (const name of ['sqlite', 'postgres'] as const) {
  if (values.store === 'both' || values.store === name) await run(name);
}
