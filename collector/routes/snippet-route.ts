/**
 * @module snippet-route
 * `GET /f.js`: the browser snippet built by `node build.mjs` into `dist/f.js`; and `GET /p.js`,
 * the recovery prefill (`dist/p.js`), an ES module the snippet imports only on a recovery landing;
 * `GET /c.js`, the lead capture (`dist/c.js`), an ES module it imports only on a page with form
 * fields; `GET /d.js`, the cross-domain link decoration (`dist/d.js`), imported only on a page
 * that names other funnel domains; and `GET /a.js`, the attribution capture (`dist/a.js`),
 * imported only when a page may have something new for the ad platforms.
 * Each file is read and compressed once at start-up (gzip and brotli at their highest levels: the work is done
 * once, every visitor benefits), then served from memory with a strong ETag so that a revisit
 * costs a 304.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { brotliCompressSync, constants as zlib, gzipSync } from 'node:zlib';
import { Hono } from 'hono';
import { errorBody } from '../http/errors.js';

export interface SnippetRouteOptions {
  /** Path of the built snippet; default `dist/f.js` under the working directory. */
  file?: string;
  /** Path of the built recovery prefill; default `dist/p.js`. */
  prefillFile?: string;
  /** Path of the built lead capture; default `dist/c.js`. */
  captureFile?: string;
  /** Path of the built cross-domain link decoration; default `dist/d.js`. */
  crossDomainFile?: string;
  /** Path of the built attribution capture; default `dist/a.js`. */
  attributionFile?: string;
}

interface Prepared {
  etag: string;
  raw: Uint8Array;
  gzip: Uint8Array;
  brotli: Uint8Array;
}

function prepare(file: string): Prepared | undefined {
  let raw: Buffer;
  try {
    raw = readFileSync(file);
  } catch {
    return undefined;
  }
  const hash = createHash('sha256').update(raw).digest('base64url').slice(0, 22);
  return {
    etag: `"${hash}"`,
    raw,
    gzip: gzipSync(raw, { level: 9 }),
    brotli: brotliCompressSync(raw, {
      params: { [zlib.BROTLI_PARAM_QUALITY]: 11, [zlib.BROTLI_PARAM_SIZE_HINT]: raw.length },
    }),
  };
}

/** The encoding to answer with: brotli when accepted, else gzip, else none (q=0 means refused). */
function pickEncoding(acceptEncoding: string | undefined): 'br' | 'gzip' | undefined {
  const accepted = new Set<string>();
  for (const part of (acceptEncoding ?? '').toLowerCase().split(',')) {
    const [name, ...params] = part.trim().split(';');
    const refused = params.some((param) => /^\s*q=0(\.0*)?\s*$/.test(param));
    if (name && !refused) accepted.add(name.trim());
  }
  if (accepted.has('br')) return 'br';
  if (accepted.has('gzip')) return 'gzip';
  return undefined;
}

/** True when an If-None-Match header names this ETag (weak comparison, as RFC 9110 asks for GET). */
function matches(ifNoneMatch: string | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false;
  if (ifNoneMatch.trim() === '*') return true;
  return ifNoneMatch.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag);
}

export function snippetRoute({ file = 'dist/f.js', prefillFile = 'dist/p.js', captureFile = 'dist/c.js', crossDomainFile = 'dist/d.js', attributionFile = 'dist/a.js' }: SnippetRouteOptions = {}): Hono {
  const app = new Hono();
  for (const [path, prepared] of [
    ['/f.js', prepare(file)],
    ['/p.js', prepare(prefillFile)],
    ['/c.js', prepare(captureFile)],
    ['/d.js', prepare(crossDomainFile)],
    ['/a.js', prepare(attributionFile)],
  ] as const) {
    app.get(path, (c) => {
      if (!prepared) {
        return c.json(errorBody('snippet_missing', 'The snippet has not been built; run `npm run build`.'), 503, {
          'Cache-Control': 'no-store',
        });
      }
      const headers: Record<string, string> = {
        'Content-Type': 'application/javascript; charset=utf-8',
        'Cache-Control': 'public, max-age=300',
        ETag: prepared.etag,
        Vary: 'Accept-Encoding',
        // Landers load the script from another origin; let them use it with `crossorigin` or SRI
        // (and the files it imports on demand, ES modules imported across origins, need it).
        'Access-Control-Allow-Origin': '*',
        'X-Content-Type-Options': 'nosniff',
      };
      if (matches(c.req.header('if-none-match'), prepared.etag)) return c.body(null, 304, headers);
      const encoding = pickEncoding(c.req.header('accept-encoding'));
      const body = encoding === 'br' ? prepared.brotli : encoding === 'gzip' ? prepared.gzip : prepared.raw;
      if (encoding) headers['Content-Encoding'] = encoding;
      // Uint8Array over the exact bytes: a Buffer may be a view into a larger pooled ArrayBuffer.
      return c.body(new Uint8Array(body).buffer, 200, headers);
    });
  }
  return app;
}
