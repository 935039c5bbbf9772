/**
 * @module emission-jobs
 * Delivers CUSTOMER, CART and ORDER emissions, exactly once per session and kind:
 * 1. an emission already `sent` is done;
 * 2. before the first call the emission is marked `sending`, durably;
 * 3. a job that finds it `sending` knows an earlier attempt may have reached ActiveCampaign before
 *    the process died, and the route looks the record up before creating it;
 * 4. the answer marks it `sent`, with ActiveCampaign's id (an ORDER recovering a CART needs it).
 */
import type { Clock } from '../clock.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { EMIT_JOB_KIND, type EmitJobKind } from '../outbox/job-kinds.js';
import type { JobHandler, JobOutcome } from '../outbox/job-outcome.js';
import { failureOutcome, recordCall } from '../outbox/upstream-call.js';
import type { EmissionKind, Store, Upstream } from '../store/store.js';
import type { UpstreamHealth } from '../upstream-health.js';
import type { RecoveryLinks } from '../recovery/recovery-token.js';
import { orderReported } from '../session/session-rules.js';
import type { EmissionMessage, Emitter } from './emission.js';

export interface EmissionJobDeps {
  store: Store;
  emitter: Emitter;
  health: UpstreamHealth;
  metrics: Metrics;
  logger: Logger;
  clock: Clock;
  /** The upstream the route talks to: paused as a whole on an authentication failure. */
  upstream: Upstream;
  /** Makes each CART's `orderUrl`, the session's signed recovery link. */
  recovery?: RecoveryLinks;
}

export function emissionHandlers(deps: EmissionJobDeps): Record<EmitJobKind, JobHandler> {
  const { store, emitter, clock, upstream } = deps;

  const handler =
    (kind: EmissionKind): JobHandler =>
    async (job, effects) => {
      const record = await store.getEmission(job.sessionId, kind);
      if (!record || record.status === 'sent' || record.status === 'cancelled') return { type: 'done' };
      const mayAlreadyExist = record.status === 'sending';
      // A CART that waited (ActiveCampaign down, a replayed dead letter) while the buyer reported
      // an order: an abandoned-cart email now would go to someone who paid. It is cancelled, unless
      // an earlier attempt already reached the upstream (then it is recorded as sent).
      const session = kind === 'cart' ? await store.getSession(job.sessionId) : undefined;
      const lookupOnly = session !== undefined && orderReported(session);
      if (lookupOnly && !mayAlreadyExist) return cancel(job.sessionId);
      const emission = { ...record.payload } as unknown as EmissionMessage;
      // Every CART carries the session's recovery link, on every route (the sandbox included).
      const link = emission.kind === 'cart' ? deps.recovery?.linkFor(job.sessionId, record.createdAt) : undefined;
      if (emission.kind === 'cart' && link) emission.orderUrl = link.url;
      if (emission.kind === 'order') {
        const cart = await store.getEmission(job.sessionId, 'cart');
        emission.recoversCart = cart?.status === 'sending' || cart?.status === 'sent';
        if (cart?.remoteId) emission.cartRemoteId = cart.remoteId;
      }
      if (emission.kind === 'close') {
        const cart = await store.getEmission(job.sessionId, 'cart');
        if (cart?.remoteId) emission.cartRemoteId = cart.remoteId;
      }
      if (!mayAlreadyExist) await store.updateEmission(job.sessionId, kind, { status: 'sending', now: clock.now() });

      const result = await emitter.emit(emission, {
        mayAlreadyExist,
        lookupOnly,
        record: (call) => recordCall(deps, upstream, job, effects, call),
      });
      if (!result.ok && result.failure === 'absent') return cancel(job.sessionId);
      if (result.ok) {
        await store.updateEmission(job.sessionId, kind, { status: 'sent', ...(result.remoteId ? { remoteId: result.remoteId } : {}), now: clock.now() });
        deps.logger.info({ sessionId: job.sessionId, kind, route: emitter.route }, 'emission delivered');
        await recordOutcome(emission, record.createdAt, link?.expiresAt);
        return { type: 'done' };
      }
      return failureOutcome(deps, upstream, result);
    };

  /** The recovery facts of a delivered CART or ORDER, for the report and /metrics. */
  async function recordOutcome(emission: EmissionMessage, queuedAt: number, linkExpiresAt: number | undefined): Promise<void> {
    try {
      if (emission.kind === 'cart') {
        await store.recordCartOutcome({
          sessionId: emission.sessionId,
          at: queuedAt,
          totalCents: emission.totalCents,
          currency: emission.currency,
          linkExpiresAt: linkExpiresAt ?? queuedAt,
        });
      } else if (emission.kind === 'order') {
        await store.recordOrderOutcome({
          sessionId: emission.sessionId,
          at: clock.now(),
          totalCents: emission.totalCents,
          currency: emission.currency,
          recoversCart: emission.recoversCart,
        });
      }
    } catch (error) {
      // The emission went out; a missing figure in the report must not send it again.
      deps.logger.warn({ sessionId: emission.sessionId, kind: emission.kind, err: error instanceof Error ? error.message : String(error) }, 'recovery facts not recorded');
    }
  }

  async function cancel(sessionId: string): Promise<JobOutcome> {
    await store.updateEmission(sessionId, 'cart', { status: 'cancelled', now: clock.now() });
    deps.logger.info({ sessionId }, 'CART cancelled: the buyer reported an order before it went out');
    return { type: 'done' };
  }

  return {
    [EMIT_JOB_KIND.customer]: handler('customer'),
    [EMIT_JOB_KIND.cart]: handler('cart'),
    [EMIT_JOB_KIND.order]: handler('order'),
    [EMIT_JOB_KIND.close]: handler('close'),
  };
}
