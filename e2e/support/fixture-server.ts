/**
 * Serves the fixture funnel pages of `e2e/fixtures` from one origin, as a lander's web server
 * would. `{{NAME}}` placeholders are filled from `vars` on every request, so a test can point
 * the next page at another collector or require consent before navigating. Every page is
 * served under a strict Content-Security-Policy (no inline script without the nonce, no inline
 * style, no eval, Trusted Types enforced): the snippet must work there.
 */
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';

export const NONCE = 'e2e-nonce';
const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));

export interface FixtureVars {
  /** Origin the snippet is loaded from (`<script src="{{COLLECTOR}}/f.js">`). */
  COLLECTOR: string;
  /** Origin events are sent to (`data-collector`). */
  EVENTS: string;
  /** The two lander origins. */
  A: string;
  B: string;
  /** `data-consent`. */
  CONSENT: 'auto' | 'required';
}

export interface FixtureServer {
  origin: string;
  close(): Promise<void>;
}

function csp(vars: FixtureVars): string {
  return [
    "default-src 'none'",
    `script-src 'nonce-${NONCE}' ${vars.COLLECTOR}`,
    `connect-src ${vars.EVENTS}`,
    "style-src 'none'",
    "img-src 'none'",
    `form-action ${vars.A} ${vars.B}`,
    "require-trusted-types-for 'script'",
  ].join('; ');
}

export async function startFixtureServer(hostname: 'localhost' | '127.0.0.1', vars: FixtureVars): Promise<FixtureServer> {
  const server = http.createServer((request, response) => {
    // A form may POST here; the page is the same either way.
    request.resume();
    request.on('end', async () => {
      const { pathname } = new URL(request.url ?? '/', 'http://fixture');
      const name = pathname.replace(/^\/+/, '') || 'index.html';
      if (!/^[a-z0-9-]+\.html$/.test(name)) {
        response.writeHead(404).end();
        return;
      }
      try {
        const template = await readFile(FIXTURES + name, 'utf8');
        const html = template.replace(/\{\{([A-Z]+)\}\}/g, (_, key: string) =>
          key === 'NONCE' ? NONCE : String(vars[key as keyof FixtureVars] ?? ''),
        );
        response.writeHead(200, {
          'Content-Type': 'text/html; charset=utf-8',
          'Content-Security-Policy': csp(vars),
          // Not no-store: Chrome keeps such pages out of the back/forward cache.
          'Cache-Control': 'no-cache',
        });
        response.end(html);
      } catch {
        response.writeHead(404).end();
      }
    });
  });
  // 'localhost' may resolve to ::1 first; listen where the browser will connect.
  await new Promise<void>((resolve) => server.listen(0, hostname === 'localhost' ? '127.0.0.1' : hostname, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://${hostname}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
