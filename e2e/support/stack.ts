/**
 * One funnel, for real: the Konnektive test double, the collector on a free port with a fresh
 * SQLite file, and the fixture pages on two lander origins (`http://localhost:A` and
 * `http://127.0.0.1:B`), which the collector allows.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunningCollector } from '../../collector/server.js';
import { startKonnektiveDouble, type KonnektiveDouble } from '../../test/doubles/konnektive-double.js';
import { startFixtureServer, type FixtureVars } from './fixture-server.js';
import { freePort, startCollectorFromEnv } from './local-collector.js';
import { startRecorder, type Recorder } from './recorder.js';

export const SECRET = 'e2e-secret-e2e-secret-e2e-secret-0123456789';
export const CAMPAIGN = '12';
const LOGIN = { loginId: 'fb-e2e', password: 'fb-e2e-password' };

export interface Stack {
  collector: RunningCollector;
  konnektive: KonnektiveDouble;
  /** What reached the collector, beacons included: the pages send their events through it. */
  recorder: Recorder;
  /** Origins of the two lander servers. */
  a: string;
  b: string;
  /** What the fixture pages are filled with; a test may change it before it navigates. */
  vars: FixtureVars;
  /** The collector's environment, for running the CLI against the same store. */
  env: Record<string, string>;
  close(): Promise<void>;
}

/**
 * @param env collector settings for one test (e.g. a short `ABANDON_AFTER`); when given, the
 *   collector also gets a known port and `PUBLIC_URL`, so that the links it makes (a CART's
 *   recovery link) lead back to it.
 */
export async function startStack(env: Record<string, string> = {}): Promise<Stack> {
  const dir = await mkdtemp(join(tmpdir(), 'funnelbeacon-e2e-'));
  const port = Object.keys(env).length > 0 ? await freePort() : 0;
  const konnektive = await startKonnektiveDouble({ ...LOGIN, campaigns: [CAMPAIGN] });
  const vars: FixtureVars = { COLLECTOR: '', EVENTS: '', A: '', B: '', CONSENT: 'auto' };
  const siteA = await startFixtureServer('localhost', vars);
  const siteB = await startFixtureServer('127.0.0.1', vars);
  const collectorEnv: Record<string, string> = {
    PORT: String(port),
    ...(port ? { PUBLIC_URL: `http://127.0.0.1:${port}` } : {}),
    HOST: '127.0.0.1',
    DATABASE_URL: `file:${join(dir, 'collector.db')}`,
    SECRET,
    ALLOWED_ORIGINS: `${siteA.origin},${siteB.origin}`,
    KONNEKTIVE_LOGIN_ID: LOGIN.loginId,
    KONNEKTIVE_PASSWORD: LOGIN.password,
    KONNEKTIVE_API_URL: konnektive.url,
    KONNEKTIVE_CAMPAIGNS: CAMPAIGN,
    LOG_LEVEL: 'silent',
    ...env,
  };
  const collector = await startCollectorFromEnv(collectorEnv, { worker: { pollMs: 25 } });
  const recorder = await startRecorder(collector.url);
  Object.assign(vars, { COLLECTOR: collector.url, EVENTS: recorder.origin, A: siteA.origin, B: siteB.origin });

  return {
    collector,
    konnektive,
    recorder,
    a: siteA.origin,
    b: siteB.origin,
    vars,
    env: collectorEnv,
    async close() {
      await Promise.all([siteA.close(), siteB.close(), recorder.close()]);
      await collector.close();
      await konnektive.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
