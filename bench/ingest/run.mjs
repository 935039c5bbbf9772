// bench/ingest: requests and events per second, and latency, of POST /v1/events with durable
// writes, against a bare Hono endpoint answering 204, both measured in this run at the same
// concurrency with the same request bodies. Three cases, each printed with its own ratio:
//
//   new     a new visitor's first batch: one page view (mints a session, appends the event,
//           queues an Import Click)
//   lead    a returning visitor's lead update on an existing session (the session token in the
//           body, changed lead fields: the most common request on a lead or checkout page)
//   batch4  a new visitor's four-event batch: page view, lead, cart, exit (also an Import Lead)
//
//   npm run build && node bench/ingest/run.mjs [--case all|new|lead|batch4] [--seconds 10]
//     [--connections 50] [--rate N] [--store both|sqlite|postgres] [--database-url postgres://...]
//     [--durability both|durable] [--profile DIR] [--floor-shape both|minimal|rows]
//
// In one run, for each case: the bare endpoint, the durable floors, and the collector on each
// store (`--store both`, the default, when PostgreSQL answers at --database-url), each store
// durable and, with `--durability both` (the default), with durability off (SQLite without its
// fsync, PostgreSQL with synchronous_commit=off: a switch only the bench's entry point,
// bench/ingest/collector-entry.ts, can reach). It prints the collector on SQLite / the rows
// floor, the collector on PostgreSQL / on SQLite with PostgreSQL's commits
// (pg_stat_database.xact_commit of the bench's database) and round trips (the collector's
// funnelbeacon_store_round_trips_total) per acknowledged request, and durable / non-durable for
// each store, and for each collector the jobs its relay finished during the load ÷ the jobs the
// load queued (a collector looks faster when its relay falls behind; this says whether it did).
// After each collector's measurement the bench waits until its process is idle (its
// outbox worker has delivered the Import Clicks the load queued), so no run is measured while
// another's work goes on.
//
// `--profile DIR` writes a V8 CPU profile of the collector process (its whole life; the load
// dominates it) into DIR, for `node bench/ingest/profile-summary.mjs DIR/<file>.cpuprofile`.
// `--rate N` sends the `new` case at a steady N requests/s instead of as fast as possible (for
// memory under a steady load). The collector runs in its own process as `funnelbeacon serve` runs it
// (node with the flags of dist/cli.js's shebang), one process for every case; its peak RSS
// is read from /proc/<pid>/status (VmHWM), and its RSS is sampled every 100 ms.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';

const { values } = parseArgs({
  options: {
    case: { type: 'string', default: 'all' },
    seconds: { type: 'string', default: '10' },
    connections: { type: 'string', default: '50' },
    // Kept for older command lines: --events 4 is the batch4 case.
    events: { type: 'string' },
    rate: { type: 'string' },
    store: { type: 'string' },
    durability: { type: 'string' },
    profile: { type: 'string' },
    // The durable floor's shape: `minimal` (one row per event) or `rows` (floor-server.mjs).
    'floor-shape': { type: 'string', default: 'both' },
    'database-url': { type: 'string', default: process.env.FUNNELBEACON_BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test' },
  },
});
const FLOOR_TITLES = { minimal: 'durable floor: one row per event', rows: 'durable floor: session, events, job' };
if (!['both', ...Object.keys(FLOOR_TITLES)].includes(values['floor-shape'])) {
  console.error(`--floor-shape ${values['floor-shape']}: use both, minimal or rows`);
  process.exit(2);
}
const seconds = Number(values.seconds);
const connections = Number(values.connections);
const caseNames = values.events === '4' ? ['batch4'] : values.rate ? ['new'] : values.case === 'all' ? ['new', 'lead', 'batch4'] : values.case.split(',');

const ORIGIN = 'http://localhost:5173';
const UA = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const HEADERS = { 'content-type': 'text/plain', origin: ORIGIN, 'user-agent': UA };

const pageView = () => ({ id: randomUUID(), type: 'page', page: 'presell', url: 'https://offer.example/?affId=A1&utm_source=fb' });
let serial = 0;
/** The request bodies of each case; `lead` needs the session tokens of sessions that exist. */
const CASES = {
  new: { title: "a new visitor's first batch (1 page view)", events: 1, body: () => JSON.stringify({ campaign: '12', events: [pageView()] }) },
  lead: {
    title: "a returning visitor's lead update on an existing session",
    events: 1,
    body: (tokens) => {
      const n = serial++;
      const fields = { firstName: 'Ann', lastName: `Lee${n}`, emailAddress: `ann${n}@example.com`, phoneNumber: '5551234567' };
      return JSON.stringify({ campaign: '12', session: tokens[n % tokens.length], events: [{ id: randomUUID(), type: 'lead', fields }] });
    },
  },
  batch4: {
    title: "a new visitor's four-event batch (page, lead, cart, exit)",
    events: 4,
    body: () =>
      JSON.stringify({
        campaign: '12',
        events: [
          pageView(),
          { id: randomUUID(), type: 'lead', fields: { firstName: 'Ann', lastName: 'Lee', emailAddress: 'ann@example.com' } },
          { id: randomUUID(), type: 'cart', items: [{ id: '41', name: 'Bottle', price: 39.95, qty: 1 }], currency: 'USD' },
          { id: randomUUID(), type: 'exit', page: 'presell' },
        ],
      }),
  },
};

function start(command, args, env) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
    let buffer = '';
    child.stdout.on('data', (chunk) => {
      buffer += chunk;
      const bare = /listening (\d+)/.exec(buffer);
      const collector = /"port":(\d+)/.exec(buffer);
      const port = bare?.[1] ?? collector?.[1];
      if (port) {
        child.stdout.removeAllListeners('data');
        child.stdout.resume();
        resolve({ child, port: Number(port) });
      }
    });
    child.on('exit', (code) => reject(new Error(`${command} exited with ${code} before listening`)));
  });
}

/** CPU seconds (user + system) the process has used so far, from /proc/<pid>/stat. */
const cpuSeconds = (pid) => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
};
/** A load run, with the server's CPU time per answered request: steadier than req/s on a shared machine. */
async function measure(server, body) {
  const before = cpuSeconds(server.child.pid);
  const generatorBefore = process.cpuUsage();
  const result = await load(server.port, body);
  const requests = Math.max(1, result.requests.total);
  result.cpuUsPerRequest = ((cpuSeconds(server.child.pid) - before) * 1e6) / requests;
  const generator = process.cpuUsage(generatorBefore);
  // What this process (autocannon and the request bodies) spent per request: it shares the cores.
  result.generatorUsPerRequest = (generator.user + generator.system) / requests;
  return result;
}
const rssMb = (pid, field) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;

function load(port, body) {
  return new Promise((resolve, reject) => {
    autocannon(
      {
        url: `http://127.0.0.1:${port}/v1/events`,
        connections,
        duration: seconds,
        ...(values.rate ? { overallRate: Number(values.rate) } : {}),
        requests: [{ method: 'POST', setupRequest: (request) => ({ ...request, headers: { ...HEADERS }, body: body() }) }],
      },
      (error, result) => (error ? reject(error) : resolve(result)),
    );
  });
}

function stop(child) {
  return new Promise((resolve) => {
    child.once('exit', resolve);
    child.kill('SIGTERM');
  });
}

/** Opens `count` sessions on the collector and returns their session tokens. */
async function openSessions(port, count) {
  const tokens = [];
  for (let i = 0; i < count; i += 50) {
    const answers = await Promise.all(
      Array.from({ length: Math.min(50, count - i) }, () =>
        fetch(`http://127.0.0.1:${port}/v1/events`, { method: 'POST', headers: { ...HEADERS }, body: CASES.new.body() }).then((r) => r.json()),
      ),
    );
    for (const answer of answers) tokens.push(answer.session);
  }
  return tokens;
}

const row = (name, result, events) => ({
  target: name,
  'events/s': Math.round(result.requests.average * events),
  'req/s': Math.round(result.requests.average),
  'p50 ms': result.latency.p50,
  'p99 ms': result.latency.p99,
  'CPU µs/req': Math.round(result.cpuUsPerRequest),
  '2xx': result['2xx'],
  non2xx: result.non2xx,
  errors: result.errors,
  // The relay's jobs finished during the load ÷ those the load queued (1: it kept up).
  'relay done/queued': result.relayKeptUp === undefined ? '' : Number(result.relayKeptUp.toFixed(2)),
});


const dir = mkdtempSync(join(tmpdir(), 'funnelbeacon-bench-'));
// PostgreSQL: databases of their own, created for this run and dropped after it (the server given
// by --database-url may hold test databases that others use).
const createdDatabases = [];
async function adminQuery(sql, params) {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: values['database-url'], connectionTimeoutMillis: 2000 });
  await client.connect();
  try {
    return (await client.query(sql, params)).rows;
  } finally {
    await client.end();
  }
}
async function postgresAnswers() {
  try {
    await adminQuery('SELECT 1');
    return true;
  } catch {
    return false;
  }
}
// A profile is of one collector: SQLite unless --store says otherwise.
const pgAvailable = values.store === 'sqlite' || (values.profile && values.store === undefined) ? false : await postgresAnswers();
if (values.store === 'postgres' && !pgAvailable) {
  console.error(`--store postgres: no PostgreSQL answers at ${values['database-url']}`);
  process.exit(2);
}
const stores = values.store === 'sqlite' || values.store === 'postgres' ? [values.store] : pgAvailable ? ['sqlite', 'postgres'] : ['sqlite'];
if (values.store === undefined && !pgAvailable && !values.profile) console.log(`(PostgreSQL does not answer at ${values['database-url']}: SQLite only)`);
// The memory run and a profile measure the shipped collector alone.
const durabilities = values.rate || values.profile || values.durability === 'durable' ? ['durable'] : ['durable', 'non-durable'];

async function newDatabaseUrl(store, durability) {
  if (store === 'sqlite') return `file:${join(dir, `bench-${durability}.db`)}`;
  const name = `funnelbeacon_bench_${process.pid}_${createdDatabases.length}`;
  await adminQuery(`CREATE DATABASE ${name}`);
  createdDatabases.push(name);
  const url = new URL(values['database-url']);
  url.pathname = `/${name}`;
  return url.href;
}
const bare = await start('node', ['bench/ingest/bare-server.mjs'], {});
// The durable floors (floor-server.mjs): the least an endpoint with the same guarantee does here,
// with one row per event (`minimal`) and with the rows the collector cannot do without (`rows`).
// SQLite only: a reference for the machine, not the store. Not run with --rate (the memory run
// compares the collector with the baseline only).
const floorShapes = values.rate ? [] : values['floor-shape'] === 'both' ? ['minimal', 'rows'] : [values['floor-shape']];
const floors = [];
// Beside the floor, SQLite also runs with no outbox worker (`relay off`): the floor queues a job
// row and never delivers it, while the collector relays every Import Click on the same cores.
const relayOff = !values.rate && !values.profile && floorShapes.length > 0 && stores.includes('sqlite');
// FUNNELBEACON_BENCH_NODE_ARGS: extra node flags for the collector (e.g. --cpu-prof).
// The collector runs with the node flags of its shebang, as `funnelbeacon serve` does.
const shebangFlags = readFileSync('dist/cli.js', 'utf8').split('\n', 1)[0].split(' ').filter((word) => word.startsWith('--'));
const profileArgs = values.profile ? ['--cpu-prof', `--cpu-prof-dir=${values.profile}`] : [];
const nodeArgs = [...shebangFlags, ...profileArgs, ...(process.env.FUNNELBEACON_BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean)];
/** Stops what this run started and removes what it created; the bench leaves nothing behind. */
async function cleanUp() {
  rmSync(dir, { recursive: true, force: true });
  for (const name of createdDatabases) await adminQuery(`DROP DATABASE IF EXISTS ${name}`);
}
/** The collectors, one process each: a store and a durability. */
const collectors = [];
try {
  for (const shape of floorShapes) floors.push({ shape, ...(await start('node', ['bench/ingest/floor-server.mjs'], { FLOOR_SHAPE: shape })) });
  const variants = stores.flatMap((store) => durabilities.map((durability) => ({ store, durability })));
  if (relayOff) variants.splice(1, 0, { store: 'sqlite', durability: 'relay off' });
  for (const { store, durability } of variants) {
    {
      const databaseUrl = await newDatabaseUrl(store, durability);
      // Durable: the shipped collector, `funnelbeacon serve`. Durability off: the bench's entry
      // point, the same start with the one switch the CLI cannot reach.
      const entry = durability === 'durable' ? ['dist/cli.js', 'serve'] : ['dist/bench/ingest-collector.js', durability === 'relay off' ? '--no-relay' : '--non-durable'];
      const server = await start('node', [...nodeArgs, ...entry], {
        PORT: '0',
        HOST: '127.0.0.1',
        DATABASE_URL: databaseUrl,
        KONNEKTIVE_CAMPAIGNS: '12',
        // The load comes from one address: neither per-address limit is what this measures.
        RATE_LIMIT_PER_MINUTE: '100000000',
        RATE_LIMIT_BYTES_PER_MINUTE: '100000000000',
        LOG_LEVEL: 'info',
      });
      collectors.push({ store, durability, database: store === 'postgres' ? new URL(databaseUrl).pathname.slice(1) : undefined, rssMax: 0, ...server });
    }
  }
} catch (error) {
  // A floor or a collector that cannot start (a bad DATABASE_URL, a build missing) must not
  // leave the servers already started running: this script would never exit.
  await stop(bare.child);
  for (const server of [...floors, ...collectors]) await stop(server.child);
  await cleanUp();
  throw error;
}
const sampler = setInterval(() => {
  for (const collector of collectors) {
    try {
      collector.rssMax = Math.max(collector.rssMax, rssMb(collector.child.pid, 'VmRSS'));
    } catch {}
  }
}, 100);

/** Waits until the process has been nearly idle for half a second (at most 60 s). */
async function settle(server) {
  const until = Date.now() + 60_000;
  let before = cpuSeconds(server.child.pid);
  while (Date.now() < until) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    const now = cpuSeconds(server.child.pid);
    if (now - before < 0.025) return;
    before = now;
  }
}
/** The collector's store counters so far, by path (`ingest`, `other`), from its /metrics. */
async function storeCounts(server) {
  const text = await (await fetch(`http://127.0.0.1:${server.port}/metrics`)).text();
  const counts = { roundTrips: {}, commits: {}, jobs: {} };
  for (const [, name, path, value] of text.matchAll(/^funnelbeacon_store_(round_trips|commits)_total\{path="(\w+)"\} (\S+)$/gm)) {
    counts[name === 'round_trips' ? 'roundTrips' : 'commits'][path] = Number(value);
  }
  for (const [, state, value] of text.matchAll(/^funnelbeacon_outbox_jobs\{state="(\w+)"\} (\S+)$/gm)) counts.jobs[state] = Number(value);
  return counts;
}
const sum = (byPath) => Object.values(byPath).reduce((a, b) => a + b, 0);
const commits = async (database) => Number((await adminQuery('SELECT xact_commit FROM pg_stat_database WHERE datname = $1', [database]))[0].xact_commit);
/**
 * A collector's load run, with PostgreSQL's commits and round trips per acknowledged request: in
 * all (the server's xact_commit; the collector's round trips on every path), and the ingest
 * commit groups' own (the rest is the outbox worker delivering the jobs the load queued).
 */
async function measureCollector(collector, body) {
  const commitsBefore = collector.database ? await commits(collector.database) : undefined;
  const before = await storeCounts(collector);
  const result = await measure(collector, body);
  const acknowledged = Math.max(1, result['2xx']);
  // Whether the relay kept up during the load: the jobs it finished ÷ the jobs the load queued.
  const jobsAfter = (await storeCounts(collector)).jobs;
  const queued = sum(jobsAfter) - sum(before.jobs);
  if (collector.durability !== 'relay off' && queued > 0) result.relayKeptUp = ((jobsAfter.done ?? 0) - (before.jobs.done ?? 0)) / queued;
  if (collector.database) {
    result.commitsPerAck = ((await commits(collector.database)) - commitsBefore) / acknowledged;
    const after = await storeCounts(collector);
    const delta = (field, path) => ((path ? after[field][path] ?? 0 : sum(after[field])) - (path ? before[field][path] ?? 0 : sum(before[field]))) / acknowledged;
    if (Object.keys(after.roundTrips).length > 0) {
      result.roundTripsPerAck = delta('roundTrips');
      result.ingestRoundTripsPerAck = delta('roundTrips', 'ingest');
      result.ingestCommitsPerAck = delta('commits', 'ingest');
    }
  }
  await settle(collector);
  return result;
}

const label = (collector) => `funnelbeacon, ${collector.store}${collector.durability === 'durable' ? '' : collector.durability === 'relay off' ? ', relay off' : ', durability off'}`;
const fixed = (n) => (n === undefined ? 'n/a' : Number(n.toFixed(2)));
const summary = [];
for (const name of caseNames) {
  const spec = CASES[name];
  const bareResult = await measure(bare, () => spec.body([]));
  const floorResults = [];
  for (const floor of floors) floorResults.push({ shape: floor.shape, result: await measure(floor, () => spec.body([])) });
  const results = new Map();
  for (const collector of collectors) {
    const tokens = name === 'lead' ? await openSessions(collector.port, 1000) : [];
    if (name === 'lead') await settle(collector);
    results.set(collector, await measureCollector(collector, () => spec.body(tokens)));
  }
  console.log(`\ningest case "${name}": ${spec.title}; ${connections} connections, ${seconds} s each`);
  console.table([
    row('bare Hono 204 (baseline)', bareResult, spec.events),
    ...floorResults.map(({ shape, result }) => row(FLOOR_TITLES[shape], result, spec.events)),
    ...collectors.map((collector) => row(`${label(collector)} POST /v1/events`, results.get(collector), spec.events)),
  ]);
  const of = (store, durability = 'durable') => results.get(collectors.find((c) => c.store === store && c.durability === durability))?.requests.average;
  const floorRatios = {};
  for (const { shape, result } of floorResults) {
    floorRatios[shape] = result.requests.average / bareResult.requests.average;
    console.log(`durable floor (${shape}) / baseline: ${floorRatios[shape].toFixed(2)}; funnelbeacon on SQLite / this floor: ${((of('sqlite') ?? NaN) / result.requests.average).toFixed(2)}${shape === 'rows' ? ' (goal >= 0.6, aim 0.8)' : ''}`);
  }
  const line = { case: name };
  const rows = floorResults.find((floor) => floor.shape === 'rows')?.result.requests.average;
  if (rows && of('sqlite')) line['sqlite / rows floor'] = fixed(of('sqlite') / rows);
  if (rows && of('sqlite', 'relay off')) {
    line['relay off / rows floor'] = fixed(of('sqlite', 'relay off') / rows);
    console.log(`funnelbeacon on SQLite with its relay off (the ingest alone, as the floor) / the rows floor: ${line['relay off / rows floor']} (goal >= 0.6, aim 0.8)`);
  }
  const pgDurable = results.get(collectors.find((c) => c.store === 'postgres' && c.durability === 'durable'));
  if (pgDurable) {
    line['postgres / sqlite'] = of('sqlite') ? fixed(of('postgres') / of('sqlite')) : 'n/a';
    line['pg commits/ack'] = Number(pgDurable.commitsPerAck.toFixed(3));
    const counted = pgDurable.roundTripsPerAck !== undefined;
    line['pg round trips/ack'] = counted ? Number(pgDurable.roundTripsPerAck.toFixed(3)) : 'n/a';
    if (counted) {
      line['ingest commits/ack'] = Number(pgDurable.ingestCommitsPerAck.toFixed(3));
      line['ingest round trips/ack'] = Number(pgDurable.ingestRoundTripsPerAck.toFixed(3));
    }
    console.log(
      `funnelbeacon on PostgreSQL / on SQLite: ${line['postgres / sqlite']} (goal >= 0.6); per acknowledged request: ` +
        `${pgDurable.commitsPerAck.toFixed(3)} commits (goal <= 0.1), ` +
        (counted
          ? `${pgDurable.roundTripsPerAck.toFixed(3)} round trips (goal <= 0.2); of which the ingest commit groups' own: ${pgDurable.ingestCommitsPerAck.toFixed(3)} commits, ${pgDurable.ingestRoundTripsPerAck.toFixed(3)} round trips (the rest is the outbox worker delivering what the load queued)`
          : 'round trips not counted (no funnelbeacon_store_round_trips_total)'),
    );
  }
  for (const store of stores) {
    if (!of(store, 'non-durable')) continue;
    line[`${store} durable / off`] = fixed(of(store) / of(store, 'non-durable'));
    console.log(`funnelbeacon on ${store === 'sqlite' ? 'SQLite' : 'PostgreSQL'}, durable / durability off: ${line[`${store} durable / off`]} (goal >= 0.9)`);
  }
  for (const collector of collectors) {
    const result = results.get(collector);
    const p99 = result.latency.p99 / Math.max(1, bareResult.latency.p99);
    if (collector.durability !== 'durable') continue;
    const throughput = result.requests.average / bareResult.requests.average;
    if (values.rate) console.log(`${collector.store}: fixed rate of ${values.rate} req/s: throughput is capped for both, compare latency and memory`);
    else console.log(`${collector.store}: funnelbeacon / baseline: ${throughput.toFixed(2)}; p99 ratio ${p99.toFixed(2)}`);
    const cpu = bareResult.cpuUsPerRequest / result.cpuUsPerRequest;
    console.log(`${collector.store}: CPU time per request, baseline / funnelbeacon: ${cpu.toFixed(2)} (the throughput ratio a collector bound only by its CPU would reach)`);
    line[`${collector.store} CPU µs/req`] = Math.round(result.cpuUsPerRequest);
    line[`${collector.store} req/s`] = Math.round(result.requests.average);
    if (values.rate) line[`${collector.store} p99 ratio`] = fixed(p99);
  }
  line['floor rows req/s'] = rows ? Math.round(rows) : 'n/a';
  line['baseline req/s'] = Math.round(bareResult.requests.average);
  summary.push(line);
}
clearInterval(sampler);
const peaks = collectors.map((collector) => ({ collector, peak: rssMb(collector.child.pid, 'VmHWM') }));
for (const collector of collectors) await stop(collector.child);
await stop(bare.child);
for (const floor of floors) await stop(floor.child);
await cleanUp();

console.log('\nsummary');
console.table(summary);
const budget = values.rate ? 100 : 150;
for (const { collector, peak } of peaks) {
  if (collector.durability !== 'durable') continue;
  console.log(`collector peak RSS, ${collector.store}: ${peak.toFixed(0)} MB (budget ${budget} MB${values.rate ? ` at ${values.rate} req/s` : ' under saturating load'})`);
}
