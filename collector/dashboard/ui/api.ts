/**
 * @module dashboard-api-client
 * The UI's only `fetch` caller. Every failure becomes `{ code, message }`; the CSRF token from
 * `/api/session` goes with every change.
 */
import type { SessionInfoData } from '../api-schema.js';

export interface ApiError {
  code: string;
  message: string;
  status: number;
}

let session: Promise<SessionInfoData> | undefined;

async function call<T>(method: 'GET' | 'POST', path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (method === 'POST') {
    headers['content-type'] = 'application/json';
    headers['x-csrf-token'] = (await sessionInfo()).csrf;
  }
  let response: Response;
  try {
    response = await fetch(`/dashboard/api${path}`, {
      method,
      headers,
      credentials: 'same-origin',
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      ...(signal ? { signal } : {}),
    });
  } catch (error) {
    if ((error as Error).name === 'AbortError') throw error;
    throw { code: 'network', message: 'The collector did not answer. Is it running?', status: 0 } satisfies ApiError;
  }
  if (response.status === 401) {
    location.assign('/dashboard/login');
  }
  const data = (await response.json().catch(() => undefined)) as { error?: { code: string; message: string } } | undefined;
  if (!response.ok) {
    throw { code: data?.error?.code ?? 'http', message: data?.error?.message ?? `HTTP ${response.status}`, status: response.status } satisfies ApiError;
  }
  return data as T;
}

export function sessionInfo(): Promise<SessionInfoData> {
  session ??= call<SessionInfoData>('GET', '/session').catch((error: unknown) => {
    session = undefined;
    throw error;
  });
  return session;
}

export const api = {
  get: <T>(path: string, signal?: AbortSignal) => call<T>('GET', path, undefined, signal),
  post: <T>(path: string, body: unknown = {}) => call<T>('POST', path, body),
};

export function isApiError(error: unknown): error is ApiError {
  return typeof error === 'object' && error !== null && 'code' in error && 'message' in error;
}
