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
  return socketAddress(c) ?? '127.0.0.1';
}

/**
 * The address of the peer of the request's TCP connection, whatever the headers say (IPv4-mapped
 * IPv6 addresses as plain IPv4); `undefined` only for `app.request()` in tests, which has no socket.
 */
export function socketAddress(c: Context): string | undefined {
  let address: string;
  try {
    address = getConnInfo(c).remote.address ?? '';
  } catch {
    return undefined;
  }
  return address.startsWith('::ffff:') ? address.slice(7) : address || '0.0.0.0';
}
