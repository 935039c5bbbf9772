/**
 * @module sandbox-guard
 * In sandbox mode the demo funnel, its recorded CARTs (each with a live recovery link) and
 * `/metrics` are for the person at this machine, exactly as the open sandbox dashboard is: the
 * same loopback and Host check ({@link sandboxAccess}), so that neither another machine on the
 * network nor a web page reaching the collector by DNS rebinding can read them. Outside sandbox
 * mode the guard lets everything through (the reverse proxy restricts `/metrics`; docs/deploy.md).
 */
import type { MiddlewareHandler } from 'hono';
import type { Config } from '../config.js';
import { forwardedAddresses, sandboxAccess } from '../dashboard/auth.js';
import { socketAddress } from './client-ip.js';
import { fail } from './errors.js';

export function sandboxLocalOnly(config: Pick<Config, 'sandbox' | 'publicUrl'>): MiddlewareHandler {
  return async function sandboxLocalOnlyGuard(c, next) {
    if (config.sandbox) {
      const access = sandboxAccess({
        socketAddress: socketAddress(c),
        host: c.req.header('host'),
        forwardedFor: forwardedAddresses((name) => c.req.header(name)),
        publicUrl: config.publicUrl,
      });
      if (access === 'not_loopback') {
        fail(403, 'loopback_only', 'In sandbox mode the demo, its recorded carts and the metrics are open to this machine only.');
      }
      if (access === 'bad_host') {
        fail(403, 'host_not_allowed', 'In sandbox mode the demo and the metrics answer only at localhost, 127.0.0.1 or [::1] (or a loopback PUBLIC_URL).');
      }
    }
    await next();
  };
}
