/**
 * The ActiveCampaign double's wire format: the `errors[]` shape of a 422, replies, list paging and
 * filters, and the singular key every body is wrapped in. Shared by its resources.
 */
import { isBlank } from '../wire-checks.js';
import type { AcConnection, AcCustomer, AcOrder } from './records.js';

export type Json = Record<string, unknown>;
export type ErrorCode = 'field_missing' | 'field_invalid' | 'duplicate' | 'related_missing';
export interface AcError {
  title: string;
  detail: string;
  code: ErrorCode;
  source: { pointer: string };
}
export interface Reply {
  status: number;
  body: unknown;
}

export function acError(code: ErrorCode, field: string, title: string, detail = ''): AcError {
  return { title, detail, code, source: { pointer: `/data/attributes/${field}` } };
}

export function missing(field: string): AcError {
  return acError('field_missing', field, `The ${field} field is required`);
}

export function invalid(field: string, detail: string): AcError {
  return acError('field_invalid', field, `The ${field} field is invalid`, detail);
}

export function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** AC prints dates as ISO 8601 with an offset; the double uses UTC. */
export function acDate(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, '+00:00');
}

/** Ids may come as JSON numbers or numeric strings (AC's own examples send `"1"`). */
export function idOf(value: unknown): string | undefined {
  if (typeof value === 'number' && Number.isInteger(value) && value > 0) return String(value);
  if (typeof value === 'string' && /^\d+$/.test(value) && Number(value) > 0) return String(Number(value));
  return undefined;
}

export function externalIdOf(value: unknown): string | undefined {
  if (typeof value === 'string' && value.trim() !== '') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}

export function stringField(body: Json, errors: AcError[], field: string, required: boolean): void {
  const value = body[field];
  if (isBlank(value)) {
    if (required) errors.push(missing(field));
  } else if (typeof value !== 'string' && typeof value !== 'number') {
    errors.push(invalid(field, `${field} must be a string`));
  }
}

/** The double's records and clock, shared by its resources. */
export interface AcStore {
  now(): number;
  connections: Map<string, AcConnection>;
  customers: Map<string, AcCustomer>;
  orders: Map<string, AcOrder>;
  ids: { connection: number; customer: number; order: number; product: number; discount: number };
}

/** One resource's routes: a reply, or `undefined` when the method and path are not its own. */
export type ResourceRoute = (method: string, id: string | undefined, query: Record<string, string>, body: unknown) => Reply | undefined;

export function notFound(resource: string, id: string): Reply {
  return { status: 404, body: { message: `No Result found for ${resource} with id ${id}` } };
}

export function unprocessable(errors: AcError[]): Reply {
  return { status: 422, body: { errors } };
}

export function list<T>(key: string, items: T[], query: Record<string, string>, view: (item: T) => Json): Reply {
  const limit = Math.min(Math.max(Number(query.limit ?? 20) || 20, 1), 100);
  const offset = Math.max(Number(query.offset ?? 0) || 0, 0);
  return {
    status: 200,
    body: { [key]: items.slice(offset, offset + limit).map(view), meta: { total: String(items.length) } },
  };
}

/** Reads `{"<key>": {...}}`; undefined when the body is not wrapped that way. */
export function unwrap(body: unknown, key: string): Json | undefined {
  return isObject(body) && isObject(body[key]) ? body[key] : undefined;
}

export function notWrapped(key: string): Reply {
  return unprocessable([acError('field_missing', key, `The request body must be a JSON object wrapped in "${key}"`)]);
}

export function filterBy<T extends object>(items: Iterable<T>, query: Record<string, string>, fields: string[]): T[] {
  return [...items].filter((item) =>
    fields.every((field) => {
      const wanted = query[`filters[${field}]`];
      if (wanted === undefined) return true;
      const actual = (item as Record<string, unknown>)[field];
      if (field === 'email') return String(actual ?? '').toLowerCase() === wanted.toLowerCase();
      return actual !== null && actual !== undefined && String(actual) === wanted;
    }),
  );
}
