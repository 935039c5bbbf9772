/**
 * @module konnektive-relay
 * Outbox handlers for Import Click and Import Lead. They run after the ingest request was
 * answered, read the session as it is now, call Konnektive, and keep the ids it returns
 * (`sessionId`, `orderId`, `customerId`, `pixel`, `affVals`) on the session.
 */
import type { Clock } from '../clock.js';
import type { Config } from '../config.js';
import { canImportLead } from '../session/lead-merge.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { JOB_KINDS, type ClickJobPayload } from '../outbox/job-kinds.js';
import type { JobEffects, JobHandler, JobOutcome } from '../outbox/job-outcome.js';
import { failureOutcome, konnektiveCaller } from '../outbox/upstream-call.js';
import type { Job, Session, Store } from '../store/store.js';
import { queryDateRange } from './konnektive-probe.js';
import { createdSince } from './order-dates.js';
import type { UpstreamHealth } from '../upstream-health.js';
import { KONNEKTIVE_LEAD_MAX, type LeadFields, type PageName } from '../wire-schema.js';
import type { KonnektiveApi } from './konnektive-client.js';
import { KONNEKTIVE_PAGE_TYPE } from './page-types.js';
import { konnektivePhoneNumber } from './phone-number.js';
import { fitRequestUri } from './request-uri.js';

export interface KonnektiveRelayDeps {
  config: Config;
  store: Store;
  api: KonnektiveApi;
  health: UpstreamHealth;
  metrics: Metrics;
  logger: Logger;
  clock: Clock;
}

/**
 * The job's lease was taken over before its write-ahead mark was written: another worker runs it
 * now, so this one makes no call (its outcome is not recorded: the job is no longer its own).
 */
const LEASE_LOST: JobOutcome = { type: 'retry', error: 'lease taken over before the call' };

/** Konnektive's maximum lengths for Import Click (see docs/upstreams.md, Import Click). */
const MAX = { requestUri: 500, userAgent: 300, sessionId: 32 } as const;

export function konnektiveHandlers(deps: KonnektiveRelayDeps): Record<typeof JOB_KINDS.konnektiveClick | typeof JOB_KINDS.konnektiveLead, JobHandler> {
  const call = konnektiveCaller(deps);
  const now = () => deps.clock.now();
  const failed = (result: { failure: 'auth' | 'rejected' | 'transient'; message: string }) => failureOutcome(deps, 'konnektive', result);

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
    if (known && session.konnektive.clickInFlight === job.id) {
      // An earlier run of this job started the call and died before its answer was stored.
      // Konnektive may have counted it; a click counted twice is worse than one not resent.
      effects.patchSession({ konnektive: { clickInFlight: null } });
      deps.logger.warn({ jobId: job.id, page: payload.page }, 'click not resent: an earlier attempt may have reached Konnektive');
      return { type: 'done' };
    }
    if (known) {
      params.sessionId = known;
      if (payload.referrer) params.httpReferer = payload.referrer;
    } else {
      // The first click opens Konnektive's session: it needs the landing URL (affiliate ids and
      // UTM values ride in it) and the referrer the visitor arrived from. A page whose own URL was
      // refused at ingest (it held a card number: stored empty) opens nothing, whenever its job
      // runs: the landing URL a later page gave the session, under this page's type, would
      // misreport the visit. The next page's click opens the session.
      params.requestUri = fitRequestUri(payload.url ? (session.landingUrl ?? payload.url) : '', MAX.requestUri);
      const referrer = session.landingUrl ? session.referrer : payload.referrer;
      if (referrer) params.httpReferer = referrer;
    }
    if (known && !(await effects.writeAhead({ konnektive: { clickInFlight: job.id } }))) return LEASE_LOST;
    const result = await call(job, effects, 'importClick', params);
    // Any recorded answer, success or failure, ends the uncertainty; the retry of a failure is
    // an ordinary resend.
    if (known) effects.patchSession({ konnektive: { clickInFlight: null } });
    if (!result.ok) return failed(result);
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
    const fields = importLeadFields(session.lead);
    if (version <= session.leadSyncedVersion || !canImportLead(fields)) return { type: 'done' };
    const params: Record<string, string> = { campaignId: session.campaignId, ipAddress: session.ip, ...fields };
    if (session.konnektive.sessionId) params.sessionId = session.konnektive.sessionId;
    let orderId = session.konnektive.orderId;
    if (!orderId && session.konnektive.leadCreateStartedAt !== undefined) {
      // An earlier call that creates the partial was made and its answer never stored (a crash,
      // a timeout): find what it created before creating anything.
      const found = await findCreatedPartial(job, effects, session);
      if (!found.ok) return found.outcome;
      if (found.order) {
        orderId = found.order.orderId;
        effects.patchSession({ konnektive: { orderId, ...(found.order.customerId ? { customerId: found.order.customerId } : {}) } });
        // A partial the buyer has since paid is no longer a lead to update.
        if (found.order.status !== 'PARTIAL') {
          effects.patchSession({ leadSyncedVersion: version });
          return { type: 'done' };
        }
      }
    }
    // With the orderId of the first Import Lead, Konnektive updates that partial instead of creating another.
    if (orderId) params.orderId = orderId;
    else if (!(await effects.writeAhead({ konnektive: { leadCreateStartedAt: now() } }))) return LEASE_LOST;
    const result = await call(job, effects, 'importLead', params);
    if (!result.ok) return failed(result);
    const { orderId: returnedOrderId, customerId } = result.message;
    effects.patchSession({
      leadSyncedVersion: version,
      konnektive: {
        ...(returnedOrderId !== undefined && returnedOrderId !== null ? { orderId: String(returnedOrderId) } : {}),
        ...(customerId !== undefined && customerId !== null ? { customerId: String(customerId) } : {}),
      },
    });
    return { type: 'done' };
  };

  /**
   * The partial an earlier Import Lead of this session may have created: Query Order by the
   * lead's email (or phone), the visitor's IP and the campaign, over the session's days (padded
   * a day each side: Konnektive's days are in the account's time zone). Orders another session
   * holds, and orders created before this session in every time zone, are not this session's.
   * The newest remaining match is the one; none means the earlier call never reached Konnektive.
   */
  async function findCreatedPartial(
    job: Job,
    effects: JobEffects,
    session: Session,
  ): Promise<{ ok: true; order: { orderId: string; customerId?: string; status: string } | undefined } | { ok: false; outcome: JobOutcome }> {
    const contact: Record<string, string> | undefined = session.lead.emailAddress
      ? { emailAddress: session.lead.emailAddress }
      : session.lead.phoneNumber
        ? { phoneNumber: session.lead.phoneNumber }
        : undefined;
    if (!contact) return { ok: true, order: undefined };
    const params = { ...contact, ipAddress: session.ip, campaignId: session.campaignId, ...queryDateRange(session.createdAt, now()), resultsPerPage: '200' };
    const result = await call(job, effects, 'queryOrder', params);
    if (!result.ok) {
      if (result.failure === 'rejected' && /no result/i.test(result.message)) return { ok: true, order: undefined };
      return { ok: false, outcome: failed(result) };
    }
    const answered = (Array.isArray(result.message.data) ? (result.message.data as Record<string, unknown>[]) : []).filter(
      (order) => order.orderId !== undefined && order.orderId !== null && createdSince(order.dateCreated, session.createdAt, undefined),
    );
    const orders: Record<string, unknown>[] = [];
    for (const order of answered) if (!(await deps.store.orderHeldElsewhere(String(order.orderId), session.id))) orders.push(order);
    orders.sort((a, b) => String(b.dateCreated ?? '').localeCompare(String(a.dateCreated ?? '')));
    const newest = orders[0];
    if (!newest) return { ok: true, order: undefined };
    return {
      ok: true,
      order: {
        orderId: String(newest.orderId),
        ...(newest.customerId !== undefined && newest.customerId !== null ? { customerId: String(newest.customerId) } : {}),
        status: String(newest.orderStatus ?? ''),
      },
    };
  }

  return { [JOB_KINDS.konnektiveClick]: importClick, [JOB_KINDS.konnektiveLead]: importLead };
}

/**
 * The lead fields as Import Lead takes them, each exactly as typed or left out: the phone as
 * phone-number.ts gives it, a country only as a 2-letter code (a page may give a country's name,
 * kept whole in the store for the prefill), and no value longer than Konnektive keeps
 * (docs/upstreams.md, Import Lead): a cut name or address would reach the CRM altered.
 */
export function importLeadFields(lead: LeadFields): LeadFields {
  const fields: LeadFields = {};
  for (const [field, typed] of Object.entries(lead) as [keyof LeadFields, string][]) {
    if (field === 'country' && !/^[A-Za-z]{2}$/.test(typed)) continue;
    const value = field === 'phoneNumber' ? konnektivePhoneNumber(typed) : typed;
    if (value.length <= KONNEKTIVE_LEAD_MAX[field]) fields[field] = value;
  }
  return fields;
}
