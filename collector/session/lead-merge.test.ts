import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { applyBatch, DEFAULT_INGEST_POLICY, type IngestRequest } from '../ingest/apply-batch.js';
import { SqliteStore } from '../store/sqlite-store.js';
import { newSessionId } from '../tokens.js';
import type { FunnelEvent, LeadFields } from '../wire-schema.js';
import { canImportLead, dropShortPhone, mergeLead } from './lead-merge.js';

describe('mergeLead', () => {
  it('takes new and changed values and clears a field sent empty', () => {
    expect(mergeLead({ firstName: 'Ann' }, { lastName: 'Lee' })).toEqual({ firstName: 'Ann', lastName: 'Lee' });
    expect(mergeLead({ firstName: 'Ann' }, { firstName: 'Anne' })).toEqual({ firstName: 'Anne' });
    expect(mergeLead({ firstName: 'Ann', city: 'Oslo' }, { city: '' })).toEqual({ firstName: 'Ann' });
    expect(mergeLead({ firstName: 'Ann' }, { firstName: 'Ann' })).toBeUndefined();
  });

  it.each(['737', '1234', '123456', '12-34-56', '(55) 5-55', 'cvv 737', 'abc'])('never stores %j as a phone number: fewer than 7 digits', (phone) => {
    expect(mergeLead({}, { phoneNumber: phone })).toBeUndefined();
    expect(mergeLead({ firstName: 'Ann' }, { phoneNumber: phone, lastName: 'Lee' })).toEqual({ firstName: 'Ann', lastName: 'Lee' });
  });

  it('keeps the phone already stored when a short value comes after it', () => {
    const current: LeadFields = { firstName: 'Ann', phoneNumber: '(415) 555-2671' };
    expect(mergeLead(current, { phoneNumber: '737' })).toBeUndefined();
    expect(mergeLead(current, { phoneNumber: '737', city: 'Oslo' })).toEqual({ ...current, city: 'Oslo' });
  });

  it.each(['5550100', '555-0100', '(415) 555-2671', '+49 1512 3456787', '0049 1512 3456787'])('stores the phone number %j as it was typed', (phone) => {
    expect(mergeLead({}, { phoneNumber: phone })).toEqual({ phoneNumber: phone });
  });

  it('still clears the phone when it is sent empty (the buyer erased it)', () => {
    expect(mergeLead({ phoneNumber: '5550100' }, { phoneNumber: '' })).toEqual({});
  });
});

describe('dropShortPhone', () => {
  it('removes a phone value of fewer than 7 digits, and nothing else', () => {
    const fields: LeadFields = { firstName: 'Ann', phoneNumber: '737' };
    expect(dropShortPhone(fields)).toBe(true);
    expect(fields).toEqual({ firstName: 'Ann' });
  });

  it('leaves phone numbers, empty values and other fields as they are', () => {
    for (const fields of [{ phoneNumber: '5550100' }, { phoneNumber: '' }, { postalCode: '737' }, {}] as LeadFields[]) {
      const before = structuredClone(fields);
      expect(dropShortPhone(fields)).toBe(false);
      expect(fields).toEqual(before);
    }
  });
});

describe('canImportLead', () => {
  it('needs first and last name with an email or a phone of at least 7 digits', () => {
    expect(canImportLead({ firstName: 'Ann', lastName: 'Lee', emailAddress: 'ann@example.com' })).toBe(true);
    expect(canImportLead({ firstName: 'Ann', lastName: 'Lee', phoneNumber: '555-0100' })).toBe(true);
    expect(canImportLead({ firstName: 'Ann', lastName: 'Lee', phoneNumber: '737' })).toBe(false);
    expect(canImportLead({ firstName: 'Ann', emailAddress: 'ann@example.com' })).toBe(false);
  });
});

describe('a short phone in an ingested batch (real store)', () => {
  let store: SqliteStore;
  const T0 = 1_700_000_000_000;

  beforeEach(async () => {
    store = SqliteStore.fromUrl('file::memory:');
    await store.migrate();
  });
  afterEach(async () => {
    await store.close();
  });

  async function ingest(request: Partial<IngestRequest> & Pick<IngestRequest, 'events'>): Promise<string> {
    const full: IngestRequest = { mode: 'new', sessionId: newSessionId(T0), campaignId: '12', ip: '203.0.113.7', userAgent: 'Mozilla/5.0', isBot: false, receivedAt: T0, ...request };
    const outcome = await store.transaction((tx) => applyBatch(tx, full, DEFAULT_INGEST_POLICY));
    if (!outcome.ok) throw new Error('not accepted');
    return outcome.session.id;
  }

  it('changes nothing when it is the only change: the lead, its version and the Konnektive jobs stay as they were', async () => {
    const first: FunnelEvent = { id: randomUUID(), type: 'lead', fields: { firstName: 'Ann', lastName: 'Lee', emailAddress: 'ann@example.com', phoneNumber: '4155552671' } };
    const id = await ingest({ events: [first] });
    const before = (await store.getSession(id))!;
    const jobsBefore = await store.listJobs({ sessionId: id });
    expect(before.lead.phoneNumber).toBe('4155552671');

    const cvv: FunnelEvent = { id: randomUUID(), type: 'lead', fields: { phoneNumber: '737' } };
    await ingest({ mode: 'existing', sessionId: id, receivedAt: T0 + 1_000, events: [cvv] });
    const after = (await store.getSession(id))!;
    expect(after.lead).toEqual(before.lead);
    expect(after.leadVersion).toBe(before.leadVersion);
    expect(await store.listJobs({ sessionId: id })).toEqual(jobsBefore);
  });
});
