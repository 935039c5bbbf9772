import { describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { parsePhoneNumberFromString } from 'libphonenumber-js/max';
import { cardBrands, cardDropLabeller, containsCardNumber, isValidPhone, isWholeCardNumber, passesLuhn, scrubEvent, scrubUrl } from './card-filter.js';
import { FunnelEvent, LEAD_FIELDS, type LeadField } from './wire-schema.js';
import { FULL_EVENTS, SLOTS, withValue, type Slot } from '../test/support/every-field.js';
import {
  anyCard,
  CARD_BRANDS,
  cardOfBrand,
  clickId,
  emailWithDigits,
  idParam,
  internationalPhone,
  numericId,
  type GeneratedCard,
} from '../test/support/value-arbitraries.js';

const lead = (fields: Partial<Record<LeadField, string>>) => FunnelEvent.parse({ id: randomUUID(), type: 'lead', fields });
const page = (url: string, referrer?: string) =>
  FunnelEvent.parse({ id: randomUUID(), type: 'page', page: 'presell', url, ...(referrer !== undefined ? { referrer } : {}) });
const cart = (name: string) => FunnelEvent.parse({ id: randomUUID(), type: 'cart', items: [{ id: '41', name, price: 39.95, qty: 1 }], currency: 'USD' });

/** Published test numbers of the major brands. */
const TEST_CARDS: [string, string][] = [
  ['visa', '4111111111111111'],
  ['visa', '4012888888881881'],
  ['mastercard', '5555555555554444'],
  ['mastercard', '2223003122003222'],
  ['american-express', '378282246310005'],
  ['american-express', '371449635398431'],
  ['discover', '6011111111111117'],
  ['discover', '6011000990139424'],
  ['diners-club', '30569309025904'],
  ['diners-club', '38520000023237'],
  ['jcb', '3530111333300000'],
  ['jcb', '3566002020360505'],
  ['unionpay', '6200000000000005'],
  ['unionpay', '6212345678901232'],
  ['maestro', '6759649826438453'],
  ['mir', '2200000000000004'],
  ['elo', '5066991111111118'],
];

describe('card numbers', () => {
  it('knows Luhn-valid numbers', () => {
    expect(passesLuhn('4111111111111111')).toBe(true);
    expect(passesLuhn('4111111111111112')).toBe(false);
  });

  it('takes a number for a card only with a brand prefix and length as well as Luhn', () => {
    for (const [brand, number] of TEST_CARDS) {
      expect(cardBrands(number), number).toContain(brand);
      expect(isWholeCardNumber(number), number).toBe(true);
    }
    // Luhn-valid, but no brand starts 238 (a Facebook ad id) or 1 (a numeric campaign id).
    for (const id of ['23851234567890121', '1234567890128', '120212345678901231']) {
      expect(passesLuhn(id), id).toBe(true);
      expect(isWholeCardNumber(id), id).toBe(false);
    }
    // A Visa prefix with a length Visa does not issue.
    expect(passesLuhn('41111111111111113')).toBe(true);
    expect(isWholeCardNumber('41111111111111113')).toBe(false);
  });

  it('finds a card number written with spaces or dashes, or beside an expiry or CVV', () => {
    for (const value of ['4111 1111 1111 1111', '4111-1111-1111-1111', '3782 822463 10005', 'notes 5555 5555 5555 4444 thanks', '4111111111111111 12/25', '4111 1111 1111 1111 123', '12 25 4111 1111 1111 1111']) {
      expect(containsCardNumber(value), value).toBe(true);
    }
  });

  it('does not take the digit groups of a UUID, or digits glued to letters, for a card number', () => {
    // This UUID holds "8-4081-9561-383446", a Luhn-valid run of 15 digits with dashes.
    expect(containsCardNumber('https://x.example/order/48adc716-1cb8-4081-9561-383446c3b624')).toBe(false);
    expect(containsCardNumber('ref4111111111111111')).toBe(false);
  });
});

describe('scrubEvent keeps a value whole or drops it whole', () => {
  it('drops a lead field holding a card number, and only that field', () => {
    const event = lead({ firstName: 'Ann', address2: 'apt 4, card 4111 1111 1111 1111' });
    expect(scrubEvent(event)).toEqual([{ field: 'address2' }]);
    expect(event).toMatchObject({ fields: { firstName: 'Ann' } });
    expect(event.type === 'lead' && 'address2' in event.fields).toBe(false);
  });

  it('keeps a German mobile number written in international form whole', () => {
    const event = lead({ firstName: 'Jo', phoneNumber: '+49 1512 3456787' });
    expect(scrubEvent(event)).toEqual([]);
    expect(event).toMatchObject({ fields: { phoneNumber: '+49 1512 3456787' } });
  });

  it('still drops a card number typed into the phone field', () => {
    const event = lead({ phoneNumber: '4111 1111 1111 1111' });
    expect(scrubEvent(event)).toEqual([{ field: 'phoneNumber' }]);
  });

  it('keeps an email whose local part holds a 13-digit number, and drops an email field that is a card number', () => {
    const email = lead({ emailAddress: 'ann.1234567890128@example.com' });
    expect(scrubEvent(email)).toEqual([]);
    expect(email).toMatchObject({ fields: { emailAddress: 'ann.1234567890128@example.com' } });
    const card = lead({ emailAddress: '5555555555554444' });
    expect(scrubEvent(card)).toEqual([{ field: 'emailAddress' }]);
  });

  it('keeps a card number of a long lead value whole for the filter instead of cutting it to the field length', () => {
    const event = lead({ postalCode: '6011 0009 9013 9424 12/27' });
    expect(scrubEvent(event)).toEqual([{ field: 'postalCode' }]);
  });

  it('drops a product name holding a card number', () => {
    const event = cart('Bottle 4111-1111-1111-1111');
    expect(scrubEvent(event)).toEqual([{ field: 'item_name' }]);
    expect(event.type === 'cart' && event.items[0]).toEqual({ id: '41', price: 39.95, qty: 1 });
  });
});

describe('scrubUrl', () => {
  it('keeps a Facebook ad id in utm_content, byte for byte', () => {
    const url = 'https://offer.example/presell?utm_source=fb&utm_content=23851234567890121&fbclid=IwAR2x_Y%20z#top';
    expect(scrubUrl(url)).toEqual({ value: url, removedParams: [], droppedWhole: false });
  });

  it('removes only a parameter whose whole value is a card number, keeping the rest as written', () => {
    expect(scrubUrl('https://x.example/p?a=1&cc=4111+1111+1111+1111&b=%2F2&&c#frag')).toEqual({
      value: 'https://x.example/p?a=1&b=%2F2&&c#frag',
      removedParams: ['cc'],
      droppedWhole: false,
    });
    expect(scrubUrl('https://x.example/?card=4111-1111-1111-1111').value).toBe('https://x.example/');
    expect(scrubUrl('https://x.example/?n=5555%205555%205555%204444&x=1').value).toBe('https://x.example/?x=1');
    expect(scrubUrl('https://x.example/?x=1&n=378282246310005#a').value).toBe('https://x.example/?x=1#a');
  });

  it('drops the whole URL for a card number anywhere else: path, fragment, inside a longer value', () => {
    for (const url of [
      'https://x.example/pay/4111111111111111/ok',
      'https://x.example/#cc=4111111111111111',
      'https://x.example/?note=card%204111%201111%201111%201111',
      'https://x.example/?4111111111111111=1',
    ]) {
      expect(scrubUrl(url), url).toEqual({ value: undefined, removedParams: [], droppedWhole: true });
    }
  });

  it('empties a page URL dropped whole, removes a referrer dropped whole, and names removed parameters', () => {
    const event = page('https://x.example/?cc=5555555555554444&utm_content=23851234567890121', 'https://r.example/4111111111111111');
    expect(scrubEvent(event)).toEqual([{ field: 'url', param: 'cc' }, { field: 'referrer' }]);
    expect(event).toMatchObject({ url: 'https://x.example/?utm_content=23851234567890121' });
    expect(event.type === 'page' && 'referrer' in event).toBe(false);
    const whole = page('https://x.example/4111111111111111');
    expect(scrubEvent(whole)).toEqual([{ field: 'url' }]);
    expect(whole).toMatchObject({ url: '' });
  });
});

describe('metric labels', () => {
  it('names a removed parameter, with a bounded number of distinct names', () => {
    const label = cardDropLabeller(2);
    expect(label({ field: 'address2' })).toEqual({ field: 'address2', param: '' });
    expect(label({ field: 'url', param: 'cc' })).toEqual({ field: 'url', param: 'cc' });
    expect(label({ field: 'url', param: 'card' })).toEqual({ field: 'url', param: 'card' });
    expect(label({ field: 'url', param: 'third' })).toEqual({ field: 'url', param: 'other' });
    expect(label({ field: 'url', param: 'cc' })).toEqual({ field: 'url', param: 'cc' });
    expect(label({ field: 'referrer', param: 'x'.repeat(40) })).toEqual({ field: 'referrer', param: 'other' });
    expect(label({ field: 'referrer', param: 'a b"{}' })).toEqual({ field: 'referrer', param: 'other' });
  });
});

describe('properties', () => {
  it('every brand in the table yields generated numbers the filter takes for cards', () => {
    expect(CARD_BRANDS).toEqual(expect.arrayContaining(['visa', 'mastercard', 'american-express', 'discover', 'diners-club', 'jcb', 'unionpay', 'maestro', 'mir']));
    for (const brand of CARD_BRANDS) {
      fc.assert(
        fc.property(cardOfBrand(brand), (card) => {
          expect(isWholeCardNumber(card.written)).toBe(true);
          expect(containsCardNumber(`ref ${card.written} thanks`)).toBe(true);
        }),
        { numRuns: 50 },
      );
    }
  });

  it('ad, campaign and click ids in any URL parameter, and in the referrer, are kept byte for byte', () => {
    fc.assert(
      fc.property(idParam, fc.oneof(numericId, clickId), fc.constantFrom('', '&utm_source=fb', '#x'), (param, id, rest) => {
        const url = `https://offer.example/presell?affId=A7&${param}=${id}${rest}`;
        const event = page(url, url);
        expect(scrubEvent(event)).toEqual([]);
        expect(event).toMatchObject({ url, referrer: url });
      }),
      { numRuns: 500 },
    );
  });

  it('numeric ids in free-text lead fields and product names are kept', () => {
    fc.assert(
      fc.property(numericId, fc.constantFrom<LeadField>('address1', 'address2', 'city', 'firstName'), (id, field) => {
        const event = lead({ [field]: `ref ${id}` });
        expect(scrubEvent(event)).toEqual([]);
        const item = cart(`Bottle ${id}`);
        expect(scrubEvent(item)).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });

  it('international phone numbers of many countries are kept whole in the phone field', () => {
    fc.assert(
      fc.property(internationalPhone, (phone) => {
        const event = lead({ firstName: 'Ann', phoneNumber: phone });
        expect(scrubEvent(event)).toEqual([]);
        expect(event).toMatchObject({ fields: { phoneNumber: phone } });
      }),
      { numRuns: 1000 },
    );
  });

  it('judges a phone number as libphonenumber does, also without parsing one that has no plus sign', () => {
    const library = (value: string): boolean => {
      try {
        return parsePhoneNumberFromString(value)?.isValid() ?? false;
      } catch {
        return false;
      }
    };
    const phoneLike = fc.oneof(
      internationalPhone,
      internationalPhone.map((phone) => phone.replace(/^\+/, '')),
      internationalPhone.map((phone) => phone.replace(/^\+/, '00')),
      fc.stringMatching(/^(tel:)?[0-9 ()\uFF0B.-]{4,20}$/),
    );
    fc.assert(
      fc.property(phoneLike, (value) => {
        expect(isValidPhone(value)).toBe(library(value));
      }),
      { numRuns: 2000 },
    );
    for (const value of ['5551234567', '(415) 555-2671', '0049 1512 3456787', '011 49 1512 3456787', '+1 415 555 2671']) {
      expect(isValidPhone(value)).toBe(library(value));
    }
  });

  it('emails with digit runs are kept unchanged', () => {
    fc.assert(
      fc.property(emailWithDigits, (email) => {
        const event = lead({ emailAddress: email });
        expect(scrubEvent(event)).toEqual([]);
        expect(event).toMatchObject({ fields: { emailAddress: email } });
      }),
      { numRuns: 500 },
    );
  });

  it('a card number of any brand, in any lead field, is dropped with the field', () => {
    fc.assert(
      fc.property(anyCard, fc.constantFrom(...LEAD_FIELDS), fc.constantFrom('', 'note: ', 'x '), (card, field, before) => {
        const event = lead({ firstName: 'Ann', [field]: before + card.written });
        const drops = scrubEvent(event);
        expect(drops).toContainEqual({ field });
        expect(JSON.stringify(event)).not.toContain(card.digits.slice(0, 12));
        expect(JSON.stringify(event).replace(/\D/g, '')).not.toContain(card.digits);
      }),
      { numRuns: 1000 },
    );
  });

  it('a card number of any brand never survives in a URL, a referrer or a product name', () => {
    fc.assert(
      fc.property(anyCard, idParam, numericId, fc.constantFrom('query', 'path', 'fragment', 'inside'), fc.boolean(), (card, param, id, where, encode) => {
        const written = encode ? encodeURIComponent(card.written) : card.written.replace(/ /g, '+');
        const url =
          where === 'query'
            ? `https://offer.example/p?utm_content=${id}&${param}=${written}&c1=blue`
            : where === 'path'
              ? `https://offer.example/p/${written}?utm_content=${id}`
              : where === 'fragment'
                ? `https://offer.example/p?utm_content=${id}#${written}`
                : `https://offer.example/p?utm_content=${id}&${param}=ref-${written}`;
        const event = page(url, url);
        const drops = scrubEvent(event);
        const stored = JSON.stringify(event);
        expect(decodeURIComponent(stored).replace(/\D/g, '')).not.toContain(card.digits);
        if (where === 'query') {
          expect(drops).toEqual([{ field: 'url', param }, { field: 'referrer', param }]);
          expect(event).toMatchObject({ url: `https://offer.example/p?utm_content=${id}&c1=blue` });
        } else {
          expect(drops).toEqual([{ field: 'url' }, { field: 'referrer' }]);
        }
        const item = cart(`Gift ${card.written}`);
        expect(scrubEvent(item)).toEqual([{ field: 'item_name' }]);
      }),
      { numRuns: 1000 },
    );
  });
});

const valueAt = (event: unknown, path: (string | number)[]): unknown => path.reduce((at: any, key) => at?.[key], event);

type Placement = 'whole' | 'inside' | 'query' | 'path';
/** The card written into a slot as a lander might: in URLs as a parameter or in the path. */
function writeCard(slot: Slot, card: GeneratedCard, placement: Placement, param: string): string {
  const encoded = encodeURIComponent(card.written);
  switch (slot.kind) {
    case 'url': {
      const base = slot.label === 'item_imageUrl' ? 'https://cdn.example/b.png' : 'https://offer.example/p';
      return placement === 'path' || placement === 'inside' ? `https://offer.example/c/${encoded}/x?affId=A7` : `${base}?affId=A7&${param}=${encoded}&c1=blue`;
    }
    case 'orderId':
      return (placement === 'inside' ? 'KN-' : '') + card.written.replace(/ /g, '-');
    default:
      return (placement === 'inside' ? 'note: ' : '') + card.written;
  }
}

const digitsOf = (value: unknown) => decodeURIComponent(JSON.stringify(value)).replace(/\D/g, '');

describe('every string field of every event type goes through the filter', () => {
  it('the samples hold every field of every event type (so the slots below are all of them)', () => {
    for (const option of FunnelEvent.options) {
      const type = option.shape.type.value;
      const keys = (schema: { shape: Record<string, unknown> }) => Object.keys(schema.shape).filter((key) => key !== 'ts' && key !== 'id');
      expect(Object.keys(FULL_EVENTS[type]).filter((key) => key !== 'id').sort(), type).toEqual(keys(option).sort());
    }
    const [, leadOption, cartOption] = FunnelEvent.options;
    expect(Object.keys((FULL_EVENTS.lead as any).fields).sort()).toEqual(Object.keys(leadOption.shape.fields.shape).sort());
    expect(Object.keys((FULL_EVENTS.cart as any).items[0]).sort()).toEqual(Object.keys(cartOption.shape.items.element.shape).sort());
    for (const sample of Object.values(FULL_EVENTS)) expect(FunnelEvent.safeParse({ id: randomUUID(), ...sample }).success).toBe(true);
    expect(SLOTS.map((slot) => slot.label)).toEqual(expect.arrayContaining(['url', 'referrer', 'item_id', 'item_sku', 'item_imageUrl', 'orderId', 'currency']));
  });

  it('a card number of any brand in any of them is dropped whole (a URL loses only the parameter), or the request is refused', () => {
    fc.assert(
      fc.property(anyCard, fc.constantFrom(...SLOTS), fc.constantFrom<Placement>('whole', 'inside', 'query', 'path'), idParam, (card, slot, placement, param) => {
        const parsed = FunnelEvent.safeParse(withValue(slot, writeCard(slot, card, placement, param)));
        if (!parsed.success) {
          // The schema itself refuses it (a currency, an order id with spaces): nothing is stored.
          expect(['currency', 'orderId', 'url']).toContain(slot.kind);
          return;
        }
        const event = parsed.data;
        const drops = scrubEvent(event);
        if (drops.some((drop) => drop.refused !== undefined)) {
          expect(drops, slot.label).toEqual([{ field: slot.label, refused: expect.stringContaining('holds a card number') }]);
          expect(slot.refused, slot.label).toBe(true);
          return;
        }
        expect(slot.refused, slot.label).toBe(false);
        expect(digitsOf(event)).not.toContain(card.digits);
        const { id } = event;
        if (slot.kind === 'url' && placement !== 'path' && placement !== 'inside') {
          expect(drops).toEqual([{ field: slot.label, param }]);
          const original = String(valueAt(withValue(slot, writeCard(slot, card, placement, param)), slot.path));
          expect(valueAt(event, slot.path)).toBe(original.replace(`&${param}=${encodeURIComponent(card.written)}`, ''));
        } else {
          expect(drops).toEqual([{ field: slot.label }]);
          // Dropped whole, and nothing else touched: a page's URL is emptied, anything else removed.
          expect(event).toEqual({ ...withValue(slot, slot.label === 'url' ? '' : undefined), id });
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('ad and click ids, phone numbers and emails with digit runs in any of them are kept unchanged', () => {
    const value = fc.oneof(numericId, clickId, internationalPhone, emailWithDigits);
    fc.assert(
      fc.property(fc.constantFrom(...SLOTS.filter((slot) => slot.kind !== 'currency')), value, numericId, idParam, (slot, text, id, param) => {
        const written =
          slot.kind === 'url'
            ? `https://offer.example/p?affId=A7&${param}=${encodeURIComponent(text)}`
            : slot.kind === 'orderId'
              ? id
              : text;
        const parsed = FunnelEvent.safeParse(withValue(slot, written));
        expect(parsed.success, `${slot.label}: ${written}`).toBe(true);
        const event = parsed.data!;
        // Longer than the field keeps: the schema cuts it (and a cut can end in what reads as a card).
        fc.pre(valueAt(event, slot.path) === written);
        const before = structuredClone(event);
        expect(scrubEvent(event)).toEqual([]);
        expect(event).toEqual(before);
      }),
      { numRuns: 2000 },
    );
  });

  it("keeps the snippet's event id, a random UUID, even when its digit groups read as a card number", () => {
    // Found among 5,000,000 randomUUID()s: 188 hold a Luhn-valid run with a brand's prefix and length.
    for (const id of ['61545380-7513-4429-b710-9fbd0e60988a', '22548944-1221-4947-971f-92910ed79fc4', '55101794-1823-4880-a540-9cf0dd0e3799']) {
      expect(containsCardNumber(id), id).toBe(true);
      const event = FunnelEvent.parse({ id, type: 'exit', page: 'lead' });
      expect(scrubEvent(event)).toEqual([]);
      expect(event.id).toBe(id);
    }
  });

  it('refuses a cart item id or an order id that is a card number, naming the field (the route answers 400)', () => {
    const item = FunnelEvent.parse({ id: randomUUID(), type: 'cart', currency: 'USD', items: [{ id: '41', price: 1, qty: 1 }, { id: '4111111111111111', price: 1, qty: 1 }] });
    expect(scrubEvent(item)).toEqual([{ field: 'item_id', refused: expect.stringContaining('items.1.id') }]);
    const order = FunnelEvent.parse({ id: randomUUID(), type: 'order', orderId: '5555-5555-5555-4444' });
    expect(scrubEvent(order)).toEqual([{ field: 'orderId', refused: expect.stringContaining('orderId') }]);
  });
});
