import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from './config.js';
import { runDoctor } from './doctor.js';
import { openStore } from './store/open-store.js';
import { startKonnektiveDouble, type KonnektiveDouble } from '../test/doubles/konnektive-double.js';
import { startActiveCampaignDouble, type ActiveCampaignDouble } from '../test/doubles/activecampaign-double.js';
import { konnektiveEnv } from '../test/support/test-collector.js';

let double: KonnektiveDouble;
let ac: ActiveCampaignDouble | undefined;
beforeEach(async () => {
  double = await startKonnektiveDouble({ loginId: 'fb-login', password: 'fb-password', campaigns: ['12'] });
});
afterEach(async () => {
  await double.close();
  await ac?.close();
  ac = undefined;
});

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
    expect(line(lines, 'konnektive')).toMatch(/^FAIL +konnektive: credentials refused/);
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
    expect(line(lines, 'konnektive')).toMatch(/^FAIL +konnektive: .*did not answer properly.*KONNEKTIVE_API_URL/);
  });

  it('reports pending migrations instead of applying them', async () => {
    const { code, lines } = await doctor(konnektiveEnv(double.url));
    expect(code).toBe(1);
    expect(line(lines, 'store')).toMatch(/^FAIL +store: .*migration\(s\) are pending.*funnelbeacon migrate/);
  });

  it('says when PostgreSQL is unreachable', async () => {
    const { code, lines } = await doctor(konnektiveEnv(double.url, { DATABASE_URL: 'postgres://nobody@127.0.0.1:9/none' }));
    expect(code).toBe(1);
    expect(line(lines, 'store')).toMatch(/^FAIL +store: cannot reach the store at postgres:\/\/…@127\.0\.0\.1:9\/none/);
  });

  it('checks ActiveCampaign: wrong key, missing connection, then ok once connected', async () => {
    ac = await startActiveCampaignDouble();
    const env = await migrated(
      konnektiveEnv(double.url, { EMIT_VIA: 'activecampaign', ACTIVECAMPAIGN_API_URL: ac.url, ACTIVECAMPAIGN_API_KEY: 'wrong-key' }),
    );
    ac.setApiKey('right-key');
    expect(line((await doctor(env)).lines, 'activecampaign')).toMatch(/^FAIL +activecampaign: the API key is refused/);
    const good = { ...env, ACTIVECAMPAIGN_API_KEY: 'right-key' };
    expect(line((await doctor(good)).lines, 'activecampaign connection')).toMatch(/^FAIL .*no funnelbeacon connection.*funnelbeacon connect/);
    expect(line((await doctor({ ...good, ACTIVECAMPAIGN_CONNECTION_ID: '77' })).lines, 'activecampaign connection')).toMatch(/^FAIL .*connection 77 .*does not exist/);
    expect(line((await doctor({ ...good, ACTIVECAMPAIGN_API_URL: 'http://127.0.0.1:9' })).lines, 'activecampaign')).toMatch(/^FAIL .*unreachable/);
  });

  it('lists every configuration problem', async () => {
    const { code, lines } = await doctor({ KONNEKTIVE_LOGIN_ID: 'a', KONNEKTIVE_PASSWORD: 'b', SWEEP_EVERY: 'often' });
    expect(code).toBe(1);
    expect(lines.every((l) => l.startsWith('FAIL  config: '))).toBe(true);
    expect(lines.join('\n')).toMatch(/SWEEP_EVERY/);
  });
});
