/**
 * @module konnektive-probe
 * One harmless read (Query Order for today, one result) that says what Konnektive thinks of our
 * credentials and address, as a {@link KonnektiveProbe}. `funnelbeacon doctor` reports it; while
 * the relay is paused for bad credentials, {@link startKonnektiveProbe} repeats it until the
 * credentials work again, then the relay resumes by itself.
 */
import type { Clock } from '../clock.js';
import type { Logger } from '../logger.js';
import type { UpstreamHealth } from '../upstream-health.js';
import type { KonnektiveApi, KonnektiveResult } from './konnektive-client.js';

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

/**
 * What one answer of Konnektive says about the caller:
 * - `ok`: the credentials and this address are accepted (finding no order is fine);
 * - `credentials refused`, `ip not whitelisted`: Konnektive refused the API user or this address;
 * - `unreachable`: no HTTP answer (connection failed, timed out);
 * - `redirected`: a 3xx to another address, not followed (the credentials stay with the configured host);
 * - `unexpected answer`: an answer that is not what the call asks for. `credentialsAccepted` is
 *   true when it is Konnektive's own refusal of something else (it checks the API user and the
 *   address first), false when it did not come from Konnektive's API (HTTP 5xx, not JSON).
 */
export type KonnektiveProbe =
  | { status: 'ok' }
  | { status: 'credentials refused'; message: string }
  | { status: 'ip not whitelisted'; message: string }
  | { status: 'unreachable'; message: string }
  | { status: 'redirected'; message: string }
  | { status: 'unexpected answer'; message: string; credentialsAccepted: boolean };

/** Konnektive's refusal of a caller missing from the API user's IP whitelist (checked before credentials). */
const IP_REFUSED = /whitelist/i;
/** An empty page of Query Order comes as an `ERROR` whose message says "No result(s)". */
const NO_RESULTS = /no result/i;

/** The probe's reading of any Konnektive answer (`connect` reads its own calls' failures this way too). */
export function readKonnektiveAnswer(result: KonnektiveResult): KonnektiveProbe {
  if (result.ok) return { status: 'ok' };
  const { message } = result;
  if (result.failure === 'auth') return IP_REFUSED.test(message) ? { status: 'ip not whitelisted', message } : { status: 'credentials refused', message };
  if (result.failure === 'transient' && result.redirected) return { status: 'redirected', message };
  if (result.failure === 'transient') {
    return result.httpStatus === undefined ? { status: 'unreachable', message } : { status: 'unexpected answer', message, credentialsAccepted: false };
  }
  return NO_RESULTS.test(message) ? { status: 'ok' } : { status: 'unexpected answer', message, credentialsAccepted: true };
}

/** One probe: a Query Order for today, one result. Never throws. */
export async function probeKonnektive(api: KonnektiveApi, now: number): Promise<KonnektiveProbe> {
  const today = usDate(now);
  try {
    return readKonnektiveAnswer(await api.call('queryOrder', { startDate: today, endDate: today, resultsPerPage: '1' }));
  } catch (error) {
    return { status: 'unreachable', message: error instanceof Error ? error.message : String(error) };
  }
}

/** The relay's reading of a probe: resume once Konnektive accepts the credentials from this address. */
export function credentialsWork(probe: KonnektiveProbe): boolean {
  return probe.status === 'ok' || (probe.status === 'unexpected answer' && probe.credentialsAccepted);
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
    if (credentialsWork(await probeKonnektive(api, clock.now()))) {
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
