/**
 * Hostile input, on both stores: 10,000 generated bodies (fast-check, fixed seed: a failure
 * reproduces) against the real collector. None gets a 5xx; what is refused stores nothing; what
 * is accepted stores exactly the events the answer says it accepted; and the collector's RSS,
 * read from /proc, stays within the 150 MB memory budget (about 100 MB on either store).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { faultBackends, generatedRequests, rssMb, send, spawnCollector, withStore, type Answer } from './support.js';

const COUNT = Number(process.env.FUNNELBEACON_HOSTILE_COUNT ?? 10_000);
/** The collector's memory budget under load (DESIGN.md, Budgets). */
const RSS_BUDGET_MB = 150;
const backends = await faultBackends();

for (const backend of backends) {
  describe.skipIf(backend.skip !== undefined)(`hostile input: ${backend.name}`, () => {
    afterAll(() => backend.cleanup());

    it(`${COUNT} generated bodies: no 5xx, refused ones store nothing, RSS within ${RSS_BUDGET_MB} MB`, async () => {
      const databaseUrl = backend.newDatabaseUrl();
      const requests = generatedRequests(COUNT, 20_26);
      const collector = await spawnCollector(databaseUrl);
      const statuses = new Map<number, number>();
      const serverErrors: string[] = [];
      const sessions = new Set<string>();
      let acceptedEvents = 0;
      let peakRssMb = 0;
      const sampler = setInterval(() => (peakRssMb = Math.max(peakRssMb, rssMb(collector.pid) ?? 0)), 100);
      try {
        await send(collector.port, requests, {
          concurrency: 16,
          onAnswer: (answer: Answer, request) => {
            statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
            if (answer.status >= 500) serverErrors.push(request.body.slice(0, 300));
            if (answer.status === 200) {
              sessions.add(answer.session!);
              acceptedEvents += answer.accepted!;
            }
          },
        });
      } finally {
        clearInterval(sampler);
        peakRssMb = Math.max(peakRssMb, rssMb(collector.pid) ?? 0);
        collector.child.kill('SIGTERM');
      }
      expect((await collector.exited).code).toBe(0);
      expect(serverErrors).toEqual([]);
      if (process.platform === 'linux') expect(peakRssMb, 'peak RSS (MB)').toBeLessThanOrEqual(RSS_BUDGET_MB);
      expect([...statuses.values()].reduce((a, b) => a + b, 0)).toBe(COUNT);
      // Mostly refused (4xx), a few accepted: the generator reaches both sides.
      expect(statuses.get(200) ?? 0).toBeGreaterThan(0);
      expect([...statuses.keys()].every((status) => status === 200 || (status >= 400 && status < 500))).toBe(true);

      // Every stored session and event belongs to an accepted request: refused ones wrote nothing.
      const stored = await withStore(databaseUrl, async (store) => {
        let events = 0;
        for (const session of sessions) events += (await store.listEvents(session)).length;
        return { sessions: await store.countSessions(), events };
      });
      expect(stored).toEqual({ sessions: sessions.size, events: acceptedEvents });
    }, 90_000);
  });
}
