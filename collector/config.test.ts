import { describe, expect, it } from 'vitest';
import { isAllowedOrigin, parseConfig } from './config.js';
import { parseDuration } from './duration.js';

const live = {
  SECRET: 'x'.repeat(40),
  ALLOWED_ORIGINS: 'https://offer.example,https://secure.example',
  KONNEKTIVE_LOGIN_ID: 'api-user',
  KONNEKTIVE_PASSWORD: 'pw',
  KONNEKTIVE_CAMPAIGNS: '12,13',
};

describe('parseDuration', () => {
  it('reads seconds, minutes and hours', () => {
    expect(parseDuration('90s')).toBe(90_000);
    expect(parseDuration('30m')).toBe(1_800_000);
    expect(parseDuration('2h')).toBe(7_200_000);
    expect(parseDuration('250ms')).toBe(250);
  });
  it('refuses what is not a duration', () => {
    for (const text of ['', '30', 'm', '-5m', '5 minutes', '0s']) expect(parseDuration(text)).toBeUndefined();
  });
});

describe('parseConfig', () => {
  it('runs in sandbox mode with no credentials at all, with the documented defaults', () => {
    const result = parseConfig({});
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    const { config } = result;
    expect(config.sandbox).toBe(true);
    expect(config.emitVia).toBe('sandbox');
    expect(config.port).toBe(8787);
    expect(config.databaseUrl).toBe('file:./data/funnelbeacon.db');
    // Sandbox mode: two minutes, so a first run shows an abandoned cart quickly.
    expect(config.abandonAfterMs).toBe(2 * 60_000);
    expect(config.upsellWindowMs).toBe(15 * 60_000);
    expect(config.sweepEveryMs).toBe(30_000);
    expect(config.botFilter).toBe(true);
    expect(config.trustProxy).toBe(false);
    expect(config.publicUrl).toBe('http://localhost:8787');
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('follows PORT with the sandbox\'s PUBLIC_URL unless PUBLIC_URL is set', () => {
    const publicUrl = (env: Record<string, string>) => {
      const result = parseConfig(env);
      if (!result.ok) throw new Error(result.problems.join('; '));
      return result.config.publicUrl;
    };
    expect(publicUrl({ PORT: '9000' })).toBe('http://localhost:9000');
    expect(publicUrl({ PORT: '9000', PUBLIC_URL: 'http://127.0.0.1:9100' })).toBe('http://127.0.0.1:9100');
    // A port the system picks has no origin before listening.
    expect(publicUrl({ PORT: '0' })).toBe('http://localhost:8787');
    // Outside sandbox mode PUBLIC_URL is the operator's to set (doctor checks it).
    const live = { SECRET: 'x'.repeat(32), ALLOWED_ORIGINS: 'https://offer.example', KONNEKTIVE_LOGIN_ID: 'id', KONNEKTIVE_PASSWORD: 'pw', KONNEKTIVE_CAMPAIGNS: '12' };
    expect(publicUrl({ ...live, PORT: '9000' })).toBe('http://localhost:8787');
  });

  it('turns the Konnektive relay on with both credentials and emits through Konnektive by default', () => {
    const result = parseConfig(live);
    expect(result.ok && result.config.konnektive?.loginId).toBe('api-user');
    expect(result.ok && result.config.emitVia).toBe('konnektive');
    expect(result.ok && result.config.campaigns).toEqual(['12', '13']);
  });

  it('reports one line per problem, each naming its variable', () => {
    const result = parseConfig({
      PORT: 'eighty',
      ABANDON_AFTER: 'soon',
      TRUST_PROXY: 'maybe',
      DATABASE_URL: 'mysql://x',
      ALLOWED_ORIGINS: 'not a url',
    });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    const named = result.problems.map((line) => line.split(':')[0]);
    expect(named).toEqual(expect.arrayContaining(['PORT', 'ABANDON_AFTER', 'TRUST_PROXY', 'DATABASE_URL', 'ALLOWED_ORIGINS.0']));
  });

  it('requires a secret, origins and campaigns outside sandbox mode', () => {
    const result = parseConfig({ KONNEKTIVE_LOGIN_ID: 'a', KONNEKTIVE_PASSWORD: 'b' });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.problems.map((line) => line.split(':')[0]).sort()).toEqual(['ALLOWED_ORIGINS', 'KONNEKTIVE_CAMPAIGNS', 'SECRET']);
  });

  it('refuses half a credential pair and a password Konnektive would refuse', () => {
    const half = parseConfig({ ...live, KONNEKTIVE_PASSWORD: '' });
    expect(!half.ok && half.problems.some((line) => line.startsWith('KONNEKTIVE_PASSWORD'))).toBe(true);
    const amp = parseConfig({ ...live, KONNEKTIVE_PASSWORD: 'a&b' });
    expect(!amp.ok && amp.problems[0]?.startsWith('KONNEKTIVE_PASSWORD')).toBe(true);
  });

  it('refuses TRUST_PROXY on a HOST others can reach, unless direct access is allowed explicitly', () => {
    for (const host of ['0.0.0.0', '::', '192.0.2.10']) {
      const result = parseConfig({ ...live, TRUST_PROXY: 'on', HOST: host });
      expect(result.ok, host).toBe(false);
      if (result.ok) continue;
      // One line, naming the variables and the fix.
      expect(result.problems).toEqual([expect.stringMatching(/^TRUST_PROXY: .*HOST=127\.0\.0\.1.*TRUST_PROXY_DIRECT_ACCESS=allow/)]);
    }
    // Live mode listens on 0.0.0.0 unless HOST says otherwise.
    expect(parseConfig({ ...live, TRUST_PROXY: 'on' }).ok).toBe(false);
    for (const host of ['127.0.0.1', '127.0.0.2', 'localhost', '::1', '[::1]']) {
      const result = parseConfig({ ...live, TRUST_PROXY: 'on', HOST: host });
      expect(result.ok && result.config.trustProxy, host).toBe(true);
    }
    const allowed = parseConfig({ ...live, TRUST_PROXY: 'on', HOST: '0.0.0.0', TRUST_PROXY_DIRECT_ACCESS: 'allow' });
    expect(allowed.ok && allowed.config.trustProxy).toBe(true);
    expect(parseConfig({ ...live, HOST: '0.0.0.0' }).ok).toBe(true);
    const typo = parseConfig({ ...live, TRUST_PROXY: 'on', HOST: '0.0.0.0', TRUST_PROXY_DIRECT_ACCESS: 'yes' });
    expect(!typo.ok && typo.problems[0]?.startsWith('TRUST_PROXY_DIRECT_ACCESS')).toBe(true);
  });

  it('refuses ActiveCampaign emission without Konnektive, which verifies orders', () => {
    const result = parseConfig({ SECRET: 'x'.repeat(40), ALLOWED_ORIGINS: 'https://a.example', EMIT_VIA: 'activecampaign', ACTIVECAMPAIGN_API_URL: 'https://acct.api-us1.com', ACTIVECAMPAIGN_API_KEY: 'k' });
    expect(!result.ok && result.problems.some((line) => line.startsWith('KONNEKTIVE_LOGIN_ID'))).toBe(true);
    const dryRun = parseConfig({ SECRET: 'x'.repeat(40), ALLOWED_ORIGINS: 'https://a.example', EMIT_VIA: 'sandbox', ACTIVECAMPAIGN_API_URL: 'https://acct.api-us1.com', ACTIVECAMPAIGN_API_KEY: 'k' });
    expect(dryRun.ok && dryRun.config.emitVia).toBe('sandbox');
  });

  it('reads the recovery link settings: a 7-day link by default, absolute http(s) pages only', () => {
    const defaults = parseConfig({});
    expect(defaults.ok && defaults.config.recovery).toEqual({ linkTtlMs: 7 * 86_400_000, doneUrl: undefined, fallbackUrl: undefined });
    const set = parseConfig({ RECOVERY_LINK_TTL: '3d', RECOVERY_DONE_URL: 'https://shop.example/thanks', RECOVERY_FALLBACK_URL: 'https://shop.example/' });
    expect(set.ok && set.config.recovery).toEqual({ linkTtlMs: 3 * 86_400_000, doneUrl: 'https://shop.example/thanks', fallbackUrl: 'https://shop.example/' });
    const bad = parseConfig({ RECOVERY_LINK_TTL: 'a week', RECOVERY_DONE_URL: '/thanks', RECOVERY_FALLBACK_URL: 'javascript:alert(1)' });
    expect(bad.ok ? [] : bad.problems.map((problem) => problem.split(':')[0]).sort()).toEqual(['RECOVERY_DONE_URL', 'RECOVERY_FALLBACK_URL', 'RECOVERY_LINK_TTL']);
  });

  it('adds /api/3 to the ActiveCampaign URL once', () => {
    for (const url of ['https://acct.api-us1.com', 'https://acct.api-us1.com/api/3/']) {
      const result = parseConfig({ ...live, EMIT_VIA: 'activecampaign', ACTIVECAMPAIGN_API_URL: url, ACTIVECAMPAIGN_API_KEY: 'k' });
      expect(result.ok && result.config.activeCampaign?.apiUrl).toBe('https://acct.api-us1.com/api/3');
    }
  });

  it('reads ActiveCampaign event tracking only with both its account id and key, over https or to this machine', () => {
    const off = parseConfig(live);
    expect(off.ok && off.config.activeCampaignEvents).toBeUndefined();
    expect(off.ok && off.config.lifecycle.tagPrefix).toBe('fb-');
    const on = parseConfig({ ...live, ACTIVECAMPAIGN_ACCOUNT_ID: '1234', ACTIVECAMPAIGN_EVENT_KEY: 'key', LIFECYCLE_TAG_PREFIX: 'shop-' });
    expect(on.ok && on.config.activeCampaignEvents).toEqual({ accountId: '1234', eventKey: 'key', eventsUrl: 'https://trackcmp.net/event' });
    expect(on.ok && on.config.lifecycle.tagPrefix).toBe('shop-');
    const local = parseConfig({ ...live, ACTIVECAMPAIGN_ACCOUNT_ID: '1', ACTIVECAMPAIGN_EVENT_KEY: 'k', ACTIVECAMPAIGN_EVENTS_URL: 'http://127.0.0.1:9/event' });
    expect(local.ok && local.config.activeCampaignEvents?.eventsUrl).toBe('http://127.0.0.1:9/event');
    const problems = (env: Record<string, string>) => {
      const result = parseConfig({ ...live, ...env });
      return result.ok ? [] : result.problems;
    };
    expect(problems({ ACTIVECAMPAIGN_ACCOUNT_ID: '1234' })).toEqual([expect.stringMatching(/^ACTIVECAMPAIGN_EVENT_KEY: /)]);
    expect(problems({ ACTIVECAMPAIGN_EVENT_KEY: 'k' })).toEqual([expect.stringMatching(/^ACTIVECAMPAIGN_ACCOUNT_ID: /)]);
    expect(problems({ ACTIVECAMPAIGN_ACCOUNT_ID: 'acct', ACTIVECAMPAIGN_EVENT_KEY: 'k' })).toEqual([expect.stringMatching(/^ACTIVECAMPAIGN_ACCOUNT_ID: /)]);
    expect(problems({ ACTIVECAMPAIGN_EVENTS_URL: 'http://trackcmp.net/event' })).toEqual([expect.stringMatching(/^ACTIVECAMPAIGN_EVENTS_URL: must be an https/)]);
    expect(problems({ LIFECYCLE_TAG_PREFIX: 'a,b' })).toEqual([expect.stringMatching(/^LIFECYCLE_TAG_PREFIX: /)]);
  });
});

describe('isAllowedOrigin', () => {
  it('matches configured origins exactly', () => {
    const result = parseConfig(live);
    if (!result.ok) throw new Error('config');
    expect(isAllowedOrigin(result.config, 'https://offer.example')).toBe(true);
    expect(isAllowedOrigin(result.config, 'https://evil.example')).toBe(false);
    expect(isAllowedOrigin(result.config, 'http://offer.example')).toBe(false);
  });
  it('allows any localhost port in sandbox mode', () => {
    const result = parseConfig({});
    if (!result.ok) throw new Error('config');
    expect(isAllowedOrigin(result.config, 'http://localhost:5173')).toBe(true);
    expect(isAllowedOrigin(result.config, 'http://127.0.0.1:9000')).toBe(true);
    expect(isAllowedOrigin(result.config, 'https://example.com')).toBe(false);
  });
});
