/**
 * The CLI as an operator runs it: `node dist/cli.js <command>` with the configuration in the
 * environment (built by `npm run build`, which `npm test` runs first).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

function cli(args: string[], env: Record<string, string> = {}) {
  expect(existsSync('dist/cli.js'), 'run `npm run build` first (npm test does)').toBe(true);
  const dir = mkdtempSync(join(tmpdir(), 'funnelbeacon-cli-'));
  const result = spawnSync(process.execPath, ['dist/cli.js', ...args], {
    cwd: process.cwd(),
    env: { PATH: process.env.PATH ?? '', DATABASE_URL: `file:${join(dir, 'cli.db')}`, LOG_LEVEL: 'silent', ...env },
    encoding: 'utf8',
    timeout: 15_000,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('funnelbeacon CLI', () => {
  it('stops at start on bad configuration, with one line per problem naming the variable', () => {
    const { code, stderr } = cli(['serve'], { PORT: 'eighty', ABANDON_AFTER: 'later', BOT_FILTER: 'maybe' });
    expect(code).toBe(1);
    const problems = stderr.split('\n').filter((line) => line.startsWith('  '));
    expect(problems.map((line) => line.trim().split(':')[0]).sort()).toEqual(['ABANDON_AFTER', 'BOT_FILTER', 'PORT']);
  });

  it('refuses to start with TRUST_PROXY on a HOST others can reach, in one line naming the fix', () => {
    const live = { SECRET: 'x'.repeat(40), ALLOWED_ORIGINS: 'https://offer.example', KONNEKTIVE_LOGIN_ID: 'id', KONNEKTIVE_PASSWORD: 'pw', KONNEKTIVE_CAMPAIGNS: '12', PORT: '0' };
    const { code, stderr } = cli(['serve'], { ...live, HOST: '0.0.0.0', TRUST_PROXY: 'on' });
    expect(code).toBe(1);
    const problems = stderr.split('\n').filter((line) => line.startsWith('  '));
    expect(problems).toEqual([expect.stringMatching(/^ {2}TRUST_PROXY: .*HOST=0\.0\.0\.0.*HOST=127\.0\.0\.1.*TRUST_PROXY_DIRECT_ACCESS=allow/)]);
  });

  it('migrates the store, replays dead letters and sweeps once', () => {
    expect(cli(['migrate'])).toMatchObject({ code: 0, stdout: 'store migrated (sqlite)\n' });
    expect(cli(['replay'])).toMatchObject({ code: 0, stdout: '0 dead-lettered job(s) put back into the outbox\n' });
    expect(cli(['sweep', '--once'])).toMatchObject({ code: 0, stdout: '0 due session(s) swept\n' });
  });

  it('refuses an unknown command and explains the usage', () => {
    const { code, stderr } = cli(['frobnicate']);
    expect(code).toBe(2);
    expect(stderr).toMatch(/unknown command "frobnicate"[\s\S]*serve[\s\S]*doctor/);
  });
});
