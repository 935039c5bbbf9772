/**
 * @module recovery-landing
 * The snippet's first request on a page opened through a recovery redirect: it carries the
 * recovery flavour of the link token (`p`). Its page view is the buyer's return (recorded once,
 * for "recovered by link"), and its answer carries what the collector holds for the session, so
 * the snippet can prefill the checkout and the page's `ready` callback can restore its cart.
 * Ordinary link tokens never get any of this.
 */
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import { reportedPaid } from './recovery-target.js';
import type { Session, Store } from '../store/store.js';
import type { IngestResponse, LeadFields } from '../wire-schema.js';

export type RestoredCheckout = Pick<IngestResponse['ids'], 'cart' | 'fields'>;

export async function recoveryLanding(
  deps: { store: Store; logger: Logger },
  adopted: { requestedSessionId: string; session: Session; pageViews: number; at: number },
): Promise<RestoredCheckout | undefined> {
  const { session } = adopted;
  // A session purged since the link was made: the adoption started a new one, with nothing to
  // restore. A session paid since (here or in another session of the same email) gets nothing to
  // buy again with.
  if (session.id !== adopted.requestedSessionId || reportedPaid(session)) return undefined;
  if (adopted.pageViews > 0) {
    try {
      await deps.store.recordRecoveryReturn(session.id, adopted.at);
    } catch (error) {
      deps.logger.warn({ err: error instanceof Error ? error.message : String(error) }, 'recovery return not recorded');
    }
  }
  const fields = Object.fromEntries(Object.entries(session.lead).filter(([, value]) => typeof value === 'string' && value !== '')) as LeadFields;
  return { fields, ...(session.cart ? { cart: session.cart } : {}) };
}

/**
 * Where the browser fetches the prefill code: `PUBLIC_URL/p.js` when the request came through
 * that host, else the origin the request was made to (a collector reached on another name, as in
 * development). Absolute, because the snippet imports it from the lander's page.
 */
export function prefillUrl(config: Pick<Config, 'publicUrl'>, requestUrl: string, host: string | undefined): string {
  const publicUrl = new URL(config.publicUrl);
  return host === publicUrl.host ? `${publicUrl.origin}/p.js` : `${new URL(requestUrl).origin}/p.js`;
}
