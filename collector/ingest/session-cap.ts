/**
 * @module session-cap
 * What one session may store: a number of events and the bytes of their stored payloads. A batch
 * that would take a session past either is refused whole (`session_full`, nothing of it stored),
 * so no visitor can grow one session until reading it back (its recovery link, its dashboard
 * page) costs the collector more memory than it has.
 *
 * The defaults are far above any real funnel: a funnel is a handful of pages (presell, lead,
 * checkout, up to four upsells, thank-you, a few reloads) and some hundreds of lead updates as a
 * buyer types, a few hundred events of about half a kilobyte each, under 300 KB. 2,000 events and
 * 2 MiB leave seven times that, and still make the largest session a few megabytes to read.
 */

/** `SESSION_MAX_EVENTS`'s default. */
export const DEFAULT_SESSION_MAX_EVENTS = 2_000;
/** `SESSION_MAX_BYTES`'s default: 2 MiB of stored event payloads (their JSON, UTF-8). */
export const DEFAULT_SESSION_MAX_BYTES = 2 * 1024 * 1024;

export interface SessionCap {
  maxEvents: number;
  maxBytes: number;
}

export const DEFAULT_SESSION_CAP: SessionCap = Object.freeze({ maxEvents: DEFAULT_SESSION_MAX_EVENTS, maxBytes: DEFAULT_SESSION_MAX_BYTES });

/**
 * Whether a batch of `events` events weighing `bytes` would take a session that stores
 * `stored` past the cap. The whole batch is counted, resent events included: the check runs
 * before anything is written (so a refusal needs no rollback and cannot disturb the other requests
 * of its group commit), and a resend to a session at its cap is refused too, which changes
 * nothing since its events are already stored.
 */
export function exceedsCap(stored: { eventCount: number; eventBytes: number } | undefined, events: number, bytes: number, cap: SessionCap): boolean {
  return (stored?.eventCount ?? 0) + events > cap.maxEvents || (stored?.eventBytes ?? 0) + bytes > cap.maxBytes;
}
