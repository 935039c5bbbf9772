/**
 * The HTTP shell both upstream doubles run in: a real server on 127.0.0.1 and a free port that
 * reads each body (refusing absurd ones), hands it to the double, answers 500 if the double
 * itself throws, and on close also drops connections a `hang` failure keeps open.
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

const MAX_BODY_BYTES = 1_000_000;

export type DoubleHandler = (req: http.IncomingMessage, res: http.ServerResponse, body: string) => void | Promise<void>;

export interface HttpDouble {
  /** Origin, e.g. `http://127.0.0.1:40123`. */
  url: string;
  close(): Promise<void>;
}

export async function startHttpDouble(handle: DoubleHandler): Promise<HttpDouble> {
  const sockets = new Set<Socket>();
  const crashed = (res: http.ServerResponse, error: unknown) => {
    if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
    res.end(`double crashed: ${String(error)}`);
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        res.writeHead(413).end();
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (size > MAX_BODY_BYTES) return;
      try {
        void Promise.resolve(handle(req, res, Buffer.concat(chunks).toString('utf8'))).catch((error: unknown) => crashed(res, error));
      } catch (error) {
        crashed(res, error);
      }
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${port}`,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Hung requests keep their sockets open; without this close() would wait for the client.
        for (const socket of sockets) socket.destroy();
      });
      return closing;
    },
  };
}
