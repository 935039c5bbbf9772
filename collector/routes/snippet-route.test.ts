import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { snippetRoute } from './snippet-route.js';

const SOURCE = '(()=>{window.funnelbeacon=function(){};})();'.repeat(20);

function builtSnippet(): string {
  const dir = mkdtempSync(join(tmpdir(), 'funnelbeacon-snippet-'));
  const file = join(dir, 'f.js');
  writeFileSync(file, SOURCE);
  return file;
}

describe('GET /f.js', () => {
  const app = snippetRoute({ file: builtSnippet() });

  it('serves the snippet uncompressed to a client that accepts no encoding', async () => {
    const res = await app.request('/f.js');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/javascript; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('public, max-age=300');
    expect(res.headers.get('vary')).toBe('Accept-Encoding');
    expect(res.headers.get('content-encoding')).toBeNull();
    expect(res.headers.get('etag')).toMatch(/^"[\w-]{22}"$/);
    expect(await res.text()).toBe(SOURCE);
  });

  it('prefers brotli, falls back to gzip, and honours q=0', async () => {
    const br = await app.request('/f.js', { headers: { 'Accept-Encoding': 'gzip, deflate, br' } });
    expect(br.headers.get('content-encoding')).toBe('br');
    expect(brotliDecompressSync(Buffer.from(await br.arrayBuffer())).toString()).toBe(SOURCE);

    const gzip = await app.request('/f.js', { headers: { 'Accept-Encoding': 'gzip, br;q=0' } });
    expect(gzip.headers.get('content-encoding')).toBe('gzip');
    expect(gunzipSync(Buffer.from(await gzip.arrayBuffer())).toString()).toBe(SOURCE);

    const none = await app.request('/f.js', { headers: { 'Accept-Encoding': 'identity' } });
    expect(none.headers.get('content-encoding')).toBeNull();
    expect(await none.text()).toBe(SOURCE);
  });

  it('answers 304 without a body when the ETag matches, weak or strong', async () => {
    const first = await app.request('/f.js');
    const etag = first.headers.get('etag')!;
    for (const ifNoneMatch of [etag, `W/${etag}`, `"other", ${etag}`, '*']) {
      const res = await app.request('/f.js', { headers: { 'If-None-Match': ifNoneMatch } });
      expect(res.status).toBe(304);
      expect(res.headers.get('etag')).toBe(etag);
      expect(await res.text()).toBe('');
    }
    const stale = await app.request('/f.js', { headers: { 'If-None-Match': '"older"' } });
    expect(stale.status).toBe(200);
  });

  it('answers 503 with the error shape when the snippet was never built', async () => {
    const missing = snippetRoute({ file: join(tmpdir(), 'funnelbeacon-no-such-dir', 'f.js') });
    const res = await missing.request('/f.js');
    expect(res.status).toBe(503);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(await res.json()).toEqual({ error: { code: 'snippet_missing', message: expect.any(String) } });
  });

  it('answers nothing else', async () => {
    const res = await app.request('/f.js', { method: 'POST' });
    expect(res.status).toBe(404);
  });
});

describe('GET /p.js (the recovery prefill, on demand)', () => {
  const PREFILL = 'export const fill=()=>0;'.repeat(20);
  const dir = mkdtempSync(join(tmpdir(), 'funnelbeacon-prefill-'));
  writeFileSync(join(dir, 'p.js'), PREFILL);
  const app = snippetRoute({ file: builtSnippet(), prefillFile: join(dir, 'p.js') });

  it('is served like /f.js: compressed, with its own ETag, importable from any lander origin', async () => {
    const res = await app.request('/p.js', { headers: { 'Accept-Encoding': 'gzip' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/javascript; charset=utf-8');
    expect(res.headers.get('content-encoding')).toBe('gzip');
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(gunzipSync(Buffer.from(await res.arrayBuffer())).toString()).toBe(PREFILL);
    const etag = res.headers.get('etag')!;
    expect(etag).not.toBe((await app.request('/f.js')).headers.get('etag'));
    expect((await app.request('/p.js', { headers: { 'If-None-Match': etag } })).status).toBe(304);
  });
});
