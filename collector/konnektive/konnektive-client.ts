/**
 * @module konnektive-client
 * Konnektive's HTTP API: form-encoded POSTs carrying the API user's credentials, answered with
 * `{"result": "SUCCESS"|"ERROR", "message": ...}`. Success and failure are decided by `result`
 * (errors arrive as HTTP 200); transport errors, timeouts and 5xx are transient. The same host
 * serves Checkout Champ, and tests point it at a double. Redirects are never followed: the body
 * holds the API user's password (see http/upstream-redirect.ts); a 3xx is a transient failure
 * marked `redirected`, retried and then dead-lettered like any other, and `doctor` says what to fix.
 */
import { isRedirect, NO_REDIRECTS, redirectProblem } from '../http/upstream-redirect.js';

export const KONNEKTIVE_PATHS = Object.freeze({
  importClick: '/landers/clicks/import/',
  importLead: '/leads/import/',
  queryOrder: '/order/query/',
  /** Read-only, for the lifecycle sync (collector/lifecycle/): transactions and purchases changed on given days. */
  queryTransactions: '/transactions/query/',
  queryPurchases: '/purchase/query/',
  activeCampaign: '/cart/activecampaign/',
  /** Read-only: `funnelbeacon doctor` checks that each allowed campaign exists. */
  queryCampaign: '/campaign/query/',
} as const);
export type KonnektiveEndpoint = keyof typeof KONNEKTIVE_PATHS;

export type KonnektiveFailure = 'auth' | 'rejected' | 'transient';

export type KonnektiveResult =
  | { ok: true; message: Record<string, unknown>; httpStatus: number; latencyMs: number }
  | { ok: false; failure: KonnektiveFailure; message: string; httpStatus?: number; latencyMs: number; redirected?: true };

/** The relay's view of Konnektive: one call, credentials added by the implementation. */
export interface KonnektiveApi {
  readonly sandbox: boolean;
  call(endpoint: KonnektiveEndpoint, params: Record<string, string>): Promise<KonnektiveResult>;
}

/** Wrong credentials, or a call from an IP missing from the API user's whitelist: a relay pauses on either. */
const AUTH_FAILURE = /could not authenticate|whitelist/i;

export interface KonnektiveClientOptions {
  apiUrl: string;
  loginId: string;
  password: string;
  timeoutMs?: number;
  fetch?: typeof fetch;
}

export function konnektiveClient({ apiUrl, loginId, password, timeoutMs = 15_000, fetch: doFetch = fetch }: KonnektiveClientOptions): KonnektiveApi {
  return {
    sandbox: false,
    async call(endpoint, params) {
      const started = performance.now();
      const latency = () => performance.now() - started;
      let response: Response;
      let text: string;
      try {
        response = await doFetch(new URL(KONNEKTIVE_PATHS[endpoint], apiUrl), {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
          body: new URLSearchParams({ ...params, loginId, password }),
          signal: AbortSignal.timeout(timeoutMs),
          ...NO_REDIRECTS,
        });
        text = await response.text();
      } catch (error) {
        const message = error instanceof Error && error.name === 'TimeoutError' ? `timed out after ${timeoutMs} ms` : 'connection failed';
        return { ok: false, failure: 'transient', message, latencyMs: latency() };
      }
      if (isRedirect(response.status)) {
        const message = redirectProblem(response.status, response.headers.get('location'), apiUrl, 'KONNEKTIVE_API_URL');
        return { ok: false, failure: 'transient', message, httpStatus: response.status, latencyMs: latency(), redirected: true };
      }
      if (response.status >= 500 || response.status === 429) {
        return { ok: false, failure: 'transient', message: `HTTP ${response.status}`, httpStatus: response.status, latencyMs: latency() };
      }
      let envelope: { result?: unknown; message?: unknown };
      try {
        envelope = JSON.parse(text) as typeof envelope;
      } catch {
        // A proxy's HTML error page, or a truncated answer: worth another try.
        return { ok: false, failure: 'transient', message: `HTTP ${response.status}, not JSON`, httpStatus: response.status, latencyMs: latency() };
      }
      if (envelope.result === 'SUCCESS') {
        const message = envelope.message && typeof envelope.message === 'object' ? (envelope.message as Record<string, unknown>) : {};
        return { ok: true, message, httpStatus: response.status, latencyMs: latency() };
      }
      const message = typeof envelope.message === 'string' ? envelope.message : `result ${String(envelope.result)}`;
      return {
        ok: false,
        failure: AUTH_FAILURE.test(message) ? 'auth' : 'rejected',
        message,
        httpStatus: response.status,
        latencyMs: latency(),
      };
    },
  };
}
