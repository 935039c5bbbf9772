/**
 * bench/store-statements: the store statements of a new visitor's first request (the presell
 * page view: find a resent batch, insert the session and its first state, the event, the page's
 * click and its job, update the session), on in-memory SQLite, without the commit's fsync.
 * Each request runs in its own savepoint inside one transaction, as group commit runs them.
 * Reported as CPU time per request, so that other processes on the machine do not count.
 *
 *   node bench/store-statements/build-and-run.mjs [--requests 20000] [--runs 5]
 */
import { parseArgs } from 'node:util';
import { applyBatch, type IngestRequest } from '../../collector/ingest/apply-batch.js';
import { SqliteStore } from '../../collector/store/sqlite-store.js';

const { values } = parseArgs({ options: { requests: { type: 'string', default: '20000' }, runs: { type: 'string', default: '5' } } });
const requests = Number(values.requests);
const runs = Number(values.runs);
const T0 = Date.UTC(2026, 10, 23, 12);

function firstRequest(n: number): IngestRequest {
  return {
    mode: 'new',
    sessionId: `s${n}`.padEnd(22, 'x'),
    campaignId: '12',
    ip: '203.0.113.9',
    userAgent: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36',
    isBot: false,
    receivedAt: T0 + n,
    events: [
      {
        id: `e${n}`.padEnd(22, 'y'),
        type: 'page',
        page: 'presell',
        url: `https://offer.example/presell?affId=A1&c1=x&utm_source=fb&n=${n}`,
        referrer: 'https://facebook.com/',
        ts: T0 + n,
      } as IngestRequest['events'][number],
    ],
  };
}

const perRequestUs: number[] = [];
let offset = 0;
for (let run = 0; run < runs + 1; run++) {
  const store = SqliteStore.fromUrl('file::memory:');
  await store.migrate();
  // Warm the statement cache and the JIT on other sessions first.
  await store.transaction(async (tx) => {
    for (let i = 0; i < 2000; i++) await tx.nested(() => applyBatch(tx, firstRequest(offset++)));
  });
  const started = process.cpuUsage();
  await store.transaction(async (tx) => {
    for (let i = 0; i < requests; i++) {
      const outcome = await tx.nested(() => applyBatch(tx, firstRequest(offset++)));
      if (!outcome.ok || outcome.jobs !== 1) throw new Error('the first request did not open a session with its click');
    }
  });
  // CPU time, not wall time: on a shared machine other processes' turns would count otherwise.
  const used = process.cpuUsage(started);
  const us = (used.user + used.system) / requests;
  await store.close();
  if (run > 0) perRequestUs.push(us); // run 0 warms up the process
}
perRequestUs.sort((a, b) => a - b);
const median = perRequestUs[Math.floor(perRequestUs.length / 2)]!;
console.log(
  `store statements of a new visitor's first request (in-memory SQLite): best ${perRequestUs[0]!.toFixed(1)} µs, median ${median.toFixed(1)} µs ` +
    `(runs: ${perRequestUs.map((us) => us.toFixed(1)).join(', ')}; ${requests} requests each)`,
);
