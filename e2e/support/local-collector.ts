/**
 * What every end-to-end stack needs to run a collector in the test's own process: a free port
 * (for a collector whose PUBLIC_URL must be known before it starts) and a collector started from
 * an environment, read by the same config parser `funnelbeacon serve` uses.
 */
import { createServer, type AddressInfo } from 'node:net';
import { parseConfig, type Config } from '../../collector/config.js';
import { startCollector, type RunningCollector } from '../../collector/server.js';

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Parses `env` as the CLI does (throwing on a bad setting) and starts a collector from it. */
export async function startCollectorFromEnv(
  env: Record<string, string>,
  options: Parameters<typeof startCollector>[1],
  expect?: (config: Config) => string | undefined,
): Promise<RunningCollector> {
  const parsed = parseConfig(env);
  if (!parsed.ok) throw new Error(`collector configuration: ${parsed.problems.join('; ')}`);
  const wrong = expect?.(parsed.config);
  if (wrong) throw new Error(wrong);
  return startCollector(parsed.config, options);
}
