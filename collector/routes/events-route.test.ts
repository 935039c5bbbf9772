import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { signLink, signSession, newSessionId, verifySession } from '../tokens.js';
import { dropShortPhone } from '../session/lead-merge.js';
import { ATTRIBUTION_KEYS, FunnelEvent, LEAD_FIELDS, type IngestResponse } from '../wire-schema.js';
import { anyCard, clickId, emailWithDigits, idParam, internationalPhone, numericId } from '../../test/support/value-arbitraries.js';
import { FULL_EVENTS, SLOTS, withValue } from '../../test/support/every-field.js';
import { ev, LANDER_ORIGIN, startTestCollector, testEnv, TEST_SECRET, type TestCollector } from '../../test/support/test-collector.js';

let collector: TestCollector;

beforeEach(async () => {
  collector = await startTestCollector(testEnv({ SECRET: TEST_SECRET, KONNEKTIVE_CAMPAIGNS: '12', RATE_LIMIT_PER_MINUTE: '1000' }));
});
afterEach(async () => {
  await collector.close();
});

async function firstVisit(): Promise<IngestResponse> {
  const res = await collector.post({ campaign: '12', events: [ev.page('presell', 'https://offer.example/?affId=A1')] });
  expect(res.status).toBe(200);
  return (await res.json()) as IngestResponse;
}

/** A body sent with chunked transfer encoding, so no Content-Length announces its size. */
function postChunked(bytes: number): Promise<Response> {
  const encoder = new TextEncoder();
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      for (let sent = 0; sent < bytes; sent += 8_192) controller.enqueue(encoder.encode('x'.repeat(Math.min(8_192, bytes - sent))));
      controller.close();
    },
  });
  return fetch(`${collector.url}/v1/events`, {
    method: 'POST',
    headers: { 'content-type': 'text/plain', origin: LANDER_ORIGIN },
    body: stream,
    duplex: 'half',
  } as RequestInit);
}

async function snapshot() {
  return { sessions: await collector.store.countSessions(), jobs: (await collector.store.listJobs({})).length };
}

describe('POST /v1/events accepts', () => {
  it('mints a signed session on the first event and answers with what the snippet keeps', async () => {
    const body = await firstVisit();
    expect(body.accepted).toBe(1);
    expect(verifySession(TEST_SECRET, body.session, Date.now())).toMatchObject({ ok: true, sessionId: body.ids.session });
    expect(body.link.startsWith('l.')).toBe(true);
    expect(body.linkExpires).toBeGreaterThan(Date.now());
    const session = await collector.store.getSession(body.ids.session);
    expect(session?.landingUrl).toBe('https://offer.example/?affId=A1');
    expect(session?.campaignId).toBe('12');
  });

  it("answers a returning visitor with its session's token, and one adopted by link token with the token of the adopted session", async () => {
    const first = await firstVisit();
    const again = await collector.post({ session: first.session, events: [ev.page('checkout', 'https://offer.example/checkout')] });
    expect(again.status).toBe(200);
    const body = (await again.json()) as IngestResponse;
    expect(body.session).toBe(first.session);
    const adopted = (await (await collector.post({ link: first.link, events: [ev.page('checkout', 'https://other.example/checkout')] })).json()) as IngestResponse;
    expect(verifySession(TEST_SECRET, adopted.session, Date.now())).toMatchObject({ ok: true, sessionId: first.ids.session });
  });

  it('refuses an expired session token with invalid_session, so the snippet starts anew, and stores nothing', async () => {
    const first = await firstVisit();
    const before = await snapshot();
    const expired = signSession(TEST_SECRET, first.ids.session, Date.now() - 1);
    const res = await collector.post({ session: expired, events: [ev.page('checkout', 'https://offer.example/checkout')] });
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ error: { code: 'invalid_session', message: 'The session token has expired; start a new session.' } });
    expect(await snapshot()).toEqual(before);
  });

  it('hands out session tokens that expire SESSION_TTL after the visit that renewed them', async () => {
    await collector.close();
    collector = await startTestCollector(testEnv({ SECRET: TEST_SECRET, KONNEKTIVE_CAMPAIGNS: '12', SESSION_TTL: '3d' }));
    const before = Date.now();
    const body = await firstVisit();
    const check = verifySession(TEST_SECRET, body.session, before);
    expect(check.ok && check.expiresAt >= before + 3 * 86_400_000 && check.expiresAt <= Date.now() + 3 * 86_400_000).toBe(true);
    // A token two days old (one day of its life left) is renewed for another three days.
    const aged = signSession(TEST_SECRET, body.ids.session, Date.now() + 86_400_000);
    const renewed = (await (await collector.post({ session: aged, events: [ev.exit('presell')] })).json()) as IngestResponse;
    expect(renewed.session).not.toBe(aged);
    expect(verifySession(TEST_SECRET, renewed.session, Date.now() + 2 * 86_400_000)).toMatchObject({ ok: true, sessionId: body.ids.session });
  });

  it('takes a chunked body under the limit', async () => {
    const body = JSON.stringify({ events: [ev.page('presell', 'https://offer.example/')] });
    const res = await fetch(`${collector.url}/v1/events`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain', origin: LANDER_ORIGIN },
      body: new ReadableStream({
        start(controller) {
          controller.enqueue(new TextEncoder().encode(body.slice(0, 20)));
          controller.enqueue(new TextEncoder().encode(body.slice(20)));
          controller.close();
        },
      }),
      duplex: 'half',
    } as RequestInit);
    expect(res.status).toBe(200);
  });

  it('takes application/json as well as text/plain, and answers CORS for the lander origin', async () => {
    const res = await collector.post({ events: [ev.page('lead', 'https://offer.example/lead')] }, { contentType: 'application/json' });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe(LANDER_ORIGIN);
  });

  it('answers the preflight of an application/json request from a lander, and no other origin', async () => {
    const preflight = (origin: string) =>
      fetch(`${collector.url}/v1/events`, {
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
      });
    const lander = await preflight(LANDER_ORIGIN);
    expect(lander.status).toBe(204);
    expect(lander.headers.get('access-control-allow-origin')).toBe(LANDER_ORIGIN);
    expect(lander.headers.get('access-control-allow-headers')).toMatch(/content-type/i);
    const other = await preflight('https://evil.example');
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('lets the lander read its error answers too (the snippet recovers from invalid_session)', async () => {
    const res = await collector.post({ session: signSession(TEST_SECRET, newSessionId(Date.now()), Date.now() + 60_000), events: [ev.exit('lead')] });
    expect(res.status).toBe(401);
    expect(res.headers.get('access-control-allow-origin')).toBe(LANDER_ORIGIN);
  });

  it('treats a resent event as a no-op', async () => {
    const page = ev.page('presell', 'https://offer.example/');
    const first = (await (await collector.post({ events: [page] })).json()) as IngestResponse;
    const again = await collector.post({ session: first.session, events: [page] });
    expect(await again.json()).toMatchObject({ accepted: 0, duplicates: 1 });
    expect(await collector.store.listEvents(first.ids.session)).toHaveLength(1);
    expect(await collector.store.listJobs({ sessionId: first.ids.session })).toHaveLength(1);
  });

  it('continues the session a first batch opened when that batch is resent without its answer', async () => {
    const page = ev.page('presell', 'https://offer.example/');
    const first = (await (await collector.post({ events: [page] })).json()) as IngestResponse;
    const resent = (await (await collector.post({ events: [page, ev.exit('presell')] })).json()) as IngestResponse;
    expect(resent.ids.session).toBe(first.ids.session);
    expect(resent).toMatchObject({ accepted: 1, duplicates: 1 });
    expect(verifySession(TEST_SECRET, resent.session, Date.now())).toMatchObject({ ok: true, sessionId: first.ids.session });
    expect(await collector.store.countSessions()).toBe(1);
    // Another browser presenting those event ids gets a session of its own.
    const other = (await (await collector.post({ events: [page] }, { userAgent: 'Mozilla/5.0 (Macintosh) Safari/605.1.15' })).json()) as IngestResponse;
    expect(other.ids.session).not.toBe(first.ids.session);
  });

  it('moves a session to another domain with a link token, and starts anew on a stale or forged one', async () => {
    const first = await firstVisit();
    const adopted = (await (await collector.post({ link: first.link, events: [ev.page('checkout', 'https://secure.example/')] })).json()) as IngestResponse;
    expect(adopted.ids.session).toBe(first.ids.session);
    expect(adopted.linkRefused).toBeUndefined();

    const expired = signLink(TEST_SECRET, first.ids.session, Date.now() - 1);
    const fresh = (await (await collector.post({ link: expired, events: [ev.page('checkout', 'https://secure.example/')] })).json()) as IngestResponse;
    expect(fresh.ids.session).not.toBe(first.ids.session);
    expect(fresh.linkRefused).toBe(true);

    const forged = first.link.slice(0, -2) + (first.link.endsWith('AA') ? 'BB' : 'AA');
    const other = (await (await collector.post({ link: forged, events: [ev.page('checkout', 'https://secure.example/')] })).json()) as IngestResponse;
    expect(other.ids.session).not.toBe(first.ids.session);
    expect(other.linkRefused).toBe(true);
  });

  it('adopts with a link token once: a second use starts a new session, but a resend of the first use finds its session', async () => {
    const first = await firstVisit();
    const landing = ev.page('checkout', 'https://secure.example/');
    const adopted = (await (await collector.post({ link: first.link, events: [landing] })).json()) as IngestResponse;
    expect(adopted.ids.session).toBe(first.ids.session);
    // The same request again (its answer was lost): the same session, nothing stored twice.
    const resent = (await (await collector.post({ link: first.link, events: [landing] })).json()) as IngestResponse;
    expect(resent).toMatchObject({ accepted: 0, duplicates: 1, ids: { session: first.ids.session } });
    expect(resent.linkRefused).toBeUndefined();
    // Anyone else presenting the spent token (a shared URL, a second tab) is a new visitor.
    const reused = (await (await collector.post({ link: first.link, events: [ev.page('checkout', 'https://secure.example/')] })).json()) as IngestResponse;
    expect(reused.ids.session).not.toBe(first.ids.session);
    expect(reused.linkRefused).toBe(true);
    expect(await collector.store.listEvents(first.ids.session)).toHaveLength(2);
  });

  it('spends a link token once across two collectors sharing the store', async () => {
    const first = await firstVisit();
    const second = await startTestCollector(testEnv({ SECRET: TEST_SECRET, KONNEKTIVE_CAMPAIGNS: '12', DATABASE_URL: collector.config.databaseUrl }));
    try {
      const answers = await Promise.all(
        [collector, second].map(async (each) => (await (await each.post({ link: first.link, events: [ev.page('checkout', 'https://secure.example/')] })).json()) as IngestResponse),
      );
      expect(answers.filter((answer) => answer.ids.session === first.ids.session)).toHaveLength(1);
      expect(answers.filter((answer) => answer.linkRefused)).toHaveLength(1);
    } finally {
      await second.close();
    }
  });

  it('keeps a bot\'s events but queues no upstream call for it', async () => {
    const res = await collector.post({ events: [ev.page('presell', 'https://offer.example/')] }, { userAgent: 'Googlebot/2.1 (+http://www.google.com/bot.html)' });
    expect(res.status).toBe(200);
    const body = (await res.json()) as IngestResponse;
    expect(await collector.store.listEvents(body.ids.session)).toHaveLength(1);
    expect(await collector.store.listJobs({ sessionId: body.ids.session })).toHaveLength(0);
  });
});

describe('POST /v1/events and the text "\\u0000"', () => {
  // A real backslash followed by `u0000`: JSON writes it `\\u0000`, and that is no NUL character.
  const backslashU0000 = 'C:\\u0000dir';

  it('keeps a URL and a lead value holding a backslash then u0000, which are not NUL characters', async () => {
    const url = `https://offer.example/?q=${backslashU0000}`;
    const text = JSON.stringify({ campaign: '12', events: [ev.page('presell', url), ev.lead({ city: backslashU0000 })] });
    expect(text).toContain('\\u0000');
    const res = await collector.post(text, { raw: true });
    expect(res.status).toBe(200);
    const body = (await res.json()) as IngestResponse;
    expect(body.accepted).toBe(2);
    const session = await collector.store.getSession(body.ids.session);
    expect(session?.landingUrl).toBe(url);
    expect(session?.lead).toMatchObject({ city: backslashU0000 });
  });

  it('still refuses a real NUL character, in a value or in a key, and stores nothing', async () => {
    for (const [body, message] of [
      [{ campaign: '12', events: [ev.page('presell', 'https://offer.example/'), ev.lead({ city: 'Ber\u0000lin' })] }, 'events.1.fields.city: a NUL character (U+0000) cannot be stored'],
      [{ campaign: '12', events: [ev.page('presell', 'https://offer.example/')], 'pad\u0000': 1 }, 'body: Unrecognized key: "pad\u0000"'],
    ] as const) {
      const before = await snapshot();
      const res = await collector.post(body);
      expect(res.status).toBe(400);
      expect(await res.json()).toEqual({ error: { code: 'invalid_events', message } });
      expect(await snapshot()).toEqual(before);
    }
  });
});

describe('POST /v1/events trims lead values', () => {
  it('keeps a lead value longer than Konnektive takes as typed, without refusing the batch', async () => {
    const first = await firstVisit();
    const res = await collector.post({ session: first.session, events: [ev.lead({ firstName: 'A'.repeat(80), lastName: 'Lee' })] });
    expect(res.status).toBe(200);
    expect((await collector.store.getSession(first.ids.session))?.lead).toEqual({ firstName: 'A'.repeat(80), lastName: 'Lee' });
  });
});

describe('POST /v1/events drops a phone too short to be one', () => {
  it('keeps a security code typed into a phone field out of the stored event and the lead', async () => {
    const first = await firstVisit();
    const res = await collector.post({ session: first.session, events: [ev.lead({ firstName: 'Ann', phoneNumber: '737' })] });
    expect(res.status).toBe(200);
    const stored = JSON.stringify(await collector.store.listEvents(first.ids.session));
    expect(stored).toContain('Ann');
    expect(stored).not.toContain('737');
    expect((await collector.store.getSession(first.ids.session))?.lead).toEqual({ firstName: 'Ann' });
  });
});

describe('POST /v1/events drops card numbers', () => {
  it('removes a card number typed into a lead field before it is stored, and counts it', async () => {
    const first = await firstVisit();
    const res = await collector.post({
      session: first.session,
      events: [ev.lead({ firstName: 'Ann', lastName: 'Lee', emailAddress: 'ann@example.com', address2: '4111 1111 1111 1111' })],
    });
    expect(res.status).toBe(200);
    const session = await collector.store.getSession(first.ids.session);
    expect(session?.lead).toEqual({ firstName: 'Ann', lastName: 'Lee', emailAddress: 'ann@example.com' });
    const stored = JSON.stringify(await collector.store.listEvents(first.ids.session));
    expect(stored).not.toMatch(/4111.?1111/); // not bare 4111: a millisecond timestamp may hold it
    const metrics = await (await fetch(`${collector.url}/metrics`)).text();
    expect(metrics).toMatch(/^funnelbeacon_card_numbers_dropped_total\{field="address2",param=""\} 1$/m);
  });

  it('removes a URL parameter that is a card number, keeps the rest of the URL as sent, and names the parameter', async () => {
    const landing = 'https://offer.example/?utm_content=23851234567890121&cc=4111%201111%201111%201111&c1=a%20b#x';
    const res = await collector.post({ campaign: '12', events: [ev.page('presell', landing, 'https://news.example/?n=5555555555554444')] });
    expect(res.status).toBe(200);
    const { ids } = (await res.json()) as IngestResponse;
    const session = await collector.store.getSession(ids.session);
    expect(session?.landingUrl).toBe('https://offer.example/?utm_content=23851234567890121&c1=a%20b#x');
    expect(session?.referrer).toBe('https://news.example/');
    const metrics = await (await fetch(`${collector.url}/metrics`)).text();
    expect(metrics).toMatch(/^funnelbeacon_card_numbers_dropped_total\{field="url",param="cc"\} 1$/m);
    expect(metrics).toMatch(/^funnelbeacon_card_numbers_dropped_total\{field="referrer",param="n"\} 1$/m);
  });

  it('stores a Facebook ad id, a German mobile number and an email holding 13 digits exactly as sent', async () => {
    // Each passes Luhn: the filter used to cut them out of the value.
    const landing = 'https://offer.example/presell?utm_source=fb&utm_content=23851234567890121';
    const lead = { firstName: 'Jo', lastName: 'Lee', emailAddress: 'ann.1234567890128@example.com', phoneNumber: '+49 1512 3456787' };
    const res = await collector.post({ campaign: '12', events: [ev.page('presell', landing), ev.lead(lead)] });
    expect(res.status).toBe(200);
    const { ids } = (await res.json()) as IngestResponse;
    const session = await collector.store.getSession(ids.session);
    expect(session?.landingUrl).toBe(landing);
    expect(session?.lead).toEqual(lead);
    const events = await collector.store.listEvents(ids.session);
    expect(events.map((event) => event.payload)).toEqual([
      expect.objectContaining({ url: landing }),
      expect.objectContaining({ fields: lead }),
    ]);
  });
});

describe('POST /v1/events, generated values through the real ingest path', () => {
  const stored = async (sessionId: string) => {
    const session = await collector.store.getSession(sessionId);
    return { session, events: (await collector.store.listEvents(sessionId)).map((event) => event.payload) };
  };

  it('ids in URLs, international phone numbers and emails with digit runs reach the store unchanged', async () => {
    await fc.assert(
      fc.asyncProperty(idParam, numericId, internationalPhone, emailWithDigits, numericId, async (param, id, phone, email, productId) => {
        const landing = `https://offer.example/presell?affId=A7&${param}=${id}&utm_source=fb`;
        const referrer = `https://l.facebook.example/?u=1&ad_id=${id}`;
        const lead = { firstName: 'Ann', lastName: 'Lee', emailAddress: email, phoneNumber: phone, address2: `ref ${id}` };
        const item = { id: '41', name: `Bottle ${productId}`, price: 39.95, qty: 1 };
        const res = await collector.post({ campaign: '12', events: [ev.page('presell', landing, referrer), ev.lead(lead), ev.cart([item])] });
        expect(res.status).toBe(200);
        const { ids } = (await res.json()) as IngestResponse;
        const { session, events } = await stored(ids.session);
        expect(session).toMatchObject({ landingUrl: landing, referrer, lead });
        expect(events).toEqual([
          expect.objectContaining({ url: landing, referrer }),
          expect.objectContaining({ fields: lead }),
          expect.objectContaining({ items: [item] }),
        ]);
      }),
      { numRuns: 40 },
    );
  });

  it('a card number of any brand, in every field, URL parameter, referrer and product name, never reaches the store', async () => {
    await fc.assert(
      fc.asyncProperty(anyCard, fc.constantFrom(...LEAD_FIELDS), idParam, fc.constantFrom('query', 'path'), async (card, field, param, where) => {
        const written = card.written.replace(/ /g, '+');
        const landing = where === 'query' ? `https://offer.example/p?${param}=${written}` : `https://offer.example/p/${written}?c1=x`;
        const lead = { firstName: 'Ann', lastName: 'Lee', emailAddress: 'ann@example.com', [field]: card.written };
        const res = await collector.post({
          campaign: '12',
          events: [ev.page('presell', landing, landing), ev.lead(lead), ev.cart([{ id: '41', name: `Gift ${card.written}`, price: 1, qty: 1 }])],
        });
        expect(res.status).toBe(200);
        const { ids } = (await res.json()) as IngestResponse;
        const everything = decodeURIComponent(JSON.stringify(await stored(ids.session)));
        expect(everything.replace(/\D/g, '')).not.toContain(card.digits);
        expect(everything).not.toContain(card.written);
      }),
      { numRuns: 40 },
    );
  });
});

describe('POST /v1/events, every string field of every event type', () => {
  it('covers every event type that has a string field', () => {
    expect(new Set(SLOTS.map((slot) => slot.type))).toEqual(new Set(['page', 'lead', 'cart', 'order', 'attribution']));
    expect(SLOTS).toHaveLength(2 + LEAD_FIELDS.length + 8 + 1 + ATTRIBUTION_KEYS.length);
  });

  // Hundreds of requests through the real server: about 4 s on a quiet two-core machine.
  it('a card number of any brand in any of them never reaches the store: dropped whole, or the batch is refused with a 400', { timeout: 30_000 }, async () => {
    for (const { type, path, kind } of SLOTS) {
      await fc.assert(
        fc.asyncProperty(anyCard, idParam, fc.boolean(), async (card, param, inPath) => {
          const base = path.at(-1) === 'imageUrl' ? 'https://cdn.example/b.png' : 'https://offer.example/p';
          const value = kind === 'url'
            ? inPath
              ? `https://offer.example/c/${encodeURIComponent(card.written)}?c1=x`
              : `${base}?affId=A7&${param}=${encodeURIComponent(card.written)}`
            : path.at(-1) === 'orderId'
              ? card.written.replace(/ /g, '-')
              : card.written;
          const before = await snapshot();
          const res = await collector.post({ campaign: '12', events: [ev.page('presell', 'https://offer.example/?affId=A1'), withValue({ type, path }, value)] });
          const what = `${type} ${path.join('.')}: ${value}`;
          if (res.status === 400) {
            // Only a value no event is valid without (or one the schema refuses) refuses the batch.
            expect(['id', 'orderId', 'currency'], what).toContain(path.at(-1));
            expect(await res.json()).toEqual({ error: { code: 'invalid_events', message: expect.any(String) } });
            expect(await snapshot()).toEqual(before);
            return;
          }
          expect(res.status, what).toBe(200);
          const { ids } = (await res.json()) as IngestResponse;
          const everything = JSON.stringify({
            session: await collector.store.getSession(ids.session),
            events: await collector.store.listEvents(ids.session),
            jobs: await collector.store.listJobs({ sessionId: ids.session }),
          });
          expect(decodeURIComponent(everything).replace(/\D/g, ''), what).not.toContain(card.digits);
        }),
        { numRuns: 8 },
      );
    }
  });

  it('a cart item id or order id holding a card number refuses the batch, names the field, and stores nothing', async () => {
    for (const event of [
      ev.cart([{ id: '41', price: 1, qty: 1 }, { id: '4111 1111 1111 1111', price: 1, qty: 1 }]),
      ev.order('5555-5555-5555-4444'),
    ]) {
      const before = await snapshot();
      const res = await collector.post({ campaign: '12', events: [ev.page('presell', 'https://offer.example/'), event] });
      expect(res.status).toBe(400);
      const { error } = (await res.json()) as { error: { code: string; message: string } };
      expect(error.code).toBe('invalid_events');
      expect(error.message).toMatch(event.type === 'cart' ? /^items\.1\.id of a cart event holds a card number/ : /^orderId of an order event holds a card number/);
      expect(await snapshot()).toEqual(before);
    }
    expect(await (await fetch(`${collector.url}/metrics`)).text()).toMatch(/^funnelbeacon_events_rejected_total\{reason="invalid_events"\} 2$/m);
  });

  it('ad and click ids, phone numbers and emails with digit runs in any of them reach the store unchanged', async () => {
    const value = fc.oneof(numericId, clickId, internationalPhone, emailWithDigits);
    await fc.assert(
      fc.asyncProperty(fc.array(value, { minLength: SLOTS.length, maxLength: SLOTS.length }), numericId, idParam, async (values, orderId, param) => {
        const events = (Object.keys(FULL_EVENTS) as FunnelEvent['type'][]).map((type) => {
          const event = structuredClone({ id: randomUUID(), ...FULL_EVENTS[type] });
          SLOTS.forEach(({ type: slotType, path, kind }, i) => {
            if (slotType !== type || kind === 'currency') return;
            const base = path.at(-1) === 'imageUrl' ? 'https://cdn.example/b.png' : 'https://offer.example/p';
            let written = kind === 'url' ? `${base}?affId=A7&${param}=${encodeURIComponent(values[i]!)}` : kind === 'orderId' ? orderId : values[i]!;
            const parent = path.slice(0, -1).reduce((at: any, key) => at[key], event as any);
            parent[path.at(-1)!] = written;
            // Longer than the field keeps (an email as a postal code): the schema would cut it.
            const parsed = path.reduce((at: any, key) => at[key], FunnelEvent.parse(event) as any);
            if (parsed !== written) parent[path.at(-1)!] = written = orderId;
          });
          return event;
        });
        const res = await collector.post({ campaign: '12', events });
        expect(res.status).toBe(200);
        const { ids } = (await res.json()) as IngestResponse;
        const stored = (await collector.store.listEvents(ids.session)).map((event) => event.payload);
        // Unchanged, but for an id too short to be a phone written as the phone: dropped whole.
        const expected = structuredClone(events) as FunnelEvent[];
        for (const event of expected) if (event.type === 'lead') dropShortPhone(event.fields);
        expect(stored).toEqual(expected);
      }),
      { numRuns: 30 },
    );
  });
});

describe('POST /v1/events rejects, stores nothing, and says why', () => {
  const page = () => ({ campaign: '12', events: [ev.page('presell', 'https://offer.example/')] });

  const cases: [string, () => Promise<Response>, number, string][] = [
    ['malformed JSON', () => collector.post('{"events": [', { raw: true }), 400, 'malformed_json'],
    ['a body over 64 KiB', () => collector.post(JSON.stringify({ events: [], pad: 'x'.repeat(70_000) }), { raw: true }), 413, 'body_too_large'],
    ['a chunked body over 64 KiB (no Content-Length)', () => postChunked(70_000), 413, 'body_too_large'],
    ['an unknown event type', () => collector.post({ events: [{ id: randomUUID(), type: 'purchase' }] }), 400, 'invalid_events'],
    ['an event id that is not a UUID', () => collector.post({ events: [{ ...ev.page('lead', 'https://x.example/'), id: '42' }] }), 400, 'invalid_events'],
    ['an unknown page name', () => collector.post({ events: [{ ...ev.page('lead', 'https://x.example/'), page: 'home' }] }), 400, 'invalid_events'],
    ['an oversized string', () => collector.post({ events: [ev.page('lead', `https://x.example/${'x'.repeat(2048)}`)] }), 400, 'invalid_events'],
    ['an absurdly long lead value', () => collector.post({ events: [ev.lead({ firstName: 'x'.repeat(1025) })] }), 400, 'invalid_events'],
    ['an unknown lead field', () => collector.post({ events: [ev.lead({ cardNumber: '4111111111111111' })] }), 400, 'invalid_events'],
    ['a negative price', () => collector.post({ events: [ev.cart([{ id: '1', price: -1, qty: 1 }])] }), 400, 'invalid_events'],
    ['51 events', () => collector.post({ events: Array.from({ length: 51 }, () => ev.exit('lead')) }), 400, 'invalid_events'],
    ['an empty batch without a session', () => collector.post({ events: [] }), 400, 'invalid_events'],
    ['another content type', () => collector.post(page(), { contentType: 'application/x-www-form-urlencoded' }), 415, 'unsupported_media_type'],
    ['an origin that is not allowed', () => collector.post(page(), { origin: 'https://evil.example' }), 403, 'origin_not_allowed'],
    ['no origin at all', () => fetch(`${collector.url}/v1/events`, { method: 'POST', body: JSON.stringify(page()) }), 403, 'origin_not_allowed'],
    ['a campaign that is not allowed', () => collector.post({ ...page(), campaign: '99' }), 403, 'campaign_not_allowed'],
    ['a forged session token', () => collector.post({ ...page(), session: signSession('another-secret-of-enough-length-000000', newSessionId(Date.now()), Date.now() + 60_000) }), 401, 'invalid_session'],
    ['a well-signed token for a session this collector does not know', () => collector.post({ ...page(), session: signSession(TEST_SECRET, newSessionId(Date.now()), Date.now() + 60_000) }), 401, 'invalid_session'],
  ];

  for (const [what, send, status, code] of cases) {
    it(`${what}: ${status} ${code}`, async () => {
      const before = await snapshot();
      const res = await send();
      expect(res.status).toBe(status);
      expect(await res.json()).toEqual({ error: { code, message: expect.any(String) } });
      expect(await snapshot()).toEqual(before);
    });
  }

  it('a schema violation in a known session changes nothing in it', async () => {
    const first = await firstVisit();
    const res = await collector.post({ session: first.session, events: [ev.lead({ firstName: 'Ann' }), { id: 'nope', type: 'lead', fields: {} }] });
    expect(res.status).toBe(400);
    expect((await collector.store.getSession(first.ids.session))?.lead).toEqual({});
    expect(await collector.store.listEvents(first.ids.session)).toHaveLength(1);
  });

  it('too many requests from one address: 429 with Retry-After', async () => {
    await collector.close();
    collector = await startTestCollector(testEnv({ SECRET: TEST_SECRET, RATE_LIMIT_PER_MINUTE: '3' }));
    for (let i = 0; i < 3; i++) expect((await collector.post(page())).status).toBe(200);
    const before = await snapshot();
    const res = await collector.post(page());
    expect(res.status).toBe(429);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await res.json()).toEqual({ error: { code: 'rate_limited', message: expect.any(String) } });
    expect(await snapshot()).toEqual(before);
  });

  it('counts rejections by reason in /metrics', async () => {
    await collector.post('nope', { raw: true });
    await collector.post(page(), { origin: 'https://evil.example' });
    const metrics = await (await fetch(`${collector.url}/metrics`)).text();
    expect(metrics).toMatch(/funnelbeacon_events_rejected_total\{reason="malformed_json"\} 1/);
    expect(metrics).toMatch(/funnelbeacon_events_rejected_total\{reason="origin_not_allowed"\} 1/);
  });
});
