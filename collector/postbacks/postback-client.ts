/**
 * @module postback-client
 * Fires one postback request and says what came of it, as a value (never an exception):
 * - 2xx: `ok`, with the network's answer (its first 500 characters, scrubbed) for the log;
 * - 400, 404, 410 and 422: `rejected`: the network refused this call (a wrong path, a parameter
 *   it does not take, an offer that is gone), which sending it again will not change, so the job
 *   is dead-lettered with the answer for the owner to read, fix the file and replay;
 * - any other answer (5xx, 401/403, 429, another 4xx), a timeout, a refused connection: `transient`,
 *   retried by the outbox with backoff;
 * - 3xx: `transient`, never followed (a redirect could send the order's values anywhere); the
 *   message names the postback so that the owner puts the address it points at in the file.
 * Networks take the same transaction id once, and the request carries the event id, so a retry
 * after a lost answer is safe to send.
 */
import { exchange, recordingFinish, scrub, type PlatformCallRecorder } from '../conversions/platform-call.js';
import { isRedirect } from '../http/upstream-redirect.js';
import type { PostbackRequest } from './postback-request.js';

export type PostbackResult =
  | { ok: true; status: number; answer: string }
  | { ok: false; failure: 'transient' | 'rejected'; message: string; status?: number };

type PostbackFailed = Extract<PostbackResult, { ok: false }>;

function failed(failure: PostbackFailed['failure'], message: string, status?: number): PostbackFailed {
  return { ok: false, failure, message, ...(status === undefined ? {} : { status }) };
}

export interface FireOptions {
  timeoutMs: number;
  fetch?: typeof fetch;
  /** Receives the delivery-log record of the call. */
  record?: PlatformCallRecorder;
}

/** The answers that say "this request will never be taken": the rest may work later. */
export const REJECTING_STATUSES: ReadonlySet<number> = new Set([400, 404, 410, 422]);
const MAX_ANSWER = 500;

/** The network's answer fit for the log: one line, hashes, IPs, emails and long digit runs masked. */
function answerOf(text: string): string {
  return scrub(text.slice(0, MAX_ANSWER * 4), []).slice(0, MAX_ANSWER);
}

/** Where a redirect points, as an origin only (its path or query could carry anything). */
function redirectTarget(location: string | null, requested: string): string {
  try {
    const url = new URL(location ?? '', requested);
    if (url.protocol !== 'https:' && url.protocol !== 'http:') return 'an address that is not a web URL';
    return url.origin === new URL(requested).origin ? 'another address on the same host' : url.origin;
  } catch {
    return 'an address that is not a web URL';
  }
}

export async function firePostback(request: PostbackRequest, { timeoutMs, fetch: doFetch = fetch, record }: FireOptions): Promise<PostbackResult> {
  const summary = request.loggedBody === undefined ? request.loggedUrl : `${request.loggedUrl} ${request.loggedBody}`;
  const finish = recordingFinish<PostbackResult>(record, `${request.method} ${request.postback}`, summary.slice(0, 2000));
  const said = `postback "${request.postback}"`;
  const answer = await exchange(
    doFetch,
    request.url,
    { method: request.method, headers: request.headers, ...(request.body === undefined ? {} : { body: request.body }) },
    timeoutMs,
  );
  if (!answer.ok) {
    const message = `${said}: ${answer.message}`;
    return finish(failed('transient', message), message);
  }
  const { status, headers, text } = answer;
  if (isRedirect(status)) {
    const message = `${said}: the network answered with a redirect (HTTP ${status} to ${redirectTarget(headers.get('location'), request.url)}), not followed: put the address it redirects to in the postback's url`;
    return finish(failed('transient', message, status), message);
  }
  const body = answerOf(text);
  const response = `HTTP ${status}${body === '' ? '' : `: ${body}`}`;
  if (status >= 200 && status < 300) return finish({ ok: true, status, answer: body }, response);
  const message = `${said}: ${response}`;
  return finish(failed(REJECTING_STATUSES.has(status) ? 'rejected' : 'transient', message, status), message);
}
