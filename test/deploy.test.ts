/**
 * The shipped deployment files are checked by their own tools: the systemd unit with
 * `systemd-analyze verify`, the nginx example with `nginx -t` (in a temporary prefix, with a
 * throwaway certificate in place of the Let's Encrypt paths). Each check says why it is skipped
 * when its tool is missing; `.ci/run` installs both. docs/deploy.md must cover what operators
 * need, and link to both files.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SERVE_NODE_FLAGS } from '../collector/node-flags.js';

const UNIT = 'deploy/funnelbeacon.service';
const NGINX = 'deploy/nginx.conf';

function which(command: string): string | undefined {
  const found = spawnSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' });
  return found.status === 0 ? found.stdout.trim() : undefined;
}

const systemdAnalyze = which('systemd-analyze');
const nginx = process.env.FUNNELBEACON_NGINX || which('nginx') || (existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : undefined);
const openssl = which('openssl');

/** The unit with this machine's node in ExecStart (verify checks that the program exists). */
function unitCopy(edit: (text: string) => string = (text) => text): string {
  const dir = mkdtempSync(join(tmpdir(), 'funnelbeacon-unit-'));
  const path = join(dir, 'funnelbeacon.service');
  writeFileSync(path, edit(readFileSync(UNIT, 'utf8').replaceAll('/usr/bin/node', process.execPath)));
  return path;
}

function verifyUnit(path: string) {
  const result = spawnSync(systemdAnalyze!, ['verify', path], { encoding: 'utf8', timeout: 30_000 });
  // verify exits 0 on keys it ignores, and says so on stderr: any line about the unit is a problem.
  const problems = `${result.stdout}\n${result.stderr}`.split('\n').filter((line) => line.includes('funnelbeacon.service'));
  return { status: result.status, problems };
}

describe('deployment files', () => {
  it('the systemd unit migrates before it serves, stops with SIGTERM and restarts on failure', () => {
    const unit = readFileSync(UNIT, 'utf8');
    const key = (name: string) => [...unit.matchAll(new RegExp(`^${name}=(.*)$`, 'gm'))].map((match) => match[1]);
    expect(key('ExecStartPre')).toEqual(['/usr/bin/node /opt/funnelbeacon/dist/cli.js migrate']);
    expect(key('ExecStart')).toEqual([`/usr/bin/node ${SERVE_NODE_FLAGS.join(' ')} /opt/funnelbeacon/dist/cli.js serve`]);
    expect(key('KillSignal')).toEqual(['SIGTERM']);
    expect(key('Restart')).toEqual(['on-failure']);
    expect(key('EnvironmentFile')).toEqual(['/etc/funnelbeacon/env']);
    expect(key('ReadWritePaths')).toEqual(['/var/lib/funnelbeacon']);
  });

  it.skipIf(!systemdAnalyze)(`the systemd unit passes systemd-analyze verify${systemdAnalyze ? '' : ' (skipped: systemd-analyze not installed; apt-get install systemd)'}`, () => {
    expect(verifyUnit(unitCopy())).toEqual({ status: 0, problems: [] });
    // The check does see mistakes.
    const broken = verifyUnit(unitCopy((text) => text.replace('Restart=on-failure', 'Restart=sometimes\nRestartSecs=2')));
    expect(broken.problems.length).toBeGreaterThanOrEqual(2);
  });

  it.skipIf(!nginx || !openssl)(
    `the nginx example passes nginx -t${nginx && openssl ? '' : ` (skipped: ${nginx ? 'openssl' : 'nginx'} not installed; apt-get install ${nginx ? 'openssl' : 'nginx-light'})`}`,
    () => {
      const dir = mkdtempSync(join(tmpdir(), 'funnelbeacon-nginx-'));
      const certificate = spawnSync(
        openssl!,
        ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=collect.example.com', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')],
        { encoding: 'utf8', timeout: 30_000 },
      );
      expect(certificate.status, certificate.stderr).toBe(0);
      const site = readFileSync(NGINX, 'utf8')
        .replace('/etc/letsencrypt/live/collect.example.com/fullchain.pem', join(dir, 'cert.pem'))
        .replace('/etc/letsencrypt/live/collect.example.com/privkey.pem', join(dir, 'key.pem'));
      const check = (siteText: string) => {
        writeFileSync(join(dir, 'site.conf'), siteText);
        writeFileSync(
          join(dir, 'nginx.conf'),
          [
            `pid ${join(dir, 'nginx.pid')};`,
            `error_log ${join(dir, 'error.log')};`,
            'events {}',
            'http {',
            // The package's compiled-in temp paths are under /var/lib/nginx; keep everything here.
            ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((kind) => `  ${kind}_temp_path ${join(dir, kind)};`),
            `  access_log ${join(dir, 'access.log')};`,
            `  include ${join(dir, 'site.conf')};`,
            '}',
          ].join('\n'),
        );
        return spawnSync(nginx!, ['-t', '-q', '-p', `${dir}/`, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log')], {
          encoding: 'utf8',
          timeout: 30_000,
        });
      };
      const good = check(site);
      expect(good.stderr).toBe('');
      expect(good.status).toBe(0);
      // The check does see mistakes.
      expect(check(site.replace('proxy_pass http://funnelbeacon;', 'proxy_pass http://funnelbeacon')).status).not.toBe(0);
    },
  );

  it('docs/deploy.md covers what an operator needs, and README links to it', () => {
    const doc = readFileSync('docs/deploy.md', 'utf8');
    const headings = [...doc.matchAll(/^#{2,3} (.*)$/gm)].map((match) => match[1]!.toLowerCase());
    for (const topic of ['reverse proxy', 'first-party', 'several collectors', 'upgrad', 'backup', 'sizing']) {
      expect(headings.some((heading) => heading.includes(topic)), `a section on ${topic}`).toBe(true);
    }
    for (const needle of ['deploy/funnelbeacon.service', 'deploy/nginx.conf', 'TRUST_PROXY', 'funnelbeacon migrate', 'pg_dump', 'funnelbeacon backup', 'BENCHMARKS.md']) {
      expect(doc, needle).toContain(needle);
    }
    expect(readFileSync('README.md', 'utf8')).toContain('(docs/deploy.md)');
  });
});
