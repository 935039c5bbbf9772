import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { systemClock, type Clock } from '../clock.js';
import { VirtualClock } from '../../test/support/virtual-clock.js';
import { SqliteStore } from '../store/sqlite-store.js';
import { startActiveCampaignDouble } from '../../test/doubles/activecampaign-double.js';
import { activeCampaignClient } from './activecampaign-client.js';
import { activeCampaignRateKey } from './activecampaign-emitter.js';
import { RateGate, slotSpacingMs, type RateGateOptions } from './rate-gate.js';

type RateGateOptionsStore = RateGateOptions['store'];

/** Slot spacing at 5 requests per second (the gate keeps a small margin under the limit). */
const SLOT = slotSpacingMs(5);

const T0 = 1_700_000_000_000;
let store: SqliteStore;

beforeEach(async () => {
  store = SqliteStore.fromUrl('file::memory:');
  await store.migrate();
});
afterEach(async () => {
  await store.close();
});

/** Acquires once and reports the virtual time at which the caller was let through. */
async function goAt(gate: RateGate, clock: Clock): Promise<number> {
  await gate.acquire();
  return clock.now();
}

describe('RateGate', () => {
  it('lets the first caller go at once and spaces the next ones a little over 1000/perSecond ms apart', async () => {
    const clock = new VirtualClock(T0);
    const gate = new RateGate({ store, clock, key: 'ac:acme', perSecond: 5 });
    const times: number[] = [];
    for (let i = 0; i < 6; i += 1) times.push(await goAt(gate, clock));
    expect(times.map((t) => t - T0)).toEqual([0, 1, 2, 3, 4, 5].map((n) => n * SLOT));
    expect(SLOT).toBeGreaterThan(200);
  });

  it('gives concurrent callers distinct slots, so no second holds more than perSecond of them', async () => {
    const clock = new VirtualClock(T0);
    const gate = new RateGate({ store, clock, key: 'ac:acme', perSecond: 5 });
    const times = await Promise.all(Array.from({ length: 20 }, () => goAt(gate, clock)));
    const sorted = [...times].sort((a, b) => a - b);
    for (let i = 5; i < sorted.length; i += 1) expect(sorted[i]! - sorted[i - 5]!).toBeGreaterThanOrEqual(1000);
    expect(Math.max(...times) - T0).toBe(19 * SLOT);
  });

  it('shares one limit between gates (workers, collectors) that use the same key and store', async () => {
    const clock = new VirtualClock(T0);
    const first = new RateGate({ store, clock, key: 'ac:acme', perSecond: 5 });
    const second = new RateGate({ store, clock, key: 'ac:acme', perSecond: 5 });
    const times = await Promise.all([first, second, first, second].map((gate) => goAt(gate, clock)));
    expect([...times].sort((a, b) => a - b).map((t) => t - T0)).toEqual([0, 1, 2, 3].map((n) => n * SLOT));
  });

  it('keeps accounts apart: another key has its own slots', async () => {
    const clock = new VirtualClock(T0);
    const acme = new RateGate({ store, clock, key: 'ac:acme', perSecond: 5 });
    const other = new RateGate({ store, clock, key: 'ac:other', perSecond: 5 });
    await goAt(acme, clock);
    await goAt(acme, clock);
    const now = clock.now();
    expect(await goAt(other, clock)).toBe(now);
    expect(await goAt(acme, clock)).toBe(now + SLOT);
  });

  it('waits out a pause (Retry-After) for every gate of the key, then resumes the normal spacing', async () => {
    const clock = new VirtualClock(T0);
    const gate = new RateGate({ store, clock, key: 'ac:acme', perSecond: 5 });
    const peer = new RateGate({ store, clock, key: 'ac:acme', perSecond: 5 });
    await goAt(gate, clock);
    await gate.pauseUntil(T0 + 3000);
    expect(await goAt(peer, clock)).toBe(T0 + 3000);
    expect(await goAt(gate, clock)).toBe(T0 + 3000 + SLOT);
  });

  it('does not let an earlier pause pull a later slot back', async () => {
    const clock = new VirtualClock(T0);
    const gate = new RateGate({ store, clock, key: 'ac:acme', perSecond: 5 });
    await gate.pauseUntil(T0 + 5000);
    await gate.pauseUntil(T0 + 1000);
    expect(await goAt(gate, clock)).toBe(T0 + 5000);
  });

  it('refuses a limit that is not positive', () => {
    const clock = new VirtualClock(T0);
    expect(() => new RateGate({ store, clock, key: 'ac:acme', perSecond: 0 })).toThrow(RangeError);
  });
});

describe('RateGate after a stall', () => {
  it('sends callers that woke long after their slots to new slots instead of letting them burst', async () => {
    let t = T0;
    const sleepers: { at: number; wake: () => void }[] = [];
    const clock: Clock = { ...systemClock, now: () => t, sleep: (ms) => new Promise<void>((wake) => sleepers.push({ at: t + ms, wake })) };
    const gate = new RateGate({ store, clock, key: 'ac:stall', perSecond: 5 });
    const wentAt: number[] = [];
    const go = () => gate.acquire().then(() => wentAt.push(t));
    const callers = [go(), go(), go(), go()];
    const settle = () => new Promise((resolve) => setImmediate(resolve));
    while (sleepers.length < 3) await settle();
    expect(wentAt).toEqual([T0]);

    // The process stalls for a second: every parked caller wakes after its slot has passed.
    t = T0 + 1_000;
    for (const sleeper of sleepers.splice(0)) sleeper.wake();
    // From here on timers fire on time.
    while (wentAt.length < 4) {
      await settle();
      const next = sleepers.sort((a, b) => a.at - b.at).shift();
      if (next) {
        t = Math.max(t, next.at);
        next.wake();
      }
    }
    await Promise.all(callers);
    expect(wentAt).toEqual([T0, T0 + 1_000, T0 + 1_000 + SLOT, T0 + 1_000 + 2 * SLOT]);
  });
});

/** Deterministic pseudo-random numbers in [0, 1) (mulberry32), so a failing run can be replayed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The most send times that fall in any half-open window of `windowMs` (what AC counts). */
function busiestWindow(times: number[], windowMs = 1000): number {
  const sorted = [...times].sort((a, b) => a - b);
  let most = 0;
  for (let i = 0, j = 0; i < sorted.length; i += 1) {
    while (sorted[i]! - sorted[j]! >= windowMs) j += 1;
    most = Math.max(most, i - j + 1);
  }
  return most;
}

/**
 * A collector's view of the virtual clock whose timers fire late, as on a busy machine: each
 * `sleep` overshoots by the next value of `lateness` (ms).
 */
function lateClock(clock: VirtualClock, lateness: () => number): Clock {
  return { ...clock, sleep: (ms) => clock.sleep(ms + lateness()) };
}

/** Lateness as seen in the field: mostly on time, sometimes tens of ms late, now and then more. */
function fieldLateness(seed: number): () => number {
  const next = random(seed);
  const choices = [0, 0, 0, 0, 3, 10, 30, 45, 51, 52, 58, 120];
  return () => choices[Math.floor(next() * choices.length)]!;
}

describe('RateGate when requests leave late', () => {
  it('keeps the five sends after a late one out of its second (the 58 ms case of issue 7)', async () => {
    const clock = new VirtualClock(T0);
    // The second caller's timer fires 51 ms late; every other timer is on time.
    let sleeps = 0;
    const gateClock: Clock = { ...clock, sleep: (ms) => clock.sleep(ms + (++sleeps === 1 ? 51 : 0)) };
    const gate = new RateGate({ store, clock: gateClock, key: 'ac:late', perSecond: 5 });
    const times = await Promise.all(Array.from({ length: 12 }, () => goAt(gate, gateClock)));
    expect(times.sort((a, b) => a - b)[1]! - T0).toBe(SLOT + 51);
    expect(busiestWindow(times)).toBeLessThanOrEqual(5);
  });

  it('never lets more than the limit into any sliding second, whatever the timers do', async () => {
    const clock = new VirtualClock(T0);
    const gateClock = lateClock(clock, fieldLateness(7));
    const gate = new RateGate({ store, clock: gateClock, key: 'ac:jitter', perSecond: 5 });
    const times: number[] = [];
    // 16 workers, each sending one request after another, as the outbox does.
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        for (let i = 0; i < 10; i += 1) times.push(await goAt(gate, gateClock));
      }),
    );
    expect(times).toHaveLength(160);
    expect(busiestWindow(times)).toBeLessThanOrEqual(5);
    // Still drains near the limit (the delivery budget is 90% of it): lateness costs little.
    expect(160 / ((Math.max(...times) - T0) / 1000)).toBeGreaterThanOrEqual(5 * 0.9);
  });

  it('holds across collectors: two gates on one store, each with its own late timers', async () => {
    const clock = new VirtualClock(T0);
    const clocks = [lateClock(clock, fieldLateness(1)), lateClock(clock, fieldLateness(2))];
    const gates = clocks.map((c) => new RateGate({ store, clock: c, key: 'ac:shared', perSecond: 5 }));
    const times: number[] = [];
    await Promise.all(
      Array.from({ length: 16 }, async (_, worker) => {
        const at = worker % 2;
        for (let i = 0; i < 8; i += 1) times.push(await goAt(gates[at]!, clocks[at]!));
      }),
    );
    expect(times).toHaveLength(128);
    expect(busiestWindow(times)).toBeLessThanOrEqual(5);
  });

  it('takes back a send recorded before a stall and asks again, so the stall never crowds a window', async () => {
    const clock = new VirtualClock(T0);
    // The store answers late now and then (a slow query, or the event loop was blocked).
    const slow = fieldLateness(3);
    let forgotten = 0;
    const slowStore: RateGateOptionsStore = {
      reserveRateSlot: (...args) => store.reserveRateSlot(...args),
      deferRateSlots: (...args) => store.deferRateSlots(...args),
      recordRateSend: async (...args) => {
        const result = await store.recordRateSend(...args);
        await clock.sleep(slow());
        return result;
      },
      forgetRateSend: async (...args) => {
        forgotten += 1;
        await store.forgetRateSend(...args);
      },
    };
    const gates = [0, 1].map(() => new RateGate({ store: slowStore, clock, key: 'ac:slow', perSecond: 5 }));
    const times: number[] = [];
    await Promise.all(
      Array.from({ length: 8 }, async (_, worker) => {
        for (let i = 0; i < 10; i += 1) times.push(await goAt(gates[worker % 2]!, clock));
      }),
    );
    expect(forgotten).toBeGreaterThan(0);
    expect(busiestWindow(times)).toBeLessThanOrEqual(5);
  });

  it('records whole milliseconds only (PostgreSQL keeps send times as BIGINT)', async () => {
    const clock = new VirtualClock(T0);
    const recorded: number[] = [];
    const oddStore: RateGateOptionsStore = {
      reserveRateSlot: (...args) => store.reserveRateSlot(...args),
      deferRateSlots: (...args) => store.deferRateSlots(...args),
      recordRateSend: async (key, at, limit, windowMs) => {
        recorded.push(at);
        const result = await store.recordRateSend(key, at, limit, windowMs);
        // A slow answer, then quick ones: the gate halves its lead time to fractions of a millisecond.
        await clock.sleep(recorded.length === 1 ? 5 : 0);
        return result;
      },
      forgetRateSend: (...args) => store.forgetRateSend(...args),
    };
    const gate = new RateGate({ store: oddStore, clock, key: 'ac:odd', perSecond: 5 });
    for (let i = 0; i < 12; i += 1) await gate.acquire();
    expect(recorded.length).toBeGreaterThan(10);
    expect(recorded.filter((at) => !Number.isInteger(at))).toEqual([]);
  });

  it('gets no 429 from the ActiveCampaign double with two collectors whose timers fire late', async () => {
    const clock = new VirtualClock(T0);
    const double = await startActiveCampaignDouble({ apiKey: 'k', now: clock.now });
    try {
      const clients = [11, 12].map((seed) => {
        const gateClock = lateClock(clock, fieldLateness(seed));
        const gate = new RateGate({ store, clock: gateClock, key: activeCampaignRateKey(double.apiUrl), perSecond: 5 });
        return activeCampaignClient({ apiUrl: double.apiUrl, apiKey: 'k', gate, clock: gateClock, fetch: clock.fetch });
      });
      const answers: number[] = [];
      await Promise.all(
        Array.from({ length: 12 }, async (_, worker) => {
          for (let i = 0; i < 6; i += 1) {
            const response = await clients[worker % 2]!.request('GET', '/connections');
            answers.push(response.status ?? 0);
          }
        }),
      );
      expect(answers.filter((status) => status !== 200)).toEqual([]);
      expect(double.stats.rateLimited).toBe(0);
      expect(double.maxRequestsInAnyWindow()).toBeLessThanOrEqual(5);
    } finally {
      await double.close();
    }
  });
});

describe('RateGate: funnel calls before lifecycle deliveries', () => {
  /** Every window of 1000 ms holds at most `limit` of `times`. */
  function maxInAnySecond(times: number[]): number {
    const sorted = [...times].sort((a, b) => a - b);
    let most = 0;
    for (let i = 0; i < sorted.length; i += 1) {
      let n = 0;
      for (let j = i; j < sorted.length && sorted[j]! - sorted[i]! < 1000; j += 1) n += 1;
      most = Math.max(most, n);
    }
    return most;
  }

  it('never gives a background caller the last slot of a second, so a funnel call behind 60 of them goes within the window', async () => {
    const clock = new VirtualClock(T0);
    const backfill = new RateGate({ store, clock, key: 'ac:acme', perSecond: 5 });
    const funnel = new RateGate({ store, clock, key: 'ac:acme', perSecond: 5 });
    const background = Array.from({ length: 60 }, () => backfill.acquire('background').then(() => clock.now()));
    // The funnel's call arrives 3 s into the backfill, with about 50 background callers still queued.
    await clock.sleep(3000);
    const asked = clock.now();
    const order = await goAt(funnel, clock);
    const sent = await Promise.all(background);
    expect(order - asked).toBeLessThanOrEqual(1050);
    expect(sent.filter((t) => t > order).length).toBeGreaterThan(40);
    // The limit holds for both together, and the backfill alone keeps one send free in every second.
    expect(maxInAnySecond([...sent, order])).toBeLessThanOrEqual(5);
    expect(maxInAnySecond(sent)).toBeLessThanOrEqual(4);
  });

  it('takes the priority of the outbox job running the call, and a pause holds background callers too', async () => {
    const { runWithPriority, currentPriority } = await import('../outbox/job-priority.js');
    // Across an await inside the handler, too; and outside any job (storage disabled again), funnel.
    const after = async () => (await Promise.resolve(), currentPriority());
    expect(await runWithPriority('lifecycle.deliver', after)).toBe('background');
    expect(await runWithPriority('emit.order', after)).toBe('funnel');
    const [background, funnel] = await Promise.all([runWithPriority('lifecycle.deliver', after), runWithPriority('emit.order', after)]);
    expect([background, funnel]).toEqual(['background', 'funnel']);
    expect(currentPriority()).toBe('funnel');
    const clock = new VirtualClock(T0);
    const gate = new RateGate({ store, clock, key: 'ac:acme', perSecond: 5 });
    await gate.pauseUntil(T0 + 3000);
    expect(await runWithPriority('lifecycle.deliver', () => goAt(gate, clock))).toBe(T0 + 3000);
    expect(await goAt(gate, clock)).toBe(T0 + 3000);
  });
});
