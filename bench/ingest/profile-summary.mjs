// bench/ingest/profile-summary: where a collector CPU profile (`run.mjs --profile DIR`) spends
// its time: by part of a request (below), then self time by module and by function, and
// inclusive time by function, in % of busy time.
//   node bench/ingest/profile-summary.mjs <file.cpuprofile> [rows] [--requests N] [--all]
//
// Only the load counts: the longest stretch of 100 ms slices the process was at least half busy
// (startup, the lead case's session opening and shutdown fall outside it); `--all` counts the
// whole profile. With `--requests N` (the collector's requests in that run: req/s × seconds, as
// run.mjs prints them) each part is also given in µs of CPU per request. The profiler itself adds
// some 10-20%: compare parts, and scale to run.mjs's unprofiled CPU µs/req.
//
// Parts: each sample goes to the outbox worker (and the relay it runs) when the worker is on its
// stack (or one of its store operations, OUTBOX_STORE); otherwise to the part of the innermost frame that has one (rules in PARTS), so a
// statement run by applyBatch counts as "SQLite statements", applyBatch's own JavaScript as
// "applyBatch + store operations (JS)". Frames in the bundle (dist/cli.js) are named by the
// source file esbuild marks them with (`// collector/...ts` lines).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { requests: { type: 'string' }, all: { type: 'boolean', default: false } } });
const prof = JSON.parse(readFileSync(positionals[0], 'utf8'));
const top = Number(positionals[1] ?? 40);
const requests = values.requests ? Number(values.requests) : undefined;
const nodes = new Map(prof.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

// The source file of a line of the bundle, from esbuild's `// path` markers.
const bundles = new Map();
const bundleLines = new Map();
function sourceOf(url, line) {
  if (!url.startsWith('file://') || !url.endsWith('/dist/cli.js')) return undefined;
  let marks = bundles.get(url);
  if (!marks) {
    marks = [];
    const lines = readFileSync(fileURLToPath(url), 'utf8').split('\n');
    bundleLines.set(url, lines);
    lines.forEach((text, index) => {
      const m = /^\/\/ ((collector|node_modules|snippet|bench)\/\S+)$/.exec(text);
      if (m) marks.push([index, m[1]]);
    });
    bundles.set(url, marks);
  }
  let found;
  for (const [at, path] of marks) {
    if (at > line) break;
    found = path;
  }
  return found;
}
const fileOf = (n) => {
  const u = n.callFrame.url;
  if (!u) return n.callFrame.functionName;
  const source = sourceOf(u, n.callFrame.lineNumber);
  if (source) return source;
  const m = /node_modules\/((@[^/]+\/)?[^/]+)/.exec(u);
  return m ? `nm:${m[1]}` : u.replace(`file://${process.cwd()}/`, '');
};
const key = (n) => `${n.callFrame.functionName || '(anon)'} ${fileOf(n)}:${n.callFrame.lineNumber + 1}`;

// The outbox worker and what it runs (claims, the relay to sandbox Konnektive, completions).
const OUTBOX = /^collector\/(outbox|emit|konnektive|abandonment|lifecycle)\//;
// Innermost match wins. [part, test(file, function)]
const PARTS = [
  ['async_hooks (AsyncLocalStorage promise hooks)', (f) => /^node:(internal\/)?async_hooks$/.test(f)],
  ['SQLite BEGIN/COMMIT', (f, fn) => f === 'nm:better-sqlite3' && fn === 'exec'],
  // `anonymous`: the row makers sqlite-store.ts builds with `new Function` (no file of their own).
  ['SQLite statements', (f, fn) => f === 'nm:better-sqlite3' || f === 'anonymous' || (f === 'collector/store/sqlite-store.ts' && /^(rows|run|insert|#stmt|#readRows|#checkSchema)$/.test(fn))],
  ['WAL fsync (JS side)', (f, fn) => f === 'collector/store/sqlite-store.ts' && fn === '#syncWal'],
  ['zod wire-schema validation', (f) => f === 'nm:zod' || f === 'collector/wire-schema.ts'],
  ['bot check (isbot)', (f) => f === 'nm:isbot' || f === 'collector/http/bot-filter.ts'],
  ['metrics (prom-client)', (f) => f === 'nm:prom-client' || f === 'collector/metrics.ts'],
  ['logging', (f) => f === 'collector/logger.ts' || f === 'nm:pino'],
  ['tokens (HMAC, ids, nonces)', (f) => f === 'collector/tokens.ts'],
  ['rate limit, client address', (f) => /^collector\/http\/(rate-limit|window-counts|client-ip)\.ts$/.test(f)],
  ['origin check, CORS', (f) => f === 'collector/http/cors.ts'],
  ['body read', (f) => f === 'collector/http/read-body.ts'],
  ['card filter, lead merge, session rules', (f) => /^collector\/(card-filter|session\/)/.test(f) || f === 'nm:credit-card-type' || f === 'nm:libphonenumber-js'],
  ['applyBatch + store operations (JS)', (f) => /^collector\/(ingest\/(apply-batch|session-cap)|store\/(sql-store|rows|plans|dialect|store))\.ts$/.test(f)],
  ['group commit, transaction, lock', (f) => f === 'collector/ingest/group-commit.ts' || f === 'collector/store/sqlite-store.ts' || f === 'collector/store/async-mutex.ts'],
  ['route handler (own JS, JSON.parse)', (f) => f === 'collector/routes/events-route.ts'],
  ['Hono (routing, context, c.json)', (f) => f === 'nm:hono'],
  ['Node adapter (@hono/node-server)', (f) => f === 'nm:@hono/node-server'],
  ['Node HTTP, sockets, streams', (f) => /^(node:(_http_|net|internal\/(streams|stream_base_commons|http)|stream)|writev|writeBuffer|writeUtf8String|writeLatin1String)/.test(f)],
  ['garbage collector', (f) => f === '(garbage collector)'],
  ['startup (module loading)', (f) => /^node:internal\/modules\//.test(f) || f === 'compileFunction'],
  ['other collector code', (f) => f.startsWith('collector/')],
];

// The worker's own store operations: after an `await` their stack no longer shows the worker.
// (Its completion's session update, `#updateSession` resumed after its read, still counts as
// "applyBatch + store operations": the profile cannot tell it from ingest's.)
const OUTBOX_STORE = /^(claimJobs|completeJobs|#recordAttempt|#completeJob|renewLeases|releaseClaims|getSession)$/;
/** The class method a bundle line sits in: the nearest line above it that opens one, at most 30 lines up. */
const enclosingMethod = (n) => {
  const lines = bundleLines.get(n.callFrame.url);
  if (!lines) return undefined;
  const indent = /^\s*/.exec(lines[n.callFrame.lineNumber] ?? '')[0].length;
  for (let at = n.callFrame.lineNumber; at >= Math.max(0, n.callFrame.lineNumber - 30); at--) {
    const m = /^(\s*)(?:async )?([#\w]+)\([^)]*\) \{$/.exec(lines[at]);
    if (m && m[1].length < indent) return m[2];
  }
  return undefined;
};
const partOf = (id) => {
  let inOutbox = false;
  for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
    const n = nodes.get(cur);
    const file = fileOf(n);
    // Only the store's own methods (`async getSession(` is the relay's read; the transaction's
    // `getSession:` operation is ingest's).
    const method = () => /^\s*(async )?[#\w]+\(/.test(bundleLines.get(n.callFrame.url)?.[n.callFrame.lineNumber] ?? '');
    if (OUTBOX.test(file) || (file === 'collector/store/sql-store.ts' && OUTBOX_STORE.test(n.callFrame.functionName) && method())) inOutbox = true;
    // A transaction's callback inside one of those methods (`claimJobs(options) { return this.atomically(async (x) => ...`).
    else if (file === 'collector/store/sql-store.ts' && !n.callFrame.functionName && OUTBOX_STORE.test(enclosingMethod(n) ?? '')) inOutbox = true;
  }
  if (inOutbox) return 'outbox worker + sandbox relay (all of it)';
  for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
    const n = nodes.get(cur);
    const file = fileOf(n);
    for (const [part, test] of PARTS) if (test(file, n.callFrame.functionName)) return part;
  }
  return 'other (event loop, microtasks, timers, native)';
};

// The load: the longest stretch of 100 ms slices at least half busy.
const times = [];
let t = prof.startTime;
for (let i = 0; i < prof.samples.length; i++) {
  t += prof.timeDeltas[i] ?? 0;
  times.push(t);
}
let from = -Infinity, to = Infinity;
if (!values.all) {
  const slice = 100_000;
  const busy = new Map();
  for (let i = 0; i < prof.samples.length; i++) {
    if (nodes.get(prof.samples[i]).callFrame.functionName === '(idle)') continue;
    const s = Math.floor((times[i] - prof.startTime) / slice);
    busy.set(s, (busy.get(s) ?? 0) + (prof.timeDeltas[i + 1] ?? 0));
  }
  const last = Math.floor((prof.endTime - prof.startTime) / slice);
  let best = [0, -1], start = -1;
  for (let s = 0; s <= last + 1; s++) {
    const hot = (busy.get(s) ?? 0) >= slice / 2;
    if (hot && start < 0) start = s;
    if (!hot && start >= 0) {
      if (s - start > best[1] - best[0] + 1) best = [start, s - 1];
      start = -1;
    }
  }
  from = prof.startTime + best[0] * slice;
  to = prof.startTime + (best[1] + 1) * slice;
}

const self = new Map();
for (let i = 0; i < prof.samples.length; i++) {
  if (times[i] < from || times[i] >= to) continue;
  const dt = prof.timeDeltas[i + 1] ?? 0;
  self.set(prof.samples[i], (self.get(prof.samples[i]) ?? 0) + dt);
}
let total = 0, idle = 0;
const byFn = new Map(), byMod = new Map(), incl = new Map(), byPart = new Map();
for (const [id, dt] of self) {
  const n = nodes.get(id);
  if (n.callFrame.functionName === '(idle)') { idle += dt; continue; }
  total += dt;
  byFn.set(key(n), (byFn.get(key(n)) ?? 0) + dt);
  byMod.set(fileOf(n), (byMod.get(fileOf(n)) ?? 0) + dt);
  const part = partOf(id);
  byPart.set(part, (byPart.get(part) ?? 0) + dt);
  const seen = new Set();
  for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
    const k = key(nodes.get(cur)); if (seen.has(k)) continue; seen.add(k);
    incl.set(k, (incl.get(k) ?? 0) + dt);
  }
}
const perRequest = (dt) => (requests ? `${(dt / requests).toFixed(1).padStart(7)} µs/req  ` : '');
const pr = (title, m, rows = top) => {
  console.log(`\n== ${title}`);
  for (const [k, dt] of [...m].sort((a, b) => b[1] - a[1]).slice(0, rows)) console.log(`${(100 * dt / total).toFixed(1).padStart(5)}%  ${(dt / 1000).toFixed(0).padStart(6)}ms  ${perRequest(dt)}${k}`);
};
const window = values.all ? 'the whole profile' : `the load: ${((to - from) / 1e6).toFixed(1)} s`;
console.log(`${window}; busy ${(total / 1000).toFixed(0)} ms, idle ${(idle / 1000).toFixed(0)} ms${requests ? `; ${(total / requests).toFixed(0)} µs of CPU per request (profiled)` : ''}`);
pr('by part of a request (self time, innermost part; the outbox worker whole)', byPart, 100);
pr('self by module', byMod); pr('self by function', byFn); pr('inclusive by function', incl);
