/**
 * The shipped deployment files are checked by their own tools: the systemd unit with
 * `systemd-analyze verify`, the nginx example with `nginx -t` (in a temporary prefix, with a
 * throwaway certificate in place of the Let's Encrypt paths). Each check says why it is skipped
 * when its tool is missing; `.ci/run` installs both. docs/deploy.md must cover what operators
 * need, and link to both files.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, get as httpGet } from 'node:http';
import { get as httpsGet } from 'node:https';
import { connect, type AddressInfo } from 'node:net';
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

/**
 * A prefix for nginx with the example site: a throwaway certificate in place of Let's Encrypt's,
 * the logs and temp paths in the prefix; `writeConf` writes the site and the main file including it.
 */
function nginxPrefix() {
  const dir = mkdtempSync(join(tmpdir(), 'funnelbeacon-nginx-'));
  const certificate = spawnSync(
    openssl!,
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=collect.example.com', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')],
    { encoding: 'utf8', timeout: 30_000 },
  );
  expect(certificate.status, certificate.stderr).toBe(0);
  const site = readFileSync(NGINX, 'utf8')
    .replace('/etc/letsencrypt/live/collect.example.com/fullchain.pem', join(dir, 'cert.pem'))
    .replace('/etc/letsencrypt/live/collect.example.com/privkey.pem', join(dir, 'key.pem'))
    .replaceAll('/var/log/nginx/', `${dir}/`);
  const writeConf = (siteText: string) => {
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
  };
  return { dir, site, writeConf };
}

async function listenOn(handler: Parameters<typeof createServer>[1]): Promise<{ port: number; close(): Promise<void> }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve()))),
  };
}

async function freePort(): Promise<number> {
  const probe = await listenOn(() => {});
  await probe.close();
  return probe.port;
}

async function waitForPort(port: number, stderr: () => string): Promise<void> {
  for (let tries = 0; tries < 100; tries++) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`nginx did not listen on ${port}: ${stderr()}`);
}

/** One GET to nginx as collect.example.com (its certificate is the throwaway one). */
function request(scheme: 'http' | 'https', port: number, path: string): Promise<{ status: number }> {
  const send = scheme === 'https' ? httpsGet : httpGet;
  return new Promise((resolve, reject) => {
    const req = send(
      { host: '127.0.0.1', port, path, servername: 'collect.example.com', rejectUnauthorized: false, headers: { host: 'collect.example.com', 'user-agent': 'funnelbeacon-deploy-test' } },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode! }));
      },
    );
    req.once('error', reject);
  });
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
      const { dir, site, writeConf } = nginxPrefix();
      const check = (siteText: string) => {
        writeConf(siteText);
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

  it.skipIf(!nginx || !openssl)(
    `nginx run with the example logs recovery links without their token and postbacks without their secret, over HTTPS and HTTP, and when the collector is down${nginx && openssl ? '' : ' (skipped: nginx or openssl not installed)'}`,
    async () => {
      const { dir, site, writeConf } = nginxPrefix();
      const reached: string[] = [];
      const collector = await listenOn((req, res) => {
        reached.push(req.url!);
        res.writeHead(req.url!.startsWith('/r/') ? 302 : 200, { location: 'https://offer.example/checkout' });
        res.end();
      });
      const [https, http] = [await freePort(), await freePort()];
      // Loopback ports of this machine in place of 80, 443 and the collector's 8787.
      writeConf(
        site
          .replace(/^\s*listen \[::\]:\d+.*$/gm, '')
          .replace('listen 80;', `listen 127.0.0.1:${http};`)
          .replace('listen 443 ssl http2;', `listen 127.0.0.1:${https} ssl http2;`)
          .replace('server 127.0.0.1:8787;', `server 127.0.0.1:${collector.port};`),
      );
      // One process, in the foreground, as the user running the test: nothing outside `dir`.
      const server = spawn(nginx!, ['-p', `${dir}/`, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log'), '-g', 'daemon off; master_process off;'], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      server.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
      try {
        await waitForPort(https, () => stderr);
        const token = 'r.P8EGQtYNdsQNisjw-gSTwN.mxcz1zhn.5oSMX-0_bRKSwWkKNaAlSg';
        expect((await request('https', https, `/r/${token}`)).status).toBe(302);
        expect((await request('http', http, `/r/${token}`)).status).toBe(301);
        expect((await request('https', https, '/f.js')).status).toBe(200);
        // Konnektive's postbacks reach the collector, secret and fields as sent.
        const postback = '/v1/konnektive/postback/pb-Zq8w3NfT6yL1vK0m?orderId=6012&emailAddress=ann%40example.com';
        expect((await request('https', https, postback)).status).toBe(200);
        expect(reached).toContain(postback);
        expect((await request('http', http, postback)).status).toBe(301);
        // The collector is down: nginx answers 502 and names no token in its error log either.
        await collector.close();
        expect((await request('https', https, `/r/${token}`)).status).toBe(502);
        expect((await request('https', https, '/f.js')).status).toBe(502);
        expect((await request('https', https, postback)).status).toBe(502);

        const access = readFileSync(join(dir, 'access.log'), 'utf8');
        const recovery = access.split('\n').filter((line) => line.includes('/r/'));
        expect(recovery).toHaveLength(3);
        for (const line of recovery) expect(line).toMatch(/"GET \/r\/\[token\] HTTP\/1\.1" (302|301|502) \d+ "-" "funnelbeacon-deploy-test"$/);
        expect(access).toMatch(/"GET \/f\.js HTTP\/1\.1" 200 /);
        const errors = readFileSync(join(dir, 'error.log'), 'utf8');
        // The 502 of /f.js is logged as usual; the one of the recovery link is not.
        expect(errors).toContain('/f.js');
        expect(`${access}\n${errors}`).not.toContain('P8EGQtYNdsQNisjw');
        const postbacks = access.split('\n').filter((line) => line.includes('/v1/konnektive/postback/'));
        expect(postbacks).toHaveLength(3);
        for (const line of postbacks) expect(line).toMatch(/"GET \/v1\/konnektive\/postback\/\[secret\] HTTP\/1\.1" (200|301|502) \d+ "-" "funnelbeacon-deploy-test"$/);
        expect(`${access}\n${errors}`).not.toMatch(/pb-Zq8w3NfT6yL1vK0m|ann(%40|@)example/);
      } finally {
        server.kill('SIGTERM');
        await new Promise((resolve) => (server.exitCode === null ? server.once('exit', resolve) : resolve(undefined)));
        await collector.close().catch(() => {});
      }
    },
    30_000,
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

  it('docs/deploy.md never puts the settings on a command line: every CLI command reads them from the file', () => {
    const doc = readFileSync('docs/deploy.md', 'utf8');
    // Code blocks and inline code (which may wrap across lines), each a command as an operator copies it.
    const snippets = [...doc.matchAll(/```sh\n([\s\S]*?)```|`([^`]+)`/g)].flatMap((match) =>
      match[1] !== undefined ? match[1].replace(/\\\n\s*/g, ' ').split('\n') : [match[2]!.replace(/\n\s*/g, ' ')],
    );
    const commands = snippets.filter((line) => /\bnode\b.*dist\/cli\.js/.test(line));
    expect(commands.length).toBeGreaterThanOrEqual(3);
    for (const command of commands) expect(command, command).toMatch(/--env-file \/etc\/funnelbeacon\/env|EnvironmentFile=\/etc\/funnelbeacon\/env/);
    // The backup job among them.
    expect(commands.some((command) => /sudo -u funnelbeacon .*--env-file .* backup /.test(command))).toBe(true);
  });
});
