/**
 * @module postback-file
 * `POSTBACKS_FILE`: the affiliate postbacks the owner defines, as JSON, checked with zod when the
 * collector starts and again on each reload (SIGHUP). Every problem is one line naming the
 * postback (by its place and, when it has one, its name) and the field, and a file with problems
 * is never used: the collector does not start, and a reload keeps the list it had. The format
 * (docs/postbacks.md):
 *
 * ```json
 * { "postbacks": [
 *   { "name": "net-sale", "on": "sale", "affIds": ["AFF7"], "method": "GET",
 *     "url": "https://network.example/pb?aff={affId}&sub={c1}&oid={orderId}&amt={amount}" },
 *   { "name": "all-leads", "on": "lead", "method": "POST", "body": "json", "url": "https://tracker.example/lead" } ] }
 * ```
 *
 * The URL's `{token}`s are the only placeholders: anything else in braces is a mistyped token,
 * which a network would receive literally (and silently count nothing), so it is refused here.
 * Postbacks carry the buyer's order values, so they go over https, or plain http to this machine
 * only (as every upstream URL, collector/config.ts).
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { secureUpstream } from '../config.js';

export const POSTBACK_EVENTS = ['lead', 'sale', 'upsell', 'rebill', 'refund', 'chargeback'] as const;
export type PostbackEvent = (typeof POSTBACK_EVENTS)[number];

/** Every token a postback's URL may hold, by name; the form and JSON bodies use the same names. */
export const POSTBACK_TOKENS = ['event', 'eventId', 'affId', 'c1', 'c2', 'c3', 'c4', 'c5', 'clickId', 'orderId', 'amount', 'currency', 'email_sha256'] as const;
export type PostbackToken = (typeof POSTBACK_TOKENS)[number];

const TOKEN_SET: ReadonlySet<string> = new Set(POSTBACK_TOKENS);
/** `{anything}` without nested braces: a token, or a mistake to name. */
export const TOKEN_PATTERN = /\{([^{}]*)\}/g;

/** One postback as the collector uses it: the file's entry with its defaults filled in. */
export interface Postback {
  readonly name: string;
  readonly on: PostbackEvent;
  /** Only this traffic (Konnektive `affId`, compared exactly); undefined: all traffic. */
  readonly affIds?: readonly string[];
  /** Only these Konnektive campaign ids; undefined: every campaign. */
  readonly campaigns?: readonly string[];
  readonly method: 'GET' | 'POST';
  /** POST only: how the tokens go in the body (`form` unless the file says `json`). */
  readonly body?: 'form' | 'json';
  /** The URL with its `{token}`s, as the file has it. */
  readonly url: string;
  readonly skipPrepaid: boolean;
  readonly skipTestOrders: boolean;
  /** `lead` only: minutes to wait, the lead postback skipped if a sale follows meanwhile. */
  readonly leadDelay?: number;
}

const FIELDS = ['name', 'on', 'affIds', 'campaigns', 'method', 'body', 'url', 'skipPrepaid', 'skipTestOrders', 'leadDelay'] as const;
const MAX_POSTBACKS = 500;
const MAX_LEAD_DELAY = 7 * 24 * 60;

const tokenList = POSTBACK_TOKENS.map((token) => `{${token}}`).join(', ');

/** Why a postback URL is refused; undefined when it is fine. */
export function postbackUrlProblem(url: string): string | undefined {
  if (/\s/.test(url)) return 'expected an absolute http(s) URL without spaces';
  const unknown = [...url.matchAll(TOKEN_PATTERN)].map((match) => match[0]).filter((token) => !TOKEN_SET.has(token.slice(1, -1)));
  if (unknown.length > 0) return `unknown token${unknown.length > 1 ? 's' : ''} ${[...new Set(unknown)].join(', ')} (the tokens are ${tokenList})`;
  // Two renderings with different values: a token in the scheme or the host would change where the call goes.
  let one: URL;
  let two: URL;
  try {
    one = new URL(url.replace(TOKEN_PATTERN, 'a'));
    two = new URL(url.replace(TOKEN_PATTERN, 'b'));
  } catch {
    return 'expected an absolute http(s) URL';
  }
  if (one.protocol !== 'https:' && one.protocol !== 'http:') return 'expected an absolute http(s) URL';
  if (one.origin !== two.origin) return 'a token may not be in the scheme, host or port: the address the call goes to is fixed';
  if (one.username !== '' || one.password !== '') return 'no user name or password in the URL';
  if (!secureUpstream(one.href)) return 'must be an https:// URL (plain http:// only to this machine: localhost, 127.0.0.1, [::1]): the postback carries order values';
  return undefined;
}

const CAMPAIGN_ID = 'expected campaign ids as strings of digits, such as "12"';
const nonEmpty = (what: string) => `list at least one ${what}, or leave the field out for all`;

const PostbackEntry = z
  .object({
    name: z.string({ error: 'expected a name such as "net-sale"' }).regex(/^[A-Za-z0-9_.-]{1,64}$/, 'expected 1 to 64 letters, digits, "_", "." or "-"'),
    on: z.enum(POSTBACK_EVENTS, { error: `expected one of ${POSTBACK_EVENTS.join(', ')}` }),
    affIds: z
      .array(z.string({ error: 'expected an affiliate id as a string, such as "AFF7"' }).min(1, 'expected an affiliate id, not an empty string').max(64, 'at most 64 characters'), {
        error: 'expected a list of affiliate ids such as ["AFF7"]',
      })
      .min(1, nonEmpty('affiliate id'))
      .optional(),
    campaigns: z
      .array(z.string({ error: CAMPAIGN_ID }).regex(/^\d{1,20}$/, CAMPAIGN_ID), { error: 'expected a list of campaign ids such as ["12"]' })
      .min(1, nonEmpty('campaign id'))
      .optional(),
    method: z.enum(['GET', 'POST'], { error: 'expected GET or POST' }).optional(),
    body: z.enum(['form', 'json'], { error: 'expected form or json' }).optional(),
    url: z.string({ error: 'expected the postback URL' }).max(2048, 'at most 2048 characters'),
    skipPrepaid: z.boolean({ error: 'expected true or false' }).optional(),
    skipTestOrders: z.boolean({ error: 'expected true or false' }).optional(),
    leadDelay: z
      .number({ error: 'expected minutes, a whole number from 1 to 10080 (7 days)' })
      .int('expected minutes, a whole number from 1 to 10080 (7 days)')
      .min(1, 'expected minutes, a whole number from 1 to 10080 (7 days)')
      .max(MAX_LEAD_DELAY, 'expected minutes, a whole number from 1 to 10080 (7 days)')
      .optional(),
  })
  .strict();

type Entry = z.infer<typeof PostbackEntry>;

/**
 * The rules between fields and the URL's own, each as [field, problem]: read from the raw entry
 * so that they are found together with the other fields' problems, skipping a field zod refused.
 */
function entryProblems(raw: Record<string, unknown>, refused: ReadonlySet<string>): [string, string][] {
  const problems: [string, string][] = [];
  const urlProblem = typeof raw.url === 'string' && !refused.has('url') ? postbackUrlProblem(raw.url) : undefined;
  if (urlProblem) problems.push(['url', urlProblem]);
  if (raw.body !== undefined && (raw.method ?? 'GET') === 'GET' && !refused.has('body') && !refused.has('method')) {
    problems.push(['body', 'a GET has no body: set "method": "POST", or leave body out']);
  }
  if (raw.leadDelay !== undefined && raw.on !== 'lead' && !refused.has('leadDelay') && !refused.has('on')) {
    problems.push(['leadDelay', `only for "on": "lead" (this postback is on ${String(raw.on)})`]);
  }
  return problems;
}

function normalise(entry: Entry): Postback {
  const method = entry.method ?? 'GET';
  return {
    name: entry.name,
    on: entry.on,
    ...(entry.affIds ? { affIds: Object.freeze([...entry.affIds]) } : {}),
    ...(entry.campaigns ? { campaigns: Object.freeze([...entry.campaigns]) } : {}),
    method,
    ...(method === 'POST' ? { body: entry.body ?? 'form' } : {}),
    url: entry.url,
    skipPrepaid: entry.skipPrepaid ?? false,
    skipTestOrders: entry.skipTestOrders ?? false,
    ...(entry.leadDelay === undefined ? {} : { leadDelay: entry.leadDelay }),
  };
}

export type PostbackFileRead = { ok: true; postbacks: Postback[] } | { ok: false; problems: string[] };

const PREFIX = 'POSTBACKS_FILE';
const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** `postbacks[1] "net-sale"`, or `postbacks[3]` when it has no usable name. */
function which(index: number, raw: unknown): string {
  const name = isObject(raw) ? raw.name : undefined;
  return typeof name === 'string' && name.trim() !== '' ? `postbacks[${index}] ${JSON.stringify(name.slice(0, 64))}` : `postbacks[${index}]`;
}

/** `affIds[2]` */
function place(path: readonly PropertyKey[]): string {
  return path.reduce<string>((text, key) => (typeof key === 'number' ? `${text}[${key}]` : text ? `${text}.${String(key)}` : String(key)), '');
}

/** One entry's problems, one line per field (zod may find several things wrong with one field). */
function checkEntry(index: number, raw: unknown): { postback?: Postback; problems: string[] } {
  const label = `${PREFIX} ${which(index, raw)}`;
  if (!isObject(raw)) return { problems: [`${label}: expected an object with name, on and url`] };
  const parsed = PostbackEntry.safeParse(raw);
  const byField = new Map<string, string>();
  for (const issue of parsed.success ? [] : parsed.error.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) byField.set(key, `unknown field (the fields are ${FIELDS.join(', ')})`);
      continue;
    }
    const field = place(issue.path) || 'the postback';
    if (!byField.has(field)) byField.set(field, issue.message);
  }
  const refused = new Set([...byField.keys()].map((field) => field.replace(/\[.*$/, '')));
  for (const [field, message] of entryProblems(raw, refused)) byField.set(field, message);
  const problems = [...byField].map(([field, message]) => `${label}: ${field}: ${message}`);
  return parsed.success && problems.length === 0 ? { postback: normalise(parsed.data), problems } : { problems };
}

/** Parses the file's text; `path` is only for the messages. */
export function parsePostbacks(text: string, path: string): PostbackFileRead {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return { ok: false, problems: [`${PREFIX} ${path} is not valid JSON (${error instanceof Error ? error.message : String(error)})`] };
  }
  if (!isObject(json) || !Array.isArray(json.postbacks)) return { ok: false, problems: [`${PREFIX} ${path}: expected { "postbacks": [ ... ] }`] };
  const extra = Object.keys(json).filter((key) => key !== 'postbacks');
  const problems = extra.map((key) => `${PREFIX}: ${key}: unknown field (the file holds "postbacks" only)`);
  if (json.postbacks.length > MAX_POSTBACKS) return { ok: false, problems: [...problems, `${PREFIX}: postbacks: at most ${MAX_POSTBACKS}`] };

  const postbacks: Postback[] = [];
  const seen = new Map<string, number>();
  json.postbacks.forEach((raw: unknown, index: number) => {
    const checked = checkEntry(index, raw);
    problems.push(...checked.problems);
    const name = isObject(raw) && typeof raw.name === 'string' ? raw.name : undefined;
    if (name !== undefined && name !== '') {
      const first = seen.get(name);
      if (first !== undefined) problems.push(`${PREFIX} ${which(index, raw)}: name: "${name}" is used twice (also postbacks[${first}])`);
      else seen.set(name, index);
    }
    if (checked.postback) postbacks.push(checked.postback);
  });
  return problems.length > 0 ? { ok: false, problems } : { ok: true, postbacks };
}

/** A file larger than this is not a list of postbacks: refused before parsing. */
const MAX_FILE_BYTES = 1024 * 1024;

/** Reads and checks the file at `path`: the postbacks, or every problem, one line each. */
export function loadPostbacks(path: string): PostbackFileRead {
  let text: string;
  try {
    const bytes = readFileSync(path);
    if (bytes.length > MAX_FILE_BYTES) return { ok: false, problems: [`${PREFIX} ${path} is larger than ${MAX_FILE_BYTES / 1024} KB`] };
    text = bytes.toString('utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return { ok: false, problems: [`${PREFIX}: cannot read ${path} (${code ?? (error instanceof Error ? error.message : String(error))})`] };
  }
  return parsePostbacks(text, path);
}

/** Whether a postback is for this traffic: its `affIds` and `campaigns`, when given, must hold the values. */
export function postbackCovers(postback: Postback, traffic: { affId?: string; campaignId?: string }): boolean {
  if (postback.affIds && (traffic.affId === undefined || !postback.affIds.includes(traffic.affId))) return false;
  if (postback.campaigns && (traffic.campaignId === undefined || !postback.campaigns.includes(traffic.campaignId))) return false;
  return true;
}

/**
 * The postbacks in force. A reload (on SIGHUP) reads the file again and takes the new list only
 * when it has no problem: a half-edited file never stops postbacks that worked.
 */
export class PostbackRegistry {
  #postbacks: readonly Postback[];
  readonly path: string;

  constructor(path: string, postbacks: readonly Postback[]) {
    this.path = path;
    this.#postbacks = Object.freeze([...postbacks]);
  }

  /** Reads the file once: the registry, or the problems that keep the collector from starting. */
  static open(path: string): { ok: true; registry: PostbackRegistry } | { ok: false; problems: string[] } {
    const read = loadPostbacks(path);
    return read.ok ? { ok: true, registry: new PostbackRegistry(path, read.postbacks) } : read;
  }

  get postbacks(): readonly Postback[] {
    return this.#postbacks;
  }

  byName(name: string): Postback | undefined {
    return this.#postbacks.find((postback) => postback.name === name);
  }

  /** The postbacks for an event, narrowed to this traffic. */
  for(event: PostbackEvent, traffic: { affId?: string; campaignId?: string }): Postback[] {
    return this.#postbacks.filter((postback) => postback.on === event && postbackCovers(postback, traffic));
  }

  /** Reads the file again; on problems the list in force stays and the problems come back. */
  reload(): PostbackFileRead {
    const read = loadPostbacks(this.path);
    if (read.ok) this.#postbacks = Object.freeze([...read.postbacks]);
    return read;
  }
}

/** `POSTBACKS_FILE` has problems at start: one line each, and the collector does not start. */
export class PostbackFileError extends Error {
  readonly problems: readonly string[];
  constructor(problems: string[]) {
    super(`POSTBACKS_FILE has problems:\n${problems.map((problem) => `  ${problem}`).join('\n')}`);
    this.name = 'PostbackFileError';
    this.problems = problems;
  }
}

/** The registry `POSTBACKS_FILE` names, or undefined without one; throws {@link PostbackFileError} on problems. */
export function openPostbacks(path: string | undefined): PostbackRegistry | undefined {
  if (path === undefined) return undefined;
  const opened = PostbackRegistry.open(path);
  if (!opened.ok) throw new PostbackFileError(opened.problems);
  return opened.registry;
}
