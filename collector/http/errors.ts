/**
 * @module errors
 * The one error shape of every route, `{ error: { code, message } }`, and the one exception
 * type for deliberate aborts. A client that hung up mid-body is {@link RequestAborted}: counted
 * and logged at debug level, since nobody is there to answer. Anything else reaching the top is a
 * 500 that says nothing.
 */
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { ErrorResponse } from '../wire-schema.js';

export function errorBody(code: string, message: string): ErrorResponse {
  return { error: { code, message } };
}

/** Throws out of a handler with a JSON error answer. */
export function fail(status: ContentfulStatusCode, code: string, message: string, headers?: Record<string, string>): never {
  throw new HTTPException(status, {
    res: new Response(JSON.stringify(errorBody(code, message)), {
      status,
      headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
    }),
  });
}

/**
 * The client hung up before its body was read (it closed the connection, or it reset). Not a
 * fault of the collector: nobody receives an answer to it.
 */
export class RequestAborted extends Error {
  constructor(cause: unknown) {
    super('the client hung up before its body was read', { cause });
    this.name = 'RequestAborted';
  }
}
