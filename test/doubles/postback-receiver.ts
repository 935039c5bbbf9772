/**
 * @module postback-receiver
 * A stand-in for an affiliate network's postback endpoint (Everflow, CAKE, Voluum and the like),
 * run as a real HTTP server on 127.0.0.1. Networks take a GET with the values in the query, or a
 * POST with a form or JSON body, on whatever path their URL names, and answer 200 with a short
 * text. The receiver records every call as it arrived (method, path, query, headers, the body
 * parsed by its content type, and the raw query and body, to check the encoding byte for byte)
 * and answers 200 `OK`.
 *
 * It is strict where a network is: a POST body it cannot read (no content type, one it does not
 * take, JSON that does not parse) is refused with 400, and a method other than GET or POST with
 * 405. It can fail on purpose (`fail()`): `http500`, `notFound` (404, as for a path the network
 * does not have), `hang`, `down`, and `redirect` (302 to another host).
 */
import type http from 'node:http';
import { FailureSwitch, type FailOptions } from './failure-switch.js';
import { startHttpDouble } from './http-double.js';

/**
 * `http500`: 500 with an HTML page; `notFound`: 404 with a text; `hang`: no answer (the caller
 * must time out); `down`: the socket is destroyed as the request arrives; `redirect`: 302 to
 * `https://elsewhere.example/pb`.
 */
export type PostbackReceiverFailure = 'http500' | 'notFound' | 'hang' | 'down' | 'redirect';

export interface PostbackCall {
  method: string;
  path: string;
  /** The query's values, decoded (the last one of a repeated name). */
  query: Record<string, string>;
  /** The query as it arrived, after `?`, undecoded. */
  rawQuery: string;
  headers: http.IncomingHttpHeaders;
  /** A form body as its decoded values, a JSON body parsed, nothing for a GET. */
  body?: Record<string, string> | unknown;
  rawBody: string;
  /** HTTP status answered; 0 when none was given. */
  status: number;
  failure?: PostbackReceiverFailure;
}

export interface PostbackReceiver {
  /** Origin, e.g. `http://127.0.0.1:40123`: a postback URL is this plus any path. */
  readonly url: string;
  readonly calls: PostbackCall[];
  /** What a successful call is answered (200 `OK` unless set). */
  answerWith(status: number, text: string): void;
  fail(mode: PostbackReceiverFailure, options?: FailOptions): void;
  recover(): void;
  reset(): void;
  close(): Promise<void>;
}

const valuesOf = (params: URLSearchParams): Record<string, string> => Object.fromEntries(params);

export async function startPostbackReceiver(): Promise<PostbackReceiver> {
  const calls: PostbackCall[] = [];
  const failure = new FailureSwitch<PostbackReceiverFailure>('postback receiver');
  let success = { status: 200, text: 'OK' };

  function handle(req: http.IncomingMessage, res: http.ServerResponse, raw: string): void {
    const target = req.url ?? '/';
    const url = new URL(target, 'http://127.0.0.1');
    const method = req.method ?? 'GET';
    const question = target.indexOf('?');
    const call: PostbackCall = {
      method,
      path: url.pathname,
      query: valuesOf(url.searchParams),
      rawQuery: question < 0 ? '' : target.slice(question + 1),
      headers: req.headers,
      rawBody: raw,
      status: 0,
    };
    calls.push(call);
    const finish = (status: number, text: string, headers: Record<string, string> = {}): void => {
      call.status = status;
      res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': String(Buffer.byteLength(text)), ...headers });
      res.end(text);
    };

    const failing = failure.take();
    if (failing) {
      call.failure = failing.mode;
      switch (failing.mode) {
        case 'down':
          res.socket?.destroy();
          return;
        case 'hang':
          return;
        case 'http500':
          finish(500, '<html><body><h1>500 Internal Server Error</h1></body></html>', { 'content-type': 'text/html; charset=utf-8' });
          return;
        case 'notFound':
          finish(404, 'Not Found');
          return;
        case 'redirect':
          finish(302, '', { location: 'https://elsewhere.example/pb' });
          return;
      }
    }
    if (method !== 'GET' && method !== 'POST') {
      finish(405, 'Method Not Allowed');
      return;
    }
    if (method === 'POST') {
      const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
      if (type === 'application/x-www-form-urlencoded') {
        call.body = valuesOf(new URLSearchParams(raw));
      } else if (type === 'application/json') {
        try {
          call.body = JSON.parse(raw) as unknown;
        } catch {
          finish(400, 'invalid JSON');
          return;
        }
      } else {
        finish(400, `unsupported content type ${type === '' ? '(none)' : type}`);
        return;
      }
    }
    finish(success.status, success.text);
  }

  const shell = await startHttpDouble(handle);
  return {
    url: shell.url,
    calls,
    answerWith(status, text) {
      success = { status, text };
    },
    fail(mode, options = {}) {
      failure.set(mode, options, {});
    },
    recover() {
      failure.clear();
    },
    reset() {
      calls.length = 0;
      failure.clear();
      success = { status: 200, text: 'OK' };
    },
    close: () => shell.close(),
  };
}
