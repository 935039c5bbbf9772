import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Clock } from '../clock.js';
import { SqliteStore } from '../store/sqlite-store.js';
import { RateGate, slotSpacingMs } from './rate-gate.js';

/** Slot spacing at 5 requests per second (the gate keeps a small margin under the limit). */
const SLOT = slotSpacingMs(5);

/**
 * A virtual clock with a scheduler: `sleep` parks the caller until virtual time reaches its own
 * target, and sleepers wake one at a time in target order, each after every runnable
 * continuation has run. So time never jumps past a caller that has yet to act, and a caller reads
 * exactly its slot time when it wakes, however many others are sleeping concurrently.
 */
function virtualClock(start: number): Clock & { set(ms: number): void } {
  let t = start;
  let seq = 0;
  let pumping = false;
  const sleepers: Array<{ at: number; seq: number; wake: () => void }> = [];
  const settle = async () => {
    for (let i = 0; i < 3; i += 1) await new Promise<void>((resolve) => setImmediate(resolve));
  };
  async function pump(): Promise<void> {
    if (pumping) return;
    pumping = true;
    try {
      for (;;) {
        await settle();
        sleepers.sort((a, b) => a.at - b.at || a.seq - b.seq);
        const next = sleepers.shift();
        if (!next) return;
        t = Math.max(t, next.at);
        next.wake();
      }
    } finally {
      pumping = false;
    }
  }
  return {
    now: () => t,
    sleep: (ms) =>
      new Promise<void>((wake) => {
        sleepers.push({ at: t + Math.max(0, ms), seq: (seq += 1), wake });
        void pump();
      }),
    set(ms) {
      t = ms;
    },
  };
}

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
    const clock = virtualClock(T0);
    const gate = new RateGate({ store, clock, key: 'ac:acme', perSecond: 5 });
    const times: number[] = [];
    for (let i = 0; i < 6; i += 1) times.push(await goAt(gate, clock));
    expect(times.map((t) => t - T0)).toEqual([0, 1, 2, 3, 4, 5].map((n) => n * SLOT));
    expect(SLOT).toBeGreaterThan(200);
  });

  it('gives concurrent callers distinct slots, so no second holds more than perSecond of them', async () => {
    const clock = virtualClock(T0);
    const gate = new RateGate({ store, clock, key: 'ac:acme', perSecond: 5 });
    const times = await Promise.all(Array.from({ length: 20 }, () => goAt(gate, clock)));
    const sorted = [...times].sort((a, b) => a - b);
    for (let i = 5; i < sorted.length; i += 1) expect(sorted[i]! - sorted[i - 5]!).toBeGreaterThanOrEqual(1000);
    expect(Math.max(...times) - T0).toBe(19 * SLOT);
  });

  it('shares one limit between gates (workers, collectors) that use the same key and store', async () => {
    const clock = virtualClock(T0);
    const first = new RateGate({ store, clock, key: 'ac:acme', perSecond: 5 });
    const second = new RateGate({ store, clock, key: 'ac:acme', perSecond: 5 });
    const times = await Promise.all([first, second, first, second].map((gate) => goAt(gate, clock)));
    expect([...times].sort((a, b) => a - b).map((t) => t - T0)).toEqual([0, 1, 2, 3].map((n) => n * SLOT));
  });

  it('keeps accounts apart: another key has its own slots', async () => {
    const clock = virtualClock(T0);
    const acme = new RateGate({ store, clock, key: 'ac:acme', perSecond: 5 });
    const other = new RateGate({ store, clock, key: 'ac:other', perSecond: 5 });
    await goAt(acme, clock);
    await goAt(acme, clock);
    clock.set(T0);
    expect(await goAt(other, clock)).toBe(T0);
  });

  it('waits out a pause (Retry-After) for every gate of the key, then resumes the normal spacing', async () => {
    const clock = virtualClock(T0);
    const gate = new RateGate({ store, clock, key: 'ac:acme', perSecond: 5 });
    const peer = new RateGate({ store, clock, key: 'ac:acme', perSecond: 5 });
    await goAt(gate, clock);
    await gate.pauseUntil(T0 + 3000);
    expect(await goAt(peer, clock)).toBe(T0 + 3000);
    expect(await goAt(gate, clock)).toBe(T0 + 3000 + SLOT);
  });

  it('does not let an earlier pause pull a later slot back', async () => {
    const clock = virtualClock(T0);
    const gate = new RateGate({ store, clock, key: 'ac:acme', perSecond: 5 });
    await gate.pauseUntil(T0 + 5000);
    await gate.pauseUntil(T0 + 1000);
    expect(await goAt(gate, clock)).toBe(T0 + 5000);
  });

  it('refuses a limit that is not positive', () => {
    const clock = virtualClock(T0);
    expect(() => new RateGate({ store, clock, key: 'ac:acme', perSecond: 0 })).toThrow(RangeError);
  });
});
