import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from './config.js';
import { runDoctor } from './doctor.js';
import { startKonnektiveDouble, type KonnektiveDouble } from '../test/doubles/konnektive-double.js';
import { konnektiveEnv } from '../test/support/test-collector.js';

let double: KonnektiveDouble;
beforeEach(async () => {
  double = await startKonnektiveDouble({ loginId: 'fb-login', password: 'fb-password', campaigns: ['12'] });
});
afterEach(async () => {
  await double.close();
});

async function doctor(env: Record<string, string>): Promise<{ code: number; lines: string[] }> {
  const lines: string[] = [];
  const code = await runDoctor(parseConfig(env), (line) => lines.push(line));
  return { code, lines };
}

describe('funnelbeacon doctor', () => {
  it('says everything is fine when the store opens and Konnektive accepts the credentials', async () => {
    const { code, lines } = await doctor(konnektiveEnv(double.url));
    expect(code).toBe(0);
    expect(lines).toEqual([expect.stringMatching(/^ok +config: live mode/), expect.stringMatching(/^ok +store: sqlite/), expect.stringMatching(/^ok +konnektive: .* accepts/)]);
    expect(double.calls.map((call) => call.path)).toEqual(['/order/query/']);
  });

  it('says what to fix when Konnektive refuses the credentials, without printing them', async () => {
    double.setCredentials('other', 'other');
    const { code, lines } = await doctor(konnektiveEnv(double.url));
    expect(code).toBe(1);
    expect(lines.at(-1)).toMatch(/^FAIL +konnektive: credentials refused.*IP whitelist/);
    expect(lines.join('\n')).not.toContain('fb-password');
  });

  it('lists every configuration problem', async () => {
    const { code, lines } = await doctor({ KONNEKTIVE_LOGIN_ID: 'a', KONNEKTIVE_PASSWORD: 'b', SWEEP_EVERY: 'often' });
    expect(code).toBe(1);
    expect(lines.every((line) => line.startsWith('FAIL  config: '))).toBe(true);
    expect(lines.join('\n')).toMatch(/SWEEP_EVERY/);
  });
});
