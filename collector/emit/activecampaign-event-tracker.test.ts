/** ActiveCampaign's event tracking as the client sends it, against the strict double. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startActiveCampaignDouble, type ActiveCampaignDouble } from '../../test/doubles/activecampaign-double.js';
import { VirtualClock } from '../../test/support/virtual-clock.js';
import { SqliteStore } from '../store/sqlite-store.js';
import { activeCampaignEventTracker } from './activecampaign-client.js';
import { RateGate } from './rate-gate.js';

let clock: VirtualClock;
let store: SqliteStore;
let double: ActiveCampaignDouble;

beforeEach(async () => {
  clock = new VirtualClock();
  store = SqliteStore.fromUrl('file::memory:', { clock });
  await store.migrate();
  double = await startActiveCampaignDouble({ now: () => clock.now(), eventAccountId: '42', eventKey: 'k-1' });
});
afterEach(async () => {
  await double.close();
  await store.close();
});

function tracker(options: { key?: string; url?: string } = {}) {
  const gate = new RateGate({ store, clock, key: 'activecampaign:test', perSecond: 5 });
  return activeCampaignEventTracker({ eventsUrl: options.url ?? double.eventsUrl, accountId: '42', eventKey: options.key ?? 'k-1', gate, clock, fetch: clock.fetch, timeoutMs: 500 });
}

type Call = { endpoint: string; request: string; response: string; outcome: string };

describe('event tracking', () => {
  it('sends the event form-encoded with the email as visit, and logs the event name only', async () => {
    const calls: Call[] = [];
    const result = await tracker().track('order_refunded', 'Ann+1@Example.com', '{"id":"e1","reason":"Stolen card"}', (call) => calls.push(call));
    expect(result.ok).toBe(true);
    expect(double.trackingLogs).toEqual([expect.objectContaining({ event: 'order_refunded', eventdata: '{"id":"e1","reason":"Stolen card"}' })]);
    expect([...double.contacts.values()][0]?.email).toBe('Ann+1@Example.com');
    expect(calls).toEqual([expect.objectContaining({ endpoint: 'POST /event', outcome: 'ok' })]);
    const logged = JSON.stringify(calls);
    for (const secret of ['ann+1', 'stolen', 'k-1', '"42"']) expect(logged.toLowerCase()).not.toContain(secret);
  });

  it('a wrong key is a rejection naming the settings; a name over 32 characters is never sent', async () => {
    const wrong = await tracker({ key: 'nope' }).track('chargeback', 'a@example.com', '{}');
    expect(wrong).toMatchObject({ ok: false, failure: 'rejected', status: 400 });
    expect(!wrong.ok && wrong.message).toMatch(/ACTIVECAMPAIGN_EVENT_KEY/);
    const long = await tracker().track('x'.repeat(33), 'a@example.com', '{}');
    expect(long).toMatchObject({ ok: false, failure: 'rejected' });
    expect(double.requests.filter((r) => r.path === '/event')).toHaveLength(1);
  });

  it('a 5xx or a lost connection is transient, and a 503 with Retry-After pauses the account', async () => {
    double.fail('http500', { times: 1 });
    expect(await tracker().track('chargeback', 'a@example.com', '{}')).toMatchObject({ ok: false, failure: 'transient' });
    double.fail('down', { times: 1 });
    expect(await tracker().track('chargeback', 'a@example.com', '{}')).toMatchObject({ ok: false, failure: 'transient' });
    double.fail('http503', { times: 1, retryAfterSeconds: 3 });
    const limited = await tracker().track('chargeback', 'a@example.com', '{}');
    expect(limited).toMatchObject({ ok: false, failure: 'rate_limited' });
    expect(!limited.ok && limited.retryAt).toBe(clock.now() + 3000);
  });
});
