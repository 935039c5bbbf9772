/**
 * @module postback-jobs
 * The outbox jobs of affiliate postbacks:
 * - `postback.route` (queued by postback-queue.ts): reads the session's affiliate values (the
 *   snippet's attribution, else what Konnektive's Import Click parsed from the landing URL), and
 *   queues one `postback.fire` per postback of the file that covers the event and the traffic
 *   (`on`, `affIds`, `campaigns`), each once per postback and event id (a spent token), after
 *   `leadDelay` for a lead;
 * - `postback.fire`: fires one postback at its network, unless its own conditions skip it
 *   (`skipTestOrders`, `skipPrepaid`, a lead followed by a sale within `leadDelay`, a postback
 *   since removed from the file), which is recorded as `skipped` with the reason. In sandbox
 *   mode the request is recorded, not sent.
 *
 * A network's non-2xx answer retries with backoff, then dead-letters with the answer (replayable
 * from the Delivery view); 400, 404, 410 and 422 dead-letter at once (postback-client.ts). Each
 * postback queues under its own key, so a network that is down holds back no other.
 */
import type { Clock } from '../clock.js';
import { normaliseEmail, sha256Hex } from '../conversions/normalise.js';
import { sessionAttribution } from '../conversions/attribution.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { JOB_KINDS, jobUpstream } from '../outbox/job-kinds.js';
import type { JobEffects, JobHandler } from '../outbox/job-outcome.js';
import { failureOutcome, recordCall, type CallRecord } from '../outbox/upstream-call.js';
import type { Job, Session, Store } from '../store/store.js';
import type { UpstreamHealth } from '../upstream-health.js';
import { firePostback } from './postback-client.js';
import type { Postback, PostbackRegistry } from './postback-file.js';
import { POSTBACK_MARKER_TTL_MS, type PostbackRoutePayload } from './postback-queue.js';
import { postbackRequest } from './postback-request.js';
import type { PostbackValues } from './postback-values.js';

/** Why a postback was deliberately not fired (the `response` of its `skipped` attempt). */
export type PostbackSkip = 'test_order' | 'prepaid' | 'sale_followed' | 'removed';

/** The dead letter of a fire whose call began and whose answer was never recorded. */
export const INTERRUPTED = 'interrupted: the collector stopped while the network answered; check with the network, and replay if it has no conversion for this event';

export interface PostbackFirePayload {
  postback: string;
  /** The event's id (also in `values`): what the delivery accuracy matches a fire with its event by. */
  eventId: string;
  values: PostbackValues;
  session?: string;
  test?: boolean;
  prepaid?: boolean;
}

export interface PostbackJobDeps {
  store: Store;
  /** Undefined without POSTBACKS_FILE: routing then fires nothing. */
  registry: PostbackRegistry | undefined;
  /** Sandbox mode: record the request, send nothing. */
  sandbox: boolean;
  health: UpstreamHealth;
  metrics: Metrics;
  logger: Logger;
  clock: Clock;
  fetch?: typeof fetch;
  timeoutMs?: number;
}

/**
 * The outbox key of one postback's fires for an event's session (or order): a network that is
 * down holds back no other. It is the routing's key and the postback's name
 * (`postbacks:<session>/<name>`), so the session's page finds a session's postbacks by one range
 * of keys, and the delivery accuracy an event's fire by its routing.
 */
export const postbackFireKey = (routeKey: string, name: string): string => `${routeKey}/${name}`;

export function postbackHandlers(deps: PostbackJobDeps): Record<typeof JOB_KINDS.postbackRoute | typeof JOB_KINDS.postbackFire, JobHandler> {
  return { [JOB_KINDS.postbackRoute]: routeHandler(deps), [JOB_KINDS.postbackFire]: fireHandler(deps) };
}

function routeHandler({ store, registry }: PostbackJobDeps): JobHandler {
  return async (job) => {
    const event = job.payload as unknown as PostbackRoutePayload;
    const routeKey = job.sessionId;
    if (!registry) return { type: 'done' };
    const sessionId = event.session ?? (event.orderId ? await store.sessionOfOrder(event.orderId) : undefined);
    const session = sessionId === undefined ? undefined : await store.getSession(sessionId);
    const values = session ? await sessionValues(store, session, event) : { event: event.event, eventId: event.eventId, ...orderValues(event) };
    const postbacks = registry.for(event.event, { ...(values.affId ? { affId: values.affId } : {}), ...(session ? { campaignId: session.campaignId } : {}) });
    if (postbacks.length === 0) return { type: 'done' };
    await store.transaction(async (tx) => {
      for (const postback of postbacks) {
        if (!(await tx.spendToken(`postback.${postback.name}.${event.eventId}`, event.at + POSTBACK_MARKER_TTL_MS))) continue;
        const payload: PostbackFirePayload = {
          postback: postback.name,
          eventId: event.eventId,
          values,
          ...(session ? { session: session.id } : {}),
          ...(event.test ? { test: true } : {}),
          ...(event.prepaid ? { prepaid: true } : {}),
        };
        const kind = JOB_KINDS.postbackFire;
        const delayMs = postback.on === 'lead' && postback.leadDelay ? postback.leadDelay * 60_000 : 0;
        await tx.enqueue({ sessionId: postbackFireKey(routeKey, postback.name), upstream: jobUpstream(kind, 'konnektive'), kind, payload: { ...payload }, runAt: event.at + delayMs });
      }
    });
    return { type: 'done' };
  };
}

/** The event's values with the session's affiliate values; the email's hash only with marketing consent. */
async function sessionValues(store: Store, session: Session, event: PostbackRoutePayload): Promise<PostbackValues> {
  const { values: click, marketing } = sessionAttribution(await store.listAttributionEvents(session.id));
  // What the snippet kept, else what Konnektive parsed from the landing URL (affId, c1..c3).
  const crm = session.konnektive.affVals ?? {};
  const pick = (key: 'affId' | 'c1' | 'c2' | 'c3' | 'c4' | 'c5') => click[key] ?? crm[key];
  const email = marketing === true ? normaliseEmail(session.lead.emailAddress) : undefined;
  const values: PostbackValues = { event: event.event, eventId: event.eventId, ...orderValues(event) };
  for (const key of ['affId', 'c1', 'c2', 'c3', 'c4', 'c5'] as const) {
    const value = pick(key);
    if (value) values[key] = value;
  }
  if (click.clickId) values.clickId = click.clickId;
  const orderId = event.orderId ?? session.orderCheck?.order?.orderId ?? session.konnektive.orderId;
  if (orderId) values.orderId = orderId;
  if (email) values.emailSha256 = sha256Hex(email);
  return values;
}

function orderValues(event: PostbackRoutePayload): Partial<PostbackValues> {
  return {
    ...(event.orderId ? { orderId: event.orderId } : {}),
    ...(event.amountCents === undefined ? {} : { amountCents: event.amountCents }),
    ...(event.currency ? { currency: event.currency } : {}),
  };
}

function fireHandler(deps: PostbackJobDeps): JobHandler {
  const { store, registry, clock, metrics } = deps;

  const skip = (job: Job, effects: JobEffects, payload: PostbackFirePayload, postback: Postback | undefined, reason: PostbackSkip) => {
    metrics.postbacksSkipped.inc({ postback: payload.postback, reason });
    effects.recordAttempt({
      jobId: job.id,
      upstream: 'postbacks',
      endpoint: `${postback?.method ?? 'GET'} ${payload.postback}`,
      request: JSON.stringify({ event: payload.values.event, eventId: payload.values.eventId }),
      response: reason,
      outcome: 'skipped',
      httpStatus: undefined,
      latencyMs: 0,
      createdAt: clock.now(),
    });
    return { type: 'done' } as const;
  };

  return async (job, effects) => {
    const payload = job.payload as unknown as PostbackFirePayload;
    const postback = registry?.byName(payload.postback);
    if (!postback) return skip(job, effects, payload, undefined, 'removed');
    if (postback.skipTestOrders && payload.test) return skip(job, effects, payload, postback, 'test_order');
    if (postback.skipPrepaid && payload.prepaid) return skip(job, effects, payload, postback, 'prepaid');
    if (postback.on === 'lead' && postback.leadDelay && payload.session) {
      // As Konnektive's CPL "Do Not Fire for Sales": the lead became a sale while the postback waited.
      const session = await store.getSession(payload.session);
      if (session && (session.state === 'complete' || session.orderCheck?.verified)) return skip(job, effects, payload, postback, 'sale_followed');
    }
    const request = postbackRequest(postback, payload.values);
    if (deps.sandbox) {
      const call: CallRecord = { endpoint: `${request.method} ${postback.name}`, request: request.loggedBody === undefined ? request.loggedUrl : `${request.loggedUrl} ${request.loggedBody}`, response: JSON.stringify({ sandbox: true }), outcome: 'sandbox', latencyMs: 0 };
      recordCall(deps, 'postbacks', job, effects, call);
      return { type: 'done' };
    }
    // At most one call per recorded attempt: a call that began and whose answer was never
    // recorded (the collector died meanwhile) may have reached the network, and a network pays
    // the affiliate for each postback it takes. It is not fired again by itself: it becomes a
    // dead letter for the owner, who checks with the network and replays it if need be. The
    // recorded attempts tell the two apart: a failure, this dead letter and a replay each leave
    // one, a crash none (so a replay fires).
    const tries = (await store.listAttempts(job.id)).length;
    const fresh = await store.transaction((tx) => tx.spendToken(`postback-call.${job.id}.${tries}`, clock.now() + POSTBACK_MARKER_TTL_MS));
    if (!fresh) {
      deps.logger.warn({ jobId: job.id, postback: postback.name }, 'postback interrupted by a restart while its network answered: not fired again; dead letter for the owner');
      effects.recordAttempt({
        jobId: job.id,
        upstream: 'postbacks',
        endpoint: `${postback.method} ${postback.name}`,
        request: JSON.stringify({ event: payload.values.event, eventId: payload.values.eventId }),
        response: INTERRUPTED,
        outcome: 'transient',
        httpStatus: undefined,
        latencyMs: 0,
        createdAt: clock.now(),
      });
      return { type: 'dead', error: INTERRUPTED };
    }
    let recorded: CallRecord | undefined;
    const result = await firePostback(request, { timeoutMs: deps.timeoutMs ?? 10_000, ...(deps.fetch ? { fetch: deps.fetch } : {}), record: (call) => (recorded = call) });
    if (recorded) recordCall(deps, 'postbacks', job, effects, recorded);
    if (result.ok) return { type: 'done' };
    deps.logger.warn({ jobId: job.id, postback: postback.name, status: result.status, error: result.message }, 'postback not accepted');
    return failureOutcome(deps, 'postbacks', { failure: result.failure, message: result.message });
  };
}
