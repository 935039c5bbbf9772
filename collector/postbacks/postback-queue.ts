/**
 * @module postback-queue
 * How an affiliate event (a lead, a sale, an upsell, a rebill, a refund, a chargeback) reaches the
 * postbacks: one `postback.route` job, queued in the transaction of its cause, once per event id
 * whatever happens (a purchase check that runs twice, a refund found by two polls, a second
 * collector). The route job, run by the outbox, reads the session's affiliate values and queues
 * one `postback.fire` job per postback of the file that covers the event (postback-jobs.ts): the
 * postbacks in force when the event is routed fire, and an edit of the file (SIGHUP) applies to
 * the events after it.
 */
import { JOB_KINDS, jobUpstream } from '../outbox/job-kinds.js';
import type { StoreTx } from '../store/store.js';
import type { PostbackEvent } from './postback-file.js';

/** Longer than any event is routed after its cause (a refund found by the lifecycle poll days later is a new event). */
export const POSTBACK_MARKER_TTL_MS = 60 * 24 * 60 * 60_000;

export interface PostbackRoutePayload {
  event: PostbackEvent;
  /** The event's id: the network's duplicate key, and "once" here (`<order>.sale`, `<session>.lead`). */
  eventId: string;
  /** The funnel session it belongs to; a lifecycle event is matched to one by its order id when the job runs. */
  session?: string;
  orderId?: string;
  amountCents?: number;
  currency?: string;
  /** Placed with the account's test card / paid by a prepaid card (the postbacks' `skipTestOrders`, `skipPrepaid`). */
  test?: boolean;
  prepaid?: boolean;
  /** When the event happened (ms since the epoch). */
  at: number;
}

/** The outbox key of an event's routing: the session's, or the order's when no session is known. */
export const postbackRouteKey = (payload: Pick<PostbackRoutePayload, 'session' | 'orderId' | 'eventId'>): string =>
  `postbacks:${payload.session ?? payload.orderId ?? payload.eventId}`;

/** Queues the event's routing, unless it was queued before. Returns whether it did. */
export async function queuePostbackEvent(tx: StoreTx, payload: PostbackRoutePayload, { marked = true }: { marked?: boolean } = {}): Promise<boolean> {
  // Unmarked: the caller decides "once" itself (a lead's first contact, in a commit group that must
  // not wait on a read); a second routing of the same event fires nothing (each fire is marked).
  if (marked && !(await tx.spendToken(`postback-event.${payload.event}.${payload.eventId}`, payload.at + POSTBACK_MARKER_TTL_MS))) return false;
  const kind = JOB_KINDS.postbackRoute;
  await tx.enqueue({ sessionId: postbackRouteKey(payload), upstream: jobUpstream(kind, 'konnektive'), kind, payload: { ...payload }, runAt: payload.at });
  return true;
}
