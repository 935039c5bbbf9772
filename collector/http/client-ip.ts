/**
 * @module client-ip
 * The visitor's IP for Konnektive's `ipAddress`. `X-Forwarded-For` is a header anyone can send,
 * so it is read only when TRUST_PROXY says the collector sits behind the operator's own proxy;
 * then the last entry is the address that proxy saw.
 */
import type { Context } from 'hono';
import { getConnInfo } from '@hono/node-server/conninfo';

export function clientIp(c: Context, trustProxy: boolean): string {
  if (trustProxy) {
    const forwarded = c.req.header('x-forwarded-for');
    const last = forwarded?.split(',').map((part) => part.trim()).filter(Boolean).pop();
    if (last) return last;
  }
  try {
    const address = getConnInfo(c).remote.address ?? '';
    return address.startsWith('::ffff:') ? address.slice(7) : address || '0.0.0.0';
  } catch {
    // `app.request()` in tests has no socket.
    return '127.0.0.1';
  }
}
