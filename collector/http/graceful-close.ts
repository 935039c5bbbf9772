/**
 * @module graceful-close
 * Stops the HTTP server the way a deploy or a restart wants it stopped: no new connections, every
 * request already inside answered, and then nothing left open.
 *
 * Why not `server.close()` alone: Node closes the keep-alive connections that are idle at that
 * moment, but a connection busy then stays open after its answer until its keep-alive timeout,
 * and a client, or nginx with upstream keep-alive, may send it another request meanwhile, and
 * another: `close()` can wait as long as a visitor's page keeps sending (a test teardown waited
 * more than 30 s). Here every answer given while stopping says `Connection: close`, connections
 * that fall idle are closed at once, and after `graceMs` whatever is still open is cut (its
 * request gets no answer, so the browser sends its events again: nothing acknowledged is lost).
 *
 * The timers measure real time, not funnel time: they are not the collector's Clock.
 */
import type { Server } from 'node:http';
import type { ServerType } from '@hono/node-server';

/** How often connections that have fallen idle are looked for while stopping. */
const IDLE_SWEEP_MS = 25;

export function closeGracefully(server: ServerType, graceMs: number): Promise<void> {
  return new Promise((resolve) => {
    if (!('closeIdleConnections' in server)) {
      server.close(() => resolve());
      return;
    }
    const http = server as Server;
    // First among the request listeners: the app may answer within its own listener call, and a
    // header cannot be set once the answer is on its way.
    http.prependListener('request', (_request, response) => {
      if (!response.headersSent) response.setHeader('connection', 'close');
    });
    const sweep = setInterval(() => http.closeIdleConnections(), IDLE_SWEEP_MS);
    const cut = setTimeout(() => http.closeAllConnections(), graceMs);
    http.close(() => {
      clearInterval(sweep);
      clearTimeout(cut);
      resolve();
    });
    http.closeIdleConnections();
  });
}
