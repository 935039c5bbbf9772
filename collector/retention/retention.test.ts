/**
 * The retention runner over a real SQLite store: everything past RETENTION_DAYS goes, batch by
 * batch, with the figures kept as rollups; a stopping collector interrupts it between batches.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../logger.js';
import { systemClock } from '../clock.js';
import { SqliteStore } from '../store/sqlite-store.js';
import { DAY_MS, Retention } from './retention.js';
import { rollupsOf, utcDay } from './rollups.js';
import { eventually } from '../../test/support/test-collector.js';
import { VirtualClock } from '../../test/support/virtual-clock.js';

const T0 = Date.UTC(2026, 0, 10, 12);

async function seeded(sessions: number): Promise<SqliteStore> {
  const store = new SqliteStore(join(mkdtempSync(join(tmpdir(), 'funnelbeacon-retention-')), 'store.db'));
  await store.migrate();
  await store.transaction(async (tx) => {
    for (let i = 0; i < sessions; i++) {
      const id = `s${String(i).padStart(4, '0')}`;
      await tx.insertSession({ id, campaignId: '12', createdAt: T0 + i, lastSeenAt: T0 + i, landingUrl: undefined, referrer: undefined, userAgent: 'UA', ip: '203.0.113.1', isBot: false });
      await tx.insertEvent({ id: `${id}-e`, sessionId: id, type: 'page', receivedAt: T0 + i, payload: {} });
      await tx.updateSession(id, { state: 'expired', stateChangedAt: T0 + i });
    }
  });
  return store;
}

describe('retention', () => {
  const stores: SqliteStore[] = [];
  afterEach(async () => {
    for (const store of stores.splice(0)) await store.close();
  });

  it('purges what is older than RETENTION_DAYS in small batches, and keeps the figures', async () => {
    const store = await seeded(25);
    stores.push(store);
    const clock = { now: () => T0 + 31 * DAY_MS, sleep: async () => {}, setTimer: systemClock.setTimer };
    const retention = new Retention({ store, clock, logger: createLogger('silent'), retentionDays: 30, everyMs: 3_600_000, sessionBatch: 10, pauseMs: 0 });
    const report = await retention.purgeOnce();
    // Per session: the row, one event, two states (open, expired).
    expect(report).toMatchObject({ sessions: 25, rows: 25 * 4, interrupted: false });
    expect(report.batches).toBeGreaterThanOrEqual(3);
    expect(await store.countSessions()).toBe(0);
    expect(await store.listDailyRollups()).toEqual([{ day: utcDay(T0), metric: 'sessions', currency: '', value: 25 }]);

    // Inside the window: nothing goes.
    const fresh = await seeded(3);
    stores.push(fresh);
    const early = new Retention({ store: fresh, clock: { now: () => T0 + 29 * DAY_MS, sleep: async () => {}, setTimer: systemClock.setTimer }, logger: createLogger('silent'), retentionDays: 30, everyMs: 1000 });
    expect((await early.purgeOnce()).sessions).toBe(0);
    expect(await fresh.countSessions()).toBe(3);
  });

  it("runs every RETENTION_EVERY on the collector's clock", async () => {
    const store = await seeded(8);
    stores.push(store);
    const clock = new VirtualClock(T0 + 29 * DAY_MS);
    const retention = new Retention({ store, clock, logger: createLogger('silent'), retentionDays: 30, everyMs: DAY_MS, sessionBatch: 3, pauseMs: 5, firstRunMs: 60_000 });
    retention.start();
    try {
      // Only virtual time passes, an hour at a time. The first run (at one minute) finds nothing
      // past the window yet; the next, a day later on the same clock, purges everything.
      clock.advance(60_000);
      await eventually(
        async () => {
          clock.advance(3_600_000);
          return (await store.countSessions()) === 0;
        },
        { timeoutMs: 4_000 },
      );
      expect(clock.now()).toBeGreaterThan(T0 + 30 * DAY_MS + 60_000);
    } finally {
      await retention.stop();
    }
  });

  it('stops between two batches when the collector stops', async () => {
    const store = await seeded(50);
    stores.push(store);
    // Real pauses between batches: the run is stopped while it waits in one.
    const clock = { ...systemClock, now: () => T0 + 31 * DAY_MS };
    const retention = new Retention({ store, clock, logger: createLogger('silent'), retentionDays: 30, everyMs: 3_600_000, sessionBatch: 5, pauseMs: 20, firstRunMs: 0 });
    retention.start();
    await new Promise((resolve) => setTimeout(resolve, 50));
    await retention.stop();
    const left = await store.countSessions();
    expect(left).toBeGreaterThan(0);
    expect(left).toBeLessThan(50);
    expect(left % 5).toBe(0);
  });

  it('forgets dashboard cookies ended by logout once they would have expired anyway, in batches', async () => {
    const store = await seeded(0);
    stores.push(store);
    for (let i = 0; i < 7; i++) await store.revokeDashboardSession(`ended-${i}`, T0 + i * 1_000);
    await store.revokeDashboardSession('still-live', T0 + DAY_MS);
    const clock = { now: () => T0 + 10_000, sleep: async () => {}, setTimer: systemClock.setTimer };
    const retention = new Retention({ store, clock, logger: createLogger('silent'), retentionDays: 30, everyMs: 3_600_000, historyBatch: 3, pauseMs: 0 });
    const report = await retention.purgeOnce();
    expect(report.rows).toBe(7);
    for (let i = 0; i < 7; i++) expect(await store.isDashboardSessionRevoked(`ended-${i}`)).toBe(false);
    // Until it expires, the ended cookie stays refused.
    expect(await store.isDashboardSessionRevoked('still-live')).toBe(true);
  });

  it('counts amounts per currency and ignores malformed ones', () => {
    const day = utcDay(T0);
    const rollups = rollupsOf([
      { session: { id: 'a', createdAt: T0, isBot: false, lead: { emailAddress: 'a@example.com' } }, pages: ['checkout', 'checkout'], emissions: [
        { kind: 'cart', status: 'sent', payload: { totalCents: 1234, currency: 'gbp' } },
        { kind: 'order', status: 'cancelled', payload: { totalCents: 99, currency: 'GBP' } },
      ] },
      { session: { id: 'b', createdAt: T0, isBot: false, lead: {} }, pages: [], emissions: [{ kind: 'cart', status: 'sent', payload: { totalCents: 'lots', currency: 'USD' } }] },
    ]);
    expect(Object.fromEntries(rollups)).toEqual({
      [`${day}|sessions|`]: 2,
      [`${day}|reached_checkout|`]: 1,
      [`${day}|leads|`]: 1,
      [`${day}|carts_abandoned|`]: 2,
      [`${day}|abandoned_cents|GBP`]: 1234,
    });
  });
});
