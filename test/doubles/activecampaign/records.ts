/**
 * What the ActiveCampaign double stores: connections, e-commerce customers and orders (carts
 * included), as ActiveCampaign keeps them.
 */

/** AC's e-commerce order states. */
export const AC_ORDER_STATE = { pending: 0, completed: 1, abandoned: 2, recovered: 3, waiting: 4 } as const;
export type AcOrderState = (typeof AC_ORDER_STATE)[keyof typeof AC_ORDER_STATE];

export interface AcConnection {
  id: string;
  service: string;
  externalid: string;
  name: string;
  logoUrl: string;
  linkUrl: string;
  listId?: string;
  createdAt: number;
}

export interface AcCustomer {
  id: string;
  connectionid: string;
  externalid: string;
  email: string;
  acceptsMarketing?: string;
  createdAt: number;
}

export interface AcOrderProduct {
  id: string;
  externalid: string;
  name: string;
  price: number;
  quantity: number;
  category?: string;
  sku?: string;
  description?: string;
  imageUrl?: string;
  productUrl?: string;
}

export interface AcOrderDiscount {
  id: string;
  name: string;
  type: 'order' | 'shipping';
  discountAmount: number;
}

export interface AcOrder {
  id: string;
  connectionid: string;
  customerid: string;
  externalid: string | null;
  externalcheckoutid: string | null;
  source: 0 | 1;
  email: string;
  totalPrice: number;
  currency: string;
  state: AcOrderState;
  externalCreatedDate: string;
  externalUpdatedDate?: string;
  abandonedDate?: string;
  orderUrl?: string;
  shippingMethod?: string;
  orderNumber?: string;
  shippingAmount?: number;
  taxAmount?: number;
  discountAmount?: number;
  orderProducts: AcOrderProduct[];
  orderDiscounts: AcOrderDiscount[];
  createdAt: number;
  updatedAt: number;
  /** Every accepted write, in order: the unwrapped `ecomOrder` body as sent. */
  history: Array<{ method: 'POST' | 'PUT'; body: Record<string, unknown>; at: number }>;
}
