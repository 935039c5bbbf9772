/**
 * @module apply-batch
 * What one accepted request does to the store, inside the group-commit transaction: append its
 * events, fold them into the session, and queue the upstream calls they cause. No upstream is
 * called here; the outbox worker does that after the commit.
 */
import type { FunnelEvent, PageName } from '../wire-schema.js';
import { JOB_KINDS } from '../outbox/job-kinds.js';
import { queueJob } from '../outbox/queue-job.js';
import { newSessionDefaults, type NewSession, type Session, type SessionPatch, type StoreTx, type Upstream } from '../store/store.js';
import { newSessionId } from '../tokens.js';
import { nextDueAt, type AbandonmentPolicy } from '../session/session-rules.js';
import { canImportLead, mergeLead } from '../session/lead-merge.js';
import { DEFAULT_SESSION_CAP, exceedsCap, type SessionCap } from './session-cap.js';
import type { AdPlatform } from '../conversions/conversion.js';
import { queueConversion } from '../conversions/conversion-queue.js';
import { queuePostbackEvent } from '../postbacks/postback-queue.js';

export interface IngestRequest {
  /** `new`: mint `sessionId`; `existing`: it must be stored; `adopt`: from a link token (`link`), minted anew if unknown here. */
  mode: 'new' | 'existing' | 'adopt';
  sessionId: string;
  /**
   * The verified link token of an `adopt`: its nonce, spent here (a link adopts once), and whether
   * it is a recovery landing's (`p`), which begins a new session linked to the abandoned one.
   */
  link?: { nonce: string; expiresAt: number; recovery: boolean };
  campaignId: string;
  ip: string;
  userAgent: string;
  /**
   * This request's user agent is a known bot (with the bot filter on). It decides only for a
   * session this request opens: the verdict is taken once, on the session's first request, and
   * kept, so one later request with another user agent (an exit beacon sent by an extension, a
   * link preview) cannot silently drop a person's lead.
   */
  isBot: boolean;
  events: FunnelEvent[];
  receivedAt: number;
}

export type IngestOutcome =
  | {
      ok: true;
      session: Session;
      accepted: number;
      acceptedByType: Record<string, number>;
      duplicates: number;
      jobs: number;
      /** The upstreams those jobs call: their relay lanes are woken after the commit, no others. */
      upstreams: readonly Upstream[];
      /** Upstream calls a bot session did not get, by job kind (counted in `/metrics`). */
      suppressed: Partial<Record<'click' | 'lead' | 'conversion', number>>;
      /** The link token was spent before (and this is no resend of its first use): a new session began. */
      linkRefused?: true;
      /** A recovery landing: the abandoned session the new one recovers, as it is now. */
      recovered?: Session;
    }
  /** `session_full`: the batch would take the session past its cap (session-cap.ts); nothing was stored. */
  | { ok: false; code: 'unknown_session' | 'session_full' };

export interface IngestPolicy extends AbandonmentPolicy {
  /**
   * How long a queued Import Lead waits before it runs. Visitors type in bursts; changes made
   * meanwhile ride along in the same call instead of one call each.
   */
  leadSettleMs: number;
  /** What one session may store (`SESSION_MAX_EVENTS`, `SESSION_MAX_BYTES`); the defaults when absent. */
  sessionCap?: SessionCap;
  /** The ad platforms a Lead and an InitiateCheckout go to (conversions/conversion.ts); none when absent. */
  adPlatforms?: readonly AdPlatform[];
  /** How long a Lead conversion waits for the rest of the form ({@link LEAD_CONVERSION_SETTLE_MS} when absent). */
  leadConversionSettleMs?: number;
  /** `POSTBACKS_FILE` is set: a lead is routed to the affiliate postbacks (postbacks/postback-queue.ts). */
  postbacks?: boolean;
}

/** How long a Lead conversion waits for the rest of the form (within the 10 seconds a conversion should take). */
export const LEAD_CONVERSION_SETTLE_MS = 5_000;

/** How long after a session began a resent first batch may still find it. */
const RESEND_WINDOW_MS = 15 * 60_000;

export const DEFAULT_INGEST_POLICY: IngestPolicy = Object.freeze({
  leadSettleMs: 1_000,
  abandonAfterMs: 30 * 60_000,
  upsellWindowMs: 15 * 60_000,
});

export async function applyBatch(tx: StoreTx, request: IngestRequest, policy: IngestPolicy = DEFAULT_INGEST_POLICY): Promise<IngestOutcome> {
  // Each payload serialised once, here: measured against the session's cap before anything is
  // written (a refused batch leaves no row behind, not even a new session or a spent link token),
  // then stored as is.
  const payloads = request.events.map((event) => JSON.stringify(event));
  let batchBytes = 0;
  for (const payload of payloads) batchBytes += Buffer.byteLength(payload);
  const cap = policy.sessionCap ?? DEFAULT_SESSION_CAP;
  let session: Session | undefined;
  let linkRefused = false;
  let recovered: Session | undefined;
  const resent = async (): Promise<Session | undefined> => {
    const owner = await tx.findEventsSession(request.events.map((event) => event.id));
    return owner === undefined ? undefined : tx.getSession(owner);
  };
  if (request.mode === 'new') {
    // A first batch sent again (the page was left before the answer arrived, then the beacon or
    // the next page resent it) belongs to the session it already opened, not to a new one.
    // Only the same browser, soon after: an event id seen in a log must not become a key to the session.
    const found = await resent();
    if (found && found.userAgent === request.userAgent && request.receivedAt - found.createdAt <= RESEND_WINDOW_MS) session = found;
  } else if (request.mode === 'adopt' && request.link) {
    const { nonce, expiresAt, recovery } = request.link;
    const named = await tx.getSession(request.sessionId);
    if (!recovery && exceedsCap(named, payloads.length, batchBytes, cap)) return { ok: false, code: 'session_full' };
    if (await tx.spendToken(`link.${nonce}`, expiresAt)) {
      // A recovery landing never gets the abandoned session itself: whoever holds the link (a
      // forwarded mail, a scanner) must not write to the buyer's session. It gets a new one that
      // carries the cart and recovers it when it pays.
      if (recovery) recovered = named;
      else session = named;
    } else {
      // Spent: only the first use's own resend (the same events, sent again) finds its session.
      const found = await resent();
      const owned = found && (recovery ? found.recoversSessionId === request.sessionId : found.id === request.sessionId);
      if (owned && found.userAgent === request.userAgent) session = found;
      else linkRefused = true;
    }
  } else {
    session = await tx.getSession(request.sessionId);
  }
  if (!session && request.mode === 'existing') return { ok: false, code: 'unknown_session' };
  if (exceedsCap(session, payloads.length, batchBytes, cap)) return { ok: false, code: 'session_full' };
  if (!session) {
    const firstPage = request.events.find((event) => event.type === 'page');
    const fresh: NewSession = {
      id: request.mode === 'new' ? request.sessionId : newSessionId(request.receivedAt),
      ...(recovered ? { recoversSessionId: recovered.id } : {}),
      campaignId: request.campaignId,
      createdAt: request.receivedAt,
      lastSeenAt: request.receivedAt,
      landingUrl: firstPage?.url,
      referrer: firstPage?.referrer,
      userAgent: request.userAgent,
      ip: request.ip,
      isBot: request.isBot,
    };
    await tx.insertSession(fresh);
    session = newSessionDefaults(fresh);
  }

  // What the events change, gathered here and written once; the patch is built whole at the end
  // (no property added later or deleted, which would leave V8 a slow dictionary-mode object).
  let lastPage: PageName | undefined;
  /** The URL of this batch's latest page view, and of its checkout page view: where a conversion happened. */
  let pageUrl: string | undefined;
  let checkoutUrl: string | undefined;
  /** This batch holds the session's first view of the checkout (its Import Click was queued now). */
  let checkoutFirst = false;
  let landingUrl = session.landingUrl;
  let referrer = session.referrer;
  let landed = false;
  // A recovery landing's new session carries the cart the buyer left (written with the patch).
  let cart = recovered && session.recoversSessionId === recovered.id && !session.cart ? recovered.cart : session.cart;
  let claimedOrderId: string | undefined;
  let state = session.state;
  let funnelDone = false;
  let lead = session.lead;
  let leadVersion = session.leadVersion;
  let accepted = 0;
  const acceptedByType: Record<string, number> = {};
  let duplicates = 0;
  let jobs = 0;
  const upstreams = new Set<Upstream>();
  const suppressed: Partial<Record<'click' | 'lead' | 'conversion', number>> = {};
  const quiet = session.isBot;

  // Resent events are stored already: they leave the session's counts as they were.
  let acceptedBytes = batchBytes;
  for (let index = 0; index < request.events.length; index++) {
    const event = request.events[index]!;
    const payload = payloads[index]!;
    const stored = await tx.insertEvent({ id: event.id, sessionId: session.id, type: event.type, receivedAt: request.receivedAt, payload: event }, payload);
    if (!stored) {
      duplicates++;
      acceptedBytes -= Buffer.byteLength(payload);
      continue;
    }
    accepted++;
    acceptedByType[event.type] = (acceptedByType[event.type] ?? 0) + 1;
    switch (event.type) {
      case 'page':
        // A bot's session queues no Import Click (so none marks its first checkout view): it
        // reaches the checkout when it comes to it from another page (for `/metrics` only).
        if (quiet && event.page === 'checkout' && (lastPage ?? session.lastPage) !== 'checkout') checkoutFirst = true;
        lastPage = event.page;
        pageUrl = event.url;
        if (event.page === 'checkout') checkoutUrl = event.url;
        if (!landingUrl) {
          landingUrl = event.url;
          referrer = event.referrer;
          landed = true;
        }
        if (quiet) suppressed.click = (suppressed.click ?? 0) + 1;
        else if (await queueClick(tx, session.id, event, request.receivedAt)) {
          jobs++;
          upstreams.add('konnektive');
          if (event.page === 'checkout') checkoutFirst = true;
        }
        if (event.page === 'thankyou') funnelDone = true;
        break;
      case 'lead': {
        const merged = mergeLead(lead, event.fields);
        if (merged) {
          lead = merged;
          leadVersion++;
        }
        break;
      }
      case 'cart':
        cart = { items: event.items, currency: event.currency };
        break;
      case 'order':
        claimedOrderId = event.orderId;
        // An order to verify when the upsell window closes (or at once on the thank-you page).
        if (session.state !== 'complete') state = 'ordered';
        break;
      case 'exit':
      case 'attribution':
        // Read when a conversion is delivered (conversions/attribution.ts), from the events.
        break;
    }
  }

  const leadChanged = leadVersion !== session.leadVersion;
  if (leadChanged) {
    if (quiet && canImportLead(lead)) suppressed.lead = (suppressed.lead ?? 0) + 1;
    else if (!quiet && canImportLead(lead) && (await queueLeadSync(tx, session.id, request.receivedAt + policy.leadSettleMs))) {
      jobs++;
      upstreams.add('konnektive');
    }
  }
  // The conversions and the affiliate's lead, each once per session, decided from the session as
  // this request found it and leaves it: no marker of their own here, so a commit group (which
  // reads everything it needs in one batch) never waits on a read for them. A bot's session
  // sends none (counted in `/metrics`; the delivery accuracy counts them as skipped, `bot`).
  const becameLead = leadChanged && !hasContact(session.lead) && hasContact(lead);
  // A session with a cart reached the checkout: its first checkout view with (or after) the cart,
  // or its first cart while the buyer is on the checkout, viewed before.
  const reachedCheckout = cart !== undefined && (checkoutFirst || (session.cart === undefined && checkoutUrl === undefined && (lastPage ?? session.lastPage) === 'checkout'));
  if (policy.postbacks && becameLead && !quiet && (await queuePostbackEvent(tx, { event: 'lead', eventId: `${session.id}.lead`, session: session.id, at: request.receivedAt }, { marked: false }))) {
    jobs++;
    upstreams.add('postbacks');
  }
  const platforms = policy.adPlatforms ?? [];
  if (platforms.length > 0 && quiet && (becameLead || reachedCheckout)) {
    suppressed.conversion = (suppressed.conversion ?? 0) + (becameLead ? 1 : 0) + (reachedCheckout ? 1 : 0);
  } else if (platforms.length > 0) {
    // Sent a few seconds later, with what the visitor typed meanwhile (the phone and names after
    // the email): the platforms match a person better on more fields. A contact cleared and typed
    // again queues the same event id again, which the platforms count once.
    const settle = policy.leadConversionSettleMs ?? LEAD_CONVERSION_SETTLE_MS;
    if (becameLead || reachedCheckout) for (const platform of platforms) upstreams.add(platform);
    if (becameLead) jobs += await queueConversion(tx, platforms, { session: session.id, name: 'Lead', at: request.receivedAt, ...(pageUrl ? { sourceUrl: pageUrl } : {}) }, undefined, settle);
    if (reachedCheckout) jobs += await queueConversion(tx, platforms, { session: session.id, name: 'InitiateCheckout', at: request.receivedAt, ...(checkoutUrl ? { sourceUrl: checkoutUrl } : {}) }, undefined);
  }
  // Only events are activity: a request that only renews the link token (a tab left open)
  // must not keep postponing the session's abandonment.
  const active = accepted > 0;
  // New activity reopens an expired session; an abandoned one stays abandoned (its CART is out).
  if (active && session.state === 'expired' && state === session.state) state = 'open';
  const stateChanged = active && state !== session.state;
  const patch: SessionPatch = {
    lastSeenAt: active ? request.receivedAt : undefined,
    lastPage,
    landingUrl: landed ? landingUrl : undefined,
    referrer: landed ? referrer : undefined,
    lead: leadChanged ? lead : undefined,
    leadVersion: leadChanged ? leadVersion : undefined,
    cart: cart !== session.cart ? cart : undefined,
    claimedOrderId,
    state: stateChanged ? state : undefined,
    stateChangedAt: stateChanged ? request.receivedAt : undefined,
    funnelDone: funnelDone || undefined,
    dueAt: undefined,
    // Written with the rest of the patch (no statement of their own): the next batch's cap check.
    eventCount: active ? session.eventCount + accepted : undefined,
    eventBytes: active ? session.eventBytes + acceptedBytes : undefined,
  };
  // The session as it is after this request, written out field by field (a spread of the session
  // plus changes makes a slow dictionary-mode object, see `newSessionDefaults`).
  const after: Session = {
    id: session.id,
    campaignId: session.campaignId,
    createdAt: session.createdAt,
    lastSeenAt: patch.lastSeenAt ?? session.lastSeenAt,
    landingUrl,
    referrer,
    userAgent: session.userAgent,
    ip: session.ip,
    isBot: session.isBot,
    lastPage: lastPage ?? session.lastPage,
    lead,
    leadVersion,
    leadSyncedVersion: session.leadSyncedVersion,
    cart,
    claimedOrderId: claimedOrderId ?? session.claimedOrderId,
    konnektive: session.konnektive,
    state: stateChanged ? state : session.state,
    stateChangedAt: patch.stateChangedAt ?? session.stateChangedAt,
    dueAt: session.dueAt,
    funnelDone: funnelDone || session.funnelDone,
    orderCheck: session.orderCheck,
    eventCount: session.eventCount + accepted,
    eventBytes: session.eventBytes + acceptedBytes,
    recoversSessionId: session.recoversSessionId,
  };
  if (active) patch.dueAt = nextDueAt(after, policy);
  // As the store would read it back when the due time was written; not known here otherwise.
  after.dueAt = patch.dueAt ?? undefined;
  await tx.updateSession(session.id, patch);
  return {
    ok: true,
    session: after,
    accepted,
    acceptedByType,
    duplicates,
    jobs,
    upstreams: [...upstreams],
    suppressed,
    ...(linkRefused ? { linkRefused: true as const } : {}),
    ...(recovered ? { recovered } : {}),
  };
}

/** An email or a phone number: what makes a visitor a lead the ad platforms can match. */
function hasContact(lead: Session['lead']): boolean {
  return Boolean(lead.emailAddress?.trim() || lead.phoneNumber?.trim());
}

/** One Import Click per page type per session, as Konnektive's own kit does: reloads add none. */
async function queueClick(
  tx: StoreTx,
  sessionId: string,
  event: { page: PageName; url: string; referrer?: string | undefined },
  now: number,
): Promise<boolean> {
  if (!(await tx.markPageClicked(sessionId, event.page))) return false;
  const payload = { page: event.page, url: event.url, ...(event.referrer ? { referrer: event.referrer } : {}) };
  return queueJob(tx, JOB_KINDS.konnektiveClick, { sessionId, runAt: now, payload });
}

/**
 * The lead job reads the session's latest fields when it runs, so one queued job stands for any
 * number of changes: while one waits unclaimed, further changes queue nothing. A change made while
 * a call is in flight queues exactly one more.
 */
function queueLeadSync(tx: StoreTx, sessionId: string, runAt: number): Promise<boolean> {
  return queueJob(tx, JOB_KINDS.konnektiveLead, { sessionId, runAt, unlessPending: true });
}
