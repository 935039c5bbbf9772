/**
 * @module lifecycle-delivery
 * The outbox job `lifecycle.deliver`: one lifecycle event delivered to ActiveCampaign
 * (docs/activecampaign-routes.md, "Lifecycle"), in this order:
 * 1. its order: a first sale or a rebill is created (looked up by `externalid` first, the way the
 *    funnel's ORDER is, with the same code); a refund, void or chargeback lowers the order of the
 *    sale it returns;
 * 2. the contact: one `contact/sync` with the customer status, dates and lifetime value;
 * 3. the tags that follow the state, added and removed;
 * 4. the tracked event, when event tracking is configured.
 *
 * Exactly once under retries, with no state of our own: every create looks up first, every write
 * sets an absolute value read back from ActiveCampaign, a refund is marked applied on the order
 * itself in the same PUT that lowers it, and a retried job looks in the contact's tracking log for
 * its event before it sends it again. Every call goes through the account's one rate gate and is
 * recorded like the funnel's; a failure retries, dead-letters and replays like any job.
 */
import type { Clock } from '../clock.js';
import type { Config } from '../config.js';
import { activeCampaignClient, activeCampaignEventTracker, withFilters, type AcResponse, type ActiveCampaignClient, type ActiveCampaignEventTracker, type CallRecorder } from '../emit/activecampaign-client.js';
import { activeCampaignEmitter, activeCampaignRateKey } from '../emit/activecampaign-emitter.js';
import { RateGate } from '../emit/rate-gate.js';
import { AC_SERVICE, acConnectionBody } from '../emit/activecampaign-bodies.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import type { JobHandler, JobOutcome } from '../outbox/job-outcome.js';
import { failureOutcome, recordCall, type CallFailure } from '../outbox/upstream-call.js';
import type { Job, Store } from '../store/store.js';
import type { UpstreamHealth } from '../upstream-health.js';
import { AC_EVENT_NAMES, eventData, fieldValues, orderAction, orderEmission, refundMarker } from './activecampaign-lifecycle.js';
import { stateChange, tagName, type LifecycleTag } from './customer-status.js';
import { LIFECYCLE_EVENT_KINDS, type LifecycleEvent } from './lifecycle-event.js';
import { ensureLifecycleFields, type FieldIds } from './lifecycle-fields.js';
import { sandboxLifecycleHandler } from './sandbox-lifecycle.js';

export interface LifecycleDeliveryDeps {
  client: ActiveCampaignClient;
  /** Undefined unless ACTIVECAMPAIGN_ACCOUNT_ID and ACTIVECAMPAIGN_EVENT_KEY are set. */
  events: ActiveCampaignEventTracker | undefined;
  /** What the funnel's ORDER path needs to find or create the connection. */
  config: Parameters<typeof activeCampaignEmitter>[0]['config'];
  tagPrefix: string;
  /** Konnektive's account time zone: its wall-clock times become ActiveCampaign's dates in it. */
  timeZone: string;
  health: UpstreamHealth;
  metrics: Metrics;
  logger: Logger;
  clock: Clock;
  /**
   * Whether a funnel session holds this Konnektive order: its ORDER is (or will be) the sale's
   * order in ActiveCampaign, with the cart it recovers and the upsells it includes.
   */
  funnelHoldsOrder?: (orderId: string) => Promise<boolean>;
  /** How long a first sale held by a funnel session waits for that ORDER before it is sent itself. */
  funnelOrderWaitMs?: number;
}

/** Beyond the upsell window, how long the funnel's ORDER may take (outbox retries) before the sale goes alone. */
export const FUNNEL_ORDER_GRACE_MS = 60 * 60_000;
/** How often a first sale waiting for the funnel's ORDER looks again. */
const FUNNEL_ORDER_RECHECK_MS = 5 * 60_000;

type Failed = Extract<AcResponse, { ok: false }> | CallFailure;
type Step<T> = { ok: true; value: T } | { ok: false; failed: Failed };
const fail = (failed: Failed): { ok: false; failed: Failed } => ({ ok: false, failed });

/** AC's largest page. */
const ORDER_PAGE = 100;

/** Tag ids stay valid for the process's life; a bounded map, as the tags are few. */
const TAG_CACHE_LIMIT = 256;

export function lifecycleDeliveryHandler(deps: LifecycleDeliveryDeps): JobHandler {
  const { client, logger } = deps;
  const emitter = activeCampaignEmitter({ config: deps.config, clock: deps.clock, client });
  let fields: FieldIds | undefined;
  const tagIds = new Map<string, string>();

  async function lookup<T>(path: string, key: string, record: CallRecorder): Promise<Step<T[]>> {
    const response = await client.request('GET', path, undefined, record);
    if (!response.ok) return response.notFound ? { ok: true, value: [] } : fail(response);
    const list = response.body[key];
    return { ok: true, value: Array.isArray(list) ? (list as T[]) : [] };
  }

  let connection: string | undefined = deps.config.activeCampaign?.connectionId;

  /** funnelbeacon's connection: configured, or found as the funnel's emitter creates it; undefined while there is none. */
  async function connectionId(record: CallRecorder): Promise<Step<string | undefined>> {
    if (connection !== undefined) return { ok: true, value: connection };
    const externalid = acConnectionBody(deps.config.publicUrl).connection.externalid ?? '';
    const found = await lookup<{ id: string }>(withFilters('/connections', { service: AC_SERVICE, externalid }), 'connections', record);
    if (!found.ok) return found;
    const id = found.value[0]?.id;
    connection = id === undefined ? undefined : String(id);
    return { ok: true, value: connection };
  }

  /**
   * A first sale that the funnel sells: any order with its id in the account (the funnel's ORDER
   * on funnelbeacon's connection, or on Konnektive's when EMIT_VIA=konnektive) is that sale.
   * Not there yet while a funnel session holds it: its ORDER comes after the upsell window, with
   * the cart it recovers, and this sale waits for it rather than take its place.
   */
  async function funnelSale(job: Job, externalid: string, record: CallRecorder): Promise<Step<'present' | 'wait' | 'absent'>> {
    const anywhere = await lookup<{ id: string }>(withFilters('/ecomOrders', { externalid }), 'ecomOrders', record);
    if (!anywhere.ok) return anywhere;
    if (anywhere.value.length > 0) return { ok: true, value: 'present' };
    const held = deps.funnelHoldsOrder ? await deps.funnelHoldsOrder(externalid) : false;
    const waited = deps.clock.now() - job.createdAt;
    return { ok: true, value: held && waited < (deps.funnelOrderWaitMs ?? FUNNEL_ORDER_GRACE_MS) ? 'wait' : 'absent' };
  }

  /** A first sale or a rebill: found by externalid, else created with its customer. */
  async function createOrder(event: LifecycleEvent, externalid: string, record: CallRecorder): Promise<Step<void>> {
    const order = orderEmission(event, externalid, deps.timeZone);
    if (typeof order === 'string') return fail({ failure: 'rejected', message: `lifecycle event ${event.kind}: ${order}` });
    const result = await emitter.emit(order, { mayAlreadyExist: true, record });
    return result.ok ? { ok: true, value: undefined } : fail(result);
  }

  /**
   * Money given back: the order's total goes down by the amount (never below 0), and the same PUT
   * adds an order discount named after the event. A retry reads the order back and finds the
   * marker, so a PUT whose answer was lost is never applied twice. A chargeback reverted raises it
   * again by what the chargeback took, marked the same way.
   */
  async function adjustOrder(event: LifecycleEvent, externalids: string[], change: { lower: number } | { restore: number | undefined }, record: CallRecorder): Promise<Step<void>> {
    const connection = await connectionId(record);
    if (!connection.ok) return connection;
    // A rebill's order (keyed by a transaction id, a number other stores may use too) is looked for
    // on funnelbeacon's connection; a first sale's by its Konnektive order id on any connection, as
    // the funnel's ORDER may be on Konnektive's.
    const searches = externalids.map((externalid): Record<string, string> | undefined =>
      externalid === event.orderId ? { externalid } : connection.value === undefined ? undefined : { externalid, connectionid: connection.value },
    );
    let orderId: string | undefined;
    for (const filters of searches) {
      if (filters === undefined) continue;
      const found = await lookup<{ id: string }>(withFilters('/ecomOrders', filters), 'ecomOrders', record);
      if (!found.ok) return found;
      orderId = found.value[0]?.id;
      if (orderId !== undefined) break;
    }
    // The sale is not in ActiveCampaign (yet): retried, then dead-lettered and replayable.
    if (orderId === undefined) return fail({ failure: 'transient', message: `no ActiveCampaign order for the sale ${externalids.join(' or ')} that ${event.kind} ${event.id} returns` });
    const read = await client.request('GET', `/ecomOrders/${encodeURIComponent(orderId)}`, undefined, record);
    if (!read.ok) return fail(read);
    const current = read.body.ecomOrder as { totalPrice?: number | string } | undefined;
    type Discount = { name: string; type: string; discountAmount: number | string };
    let discounts: Discount[];
    if (Array.isArray(read.body.ecomOrderDiscounts)) discounts = read.body.ecomOrderDiscounts as Discount[];
    else {
      // Not side-loaded (AC documents it on the create's answer): read the order's own list. Not
      // knowing the marks already there could subtract twice, so a failure here stops the job.
      const own = await client.request('GET', `/ecomOrders/${encodeURIComponent(orderId)}/orderDiscounts`, undefined, record);
      if (!own.ok || !Array.isArray(own.body.ecomOrderDiscounts)) {
        return fail(own.ok ? { failure: 'rejected', message: `ActiveCampaign did not list the discounts of order ${orderId}: the refund is not applied` } : own);
      }
      discounts = own.body.ecomOrderDiscounts as Discount[];
    }
    const marker = refundMarker(event);
    if (discounts.some((d) => d.name === marker)) return { ok: true, value: undefined };
    const total = Number(current?.totalPrice ?? 0);
    let amountCents: number;
    let totalPrice: number;
    if ('lower' in change) {
      amountCents = change.lower;
      totalPrice = Math.max(0, total - amountCents);
    } else {
      // The chargebacks on this order, oldest first, and the reversals already applied to them.
      const taken = discounts.filter((d) => d.name.startsWith('chargeback '));
      const given = discounts.filter((d) => d.name.startsWith('chargeback_reversed ')).length;
      const reversed = taken[given];
      // No chargeback left to revert on this order (it never reached ActiveCampaign's order): nothing to give back.
      if (reversed === undefined) return { ok: true, value: undefined };
      amountCents = change.restore ?? Number(reversed.discountAmount);
      totalPrice = total + amountCents;
    }
    const body = {
      ecomOrder: {
        totalPrice,
        orderDiscounts: [...discounts.map((d) => ({ name: d.name, type: d.type, discountAmount: Number(d.discountAmount) })), { name: marker, type: 'order', discountAmount: amountCents }],
      },
    };
    const put = await client.request('PUT', `/ecomOrders/${encodeURIComponent(orderId)}`, body, record);
    return put.ok ? { ok: true, value: undefined } : fail(put);
  }

  /**
   * The contact's orders in ActiveCampaign, carts left out, net of what was given back: on every
   * connection, as the funnel's ORDER may be on Konnektive's (EMIT_VIA=konnektive).
   */
  async function lifetimeValue(email: string, record: CallRecorder): Promise<Step<number>> {
    let total = 0;
    for (let offset = 0; offset < 10_000; offset += ORDER_PAGE) {
      const page = await lookup<{ externalid: string | null; totalPrice: number | string }>(`${withFilters('/ecomOrders', { email })}&limit=${ORDER_PAGE}&offset=${offset}`, 'ecomOrders', record);
      if (!page.ok) return page;
      total += page.value.filter((o) => o.externalid !== null && o.externalid !== '').reduce((sum, o) => sum + Number(o.totalPrice), 0);
      if (page.value.length < ORDER_PAGE) break;
    }
    return { ok: true, value: total };
  }

  async function tagId(name: string, record: CallRecorder): Promise<Step<string>> {
    const cached = tagIds.get(name);
    if (cached) return { ok: true, value: cached };
    const find = async (): Promise<Step<string | undefined>> => {
      const found = await lookup<{ id: string; tag: string }>(`/tags?${new URLSearchParams({ search: name }).toString()}`, 'tags', record);
      return found.ok ? { ok: true, value: found.value.find((t) => t.tag === name)?.id } : found;
    };
    let id = await find();
    if (!id.ok) return id;
    if (id.value === undefined) {
      const posted = await client.request('POST', '/tags', { tag: { tag: name, tagType: 'contact', description: 'funnelbeacon lifecycle' } }, record);
      if (posted.ok) id = { ok: true, value: String((posted.body.tag as { id: string }).id) };
      else if (posted.duplicate) id = await find();
      else return fail(posted);
      if (!id.ok) return id;
      if (id.value === undefined) return fail({ failure: 'transient', message: `tag ${name} not found after creating it` });
    }
    if (tagIds.size >= TAG_CACHE_LIMIT) tagIds.clear();
    tagIds.set(name, id.value);
    return { ok: true, value: id.value };
  }

  /** Adds the tags the state wants and removes the ones it does not, reading what the contact has first. */
  async function applyTags(contactId: string, add: LifecycleTag[], remove: LifecycleTag[], record: CallRecorder): Promise<Step<void>> {
    if (add.length === 0 && remove.length === 0) return { ok: true, value: undefined };
    const wanted = new Map<string, boolean>();
    for (const tag of add) wanted.set(tag, true);
    for (const tag of remove) wanted.set(tag, false);
    const ids = new Map<string, LifecycleTag>();
    for (const tag of wanted.keys() as Iterable<LifecycleTag>) {
      const id = await tagId(tagName(deps.tagPrefix, tag), record);
      if (!id.ok) return id;
      ids.set(id.value, tag);
    }
    const has = await lookup<{ id: string; tag: string }>(`/contacts/${encodeURIComponent(contactId)}/contactTags?limit=100`, 'contactTags', record);
    if (!has.ok) return has;
    const present = new Map(has.value.map((ct) => [String(ct.tag), String(ct.id)]));
    for (const [id, tag] of ids) {
      if (wanted.get(tag) && !present.has(id)) {
        const added = await client.request('POST', '/contactTags', { contactTag: { contact: contactId, tag: id } }, record);
        if (!added.ok && !added.duplicate) return fail(added);
      } else if (!wanted.get(tag) && present.has(id)) {
        const removed = await client.request('DELETE', `/contactTags/${encodeURIComponent(present.get(id) ?? '')}`, undefined, record);
        if (!removed.ok && !removed.notFound) return fail(removed);
      }
    }
    return { ok: true, value: undefined };
  }

  /** Sends the tracked event, unless a retried job finds it in the contact's tracking log already. */
  async function track(event: LifecycleEvent, email: string, contactId: string, mayHaveSent: boolean, record: CallRecorder): Promise<Step<void>> {
    const name = AC_EVENT_NAMES[event.kind];
    // History told now starts no "Event is recorded" automation.
    if (!deps.events || name === undefined || event.historical) return { ok: true, value: undefined };
    const data = eventData(event);
    if (mayHaveSent) {
      const logs = await lookup<Record<string, unknown>>(`/contacts/${encodeURIComponent(contactId)}/trackingLogs?limit=100`, 'trackingLogs', record);
      if (!logs.ok) return logs;
      const id = JSON.stringify(event.id);
      if (logs.value.some((log) => Object.values(log).some((v) => typeof v === 'string' && v.includes(`"id":${id}`)))) return { ok: true, value: undefined };
    }
    const sent = await deps.events.track(name, email, data, record);
    return sent.ok ? { ok: true, value: undefined } : fail(sent);
  }

  async function deliver(job: Job, event: LifecycleEvent, email: string, record: CallRecorder): Promise<Step<void> | { ok: 'wait' }> {
    const action = orderAction(event);
    if (action.type === 'create') {
      const sale = event.kind === 'sale_completed' ? await funnelSale(job, action.externalid, record) : ({ ok: true, value: 'absent' } as const);
      if (!sale.ok) return sale;
      if (sale.value === 'wait') return { ok: 'wait' };
      if (sale.value === 'absent') {
        const created = await createOrder(event, action.externalid, record);
        if (!created.ok) return created;
      }
    } else if (action.type === 'lower' || action.type === 'restore') {
      const adjusted = await adjustOrder(event, action.externalids, action.type === 'lower' ? { lower: action.amountCents } : { restore: action.amountCents }, record);
      if (!adjusted.ok) return adjusted;
    }
    if (!fields) {
      const ensured = await ensureLifecycleFields(client, record);
      if (!ensured.ok) return fail(ensured);
      fields = ensured.ids;
    }
    let ltv: number | undefined;
    if (action.type !== 'none') {
      const value = await lifetimeValue(email, record);
      if (!value.ok) return value;
      ltv = value.value;
    }
    const change = stateChange(event);
    const { customer } = event;
    const contact = {
      email,
      ...(customer.firstName === undefined ? {} : { firstName: customer.firstName }),
      ...(customer.lastName === undefined ? {} : { lastName: customer.lastName }),
      ...(customer.phone === undefined ? {} : { phone: customer.phone }),
      fieldValues: fieldValues(event, change.status, fields, ltv),
    };
    const synced = await client.request('POST', '/contact/sync', { contact }, record);
    if (!synced.ok) {
      // A field removed in ActiveCampaign since: found (or created) again on the next attempt.
      if (synced.failure === 'rejected') fields = undefined;
      return fail(synced);
    }
    const contactId = (synced.body.contact as { id?: string } | undefined)?.id;
    if (contactId === undefined) return fail({ failure: 'transient', message: 'contact/sync answered without a contact id' });
    if (change.status === undefined && event.kind === 'sale_declined' && !hasValue(synced.body, fields.status)) {
      // Declined before any sale: the contact is a lead (a customer's status is left as it is).
      const lead = await client.request('POST', '/contact/sync', { contact: { email, fieldValues: [{ field: fields.status, value: 'lead' }] } }, record);
      if (!lead.ok) return fail(lead);
    }
    const tagged = await applyTags(String(contactId), change.add, change.remove, record);
    if (!tagged.ok) return tagged;
    return track(event, email, String(contactId), job.attempts > 0 || job.lastError !== undefined, record);
  }

  return async (job, effects): Promise<JobOutcome> => {
    const event = readEvent(job.payload);
    if (typeof event === 'string') return { type: 'dead', error: event };
    const email = event.customer.email;
    // ActiveCampaign's contacts are keyed by email: without one there is no one to tell.
    if (email === undefined || email.trim() === '') return { type: 'dead', error: `lifecycle event ${event.id}: the customer has no email in Konnektive` };
    const record: CallRecorder = (call) => recordCall(deps, 'activecampaign', job, effects, call);
    const result = await deliver(job, event, email, record);
    if (result.ok === 'wait') {
      // Held back without spending an attempt; the customer's later events wait behind it.
      return { type: 'paused', error: `waiting for the funnel's ORDER of Konnektive order ${event.orderId ?? ''}`, notBeforeMs: deps.clock.now() + FUNNEL_ORDER_RECHECK_MS };
    }
    if (result.ok) {
      logger.info({ jobId: job.id, kind: event.kind }, 'lifecycle event delivered');
      return { type: 'done' };
    }
    return failureOutcome(deps, 'activecampaign', result.failed);
  };
}

/** Whether contact/sync's answer shows a value in the field. */
function hasValue(body: Record<string, unknown>, field: string): boolean {
  const values = Array.isArray(body.fieldValues) ? (body.fieldValues as Array<{ field?: unknown; value?: unknown }>) : [];
  return values.some((v) => String(v.field) === field && typeof v.value === 'string' && v.value !== '');
}

/** The job's payload as a lifecycle event, or why it is not one. */
function readEvent(payload: Record<string, unknown>): LifecycleEvent | string {
  const kinds: readonly string[] = LIFECYCLE_EVENT_KINDS;
  if (typeof payload.id !== 'string' || typeof payload.kind !== 'string' || !kinds.includes(payload.kind)) return 'not a lifecycle event (id and kind)';
  if (typeof payload.occurredAt !== 'string' || typeof payload.customer !== 'object' || payload.customer === null) return `lifecycle event ${payload.id}: occurredAt and customer are required`;
  return payload as unknown as LifecycleEvent;
}

export interface LifecycleDeliveryOptions {
  config: Pick<Config, 'activeCampaign' | 'activeCampaignRatePerSecond' | 'activeCampaignEvents' | 'publicUrl' | 'lifecycle' | 'upsellWindowMs'> & { sandbox?: boolean };
  /** Holds the account's rate slots (the same gate as the funnel's CARTs and ORDERs: same key) and the funnel's orders. */
  store: Pick<Store, 'reserveRateSlot' | 'deferRateSlots' | 'recordRateSend' | 'forgetRateSend' | 'orderHeldElsewhere'>;
  health: UpstreamHealth;
  metrics: Metrics;
  logger: Logger;
  clock: Clock;
  fetch?: typeof fetch;
  timeoutMs?: number;
}

/** The `lifecycle.deliver` handler of a collector, from its configuration. */
export function lifecycleDeliveryHandlers(options: LifecycleDeliveryOptions): { 'lifecycle.deliver': JobHandler } {
  const { config, clock } = options;
  const ac = config.activeCampaign;
  // Sandbox mode (no credentials at all): the calls are recorded, not sent, like the funnel's.
  if (!ac && config.sandbox) return { 'lifecycle.deliver': sandboxLifecycleHandler({ tagPrefix: config.lifecycle.tagPrefix, clock }) };
  if (!ac) {
    // Outside sandbox mode configuration refuses LIFECYCLE_SYNC without these; a job queued before they were removed waits in the dead letters.
    return { 'lifecycle.deliver': () => Promise.resolve({ type: 'dead', error: 'lifecycle sync needs ACTIVECAMPAIGN_API_URL and ACTIVECAMPAIGN_API_KEY' }) };
  }
  const gate = new RateGate({ store: options.store, clock, key: activeCampaignRateKey(ac.apiUrl), perSecond: config.activeCampaignRatePerSecond });
  const http = { ...(options.fetch ? { fetch: options.fetch } : {}), ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}) };
  const client = activeCampaignClient({ apiUrl: ac.apiUrl, apiKey: ac.apiKey, gate, clock, ...http });
  const tracking = config.activeCampaignEvents;
  const events = tracking ? activeCampaignEventTracker({ eventsUrl: tracking.eventsUrl, accountId: tracking.accountId, eventKey: tracking.eventKey, gate, clock, ...http }) : undefined;
  return {
    'lifecycle.deliver': lifecycleDeliveryHandler({
      client,
      events,
      config,
      tagPrefix: config.lifecycle.tagPrefix,
      timeZone: config.lifecycle.timeZone,
      health: options.health,
      metrics: options.metrics,
      logger: options.logger,
      clock,
      // No session has this id: any funnel session holding the order counts.
      funnelHoldsOrder: (orderId) => options.store.orderHeldElsewhere(orderId, ''),
      funnelOrderWaitMs: config.upsellWindowMs + FUNNEL_ORDER_GRACE_MS,
    }),
  };
}
