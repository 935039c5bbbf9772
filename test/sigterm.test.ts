/**
 * SIGTERM while visitors keep sending: the collector stops accepting, finishes the writes it
 * started, gives back its claims and exits 0. Every event it acknowledged is in the store.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SqliteStore } from '../collector/store/sqlite-store.js';
import type { IngestResponse } from '../collector/wire-schema.js';
import { BROWSER_UA, LANDER_ORIGIN } from './support/test-collector.js';

describe('SIGTERM during load', () => {
  it('loses no acknowledged event, releases its claims and exits 0', async () => {
    expect(existsSync('dist/cli.js'), 'run `npm run build` first (npm test does)').toBe(true);
    const dir = mkdtempSync(join(tmpdir(), 'funnelbeacon-sigterm-'));
    const database = join(dir, 'collector.db');
    const child = spawn(process.execPath, ['dist/cli.js', 'serve'], {
      env: { PATH: process.env.PATH, PORT: '0', HOST: '127.0.0.1', DATABASE_URL: `file:${database}`, LOG_LEVEL: 'info', RATE_LIMIT_PER_MINUTE: '1000000' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    let output = '';
    const port = await new Promise<number>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => {
        output += chunk;
        const match = /"port":(\d+)/.exec(output);
        if (match) resolve(Number(match[1]));
      });
      void exited.then(() => reject(new Error(`collector exited early: ${output}`)));
    });

    const acknowledged: { session: string; event: string }[] = [];
    let refused = 0;
    let stopAt = Number.POSITIVE_INFINITY;
    const visitor = async () => {
      while (Date.now() < stopAt + 1_000) {
        const event = randomUUID();
        try {
          const res = await fetch(`http://127.0.0.1:${port}/v1/events`, {
            method: 'POST',
            headers: { 'content-type': 'text/plain', origin: LANDER_ORIGIN, 'user-agent': BROWSER_UA },
            body: JSON.stringify({ events: [{ id: event, type: 'page', page: 'presell', url: 'https://offer.example/?affId=1' }] }),
          });
          if (res.status === 200) acknowledged.push({ session: ((await res.json()) as IngestResponse).ids.session, event });
          else await res.body?.cancel();
        } catch {
          refused++;
          return;
        }
      }
    };
    const load = Array.from({ length: 16 }, visitor);
    await new Promise((resolve) => setTimeout(resolve, 400));
    child.kill('SIGTERM');
    stopAt = Date.now();
    await Promise.all(load);
    expect(await exited).toBe(0);
    expect(refused).toBeGreaterThan(0);
    expect(acknowledged.length).toBeGreaterThan(20);

    const store = SqliteStore.fromUrl(`file:${database}`);
    try {
      const missing: string[] = [];
      for (const { session, event } of acknowledged) {
        const events = await store.listEvents(session);
        if (!events.some((stored) => stored.id === event)) missing.push(event);
      }
      expect(missing).toEqual([]);
      expect((await store.countJobsByState()).running).toBe(0);
    } finally {
      await store.close();
    }
  }, 20_000);
});
