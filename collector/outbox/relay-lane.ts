/**
 * @module relay-lane
 * One upstream's share of the outbox worker: its own `concurrency` places, refilled the moment
 * any of its calls ends, and its own loop. Konnektive and ActiveCampaign each have a lane, so a
 * slow, failing or rate-limited upstream only ever holds its own places: a Konnektive job is
 * claimed as soon as a Konnektive place is free, whatever ActiveCampaign is doing.
 *
 * A rate-limited upstream is throttled at pickup (RudderStack's router does the same): before it
 * claims, the lane asks the upstream's {@link PickupThrottle} (the rate gate's shared schedule)
 * how many calls could start soon. Booked beyond that, it claims nothing and sleeps until the
 * schedule has room, so jobs wait in the outbox (where the funnel's are claimed first), not in
 * the lane's places. A job it picked up counts against that room until the gate has booked its
 * first call; only then does the shared schedule show it.
 */
import type { Clock } from '../clock.js';
import type { PickupRoom } from '../emit/rate-gate.js';
import type { Logger } from '../logger.js';
import { UPSTREAMS, type ClaimOptions, type Job, type Upstream } from '../store/store.js';
import type { UpstreamHealth } from '../upstream-health.js';

/** An upstream's rate limit as seen at pickup (collector/emit/rate-gate.ts). */
export interface PickupThrottle {
  room(): Promise<PickupRoom>;
}

export interface RelayLaneOptions {
  upstream: Upstream;
  health: UpstreamHealth;
  logger: Logger;
  clock: Clock;
  owner: string;
  concurrency: number;
  leaseMs: number;
  pollMs: number;
  throttle: PickupThrottle | undefined;
  /** Claims for this lane (`Store.claimJobs`), with the worker's other writes of the moment (relay-writer.ts). */
  claim(options: ClaimOptions): Promise<Job[]>;
  /** Delivers a claimed job and stores its outcome; never rejects. `onRateSlot` is for the rate gate. */
  run(job: Job, onRateSlot: () => void): Promise<void>;
  /**
   * A job of this lane ended. Every lane must look again: the session's next job, claimable only
   * now, may be another upstream's (a Konnektive recheck, then ActiveCampaign's CART).
   */
  ended(): void;
}

/**
 * The shortest time between two claims of a lane that found the outbox drained (its last claim
 * got fewer jobs than it asked for): under a steady stream of work a claim then gathers what a
 * few milliseconds bring instead of one job per wake, each claim being queries in the store
 * (relay-writer.ts). A lane that has been quiet longer claims at once, and one working off a
 * backlog (its last claim filled) claims as soon as a place comes free. Wall time: it bounds the database's load,
 * whatever clock the lane is given.
 */
export const CLAIM_GAP_MS = 25;

/**
 * The shortest time between two claims a lane makes because another lane's job ended: the
 * session's next job waits at most this long for its upstream's lane to look.
 */
export const NUDGE_GAP_MS = 250;

/** What the loop does after a round: go again at once, or sleep (and whether a notify() ends the sleep). */
type Next = { sleepMs: number; wakeOnNotify: boolean } | undefined;

export class RelayLane {
  readonly upstream: Upstream;
  /** Jobs in flight, by id. */
  readonly inFlight = new Map<number, Promise<void>>();
  readonly #o: RelayLaneOptions;
  readonly #others: Upstream[];
  /** Jobs picked up whose first call the rate gate has not booked yet. */
  readonly #unbooked = new Set<number>();
  #stopping = false;
  #running: Promise<void> | undefined;
  #wake: (() => void) | undefined;
  #wakeOnNotify = true;
  #pendingWake = false;
  /** When the lane last claimed (performance.now()), and whether that claim drained the outbox. */
  #lastClaimAt = Number.NEGATIVE_INFINITY;
  #drained = false;
  /** A wake held back until a gap has passed, and when it fires. */
  #deferred: NodeJS.Timeout | undefined;
  #deferredAt = 0;

  constructor(options: RelayLaneOptions) {
    this.#o = options;
    this.upstream = options.upstream;
    this.#others = UPSTREAMS.filter((upstream) => upstream !== options.upstream);
  }

  start(): void {
    if (this.#running) return;
    this.#stopping = false;
    this.#running = this.#loop();
  }

  /** New work was queued (or a place came free): claim now (or once {@link CLAIM_GAP_MS} has passed) instead of at the next poll. */
  notify(): void {
    this.#wakeAfter(this.#drained ? CLAIM_GAP_MS : 0);
  }

  /** Another lane's job ended: look again, once {@link NUDGE_GAP_MS} has passed since the last claim. */
  nudge(): void {
    this.#wakeAfter(NUDGE_GAP_MS);
  }

  /** Wakes the loop once `gap` ms have passed since the last claim: at once if they have. */
  #wakeAfter(gap: number): void {
    const now = performance.now();
    const at = this.#lastClaimAt + gap;
    if (at <= now) {
      clearTimeout(this.#deferred);
      this.#deferred = undefined;
      this.#pendingWake = true;
      if (this.#wakeOnNotify) this.#wake?.();
      return;
    }
    // A wake already set for no later than this one will do.
    if (this.#deferred && this.#deferredAt <= at) return;
    clearTimeout(this.#deferred);
    this.#deferredAt = at;
    this.#deferred = setTimeout(() => {
      this.#deferred = undefined;
      this.#pendingWake = true;
      if (this.#wakeOnNotify) this.#wake?.();
    }, at - now);
    this.#deferred.unref();
  }

  /** Stops claiming and resolves once the jobs in flight are done. */
  async stop(): Promise<void> {
    clearTimeout(this.#deferred);
    this.#deferred = undefined;
    this.#stopping = true;
    this.#wake?.();
    await this.#running;
    this.#running = undefined;
  }

  async #loop(): Promise<void> {
    while (!this.#stopping) {
      this.#pendingWake = false;
      let next: Next;
      try {
        next = await this.#round();
      } catch (error) {
        // A failed claim counts as no work: trouble backs off to the poll interval, never spins.
        this.#o.logger.error({ err: describe(error), owner: this.#o.owner, upstream: this.upstream }, 'outbox round failed');
        next = { sleepMs: this.#o.pollMs, wakeOnNotify: true };
      }
      if (next && !this.#stopping && !(next.wakeOnNotify && this.#pendingWake)) {
        await this.#sleep(next.sleepMs, next.wakeOnNotify);
        this.#wake = undefined;
        this.#wakeOnNotify = true;
      }
    }
    await Promise.allSettled(this.inFlight.values());
  }

  /** One pickup: claims what the places and the upstream's rate limit allow, and starts it. */
  async #round(): Promise<Next> {
    const { health, clock, concurrency, throttle, pollMs } = this.#o;
    const idle: Next = { sleepMs: pollMs, wakeOnNotify: true };
    if (health.get(this.upstream).state === 'paused') return idle;
    const free = concurrency - this.inFlight.size;
    // Full: a job that ends frees a place and wakes the lane.
    if (free <= 0) return idle;
    let limit = free;
    let skipBackground = false;
    if (throttle) {
      const room = await throttle.room();
      const now = clock.now();
      // Throttled: no job is taken until the schedule has room; new work cannot change that.
      if (room.funnel === 0) return { sleepMs: Math.max(1, room.funnelAt - now), wakeOnNotify: false };
      const funnel = room.funnel - this.#unbooked.size;
      // Jobs just picked up still have to book their calls: the gate's booking wakes the lane.
      if (funnel <= 0) return idle;
      limit = Math.min(free, funnel);
      skipBackground = room.background - this.#unbooked.size <= 0;
      if (skipBackground) {
        const jobs = await this.#claim(limit, true);
        // Lifecycle deliveries may be due: look again when their schedule has room.
        return jobs > 0 ? undefined : { sleepMs: Math.max(1, Math.min(pollMs, room.backgroundAt - now)), wakeOnNotify: true };
      }
    }
    // A claim that got all it asked for may leave more behind: go again. One that drained the
    // outbox waits for new work or a place to come free.
    const claimed = await this.#claim(limit, skipBackground);
    return claimed > 0 && !this.#drained ? undefined : idle;
  }

  async #claim(limit: number, skipBackground: boolean): Promise<number> {
    const { clock, leaseMs, owner, logger } = this.#o;
    this.#lastClaimAt = performance.now();
    const jobs = await this.#o.claim({ now: clock.now(), limit, leaseMs, owner, skipUpstreams: this.#others, upstream: this.upstream, skipBackground });
    this.#drained = jobs.length < limit;
    for (const job of jobs) {
      if (this.#o.throttle) this.#unbooked.add(job.id);
      const booked = () => {
        if (this.#unbooked.delete(job.id)) this.notify();
      };
      const run = (async () => {
        try {
          await this.#o.run(job, booked);
        } catch (error) {
          // Its lease runs out and another round delivers it again, as after a crash.
          logger.error({ err: describe(error), owner, jobId: job.id }, 'outbox round failed');
        } finally {
          this.#unbooked.delete(job.id);
          this.inFlight.delete(job.id);
          this.#o.ended();
        }
      })();
      this.inFlight.set(job.id, run);
    }
    return jobs.length;
  }

  #sleep(ms: number, wakeOnNotify: boolean): Promise<void> {
    this.#wakeOnNotify = wakeOnNotify;
    return new Promise((resolve) => {
      const cancel = this.#o.clock.setTimer(done, ms);
      function done() {
        cancel();
        resolve();
      }
      this.#wake = done;
    });
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
