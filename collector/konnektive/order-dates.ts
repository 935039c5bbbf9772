/**
 * @module order-dates
 * When a Konnektive order was created, compared with our own instants. Query Order prints
 * `dateCreated` as `YYYY-MM-DD HH:mm:ss` in the account's own time zone, which no answer names.
 * The offset is learnt from an order whose creation the collector witnessed: the partial its own
 * Import Lead created, started at `leadCreateStartedAt`. Without that, an order counts as created
 * since an instant unless it was before it in every time zone in use.
 */

const MINUTE_MS = 60_000;
const QUARTER_HOUR_MS = 15 * MINUTE_MS;
/** Every time zone in use lies between UTC-12:00 and UTC+14:00. */
const MIN_OFFSET_MS = -12 * 60 * MINUTE_MS;
const MAX_OFFSET_MS = 14 * 60 * MINUTE_MS;
/** Our clock and Konnektive's may disagree a little, and `dateCreated` has whole seconds. */
const CLOCK_SLACK_MS = MINUTE_MS;

const CRM_DATE = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})/;

/** A `dateCreated` read as if its wall-clock time were UTC; `undefined` when it is not one. */
export function crmWallClock(text: unknown): number | undefined {
  const m = typeof text === 'string' ? CRM_DATE.exec(text) : null;
  if (!m) return undefined;
  const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
  return Number.isFinite(ms) ? ms : undefined;
}

/**
 * The account's offset from UTC, from an order created at about `createdAround` (our clock) whose
 * `dateCreated` reads `dateCreated`: rounded to the quarter hour (time zones are whole quarter
 * hours; the call's latency and the clocks' skew are far less). `undefined` when it cannot be one.
 */
export function crmOffsetFrom(dateCreated: unknown, createdAround: number | undefined): number | undefined {
  const wall = crmWallClock(dateCreated);
  if (wall === undefined || createdAround === undefined) return undefined;
  const offset = Math.round((wall - createdAround) / QUARTER_HOUR_MS) * QUARTER_HOUR_MS;
  return offset >= MIN_OFFSET_MS && offset <= MAX_OFFSET_MS ? offset : undefined;
}

/**
 * Whether an order whose `dateCreated` reads so was created at or after `since`: exactly when the
 * account's offset is known, else unless it was before `since` in every time zone. An unreadable
 * date cannot rule an order out.
 */
export function createdSince(dateCreated: unknown, since: number, offsetMs: number | undefined): boolean {
  const wall = crmWallClock(dateCreated);
  if (wall === undefined) return true;
  const latest = wall - (offsetMs ?? MIN_OFFSET_MS);
  return latest + CLOCK_SLACK_MS >= since;
}
