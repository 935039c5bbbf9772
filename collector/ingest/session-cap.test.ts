/**
 * The per-session cap, on both stores: a batch that would take a session past its events or bytes
 * is refused whole (`session_full`) and stores nothing; the counts on the session row match what
 * is stored; concurrent requests, in one group commit or from two collectors sharing PostgreSQL,
 * never take a session past the cap; and a full session does not fail the other requests of its
 * group.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { testPostgres } from '../../test/support/postgres.js';
import { PostgresStore } from '../store/postgres-store.js';
import { SqliteStore } from '../store/sqlite-store.js';
import type { Store } from '../store/store.js';
import { newSessionId } from '../tokens.js';
import type { FunnelEvent } from '../wire-schema.js';
import { applyBatch, DEFAULT_INGEST_POLICY, type IngestOutcome, type IngestPolicy, type IngestRequest } from './apply-batch.js';
import { GroupCommitter } from './group-commit.js';
import { isGroupWriter } from '../store/group-writer.js';
import type { SessionCap } from './session-cap.js';

const T0 = 1_700_000_000_000;
const postgres = await testPostgres();
const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  await postgres.dropSchemas();
});

interface Backend {
  name: string;
  skip: string | undefined;
  /** A migrated store, and a second one on the same database (another collector). */
  open(): Promise<{ store: Store; peer: () => Promise<Store> }>;
}

const backends: Backend[] = [
  {
    name: 'sqlite',
    skip: undefined,
    async open() {
      const dir = mkdtempSync(join(tmpdir(), 'funnelbeacon-cap-'));
      dirs.push(dir);
      const store = new SqliteStore(join(dir, 'store.db'));
      await store.migrate();
      return { store, peer: async () => new SqliteStore(join(dir, 'store.db')) };
    },
  },
  {
    name: 'postgres',
    skip: postgres.skip,
    async open() {
      const schema = postgres.newSchema();
      const store = PostgresStore.fromUrl(postgres.url, { schema });
      await store.migrate();
      return { store, peer: async () => PostgresStore.fromUrl(postgres.url, { schema }) };
    },
  },
];

const policy = (cap: SessionCap): IngestPolicy => ({ ...DEFAULT_INGEST_POLICY, sessionCap: cap });
const pageView = (url = 'https://offer.example/checkout'): FunnelEvent => ({ id: randomUUID(), type: 'page', page: 'checkout', url });
const request = (events: FunnelEvent[], overrides: Partial<IngestRequest> = {}): IngestRequest => ({
  mode: 'new',
  sessionId: newSessionId(T0),
  campaignId: '12',
  ip: '203.0.113.7',
  userAgent: 'Mozilla/5.0',
  isBot: false,
  receivedAt: T0,
  events,
  ...overrides,
});
const more = (sessionId: string, events: FunnelEvent[]) => request(events, { mode: 'existing', sessionId });

function ingest(store: Store, cap: SessionCap, req: IngestRequest): Promise<IngestOutcome> {
  return store.transaction((tx) => applyBatch(tx, req, policy(cap)));
}

/** What the store holds for a session: its events, and the counts on its row beside the real ones. */
async function stored(store: Store, sessionId: string) {
  const [real] = await store
    .sql()
    .all<{ n: number | string; bytes: number | string | null }>(
      `SELECT COUNT(*) AS n, SUM(${store.kind === 'sqlite' ? 'length(CAST(payload AS BLOB))' : 'octet_length(payload)'}) AS bytes FROM events WHERE session_id = ?`,
      [sessionId],
    );
  const session = await store.getSession(sessionId);
  return { events: Number(real!.n), bytes: Number(real!.bytes ?? 0), eventCount: session?.eventCount, eventBytes: session?.eventBytes };
}

const sessionOf = (outcome: IngestOutcome): string => {
  if (!outcome.ok) throw new Error(`refused: ${outcome.code}`);
  return outcome.session.id;
};

for (const backend of backends) {
  describe.skipIf(backend.skip !== undefined)(`the per-session cap (${backend.name})`, () => {
    it('refuses a batch that would pass the event cap, whole, and stores nothing of it', async () => {
      const { store } = await backend.open();
      try {
        const cap = { maxEvents: 5, maxBytes: 1_000_000 };
        const id = sessionOf(await ingest(store, cap, request([pageView(), pageView(), pageView()])));
        expect(await ingest(store, cap, more(id, [pageView(), pageView(), pageView()]))).toEqual({ ok: false, code: 'session_full' });
        expect(await stored(store, id)).toMatchObject({ events: 3, eventCount: 3 });
        // Up to the cap exactly, then nothing more.
        expect((await ingest(store, cap, more(id, [pageView(), pageView()]))).ok).toBe(true);
        expect(await ingest(store, cap, more(id, [pageView()]))).toEqual({ ok: false, code: 'session_full' });
        const after = await stored(store, id);
        expect(after).toMatchObject({ events: 5, eventCount: 5 });
        expect(after.eventBytes).toBe(after.bytes);
      } finally {
        await store.close();
      }
    });

    it('refuses a batch that would pass the byte cap, and counts the bytes of the stored payloads (UTF-8), resends left out', async () => {
      const { store } = await backend.open();
      try {
        const first = [pageView('https://offer.example/checkout?name=Zoë&city=Zürich')];
        const one = Buffer.byteLength(JSON.stringify(first[0]));
        const cap = { maxEvents: 1_000, maxBytes: one * 3 + 10 };
        const id = sessionOf(await ingest(store, cap, request(first)));
        // A resend of the first batch with one new event: only the new one is counted.
        const second = [first[0]!, pageView()];
        expect((await ingest(store, cap, more(id, second))).ok).toBe(true);
        const counted = await stored(store, id);
        expect(counted).toEqual({ events: 2, bytes: counted.bytes, eventCount: 2, eventBytes: counted.bytes });
        expect(counted.bytes).toBe(one + Buffer.byteLength(JSON.stringify(second[1])));
        const big = pageView(`https://offer.example/checkout?x=${'y'.repeat(2 * one)}`);
        expect(await ingest(store, cap, more(id, [big]))).toEqual({ ok: false, code: 'session_full' });
        expect(await stored(store, id)).toEqual(counted);
      } finally {
        await store.close();
      }
    });

    it('refuses a first batch past the cap without opening a session', async () => {
      const { store } = await backend.open();
      try {
        const outcome = await ingest(store, { maxEvents: 2, maxBytes: 1_000_000 }, request([pageView(), pageView(), pageView()]));
        expect(outcome).toEqual({ ok: false, code: 'session_full' });
        expect(await store.countSessions()).toBe(0);
        expect(await store.sql().all('SELECT id FROM events')).toEqual([]);
      } finally {
        await store.close();
      }
    });

    it('keeps a full session from failing the other requests of its group commit', async () => {
      const { store } = await backend.open();
      try {
        const cap = { maxEvents: 3, maxBytes: 1_000_000 };
        const committer = new GroupCommitter(store, { policy: policy(cap) });
        const full = sessionOf(await committer.submit(request([pageView(), pageView(), pageView()])));
        let transactions = 0;
        const transaction = store.transaction.bind(store);
        store.transaction = (fn) => {
          transactions++;
          return transaction(fn);
        };
        // PostgreSQL writes a group set-based (store/group-writer.ts): that is its one transaction.
        if (isGroupWriter(store)) {
          const groupTransaction = store.groupTransaction.bind(store);
          store.groupTransaction = (reads, fn) => {
            transactions++;
            return groupTransaction(reads, fn);
          };
        }
        const outcomes = await Promise.all([
          committer.submit(request([pageView()])),
          committer.submit(more(full, [pageView()])),
          committer.submit(request([pageView()])),
        ]);
        expect(outcomes.map((outcome) => (outcome.ok ? 'ok' : outcome.code))).toEqual(['ok', 'session_full', 'ok']);
        // Refused before anything was written: the group's one transaction stands.
        expect(transactions).toBe(1);
        expect(await store.countSessions()).toBe(3);
        expect(await stored(store, full)).toMatchObject({ events: 3, eventCount: 3 });
      } finally {
        await store.close();
      }
    });

    it('never lets concurrent requests, from one collector or two sharing the store, take a session past the cap', async () => {
      const { store, peer } = await backend.open();
      const other = await peer();
      try {
        const cap = { maxEvents: 40, maxBytes: 1_000_000 };
        const id = sessionOf(await ingest(store, cap, request([pageView()])));
        // Small groups, so several transactions of both collectors race for the session.
        const committers = [store, other].map((s) => new GroupCommitter(s, { policy: policy(cap), maxBatch: 4 }));
        const outcomes = await Promise.all(
          Array.from({ length: 60 }, (_, i) => committers[i % 2]!.submit(more(id, [pageView(), pageView()]))),
        );
        const accepted = outcomes.filter((outcome) => outcome.ok).length;
        const refused = outcomes.filter((outcome) => !outcome.ok && outcome.code === 'session_full').length;
        expect(accepted + refused).toBe(60);
        // 1 + 2 per accepted request: the cap of 40 admits 19 of them, and refuses the rest.
        expect(accepted).toBe(19);
        const after = await stored(store, id);
        expect(after).toMatchObject({ events: 39, eventCount: 39 });
        expect(after.eventBytes).toBe(after.bytes);
      } finally {
        await other.close();
        await store.close();
      }
    });
  });
}
