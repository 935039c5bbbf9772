/**
 * @module konnektive-probe
 * While the Konnektive relay is paused for bad credentials, a harmless read (Query Order for
 * today, one result) tells when the credentials work again; then the relay resumes by itself.
 */
import type { Clock } from '../clock.js';
import type { Logger } from '../logger.js';
import type { UpstreamHealth } from '../upstream-health.js';
import type { KonnektiveApi } from './konnektive-client.js';

export function usDate(ms: number): string {
  const d = new Date(ms);
  return `${String(d.getUTCMonth() + 1).padStart(2, '0')}/${String(d.getUTCDate()).padStart(2, '0')}/${d.getUTCFullYear()}`;
}

const DAY_MS = 86_400_000;

/**
 * Query Order's `startDate`/`endDate` for orders made between two instants. Konnektive reads the
 * days in the account's own time zone, which we do not know: one day more on each side makes
 * sure no order of the window falls outside.
 */
export function queryDateRange(fromMs: number, toMs: number): { startDate: string; endDate: string } {
  return { startDate: usDate(fromMs - DAY_MS), endDate: usDate(toMs + DAY_MS) };
}

/** One probe: `true` when Konnektive accepted the credentials (even if it found no order). */
export async function probeKonnektive(api: KonnektiveApi, now: number): Promise<boolean> {
  const today = usDate(now);
  const result = await api.call('queryOrder', { startDate: today, endDate: today, resultsPerPage: '1' });
  return result.ok || result.failure === 'rejected';
}

export interface ProbeLoopOptions {
  api: KonnektiveApi;
  health: UpstreamHealth;
  logger: Logger;
  everyMs: number;
  onResume: () => void;
  clock: Clock;
}

/** Starts probing whenever the relay is paused; returns a function that stops it. */
export function startKonnektiveProbe({ api, health, logger, everyMs, onResume, clock }: ProbeLoopOptions): () => void {
  let timer: (() => void) | undefined;
  const tick = async () => {
    timer = undefined;
    if (health.get('konnektive').state !== 'paused') return;
    const works = await probeKonnektive(api, clock.now()).catch(() => false);
    if (works) {
      logger.info({ upstream: 'konnektive' }, 'Konnektive accepts the credentials again; relay resumed');
      health.resume('konnektive');
      onResume();
    } else {
      schedule();
    }
  };
  const schedule = () => {
    if (!timer) timer = clock.setTimer(() => void tick(), everyMs);
  };
  const unsubscribe = health.onChange((upstream, status) => {
    if (upstream === 'konnektive' && status.state === 'paused') schedule();
  });
  return () => {
    unsubscribe();
    timer?.();
  };
}
