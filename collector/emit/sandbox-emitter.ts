/**
 * @module sandbox-emitter
 * `EMIT_VIA=sandbox` (and sandbox mode): nothing leaves the collector. Each emission is recorded,
 * for the dashboard, as the request the direct ActiveCampaign route would send to deliver it
 * (method, path and body, built by the same functions as that route), and is answered with a
 * synthetic id so that the rest of the pipeline (a later ORDER recovering its CART) runs as it
 * would live.
 *
 * In sandbox mode (`inFull`) the body is recorded whole: the dashboard that shows it answers
 * loopback clients only, the events come only from localhost pages, and the same values are
 * already in the session's own row. Nothing of it goes to the process log. With `EMIT_VIA=sandbox`
 * beside live Konnektive credentials (a dashboard reachable with its token) personal data is
 * redacted as in every live delivery attempt, except a CART's `orderUrl` (its recovery link),
 * kept whole so that the recorded CART leads back to a prefilled checkout; live routes keep only
 * `/r/[token]`.
 *
 * The connection and customer ids are not known without AC, so the body shows the placeholders
 * `{connectionid}` and `{customerid}`: live, the route looks up (or creates) the connection
 * configured in ACTIVECAMPAIGN_CONNECTION_ID and the buyer's ecomCustomer and puts their ids
 * there. Those lookups and the customer create are not recorded.
 */
import { summariseAcBody } from './activecampaign-client.js';
import { acRequestFor } from './activecampaign-bodies.js';
import type { EmissionMessage, Emitter } from './emission.js';

const PLACEHOLDER_IDS = { connectionid: '{connectionid}', customerid: '{customerid}' };

function syntheticId(emission: EmissionMessage): string {
  switch (emission.kind) {
    case 'customer':
      return `sandbox-customer-${emission.sessionId}`;
    case 'cart':
      return `sandbox-cart-${emission.cartId}`;
    case 'order':
      // Live, the ORDER of a recovered cart updates that record and keeps its id.
      return emission.cartRemoteId ?? `sandbox-order-${emission.orderId}`;
    case 'close':
      return emission.cartRemoteId ?? `sandbox-cart-${emission.cartId}`;
  }
}

/** The collector's own recovery link (`.../r/<token>`, nothing else): safe to show in the sandbox. */
function isRecoveryLink(url: string | undefined): url is string {
  return url !== undefined && /^https?:\/\/[^/?#]+\/r\/[A-Za-z0-9._-]+$/.test(url);
}

export interface SandboxEmitterOptions {
  /** Record each body whole, personal data included (sandbox mode only; see the module's note). */
  inFull?: boolean;
}

export function sandboxEmitter({ inFull = false }: SandboxEmitterOptions = {}): Emitter {
  return {
    route: 'sandbox',
    async emit(emission, context) {
      // Sandbox mode sends nothing, so a record an earlier attempt "created" exists only if it was recorded as sent.
      if (context.lookupOnly) return { ok: false, failure: 'absent', message: 'sandbox: nothing was sent' };
      const { method, path, body } = acRequestFor(emission, PLACEHOLDER_IDS);
      const remoteId = syntheticId(emission);
      const summary = (inFull ? body : summariseAcBody(body)) as { ecomOrder?: Record<string, unknown> };
      if (!inFull && emission.kind === 'cart' && isRecoveryLink(emission.orderUrl) && summary.ecomOrder) summary.ecomOrder.orderUrl = emission.orderUrl;
      context.record({
        endpoint: `${method} ${path}`,
        request: body === undefined ? '' : JSON.stringify(summary),
        response: JSON.stringify({ sandbox: true, id: remoteId }),
        outcome: 'sandbox',
        latencyMs: 0,
      });
      return { ok: true, remoteId };
    },
  };
}
