/**
 * A collector as `npm start` runs it on a fresh install: sandbox mode (no credentials at all),
 * serving the demo funnel at `/demo/` and the dashboard, with a fresh SQLite file. The sweeper
 * does not run by itself: a test calls {@link SandboxCollector.sweep} (`sweep --once`) when it
 * wants the collector to look at idle sessions, so nothing is abandoned while the test types.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunningCollector } from '../../collector/server.js';
import { freePort, startCollectorFromEnv } from './local-collector.js';

export interface SandboxCollector {
  collector: RunningCollector;
  /** The collector's origin, which is also the demo funnel's and the dashboard's. */
  url: string;
  /** One sweep, as `funnelbeacon sweep --once`. */
  sweep(): Promise<number>;
  close(): Promise<void>;
}

export async function startSandboxCollector(env: Record<string, string> = {}): Promise<SandboxCollector> {
  const dir = await mkdtemp(join(tmpdir(), 'funnelbeacon-sandbox-'));
  const port = await freePort();
  const collector = await startCollectorFromEnv(
    {
      HOST: '127.0.0.1',
      PORT: String(port),
      PUBLIC_URL: `http://127.0.0.1:${port}`,
      DATABASE_URL: `file:${join(dir, 'collector.db')}`,
      LOG_LEVEL: 'silent',
      ...env,
    },
    { worker: { pollMs: 25 }, runSweeper: false },
    (config) => (config.sandbox ? undefined : 'expected sandbox mode'),
  );
  return {
    collector,
    url: collector.url,
    sweep: () => collector.sweeper.sweepOnce(),
    async close() {
      await collector.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
