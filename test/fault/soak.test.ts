/**
 * Soak, on both stores: hostile and valid requests (30% valid) against the real collector, its
 * RSS read from /proc/<pid>/status every 200 ms. No 5xx, and RSS never above 250 MB.
 *
 * RSS levels off once V8's heap and SQLite's page cache have filled (94-98 MB over 100,000
 * requests on SQLite with the collector's memory flags: docs/BENCHMARKS.md). The test sends
 * FUNNELBEACON_SOAK_COUNT requests: a developer's `npm test` 5,000 (about 10 s per store), which
 * checks the ceiling; CI (.ci/run) 100,000 per store (about 4 min in all), which also checks the
 * level-off (from 50,000 on: the last quarter's peak at most 10%, plus 10 MB of noise, above the
 * second quarter's). `node dist/bench/soak.js` prints the curve.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { faultBackends, quarterPeaks, soak } from './support.js';

const COUNT = Number(process.env.FUNNELBEACON_SOAK_COUNT ?? 5_000);
const CEILING_MB = 250;
const backends = await faultBackends();

for (const backend of backends) {
  describe.skipIf(backend.skip !== undefined || process.platform !== 'linux')(`soak: ${backend.name}`, () => {
    afterAll(() => backend.cleanup());

    it(`${COUNT} hostile and valid requests: no 5xx, RSS under ${CEILING_MB} MB${COUNT >= 50_000 ? ' and levelling off' : ''}`, async () => {
      const result = await soak(backend.newDatabaseUrl(), COUNT);
      expect(result.requests).toBe(COUNT);
      expect([...result.statuses.keys()].filter((status) => status >= 500)).toEqual([]);
      const peaks = quarterPeaks(result);
      const described = `RSS peaks by quarter: ${peaks.map((mb) => mb.toFixed(0)).join(' / ')} MB`;
      expect(Math.max(...peaks), described).toBeLessThanOrEqual(CEILING_MB);
      if (COUNT >= 50_000) expect(peaks[3], described).toBeLessThanOrEqual(peaks[1]! * 1.1 + 10);
    }, Math.max(120_000, COUNT * 10));
  });
}
