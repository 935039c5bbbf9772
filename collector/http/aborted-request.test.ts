import { connect } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../logger.js';
import { ev, LANDER_ORIGIN, startTestCollector, testEnv, TEST_SECRET, type TestCollector } from '../../test/support/test-collector.js';

let collector: TestCollector;
let lines: string[];

beforeEach(async () => {
  lines = [];
  const logger = createLogger('debug', { write: (line: string) => void lines.push(line) });
  collector = await startTestCollector(testEnv({ SECRET: TEST_SECRET, RATE_LIMIT_PER_MINUTE: '1000' }), { logger });
});
afterEach(async () => {
  await collector.close();
});

/**
 * Starts a POST and hangs up in the middle of its body: with `Content-Length: 100` and 11 bytes
 * sent, or with a chunked body whose last chunk never comes. Resolves once the socket closed.
 */
function hangUpMidBody(framing: 'length' | 'chunked', how: 'end' | 'destroy'): Promise<string> {
  const { hostname, port } = new URL(collector.url);
  const sent = '{"events":[';
  const head = ['POST /v1/events HTTP/1.1', `Host: ${hostname}:${port}`, `Origin: ${LANDER_ORIGIN}`, 'Content-Type: text/plain;charset=UTF-8'];
  const request =
    framing === 'length'
      ? [...head, 'Content-Length: 100', '', sent].join('\r\n')
      : [...head, 'Transfer-Encoding: chunked', '', `${sent.length.toString(16)}\r\n${sent}\r\n`].join('\r\n');
  return new Promise((resolve, reject) => {
    let answer = '';
    const socket = connect({ host: hostname, port: Number(port) }, () => {
      // Give the server a moment to start reading the body, then leave.
      socket.write(request, () => setTimeout(() => (how === 'end' ? socket.end() : socket.destroy()), 50));
    });
    socket.on('data', (chunk) => (answer += chunk.toString()));
    socket.on('error', reject);
    socket.on('close', () => resolve(answer));
  });
}

const levels = () => lines.map((line) => JSON.parse(line) as { level: number; msg: string; [key: string]: unknown });
const metric = async () => {
  const text = await (await fetch(`${collector.url}/metrics`)).text();
  const match = /^funnelbeacon_requests_aborted_total (\d+)/m.exec(text);
  return match ? Number(match[1]) : undefined;
};

describe('a client that hangs up in the middle of its body', () => {
  for (const [framing, how] of [['length', 'end'], ['length', 'destroy'], ['chunked', 'end']] as const) {
    it(`(${framing}, ${how}) is counted and logged at debug level, with no error line, and the server answers the next request`, async () => {
      expect(await metric()).toBe(0);
      await hangUpMidBody(framing, how);
      // The server notices the hang-up asynchronously.
      for (let i = 0; i < 100 && (await metric()) !== 1; i += 1) await new Promise((resolve) => setTimeout(resolve, 10));
      expect(await metric()).toBe(1);
      expect(levels().filter((line) => line.level >= 40)).toEqual([]);
      expect(levels().filter((line) => line.level === 20 && line.msg === 'request aborted by the client')).toHaveLength(1);
      expect(await collector.store.countSessions()).toBe(0);

      const res = await collector.post({ events: [ev.page('presell', 'https://offer.example/')] });
      expect(res.status).toBe(200);
      expect(await metric()).toBe(1);
    });
  }
});
