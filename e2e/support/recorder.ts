/**
 * A recording proxy in front of the collector: the fixture pages send their events here, it
 * keeps a copy of every request and passes it on unchanged. Requests a page makes while it
 * unloads (exit beacons) never reach Playwright's request events, so the one complete record of
 * what left the browser is kept on this side of the wire.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  path: string;
  body: string;
  /** `beacon` (sendBeacon: `Sec-Fetch-Mode: no-cors`) or `fetch` (`cors`); other for preflights and the like. */
  transport: 'beacon' | 'fetch' | 'other';
  at: number;
}

export interface Recorder {
  origin: string;
  requests: RecordedRequest[];
  /** Bodies of the POSTs to /v1/events, parsed. */
  batches(): { transport: RecordedRequest['transport']; batch: { session?: string; link?: string; events: { type: string; [key: string]: unknown }[] } }[];
  close(): Promise<void>;
}

export async function startRecorder(target: string): Promise<Recorder> {
  const requests: RecordedRequest[] = [];
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks);
      const mode = request.headers['sec-fetch-mode'];
      requests.push({
        method: request.method ?? 'GET',
        path: request.url ?? '/',
        body: body.toString('utf8'),
        transport: mode === 'no-cors' ? 'beacon' : mode === 'cors' ? 'fetch' : 'other',
        at: Date.now(),
      });
      const upstream = http.request(
        new URL(request.url ?? '/', target),
        { method: request.method, headers: { ...request.headers, host: new URL(target).host } },
        (answer) => {
          response.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(response);
        },
      );
      upstream.on('error', () => response.writeHead(502).end());
      upstream.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    batches: () =>
      requests
        .filter((request) => request.method === 'POST' && request.path === '/v1/events')
        .map((request) => ({ transport: request.transport, batch: JSON.parse(request.body) })),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
