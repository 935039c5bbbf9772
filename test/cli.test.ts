/**
 * The CLI as an operator runs it: `node dist/cli.js <command>` with the configuration in the
 * environment (built by `npm run build`, which `npm test` runs first).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
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

describe('funnelbeacon CLI', { timeout: 60_000 }, () => {
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
    expect(cli(['replay'])).toMatchObject({ code: 0, stdout: '0 dead-lettered jobs put back into the outbox\n' });
    expect(cli(['sweep', '--once'])).toMatchObject({ code: 0, stdout: '0 due sessions swept\n' });
  });

  it('refuses an unknown command and explains the usage', () => {
    const { code, stderr } = cli(['frobnicate']);
    expect(code).toBe(2);
    expect(stderr).toMatch(/unknown command "frobnicate"[\s\S]*serve[\s\S]*doctor/);
  });

  describe('--env-file PATH', () => {
    /** The CLI with exactly this environment (no DATABASE_URL unless given), from `cwd`. */
    function run(args: string[], env: Record<string, string> = {}, cwd = process.cwd()) {
      const result = spawnSync(process.execPath, [resolve('dist/cli.js'), ...args], { cwd, env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8', timeout: 15_000 });
      return { code: result.status, stdout: result.stdout, stderr: result.stderr };
    }
    /** A settings file in a fresh directory; `lines` may name files in that directory. */
    function settings(lines: (dir: string) => string[]): { dir: string; file: string } {
      const dir = mkdtempSync(join(tmpdir(), 'funnelbeacon-env-'));
      const file = join(dir, 'env');
      writeFileSync(file, `${lines(dir).join('\n')}\n`, { mode: 0o640 });
      return { dir, file };
    }

    it('reads the settings from the file, so that no secret is on the command line (the nightly backup job runs this way)', () => {
      const { dir, file } = settings((dir) => [
        '# /etc/funnelbeacon/env',
        `DATABASE_URL=file:${join(dir, 'store.db')}`,
        'SECRET="a secret with spaces and a # that is no comment 0123456789"',
        'LOG_LEVEL=silent',
      ]);
      expect(run(['--env-file', file, 'migrate'])).toMatchObject({ code: 0, stdout: 'store migrated (sqlite)\n' });
      expect(existsSync(join(dir, 'store.db'))).toBe(true);
      const backup = run([`--env-file=${file}`, 'backup', join(dir, 'nightly', 'copy.db')]);
      expect(backup.stderr).toBe('');
      expect(backup.code).toBe(0);
      expect(statSync(join(dir, 'nightly', 'copy.db')).size).toBeGreaterThan(0);
      // The option may follow the command too.
      expect(run(['replay', '--env-file', file])).toMatchObject({ code: 0, stdout: '0 dead-lettered jobs put back into the outbox\n' });
    });

    it('values are read whole, quoted ones with their spaces; a bad one is named like any other', () => {
      const { file } = settings((dir) => [`DATABASE_URL=file:${join(dir, 'store.db')}`, 'ABANDON_AFTER="half an hour"', 'PORT=eighty']);
      const { code, stderr } = run(['--env-file', file, 'serve']);
      expect(code).toBe(1);
      expect(stderr).toContain('ABANDON_AFTER: expected a duration such as 90s, 30m or 2h, got "half an hour"');
      expect(stderr).toMatch(/^ {2}PORT: /m);
    });

    it('a variable set in the environment wins over the file', () => {
      const { dir, file } = settings((dir) => [`DATABASE_URL=file:${join(dir, 'from-file.db')}`, 'LOG_LEVEL=silent']);
      expect(run(['--env-file', file, 'migrate'], { DATABASE_URL: `file:${join(dir, 'from-env.db')}` }).code).toBe(0);
      expect(existsSync(join(dir, 'from-env.db'))).toBe(true);
      expect(existsSync(join(dir, 'from-file.db'))).toBe(false);
    });

    it('replaces ./.env: only the named file is read', () => {
      const { dir, file } = settings((dir) => [`DATABASE_URL=file:${join(dir, 'store.db')}`, 'LOG_LEVEL=silent']);
      writeFileSync(join(dir, '.env'), 'PORT=eighty\n');
      expect(run(['migrate'], {}, dir)).toMatchObject({ code: 1 });
      expect(run(['--env-file', file, 'migrate'], {}, dir)).toMatchObject({ code: 0, stdout: 'store migrated (sqlite)\n' });
    });

    it('a file that cannot be read, or no file at all, stops with a line naming it', async () => {
      // Node 20 itself refuses a missing --env-file anywhere on its command line ("node: PATH: not
      // found", exit 9) before the CLI runs; later versions leave it to the CLI's own line.
      for (const command of ['migrate', 'doctor']) {
        const missing = run(['--env-file', '/nonexistent/funnelbeacon/env', command]);
        expect(missing.code, command).not.toBe(0);
        expect(`${missing.stdout}${missing.stderr}`, command).toContain('/nonexistent/funnelbeacon/env');
        expect(existsSync('/nonexistent/funnelbeacon')).toBe(false);
      }
      const { loadConfig } = await import('../collector/load-env.js');
      expect(loadConfig('/nonexistent/funnelbeacon/env')).toEqual({
        ok: false,
        problems: ['--env-file: cannot read /nonexistent/funnelbeacon/env (ENOENT); give the settings file of the collector, e.g. /etc/funnelbeacon/env'],
      });
      const bare = run(['migrate', '--env-file']);
      expect(bare.code).toBe(2);
      expect(bare.stderr).toMatch(/--env-file takes the settings file/);
    });
  });
});
