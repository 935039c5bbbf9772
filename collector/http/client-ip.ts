/**
 * @module client-ip
 * The visitor's IP for Konnektive's `ipAddress`. `X-Forwarded-For` is a header anyone can send,
 * so it is read only when TRUST_PROXY says the collector sits behind the operator's own proxy;
 * then the last entry is the address that proxy saw.
 */
import { isIPv4, isIPv6 } from 'node:net';
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

/** Longest key {@link addressKey} keeps of something that is not an address (a header's junk). */
const MAX_OTHER_KEY = 64;

/**
 * The key a per-address limit counts under: an IPv4 address as it is (IPv4-mapped IPv6 included),
 * an IPv6 address by its /64 (`2001:db8:1:2::/64`), since one subscriber or one server is handed a
 * whole /64 and can rotate through it at will. Anything else (a forwarded `unknown`) is kept as
 * given, cut to a bounded length.
 */
export function addressKey(ip: string): string {
  let address = ip.trim().replace(/^\[|\]$/g, '');
  const zone = address.indexOf('%');
  if (zone >= 0) address = address.slice(0, zone);
  if (isIPv4(address)) return address;
  if (!isIPv6(address)) return address.slice(0, MAX_OTHER_KEY);
  const groups = ipv6Groups(address.toLowerCase());
  // ::ffff:a.b.c.d (or its hex spelling ::ffff:7f00:1): an IPv4 client on a dual-stack socket.
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return [groups[6]! >> 8, groups[6]! & 0xff, groups[7]! >> 8, groups[7]! & 0xff].join('.');
  }
  return `${groups.slice(0, 4).map((g) => g.toString(16)).join(':')}::/64`;
}

/** The eight 16-bit groups of a valid IPv6 address (`::` expanded, a trailing dotted quad read). */
function ipv6Groups(address: string): number[] {
  const parse = (part: string): number[] => {
    if (part === '') return [];
    return part.split(':').flatMap((piece) => {
      if (!piece.includes('.')) return [parseInt(piece, 16)];
      const [a, b, c, d] = piece.split('.').map(Number) as [number, number, number, number];
      return [(a << 8) | b, (c << 8) | d];
    });
  };
  const gap = address.indexOf('::');
  if (gap < 0) return parse(address);
  const head = parse(address.slice(0, gap));
  const tail = parse(address.slice(gap + 2));
  return [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
}
