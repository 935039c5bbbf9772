/**
 * kill -9 under load, on both stores: the collector is killed mid-load with no chance to clean
 * up, restarted on the same store, and every event it had acknowledged (answered 200) is there.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import type { IngestResponse } from '../../collector/wire-schema.js';
import { BROWSER_UA, LANDER_ORIGIN, faultBackends, spawnCollector, withStore } from './support.js';

const backends = await faultBackends();

for (const backend of backends) {
  describe.skipIf(backend.skip !== undefined)(`kill -9 under load: ${backend.name}`, () => {
    afterAll(() => backend.cleanup());

    it('loses no acknowledged event, and the restarted collector serves the same sessions', async () => {
      const databaseUrl = backend.newDatabaseUrl();
      const collector = await spawnCollector(databaseUrl);
      const acknowledged: { session: string; token: string; events: string[] }[] = [];
      let failed = 0;
      let killed = false;
      const visitor = async () => {
        let token: string | undefined;
        let session: string | undefined;
        // Until the collector is gone: a visitor stops only when a request fails after the kill,
        // so every visitor is still sending when it dies. (Stopping at the kill instead left a
        // run with nothing refused when the last group commit had answered everyone in flight.)
        for (;;) {
          // A visitor's first batch, then more batches on the same session.
          const events = [randomUUID(), randomUUID()];
          try {
            const res = await fetch(`http://127.0.0.1:${collector.port}/v1/events`, {
              method: 'POST',
              headers: { 'content-type': 'text/plain', origin: LANDER_ORIGIN, 'user-agent': BROWSER_UA },
              body: JSON.stringify({
                ...(token ? { session: token } : {}),
                events: [
                  { id: events[0], type: 'page', page: token ? 'checkout' : 'presell', url: 'https://offer.example/?affId=9' },
                  { id: events[1], type: 'lead', fields: { firstName: 'Ann', lastName: 'Lee', emailAddress: 'ann@example.com' } },
                ],
              }),
            });
            if (res.status !== 200) throw new Error(`status ${res.status}: ${await res.text()}`);
            const answer = (await res.json()) as IngestResponse;
            token = answer.session;
            session = answer.ids.session;
            acknowledged.push({ session, token, events });
          } catch (error) {
            if (!killed) throw error;
            failed++;
            return;
          }
        }
      };
      const load = Array.from({ length: 16 }, visitor);
      // Mid-load: wait for a steady stream of acknowledgements, then kill without warning.
      while (acknowledged.length < 150) await new Promise((resolve) => setTimeout(resolve, 5));
      collector.child.kill('SIGKILL');
      killed = true;
      expect((await collector.exited).signal).toBe('SIGKILL');
      await Promise.all(load);
      expect(failed).toBe(load.length);

      const missing = await withStore(databaseUrl, async (store) => {
        const lost: string[] = [];
        const bySession = new Map<string, Set<string>>();
        for (const { session, events } of acknowledged) {
          let stored = bySession.get(session);
          if (!stored) {
            stored = new Set((await store.listEvents(session)).map((event) => event.id));
            bySession.set(session, stored);
          }
          for (const id of events) if (!stored.has(id)) lost.push(id);
        }
        return lost;
      });
      expect(missing).toEqual([]);

      // The restarted collector recovers the store and goes on with the same sessions.
      const restarted = await spawnCollector(databaseUrl);
      try {
        const last = acknowledged.at(-1)!;
        const res = await fetch(`http://127.0.0.1:${restarted.port}/v1/events`, {
          method: 'POST',
          headers: { 'content-type': 'text/plain', origin: LANDER_ORIGIN, 'user-agent': BROWSER_UA },
          body: JSON.stringify({ session: last.token, events: [{ id: randomUUID(), type: 'page', page: 'thankyou', url: 'https://offer.example/thanks' }] }),
        });
        expect(res.status).toBe(200);
        expect(((await res.json()) as IngestResponse).ids.session).toBe(last.session);
      } finally {
        restarted.child.kill('SIGTERM');
        expect((await restarted.exited).code).toBe(0);
      }
    }, 30_000);
  });
}
