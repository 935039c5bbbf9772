import { readFileSync } from 'node:fs';
import { build } from 'esbuild';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { SNIPPET_BUILD } from '../../build.mjs';
import { AD_KEYS, ATTRIBUTION_KEYS, AttributionEvent } from '../../collector/wire-schema.js';
import { attribute, SEEN, SENT } from '../src/attribution-capture.js';
import { AD_COUNT, gather, KEYS, names, news, type Sent, sentFor } from '../src/attribution-values.js';

const NOW = 1_765_000_000_000;

describe('the attribution keys', () => {
  it('are the wire’s, in its order, the ad platforms’ first', () => {
    expect(KEYS).toEqual([...ATTRIBUTION_KEYS]);
    expect(KEYS.slice(0, AD_COUNT)).toEqual([...AD_KEYS]);
  });

  it('are read from these URL parameters and cookies', () => {
    expect(Object.fromEntries(KEYS.map((key) => [key, names(key)]))).toEqual({
      fbc: ['_fbc'],
      fbp: ['_fbp'],
      ttclid: ['ttclid'],
      ttp: ['_ttp'],
      gclid: ['gclid'],
      gbraid: ['gbraid'],
      wbraid: ['wbraid'],
      affId: ['affId', 'AFFID'],
      c1: ['c1', 'C1'],
      c2: ['c2', 'C2'],
      c3: ['c3', 'C3'],
      c4: ['c4', 'C4'],
      c5: ['c5', 'C5'],
      clickId: ['clickid', 'click_id', 'cid'],
      utm_source: ['utm_source'],
      utm_medium: ['utm_medium'],
      utm_campaign: ['utm_campaign'],
      utm_term: ['utm_term'],
      utm_content: ['utm_content'],
    });
  });
});

describe('gather', () => {
  it('takes every value of the landing URL and the ad cookies, as they arrived', () => {
    const search =
      '?fbclid=AbC_123&ttclid=T.1&gclid=G-1&gbraid=GB&wbraid=WB&affId=A7&c1=s1&C2=S2&c3=a%20b&c4=x%2By&c5=5&click_id=K9' +
      '&utm_source=fb&utm_medium=paid+social&utm_campaign=Spring%26Sale&utm_term=t&utm_content=%C3%A9';
    const cookies = 'other=1; _fbp=fb.1.1700000000000.123456789; _ttp=TtP-xyz; funnelbeacon=s.abc';
    expect(gather(search, cookies, true, NOW)).toEqual({
      fbc: `fb.1.${NOW}.AbC_123`,
      fbp: 'fb.1.1700000000000.123456789',
      ttclid: 'T.1',
      ttp: 'TtP-xyz',
      gclid: 'G-1',
      gbraid: 'GB',
      wbraid: 'WB',
      affId: 'A7',
      c1: 's1',
      c2: 'S2',
      c3: 'a b',
      c4: 'x+y',
      c5: '5',
      clickId: 'K9',
      utm_source: 'fb',
      utm_medium: 'paid social',
      utm_campaign: 'Spring&Sale',
      utm_term: 't',
      utm_content: 'é',
    });
  });

  it('prefers the page’s _fbc cookie to one made from fbclid, and never alters fbclid', () => {
    expect(gather('?fbclid=AbC_123', '_fbc=fb.1.1690000000000.Zz', true, NOW).fbc).toBe('fb.1.1690000000000.Zz');
    expect(gather('?fbclid=IwAR0-Xy_Zz.q%7E', '', true, NOW).fbc).toBe(`fb.1.${NOW}.IwAR0-Xy_Zz.q~`);
    // Parameter names are exact: `FBCLID` is no Meta click.
    expect(gather('?FBCLID=x', '', true, NOW)).toEqual({});
  });

  it('reads a cookie by its exact name only', () => {
    expect(gather('', 'x_fbp=no; __fbp=no; _fbpx=no', true, NOW)).toEqual({});
    expect(gather('', 'a=1;_fbp=no', true, NOW)).toEqual({});
    expect(gather('', 'a=1; _fbp=yes', true, NOW)).toEqual({ fbp: 'yes' });
  });

  it('takes Konnektive’s spellings: affId or AFFID, c1 or C1, clickid, click_id or cid (the first found)', () => {
    expect(gather('?AFFID=B2&C1=up&cid=c-1', '', false, NOW)).toEqual({ affId: 'B2', c1: 'up', clickId: 'c-1' });
    expect(gather('?affId=A&AFFID=B&clickid=k&cid=c', '', false, NOW)).toEqual({ affId: 'A', clickId: 'k' });
    expect(gather('?affid=lower&Clickid=x', '', false, NOW)).toEqual({});
    // An empty value is none: the next spelling counts.
    expect(gather('?affId=&AFFID=B', '', false, NOW)).toEqual({ affId: 'B' });
  });

  it('leaves out a value over 512 characters, never cuts it', () => {
    const long = 'x'.repeat(513);
    expect(gather(`?utm_source=${long}&utm_medium=${'y'.repeat(512)}`, '', false, NOW)).toEqual({ utm_medium: 'y'.repeat(512) });
    // fbc counts as built: 500 characters of fbclid make more than 512.
    expect(gather(`?fbclid=${'f'.repeat(500)}`, '', true, NOW)).toEqual({});
  });

  it('without marketing consent reads no ad key, from the URL or from the cookies it is given', () => {
    expect(gather('?fbclid=F&ttclid=T&gclid=G&gbraid=B&wbraid=W&affId=A7&utm_source=fb', '_fbp=P; _ttp=Q; _fbc=C', false, NOW)).toEqual({
      affId: 'A7',
      utm_source: 'fb',
    });
  });

  it('makes values the collector accepts', () => {
    const values = gather('?fbclid=AbC_123&c1=%F0%9F%98%80&utm_term=a+b', '_fbp=fb.1.1.2', true, NOW);
    expect(AttributionEvent.safeParse({ id: '6f1c1f1e-2a3b-4c5d-8e9f-0a1b2c3d4e5f', type: 'attribution', marketing: true, values }).success).toBe(true);
  });
});

describe('news', () => {
  it('the first time tells the marketing choice, even with no values at all', () => {
    expect(news({}, true)).toEqual({});
    expect(news({}, false)).toEqual({});
    expect(news({ utm_source: 'fb' }, false)).toEqual({ utm_source: 'fb' });
  });

  it('then only keys not sent before, or nothing', () => {
    const sent: Sent = { s: 'S', m: true, k: ['fbc', 'utm_source'] };
    expect(news({ fbc: 'fb.1.2.X', utm_source: 'other' }, true, sent)).toBeUndefined();
    expect(news({ fbc: 'fb.1.2.X', fbp: 'fb.1.3.Y' }, true, sent)).toEqual({ fbp: 'fb.1.3.Y' });
  });

  it('tells a changed marketing choice, with whatever is new', () => {
    expect(news({ utm_source: 'fb' }, false, { m: true, k: ['utm_source'] })).toEqual({});
    expect(news({ utm_source: 'fb', fbp: 'P' }, true, { m: false, k: ['utm_source'] })).toEqual({ fbp: 'P' });
  });
});

describe('sentFor', () => {
  it('applies the record to its session, and one made before any session to the first named since', () => {
    expect(sentFor({ s: 'S', m: true, k: [] }, 'S')).toEqual({ s: 'S', m: true, k: [] });
    expect(sentFor({ m: true, k: [] }, 'S')).toEqual({ m: true, k: [] });
    expect(sentFor({ m: true, k: [] }, undefined)).toEqual({ m: true, k: [] });
  });

  it('does not apply it to another session, or while a link token is arriving', () => {
    expect(sentFor({ s: 'S', m: true, k: [] }, 'T')).toBeUndefined();
    expect(sentFor({ s: 'S', m: true, k: [] }, undefined)).toBeUndefined();
    expect(sentFor(null, 'S')).toBeUndefined();
  });
});

describe('attribute, on a page', () => {
  /** The page: its URL query and cookies, with every read of `document.cookie` counted and every write kept. */
  function page(search: string, cookies: string, protocol = 'http:') {
    const reads = { cookie: 0, written: [] as string[] };
    vi.stubGlobal('location', { search, protocol });
    vi.stubGlobal('document', {
      get cookie() {
        reads.cookie++;
        return cookies;
      },
      set cookie(value: string) {
        reads.written.push(value);
      },
    });
    return reads;
  }
  /**
   * The snippet: its storage (`blocked`: as `local` answers where localStorage throws), its
   * queue, the session it holds and the calls waiting for the next answer.
   */
  function snippet(stored: Record<string, string> = {}, blocked = false) {
    const events: unknown[] = [];
    const answered: (() => void)[] = [];
    const state = { session: undefined as string | undefined };
    const local = (key: string, value?: string) => (blocked ? undefined : value == null ? (stored[key] ?? null) : void (stored[key] = value));
    const run = (marketing: boolean, seen = 'seen') =>
      attribute(marketing, () => state.session, (event) => events.push(event), local, () => seen, answered);
    /** The collector answers: the session is named, and what waited for an answer runs. */
    const answer = (session: string) => {
      state.session = session;
      for (const fn of answered.splice(0)) fn();
    };
    return { events, stored, state, run, answer, answered };
  }
  afterEach(() => {
    vi.unstubAllGlobals();
  });

  it('sends once per session, then only what is new, and keeps what it looked at', () => {
    page('?fbclid=AbC_123&affId=A7', 'a=1');
    const s = snippet();
    s.run(true, 'seen-1');
    expect(s.events).toEqual([{ type: 'attribution', marketing: true, values: { fbc: expect.stringMatching(/^fb\.1\.\d{13}\.AbC_123$/), affId: 'A7' } }]);
    expect(s.stored[SEEN]).toBe('seen-1');
    // The first answer names the session the event went to.
    s.answer('S');
    expect(JSON.parse(s.stored[SENT]!)).toEqual({ s: 'S', m: true, k: ['fbc', 'affId'] });

    // The next page of the session: the pixel has set _fbp.
    page('', 'a=1; _fbp=fb.1.1700000000000.9');
    s.run(true, 'seen-2');
    expect(s.events.slice(1)).toEqual([{ type: 'attribution', marketing: true, values: { fbp: 'fb.1.1700000000000.9' } }]);
    // A reload: nothing new.
    s.run(true, 'seen-2');
    expect(s.events).toHaveLength(2);
    expect(JSON.parse(s.stored[SENT]!)).toEqual({ s: 'S', m: true, k: ['fbc', 'affId', 'fbp'] });
    expect(s.answered).toEqual([]);
  });

  it('without marketing consent never reads a cookie, and still tells the choice once', () => {
    const reads = page('?fbclid=AbC_123', '_fbp=P');
    const s = snippet();
    s.state.session = 'S';
    s.run(false);
    s.run(false);
    expect(s.events).toEqual([{ type: 'attribution', marketing: false, values: {} }]);
    expect(reads.cookie).toBe(0);
  });

  it('tells a new session all over again', () => {
    page('?utm_source=fb', '');
    const s = snippet({ [SENT]: JSON.stringify({ s: 'OLD', m: true, k: ['utm_source'] }) });
    s.state.session = 'NEW';
    s.run(true);
    expect(s.events).toEqual([{ type: 'attribution', marketing: true, values: { utm_source: 'fb' } }]);
  });

  it('gives a record of a first page that had nothing new the session of the next answer', () => {
    // The first page's answer never came (the visitor left at once); the next page tells nothing new.
    page('?utm_source=fb', '');
    const s = snippet({ [SENT]: JSON.stringify({ m: true, k: ['utm_source'] }) });
    s.run(true);
    expect(s.events).toEqual([]);
    s.answer('S');
    expect(JSON.parse(s.stored[SENT]!)).toEqual({ s: 'S', m: true, k: ['utm_source'] });
    // Days later the session has expired: the collector names a new one, which is told afresh.
    s.state.session = 'LATER';
    page('', '');
    s.run(true);
    expect(s.events).toEqual([{ type: 'attribution', marketing: true, values: {} }]);
  });

  it('where localStorage is blocked, keeps its record in a cookie of its own (__Host- on https)', () => {
    const first = page('?utm_source=fb', 'funnelbeacon=s.S.x', 'https:');
    const s = snippet({}, true);
    s.state.session = 'S';
    s.run(false);
    expect(s.events).toEqual([{ type: 'attribution', marketing: false, values: { utm_source: 'fb' } }]);
    expect(first.written).toEqual([`__Host-funnelbeacon-a=${encodeURIComponent(JSON.stringify({ s: 'S', m: false, k: ['utm_source'] }))};path=/;secure`]);
    // The next page finds it: nothing new to tell.
    page('?utm_source=fb', `funnelbeacon=s.S.x; ${first.written[0]!.split(';')[0]}`, 'https:');
    s.run(false);
    expect(s.events).toHaveLength(1);
    // A plain cookie of that name (a sibling subdomain's) is not the record on https.
    page('?utm_source=fb', `funnelbeacon-a=${encodeURIComponent(JSON.stringify({ s: 'S', m: false, k: ['utm_source'] }))}`, 'https:');
    s.run(false);
    expect(s.events).toHaveLength(2);
  });
});

describe('the bundles', () => {
  const lazy = build({
    entryPoints: ['snippet/src/attribution-capture.ts'],
    bundle: true,
    minify: true,
    format: 'esm',
    write: false,
  }).then((result) => result.outputFiles[0]!.text);
  const snippetBundle = build({ ...SNIPPET_BUILD, write: false }).then((result) => result.outputFiles[0]!.text);

  it('leave the attribution capture out of the snippet, which loads it as a.js', async () => {
    const code = await snippetBundle;
    expect(code).not.toMatch(/utm_campaign|click_id|fbclid/);
    expect(code).toContain('"a.js"');
  });

  it('take nothing from zod into a.js', async () => {
    expect(await lazy).not.toMatch(/zod|ZodError|safeParse/);
  });

  it('agree on where what a.js looked at is kept', () => {
    expect(readFileSync('snippet/src/attribution.ts', 'utf8')).toContain(`local('${SEEN}')`);
  });
});
