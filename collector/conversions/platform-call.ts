/**
 * @module platform-call
 * What Meta's and TikTok's clients share: the answer as a value (never an exception), one HTTP
 * exchange with a timeout and no redirect followed (the access token would go along), the
 * delivery-log record of the call, and the scrubbing that keeps the token, hashes, IPs, emails
 * and phone numbers out of every message and summary.
 */
import { NO_REDIRECTS } from '../http/upstream-redirect.js';
import type { CallRecord } from '../outbox/upstream-call.js';
import { redactMessage } from '../redact.js';

export type PlatformFailure = 'transient' | 'rejected' | 'auth' | 'rate_limited';

export interface PlatformFailed {
  ok: false;
  failure: PlatformFailure;
  /** Redacted, fit for logs and the dead-letter view. */
  message: string;
  status?: number;
  /** `rate_limited` only, when the platform said how long to wait. */
  retryAt?: number;
}

/** Receives the delivery-log record of each call, for the job handler's `recordCall`. */
export type PlatformCallRecorder = (call: CallRecord) => void;

/** What a doctor check found, in one line. */
export interface PlatformCheck {
  outcome: 'ok' | 'auth' | 'other';
  message: string;
}

export function failed(failure: PlatformFailure, message: string, extra: { status?: number; retryAt?: number } = {}): PlatformFailed {
  return {
    ok: false,
    failure,
    message,
    ...(extra.status === undefined ? {} : { status: extra.status }),
    ...(extra.retryAt === undefined ? {} : { retryAt: extra.retryAt }),
  };
}

export type Exchange = { ok: true; status: number; headers: Headers; text: string } | { ok: false; message: string };

/** One request, its body read; a refused connection or a timeout is a message, never a throw. */
export async function exchange(doFetch: typeof fetch, url: string | URL, init: RequestInit, timeoutMs: number): Promise<Exchange> {
  try {
    const response = await doFetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs), ...NO_REDIRECTS });
    return { ok: true, status: response.status, headers: response.headers, text: await response.text() };
  } catch (error) {
    const timedOut = error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError');
    return { ok: false, message: timedOut ? `timed out after ${timeoutMs} ms` : 'connection failed' };
  }
}

export function parseJsonObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** `Retry-After` in seconds or as an HTTP date, as a delay; undefined when absent or unreadable. */
export function retryAfterMs(header: string | null, now: number): number | undefined {
  if (header === null || header.trim() === '') return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

const HEX_64 = /\b[0-9a-fA-F]{64}\b/g;
const IPV4 = /\b\d{1,3}(?:\.\d{1,3}){3}\b/g;
const IPV6 = /\b(?:[0-9a-fA-F]{1,4}:){2,7}[0-9a-fA-F]{0,4}\b/g;

/**
 * A platform's message made safe for the log: the access token (should the platform echo it),
 * hashes, IP addresses, emails and long digit runs masked, and cut to one line.
 */
export function scrub(message: string, secrets: readonly string[]): string {
  let text = message.replace(/\s+/g, ' ').trim();
  for (const secret of secrets) if (secret.length >= 4) text = text.split(secret).join('[token]');
  return redactMessage(text.replace(HEX_64, '[hash]').replace(IPV4, '[ip]').replace(IPV6, '[ip]'));
}

/**
 * What ends a call: records it (timed from now) for the delivery log and metrics, and hands the
 * result back. A rate limit is logged as `transient`, the delivery log's word for "try later".
 */
export function recordingFinish<R extends { ok: true; status: number } | PlatformFailed>(
  record: PlatformCallRecorder | undefined,
  endpoint: string,
  requestSummary: string,
): (result: R, responseSummary: string) => R {
  const started = performance.now();
  return (result, responseSummary) => {
    const status = result.status;
    record?.({
      endpoint,
      request: requestSummary,
      response: responseSummary,
      outcome: result.ok ? 'ok' : result.failure === 'rate_limited' ? 'transient' : result.failure,
      ...(status === undefined ? {} : { httpStatus: status }),
      latencyMs: Math.round(performance.now() - started),
    });
    return result;
  };
}

/** An id for the log: ids are made by funnelbeacon and Konnektive, but a bound keeps a stray value short. */
export const shortId = (value: unknown): string | undefined => (typeof value === 'string' ? value.slice(0, 80) : undefined);
