import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startKonnektiveDouble, type KonnektiveDouble } from '../../test/doubles/konnektive-double.js';
import { konnektiveClient, type KonnektiveApi } from '../konnektive/konnektive-client.js';
import { readChanged, rowsOf } from './konnektive-lifecycle-client.js';

const window = { startDate: '04/30/2025', endDate: '05/01/2025' };
let crm: KonnektiveDouble;
let api: KonnektiveApi;
let now = Date.UTC(2025, 4, 1, 12);

beforeEach(async () => {
  crm = await startKonnektiveDouble({ loginId: 'fb-login', password: 'fb-password', now: () => now });
  api = konnektiveClient({ apiUrl: crm.url, loginId: 'fb-login', password: 'fb-password', timeoutMs: 2_000 });
});
afterEach(() => crm.close());

describe('reading changed records from Konnektive', () => {
  it('reads every page of 200 and keeps each record once', async () => {
    for (let i = 0; i < 401; i++) crm.putPurchase({ purchaseId: `P${i}`, status: 'ACTIVE' });
    const read = await readChanged((endpoint, params) => api.call(endpoint, params), 'purchases', window);
    expect(read.ok && read.rows.length).toBe(401);
    expect(read.ok && read.pages).toBe(3);
    expect(crm.calls.map((call) => call.params.page)).toEqual(['1', '2', '3']);
  });

  it('takes Konnektive\'s "No ... found" ERROR for zero rows, and refused credentials for an auth failure', async () => {
    expect(await readChanged((endpoint, params) => api.call(endpoint, params), 'transactions', window)).toEqual({ ok: true, rows: [], pages: 1 });
    crm.fail('badCredentials', { times: 1 });
    expect(await readChanged((endpoint, params) => api.call(endpoint, params), 'orders', window)).toMatchObject({ ok: false, failure: 'auth' });
    crm.fail('error', { times: 1 });
    expect(await readChanged((endpoint, params) => api.call(endpoint, params), 'orders', window)).toMatchObject({ ok: false, failure: 'rejected' });
    crm.fail('http500', { times: 1 });
    expect(await readChanged((endpoint, params) => api.call(endpoint, params), 'orders', window)).toMatchObject({ ok: false, failure: 'transient' });
  });

  it('reads message.data as an array or as an object keyed by id', () => {
    expect(rowsOf({ data: [{ orderId: '1' }] })).toEqual([{ orderId: '1' }]);
    expect(rowsOf({ data: { 7: { purchaseId: '7' }, 8: { purchaseId: '8' } } })).toEqual([{ purchaseId: '7' }, { purchaseId: '8' }]);
    expect(rowsOf({ totalResults: 0 })).toEqual([]);
  });
});
