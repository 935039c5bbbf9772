/**
 * @module conversion-queue
 * How a conversion enters the outbox: once per session and conversion, whatever happens (a
 * request resent, a purchase check that runs twice, a second collector), one job per configured
 * ad platform. It runs inside the transaction of its cause, like every job (outbox/queue-job.ts).
 *
 * "Once" is a spent token named for the conversion (the store's one-time marker, also used for
 * link tokens): a Purchase is marked by its Konnektive order id, so one order never counts twice
 * even when two sessions (the buyer's and the cart they came back to) both see it paid.
 *
 * Each platform's jobs queue under a key of their own (`meta:<session>`), not the session's: a
 * conversion never waits behind the session's Konnektive calls (Konnektive slow or paused holds
 * back no Purchase), and a platform that fails holds back no other.
 */
import { JOB_KINDS, jobUpstream, type ConversionJobPayload } from '../outbox/job-kinds.js';
import type { StoreTx } from '../store/store.js';
import type { AdPlatform } from './conversion.js';

/** How long the once-marker is kept: longer than any platform deduplicates (48 h) and than a session lives. */
const MARKER_TTL_MS = 60 * 24 * 60 * 60_000;

export const CONVERSION_JOB_KIND = { meta: JOB_KINDS.metaConversion, tiktok: JOB_KINDS.tiktokConversion } as const satisfies Record<AdPlatform, string>;

/** The outbox key a platform's conversions of a session queue under. */
export const conversionQueueKey = (platform: AdPlatform, sessionId: string): string => `${platform}:${sessionId}`;

/** The funnel session of an ad platform's or a postback's queue key (`meta:<session>`, `postbacks:<session>/<name>` → `<session>`); other keys as they are. */
export const sessionOfQueueKey = (key: string): string => key.replace(/^(?:meta|tiktok):/, '').replace(/^postbacks:([^/]*)(?:\/.*)?$/, '$1');

/**
 * Queues the conversion for every platform, `delayMs` after its cause, unless it was queued before
 * (`once`: what marks it, the order id for a Purchase). Without `once` the caller decides "once"
 * itself (a lead's first contact, a session's first checkout: apply-batch.ts, where a marker would
 * cost a commit group a read). Returns how many jobs it queued.
 */
export async function queueConversion(tx: StoreTx, platforms: readonly AdPlatform[], payload: ConversionJobPayload, once: string | undefined, delayMs = 0): Promise<number> {
  if (platforms.length === 0) return 0;
  if (once !== undefined && !(await tx.spendToken(`conversion.${payload.name}.${once}`, payload.at + MARKER_TTL_MS))) return 0;
  for (const platform of platforms) {
    const kind = CONVERSION_JOB_KIND[platform];
    await tx.enqueue({ sessionId: conversionQueueKey(platform, payload.session), upstream: jobUpstream(kind, 'konnektive'), kind, payload: { ...payload }, runAt: payload.at + delayMs });
  }
  return platforms.length;
}
