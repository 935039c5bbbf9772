/**
 * @module attribution
 * What a session's attribution events add up to. The snippet sends one per funnel domain (each
 * domain has its own cookies) and one whenever the visitor's marketing choice changes. Each value
 * is the first one the session was told: the click that brought the buyer is the landing page's,
 * and a later domain only fills in what the session lacks (its own `_fbp` when the lander had
 * none). The marketing choice is the latest one: a visitor who withdraws consent has withdrawn it.
 */
import type { StoredEvent } from '../store/store.js';
import { ATTRIBUTION_KEYS, type AttributionEvent, type AttributionValues } from '../wire-schema.js';

export interface SessionAttribution {
  /** The visitor's latest marketing choice; undefined when the page never told one (no conversion goes out). */
  marketing: boolean | undefined;
  values: AttributionValues;
}

/** Folds a session's attribution events, oldest first. */
export function sessionAttribution(events: readonly StoredEvent[]): SessionAttribution {
  const values: AttributionValues = {};
  let marketing: boolean | undefined;
  for (const event of events) {
    if (event.type !== 'attribution') continue;
    const payload = event.payload as AttributionEvent;
    marketing = payload.marketing;
    for (const key of ATTRIBUTION_KEYS) {
      const value = payload.values[key];
      if (value !== undefined && values[key] === undefined) values[key] = value;
    }
  }
  return { marketing, values };
}
