import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteStore } from '../store/sqlite-store.js';
import type { StoreTx } from '../store/store.js';
import { newSessionId } from '../tokens.js';
import type { IngestRequest } from './apply-batch.js';
import { GroupCommitter } from './group-commit.js';

let store: SqliteStore;
let transactions: number;

beforeEach(async () => {
  store = SqliteStore.fromUrl('file::memory:');
  await store.migrate();
  transactions = 0;
  const transaction = store.transaction.bind(store);
  store.transaction = <T>(fn: (tx: StoreTx) => Promise<T>) => {
    transactions++;
    return transaction(fn);
  };
});
afterEach(async () => {
  await store.close();
});

const request = (overrides: Partial<IngestRequest> = {}): IngestRequest => ({
  mode: 'new',
  sessionId: newSessionId(Date.now()),
  campaignId: '12',
  ip: '203.0.113.7',
  userAgent: 'Mozilla/5.0',
  isBot: false,
  receivedAt: 1_700_000_000_000,
  events: [{ id: randomUUID(), type: 'page', page: 'presell', url: 'https://offer.example/' }],
  ...overrides,
});

describe('GroupCommitter', () => {
  it('writes requests that arrive together in one transaction, and answers each after it', async () => {
    const committer = new GroupCommitter(store);
    const outcomes = await Promise.all(Array.from({ length: 40 }, () => committer.submit(request())));
    expect(outcomes.every((outcome) => outcome.ok && outcome.accepted === 1)).toBe(true);
    expect(transactions).toBe(1);
    expect(await store.countSessions()).toBe(40);
  });

  it('keeps one failing request from undoing the others of its group', async () => {
    const committer = new GroupCommitter(store);
    const failing = request();
    // A second new session under an id the group already used fails its insert.
    const twice = request({ sessionId: failing.sessionId });
    const results = await Promise.allSettled([committer.submit(request()), committer.submit(failing), committer.submit(twice), committer.submit(request())]);
    expect(results.map((result) => result.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    // Written without savepoints first; the failure voids that transaction, and the group is
    // written again without the request that broke it.
    expect(transactions).toBe(2);
    expect(await store.countSessions()).toBe(3);
  });

  it('refuses only the failing requests when several in one group fail, in at most two transactions', async () => {
    const committer = new GroupCommitter(store);
    const a = request();
    const b = request();
    const results = await Promise.allSettled([
      committer.submit(a),
      committer.submit(request({ sessionId: a.sessionId })),
      committer.submit(request()),
      committer.submit(b),
      committer.submit(request({ sessionId: b.sessionId })),
    ]);
    expect(results.map((result) => result.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled', 'rejected']);
    expect(transactions).toBe(2);
    expect(await store.countSessions()).toBe(3);
  });

  it('answers an unknown session without writing anything for it', async () => {
    const committer = new GroupCommitter(store);
    expect(await committer.submit(request({ mode: 'existing', sessionId: newSessionId(Date.now()) }))).toEqual({ ok: false, code: 'unknown_session' });
    expect(await store.countSessions()).toBe(0);
  });
});
