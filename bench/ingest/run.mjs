// bench/ingest: events per second and latency of POST /v1/events with durable writes, against a
// bare Hono endpoint answering 204, both measured in this run at the same concurrency.
//
//   npm run build && node bench/ingest/run.mjs [--seconds 10] [--connections 50] [--events 1] [--rate N]
//
// Each request is a new visitor's first batch (the heaviest case: it mints a session, appends
// the events and queues an Import Click, and with --events 4 also a lead, a cart and an exit, and
// an Import Lead), so the sandbox worker relays while the load runs. The collector runs in its
// own process, as in production; its peak RSS is read from /proc. Events per second count the
// events the requests carried, for the baseline too.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    connections: { type: 'string', default: '50' },
    events: { type: 'string', default: '1' },
    // A fixed request rate instead of as fast as possible (for memory under a steady load).
    rate: { type: 'string' },
  },
});
const seconds = Number(values.seconds);
const connections = Number(values.connections);
const perRequest = Math.min(4, Math.max(1, Number(values.events)));

/** A new visitor's first batch: the landing page view, then what the snippet sends next on it. */
function batch() {
  const all = [
    { id: randomUUID(), type: 'page', page: 'presell', url: 'https://offer.example/?affId=A1&utm_source=fb' },
    { id: randomUUID(), type: 'lead', fields: { firstName: 'Ann', lastName: 'Lee', emailAddress: 'ann@example.com' } },
    { id: randomUUID(), type: 'cart', items: [{ id: '41', name: 'Bottle', price: 39.95, qty: 1 }], currency: 'USD' },
    { id: randomUUID(), type: 'exit', page: 'presell' },
  ];
  return JSON.stringify({ campaign: '12', events: all.slice(0, perRequest) });
}
const ORIGIN = 'http://localhost:5173';
const UA = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';

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

function peakRssMb(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)[1]) / 1024;
}

function load(port) {
  return new Promise((resolve, reject) => {
    autocannon(
      {
        url: `http://127.0.0.1:${port}/v1/events`,
        connections,
        duration: seconds,
        ...(values.rate ? { overallRate: Number(values.rate) } : {}),
        requests: [
          {
            method: 'POST',
            setupRequest: (request) => ({
              ...request,
              headers: { 'content-type': 'text/plain', origin: ORIGIN, 'user-agent': UA },
              body: batch(),
            }),
          },
        ],
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

const report = (name, result) => ({
  target: name,
  'events/s': Math.round(result.requests.average * perRequest),
  'req/s': Math.round(result.requests.average),
  'p50 ms': result.latency.p50,
  'p99 ms': result.latency.p99,
  '2xx': result['2xx'],
  non2xx: result.non2xx,
  errors: result.errors,
});

const bare = await start('node', ['bench/ingest/bare-server.mjs'], {});
const bareResult = await load(bare.port);
await stop(bare.child);

const dir = mkdtempSync(join(tmpdir(), 'funnelbeacon-bench-'));
const collector = await start('node', ['dist/cli.js', 'serve'], {
  PORT: '0',
  HOST: '127.0.0.1',
  DATABASE_URL: `file:${join(dir, 'bench.db')}`,
  KONNEKTIVE_CAMPAIGNS: '12',
  RATE_LIMIT_PER_MINUTE: '100000000',
  LOG_LEVEL: 'info',
});
const collectorResult = await load(collector.port);
const rss = peakRssMb(collector.child.pid);
await stop(collector.child);
rmSync(dir, { recursive: true, force: true });

console.log(`ingest benchmark: ${connections} connections, ${seconds} s each, ${perRequest} event(s) per request, each request a new visitor`);
console.table([report('bare Hono 204 (baseline)', bareResult), report('funnelbeacon POST /v1/events', collectorResult)]);
if (values.rate) console.log(`fixed rate of ${values.rate} req/s: throughput is capped for both, compare latency and memory`);
else console.log(`throughput ratio (funnelbeacon / baseline): ${(collectorResult.requests.average / bareResult.requests.average).toFixed(2)} (goal >= 0.5)`);
console.log(`p99 ratio (funnelbeacon / baseline): ${(collectorResult.latency.p99 / Math.max(1, bareResult.latency.p99)).toFixed(2)}`);
console.log(`collector peak RSS: ${rss.toFixed(0)} MB (budget 150 MB)`);
