/**
 * `POSTBACKS_FILE`: the postbacks as the collector uses them (defaults filled in), and every
 * problem as one line naming the postback and the field; a reload keeps the list in force when
 * the new file has problems.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadPostbacks, parsePostbacks, postbackCovers, PostbackRegistry, type Postback } from './postback-file.js';

function fileWith(content: unknown): string {
  const path = join(mkdtempSync(join(tmpdir(), 'funnelbeacon-postbacks-')), 'postbacks.json');
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

const ISSUE_EXAMPLE = {
  postbacks: [
    { name: 'net-sale', on: 'sale', affIds: ['AFF7'], method: 'GET', url: 'https://network.example/pb?aff={affId}&sub={c1}&oid={orderId}&amt={amount}&cur={currency}&eid={eventId}' },
    { name: 'all-leads', on: 'lead', method: 'POST', body: 'json', url: 'https://tracker.example/lead' },
  ],
};

/** The problems of a file holding these postbacks. */
function problemsOf(...postbacks: unknown[]): string[] {
  const read = parsePostbacks(JSON.stringify({ postbacks }), 'postbacks.json');
  expect(read.ok).toBe(false);
  return read.ok ? [] : read.problems;
}

const valid = { name: 'net-sale', on: 'sale', url: 'https://network.example/pb?oid={orderId}' };

describe('the postbacks file', () => {
  it('reads the documented example, with the defaults filled in', () => {
    const read = loadPostbacks(fileWith(ISSUE_EXAMPLE));
    expect(read).toEqual({
      ok: true,
      postbacks: [
        { name: 'net-sale', on: 'sale', affIds: ['AFF7'], method: 'GET', url: ISSUE_EXAMPLE.postbacks[0]!.url, skipPrepaid: false, skipTestOrders: false },
        { name: 'all-leads', on: 'lead', method: 'POST', body: 'json', url: 'https://tracker.example/lead', skipPrepaid: false, skipTestOrders: false },
      ],
    });
  });

  it('takes every field: a POST is form-encoded unless it says json, conditions as given', () => {
    const read = parsePostbacks(
      JSON.stringify({
        postbacks: [
          { name: 'cake.lead_1', on: 'lead', campaigns: ['12', '14'], method: 'POST', url: 'http://127.0.0.1:8080/p?e={email_sha256}', leadDelay: 30, skipTestOrders: true },
          { name: 'refunds', on: 'refund', affIds: ['AFF7', 'AFF9'], url: 'http://localhost/r?t={clickId}', skipPrepaid: true },
          { name: 'cb', on: 'chargeback', url: 'http://[::1]:9/cb' },
          { name: 'up', on: 'upsell', url: 'https://n.example/{c2}/{c3}/{c4}/{c5}?x={event}' },
          { name: 'rb', on: 'rebill', url: 'https://n.example/rb' },
        ],
      }),
      'f.json',
    );
    expect(read.ok && read.postbacks).toEqual([
      { name: 'cake.lead_1', on: 'lead', campaigns: ['12', '14'], method: 'POST', body: 'form', url: 'http://127.0.0.1:8080/p?e={email_sha256}', skipPrepaid: false, skipTestOrders: true, leadDelay: 30 },
      { name: 'refunds', on: 'refund', affIds: ['AFF7', 'AFF9'], method: 'GET', url: 'http://localhost/r?t={clickId}', skipPrepaid: true, skipTestOrders: false },
      { name: 'cb', on: 'chargeback', method: 'GET', url: 'http://[::1]:9/cb', skipPrepaid: false, skipTestOrders: false },
      { name: 'up', on: 'upsell', method: 'GET', url: 'https://n.example/{c2}/{c3}/{c4}/{c5}?x={event}', skipPrepaid: false, skipTestOrders: false },
      { name: 'rb', on: 'rebill', method: 'GET', url: 'https://n.example/rb', skipPrepaid: false, skipTestOrders: false },
    ]);
  });

  it('an empty list is a file with no postbacks', () => {
    expect(parsePostbacks('{"postbacks": []}', 'f.json')).toEqual({ ok: true, postbacks: [] });
  });
});

describe('one line per problem, naming the postback and the field', () => {
  it('on', () => {
    expect(problemsOf({ ...valid, on: 'sales' })).toEqual(['POSTBACKS_FILE postbacks[0] "net-sale": on: expected one of lead, sale, upsell, rebill, refund, chargeback']);
    expect(problemsOf({ name: 'x', url: valid.url })).toEqual(['POSTBACKS_FILE postbacks[0] "x": on: expected one of lead, sale, upsell, rebill, refund, chargeback']);
  });

  it('name: missing (the postback named by its place), malformed, too long, used twice', () => {
    expect(problemsOf(valid, { on: 'sale', url: valid.url })).toEqual(['POSTBACKS_FILE postbacks[1]: name: expected a name such as "net-sale"']);
    expect(problemsOf({ ...valid, name: '' })).toEqual(['POSTBACKS_FILE postbacks[0]: name: expected 1 to 64 letters, digits, "_", "." or "-"']);
    expect(problemsOf({ ...valid, name: 'net sale' })).toEqual(['POSTBACKS_FILE postbacks[0] "net sale": name: expected 1 to 64 letters, digits, "_", "." or "-"']);
    expect(problemsOf({ ...valid, name: 'n'.repeat(65) })).toEqual([`POSTBACKS_FILE postbacks[0] "${'n'.repeat(64)}": name: expected 1 to 64 letters, digits, "_", "." or "-"`]);
    expect(problemsOf(valid, { ...valid, on: 'refund' })).toEqual(['POSTBACKS_FILE postbacks[1] "net-sale": name: "net-sale" is used twice (also postbacks[0])']);
  });

  it('affIds and campaigns', () => {
    expect(problemsOf({ ...valid, affIds: [] })).toEqual(['POSTBACKS_FILE postbacks[0] "net-sale": affIds: list at least one affiliate id, or leave the field out for all']);
    expect(problemsOf({ ...valid, affIds: 'AFF7' })).toEqual(['POSTBACKS_FILE postbacks[0] "net-sale": affIds: expected a list of affiliate ids such as ["AFF7"]']);
    expect(problemsOf({ ...valid, affIds: ['AFF7', ''] })).toEqual(['POSTBACKS_FILE postbacks[0] "net-sale": affIds[1]: expected an affiliate id, not an empty string']);
    expect(problemsOf({ ...valid, affIds: [7] })).toEqual(['POSTBACKS_FILE postbacks[0] "net-sale": affIds[0]: expected an affiliate id as a string, such as "AFF7"']);
    expect(problemsOf({ ...valid, campaigns: [12] })).toEqual(['POSTBACKS_FILE postbacks[0] "net-sale": campaigns[0]: expected campaign ids as strings of digits, such as "12"']);
    expect(problemsOf({ ...valid, campaigns: ['12a'] })).toEqual(['POSTBACKS_FILE postbacks[0] "net-sale": campaigns[0]: expected campaign ids as strings of digits, such as "12"']);
    expect(problemsOf({ ...valid, campaigns: [] })).toEqual(['POSTBACKS_FILE postbacks[0] "net-sale": campaigns: list at least one campaign id, or leave the field out for all']);
  });

  it('method and body: GET or POST, form or json, and no body with a GET', () => {
    expect(problemsOf({ ...valid, method: 'get' })).toEqual(['POSTBACKS_FILE postbacks[0] "net-sale": method: expected GET or POST']);
    expect(problemsOf({ ...valid, method: 'POST', body: 'xml' })).toEqual(['POSTBACKS_FILE postbacks[0] "net-sale": body: expected form or json']);
    expect(problemsOf({ ...valid, body: 'json' })).toEqual(['POSTBACKS_FILE postbacks[0] "net-sale": body: a GET has no body: set "method": "POST", or leave body out']);
    expect(problemsOf({ ...valid, method: 'GET', body: 'form' })).toEqual(['POSTBACKS_FILE postbacks[0] "net-sale": body: a GET has no body: set "method": "POST", or leave body out']);
  });

  it('url: absolute http(s), https but to this machine, tokens only where the address is fixed', () => {
    const urlProblem = (url: unknown) => problemsOf({ ...valid, url });
    const line = (message: string) => [`POSTBACKS_FILE postbacks[0] "net-sale": url: ${message}`];
    expect(urlProblem(undefined)).toEqual(line('expected the postback URL'));
    expect(urlProblem('/pb?oid={orderId}')).toEqual(line('expected an absolute http(s) URL'));
    expect(urlProblem('ftp://network.example/pb')).toEqual(line('expected an absolute http(s) URL'));
    expect(urlProblem('https://network.example/pb?a=b c')).toEqual(line('expected an absolute http(s) URL without spaces'));
    expect(urlProblem('http://network.example/pb')).toEqual(line('must be an https:// URL (plain http:// only to this machine: localhost, 127.0.0.1, [::1]): the postback carries order values'));
    expect(urlProblem('https://{affId}.network.example/pb')).toEqual(line('a token may not be in the scheme, host or port: the address the call goes to is fixed'));
    expect(urlProblem('https://user:pw@network.example/pb')).toEqual(line('no user name or password in the URL'));
    expect(urlProblem(`https://network.example/${'p'.repeat(2048)}`)).toEqual(line('at most 2048 characters'));
  });

  it('an unknown token is named, with the tokens there are', () => {
    const tokens = '{event}, {eventId}, {affId}, {c1}, {c2}, {c3}, {c4}, {c5}, {clickId}, {orderId}, {amount}, {currency}, {email_sha256}';
    expect(problemsOf({ ...valid, url: 'https://network.example/pb?aff={aff_id}&oid={orderId}' })).toEqual([`POSTBACKS_FILE postbacks[0] "net-sale": url: unknown token {aff_id} (the tokens are ${tokens})`]);
    expect(problemsOf({ ...valid, url: 'https://network.example/pb?a={AFFID}&b={}&c={AFFID}' })).toEqual([`POSTBACKS_FILE postbacks[0] "net-sale": url: unknown tokens {AFFID}, {} (the tokens are ${tokens})`]);
  });

  it('skipPrepaid, skipTestOrders, leadDelay (1 to 10080 minutes, a lead postback only)', () => {
    expect(problemsOf({ ...valid, skipPrepaid: 'yes', skipTestOrders: 1 })).toEqual([
      'POSTBACKS_FILE postbacks[0] "net-sale": skipPrepaid: expected true or false',
      'POSTBACKS_FILE postbacks[0] "net-sale": skipTestOrders: expected true or false',
    ]);
    const minutes = 'expected minutes, a whole number from 1 to 10080 (7 days)';
    for (const leadDelay of [0, 10081, 2.5, '30']) {
      expect(problemsOf({ ...valid, on: 'lead', leadDelay })).toEqual([`POSTBACKS_FILE postbacks[0] "net-sale": leadDelay: ${minutes}`]);
    }
    expect(problemsOf({ ...valid, leadDelay: 30 })).toEqual(['POSTBACKS_FILE postbacks[0] "net-sale": leadDelay: only for "on": "lead" (this postback is on sale)']);
  });

  it('an unknown field is refused, in the postback and in the file', () => {
    expect(problemsOf({ ...valid, affId: 'AFF7' })).toEqual(['POSTBACKS_FILE postbacks[0] "net-sale": affId: unknown field (the fields are name, on, affIds, campaigns, method, body, url, skipPrepaid, skipTestOrders, leadDelay)']);
    const read = parsePostbacks(JSON.stringify({ postbacks: [valid], currency: 'USD' }), 'f.json');
    expect(read).toEqual({ ok: false, problems: ['POSTBACKS_FILE: currency: unknown field (the file holds "postbacks" only)'] });
  });

  it('every postback\'s problems together, the URL\'s with the other fields\'', () => {
    expect(problemsOf({ name: 'a', on: 'lead', leadDelay: 0, url: 'https://{affId}.example/' }, 'nope', { name: 'b', on: 'sal', url: 'https://n.example/{x}' })).toEqual([
      'POSTBACKS_FILE postbacks[0] "a": leadDelay: expected minutes, a whole number from 1 to 10080 (7 days)',
      'POSTBACKS_FILE postbacks[0] "a": url: a token may not be in the scheme, host or port: the address the call goes to is fixed',
      'POSTBACKS_FILE postbacks[1]: expected an object with name, on and url',
      'POSTBACKS_FILE postbacks[2] "b": on: expected one of lead, sale, upsell, rebill, refund, chargeback',
      expect.stringMatching(/^POSTBACKS_FILE postbacks\[2\] "b": url: unknown token \{x\} /),
    ]);
  });

  it('an unreadable file, invalid JSON or another shape: one line', () => {
    const missing = join(tmpdir(), 'funnelbeacon-no-such-dir', 'postbacks.json');
    expect(loadPostbacks(missing)).toEqual({ ok: false, problems: [`POSTBACKS_FILE: cannot read ${missing} (ENOENT)`] });
    const broken = fileWith('{"postbacks": [ { "name": "a", } ]}');
    const read = loadPostbacks(broken);
    expect(read.ok === false && read.problems).toEqual([expect.stringMatching(new RegExp(`^POSTBACKS_FILE ${broken} is not valid JSON \\(`))]);
    expect(loadPostbacks(fileWith([valid]))).toEqual({ ok: false, problems: [expect.stringMatching(/: expected \{ "postbacks": \[ \.\.\. \] \}$/)] });
  });
});

describe('narrowing', () => {
  const postback = (extra: Partial<Postback>): Postback => ({ name: 'p', on: 'sale', method: 'GET', url: 'https://n.example/', skipPrepaid: false, skipTestOrders: false, ...extra });
  it('covers all traffic without affIds or campaigns, else only the listed (exactly)', () => {
    expect(postbackCovers(postback({}), {})).toBe(true);
    expect(postbackCovers(postback({ affIds: ['AFF7'] }), { affId: 'AFF7' })).toBe(true);
    expect(postbackCovers(postback({ affIds: ['AFF7'] }), { affId: 'aff7' })).toBe(false);
    expect(postbackCovers(postback({ affIds: ['AFF7'] }), {})).toBe(false);
    expect(postbackCovers(postback({ campaigns: ['12'] }), { affId: 'AFF7', campaignId: '12' })).toBe(true);
    expect(postbackCovers(postback({ affIds: ['AFF7'], campaigns: ['12'] }), { affId: 'AFF7', campaignId: '14' })).toBe(false);
  });
});

describe('PostbackRegistry', () => {
  it('takes a changed file on reload, and keeps the list in force when the new one has problems', () => {
    const path = fileWith(ISSUE_EXAMPLE);
    const opened = PostbackRegistry.open(path);
    if (!opened.ok) throw new Error(opened.problems.join('\n'));
    const registry = opened.registry;
    expect(registry.postbacks.map((p) => p.name)).toEqual(['net-sale', 'all-leads']);
    expect(registry.for('sale', { affId: 'AFF7' }).map((p) => p.name)).toEqual(['net-sale']);
    expect(registry.for('sale', { affId: 'AFF9' })).toEqual([]);
    expect(registry.for('lead', {}).map((p) => p.name)).toEqual(['all-leads']);

    writeFileSync(path, JSON.stringify({ postbacks: [{ ...valid, name: 'net-refund', on: 'refund' }] }));
    expect(registry.reload()).toMatchObject({ ok: true });
    expect(registry.postbacks.map((p) => p.name)).toEqual(['net-refund']);
    expect(registry.byName('net-refund')?.on).toBe('refund');

    writeFileSync(path, JSON.stringify({ postbacks: [{ ...valid, on: 'sales' }] }));
    expect(registry.reload()).toEqual({ ok: false, problems: ['POSTBACKS_FILE postbacks[0] "net-sale": on: expected one of lead, sale, upsell, rebill, refund, chargeback'] });
    expect(registry.postbacks.map((p) => p.name)).toEqual(['net-refund']);
  });

  it('does not open a file with problems', () => {
    expect(PostbackRegistry.open(fileWith({ postbacks: [{ ...valid, url: 'http://n.example/' }] }))).toEqual({ ok: false, problems: [expect.stringContaining('"net-sale": url: must be an https:// URL')] });
  });
});
