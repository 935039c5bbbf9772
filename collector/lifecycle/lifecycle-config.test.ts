import { describe, expect, it } from 'vitest';
import { parseConfig } from '../config.js';

const live = {
  SECRET: 'x'.repeat(40),
  ALLOWED_ORIGINS: 'https://offer.example',
  KONNEKTIVE_LOGIN_ID: 'api-user',
  KONNEKTIVE_PASSWORD: 'pw',
  KONNEKTIVE_CAMPAIGNS: '12',
};
const ac = { ACTIVECAMPAIGN_API_URL: 'https://acct.api-us1.com', ACTIVECAMPAIGN_API_KEY: 'k'.repeat(20) };

describe('lifecycle sync configuration', () => {
  it('is off by default, every 5 minutes over 2 days before today, in New York time', () => {
    const result = parseConfig(live);
    expect(result.ok && result.config.lifecycle).toMatchObject({ enabled: false, pollEveryMs: 300_000, lookbackDays: 2, timeZone: 'America/New_York' });
  });

  it('reads its settings when on with both sets of credentials', () => {
    const result = parseConfig({ ...live, ...ac, LIFECYCLE_SYNC: 'on', LIFECYCLE_POLL_EVERY: '30s', LIFECYCLE_LOOKBACK_DAYS: '7', KONNEKTIVE_TIMEZONE: 'Europe/Berlin' });
    expect(result.ok && result.config.lifecycle).toMatchObject({ enabled: true, pollEveryMs: 30_000, lookbackDays: 7, timeZone: 'Europe/Berlin' });
  });

  it('refuses to start on without the direct ActiveCampaign credentials, in one line', () => {
    const result = parseConfig({ ...live, LIFECYCLE_SYNC: 'on' });
    expect(result).toEqual({ ok: false, problems: ['LIFECYCLE_SYNC: lifecycle sync needs ACTIVECAMPAIGN_API_URL and ACTIVECAMPAIGN_API_KEY'] });
  });

  it('refuses an unknown time zone, a poll under 30s and a look-back under one day', () => {
    for (const bad of [{ KONNEKTIVE_TIMEZONE: 'New York' }, { LIFECYCLE_POLL_EVERY: '10s' }, { LIFECYCLE_LOOKBACK_DAYS: '0' }]) {
      const result = parseConfig({ ...live, ...bad });
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.problems[0]).toMatch(new RegExp(`^${Object.keys(bad)[0]}: `));
    }
  });
});
