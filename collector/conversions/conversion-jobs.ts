/**
 * @module conversion-jobs
 * The outbox jobs `meta.conversion` and `tiktok.conversion`: one conversion (a Lead, an
 * InitiateCheckout, a Purchase) delivered to one ad platform. The job is queued by its cause
 * (conversion-queue.ts); here it is read against the session as it is now:
 * - skipped, with its reason, when the session is a bot's, the visitor gave no marketing consent
 *   (or the page never said), the order was a test order, or the event is older than the platform
 *   accepts: the attempt is recorded as `skipped` (the Delivery view counts them) and nothing is sent;
 * - otherwise built (the buyer as typed, the click the snippet kept, the order as Konnektive
 *   verified it) and sent by the platform's sender (platform-senders.ts); in sandbox mode recorded
 *   in full instead.
 *
 * A failure is the job's outcome like any upstream call's: transient → retry with backoff, rate
 * limited → held back, refused credentials → the platform paused, refused → dead letter,
 * replayable from the Delivery view. A retry sends the same event id: the platform counts the
 * conversion once even if an earlier attempt reached it before the collector could record the
 * answer (a crash in between).
 */
import type { Clock } from '../clock.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import type { ConversionJobPayload } from '../outbox/job-kinds.js';
import type { JobEffects, JobHandler } from '../outbox/job-outcome.js';
import { failureOutcome, recordCall } from '../outbox/upstream-call.js';
import type { Job, Session, Store } from '../store/store.js';
import type { UpstreamHealth } from '../upstream-health.js';
import { conversionEventId, type PageName } from '../wire-schema.js';
import { sessionAttribution, type SessionAttribution } from './attribution.js';
import { CONVERSION_JOB_KIND } from './conversion-queue.js';
import type { AdPlatform, Conversion } from './conversion.js';
import type { ConversionSender } from './platform-senders.js';

/**
 * The oldest event the platforms take: Meta refuses a whole request with an event over 7 days
 * old. An hour of margin, so a job that waited in backoff is never refused for its age on the way.
 */
export const MAX_CONVERSION_AGE_MS = 7 * 24 * 60 * 60_000 - 60 * 60_000;

/** Why a conversion was deliberately not sent (the `reason` of the skipped count). */
export type SkipReason = 'bot' | 'no_consent' | 'test_order' | 'too_old' | 'session_gone';

export interface ConversionJobDeps {
  store: Store;
  /** One per configured platform (all of them in sandbox mode). */
  senders: Partial<Record<AdPlatform, ConversionSender>>;
  /** Sandbox mode: record the request in full, send nothing. */
  sandbox: boolean;
  health: UpstreamHealth;
  metrics: Metrics;
  logger: Logger;
  clock: Clock;
}

/** The page each conversion happened on, when its cause did not say (a lead typed after its page view was stored). */
const CONVERSION_PAGE: Record<Conversion['name'], PageName | undefined> = { Lead: undefined, InitiateCheckout: 'checkout', Purchase: 'thankyou' };

export function conversionHandlers(deps: ConversionJobDeps): Record<(typeof CONVERSION_JOB_KIND)[AdPlatform], JobHandler> {
  return {
    [CONVERSION_JOB_KIND.meta]: conversionHandler(deps, 'meta'),
    [CONVERSION_JOB_KIND.tiktok]: conversionHandler(deps, 'tiktok'),
  };
}

function conversionHandler(deps: ConversionJobDeps, platform: AdPlatform): JobHandler {
  const { store, metrics, clock } = deps;

  const skip = (job: Job, effects: JobEffects, payload: ConversionJobPayload, reason: SkipReason) => {
    metrics.conversionsSkipped.inc({ platform, conversion: payload.name, reason });
    effects.recordAttempt({
      jobId: job.id,
      upstream: platform,
      endpoint: payload.name,
      request: JSON.stringify({ event_id: conversionEventId(payload.session, payload.name) }),
      response: reason,
      outcome: 'skipped',
      httpStatus: undefined,
      latencyMs: 0,
      createdAt: clock.now(),
    });
    return { type: 'done' } as const;
  };

  return async (job, effects) => {
    const payload = job.payload as unknown as ConversionJobPayload;
    const sender = deps.senders[platform];
    if (!sender) return { type: 'dead', error: `${platform} is not configured (its credentials were removed after the job was queued)` };
    const session = await store.getSession(payload.session);
    // Purged by retention before the job ran (it waited past the retention period).
    if (!session) return skip(job, effects, payload, 'session_gone');
    if (session.isBot) return skip(job, effects, payload, 'bot');
    if (payload.order?.test) return skip(job, effects, payload, 'test_order');
    const attribution = sessionAttribution(await store.listAttributionEvents(session.id));
    if (attribution.marketing !== true) return skip(job, effects, payload, 'no_consent');
    if (clock.now() - payload.at > MAX_CONVERSION_AGE_MS) return skip(job, effects, payload, 'too_old');

    const conversion = await conversionOf(store, session, attribution, payload);
    if (deps.sandbox) {
      const { endpoint, body } = sender.request(conversion);
      recordCall(deps, platform, job, effects, { endpoint, request: JSON.stringify(body), response: JSON.stringify({ sandbox: true }), outcome: 'sandbox', latencyMs: 0 });
      return { type: 'done' };
    }
    const sent = await sender.send(conversion);
    recordCall(deps, platform, job, effects, sent.call);
    if (!sent.ok) {
      deps.logger.warn({ jobId: job.id, platform, conversion: payload.name, failure: sent.failure.failure, error: sent.call.response }, 'conversion not accepted');
      return failureOutcome(deps, platform, sent.failure);
    }
    return { type: 'done' };
  };
}

/** The conversion as every platform's mapper receives it, from the session as it is now and the job's payload. */
export async function conversionOf(store: Pick<Store, 'lastPageView'>, session: Session, attribution: SessionAttribution, payload: ConversionJobPayload): Promise<Conversion> {
  const page = CONVERSION_PAGE[payload.name] ?? session.lastPage;
  const sourceUrl = payload.sourceUrl ?? (page ? ((await store.lastPageView(session.id, page))?.payload as { url?: string } | undefined)?.url : undefined) ?? session.landingUrl;
  const lead = session.lead;
  const order = payload.order;
  const cart = payload.name === 'InitiateCheckout' ? session.cart : undefined;
  const user: Conversion['user'] = {
    ...(lead.emailAddress ? { email: lead.emailAddress } : {}),
    ...(lead.phoneNumber ? { phone: lead.phoneNumber } : {}),
    ...(lead.firstName ? { firstName: lead.firstName } : {}),
    ...(lead.lastName ? { lastName: lead.lastName } : {}),
    ...(lead.city ? { city: lead.city } : {}),
    ...(lead.state ? { state: lead.state } : {}),
    ...(lead.postalCode ? { postalCode: lead.postalCode } : {}),
    ...(lead.country ? { country: lead.country } : {}),
    // The session: the same for every conversion of the visit (Konnektive's customer id is not
    // known yet when the Lead goes, and the platform ties events by an id that does not change).
    externalId: session.id,
    ip: session.ip,
    userAgent: session.userAgent,
  };
  return {
    name: payload.name,
    eventId: conversionEventId(session.id, payload.name),
    eventTimeMs: payload.at,
    ...(sourceUrl ? { sourceUrl } : {}),
    user,
    click: attribution.values,
    ...(order
      ? {
          value: order.totalCents / 100,
          currency: order.currency,
          orderId: order.orderId,
          contents: order.items.map((item) => ({ id: item.productId, name: item.name, quantity: item.qty, price: item.priceCents / 100 })),
        }
      : cart
        ? {
            value: Math.round(cart.items.reduce((sum, item) => sum + item.price * item.qty, 0) * 100) / 100,
            currency: cart.currency,
            contents: cart.items.map((item) => ({ id: item.id, ...(item.name ? { name: item.name } : {}), quantity: item.qty, price: item.price })),
          }
        : {}),
  };
}
