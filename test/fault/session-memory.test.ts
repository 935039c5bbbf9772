/**
 * One request never takes the collector down, under the heap it ships with: `node dist/cli.js
 * serve` with the flags of its shebang (`--max-old-space-size=128`, test/fault/support.ts).
 *
 * A session of 36,000 page views of about 4 KB (150 MB of events, more than the whole heap) is
 * written straight into the store file: sending it over HTTP would take minutes at the per-address
 * limits, and the per-session cap now refuses it past 2,000 events, but a store filled before the
 * cap existed holds such sessions. Its recovery link and its dashboard page are then asked for,
 * several at once: once, each of them loaded every event of the session into memory and the
 * process died of it. Now the collector answers each (the link leads to the last checkout page,
 * the dashboard shows a page of the timeline with the totals) and stays up.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { newSessionId, signRecovery } from '../../collector/tokens.js';
import { rssMb, spawnCollector, withStore } from './support.js';

const VIEWS = 36_000;
const SECRET = 'session-memory-secret-0123456789abcdef';
const TOKEN = 'session-memory-dashboard-token-01';
const LAST_CHECKOUT = 'https://offer.example/checkout?affId=A1&the=last';
const dir = mkdtempSync(join(tmpdir(), 'funnelbeacon-session-memory-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** An abandoned cart whose session holds `VIEWS` page views of about 4 KB each, the last one a checkout. */
async function writeHugeSession(file: string): Promise<{ sessionId: string; at: number; bytes: number }> {
  const at = Date.now() - 3_600_000;
  const sessionId = newSessionId(at);
  await withStore(`file:${file}`, async (store) => {
    await store.migrate();
    await store.transaction(async (tx) => {
      await tx.insertSession({ id: sessionId, campaignId: '12', createdAt: at, lastSeenAt: at, landingUrl: 'https://offer.example/?affId=A1', referrer: undefined, userAgent: 'Mozilla/5.0', ip: '203.0.113.9', isBot: false });
      await tx.updateSession(sessionId, {
        lead: { firstName: 'Ann', emailAddress: 'ann@example.com' },
        cart: { items: [{ id: '41', name: 'Bottle', price: 39.95, qty: 1 }], currency: 'USD' },
        state: 'abandoned',
        stateChangedAt: at,
      });
    });
  });
  const db = new Database(file);
  let bytes = 0;
  try {
    const insert = db.prepare('INSERT INTO events (id, session_id, type, received_at, payload) VALUES (?, ?, ?, ?, ?)');
    const padding = 'x'.repeat(1_950);
    db.transaction(() => {
      for (let i = 0; i < VIEWS; i++) {
        const last = i === VIEWS - 1;
        const page = last || i % 2 === 0 ? 'checkout' : 'upsell1';
        const url = last ? LAST_CHECKOUT : `https://offer.example/${page}?view=${i}&pad=${padding}`;
        const payload = JSON.stringify({ id: randomUUID(), type: 'page', page, url, referrer: `https://offer.example/?pad=${padding}` });
        bytes += Buffer.byteLength(payload);
        insert.run(randomUUID(), sessionId, 'page', at + i, payload);
      }
    })();
    db.prepare('UPDATE sessions SET event_count = ?, event_bytes = ? WHERE id = ?').run(VIEWS, bytes, sessionId);
  } finally {
    db.close();
  }
  return { sessionId, at, bytes };
}

describe('a session far larger than the heap', () => {
  it('its recovery link and its dashboard page answer, several at once, and the collector stays up', async () => {
    const file = join(dir, 'collector.db');
    const { sessionId, at, bytes } = await writeHugeSession(file);
    expect(bytes).toBeGreaterThan(140_000_000);
    const collector = await spawnCollector(`file:${file}`, {
      SECRET,
      ALLOWED_ORIGINS: 'https://offer.example',
      KONNEKTIVE_LOGIN_ID: 'fb-login',
      KONNEKTIVE_PASSWORD: 'fb-password',
      KONNEKTIVE_API_URL: 'http://127.0.0.1:9',
      KONNEKTIVE_CAMPAIGNS: '12',
      DASHBOARD_TOKEN: TOKEN,
      RETENTION_EVERY: '1d',
    });
    const base = `http://127.0.0.1:${collector.port}`;
    let died: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    void collector.exited.then((exit) => (died = exit));
    const link = `${base}/r/${signRecovery(SECRET, sessionId, Date.now() + 86_400_000)}`;
    const dashboard = (path: string) => fetch(`${base}/dashboard/api${path}`, { headers: { authorization: `Bearer ${TOKEN}` } });
    let peakRss = 0;
    try {
      for (let round = 0; round < 3; round++) {
        const answers = await Promise.all([
          ...Array.from({ length: 4 }, () => fetch(link, { redirect: 'manual' })),
          ...Array.from({ length: 4 }, () => dashboard(`/sessions/${sessionId}`)),
        ]);
        for (const recovery of answers.slice(0, 4)) {
          expect(recovery.status).toBe(302);
          expect(recovery.headers.get('location')).toMatch(/^https:/);
          const location = new URL(recovery.headers.get('location')!);
          expect(`${location.origin}${location.pathname}`).toBe('https://offer.example/checkout');
          expect(location.searchParams.get('the')).toBe('last');
        }
        for (const page of answers.slice(4)) {
          expect(page.status).toBe(200);
          const detail = (await page.json()) as { timeline: unknown[]; timelineNext: string | null; totals: { events: number } };
          expect(detail.timeline).toHaveLength(200);
          expect(detail.totals.events).toBe(VIEWS);
          expect(detail.timelineNext).not.toBeNull();
        }
        peakRss = Math.max(peakRss, rssMb(collector.pid) ?? 0);
      }
      // Deep into the timeline, a page at a time.
      const later = await dashboard(`/sessions/${sessionId}/timeline?after=${encodeURIComponent(`${at + 30_000}.0.0`)}&limit=300`);
      expect(later.status).toBe(200);
      expect(((await later.json()) as { timeline: unknown[] }).timeline).toHaveLength(300);
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      expect(died).toBeUndefined();
      // Far below what one unbounded read of the session would need (the events alone are 150 MB).
      expect(peakRss).toBeLessThan(150);
    } finally {
      collector.child.kill('SIGTERM');
    }
    expect(await collector.exited).toEqual({ code: 0, signal: null });
    expect(collector.output()).not.toContain('heap out of memory');
  }, 120_000);
});
