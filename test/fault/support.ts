/**
 * Fault tests drive the collector as operators run it: `node dist/cli.js serve` in a child
 * process (built by `npm test` before vitest), on a fresh SQLite file or PostgreSQL schema, with
 * load from this process. Shared here: starting it, the two backends, and the generated bodies.
 */
import { SERVE_NODE_FLAGS } from '../../collector/node-flags.js';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { openStore } from '../../collector/store/open-store.js';
import type { Store } from '../../collector/store/store.js';
import { PAGE_NAMES } from '../../collector/wire-schema.js';
import { testPostgres, type TestPostgres } from '../support/postgres.js';
import { BROWSER_UA, LANDER_ORIGIN } from '../support/test-collector.js';

export interface SpawnedCollector {
  port: number;
  pid: number;
  child: ChildProcessWithoutNullStreams;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output(): string;
}

/** Starts `node dist/cli.js serve` on `databaseUrl` and resolves once it listens. */
export async function spawnCollector(databaseUrl: string, env: Record<string, string> = {}): Promise<SpawnedCollector> {
  if (!existsSync('dist/cli.js')) throw new Error('run `npm run build` first (npm test does)');
  // With the flags `funnelbeacon serve` runs with (dist/cli.js's shebang), so RSS is measured as deployed.
  const child = spawn(process.execPath, [...SERVE_NODE_FLAGS, 'dist/cli.js', 'serve'], {
    env: {
      PATH: process.env.PATH,
      PORT: '0',
      HOST: '127.0.0.1',
      DATABASE_URL: databaseUrl,
      LOG_LEVEL: 'info',
      RATE_LIMIT_PER_MINUTE: '100000000',
      // The load comes from one address: neither per-address limit may be what a test measures.
      RATE_LIMIT_BYTES_PER_MINUTE: '100000000000',
      ...env,
    },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let output = '';
  child.stderr.on('data', (chunk: Buffer) => (output += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`collector did not start in 15 s: ${output}`)), 15_000);
    child.stdout.on('data', (chunk: Buffer) => {
      // Keep only the start of the log (the port line); a long soak must not grow this string.
      if (output.length < 20_000) output += chunk;
      const match = /"port":(\d+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    });
    void exited.then(() => reject(new Error(`collector exited early: ${output}`)));
  });
  return { port, pid: child.pid!, child, exited, output: () => output };
}

export interface FaultBackend {
  name: 'sqlite' | 'postgres';
  skip: string | undefined;
  newDatabaseUrl(): string;
  cleanup(): Promise<void>;
}

let postgres: TestPostgres | undefined;

export async function faultBackends(): Promise<FaultBackend[]> {
  postgres ??= await testPostgres();
  const pg = postgres;
  return [
    {
      name: 'sqlite',
      skip: undefined,
      newDatabaseUrl: () => `file:${join(mkdtempSync(join(tmpdir(), 'funnelbeacon-fault-')), 'collector.db')}`,
      cleanup: async () => {},
    },
    { name: 'postgres', skip: pg.skip, newDatabaseUrl: () => pg.newSchemaUrl(), cleanup: () => pg.dropSchemas() },
  ];
}

export async function withStore<T>(databaseUrl: string, fn: (store: Store) => Promise<T>): Promise<T> {
  const store = await openStore(databaseUrl);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

/** Resident memory of a process, measured from outside (kB -> MB). */
export function rssMb(pid: number): number | undefined {
  try {
    const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

// --- generated bodies ----------------------------------------------------------------------

export interface GeneratedRequest {
  body: string;
  contentType: string;
  origin: string;
  /** Built to be valid: it must be accepted. */
  valid: boolean;
}

const pageName = fc.constantFrom(...PAGE_NAMES);
const nasty = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom('', '\u0000', '\ud800', '<script>alert(1)</script>', "'; DROP TABLE events; --", '4111 1111 1111 1111', '__proto__', 'constructor', 'x'.repeat(5000)),
);
const anyValue = fc.oneof(nasty, fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.anything({ maxDepth: 3 }));
const hostileEvent = fc.oneof(
  fc.record({ id: fc.oneof(fc.uuid(), nasty), type: fc.constant('page'), page: fc.oneof(pageName, nasty), url: fc.oneof(fc.webUrl(), nasty), referrer: fc.option(anyValue) }),
  fc.record({ id: fc.uuid(), type: fc.constant('lead'), fields: fc.dictionary(fc.oneof(fc.constantFrom('emailAddress', 'firstName', 'phoneNumber', '__proto__'), nasty), anyValue) }),
  fc.record({
    id: fc.uuid(),
    type: fc.constant('cart'),
    items: fc.array(fc.record({ id: anyValue, name: anyValue, price: fc.oneof(fc.double(), fc.integer(), nasty), qty: fc.oneof(fc.integer(), fc.double()) }), { maxLength: 60 }),
    currency: fc.oneof(fc.constantFrom('USD', 'EUR'), nasty),
  }),
  fc.record({ id: fc.uuid(), type: fc.constant('order'), orderId: fc.oneof(fc.stringMatching(/^[A-Z0-9]{1,12}$/), nasty) }),
  fc.record({ id: fc.uuid(), type: fc.oneof(nasty, fc.constant('exit')), page: anyValue }),
  anyValue,
);
const hostileBody = fc.oneof(
  { weight: 3, arbitrary: fc.record({ events: fc.array(hostileEvent, { maxLength: 60 }), session: fc.option(nasty), campaign: fc.option(anyValue), link: fc.option(nasty) }, { requiredKeys: ['events'] }).map((value) => JSON.stringify(value)) },
  { weight: 1, arbitrary: fc.json({ maxDepth: 4 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 400 }) },
  { weight: 1, arbitrary: fc.anything({ maxDepth: 4, withObjectString: true }).map((value) => { try { return JSON.stringify(value) ?? 'undefined'; } catch { return '{'; } }) },
  { weight: 1, arbitrary: fc.integer({ min: 64 * 1024 - 64, max: 80_000 }).map((size) => `{"events":[{"id":"${'a'.repeat(size)}"}]}`) },
);
const hostileRequest: fc.Arbitrary<GeneratedRequest> = fc.record({
  body: hostileBody,
  contentType: fc.constantFrom('text/plain;charset=UTF-8', 'text/plain', 'application/json', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', ''),
  origin: fc.constantFrom(LANDER_ORIGIN, LANDER_ORIGIN, LANDER_ORIGIN, 'https://evil.example', 'null', ''),
  valid: fc.constant(false),
});

/** A real first batch of a new visitor. */
export function validRequest(): GeneratedRequest {
  return {
    body: JSON.stringify({
      events: [
        { id: randomUUID(), type: 'page', page: 'checkout', url: 'https://secure.example/checkout?affId=7' },
        { id: randomUUID(), type: 'lead', fields: { firstName: 'Ann', lastName: 'Lee', emailAddress: `ann${Math.random()}@example.com` } },
        { id: randomUUID(), type: 'cart', items: [{ id: '41', name: 'Bottle', price: 39.95, qty: 1 }], currency: 'USD' },
      ],
    }),
    contentType: 'text/plain;charset=UTF-8',
    origin: LANDER_ORIGIN,
    valid: true,
  };
}

/** `count` requests, reproducible from `seed`; `validShare` of them valid (0..1). */
export function generatedRequests(count: number, seed: number, validShare = 0): GeneratedRequest[] {
  const hostile = fc.sample(hostileRequest, { numRuns: count, seed });
  return hostile.map((request, i) => (validShare > 0 && (i * 7919) % 1000 < validShare * 1000 ? validRequest() : request));
}

export interface Answer {
  status: number;
  valid: boolean;
  session?: string;
  accepted?: number;
}

/** Sends requests with `concurrency` in flight; `onAnswer` sees each answer as it comes. */
export async function send(
  port: number,
  requests: Iterable<GeneratedRequest>,
  { concurrency = 16, onAnswer }: { concurrency?: number; onAnswer?: (answer: Answer, request: GeneratedRequest) => void } = {},
): Promise<void> {
  const iterator = requests[Symbol.iterator]();
  const lane = async () => {
    for (let next = iterator.next(); !next.done; next = iterator.next()) {
      const request = next.value;
      const headers: Record<string, string> = { 'user-agent': BROWSER_UA };
      if (request.contentType) headers['content-type'] = request.contentType;
      if (request.origin) headers.origin = request.origin;
      const res = await fetch(`http://127.0.0.1:${port}/v1/events`, { method: 'POST', headers, body: request.body });
      const text = await res.text();
      const answer: Answer = { status: res.status, valid: request.valid };
      if (res.status === 200) {
        const parsed = JSON.parse(text) as { ids: { session: string }; accepted: number };
        answer.session = parsed.ids.session;
        answer.accepted = parsed.accepted;
      }
      onAnswer?.(answer, request);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
}

export { BROWSER_UA, LANDER_ORIGIN };

export interface SoakResult {
  requests: number;
  statuses: Map<number, number>;
  /** [requests answered so far, RSS MB], sampled from /proc every `sampleMs`. */
  curve: [number, number][];
  seconds: number;
}

/** `count` requests, `validShare` valid and the rest hostile, with RSS sampled from outside. */
export async function soak(databaseUrl: string, count: number, { validShare = 0.3, sampleMs = 200, seed = 7 } = {}): Promise<SoakResult> {
  const collector = await spawnCollector(databaseUrl);
  const statuses = new Map<number, number>();
  const curve: [number, number][] = [];
  let answered = 0;
  const started = performance.now();
  const sample = () => {
    const rss = rssMb(collector.pid);
    if (rss !== undefined) curve.push([answered, rss]);
  };
  sample();
  const timer = setInterval(sample, sampleMs);
  try {
    // Generated in chunks: 100,000 bodies held at once would weigh on this process, not the collector.
    const chunk = 5_000;
    for (let from = 0; from < count; from += chunk) {
      await send(collector.port, generatedRequests(Math.min(chunk, count - from), seed + from, validShare), {
        concurrency: 16,
        onAnswer: (answer) => {
          answered++;
          statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
        },
      });
    }
  } finally {
    clearInterval(timer);
    sample();
    collector.child.kill('SIGTERM');
    await collector.exited;
  }
  return { requests: answered, statuses, curve, seconds: (performance.now() - started) / 1000 };
}

/** Peak RSS in each quarter of the run (by requests answered). */
export function quarterPeaks(result: SoakResult): number[] {
  const peaks = [0, 0, 0, 0];
  for (const [answered, rss] of result.curve) {
    const quarter = Math.min(3, Math.floor((answered / Math.max(1, result.requests)) * 4));
    peaks[quarter] = Math.max(peaks[quarter]!, rss);
  }
  return peaks;
}
