import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Clock } from '../clock.js';
import { VirtualClock } from '../../test/support/virtual-clock.js';
import { SqliteStore } from '../store/sqlite-store.js';
import { RateGate, slotSpacingMs } from './rate-gate.js';

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
    const clock: Clock = { now: () => t, sleep: (ms) => new Promise<void>((wake) => sleepers.push({ at: t + ms, wake })) };
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
