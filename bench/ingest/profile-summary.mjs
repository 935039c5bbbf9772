// bench/ingest/profile-summary: where a collector CPU profile (`run.mjs --profile DIR`) spends
// its time: self time by module and by function, and inclusive time by function, in % of busy time.
//   node bench/ingest/profile-summary.mjs <file.cpuprofile> [rows]
import { readFileSync } from 'node:fs';
const prof = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const top = Number(process.argv[3] ?? 40);
const nodes = new Map(prof.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const self = new Map();
for (let i = 0; i < prof.samples.length; i++) {
  const dt = prof.timeDeltas[i] ?? 0;
  self.set(prof.samples[i], (self.get(prof.samples[i]) ?? 0) + dt);
}
let total = 0, idle = 0;
const byFn = new Map(), byMod = new Map(), incl = new Map();
const key = (n) => `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.replace(/.*node_modules\//, 'nm:').replace(`file://${process.cwd()}/`, '')}:${n.callFrame.lineNumber}`;
const mod = (n) => { const u = n.callFrame.url; if (!u) return n.callFrame.functionName; const m = /node_modules\/((@[^/]+\/)?[^/]+)/.exec(u); return m ? m[1] : u.replace(`file://${process.cwd()}/`, '').replace(/^node:/, 'node:'); };
for (const [id, t] of self) {
  const n = nodes.get(id);
  if (n.callFrame.functionName === '(idle)') { idle += t; continue; }
  total += t;
  byFn.set(key(n), (byFn.get(key(n)) ?? 0) + t);
  byMod.set(mod(n), (byMod.get(mod(n)) ?? 0) + t);
  const seen = new Set();
  for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
    const k = key(nodes.get(cur)); if (seen.has(k)) continue; seen.add(k);
    incl.set(k, (incl.get(k) ?? 0) + t);
  }
}
const pr = (title, m) => { console.log(`\n== ${title}`); for (const [k, t] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${(100 * t / total).toFixed(1).padStart(5)}%  ${(t / 1000).toFixed(0).padStart(6)}ms  ${k}`); };
console.log(`busy ${(total / 1000).toFixed(0)} ms, idle ${(idle / 1000).toFixed(0)} ms`);
pr('self by module', byMod); pr('self by function', byFn); pr('inclusive by function', incl);
