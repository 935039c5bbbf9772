/**
 * The hourly rollup on both stores: the figures of an hour with more visitors than one statement
 * writes, and each visitor's affiliate for the session search.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { openStore } from '../store/open-store.js';
import type { Store } from '../store/store.js';
import { testPostgres } from '../../test/support/postgres.js';
import { bucketRange, HOUR_MS, MAX_VALUES_PER_HOUR, OTHER, readBreakdown, readTotals, refreshRollup } from './rollup.js';

const postgres = await testPostgres();
afterAll(() => postgres.dropSchemas());

const HOUR = Date.UTC(2026, 10, 23, 12) / HOUR_MS;
const VISITORS = 1_234;
const TTL = 7 * 86_400_000;

describe('the hours of a period', () => {
  it('gives each hour to one period of two adjacent ones, however their boundary falls', () => {
    const start = HOUR * HOUR_MS;
    for (const offset of [0, 1, 30 * 60_000, HOUR_MS - 1]) {
      const boundary = start + offset;
      for (const span of [HOUR_MS, 90 * 60_000, 86_400_000 + 17_000]) {
        const [previousFirst, previousEnd] = bucketRange(boundary - span, boundary);
        const [currentFirst, currentEnd] = bucketRange(boundary, boundary + span);
        expect(previousEnd, `${offset} ${span}`).toBe(currentFirst);
        expect(previousFirst).toBeLessThanOrEqual(previousEnd);
        expect(currentFirst).toBeLessThan(currentEnd);
      }
    }
    // An hour counts in the period where it starts; a period ending mid-hour counts that hour.
    expect(bucketRange(start + 30 * 60_000, start + 90 * 60_000)).toEqual([HOUR + 1, HOUR + 2]);
    expect(bucketRange(start, start + HOUR_MS)).toEqual([HOUR, HOUR + 1]);
  });
});

const stores: [string, () => Promise<Store>, string | undefined][] = [
  ['SQLite', () => openStore('file::memory:'), undefined],
  ['PostgreSQL', () => openStore(postgres.newSchemaUrl()), postgres.skip],
];

for (const [name, open, skip] of stores) {
  describe.skipIf(skip !== undefined)(`the hourly rollup on ${name}`, () => {
    it(`counts ${VISITORS} visitors of one hour by affiliate, and files each for the search`, async () => {
      const store = await open();
      try {
        await store.migrate();
        await store.transaction(async (tx) => {
          for (let i = 0; i < VISITORS; i++) {
            const at = HOUR * HOUR_MS + i * 1_000;
            await tx.insertSession({ id: `v${i}`, campaignId: '12', createdAt: at, lastSeenAt: at, landingUrl: `https://offer.example/?affId=${i % 4 === 0 ? 'A1' : 'B2'}`, referrer: undefined, userAgent: 'Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0', ip: '203.0.113.9', isBot: false });
          }
        });
        const sql = store.sql();
        expect(await refreshRollup(sql, { budgetMs: Number.POSITIVE_INFINITY })).toMatchObject({ pending: 0 });
        const from = HOUR * HOUR_MS;
        expect((await readTotals(sql, from, from + HOUR_MS, { now: from + HOUR_MS, linkTtlMs: 7 * 86_400_000 })).visitors).toBe(VISITORS);
        const byAffiliate = await readBreakdown(sql, 'affId', from, from + HOUR_MS, 10);
        expect(byAffiliate.map((row) => [row.value, row.figures.visitors])).toEqual([['B2', 925], ['A1', 309]]);
        const filed = await sql.all<{ aff_id: string; n: number | string; newest: number | string }>(
          'SELECT aff_id, COUNT(*) AS n, MAX(created_at) AS newest FROM dashboard_sources GROUP BY aff_id ORDER BY aff_id',
        );
        expect(filed.map((row) => [row.aff_id, Number(row.n), Number(row.newest)])).toEqual([
          ['A1', 309, HOUR * HOUR_MS + 1_232_000],
          ['B2', 925, HOUR * HOUR_MS + 1_233_000],
        ]);
        // Recomputing the hour again replaces its rows: nothing is counted twice.
        await sql.run('INSERT INTO dashboard_dirty (bucket) VALUES (?)', [HOUR]);
        await refreshRollup(sql, { budgetMs: Number.POSITIVE_INFINITY });
        expect((await readTotals(sql, from, from + HOUR_MS, { now: from + HOUR_MS, linkTtlMs: 7 * 86_400_000 })).visitors).toBe(VISITORS);
        expect(Number((await sql.all<{ n: number | string }>('SELECT COUNT(*) AS n FROM dashboard_sources'))[0]!.n)).toBe(VISITORS);
        // A period that starts at half past and the one before it: the hour's visitors once, not twice.
        const boundary = from + 30 * 60_000;
        const previous = await readTotals(sql, boundary - HOUR_MS, boundary, { now: boundary + HOUR_MS, linkTtlMs: TTL });
        const current = await readTotals(sql, boundary, boundary + HOUR_MS, { now: boundary + HOUR_MS, linkTtlMs: TTL });
        expect([previous.visitors, current.visitors]).toEqual([VISITORS, 0]);
        expect((await readBreakdown(sql, 'affId', boundary, boundary + HOUR_MS, 10))).toEqual([]);
      } finally {
        await store.close();
      }
    });

    it(`keeps ${MAX_VALUES_PER_HOUR} values of a dimension apart in an hour, and counts the rest as ${OTHER}`, async () => {
      const store = await open();
      try {
        await store.migrate();
        const distinct = MAX_VALUES_PER_HOUR + 150;
        await store.transaction(async (tx) => {
          // A visitor a millisecond before the hour belongs to the hour before.
          for (let i = -1; i < distinct; i++) {
            const at = HOUR * HOUR_MS + i;
            await tx.insertSession({ id: `w${i}`, campaignId: '12', createdAt: at, lastSeenAt: at, landingUrl: `https://offer.example/?affId=AFF${i}`, referrer: undefined, userAgent: 'Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0', ip: '203.0.113.9', isBot: false });
          }
        });
        const sql = store.sql();
        await refreshRollup(sql, { budgetMs: Number.POSITIVE_INFINITY });
        const from = HOUR * HOUR_MS;
        expect((await readTotals(sql, from, from + HOUR_MS, { now: from, linkTtlMs: TTL })).visitors).toBe(distinct);
        const rows = await readBreakdown(sql, 'affId', from, from + HOUR_MS, 1_000);
        expect(rows).toHaveLength(MAX_VALUES_PER_HOUR + 1);
        expect(rows.find((row) => row.value === OTHER)?.figures.visitors).toBe(150);
        expect(rows.find((row) => row.value === 'AFF0')?.figures.visitors).toBe(1);
        const stored = await sql.all<{ n: number | string }>('SELECT COUNT(*) AS n FROM dashboard_rollup WHERE dim = ? AND bucket = ?', ['affId', HOUR]);
        expect(Number(stored[0]!.n)).toBe(MAX_VALUES_PER_HOUR + 1);
      } finally {
        await store.close();
      }
    });
  });
}
