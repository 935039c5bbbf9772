/**
 * Values JavaScript reads from a body but a store cannot keep as sent, on both stores, against the
 * built collector on a port: a NUL character or an unpaired UTF-16 surrogate in any string the
 * schema keeps, and numbers JSON.parse turns into Infinity or past a field's range. Each is a 400
 * `invalid_events` naming the field, stores nothing (no session, no event) and is counted in
 * `funnelbeacon_events_rejected_total`; never a 5xx. (A lone surrogate in a lead field was a 500
 * on PostgreSQL, "invalid input syntax for type json", and stored on SQLite.) What both stores do
 * keep, they keep alike: surrogate pairs, a backslash written before `ud800`, bytes that are not
 * UTF-8 (decoded to U+FFFD), the smallest doubles.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { FULL_EVENTS, SLOTS, withValue } from '../support/every-field.js';
import { BROWSER_UA, faultBackends, LANDER_ORIGIN, spawnCollector, withStore } from './support.js';

const backends = await faultBackends();

interface Refused {
  name: string;
  /** The body as sent: JSON text, so numbers JSON cannot write (1e400) can be put in. */
  body: string;
  /** The field the answer names (`events.1.fields.firstName`). */
  path: string;
  /** The whole message, when it is ours (a format check words its own). */
  message?: string;
  reason: 'unstorable_text' | 'invalid_events';
  eventIds: string[];
}

const SURROGATE = 'an unpaired UTF-16 surrogate cannot be stored';
const NUL = 'a NUL character (U+0000) cannot be stored';

/** A page view first, so a refused batch would otherwise store a session and an event. */
function batch(events: Record<string, unknown>[], extra: Record<string, unknown> = {}): { text: string; eventIds: string[] } {
  const all = [{ id: randomUUID(), type: 'page', page: 'presell', url: 'https://offer.example/' }, ...events];
  return { text: JSON.stringify({ ...extra, events: all }), eventIds: all.map((event) => event.id as string) };
}

function refusedCases(): Refused[] {
  const cases: Refused[] = [];
  const bad = [
    ['a high surrogate alone', (value: string) => `\ud800${value}`, SURROGATE],
    ['a low surrogate alone', (value: string) => `${value}\udc00`, SURROGATE],
    ['a pair written backwards', (value: string) => `${value}\udc00\ud800`, SURROGATE],
    ['a NUL character', (value: string) => `${value.slice(0, 1)}\u0000${value.slice(1)}`, NUL],
  ] as const;
  // Every string of every event type (test/support/every-field.ts keeps up with the schema).
  for (const slot of SLOTS) {
    const ascii = slot.kind === 'orderId' || slot.kind === 'currency';
    for (const [what, spoil, message] of bad) {
      const original = String(slot.path.reduce<unknown>((at, key) => (at as Record<string | number, unknown>)[key], FULL_EVENTS[slot.type]));
      const { text, eventIds } = batch([withValue(slot, spoil(original))]);
      cases.push({
        name: `${what} in ${slot.type} ${slot.path.join('.')}`,
        body: text,
        path: `events.1.${slot.path.join('.')}`,
        // A format that allows only ASCII refuses it with its own words.
        ...(ascii ? {} : { message }),
        reason: ascii ? 'invalid_events' : 'unstorable_text',
        eventIds,
      });
    }
  }
  for (const key of ['session', 'link'] as const) {
    const { text, eventIds } = batch([], { [key]: 's.\ud800' });
    cases.push({ name: `a lone surrogate in the ${key} token`, body: text, path: key, message: SURROGATE, reason: 'unstorable_text', eventIds });
  }
  // Numbers: JSON.parse reads 1e400 as Infinity and 2^53 + 1 as 2^53; neither is in a field's range.
  const numbers = [
    ['a cart price of 1e400', 'events.1.items.0.price', { ...FULL_EVENTS.cart, items: [{ id: '41', qty: 1, price: '<n>' }] }, '1e400'],
    ['a cart price of -1e400', 'events.1.items.0.price', { ...FULL_EVENTS.cart, items: [{ id: '41', qty: 1, price: '<n>' }] }, '-1e400'],
    ['a cart quantity of 1e400', 'events.1.items.0.qty', { ...FULL_EVENTS.cart, items: [{ id: '41', qty: '<n>', price: 1 }] }, '1e400'],
    ['a client time of 1e400', 'events.1.ts', { ...FULL_EVENTS.page, ts: '<n>' }, '1e400'],
    ['a client time past 2^53', 'events.1.ts', { ...FULL_EVENTS.page, ts: '<n>' }, '9007199254740993'],
    ['a client time of 1e20', 'events.1.ts', { ...FULL_EVENTS.page, ts: '<n>' }, '1e20'],
  ] as const;
  for (const [name, path, event, number] of numbers) {
    const { text, eventIds } = batch([{ id: randomUUID(), ...event }]);
    cases.push({ name, body: text.replace('"<n>"', number), path, reason: 'invalid_events', eventIds });
  }
  return cases;
}

interface Kept {
  name: string;
  body: string | Uint8Array<ArrayBuffer>;
  /** What the session's stored lead holds afterwards. */
  lead: Record<string, string>;
  /** The stored landing URL. */
  landingUrl?: string;
  /** The stored cart item's price. */
  price?: number;
}

function keptCases(): Kept[] {
  const pair = '\ud83d\ude00';
  const page = (url: string) => ({ id: randomUUID(), type: 'page', page: 'presell', url });
  const lead = (fields: Record<string, string>) => ({ id: randomUUID(), type: 'lead', fields });
  const encoder = new TextEncoder();
  const notUtf8Body = JSON.stringify({ events: [page('https://offer.example/'), lead({ firstName: 'Ann<bytes>' })] });
  const [before, after] = notUtf8Body.split('<bytes>');
  return [
    {
      name: 'a surrogate pair (an emoji), escaped and as is',
      body: JSON.stringify({ events: [page(`https://offer.example/${pair}`), lead({ firstName: `Ann${pair}`, lastName: 'Lee😀' })] }).replace(pair, '\\ud83d\\ude00'),
      lead: { firstName: `Ann${pair}`, lastName: 'Lee😀' },
      landingUrl: `https://offer.example/${pair}`,
    },
    {
      name: 'a backslash written before ud800 (no escape: text)',
      body: JSON.stringify({ events: [page('https://offer.example/?q=\\ud800'), lead({ city: 'C:\\ud800' })] }),
      lead: { city: 'C:\\ud800' },
      landingUrl: 'https://offer.example/?q=\\ud800',
    },
    {
      // Not UTF-8: decoded with U+FFFD in place of each bad byte, on either store.
      name: 'bytes that are not UTF-8',
      body: new Uint8Array([...encoder.encode(before!), 0xff, 0xfe, 0xc3, ...encoder.encode(after!)]),
      lead: { firstName: 'Ann\ufffd\ufffd\ufffd' },
    },
    {
      name: 'the smallest doubles',
      body: JSON.stringify({ events: [page('https://offer.example/'), { id: randomUUID(), type: 'cart', currency: 'USD', items: [{ id: '41', qty: 1, price: '<n>' }] }, lead({ firstName: 'Ann' })] }).replace('"<n>"', '5e-324'),
      lead: { firstName: 'Ann' },
      price: 5e-324,
    },
  ];
}

async function post(port: number, body: string | Uint8Array<ArrayBuffer>): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`http://127.0.0.1:${port}/v1/events`, {
    method: 'POST',
    headers: { 'content-type': 'text/plain;charset=UTF-8', origin: LANDER_ORIGIN, 'user-agent': BROWSER_UA },
    body,
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

async function rejectedCounts(port: number): Promise<Record<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const counts: Record<string, number> = {};
  for (const match of text.matchAll(/^funnelbeacon_events_rejected_total\{reason="([a-z_]+)"\} (\d+)$/gm)) counts[match[1]!] = Number(match[2]);
  return counts;
}

for (const backend of backends) {
  describe.skipIf(backend.skip !== undefined)(`text and numbers a store cannot keep: ${backend.name}`, () => {
    afterAll(() => backend.cleanup());

    it('are refused with a 400 naming the field, store nothing and are counted; what both stores keep is kept alike', async () => {
      const databaseUrl = backend.newDatabaseUrl();
      const refused = refusedCases();
      const kept = keptCases();
      const collector = await spawnCollector(databaseUrl);
      const answers: { name: string; status: number; code: unknown; message: unknown }[] = [];
      const sessions: string[] = [];
      let counted: Record<string, number>;
      try {
        for (const each of refused) {
          const { status, json } = await post(collector.port, each.body);
          const error = json.error as { code: string; message: string } | undefined;
          const message = error?.message ?? '';
          answers.push({
            name: each.name,
            status,
            code: error?.code,
            // The field named first; the whole message when it is ours.
            message: each.message !== undefined ? message : message.startsWith(`${each.path}: `) ? each.path : message,
          });
        }
        for (const each of kept) {
          const { status, json } = await post(collector.port, each.body);
          expect(status, `${each.name}: ${JSON.stringify(json)}`).toBe(200);
          sessions.push((json.ids as { session: string }).session);
        }
        counted = await rejectedCounts(collector.port);
      } finally {
        collector.child.kill('SIGTERM');
      }
      expect((await collector.exited).code).toBe(0);

      expect(answers).toEqual(
        refused.map((each) => ({ name: each.name, status: 400, code: 'invalid_events', message: each.message !== undefined ? `${each.path}: ${each.message}` : each.path })),
      );
      const byReason = (reason: Refused['reason']) => refused.filter((each) => each.reason === reason).length;
      expect(counted).toEqual({ unstorable_text: byReason('unstorable_text'), invalid_events: byReason('invalid_events') });

      await withStore(databaseUrl, async (store) => {
        // Only the kept bodies' sessions exist, and no refused body's event was written.
        expect(await store.countSessions()).toBe(kept.length);
        const refusedIds = refused.flatMap((each) => each.eventIds);
        expect(await store.transaction((tx) => tx.findEventsSession(refusedIds))).toBeUndefined();
        for (const [index, each] of kept.entries()) {
          const session = await store.getSession(sessions[index]!);
          expect(session?.lead, each.name).toEqual(each.lead);
          if (each.landingUrl !== undefined) expect(session?.landingUrl, each.name).toBe(each.landingUrl);
          if (each.price !== undefined) expect(session?.cart?.items[0]?.price, each.name).toBe(each.price);
          // Each stored event reads back as it was sent (its JSON is valid on either store).
          expect((await store.listEvents(sessions[index]!)).length, each.name).toBeGreaterThan(0);
        }
      });
    }, 60_000);
  });
}
