/**
 * `/api/3/ecomOrders`: orders and abandoned carts (the same object), their products and discounts,
 * their states (pending, completed, abandoned, recovered) and duplicate checks.
 */
import { EMAIL, isBlank, isHttpUrl, isInt, isIsoDateWithOffset, productProblems } from '../wire-checks.js';
import { AC_ORDER_STATE, type AcConnection, type AcOrder, type AcOrderProduct } from './records.js';
import { acDate, acError, externalIdOf, filterBy, idOf, invalid, isObject, list, missing, notFound, notWrapped, stringField, unprocessable, unwrap, type AcError, type AcStore, type Json, type Reply, type ResourceRoute } from './wire.js';

export function ordersResource(store: AcStore, connectionView: (connection: AcConnection) => Json) {
  const { now, connections, customers, orders, ids } = store;

  /** A cart whose abandonedDate has passed leaves "pending"; re-evaluated on every request. */
  function refreshStates(at: number): void {
    for (const order of orders.values()) {
      if (order.state === AC_ORDER_STATE.pending && order.externalid === null && order.abandonedDate) {
        if (Date.parse(order.abandonedDate) <= at) order.state = AC_ORDER_STATE.abandoned;
      }
    }
  }

  function productView(p: AcOrderProduct, order: AcOrder): Json {
    return { ...p, orderid: order.id, connectionid: order.connectionid, ecomOrder: order.id };
  }

  function orderView(o: AcOrder): Json {
    const optional: Json = {};
    for (const key of [
      'externalUpdatedDate',
      'abandonedDate',
      'orderUrl',
      'shippingMethod',
      'orderNumber',
      'shippingAmount',
      'taxAmount',
      'discountAmount',
    ] as const) {
      if (o[key] !== undefined) optional[key] = o[key];
    }
    return {
      externalid: o.externalid,
      externalcheckoutid: o.externalcheckoutid,
      source: String(o.source),
      email: o.email,
      currency: o.currency,
      connectionid: o.connectionid,
      customerid: o.customerid,
      totalPrice: o.totalPrice,
      ...optional,
      externalCreatedDate: o.externalCreatedDate,
      totalProducts: o.orderProducts.reduce((sum, p) => sum + p.quantity, 0),
      createdDate: acDate(o.createdAt),
      updatedDate: acDate(o.updatedAt),
      state: o.state,
      connection: o.connectionid,
      orderProducts: o.orderProducts.map((p) => p.id),
      orderDiscounts: o.orderDiscounts.map((d) => d.id),
      customer: o.customerid,
      orderDate: o.externalCreatedDate,
      tstamp: acDate(o.updatedAt),
      links: {
        connection: `/api/3/ecomOrders/${o.id}/connection`,
        customer: `/api/3/ecomOrders/${o.id}/customer`,
        orderProducts: `/api/3/ecomOrders/${o.id}/orderProducts`,
        orderDiscounts: `/api/3/ecomOrders/${o.id}/orderDiscounts`,
      },
      id: o.id,
    };
  }

  function orderReply(status: number, o: AcOrder): Reply {
    const connection = connections.get(o.connectionid);
    return {
      status,
      body: {
        connections: connection ? [connectionView(connection)] : [],
        ecomOrderProducts: o.orderProducts.map((p) => productView(p, o)),
        ecomOrderDiscounts: o.orderDiscounts.map((d) => ({ ...d, orderid: o.id })),
        ecomOrder: orderView(o),
      },
    };
  }

  // ---- orders ----

  /**
   * Checks the fields present in an `ecomOrder` body. On POST the required ones must be there;
   * on PUT every field is optional but what is sent must still be valid.
   */
  function checkOrderFields(data: Json, isCreate: boolean, existing?: AcOrder): AcError[] {
    const errors: AcError[] = [];
    const required = (field: string): boolean => {
      if (!isBlank(data[field])) return true;
      if (isCreate) errors.push(missing(field));
      return false;
    };

    for (const field of ['externalid', 'externalcheckoutid']) {
      const value = data[field];
      if (!isBlank(value) && externalIdOf(value) === undefined) errors.push(invalid(field, `${field} must be a string`));
    }
    const externalid = isBlank(data.externalid) ? undefined : externalIdOf(data.externalid);
    const checkoutid = isBlank(data.externalcheckoutid) ? undefined : externalIdOf(data.externalcheckoutid);
    if (isCreate && externalid === undefined && checkoutid === undefined) {
      errors.push(
        acError('field_missing', 'externalid', 'Either externalid or externalcheckoutid is required'),
      );
    }

    if (required('source') && !['0', '1', 0, 1].includes(data.source as string | number)) {
      errors.push(invalid('source', 'source must be 0 (historical) or 1 (real-time)'));
    }
    if (required('email') && (typeof data.email !== 'string' || !EMAIL.test(data.email))) {
      errors.push(invalid('email', 'Not a valid email address'));
    }
    if (required('totalPrice') && !isInt(data.totalPrice, 0)) {
      errors.push(invalid('totalPrice', 'totalPrice must be an integer number of cents, >= 0'));
    }
    if (required('currency') && (typeof data.currency !== 'string' || !/^[A-Z]{3}$/.test(data.currency))) {
      errors.push(invalid('currency', 'currency must be a 3-letter ISO 4217 code such as USD'));
    }

    let connectionid = existing?.connectionid;
    if (required('connectionid')) {
      connectionid = idOf(data.connectionid);
      if (!connectionid) errors.push(invalid('connectionid', 'connectionid must be a numeric id'));
      else if (!connections.has(connectionid)) {
        errors.push(acError('related_missing', 'connectionid', `No connection with id ${connectionid}`));
      }
    }
    if (required('customerid')) {
      const customerid = idOf(data.customerid);
      const customer = customerid ? customers.get(customerid) : undefined;
      if (!customerid) errors.push(invalid('customerid', 'customerid must be a numeric id'));
      else if (!customer || (connectionid !== undefined && customer.connectionid !== connectionid)) {
        errors.push(acError('related_missing', 'customerid', `No customer with id ${customerid} for this connection`));
      }
    }

    if (required('externalCreatedDate') && !isIsoDateWithOffset(data.externalCreatedDate)) {
      errors.push(invalid('externalCreatedDate', 'Use ISO 8601 with a UTC offset, e.g. 2016-09-13T17:41:39-04:00'));
    }
    if (!isBlank(data.externalUpdatedDate) && !isIsoDateWithOffset(data.externalUpdatedDate)) {
      errors.push(invalid('externalUpdatedDate', 'Use ISO 8601 with a UTC offset'));
    }
    // A cart (checkout id, no order id) is only a cart with the date it was abandoned.
    const cartOnCreate = isCreate && checkoutid !== undefined && externalid === undefined;
    if (isBlank(data.abandonedDate)) {
      if (cartOnCreate) errors.push(missing('abandonedDate'));
    } else if (!isIsoDateWithOffset(data.abandonedDate)) {
      errors.push(invalid('abandonedDate', 'Use ISO 8601 with a UTC offset'));
    }

    for (const field of ['shippingAmount', 'taxAmount', 'discountAmount']) {
      if (!isBlank(data[field]) && !isInt(data[field], 0)) errors.push(invalid(field, `${field} must be an integer number of cents, >= 0`));
    }
    for (const field of ['orderUrl', 'shippingMethod', 'orderNumber']) stringField(data, errors, field, false);
    // The email's "Return to checkout" button and product links: AC takes absolute http(s) URLs only.
    if (!isBlank(data.orderUrl) && !isHttpUrl(data.orderUrl)) errors.push(invalid('orderUrl', 'orderUrl must be an absolute http(s) URL'));

    if (data.orderProducts !== undefined) {
      if (!Array.isArray(data.orderProducts)) errors.push(invalid('orderProducts', 'orderProducts must be an array'));
      else {
        data.orderProducts.forEach((product: unknown, i: number) => {
          const at = `orderProducts/${i}`;
          if (!isObject(product)) {
            errors.push(invalid(at, 'each order product must be an object'));
            return;
          }
          for (const problem of productProblems(product)) {
            errors.push(problem.kind === 'missing' ? missing(`${at}/${problem.field}`) : invalid(`${at}/${problem.field}`, problem.message));
          }
        });
      }
    }
    if (data.orderDiscounts !== undefined) {
      if (!Array.isArray(data.orderDiscounts)) errors.push(invalid('orderDiscounts', 'orderDiscounts must be an array'));
      else {
        data.orderDiscounts.forEach((discount: unknown, i: number) => {
          const at = `orderDiscounts/${i}`;
          if (!isObject(discount)) errors.push(invalid(at, 'each order discount must be an object'));
          else {
            if (isBlank(discount.name)) errors.push(missing(`${at}/name`));
            if (discount.type !== 'order' && discount.type !== 'shipping') errors.push(invalid(`${at}/type`, 'type must be order or shipping'));
            if (!isInt(discount.discountAmount, 0)) errors.push(invalid(`${at}/discountAmount`, 'discountAmount must be an integer >= 0'));
          }
        });
      }
    }

    // The reference leaves duplicate creates open; the double refuses them (docs/activecampaign-routes.md, "Duplicates").
    if (connectionid !== undefined) {
      for (const [field, value] of [
        ['externalid', externalid],
        ['externalcheckoutid', checkoutid],
      ] as const) {
        if (value === undefined) continue;
        for (const other of orders.values()) {
          if (other !== existing && other.connectionid === connectionid && other[field] === value) {
            errors.push(acError('duplicate', field, `An order with this ${field} already exists for this connection (order ${other.id})`));
          }
        }
      }
    }
    return errors;
  }

  function applyOrderFields(order: AcOrder, data: Json): void {
    if (!isBlank(data.externalid)) order.externalid = externalIdOf(data.externalid) ?? null;
    if (!isBlank(data.externalcheckoutid)) order.externalcheckoutid = externalIdOf(data.externalcheckoutid) ?? null;
    if (!isBlank(data.source)) order.source = Number(data.source) === 1 ? 1 : 0;
    if (!isBlank(data.email)) order.email = String(data.email);
    if (isInt(data.totalPrice, 0)) order.totalPrice = data.totalPrice;
    if (!isBlank(data.currency)) order.currency = String(data.currency);
    if (!isBlank(data.connectionid)) order.connectionid = idOf(data.connectionid) ?? order.connectionid;
    if (!isBlank(data.customerid)) order.customerid = idOf(data.customerid) ?? order.customerid;
    if (!isBlank(data.externalCreatedDate)) order.externalCreatedDate = String(data.externalCreatedDate);
    if (!isBlank(data.externalUpdatedDate)) order.externalUpdatedDate = String(data.externalUpdatedDate);
    if (!isBlank(data.abandonedDate)) order.abandonedDate = String(data.abandonedDate);
    for (const field of ['orderUrl', 'shippingMethod', 'orderNumber'] as const) {
      if (!isBlank(data[field])) order[field] = String(data[field]);
    }
    for (const field of ['shippingAmount', 'taxAmount', 'discountAmount'] as const) {
      const value = data[field];
      if (isInt(value, 0)) order[field] = value;
    }
    if (Array.isArray(data.orderProducts)) {
      order.orderProducts = (data.orderProducts as Json[]).map((p) => {
        ids.product += 1;
        const product: AcOrderProduct = {
          id: String(ids.product),
          externalid: String(p.externalid),
          name: String(p.name),
          price: p.price as number,
          quantity: p.quantity as number,
        };
        for (const key of ['category', 'sku', 'description', 'imageUrl', 'productUrl'] as const) {
          if (!isBlank(p[key])) product[key] = String(p[key]);
        }
        return product;
      });
    }
    if (Array.isArray(data.orderDiscounts)) {
      order.orderDiscounts = (data.orderDiscounts as Json[]).map((d) => {
        ids.discount += 1;
        return {
          id: String(ids.discount),
          name: String(d.name),
          type: d.type as 'order' | 'shipping',
          discountAmount: d.discountAmount as number,
        };
      });
    }
  }

  function createOrder(body: unknown): Reply {
    const data = unwrap(body, 'ecomOrder');
    if (!data) return notWrapped('ecomOrder');
    const errors = checkOrderFields(data, true);
    if (errors.length > 0) return unprocessable(errors);
    const at = now();
    ids.order += 1;
    const order: AcOrder = {
      id: String(ids.order),
      connectionid: '',
      customerid: '',
      externalid: null,
      externalcheckoutid: null,
      source: 0,
      email: '',
      totalPrice: 0,
      currency: '',
      state: AC_ORDER_STATE.completed,
      externalCreatedDate: '',
      orderProducts: [],
      orderDiscounts: [],
      createdAt: at,
      updatedAt: at,
      history: [{ method: 'POST', body: data, at }],
    };
    applyOrderFields(order, data);
    if (order.externalid === null) {
      order.state = Date.parse(order.abandonedDate ?? '') <= at ? AC_ORDER_STATE.abandoned : AC_ORDER_STATE.pending;
    }
    orders.set(order.id, order);
    return orderReply(201, order);
  }

  function updateOrder(id: string, body: unknown): Reply {
    const order = orders.get(id);
    if (!order) return notFound('EcomOrder', id);
    const data = unwrap(body, 'ecomOrder');
    if (!data) return notWrapped('ecomOrder');
    const errors = checkOrderFields(data, false, order);
    if (errors.length > 0) return unprocessable(errors);
    const wasCart = order.externalid === null;
    const before = order.state;
    applyOrderFields(order, data);
    if (wasCart && order.externalid !== null) {
      // AC's guide: setting externalid on an abandoned cart is how a recovery is reported.
      order.state = before === AC_ORDER_STATE.abandoned ? AC_ORDER_STATE.recovered : AC_ORDER_STATE.completed;
    }
    order.updatedAt = now();
    order.history.push({ method: 'PUT', body: data, at: order.updatedAt });
    return orderReply(200, order);
  }

  const route: ResourceRoute = (method, id, query, body) => {
    if (id === undefined && method === 'POST') return createOrder(body);
    if (id === undefined && method === 'GET') {
      const found = filterBy(orders.values(), query, [
        'externalid',
        'externalcheckoutid',
        'email',
        'customerid',
        'connectionid',
        'state',
      ]);
      return list('ecomOrders', found, query, orderView);
    }
    if (id !== undefined && method === 'GET') {
      const o = orders.get(id);
      return o ? orderReply(200, o) : notFound('EcomOrder', id);
    }
    if (id !== undefined && method === 'PUT') return updateOrder(id, body);
    if (id !== undefined && method === 'DELETE') {
      if (!orders.delete(id)) return notFound('EcomOrder', id);
      return { status: 200, body: {} };
    }
    return undefined;
  };

  return { route, refreshStates };
}
