/**
 * @module postbacks-cli
 * `funnelbeacon postbacks check` and `funnelbeacon postbacks test NAME`: the owner's two tools for
 * `POSTBACKS_FILE`. `check` reads the file as the collector does at start and prints each
 * postback with the request it makes for a sample order, so that a mistyped token or parameter
 * name shows before any real order; `test` fires one postback at its network with the sample
 * values and prints what the network answered, as the delivery log would keep it.
 */
import type { Config } from '../config.js';
import { firePostback } from '../postbacks/postback-client.js';
import { loadPostbacks, type Postback } from '../postbacks/postback-file.js';
import { postbackRequest } from '../postbacks/postback-request.js';
import { sampleValues } from '../postbacks/postback-values.js';
import { plural } from '../plural.js';

export interface PostbacksOutput {
  out: (line: string) => void;
  err: (line: string) => void;
  fetch?: typeof fetch;
  timeoutMs?: number;
}

const USAGE = 'postbacks: expected `postbacks check` or `postbacks test NAME`';

/** `on sale · affIds AFF7, AFF9 · skipTestOrders` */
export function describePostback(postback: Postback): string {
  const parts = [`on ${postback.on}`];
  parts.push(postback.affIds ? `affIds ${postback.affIds.join(', ')}` : 'all affiliates');
  if (postback.campaigns) parts.push(`campaigns ${postback.campaigns.join(', ')}`);
  if (postback.skipPrepaid) parts.push('skipPrepaid');
  if (postback.skipTestOrders) parts.push('skipTestOrders');
  if (postback.leadDelay !== undefined) parts.push(`leadDelay ${postback.leadDelay} min`);
  return parts.join(' · ');
}

/** The request's lines as `check` prints them: the method and URL, then a POST's body. */
function requestLines(postback: Postback): string[] {
  const request = postbackRequest(postback, sampleValues(postback));
  const lines = [`  ${request.method} ${request.url}`];
  if (request.body !== undefined) lines.push(`  ${request.headers['content-type']}: ${request.body}`);
  return lines;
}

/** Runs `postbacks <args>`; the exit code: 0 done, 1 problems or a failed call, 2 usage. */
export async function runPostbacks(config: Pick<Config, 'postbacksFile'>, args: readonly string[], io: PostbacksOutput): Promise<number> {
  const [action, name, ...rest] = args;
  if ((action !== 'check' && action !== 'test') || (action === 'check' && name !== undefined) || (action === 'test' && name === undefined) || rest.length > 0) {
    io.err(USAGE);
    return 2;
  }
  const path = config.postbacksFile;
  if (path === undefined) {
    io.err('postbacks: POSTBACKS_FILE is not set: name the JSON file that lists the postbacks (docs/postbacks.md)');
    return 1;
  }
  const read = loadPostbacks(path);
  if (!read.ok) {
    for (const problem of read.problems) io.err(problem);
    return 1;
  }

  if (action === 'check') {
    io.out(`${path}: ${plural(read.postbacks.length, 'postback', 'postbacks')}, each with its request for a sample order`);
    for (const postback of read.postbacks) {
      io.out('');
      io.out(`${postback.name}  ${describePostback(postback)}`);
      for (const line of requestLines(postback)) io.out(line);
    }
    return 0;
  }

  const postback = read.postbacks.find((item) => item.name === name);
  if (!postback) {
    const names = read.postbacks.map((item) => item.name);
    io.err(`postbacks: no postback named "${name}" in ${path}${names.length > 0 ? ` (its postbacks: ${names.join(', ')})` : ''}`);
    return 1;
  }
  const request = postbackRequest(postback, sampleValues(postback));
  io.out(`${request.method} ${request.url}`);
  if (request.body !== undefined) io.out(`${request.headers['content-type']}: ${request.body}`);
  const result = await firePostback(request, { timeoutMs: io.timeoutMs ?? 10_000, ...(io.fetch ? { fetch: io.fetch } : {}) });
  if (result.ok) {
    io.out(`HTTP ${result.status}${result.answer === '' ? '' : `: ${result.answer}`}`);
    return 0;
  }
  io.err(`${result.failure === 'rejected' ? 'refused' : 'failed'}: ${result.message}`);
  return 1;
}
