/**
 * A recovery link never answers 500 whatever the store holds, and no token reaches the log: a
 * checkout page view whose URL holds CR/LF or a character beyond Latin-1 (written through the real
 * store, as nothing a browser sends carries them) still gets a 302 with a valid Location, and the
 * collector's log, read whole at debug level, holds neither the recovery token nor a link token.
 * An unhandled error whose path and message quote tokens is logged with both redacted.
 */
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../logger.js';
import { signRecovery } from '../tokens.js';
import type { IngestResponse } from '../wire-schema.js';
import { redactTokens } from '../http/token-redaction.js';
import { ev, LANDER_ORIGIN, startTestCollector, TEST_SECRET, testEnv, type TestCollector } from '../../test/support/test-collector.js';

const DAY = 86_400_000;
let collector: TestCollector | undefined;
afterEach(async () => {
  await collector?.close();
  collector = undefined;
});

/** The collector's log, every line of it. */
function capturedLog() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  return { logger: createLogger('debug', stream), lines };
}

/** Anything token-shaped: a kind letter, a dot, a 22-character session id, a dot, more. */
const TOKEN_SHAPED = /\b[slrp]\.[A-Za-z0-9_-]{22}\./;

describe('GET /r/<token> with a stored URL a header cannot carry', () => {
  for (const [name, url] of [
    ['CR/LF', `${LANDER_ORIGIN}/checkout\r\nX-Injected: yes`],
    ['a character beyond Latin-1', `${LANDER_ORIGIN}/checkout/中?q=中`],
  ] as const) {
    it(`${name}: a 302 with a valid Location, never a 500, and no token in the log`, async () => {
      const { logger, lines } = capturedLog();
      collector = await startTestCollector(testEnv({ SECRET: TEST_SECRET, ALLOWED_ORIGINS: LANDER_ORIGIN }), { logger, runWorker: false, runSweeper: false });
      const res = await collector.post({ events: [ev.page('checkout', `${LANDER_ORIGIN}/checkout`), ev.lead({ firstName: 'Ann', lastName: 'Lee', emailAddress: 'ann@example.com' })] });
      expect(res.status).toBe(200);
      const { ids } = (await res.json()) as IngestResponse;
      // The latest checkout page view, written through the store as ingest writes one.
      const id = randomUUID();
      await collector.store.transaction((tx) =>
        tx.insertEvent({ id, sessionId: ids.session, type: 'page', receivedAt: Date.now() + 1_000, payload: { id, type: 'page', page: 'checkout', url } }),
      );

      const token = signRecovery(TEST_SECRET, ids.session, Date.now() + DAY);
      for (const method of ['GET', 'HEAD']) {
        const link = await fetch(`${collector.url}/r/${token}`, { method, redirect: 'manual' });
        expect(link.status, method).toBe(302);
        const location = link.headers.get('location')!;
        expect(location).toMatch(/^[\x21-\x7e]+$/);
        expect(location === '/recovery/expired' || location.startsWith(`${LANDER_ORIGIN}/checkout`), location).toBe(true);
        expect(link.headers.get('x-injected')).toBeNull();
      }

      const log = lines.join('\n');
      expect(lines.length).toBeGreaterThan(0);
      expect(log).not.toContain(token);
      expect(log).not.toContain(ids.session);
      expect(log).not.toMatch(TOKEN_SHAPED);
      expect(log).not.toMatch(/_fb=(?!\[token\])/);
      expect(log).not.toMatch(/"level":50/);
    });
  }
});

describe('the top-level error handler', () => {
  it('logs an unhandled error with the tokens in its path and message redacted, and answers a plain 500', async () => {
    const { logger, lines } = capturedLog();
    collector = await startTestCollector(testEnv({ SECRET: TEST_SECRET }), { logger, runWorker: false, runSweeper: false });
    const token = signRecovery(TEST_SECRET, 'P8EGQtYNdsQNisjw-gSTwN', Date.now() + DAY);
    const link = `p.P8EGQtYNdsQNisjw-gSTwN.mxcx9ooc.xRcjoYJNNZiosfdo.xRcjoYJNNZiosfdorV16ZA`;
    // A route that fails as the recovery route once did: its message quotes the URL it could not
    // send. Added before the collector's first request, behind the real error handler.
    collector.app.get('/boom/*', () => {
      throw new TypeError(`Headers.set: "https://offer.example/?_fb=${link} mail ann@example.com" is an invalid header value.`);
    });
    const boom = await fetch(`${collector.url}/boom/r/${token}`);
    expect(boom.status).toBe(500);
    expect(await boom.json()).toEqual({ error: { code: 'internal', message: 'Something went wrong on our side.' } });
    const logged = lines.map((line) => JSON.parse(line) as { level: number; err?: string; path?: string; msg: string }).find((line) => line.msg === 'unhandled error');
    expect(logged).toMatchObject({ level: 50, path: '/boom/r/[token]' });
    expect(logged!.err).toBe('Headers.set: "https://offer.example/?_fb=[token] mail [email]" is an invalid header value.');
    expect(lines.join('\n')).not.toMatch(/P8EGQtYNdsQNisjw|ann@example\.com/);
  });

  it('redacts every kind of token, and leaves the rest of a message as it was', () => {
    for (const kind of ['s', 'l', 'r', 'p']) {
      expect(redactTokens(`token ${kind}.P8EGQtYNdsQNisjw-gSTwN.mxcz1zhn.5oSMX-0_bRKSwWkKNaAlSg here`)).toBe('token [token] here');
    }
    expect(redactTokens('/r/anything at all')).toBe('/r/[token] at all');
    expect(redactTokens('https://lander.example/checkout#_fb=whatever&x=1')).toBe('https://lander.example/checkout#_fb=[token]&x=1');
    expect(redactTokens('no token in /v1/events or p.js')).toBe('no token in /v1/events or p.js');
  });
});
