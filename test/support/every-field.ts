/**
 * One event of each type with every field the wire schema has, each string a harmless value,
 * and the slot (event type and path) of every string in them. The card filter's tests put a card
 * number, or an id that only looks like one, into each slot; card-filter.test.ts checks that these
 * events keep up with the schema. The slots are found by walking these objects, not the schema.
 */
import { randomUUID } from 'node:crypto';
import type { FunnelEvent } from '../../collector/wire-schema.js';

export const FULL_EVENTS: Record<FunnelEvent['type'], Record<string, unknown>> = {
  page: { type: 'page', page: 'presell', url: 'https://offer.example/p?affId=A7', referrer: 'https://news.example/a' },
  lead: {
    type: 'lead',
    fields: { firstName: 'Ann', lastName: 'Lee', emailAddress: 'ann@example.com', phoneNumber: '+1 415 555 2671', address1: '1 Main St', address2: 'Apt 2', city: 'Austin', state: 'TX', postalCode: '78701', country: 'US' },
  },
  cart: {
    type: 'cart',
    currency: 'USD',
    items: [
      { id: '41', name: 'Bottle', price: 39.95, qty: 1, imageUrl: 'https://cdn.example/b.png', productUrl: 'https://offer.example/b', sku: 'B-1', category: 'Health', description: 'One bottle.' },
    ],
  },
  order: { type: 'order', orderId: 'A1B2C3D4E5' },
  exit: { type: 'exit', page: 'lead' },
  attribution: {
    type: 'attribution',
    marketing: true,
    values: {
      fbc: 'fb.1.1765000000000.IwAR2xYz', fbp: 'fb.1.1765000000000.1234567890', ttclid: 'E.C.P.abc', ttp: 'ttp.xyz', gclid: 'Cj0KCQ',
      gbraid: '0AAAAA', wbraid: 'CkQKCQ', affId: 'AFF7', c1: 'sub1', c2: 'sub2', c3: 'sub3', c4: 'sub4', c5: 'sub5', clickId: 'clk-9',
      utm_source: 'facebook', utm_medium: 'cpc', utm_campaign: 'spring', utm_term: 'bottle', utm_content: 'video-a',
    },
  },
};

export interface Slot {
  type: FunnelEvent['type'];
  path: (string | number)[];
  /** The card metric's `field` label. */
  label: string;
  kind: 'url' | 'phone' | 'text' | 'orderId' | 'currency';
  /** A required value no event is valid without: a card number there refuses the request. */
  refused: boolean;
}

/** Every string value of every event type but the discriminators (`type`, `page`). */
export const SLOTS: Slot[] = Object.values(FULL_EVENTS).flatMap((sample) => {
  const type = sample.type as FunnelEvent['type'];
  const found: Slot[] = [];
  const walk = (value: unknown, path: (string | number)[]) => {
    if (typeof value === 'string') {
      const key = String(path.at(-1));
      if (key === 'type' || key === 'page') return;
      const kind = key === 'url' || key === 'referrer' || key.endsWith('Url') ? 'url' : key === 'phoneNumber' ? 'phone' : key === 'orderId' || key === 'currency' ? key : 'text';
      const label = path[0] === 'items' ? `item_${key}` : key;
      found.push({ type, path, label, kind, refused: label === 'item_id' || label === 'orderId' });
    } else if (value !== null && typeof value === 'object') {
      for (const [key, inner] of Object.entries(value)) walk(inner, [...path, Array.isArray(value) ? Number(key) : key]);
    }
  };
  walk(sample, []);
  return found;
});

/** A new event of the slot's type (with a fresh id) holding `value` at the slot, or without that field. */
export function withValue(slot: Pick<Slot, 'type' | 'path'>, value: string | undefined): Record<string, unknown> {
  const event = structuredClone({ id: randomUUID(), ...FULL_EVENTS[slot.type] });
  let parent: Record<string | number, unknown> = event;
  for (const key of slot.path.slice(0, -1)) parent = parent[key] as Record<string | number, unknown>;
  const last = slot.path.at(-1)!;
  if (value === undefined) delete parent[last];
  else parent[last] = value;
  return event;
}
