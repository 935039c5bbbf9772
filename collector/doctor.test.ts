import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { connect } from './cli/connect.js';
import { parseConfig, type Config } from './config.js';
import { DoctorResponse } from './dashboard/api-schema.js';
import { runDoctor } from './doctor.js';
import pg from 'pg';
import { openStore } from './store/open-store.js';
import { testPostgres } from '../test/support/postgres.js';
import { startKonnektiveDouble, type KonnektiveDouble } from '../test/doubles/konnektive-double.js';
import { startActiveCampaignDouble, type ActiveCampaignDouble } from '../test/doubles/activecampaign-double.js';
import { konnektiveEnv, startTestCollector, testEnv, type TestCollector } from '../test/support/test-collector.js';

const postgres = await testPostgres();
afterAll(() => postgres.dropSchemas());
let double: KonnektiveDouble;
let ac: ActiveCampaignDouble | undefined;
let collector: TestCollector | undefined;
beforeEach(async () => {
  double = await startKonnektiveDouble({ loginId: 'fb-login', password: 'fb-password', campaigns: ['12'] });
});
afterEach(async () => {
  await double.close();
  await ac?.close();
  await collector?.close();
  ac = undefined;
  collector = undefined;
});

function config(env: Record<string, string>): Config {
  const result = parseConfig(env);
  if (!result.ok) throw new Error(result.problems.join('; '));
  return result.config;
}

/** A migrated store, so that only what a test breaks fails. */
async function migrated(env: Record<string, string>): Promise<Record<string, string>> {
  const store = await openStore(env.DATABASE_URL!);
  await store.migrate();
  await store.close();
  return env;
}

async function doctor(env: Record<string, string>): Promise<{ code: number; lines: string[] }> {
  const lines: string[] = [];
  const code = await runDoctor(parseConfig(env), (line) => lines.push(line));
  return { code, lines };
}

const line = (lines: string[], name: string) => lines.find((l) => l.includes(` ${name}: `)) ?? `(no ${name} line in ${lines.join(' | ')})`;

describe('funnelbeacon doctor', () => {
  it('says ok for the store, Konnektive, each campaign and the route, and warns about a PUBLIC_URL that does not answer', async () => {
    const { lines } = await doctor(await migrated(konnektiveEnv(double.url, { EMIT_VIA: 'sandbox', PUBLIC_URL: 'http://127.0.0.1:9' })));
    expect(line(lines, 'config')).toMatch(/^ok +config: live mode/);
    expect(line(lines, 'store')).toMatch(/^ok +store: sqlite .* schema up to date/);
    expect(line(lines, 'konnektive')).toMatch(/^ok +konnektive: .* accepts/);
    expect(line(lines, 'konnektive campaign 12')).toMatch(/^ok /);
    expect(line(lines, 'public url')).toMatch(/^FAIL +public url: .* not reachable/);
    expect(double.calls.map((call) => call.path)).toEqual(['/order/query/', '/campaign/query/']);
  });

  it('says what to fix when Konnektive refuses the credentials, without printing them', async () => {
    double.setCredentials('other', 'other');
    const { code, lines } = await doctor(await migrated(konnektiveEnv(double.url)));
    expect(code).toBe(1);
    expect(line(lines, 'konnektive')).toMatch(/^FAIL +konnektive: Konnektive refuses the API credentials: check KONNEKTIVE_LOGIN_ID/);
    expect(lines.join('\n')).not.toContain('fb-password');
  });

  it('names the IP whitelist when Konnektive refuses the caller address', async () => {
    double.fail('ipNotWhitelisted');
    const { code, lines } = await doctor(await migrated(konnektiveEnv(double.url)));
    expect(code).toBe(1);
    expect(line(lines, 'konnektive')).toMatch(/^FAIL +konnektive: .*IP whitelist/);
  });

  it('names a campaign Konnektive does not know', async () => {
    const { code, lines } = await doctor(await migrated(konnektiveEnv(double.url, { KONNEKTIVE_CAMPAIGNS: '12,99' })));
    expect(code).toBe(1);
    expect(line(lines, 'konnektive campaign 99')).toMatch(/^FAIL .*does not know campaign 99.*KONNEKTIVE_CAMPAIGNS/);
  });

  it('says when Konnektive cannot be reached at all', async () => {
    const { code, lines } = await doctor(await migrated(konnektiveEnv('http://127.0.0.1:9')));
    expect(code).toBe(1);
    expect(line(lines, 'konnektive')).toMatch(/^FAIL +konnektive: http:\/\/127\.0\.0\.1:9 is unreachable .*KONNEKTIVE_API_URL/);
  });

  it('says when the Konnektive URL answers, but not as Konnektive', async () => {
    double.fail('http500');
    const { code, lines } = await doctor(await migrated(konnektiveEnv(double.url)));
    expect(code).toBe(1);
    expect(line(lines, 'konnektive')).toMatch(/^FAIL +konnektive: .* did not answer like Konnektive's API \(HTTP 500\).*KONNEKTIVE_API_URL/);
  });

  it('says when Konnektive takes the credentials but refuses the Query Order, and still checks the campaigns', async () => {
    double.fail('error', { times: 1 });
    const { code, lines } = await doctor(await migrated(konnektiveEnv(double.url)));
    expect(code).toBe(1);
    expect(line(lines, 'konnektive')).toMatch(/^FAIL +konnektive: .* accepts the API credentials from this IP, but refused a Query Order .*may call Query Order/);
    expect(line(lines, 'konnektive campaign 12')).toMatch(/^ok /);
  });

  it('reports pending migrations instead of applying them', async () => {
    const { code, lines } = await doctor(konnektiveEnv(double.url));
    expect(code).toBe(1);
    expect(line(lines, 'store')).toMatch(/^FAIL +store: .* \d+ migrations are pending.*funnelbeacon migrate/);
  });

  it('says when PostgreSQL is unreachable', async () => {
    const { code, lines } = await doctor(konnektiveEnv(double.url, { DATABASE_URL: 'postgres://nobody@127.0.0.1:9/none' }));
    expect(code).toBe(1);
    expect(line(lines, 'store')).toMatch(/^FAIL +store: cannot reach the store at postgres:\/\/…@127\.0\.0\.1:9\/none/);
  });

  it.skipIf(postgres.skip !== undefined)('warns when the PostgreSQL server runs with autovacuum off, and says what to do', async () => {
    const env = await migrated(konnektiveEnv(double.url, { DATABASE_URL: postgres.newSchemaUrl() }));
    const { lines } = await doctor(env);
    const server = new pg.Client({ connectionString: postgres.url });
    await server.connect();
    const { rows } = await server.query("SELECT current_setting('autovacuum') AS autovacuum");
    await server.end();
    // The server's own setting decides which answer is right; each is checked whole.
    if (rows[0].autovacuum === 'off') {
      expect(line(lines, 'store')).toMatch(/^WARN +store: postgres at .* reachable, schema up to date, but the server runs with autovacuum off: .*VACUUM ANALYZE on a schedule\.$/);
    } else {
      expect(line(lines, 'store')).toMatch(/^ok +store: postgres at .* reachable, schema up to date$/);
    }
  });

  it('checks ActiveCampaign: wrong key, missing connection, then ok once connected', async () => {
    let now = Date.now();
    ac = await startActiveCampaignDouble({ now: () => now });
    const env = await migrated(
      konnektiveEnv(double.url, { EMIT_VIA: 'activecampaign', ACTIVECAMPAIGN_API_URL: ac.url, ACTIVECAMPAIGN_API_KEY: 'wrong-key' }),
    );
    ac.setApiKey('right-key');
    expect(line((await doctor(env)).lines, 'activecampaign')).toMatch(/^FAIL +activecampaign: the API key is refused/);
    const good = { ...env, ACTIVECAMPAIGN_API_KEY: 'right-key' };
    expect(line((await doctor(good)).lines, 'activecampaign connection')).toMatch(/^FAIL .*no funnelbeacon connection.*funnelbeacon connect/);
    expect(line((await doctor({ ...good, ACTIVECAMPAIGN_CONNECTION_ID: '77' })).lines, 'activecampaign connection')).toMatch(/^FAIL .*connection 77 .*does not exist/);
    expect(line((await doctor({ ...good, ACTIVECAMPAIGN_API_URL: 'http://127.0.0.1:9' })).lines, 'activecampaign')).toMatch(/^FAIL .*unreachable/);

    now += 1_000; // a new second of ActiveCampaign's rate limit
    const connected = await connect(config(good));
    expect(connected).toMatchObject({ ok: true, created: true });
    const found = (await doctor(good)).lines;
    expect(line(found, 'activecampaign')).toMatch(/^ok +activecampaign: .* accepts the API key/);
    expect(line(found, 'activecampaign connection')).toMatch(new RegExp(`^ok +activecampaign connection: connection ${connected.id} exists: set ACTIVECAMPAIGN_CONNECTION_ID=${connected.id}`));
    const named = (await doctor({ ...good, ACTIVECAMPAIGN_CONNECTION_ID: connected.id! })).lines;
    expect(line(named, 'activecampaign')).toMatch(/^ok +activecampaign: /);
    expect(line(named, 'activecampaign connection')).toMatch(new RegExp(`^ok +activecampaign connection: connection ${connected.id} exists$`));
  });

  it("says ActiveCampaign's rate limit stopped the check, rather than blaming the URL", async () => {
    ac = await startActiveCampaignDouble({ apiKey: 'key', rateLimitPerSecond: 1, now: () => 0 });
    const env = await migrated(konnektiveEnv(double.url, { EMIT_VIA: 'activecampaign', ACTIVECAMPAIGN_API_URL: ac.url, ACTIVECAMPAIGN_API_KEY: 'key' }));
    expect(line((await doctor(env)).lines, 'activecampaign')).toMatch(/^ok +activecampaign: /);
    expect(line((await doctor(env)).lines, 'activecampaign')).toMatch(/^WARN +activecampaign: .*limiting this account's request rate \(HTTP 429\).*again in a few seconds/);
  });

  it('says when the ActiveCampaign URL answers, but not as ActiveCampaign', async () => {
    // The Konnektive double stands in for a wrong host: it answers 404 with an HTML page.
    const env = await migrated(konnektiveEnv(double.url, { EMIT_VIA: 'activecampaign', ACTIVECAMPAIGN_API_URL: double.url, ACTIVECAMPAIGN_API_KEY: 'key' }));
    const { code, lines } = await doctor(env);
    expect(code).toBe(1);
    expect(line(lines, 'activecampaign')).toMatch(/^FAIL +activecampaign: .* did not answer like ActiveCampaign's API \(HTTP 404, not JSON\): check ACTIVECAMPAIGN_API_URL/);
    expect(lines.join('\n')).not.toMatch(/activecampaign connection/);
  });

  it("on the konnektive route checks Konnektive's connection: missing, then ok once connected", async () => {
    const env = await migrated(konnektiveEnv(double.url, { EMIT_VIA: 'konnektive' }));
    expect(line((await doctor(env)).lines, 'activecampaign connection')).toMatch(/^FAIL +activecampaign connection: .*no connection yet: run `funnelbeacon connect`/);
    expect(await connect(config(env))).toMatchObject({ ok: true, created: true });
    expect(line((await doctor(env)).lines, 'activecampaign connection')).toMatch(/^ok +activecampaign connection: Konnektive's ActiveCampaign route has a connection/);
    expect(double.acRoute.map((call) => call.type)).toEqual(['QUERY', 'QUERY', 'CONNECTION', 'QUERY']);
  });

  it('checks ActiveCampaign credentials set on the konnektive route, and says they are not used to send', async () => {
    ac = await startActiveCampaignDouble({ apiKey: 'right-key' });
    const env = await migrated(konnektiveEnv(double.url, { ACTIVECAMPAIGN_API_URL: ac.url, ACTIVECAMPAIGN_API_KEY: 'right-key' }));
    const { lines } = await doctor(env);
    expect(line(lines, 'config')).toMatch(/emitting via konnektive/);
    expect(line(lines, 'activecampaign')).toMatch(/^WARN +activecampaign: .*set but not used: EMIT_VIA=konnektive .*Set EMIT_VIA=activecampaign.*The key works: .* accepts the API key/);
    // The route's own connection is Konnektive's; ours in ActiveCampaign is not looked for.
    expect(line(lines, 'activecampaign connection')).toMatch(/^FAIL +activecampaign connection: Konnektive's ActiveCampaign route has no connection/);
    expect(lines.filter((l) => l.includes(' activecampaign connection'))).toHaveLength(1);

    const wrongKey = (await doctor({ ...env, ACTIVECAMPAIGN_API_KEY: 'wrong-key' })).lines;
    expect(line(wrongKey, 'activecampaign')).toMatch(/^WARN +activecampaign: .*not used.*The key does not work: the API key is refused/);

    // ACTIVECAMPAIGN_CONNECTION_ID is sent to Konnektive as connectionid, so it must exist.
    const withId = (await doctor({ ...env, ACTIVECAMPAIGN_CONNECTION_ID: '77' })).lines;
    expect(line(withId, 'activecampaign')).toMatch(/^WARN +activecampaign: not used to send: .*connectionid/);
    expect(line(withId, 'activecampaign connection id')).toMatch(/^FAIL .*connection 77 .*does not exist/);
  });

  it('says ok when PUBLIC_URL reaches a collector, and fails when it reaches something else', async () => {
    collector = await startTestCollector(testEnv(), { runWorker: false });
    const env = await migrated(konnektiveEnv(double.url, { PUBLIC_URL: collector.url }));
    expect(line((await doctor(env)).lines, 'public url')).toBe(`ok    public url: ${collector.url} reaches a funnelbeacon collector`);
    const { code, lines } = await doctor({ ...env, PUBLIC_URL: double.url });
    expect(code).toBe(1);
    expect(line(lines, 'public url')).toMatch(/^FAIL +public url: .* answered HTTP 404, but not as a funnelbeacon collector/);
  });

  it("answers the dashboard's doctor request with the checks, at most one run per 10 s", async () => {
    const token = 'dashboard-token-0123456789abcdef';
    collector = await startTestCollector(konnektiveEnv(double.url, { DASHBOARD_TOKEN: token }), { runWorker: false });
    const ask = () => fetch(`${collector!.url}/dashboard/api/doctor`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    const res = await ask();
    expect(res.status).toBe(200);
    const body = DoctorResponse.parse(await res.json());
    expect(body.checks.map((check) => check.name)).toEqual(['config', 'store', 'konnektive', 'konnektive campaign 12', 'activecampaign connection', 'lifecycle sync', 'public url']);
    expect(body.checks.find((check) => check.name === 'konnektive')).toMatchObject({ status: 'ok' });
    expect(body.checks.find((check) => check.name === 'store')).toMatchObject({ status: 'ok', message: expect.stringMatching(/schema up to date/) });
    expect(JSON.stringify(body)).not.toContain('fb-password');
    const calls = double.calls.length;
    expect(DoctorResponse.parse(await (await ask()).json())).toEqual(body);
    expect(double.calls.length).toBe(calls);
  });

  it('with LIFECYCLE_SYNC=on, tries each Konnektive query the sync needs and names the permission Konnektive refuses', async () => {
    ac = await startActiveCampaignDouble({ apiKey: 'key' });
    const env = await migrated(
      konnektiveEnv(double.url, { EMIT_VIA: 'activecampaign', ACTIVECAMPAIGN_API_URL: ac.url, ACTIVECAMPAIGN_API_KEY: 'key', LIFECYCLE_SYNC: 'on', KONNEKTIVE_TIMEZONE: 'America/New_York' }),
    );
    const allowed = await doctor(env);
    expect(line(allowed.lines, 'konnektive query transactions')).toMatch(/^ok +konnektive query transactions: the API user may call Query Transactions/);
    expect(line(allowed.lines, 'konnektive query purchases')).toMatch(/^ok /);
    expect(line(allowed.lines, 'konnektive query order')).toMatch(/^ok /);
    expect(line(allowed.lines, 'activecampaign events')).toMatch(/^ok +activecampaign events: event tracking is off/);
    // The strict double took each (dates in m/d/Y, one row a page) as Konnektive would.
    const lifecycleCalls = double.calls.filter((call) => ['/transactions/query/', '/purchase/query/'].includes(call.path));
    expect(lifecycleCalls.map((call) => [call.path, call.params.dateRangeType, call.params.resultsPerPage])).toEqual([
      ['/transactions/query/', 'dateUpdated', '1'],
      ['/purchase/query/', 'dateUpdated', '1'],
    ]);
    expect(lifecycleCalls[0]!.params.startDate).toMatch(/^\d{2}\/\d{2}\/\d{4}$/);

    double.fail('permissionDenied', { path: '/purchase/query/', times: 1 });
    const refused = await doctor(env);
    expect(refused.code).toBe(1);
    expect(line(refused.lines, 'konnektive query purchases')).toMatch(/^FAIL +konnektive query purchases: Konnektive refused Query Purchases .*grant Query Purchases to the API user/);
    expect(line(refused.lines, 'konnektive query transactions')).toMatch(/^ok /);
    expect(refused.lines.join('\n')).not.toContain('fb-password');

    const events = await doctor({ ...env, ACTIVECAMPAIGN_ACCOUNT_ID: '123456', ACTIVECAMPAIGN_EVENT_KEY: 'event-key-secret' });
    expect(line(events.lines, 'activecampaign events')).toMatch(/^ok +activecampaign events: account id 123456 .*no harmless call that checks ACTIVECAMPAIGN_EVENT_KEY/);
    expect(events.lines.join('\n')).not.toContain('event-key-secret');
    expect(ac.trackingLogs).toHaveLength(0);
  });

  it('with the Konnektive route alone, says lifecycle sync needs ActiveCampaign\'s API settings', async () => {
    const { lines } = await doctor(await migrated(konnektiveEnv(double.url)));
    expect(line(lines, 'lifecycle sync')).toMatch(/needs ACTIVECAMPAIGN_API_URL and ACTIVECAMPAIGN_API_KEY/);
  });

  it('lists every configuration problem', async () => {
    const { code, lines } = await doctor({ KONNEKTIVE_LOGIN_ID: 'a', KONNEKTIVE_PASSWORD: 'b', SWEEP_EVERY: 'often' });
    expect(code).toBe(1);
    expect(lines.every((l) => l.startsWith('FAIL  config: '))).toBe(true);
    expect(lines.join('\n')).toMatch(/SWEEP_EVERY/);
  });
});

describe('funnelbeacon doctor, ad platforms', () => {
  it("checks each configured platform's credentials with a call that records nothing, and says in one line what is wrong", async () => {
    const { startMetaDouble } = await import('../test/doubles/meta-double.js');
    const { startTikTokDouble } = await import('../test/doubles/tiktok-double.js');
    const meta = await startMetaDouble();
    const tiktok = await startTikTokDouble();
    try {
      const env = await migrated(
        konnektiveEnv(double.url, {
          EMIT_VIA: 'sandbox',
          META_PIXEL_ID: meta.pixelId,
          META_ACCESS_TOKEN: 'meta-test-token',
          META_API_URL: meta.apiUrl,
          TIKTOK_PIXEL_CODE: tiktok.pixelCode,
          TIKTOK_ACCESS_TOKEN: 'tiktok-test-token',
          TIKTOK_API_URL: tiktok.url,
        }),
      );
      const ok = await doctor(env);
      expect(line(ok.lines, 'meta')).toMatch(new RegExp(`^ok +meta: Meta: pixel ${meta.pixelId} readable`));
      expect(line(ok.lines, 'tiktok')).toMatch(/^ok +tiktok: /);
      // Nothing real was recorded: Meta was only read, TikTok's event went in test mode.
      expect(meta.received()).toEqual([]);
      expect(tiktok.received().every((event) => event.testEventCode !== undefined)).toBe(true);

      meta.setAccessToken('rotated');
      tiktok.setAccessToken('rotated');
      const refused = await doctor(env);
      expect(refused.code).not.toBe(0);
      expect(line(refused.lines, 'meta')).toMatch(/^FAIL +meta: .*\(check META_ACCESS_TOKEN and META_PIXEL_ID\)$/);
      expect(line(refused.lines, 'tiktok')).toMatch(/^FAIL +tiktok: .*\(check TIKTOK_ACCESS_TOKEN and TIKTOK_PIXEL_CODE\)$/);
      expect(refused.lines.join('\n')).not.toContain('meta-test-token');
    } finally {
      await meta.close();
      await tiktok.close();
    }
  });

  it('in sandbox mode says the conversions are recorded, never sent', async () => {
    const { lines } = await doctor(await migrated(testEnv()));
    expect(line(lines, 'ad platforms')).toMatch(/^ok +ad platforms: sandbox mode/);
  });
});

describe('funnelbeacon doctor, postbacks', () => {
  it('checks POSTBACKS_FILE without firing anything: the count, or one failed line per problem', async () => {
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const path = join(mkdtempSync(join(tmpdir(), 'funnelbeacon-doctor-')), 'postbacks.json');
    writeFileSync(path, JSON.stringify({ postbacks: [{ name: 'net-sale', on: 'sale', url: 'https://network.example/pb?oid={orderId}' }] }));
    const ok = await doctor(await migrated(testEnv({ POSTBACKS_FILE: path })));
    expect(line(ok.lines, 'postbacks')).toMatch(/^ok +postbacks: .*: 1 postback \(/);
    writeFileSync(path, JSON.stringify({ postbacks: [{ name: 'net-sale', on: 'sold', url: 'https://network.example/pb?oid={order}' }] }));
    const bad = await doctor(await migrated(testEnv({ POSTBACKS_FILE: path })));
    expect(bad.code).not.toBe(0);
    const failed = bad.lines.filter((l) => / postbacks: /.test(l));
    expect(failed.length).toBe(2);
    expect(failed.every((l) => /^FAIL +postbacks: POSTBACKS_FILE postbacks\[0\] "net-sale": /.test(l))).toBe(true);
  });
});
