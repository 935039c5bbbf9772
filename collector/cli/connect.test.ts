import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig, type Config } from '../config.js';
import { startActiveCampaignDouble, type ActiveCampaignDouble } from '../../test/doubles/activecampaign-double.js';
import { startKonnektiveDouble, type KonnektiveDouble } from '../../test/doubles/konnektive-double.js';
import { konnektiveEnv } from '../../test/support/test-collector.js';
import { connect } from './connect.js';

let k: KonnektiveDouble | undefined;
let ac: ActiveCampaignDouble | undefined;
afterEach(async () => {
  await k?.close();
  await ac?.close();
  k = ac = undefined;
});

function config(env: Record<string, string>): Config {
  const result = parseConfig(env);
  if (!result.ok) throw new Error(result.problems.join('; '));
  return result.config;
}

describe('funnelbeacon connect', () => {
  it('creates the connection with POST /connections once, and finds it the second time', async () => {
    k = await startKonnektiveDouble({ loginId: 'fb-login', password: 'fb-password', campaigns: ['12'] });
    ac = await startActiveCampaignDouble({ apiKey: 'ac-key' });
    const cfg = config(konnektiveEnv(k.url, { EMIT_VIA: 'activecampaign', ACTIVECAMPAIGN_API_URL: ac.url, ACTIVECAMPAIGN_API_KEY: 'ac-key' }));
    const first = await connect(cfg);
    expect(first).toMatchObject({ ok: true, created: true });
    const second = await connect(cfg);
    expect(second).toMatchObject({ ok: true, created: false, id: first.id });
    expect(ac.connections.size).toBe(1);
    expect(ac.requests.filter((r) => r.method === 'POST')).toHaveLength(1);
  });

  it('with LIFECYCLE_SYNC=on creates the lifecycle contact fields once, found again by their personalization tags', async () => {
    k = await startKonnektiveDouble({ loginId: 'fb-login', password: 'fb-password', campaigns: ['12'] });
    ac = await startActiveCampaignDouble({ apiKey: 'ac-key' });
    const cfg = config(konnektiveEnv(k.url, { EMIT_VIA: 'activecampaign', ACTIVECAMPAIGN_API_URL: ac.url, ACTIVECAMPAIGN_API_KEY: 'ac-key', LIFECYCLE_SYNC: 'on' }));
    const first = await connect(cfg);
    expect(first).toMatchObject({ ok: true, created: true });
    expect(first.message).toMatch(/lifecycle contact fields created: Customer Status, Next Bill Date, Cancelled On, Lifetime Value, Last Order Date/);
    expect([...ac.fields.values()].map((f) => [f.perstag, f.type, f.relids])).toEqual([
      ['FB_CUSTOMER_STATUS', 'text', ['0']],
      ['FB_NEXT_BILL_DATE', 'date', ['0']],
      ['FB_CANCELLED_ON', 'date', ['0']],
      ['FB_LIFETIME_VALUE', 'number', ['0']],
      ['FB_LAST_ORDER_DATE', 'date', ['0']],
    ]);
    const second = await connect(cfg);
    expect(second).toMatchObject({ ok: true, created: false });
    expect(second.message).toMatch(/the lifecycle contact fields exist already/);
    expect(ac.fields.size).toBe(5);
    expect(ac.stats.rateLimited).toBe(0);
  }, 20_000);

  it('creates no lifecycle field while LIFECYCLE_SYNC is off', async () => {
    k = await startKonnektiveDouble({ loginId: 'fb-login', password: 'fb-password', campaigns: ['12'] });
    ac = await startActiveCampaignDouble({ apiKey: 'ac-key' });
    await connect(config(konnektiveEnv(k.url, { EMIT_VIA: 'activecampaign', ACTIVECAMPAIGN_API_URL: ac.url, ACTIVECAMPAIGN_API_KEY: 'ac-key' })));
    expect(ac.fields.size).toBe(0);
    expect(ac.requests.filter((r) => r.path.includes('/fields'))).toHaveLength(0);
  });

  it('says the key is wrong, and creates nothing', async () => {
    k = await startKonnektiveDouble({ loginId: 'fb-login', password: 'fb-password', campaigns: ['12'] });
    ac = await startActiveCampaignDouble({ apiKey: 'ac-key' });
    const result = await connect(config(konnektiveEnv(k.url, { EMIT_VIA: 'activecampaign', ACTIVECAMPAIGN_API_URL: ac.url, ACTIVECAMPAIGN_API_KEY: 'nope' })));
    expect(result).toMatchObject({ ok: false, created: false });
    expect(result.message).toMatch(/ACTIVECAMPAIGN_API_KEY/);
    expect(ac.connections.size).toBe(0);
  });

  it('says the host is unreachable', async () => {
    k = await startKonnektiveDouble({ loginId: 'fb-login', password: 'fb-password', campaigns: ['12'] });
    const result = await connect(config(konnektiveEnv(k.url, { EMIT_VIA: 'activecampaign', ACTIVECAMPAIGN_API_URL: 'http://127.0.0.1:9', ACTIVECAMPAIGN_API_KEY: 'x' })));
    expect(result.ok).toBe(false);
    expect(result.message).toMatch(/unreachable/);
  });

  it('on the konnektive route sends type=CONNECTION once, then finds it with a QUERY', async () => {
    k = await startKonnektiveDouble({ loginId: 'fb-login', password: 'fb-password', campaigns: ['12'] });
    const cfg = config(konnektiveEnv(k.url));
    const first = await connect(cfg);
    expect(first).toMatchObject({ ok: true, created: true, id: '2' });
    const second = await connect(cfg);
    expect(second).toMatchObject({ ok: true, created: false, id: '2' });
    expect(k.acRoute.filter((call) => call.type === 'CONNECTION')).toHaveLength(1);
  });

  it('on the konnektive route says when the credentials are refused', async () => {
    k = await startKonnektiveDouble({ loginId: 'fb-login', password: 'fb-password', campaigns: ['12'] });
    k.fail('badCredentials');
    const result = await connect(config(konnektiveEnv(k.url)));
    expect(result.ok).toBe(false);
    expect(result.message).toMatch(/refuses the API credentials: check KONNEKTIVE_LOGIN_ID and KONNEKTIVE_PASSWORD/);
    expect(result.message).not.toContain('fb-password');
    expect(k.acRoute).toHaveLength(0);
  });

  it("on the konnektive route names the IP whitelist when Konnektive refuses this server's address", async () => {
    k = await startKonnektiveDouble({ loginId: 'fb-login', password: 'fb-password', campaigns: ['12'] });
    k.fail('ipNotWhitelisted');
    const result = await connect(config(konnektiveEnv(k.url)));
    expect(result).toMatchObject({ ok: false, created: false, id: undefined });
    expect(result.message).toMatch(/refuses this server's IP address .*IP whitelist/);
    expect(k.acRoute).toHaveLength(0);
    expect(k.calls.map((call) => call.path)).toEqual(['/cart/activecampaign/']);
  });

  it('on the konnektive route says when Konnektive cannot be reached', async () => {
    const result = await connect(config(konnektiveEnv('http://127.0.0.1:9')));
    expect(result).toMatchObject({ ok: false, created: false, id: undefined });
    expect(result.message).toMatch(/^http:\/\/127\.0\.0\.1:9 is unreachable \(connection failed\): check KONNEKTIVE_API_URL/);
  });

  it('on the konnektive route says when the URL answers, but not as Konnektive', async () => {
    k = await startKonnektiveDouble({ loginId: 'fb-login', password: 'fb-password', campaigns: ['12'] });
    k.fail('http500');
    const result = await connect(config(konnektiveEnv(k.url)));
    expect(result.ok).toBe(false);
    expect(result.message).toMatch(/did not answer like Konnektive's API \(HTTP 500\)/);
    expect(k.acRoute).toHaveLength(0);
  });
});
