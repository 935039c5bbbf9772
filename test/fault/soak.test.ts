/**
 * Soak, on both stores: hostile and valid requests (30% valid) against the real collector, its
 * RSS read from /proc/<pid>/status every 200 ms. No 5xx, and RSS never above 250 MB.
 *
 * RSS only levels off after about 30,000 requests (it climbs from about 85 MB while V8's heap and
 * SQLite's page cache fill up), which takes minutes on 2 cores: too long for every CI run. So CI
 * sends FUNNELBEACON_SOAK_COUNT requests (default 5,000, about 10 s per store) and checks the
 * ceiling; with 50,000 or more it also checks the level-off (the last quarter's peak at most 10%,
 * plus 10 MB of noise, above the second quarter's). The full 100,000-request soak is
 * `node dist/bench/soak.js` (figures in docs/BENCHMARKS.md).
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
