/**
 * Sample emissions for the route tests: one buyer, two bottles and an upsell pack.
 */
import type { OrderEmission } from '../../collector/emit/emission.js';

type OrderIdentity = Pick<OrderEmission, 'sessionId' | 'cartId' | 'orderId' | 'email' | 'customerExternalId' | 'orderedAt'>;

/** An ORDER of two bottles and an upsell pack (98.90 USD) for Ann Lee. */
export function sampleOrder(fields: OrderIdentity & Partial<OrderEmission>): OrderEmission {
  return {
    kind: 'order',
    firstName: 'Ann',
    lastName: 'Lee',
    items: [
      { id: '41', name: 'Bottle', priceCents: 3995, quantity: 2 },
      { id: '77', name: 'Upsell pack', priceCents: 1900, quantity: 1 },
    ],
    totalCents: 9890,
    currency: 'USD',
    recoversCart: false,
    ...fields,
  };
}
