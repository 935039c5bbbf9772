/**
 * @module lifecycle-fields
 * The contact fields the lifecycle sync writes in ActiveCampaign, and how they come to exist:
 * `funnelbeacon connect` creates the missing ones, found by their personalization tag (perstag),
 * so running it again creates nothing; the delivery does the same once per process, so a sync
 * started before `connect` still lands its values.
 */
import { type AcResponse, type ActiveCampaignClient, type CallRecorder } from '../emit/activecampaign-client.js';

export type LifecycleFieldKey = 'status' | 'nextBillDate' | 'cancelledOn' | 'lifetimeValue' | 'lastOrderDate';

export interface LifecycleFieldDefinition {
  key: LifecycleFieldKey;
  title: string;
  perstag: string;
  type: 'text' | 'date' | 'number';
  descript: string;
}

export const LIFECYCLE_FIELDS: readonly LifecycleFieldDefinition[] = [
  { key: 'status', title: 'Customer Status', perstag: 'FB_CUSTOMER_STATUS', type: 'text', descript: 'funnelbeacon: lead, customer, subscriber, past due, cancelled, paused, refunded or chargeback' },
  { key: 'nextBillDate', title: 'Next Bill Date', perstag: 'FB_NEXT_BILL_DATE', type: 'date', descript: "funnelbeacon: the subscription's next bill date in Konnektive" },
  { key: 'cancelledOn', title: 'Cancelled On', perstag: 'FB_CANCELLED_ON', type: 'date', descript: 'funnelbeacon: when the subscription was cancelled' },
  { key: 'lifetimeValue', title: 'Lifetime Value', perstag: 'FB_LIFETIME_VALUE', type: 'number', descript: "funnelbeacon: the contact's orders in ActiveCampaign, net of refunds and chargebacks" },
  { key: 'lastOrderDate', title: 'Last Order Date', perstag: 'FB_LAST_ORDER_DATE', type: 'date', descript: 'funnelbeacon: the date of the last sale or rebill' },
];

export type FieldIds = Record<LifecycleFieldKey, string>;
export type FieldsResult = { ok: true; ids: FieldIds; created: string[] } | Extract<AcResponse, { ok: false }>;

/** Finds each field by perstag and creates (and shows on all lists) the ones missing. */
export async function ensureLifecycleFields(client: ActiveCampaignClient, record?: CallRecorder): Promise<FieldsResult> {
  const existing = await fieldsByPerstag(client, record);
  if (!(existing instanceof Map)) return existing;
  const ids: Partial<FieldIds> = {};
  const created: string[] = [];
  for (const field of LIFECYCLE_FIELDS) {
    let id = existing.get(field.perstag);
    if (id === undefined) {
      const posted = await client.request('POST', '/fields', { field: { title: field.title, type: field.type, perstag: field.perstag, descript: field.descript, visible: 1 } }, record);
      if (!posted.ok) {
        // Created meanwhile by another collector (a duplicate title or perstag): look once more.
        if (posted.failure !== 'rejected') return posted;
        const again = await fieldsByPerstag(client, record);
        if (!(again instanceof Map)) return again;
        id = again.get(field.perstag);
        if (id === undefined) return posted;
      } else {
        id = idOf(posted.body.field);
        if (id === undefined) return { ok: false, failure: 'transient', message: 'ActiveCampaign answered without a field id', errors: [], duplicate: false, notFound: false };
        created.push(field.title);
        const rel = await client.request('POST', '/fieldRels', { fieldRel: { field: id, relid: 0 } }, record);
        if (!rel.ok) return rel;
      }
    }
    ids[field.key] = id;
  }
  return { ok: true, ids: ids as FieldIds, created };
}

const PAGE = 100;

/** Every custom field of the account, by perstag (upper case), a hundred a request. */
async function fieldsByPerstag(client: ActiveCampaignClient, record?: CallRecorder): Promise<Map<string, string> | Extract<AcResponse, { ok: false }>> {
  const found = new Map<string, string>();
  for (let offset = 0; offset < 10_000; offset += PAGE) {
    const page = await client.request('GET', `/fields?limit=${PAGE}&offset=${offset}`, undefined, record);
    if (!page.ok) return page.notFound ? found : page;
    const list = Array.isArray(page.body.fields) ? (page.body.fields as unknown[]) : [];
    for (const field of list) {
      const perstag = typeof field === 'object' && field !== null ? (field as Record<string, unknown>).perstag : undefined;
      const id = idOf(field);
      if (typeof perstag === 'string' && id !== undefined) found.set(perstag.toUpperCase(), id);
    }
    if (list.length < PAGE) break;
  }
  return found;
}

function idOf(value: unknown): string | undefined {
  const id = typeof value === 'object' && value !== null ? (value as Record<string, unknown>).id : undefined;
  return id === undefined || id === null ? undefined : String(id);
}
