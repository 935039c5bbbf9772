/**
 * @module konnektive-relay
 * Outbox handlers for Import Click and Import Lead. They run after the ingest request was
 * answered, read the session as it is now, call Konnektive, and keep the ids it returns
 * (`sessionId`, `orderId`, `customerId`, `pixel`, `affVals`) on the session.
 */
import type { Config } from '../config.js';
import { canImportLead } from '../ingest/lead-merge.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { JOB_KINDS, type ClickJobPayload } from '../outbox/job-kinds.js';
import type { JobEffects, JobHandler, JobOutcome } from '../outbox/job-outcome.js';
import { redactMessage, summariseMessage, summariseParams } from '../redact.js';
import type { Job, Store } from '../store/store.js';
import type { UpstreamHealth } from '../upstream-health.js';
import type { LeadFields, PageName } from '../wire-schema.js';
import type { KonnektiveApi, KonnektiveEndpoint, KonnektiveResult } from './konnektive-client.js';
import { KONNEKTIVE_PAGE_TYPE } from './page-types.js';
import { konnektivePhoneNumber } from './phone-number.js';

export interface KonnektiveRelayDeps {
  config: Config;
  store: Store;
  api: KonnektiveApi;
  health: UpstreamHealth;
  metrics: Metrics;
  logger: Logger;
  now?: () => number;
}

/** Konnektive's maximum lengths (Import Click / Import Lead validation). */
const MAX = { requestUri: 500, userAgent: 300, sessionId: 32 } as const;
const LEAD_MAX: Record<keyof LeadFields, number> = {
  firstName: 50,
  lastName: 50,
  emailAddress: 255,
  phoneNumber: 32,
  address1: 255,
  address2: 255,
  city: 100,
  state: 100,
  postalCode: 20,
  country: 2,
};

export function konnektiveHandlers(deps: KonnektiveRelayDeps): Record<string, JobHandler> {
  const call = recordedCall(deps);

  const importClick: JobHandler = async (job, effects) => {
    const session = await deps.store.getSession(job.sessionId);
    if (!session) return { type: 'dead', error: 'session no longer stored' };
    const payload = job.payload as unknown as ClickJobPayload;
    const params: Record<string, string> = {
      campaignId: session.campaignId,
      pageType: KONNEKTIVE_PAGE_TYPE[payload.page as PageName],
      userAgent: session.userAgent.slice(0, MAX.userAgent),
      ipAddress: session.ip,
    };
    const known = session.konnektive.sessionId;
    if (known) {
      params.sessionId = known;
      if (payload.referrer) params.httpReferer = payload.referrer;
    } else {
      // The first click opens Konnektive's session: it needs the landing URL (affiliate ids and
      // UTM values ride in it) and the referrer the visitor arrived from.
      params.requestUri = fitUrl(session.landingUrl ?? payload.url, MAX.requestUri);
      const referrer = session.landingUrl ? session.referrer : payload.referrer;
      if (referrer) params.httpReferer = referrer;
    }
    const result = await call(job, effects, 'importClick', params);
    if (!result.ok) return failureOutcome(deps, result);
    const message = result.message;
    const sessionId = typeof message.sessionId === 'string' ? message.sessionId : undefined;
    effects.patchSession({
      konnektive: {
        ...(!known && sessionId ? { sessionId } : {}),
        ...(typeof message.pixel === 'string' && message.pixel ? { pixel: message.pixel } : {}),
        ...(message.affVals && typeof message.affVals === 'object' ? { affVals: message.affVals as Record<string, string> } : {}),
      },
    });
    return { type: 'done' };
  };

  const importLead: JobHandler = async (job, effects) => {
    const session = await deps.store.getSession(job.sessionId);
    if (!session) return { type: 'dead', error: 'session no longer stored' };
    const version = session.leadVersion;
    if (version <= session.leadSyncedVersion || !canImportLead(session.lead)) return { type: 'done' };
    const params: Record<string, string> = { campaignId: session.campaignId, ipAddress: session.ip };
    for (const [field, value] of Object.entries(session.lead) as [keyof LeadFields, string][]) {
      if (field === 'country' && !/^[A-Za-z]{2}$/.test(value)) continue;
      params[field] = (field === 'phoneNumber' ? konnektivePhoneNumber(value) : value).slice(0, LEAD_MAX[field]);
    }
    if (session.konnektive.sessionId) params.sessionId = session.konnektive.sessionId;
    // With the orderId of the first Import Lead, Konnektive updates that partial instead of creating another.
    if (session.konnektive.orderId) params.orderId = session.konnektive.orderId;
    const result = await call(job, effects, 'importLead', params);
    if (!result.ok) return failureOutcome(deps, result);
    const { orderId, customerId } = result.message;
    effects.patchSession({
      leadSyncedVersion: version,
      konnektive: {
        ...(orderId !== undefined && orderId !== null ? { orderId: String(orderId) } : {}),
        ...(customerId !== undefined && customerId !== null ? { customerId: String(customerId) } : {}),
      },
    });
    return { type: 'done' };
  };

  return { [JOB_KINDS.konnektiveClick]: importClick, [JOB_KINDS.konnektiveLead]: importLead };
}

/** A Konnektive call whose request and outcome are written to the delivery log and metrics. */
export function recordedCall({ api, metrics, logger, now = Date.now }: KonnektiveRelayDeps) {
  return async (job: Job, effects: JobEffects, endpoint: KonnektiveEndpoint, params: Record<string, string>): Promise<KonnektiveResult> => {
    const result = await api.call(endpoint, params);
    const outcome = api.sandbox ? 'sandbox' : result.ok ? 'ok' : result.failure;
    metrics.upstreamCalls.inc({ upstream: 'konnektive', endpoint, outcome });
    if (!api.sandbox) metrics.upstreamLatency.observe({ upstream: 'konnektive', endpoint }, result.latencyMs / 1000);
    effects.recordAttempt({
      jobId: job.id,
      upstream: 'konnektive',
      endpoint,
      request: summariseParams(params),
      response: result.ok ? summariseMessage(result.message) : redactMessage(result.message),
      outcome,
      httpStatus: result.httpStatus,
      latencyMs: result.latencyMs,
      createdAt: now(),
    });
    if (!result.ok) logger.warn({ jobId: job.id, endpoint, failure: result.failure, error: redactMessage(result.message) }, 'konnektive call failed');
    return result;
  };
}

/** Maps a failed call to the job's fate; bad credentials pause the whole relay. */
export function failureOutcome(deps: Pick<KonnektiveRelayDeps, 'health' | 'logger'>, result: Extract<KonnektiveResult, { ok: false }>): JobOutcome {
  const error = redactMessage(result.message);
  switch (result.failure) {
    case 'auth':
      if (deps.health.get('konnektive').state !== 'paused') {
        deps.logger.error({ upstream: 'konnektive' }, 'Konnektive refused the API credentials; relay paused until they work again');
      }
      deps.health.pause('konnektive', 'Konnektive could not authenticate the API credentials');
      return { type: 'paused', error };
    case 'transient':
      return { type: 'retry', error };
    case 'rejected':
      return { type: 'dead', error };
  }
}

/** Konnektive keeps 500 characters of `requestUri`: drop the fragment first, then cut. */
function fitUrl(url: string, max: number): string {
  const withoutHash = url.split('#')[0]!;
  return withoutHash.length <= max ? withoutHash : withoutHash.slice(0, max);
}
