/**
 * @module create-emitter
 * Picks the emission route once, at start-up, from `EMIT_VIA` (see docs/activecampaign-routes.md).
 * Configuration parsing has already refused a route whose credentials are missing.
 */
import type { Clock } from '../clock.js';
import type { Config } from '../config.js';
import type { KonnektiveApi } from '../konnektive/konnektive-client.js';
import type { Store } from '../store/store.js';
import { activeCampaignEmitter } from './activecampaign-emitter.js';
import type { Emitter } from './emission.js';
import { konnektiveRouteEmitter } from './konnektive-route-emitter.js';
import { sandboxEmitter } from './sandbox-emitter.js';

export interface CreateEmitterOptions {
  config: Config;
  konnektive: KonnektiveApi;
  store: Store;
  clock: Clock;
  /** The direct route's HTTP client; tests pass one that tracks requests in flight. */
  fetch?: typeof fetch;
}

export function createEmitter({ config, konnektive, store, clock, fetch }: CreateEmitterOptions): Emitter {
  switch (config.emitVia) {
    case 'activecampaign':
      return activeCampaignEmitter({ config, store, clock, ...(fetch ? { fetch } : {}) });
    case 'konnektive':
      return konnektiveRouteEmitter({
        api: konnektive,
        ...(config.activeCampaign?.connectionId ? { connectionId: config.activeCampaign.connectionId } : {}),
      });
    case 'sandbox':
      // Whole requests only in sandbox mode, whose dashboard answers this machine alone.
      return sandboxEmitter({ inFull: config.sandbox });
  }
}
