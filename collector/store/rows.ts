/**
 * @module rows
 * Row <-> object mapping shared by both store implementations (the column names are the same).
 */
import type { JobKind } from '../outbox/job-kinds.js';
import type { DeliveryAttempt, Emission, EmissionKind, EmissionStatus, Job, JobState, Session, SessionPatch, SessionState, StoredEvent, Upstream } from './store.js';
import type { PageName } from '../wire-schema.js';

export type Row = Record<string, unknown>;

/**
 * The boolean columns: BOOLEAN in PostgreSQL, INTEGER 0/1 in SQLite (which has no boolean type).
 * Read with `Boolean()` from either; written through the dialect's `bool`.
 */
export const BOOLEAN_COLUMNS: Readonly<Record<string, readonly string[]>> = { sessions: ['is_bot', 'funnel_done'] };

const optional = (value: unknown): string | undefined => (value === null || value === undefined ? undefined : String(value));
const json = <T>(value: unknown, fallback: T): T =>
  value === null || value === undefined ? fallback : typeof value === 'string' ? (JSON.parse(value) as T) : (value as T);

export function rowToSession(row: Row): Session {
  return {
    id: String(row.id),
    campaignId: String(row.campaign_id),
    createdAt: Number(row.created_at),
    lastSeenAt: Number(row.last_seen_at),
    landingUrl: optional(row.landing_url),
    referrer: optional(row.referrer),
    userAgent: String(row.user_agent),
    ip: String(row.ip),
    isBot: Boolean(row.is_bot),
    lastPage: optional(row.last_page) as PageName | undefined,
    lead: json(row.lead, {}),
    leadVersion: Number(row.lead_version),
    leadSyncedVersion: Number(row.lead_synced_version),
    cart: json(row.cart, undefined),
    claimedOrderId: optional(row.claimed_order_id),
    konnektive: json(row.konnektive, {}),
    state: (optional(row.state) ?? 'open') as SessionState,
    stateChangedAt: Number(row.state_changed_at ?? 0),
    dueAt: row.due_at === null || row.due_at === undefined ? undefined : Number(row.due_at),
    funnelDone: Boolean(row.funnel_done),
    orderCheck: json(row.order_check, undefined),
    eventCount: Number(row.event_count ?? 0),
    eventBytes: Number(row.event_bytes ?? 0),
    recoversSessionId: optional(row.recovers_session_id),
  };
}

export function rowToEmission(row: Row): Emission {
  return {
    sessionId: String(row.session_id),
    kind: String(row.kind) as EmissionKind,
    status: String(row.status) as EmissionStatus,
    remoteId: optional(row.remote_id),
    payload: json(row.payload, {}),
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

/** Column/value pairs for an UPDATE; JSON columns are serialised here, booleans by the dialect's `bool`. */
export function patchToColumns(patch: SessionPatch, bool: (value: boolean) => unknown): [string, unknown][] {
  const columns: [string, unknown][] = [];
  if (patch.lastSeenAt !== undefined) columns.push(['last_seen_at', patch.lastSeenAt]);
  if (patch.lastPage !== undefined) columns.push(['last_page', patch.lastPage]);
  if (patch.landingUrl !== undefined) columns.push(['landing_url', patch.landingUrl]);
  if (patch.referrer !== undefined) columns.push(['referrer', patch.referrer]);
  if (patch.lead !== undefined) columns.push(['lead', JSON.stringify(patch.lead)]);
  if (patch.leadVersion !== undefined) columns.push(['lead_version', patch.leadVersion]);
  if (patch.leadSyncedVersion !== undefined) columns.push(['lead_synced_version', patch.leadSyncedVersion]);
  if (patch.cart !== undefined) columns.push(['cart', JSON.stringify(patch.cart)]);
  if (patch.claimedOrderId !== undefined) columns.push(['claimed_order_id', patch.claimedOrderId]);
  if (patch.konnektive !== undefined) columns.push(['konnektive', JSON.stringify(patch.konnektive)]);
  if (patch.state !== undefined) columns.push(['state', patch.state]);
  if (patch.stateChangedAt !== undefined) columns.push(['state_changed_at', patch.stateChangedAt]);
  if (patch.dueAt !== undefined) columns.push(['due_at', patch.dueAt]);
  if (patch.funnelDone !== undefined) columns.push(['funnel_done', bool(patch.funnelDone)]);
  if (patch.orderCheck !== undefined) columns.push(['order_check', JSON.stringify(patch.orderCheck)]);
  if (patch.eventCount !== undefined) columns.push(['event_count', patch.eventCount]);
  if (patch.eventBytes !== undefined) columns.push(['event_bytes', patch.eventBytes]);
  return columns;
}

export function rowToJob(row: Row): Job {
  return {
    id: Number(row.id),
    sessionId: String(row.session_id),
    upstream: String(row.upstream) as Upstream,
    kind: String(row.kind) as JobKind,
    payload: json(row.payload, {}),
    state: String(row.state) as JobState,
    attempts: Number(row.attempts),
    runAt: Number(row.run_at),
    lastError: optional(row.last_error),
    createdAt: Number(row.created_at),
  };
}

export function rowToAttempt(row: Row): DeliveryAttempt {
  return {
    jobId: Number(row.job_id),
    upstream: String(row.upstream) as Upstream,
    endpoint: String(row.endpoint),
    request: String(row.request),
    response: String(row.response),
    outcome: String(row.outcome) as DeliveryAttempt['outcome'],
    httpStatus: row.http_status === null || row.http_status === undefined ? undefined : Number(row.http_status),
    latencyMs: Number(row.latency_ms),
    createdAt: Number(row.created_at),
  };
}

export function rowToEvent(row: Row): StoredEvent {
  return {
    id: String(row.id),
    sessionId: String(row.session_id),
    type: String(row.type),
    receivedAt: Number(row.received_at),
    payload: JSON.parse(String(row.payload)),
  };
}
