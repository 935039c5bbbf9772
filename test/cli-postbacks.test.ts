/**
 * `funnelbeacon postbacks check` and `postbacks test NAME` as an owner runs them: `node
 * dist/cli.js` (built by `npm run build`) with POSTBACKS_FILE in the environment, `test` firing
 * at the postback receiver double.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startPostbackReceiver, type PostbackReceiver } from './doubles/postback-receiver.js';

/** Runs the CLI without blocking this process: the receiver double answers from it. */
function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  expect(existsSync('dist/cli.js'), 'run `npm run build` first (npm test does)').toBe(true);
  const dir = mkdtempSync(join(tmpdir(), 'funnelbeacon-cli-'));
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['dist/cli.js', ...args],
      { cwd: process.cwd(), env: { PATH: process.env.PATH ?? '', DATABASE_URL: `file:${join(dir, 'cli.db')}`, LOG_LEVEL: 'silent', ...env }, encoding: 'utf8', timeout: 20_000 },
      (error, stdout, stderr) => resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout, stderr }),
    );
  });
}

function postbacksFile(content: unknown): string {
  const path = join(mkdtempSync(join(tmpdir(), 'funnelbeacon-postbacks-')), 'postbacks.json');
  writeFileSync(path, JSON.stringify(content));
  return path;
}

let receiver: PostbackReceiver;
beforeAll(async () => {
  receiver = await startPostbackReceiver();
});
afterAll(async () => {
  await receiver.close();
});
beforeEach(() => receiver.reset());

const example = () => ({
  postbacks: [
    { name: 'net-sale', on: 'sale', affIds: ['AFF9'], method: 'GET', url: `${receiver.url}/pb?aff={affId}&sub={c1}&oid={orderId}&amt={amount}&cur={currency}&eid={eventId}` },
    { name: 'all-leads', on: 'lead', method: 'POST', body: 'json', url: `${receiver.url}/lead`, leadDelay: 30, skipTestOrders: true },
    { name: 'net-refund', on: 'refund', campaigns: ['12'], method: 'POST', url: `${receiver.url}/refund?oid={orderId}` },
  ],
});

describe('funnelbeacon postbacks', { timeout: 60_000 }, () => {
  it('check: each postback, what narrows it, and its request for a sample order', async () => {
    const { code, stdout, stderr } = await cli(['postbacks', 'check'], { POSTBACKS_FILE: postbacksFile(example()) });
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const lines = stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/postbacks\.json: 3 postbacks, each with its request for a sample order$/);
    expect(lines.slice(1)).toEqual([
      '',
      'net-sale  on sale · affIds AFF9',
      `  GET ${receiver.url}/pb?aff=AFF9&sub=sub1&oid=SAMPLE123&amt=39.95&cur=USD&eid=sample.sale`,
      '',
      'all-leads  on lead · all affiliates · skipTestOrders · leadDelay 30 min',
      `  POST ${receiver.url}/lead`,
      expect.stringMatching(/^ {2}application\/json: \{"event":"lead","eventId":"sample\.lead","affId":"AFF7","c1":"sub1",.*"orderId":"SAMPLE123","amount":null,"currency":"","email_sha256":"[0-9a-f]{64}"\}$/),
      '',
      'net-refund  on refund · all affiliates · campaigns 12',
      `  POST ${receiver.url}/refund?oid=SAMPLE123`,
      expect.stringMatching(/^ {2}application\/x-www-form-urlencoded: event=refund&eventId=sample\.refund&affId=AFF7&c1=sub1&.*&amount=39\.95&currency=USD&email_sha256=[0-9a-f]{64}$/),
    ]);
    expect(receiver.calls).toHaveLength(0);
  });

  it('check: one line per problem, exit 1', async () => {
    const file = postbacksFile({ postbacks: [{ name: 'net-sale', on: 'sales', url: 'https://network.example/pb?a={aff_id}' }, { on: 'lead', url: 'http://tracker.example/lead' }] });
    const { code, stdout, stderr } = await cli(['postbacks', 'check'], { POSTBACKS_FILE: file });
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr.trimEnd().split('\n')).toEqual([
      'POSTBACKS_FILE postbacks[0] "net-sale": on: expected one of lead, sale, upsell, rebill, refund, chargeback',
      expect.stringMatching(/^POSTBACKS_FILE postbacks\[0\] "net-sale": url: unknown token \{aff_id\} \(the tokens are /),
      'POSTBACKS_FILE postbacks[1]: name: expected a name such as "net-sale"',
      'POSTBACKS_FILE postbacks[1]: url: must be an https:// URL (plain http:// only to this machine: localhost, 127.0.0.1, [::1]): the postback carries order values',
    ]);
  });

  it('check: without POSTBACKS_FILE, or with a file that is not there, says so (exit 1); a wrong use is exit 2', async () => {
    expect(await cli(['postbacks', 'check'])).toMatchObject({ code: 1, stderr: 'postbacks: POSTBACKS_FILE is not set: name the JSON file that lists the postbacks (docs/postbacks.md)\n' });
    const missing = join(tmpdir(), 'funnelbeacon-none', 'postbacks.json');
    expect(await cli(['postbacks', 'check'], { POSTBACKS_FILE: missing })).toMatchObject({ code: 1, stderr: `POSTBACKS_FILE: cannot read ${missing} (ENOENT)\n` });
    expect(await cli(['postbacks'], { POSTBACKS_FILE: missing })).toMatchObject({ code: 2, stderr: 'postbacks: expected `postbacks check` or `postbacks test NAME`\n' });
    expect(await cli(['postbacks', 'test'], { POSTBACKS_FILE: missing })).toMatchObject({ code: 2 });
  });

  it('test NAME: fires it with sample values and prints the network\'s answer', async () => {
    receiver.answerWith(200, 'conversion recorded: 1');
    const { code, stdout, stderr } = await cli(['postbacks', 'test', 'net-sale'], { POSTBACKS_FILE: postbacksFile(example()) });
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toBe(`GET ${receiver.url}/pb?aff=AFF9&sub=sub1&oid=SAMPLE123&amt=39.95&cur=USD&eid=sample.sale\nHTTP 200: conversion recorded: 1\n`);
    expect(receiver.calls).toHaveLength(1);
    expect(receiver.calls[0]).toMatchObject({ method: 'GET', path: '/pb', query: { aff: 'AFF9', sub: 'sub1', oid: 'SAMPLE123', amt: '39.95', cur: 'USD', eid: 'sample.sale' } });
  });

  it('test NAME: a POST as the network receives it', async () => {
    const { code } = await cli(['postbacks', 'test', 'all-leads'], { POSTBACKS_FILE: postbacksFile(example()) });
    expect(code).toBe(0);
    expect(receiver.calls[0]).toMatchObject({ method: 'POST', path: '/lead', body: { event: 'lead', eventId: 'sample.lead', affId: 'AFF7', orderId: 'SAMPLE123', amount: null } });
  });

  it('test NAME: a refusal or a failure is printed, exit 1; an unknown name lists the names', async () => {
    const file = postbacksFile(example());
    receiver.fail('notFound', { times: 1 });
    expect(await cli(['postbacks', 'test', 'net-sale'], { POSTBACKS_FILE: file })).toMatchObject({ code: 1, stderr: 'refused: postback "net-sale": HTTP 404: Not Found\n' });
    receiver.fail('http500', { times: 1 });
    const failed = await cli(['postbacks', 'test', 'net-refund'], { POSTBACKS_FILE: file });
    expect(failed).toMatchObject({ code: 1, stderr: 'failed: postback "net-refund": HTTP 500: <html><body><h1>500 Internal Server Error</h1></body></html>\n' });
    expect(failed.stdout).toMatch(/^POST .*\/refund\?oid=SAMPLE123\napplication\/x-www-form-urlencoded: event=refund&/);
    expect(await cli(['postbacks', 'test', 'nope'], { POSTBACKS_FILE: file })).toMatchObject({ code: 1, stderr: `postbacks: no postback named "nope" in ${file} (its postbacks: net-sale, all-leads, net-refund)\n` });
    expect(receiver.calls).toHaveLength(2);
  });
});
