/**
 * @module sandbox-lifecycle
 * The `lifecycle.deliver` job in sandbox mode: nothing leaves the collector. Each lifecycle event
 * is recorded, for the Delivery view and the session page, as the calls the direct ActiveCampaign
 * route would make for it: the order it creates or lowers, the contact's status, the tags added
 * and removed, and the tracked event. Built from the same rules as the live delivery
 * (activecampaign-lifecycle.ts, customer-status.ts), so the demo shows what a live account gets.
 *
 * Recorded whole, as the sandbox's funnel calls are: the dashboard answers this machine only, and
 * the demo's customers are made up on it.
 */
import type { Clock } from '../clock.js';
import type { JobHandler } from '../outbox/job-outcome.js';
import { AC_EVENT_NAMES, eventData, orderAction } from './activecampaign-lifecycle.js';
import { stateChange, tagName } from './customer-status.js';
import { LIFECYCLE_EVENT_KINDS, type LifecycleEvent } from './lifecycle-event.js';

export function sandboxLifecycleHandler({ tagPrefix, clock }: { tagPrefix: string; clock: Clock }): JobHandler {
  return async (job, effects) => {
    const event = job.payload as unknown as LifecycleEvent;
    if (typeof event.id !== 'string' || !(LIFECYCLE_EVENT_KINDS as readonly string[]).includes(String(event.kind))) {
      return { type: 'dead', error: 'not a lifecycle event (id and kind)' };
    }
    const record = (endpoint: string, request: unknown) =>
      effects.recordAttempt({
        jobId: job.id,
        upstream: 'activecampaign',
        endpoint,
        request: JSON.stringify(request),
        response: JSON.stringify({ sandbox: true }),
        outcome: 'sandbox',
        httpStatus: undefined,
        latencyMs: 0,
        createdAt: clock.now(),
      });
    const email = event.customer.email;
    const action = orderAction(event);
    if (action.type === 'create') {
      record('POST /ecomOrders', { ecomOrder: { externalid: action.externalid, email, totalPrice: event.amountCents, currency: event.currency, source: 1 } });
    } else if (action.type === 'lower' || action.type === 'restore') {
      const change = action.type === 'lower' ? -action.amountCents : (action.amountCents ?? 0);
      record('PUT /ecomOrders/{externalid}', { externalids: action.externalids, totalPriceChange: change });
    }
    const state = stateChange(event);
    record('POST /contact/sync', { contact: { email, ...(state.status ? { customerStatus: state.status } : {}), ...(event.nextBillDate ? { nextBillDate: event.nextBillDate } : {}) } });
    for (const tag of state.add) record('POST /contactTags', { tag: tagName(tagPrefix, tag), email });
    for (const tag of state.remove) record('DELETE /contactTags/{id}', { tag: tagName(tagPrefix, tag), email });
    const name = AC_EVENT_NAMES[event.kind];
    if (name) record('POST /event', { event: name, eventdata: eventData(event), visit: { email } });
    return { type: 'done' };
  };
}
