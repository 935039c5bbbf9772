/**
 * Stopping while a client keeps one keep-alive connection busy: the collector answers what is
 * inside, tells the client to close, and stops, instead of serving that connection for as long as
 * the client keeps sending on it.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { describe, expect, it } from 'vitest';
import { BROWSER_UA, LANDER_ORIGIN, startTestCollector } from '../../test/support/test-collector.js';

interface Answer {
  status: number;
  connection: string | undefined;
}

function get(agent: http.Agent, url: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const request = http.get(url, { agent }, (response) => {
      response.resume();
      response.on('end', () => resolve({ status: response.statusCode ?? 0, connection: response.headers.connection }));
    });
    request.on('error', reject);
  });
}

/** A page view posted in two halves, so that the request is inside the collector until `finish` is called. */
function postInTwoHalves(agent: http.Agent, url: string): { finish(): void; answer: Promise<Answer> } {
  const body = Buffer.from(JSON.stringify({ events: [{ id: randomUUID(), type: 'page', page: 'presell', url: 'https://offer.example/' }] }));
  let request!: http.ClientRequest;
  const answer = new Promise<Answer>((resolve, reject) => {
    request = http.request(
      `${url}/v1/events`,
      { method: 'POST', agent, headers: { 'content-type': 'text/plain', 'content-length': body.length, origin: LANDER_ORIGIN, 'user-agent': BROWSER_UA } },
      (response) => {
        response.resume();
        response.on('end', () => resolve({ status: response.statusCode ?? 0, connection: response.headers.connection }));
      },
    );
    request.on('error', reject);
  });
  request.write(body.subarray(0, 10));
  return { finish: () => request.end(body.subarray(10)), answer };
}

describe('stopping the collector', () => {
  it('answers the request inside, then closes its keep-alive connection although the client keeps sending on it', async () => {
    const collector = await startTestCollector();
    // One socket, reused for every request, as a browser or nginx's upstream keep-alive does.
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const MAX_REQUESTS = 400;
    let closed = false;
    let answeredWhileStopping = 0;
    let lastAnswer: Answer | undefined;
    let refusal: NodeJS.ErrnoException | undefined;
    try {
      const inside = postInTwoHalves(agent, collector.url);
      // The collector starts stopping while that request is half sent.
      await new Promise((resolve) => setTimeout(resolve, 50));
      const stopping = collector.close().then(() => {
        closed = true;
      });
      inside.finish();
      expect((await inside.answer).status).toBe(200);
      // A client that would reuse the connection keeps sending until the collector is gone, to a
      // path the app answers within its own request listener (a 404): the closing header must
      // still reach that answer.
      for (let sent = 0; sent < MAX_REQUESTS && !closed; sent++) {
        try {
          lastAnswer = await get(agent, `${collector.url}/no-such-route`);
          answeredWhileStopping++;
        } catch (error) {
          refusal = error as NodeJS.ErrnoException;
          break;
        }
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      await stopping;
      // It stopped while the client was still sending, not after the client gave up: a request
      // that arrived on the connection before it was found idle is answered with
      // `Connection: close`, and that is the last.
      expect(answeredWhileStopping).toBeLessThanOrEqual(1);
      expect(lastAnswer === undefined || lastAnswer.connection === 'close').toBe(true);
      // After that, nobody listens (ECONNREFUSED), or the idle connection was closed as the client
      // reused it (ECONNRESET, before the collector read anything: the client sends it again).
      expect(refusal === undefined || ['ECONNREFUSED', 'ECONNRESET'].includes(refusal.code ?? '')).toBe(true);
    } finally {
      agent.destroy();
      await collector.close();
    }
  });
});
