/**
 * A real collector for integration tests: parsed config, a fresh SQLite file, the HTTP server on
 * a free port, and a fast-polling worker with short backoff so failures recover in milliseconds.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { parseConfig, type Config } from '../../collector/config.js';
import { createLogger } from '../../collector/logger.js';
import { startCollector, type CollectorOptions, type RunningCollector } from '../../collector/server.js';
import type { FunnelEvent } from '../../collector/wire-schema.js';

/** An ordinary desktop browser: the bot filter lets it through. */
export const BROWSER_UA =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
export const LANDER_ORIGIN = 'http://localhost:5173';
export const TEST_SECRET = 'test-secret-that-is-long-enough-0123456789';

export interface TestCollector extends RunningCollector {
  config: Config;
  post(body: unknown, options?: { origin?: string; userAgent?: string; contentType?: string; raw?: boolean; headers?: Record<string, string> }): Promise<Response>;
}

export function testEnv(overrides: Record<string, string> = {}): Record<string, string> {
  const dir = mkdtempSync(join(tmpdir(), 'funnelbeacon-test-'));
  return { PORT: '0', HOST: '127.0.0.1', DATABASE_URL: `file:${join(dir, 'collector.db')}`, LOG_LEVEL: 'silent', ...overrides };
}

/** Env for a collector relaying to a Konnektive double. */
export function konnektiveEnv(apiUrl: string, overrides: Record<string, string> = {}): Record<string, string> {
  return testEnv({
    SECRET: TEST_SECRET,
    ALLOWED_ORIGINS: LANDER_ORIGIN,
    KONNEKTIVE_LOGIN_ID: 'fb-login',
    KONNEKTIVE_PASSWORD: 'fb-password',
    KONNEKTIVE_API_URL: apiUrl,
    KONNEKTIVE_CAMPAIGNS: '12',
    KONNEKTIVE_PROBE_EVERY: '50ms',
    ...overrides,
  });
}

export async function startTestCollector(env: Record<string, string> = testEnv(), options: CollectorOptions = {}): Promise<TestCollector> {
  const result = parseConfig(env);
  if (!result.ok) throw new Error(`test config: ${result.problems.join('; ')}`);
  const collector = await startCollector(result.config, {
    logger: createLogger('silent'),
    konnektiveTimeoutMs: 500,
    leadSettleMs: 0,
    leadConversionSettleMs: 0,
    ...options,
    worker: { pollMs: 10, leaseMs: 5_000, backoff: { baseMs: 10, capMs: 100, maxAttempts: 8 }, ...options.worker },
  });
  return {
    ...collector,
    config: result.config,
    post(body, { origin = LANDER_ORIGIN, userAgent = BROWSER_UA, contentType = 'text/plain;charset=UTF-8', raw = false, headers = {} } = {}) {
      return fetch(`${collector.url}/v1/events`, {
        method: 'POST',
        headers: { 'content-type': contentType, origin, 'user-agent': userAgent, ...headers },
        body: raw ? (body as string) : JSON.stringify(body),
      });
    },
  };
}

/** Event builders: every event gets a fresh UUID, as the snippet does. */
export const ev = {
  page: (page: string, url: string, referrer?: string): FunnelEvent =>
    ({ id: randomUUID(), type: 'page', page, url, ...(referrer ? { referrer } : {}) }) as FunnelEvent,
  lead: (fields: Record<string, string>): FunnelEvent => ({ id: randomUUID(), type: 'lead', fields }) as FunnelEvent,
  cart: (items: { id: string; name?: string; price: number; qty: number }[], currency = 'USD'): FunnelEvent =>
    ({ id: randomUUID(), type: 'cart', items, currency }) as FunnelEvent,
  order: (orderId: string): FunnelEvent => ({ id: randomUUID(), type: 'order', orderId }) as FunnelEvent,
  exit: (page: string): FunnelEvent => ({ id: randomUUID(), type: 'exit', page }) as FunnelEvent,
};

/** Polls `check` until it returns a truthy value (or throws after `timeoutMs`). */
export async function eventually<T>(check: () => Promise<T> | T, { timeoutMs = 5_000, everyMs = 10 } = {}): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value as NonNullable<T>;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`condition not met in ${timeoutMs} ms${last ? `: ${String(last)}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/** Waits until the outbox has nothing left to run (every job done or dead). */
export async function outboxSettled(collector: RunningCollector, timeoutMs = 5_000): Promise<void> {
  await eventually(async () => {
    const counts = await collector.store.countJobsByState();
    return counts.pending === 0 && counts.running === 0;
  }, { timeoutMs });
}

/**
 * Waits until no job is running or due on the collector's clock: every call the events so far
 * cause has been made (or is waiting for time to pass).
 */
export async function settleJobs(collector: Pick<TestCollector, 'worker' | 'store'>, clock: { now(): number }): Promise<void> {
  collector.worker.notify();
  await eventually(async () => {
    const jobs = await collector.store.listJobs({});
    return !jobs.some((job) => job.state === 'running' || (job.state === 'pending' && job.runAt <= clock.now()));
  }, { timeoutMs: 20_000 });
}

/** Idle time passes on the virtual clock: one sweep, then every job it caused. */
export async function idleFor(collector: Pick<TestCollector, 'worker' | 'store' | 'sweeper'>, clock: { now(): number; advance(ms: number): void }, ms: number): Promise<void> {
  clock.advance(ms);
  await collector.sweeper.sweepOnce();
  await settleJobs(collector, clock);
}
