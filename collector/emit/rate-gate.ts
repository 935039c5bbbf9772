/**
 * @module rate-gate
 * Waits for a slot of a per-account request limit that every worker and every collector shares.
 * ActiveCampaign allows 5 requests per second per account, whatever key or process sends them,
 * and answers more with 429 (or 503) and `Retry-After`.
 *
 * Two shared records in the store make it hold across collectors:
 *
 * 1. A schedule ({@link Store.reserveRateSlot}): one "next free slot" row per key, moved forward
 *    atomically, so callers queue for evenly spaced slots instead of racing. A `Retry-After`
 *    pushes that row forward ({@link RateGate.pauseUntil}), which pauses every caller at once.
 * 2. A log of when requests really left ({@link Store.recordRateSend}): right before a caller
 *    goes, the store checks the key's last `perSecond` sends and records this one, atomically.
 *    The schedule alone is not enough: a request that leaves late (the event loop was busy, the
 *    timer fired late) brings it closer to the five after it, which leave on schedule; on a busy
 *    machine one left 58 ms late and six reached ActiveCampaign within 991 ms. The log sees the
 *    late send as it was, and the caller that would make it six waits.
 *
 * Why this holds by construction: the log never holds more than `perSecond` sends in any window
 * of `LOG_WINDOW_MS` (1050 ms at the default margin), and a caller goes only within
 * `SEND_TOLERANCE_MS` (25 ms) of the time it recorded, else it takes the record back and asks
 * again. So no 1025 ms of real send times ever holds more than `perSecond` requests, whatever the
 * lateness, the number of workers or collectors, and 25 ms remain for the network.
 *
 * Funnel calls first (outbox/job-priority.ts): a background caller (a lifecycle delivery) queues
 * on a schedule of its own, spaced for `perSecond - 1`, and the log lets it go only while fewer
 * than `perSecond - 1` sends are in the window; a funnel caller queues on the main schedule, behind
 * other funnel calls only, and may take the last one. However deep a backfill's queue, a CART or
 * an ORDER waits at most for the window to move, never behind the backfill; the limit itself is
 * the log's, for both, so it holds as before.
 *
 * Why not a rate-limiting library such as rate-limiter-flexible: its
 * shared backends are Redis, Mongo, MySQL, PostgreSQL and the like, not our SQLite file, so an
 * embedded collector would need a second store or an in-memory limiter that two workers cannot
 * share; and it reads the wall clock, while rate-limit tests here drive a virtual {@link Clock} so
 * that a minute of throttled traffic runs without a single real sleep. The algorithm itself is a
 * few lines, so it is kept here, next to the store that makes it shared.
 */
import type { Clock } from '../clock.js';
import { currentPriority, rateSlotReserved, type JobPriority } from '../outbox/job-priority.js';
import type { Store } from '../store/store.js';

const SPACING_MARGIN = 1.05;
/**
 * How late after its scheduled slot (as a share of the spacing) a caller keeps its place. Later
 * than a whole slot, the process probably stalled and others woke late too: a new slot keeps
 * them from going together. Less late, the log alone decides, and the slot is not wasted.
 */
const LATE_TOLERANCE = 1;
/** The log's window: `perSecond` sends at most in any window this long (the margin included). */
const LOG_WINDOW_MS = 1000 * SPACING_MARGIN;
/** How long after the time it recorded a caller may still go; at most the margin, half of it. */
export const SEND_TOLERANCE_MS = (LOG_WINDOW_MS - 1000) / 2;
/** A slow store answer makes the gate record sends this far ahead at most. */
const MAX_LEAD_MS = 1000;

/**
 * How far ahead of now the schedule may be booked while workers still pick up jobs for it. Long
 * enough that a job picked up takes its slot before the slots booked ahead have gone (a claim
 * and a handler's first store reads take milliseconds), short enough that few jobs wait.
 */
export const PICKUP_HORIZON_MS = 500;

/**
 * What a worker about to pick up jobs may start (outbox/relay-lane.ts): how many calls of each
 * priority the schedules have room for within {@link PICKUP_HORIZON_MS}, and when each will
 * have room again if it has none.
 */
export interface PickupRoom {
  funnel: number;
  background: number;
  funnelAt: number;
  backgroundAt: number;
}

/** Milliseconds between two slots of a limit of `perSecond` requests per second. */
export function slotSpacingMs(perSecond: number): number {
  return (1000 / perSecond) * SPACING_MARGIN;
}

export interface RateGateOptions {
  store: Pick<Store, 'reserveRateSlot' | 'deferRateSlots' | 'recordRateSend' | 'forgetRateSend'>;
  clock: Clock;
  /** One key per upstream account, e.g. `activecampaign:acme.api-us1.com`. */
  key: string;
  perSecond: number;
}

export class RateGate {
  readonly #store: RateGateOptions['store'];
  readonly #clock: Clock;
  readonly #key: string;
  readonly #perSecond: number;
  readonly #intervalMs: number;
  /** Background callers: their own schedule, and one send fewer in any window. */
  readonly #background: { key: string; limit: number; intervalMs: number };
  /** How far ahead of now to record a send: about as long as the store takes to answer. */
  #leadMs = 0;

  constructor({ store, clock, key, perSecond }: RateGateOptions) {
    if (!(perSecond > 0)) throw new RangeError(`rate gate ${key}: perSecond must be positive`);
    this.#store = store;
    this.#clock = clock;
    this.#key = key;
    this.#perSecond = perSecond;
    // Evenly spaced slots, 5% wider than the limit, so that on schedule every send passes the
    // log's check at once (`perSecond` slots span exactly LOG_WINDOW_MS).
    this.#intervalMs = slotSpacingMs(perSecond);
    // With a limit of 1 there is no slot to keep free: background calls share it.
    const limit = Math.max(1, perSecond - 1);
    this.#background = { key: backgroundKey(key), limit, intervalMs: slotSpacingMs(limit) };
  }

  /**
   * Resolves when the caller may send one request, and the caller must send it at once.
   *
   * First a scheduled slot. A caller that wakes well after its slot (the process stalled, the
   * machine was busy) takes a new slot instead of going at once: callers whose slots all passed
   * during a stall would otherwise go together. Then the log: the send is recorded only if the
   * last `perSecond` real sends leave room; otherwise the caller waits until they do.
   */
  async acquire(priority: JobPriority = currentPriority()): Promise<void> {
    const background = priority === 'background';
    const scheduleKey = background ? this.#background.key : this.#key;
    // Whole milliseconds, rounded up (wider, never narrower): PostgreSQL keeps the schedule as a
    // BIGINT and refuses 262.5 (the background spacing at 5 per second, 1050 / 4).
    const intervalMs = Math.ceil(background ? this.#background.intervalMs : this.#intervalMs);
    const limit = background ? this.#background.limit : this.#perSecond;
    for (;;) {
      const at = await this.#store.reserveRateSlot(scheduleKey, this.#clock.now(), intervalMs);
      // The job's place is now in the schedule, where the worker's next pickup sees it.
      rateSlotReserved();
      const wait = at - this.#clock.now();
      if (wait > 0) await this.#clock.sleep(wait);
      if (this.#clock.now() - at <= intervalMs * LATE_TOLERANCE) break;
    }
    for (;;) {
      const asked = this.#clock.now();
      // Whole milliseconds: the stores keep times as integers.
      const at = Math.ceil(asked + this.#leadMs);
      const result = await this.#store.recordRateSend(this.#key, at, limit, LOG_WINDOW_MS);
      const took = this.#clock.now() - asked;
      this.#leadMs = Math.min(MAX_LEAD_MS, Math.max(took, this.#leadMs / 2));
      if (!result.sent) {
        const wait = result.retryAt - this.#clock.now();
        if (wait > 0) await this.#clock.sleep(wait);
        continue;
      }
      const wait = at - this.#clock.now();
      if (wait > 0) await this.#clock.sleep(wait);
      if (this.#clock.now() - at <= SEND_TOLERANCE_MS) return;
      // Stalled after the record: going now could put one send too many in a window that the
      // store already judged. Take the record back (that never fills a window) and ask again.
      await this.#store.forgetRateSend(this.#key, result.id);
    }
  }

  /** No slot of this key is handed out before `until` (the upstream asked us to back off). */
  async pauseUntil(until: number): Promise<void> {
    await this.#store.deferRateSlots(this.#key, until);
    await this.#store.deferRateSlots(this.#background.key, until);
  }
}

/** The schedule of a key's background callers. */
export function backgroundKey(key: string): string {
  return `${key}:background`;
}

/**
 * Throttling at pickup (RudderStack's router does the same): before a worker takes a job of the
 * key's upstream, it asks whether the shared schedules have a slot within the horizon. Booked
 * further ahead than that (a backlog, or a `Retry-After` pause), the worker leaves the jobs in
 * the outbox, so none of them holds a place of the worker while it waits. Reads only: it
 * reserves nothing, and {@link RateGate.acquire} still decides every call, so the limit holds as
 * before, across workers and collectors.
 */
export function pickupThrottle(options: { store: Pick<Store, 'nextRateSlot'>; clock: Clock; key: string; perSecond: number }): {
  room(horizonMs?: number): Promise<PickupRoom>;
} {
  const { store, clock, key, perSecond } = options;
  const intervalMs = slotSpacingMs(perSecond);
  const backgroundIntervalMs = slotSpacingMs(Math.max(1, perSecond - 1));
  return {
    async room(horizonMs = PICKUP_HORIZON_MS) {
      const now = clock.now();
      const [main, background] = await Promise.all([store.nextRateSlot(key), store.nextRateSlot(backgroundKey(key))]);
      const count = (next: number | undefined, spacing: number) => {
        const free = Math.max(now, next ?? now);
        return free > now + horizonMs ? 0 : Math.floor((now + horizonMs - free) / spacing) + 1;
      };
      const at = (next: number | undefined) => Math.max(now, (next ?? now) - horizonMs);
      return {
        funnel: count(main, intervalMs),
        background: count(background, backgroundIntervalMs),
        funnelAt: at(main),
        backgroundAt: Math.max(at(main), at(background)),
      };
    },
  };
}
