/**
 * @module rate-limit
 * Per-IP request limit for the ingest route, on rate-limiter-flexible's in-memory limiter.
 * Each collector counts for itself; behind a load balancer the effective limit is per instance.
 */
import type { MiddlewareHandler } from 'hono';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { fail } from './errors.js';

export interface RateLimitOptions {
  perMinute: number;
  keyOf: (c: Parameters<MiddlewareHandler>[0]) => string;
  onLimited?: () => void;
}

export function rateLimit({ perMinute, keyOf, onLimited = () => {} }: RateLimitOptions): MiddlewareHandler {
  const limiter = new RateLimiterMemory({ points: perMinute, duration: 60 });
  return async function rateLimitByIp(c, next) {
    try {
      await limiter.consume(keyOf(c));
    } catch (rejection) {
      if (!(rejection instanceof RateLimiterRes)) throw rejection;
      onLimited();
      const retryAfter = Math.max(1, Math.ceil(rejection.msBeforeNext / 1000));
      fail(429, 'rate_limited', 'Too many requests from this address; try again later.', { 'retry-after': String(retryAfter) });
    }
    await next();
  };
}
