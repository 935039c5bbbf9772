/**
 * A collector as `npm start` runs it on a fresh install: sandbox mode (no credentials at all),
 * serving the demo funnel at `/demo/` and the dashboard, with a fresh SQLite file. The sweeper
 * does not run by itself: a test calls {@link SandboxCollector.sweep} (`sweep --once`) when it
 * wants the collector to look at idle sessions, so nothing is abandoned while the test types.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../collector/config.js';
import { startCollector, type RunningCollector } from '../../collector/server.js';

export interface SandboxCollector {
  collector: RunningCollector;
  /** The collector's origin, which is also the demo funnel's and the dashboard's. */
  url: string;
  /** One sweep, as `funnelbeacon sweep --once`. */
  sweep(): Promise<number>;
  close(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export async function startSandboxCollector(env: Record<string, string> = {}): Promise<SandboxCollector> {
  const dir = await mkdtemp(join(tmpdir(), 'funnelbeacon-sandbox-'));
  const port = await freePort();
  const parsed = parseConfig({
    HOST: '127.0.0.1',
    PORT: String(port),
    PUBLIC_URL: `http://127.0.0.1:${port}`,
    DATABASE_URL: `file:${join(dir, 'collector.db')}`,
    LOG_LEVEL: 'silent',
    ...env,
  });
  if (!parsed.ok) throw new Error(`collector configuration: ${parsed.problems.join('; ')}`);
  if (!parsed.config.sandbox) throw new Error('expected sandbox mode');
  const collector = await startCollector(parsed.config, { worker: { pollMs: 25 }, runSweeper: false });
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
