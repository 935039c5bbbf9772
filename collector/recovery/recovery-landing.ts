/**
 * @module recovery-landing
 * The snippet's first request on a page opened through a recovery redirect carries the recovery
 * flavour of the link token (`p`, single-use). The browser gets a new session linked to the
 * abandoned one (apply-batch.ts), never the abandoned session's own token. Its page view is the
 * buyer's return (recorded once, for "recovered by link"), and the answer carries the cart, so
 * a page that builds its cart in script can restore it; the contact fields to prefill go to the
 * first landing of each abandoned cart only. Ordinary link tokens never get any of this.
 *
 * What a link holder can see, then: the cart (products and prices), and the buyer's contact
 * fields only if nobody has landed through the link before (a buyer who lands first leaves
 * nothing for a later holder); never a token that writes to the buyer's session.
 */
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import { reportedPaid } from './recovery-target.js';
import type { Session, Store } from '../store/store.js';
import type { IngestResponse, LeadFields } from '../wire-schema.js';

export type RestoredCheckout = Pick<IngestResponse['ids'], 'cart' | 'fields'>;

export async function recoveryLanding(
  deps: { store: Store; logger: Logger; config: Pick<Config, 'recovery'> },
  landing: { recovered: Session; pageViews: number; at: number },
): Promise<RestoredCheckout | undefined> {
  const { recovered: session, at } = landing;
  // A session paid since (here or in another session of the same email) gets nothing to buy
  // again with.
  if (reportedPaid(session)) return undefined;
  if (landing.pageViews > 0) {
    try {
      await deps.store.recordRecoveryReturn(session.id, at);
    } catch (error) {
      deps.logger.warn({ err: error instanceof Error ? error.message : String(error) }, 'recovery return not recorded');
    }
  }
  const cart = session.cart ? { cart: session.cart } : {};
  const fields = Object.fromEntries(Object.entries(session.lead).filter(([, value]) => typeof value === 'string' && value !== '')) as LeadFields;
  if (Object.keys(fields).length === 0) return cart;
  // Once per abandoned cart, kept for as long as its recovery link can work.
  const first = await deps.store.transaction((tx) => tx.spendToken(`prefill.${session.id}`, at + deps.config.recovery.linkTtlMs));
  return first ? { fields, ...cart } : cart;
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
