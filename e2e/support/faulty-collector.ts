/**
 * A collector that misbehaves on purpose, for the tests that check the host page keeps working:
 * `slow` answers after a long pause, `error` answers 500. For a collector that is down, use
 * {@link closedOrigin}. It records every request it receives.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FaultyCollector {
  origin: string;
  mode: 'slow' | 'error';
  /** Bodies received on /v1/events. */
  bodies: string[];
  close(): Promise<void>;
}

export async function startFaultyCollector(mode: FaultyCollector['mode'], slowMs = 5_000): Promise<FaultyCollector> {
  const bodies: string[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const faulty: FaultyCollector = { origin: '', mode, bodies, close: async () => {} };
  const server = http.createServer((request, response) => {
    const origin = request.headers.origin ?? '*';
    const cors = { 'Access-Control-Allow-Origin': origin, Vary: 'Origin' };
    let body = '';
    request.setEncoding('utf8');
    request.on('data', (chunk: string) => (body += chunk));
    request.on('end', () => {
      if (request.method === 'POST') bodies.push(body);
      if (faulty.mode === 'error') {
        response.writeHead(500, { ...cors, 'Content-Type': 'text/html' }).end('<h1>Internal Server Error</h1>');
        return;
      }
      const timer = setTimeout(() => {
        timers.delete(timer);
        response
          .writeHead(503, { ...cors, 'Content-Type': 'application/json' })
          .end(JSON.stringify({ error: { code: 'unavailable', message: 'Try again later.' } }));
      }, slowMs);
      timers.add(timer);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  faulty.origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  faulty.close = () =>
    new Promise<void>((resolve) => {
      for (const timer of timers) clearTimeout(timer);
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return faulty;
}

/** An origin nothing listens on: a port that was free a moment ago. */
export async function closedOrigin(): Promise<string> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}
