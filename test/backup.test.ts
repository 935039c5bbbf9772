/**
 * `funnelbeacon backup FILE` round trip: a collector keeps taking events while the CLI (a separate
 * process, as an operator runs it) copies its SQLite store; a collector started on the copy finds
 * every session, event and job that existed before the backup began, and the old session tokens
 * still work there (the sandbox secret lives in the store and travels with it).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, statSync, watch } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { IngestResponse } from '../collector/wire-schema.js';
import { ev, startTestCollector, testEnv, type TestCollector } from './support/test-collector.js';

function cliEnv(databaseUrl: string): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? '', DATABASE_URL: databaseUrl, LOG_LEVEL: 'silent' };
}

/**
 * Runs the CLI without blocking this process's event loop (the collector under test lives here),
 * under `umask` when given (as a cron job or a shell would).
 */
function cliAsync(args: string[], env: NodeJS.ProcessEnv, umask?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child =
      umask === undefined
        ? spawn(process.execPath, ['dist/cli.js', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] })
        : spawn('sh', ['-c', `umask ${umask} && exec "$0" dist/cli.js "$@"`, process.execPath, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('funnelbeacon backup', () => {
  const running: TestCollector[] = [];
  afterEach(async () => {
    for (const collector of running.splice(0)) await collector.close();
  });

  it('copies a running SQLite store; a collector on the copy finds the same sessions, events and jobs', async () => {
    expect(existsSync('dist/cli.js'), 'run `npm run build` first (npm test does)').toBe(true);
    const env = testEnv();
    const original = await startTestCollector(env, { runWorker: false });
    running.push(original);

    const post = async (session: string | undefined, events: unknown[]) => {
      const res = await original.post({ ...(session ? { session } : {}), events });
      expect(res.status).toBe(200);
      return (await res.json()) as IngestResponse;
    };
    const before: { token: string; id: string }[] = [];
    for (let i = 0; i < 40; i++) {
      const first = await post(undefined, [ev.page('presell', `https://offer.example/?affId=A${i}`)]);
      await post(first.session, [
        ev.page('checkout', 'https://secure.example/checkout'),
        ev.lead({ firstName: 'Ann', lastName: `Lee${i}`, emailAddress: `ann${i}@example.com` }),
        ev.cart([{ id: '41', name: 'Bottle', price: 39.95, qty: 1 }]),
      ]);
      before.push({ token: first.session, id: first.ids.session });
    }
    const eventsBefore = new Map<string, string[]>();
    for (const { id } of before) eventsBefore.set(id, (await original.store.listEvents(id)).map((event) => event.id));
    const jobsBefore = (await original.store.listJobs({})).map((job) => [job.id, job.sessionId, job.kind]);
    expect(jobsBefore.length).toBeGreaterThan(40);

    // Traffic keeps coming while the backup runs.
    let writing = true;
    let during = 0;
    const traffic = (async () => {
      while (writing) {
        await post(undefined, [ev.page('presell', 'https://offer.example/?affId=during')]);
        during++;
      }
    })();
    const file = join(mkdtempSync(join(tmpdir(), 'funnelbeacon-backup-')), 'nested', 'copy.db');
    const backup = await cliAsync(['backup', file], cliEnv(env.DATABASE_URL!));
    writing = false;
    await traffic;
    expect(backup.stderr).toBe('');
    expect(backup.code).toBe(0);
    expect(backup.stdout).toMatch(/^backup written to .*copy\.db: \d+ bytes, \d+ sessions?, \d+ events?, \d+ jobs?, integrity ok/);
    expect(during).toBeGreaterThan(0);
    // A self-contained file: nothing left beside it.
    expect(existsSync(`${file}-wal`)).toBe(false);
    expect(existsSync(`${file}.partial`)).toBe(false);

    // Restore = start a collector on the copy.
    const restored = await startTestCollector(testEnv({ DATABASE_URL: `file:${file}` }), { runWorker: false });
    running.push(restored);
    for (const { id } of before) {
      expect((await restored.store.listEvents(id)).map((event) => event.id)).toEqual(eventsBefore.get(id));
      expect(await restored.store.getSession(id)).toEqual(await original.store.getSession(id));
    }
    const jobsAfter = new Map((await restored.store.listJobs({})).map((job) => [job.id, [job.id, job.sessionId, job.kind]]));
    for (const job of jobsBefore) expect(jobsAfter.get(job[0] as number)).toEqual(job);
    // The copy is one snapshot: its counts match what the CLI printed.
    const [, sessions] = /(\d+) sessions?\b/.exec(backup.stdout)!;
    expect(await restored.store.countSessions()).toBe(Number(sessions));

    // A buyer's session token from before the backup still works against the restored store.
    const res = await restored.post({ session: before[0]!.token, events: [ev.page('thankyou', 'https://secure.example/thanks')] });
    expect(res.status).toBe(200);
    expect(((await res.json()) as IngestResponse).ids.session).toBe(before[0]!.id);
  }, 30_000);

  it('under umask 0022, the copy is its owner\'s only from its first byte: new directories 0700, the partial and the file 0600', async () => {
    expect(existsSync('dist/cli.js'), 'run `npm run build` first (npm test does)').toBe(true);
    const env = testEnv();
    const original = await startTestCollector(env, { runWorker: false });
    running.push(original);
    // Enough pages that the copy takes a moment: long enough to catch the partial's mode while it is written.
    for (let i = 0; i < 20; i++) {
      await original.post({ events: Array.from({ length: 20 }, (_, j) => ev.page('presell', `https://offer.example/?affId=A${i}-${j}&pad=${'x'.repeat(1_500)}`)) });
    }
    const root = mkdtempSync(join(tmpdir(), 'funnelbeacon-backup-'));
    const nightly = join(root, 'bk', 'nightly');
    const file = join(nightly, '2026-12-07.db');

    // Every file SQLite writes beside the copy, as it appears.
    const seen = new Map<string, number>();
    const watchParent = watch(root, { recursive: true }, (_event, name) => {
      if (!name || !String(name).includes('2026-12-07.db')) return;
      const path = join(root, String(name));
      try {
        const mode = statSync(path).mode & 0o777;
        seen.set(path, seen.get(path) === undefined ? mode : seen.get(path)! | mode);
      } catch {
        // Renamed or removed meanwhile.
      }
    });
    const backup = await cliAsync(['backup', file], cliEnv(env.DATABASE_URL!), '022');
    watchParent.close();
    expect(backup.stderr).toBe('');
    expect(backup.code).toBe(0);

    const mode = (path: string) => statSync(path).mode & 0o777;
    expect({ bk: mode(join(root, 'bk')), nightly: mode(nightly), file: mode(file) }).toEqual({ bk: 0o700, nightly: 0o700, file: 0o600 });
    expect(seen.has(`${file}.partial`), `files seen: ${[...seen.keys()].join(', ')}`).toBe(true);
    for (const [path, bits] of seen) expect(bits, path).toBe(0o600);
  }, 30_000);

  it('never overwrites a file, and sends PostgreSQL stores to pg_dump', () => {
    const env = testEnv();
    const dir = mkdtempSync(join(tmpdir(), 'funnelbeacon-backup-'));
    expect(spawnSync(process.execPath, ['dist/cli.js', 'migrate'], { env: cliEnv(env.DATABASE_URL!) }).status).toBe(0);
    const first = spawnSync(process.execPath, ['dist/cli.js', 'backup', join(dir, 'a.db')], { env: cliEnv(env.DATABASE_URL!), encoding: 'utf8' });
    expect(first.status).toBe(0);
    const again = spawnSync(process.execPath, ['dist/cli.js', 'backup', join(dir, 'a.db')], { env: cliEnv(env.DATABASE_URL!), encoding: 'utf8' });
    expect(again.status).toBe(1);
    expect(again.stderr).toMatch(/exists/);

    const pg = spawnSync(process.execPath, ['dist/cli.js', 'backup', join(dir, 'b.db')], {
      env: cliEnv('postgres://postgres@127.0.0.1:5432/test'),
      encoding: 'utf8',
    });
    expect(pg.status).toBe(1);
    expect(pg.stderr).toMatch(/pg_dump/);
    expect(existsSync(join(dir, 'b.db'))).toBe(false);

    const missing = spawnSync(process.execPath, ['dist/cli.js', 'backup'], { env: cliEnv(env.DATABASE_URL!), encoding: 'utf8' });
    expect(missing.status).toBe(2);
  }, 30_000);
});
