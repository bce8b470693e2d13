/**
 * @mp/eal + @mp/memory benchmark: secondary attach time and memzone reserve/lookup rates.
 * Run: pnpm --filter @mp/eal bench   (prints a table; never asserts)
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { init, memzone } from '../src/index.js';

const ROUNDS = 15;
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

// Children run without NODE_EXTRA_CA_CERTS: where it is set (this machine class sets it), Node parses the
// CA bundle at every start (~100 ms here), which would drown the differences measured below. The V8 code
// cache of the bundles (@mp/memory's code-cache.ts) lives in a temp dir of this run: `off` children load
// without it, the others with it, filled by one warm-up child.
const cacheDir = mkdtempSync(join(tmpdir(), 'mp-bench-v8-'));
const childEnv = (cache: boolean): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = { ...process.env, MP_CODE_CACHE: cache ? cacheDir : '0' };
  delete env.NODE_EXTRA_CA_CERTS;
  return env;
};

function run(args: string[], cache = true): Promise<{ ms: number; out: string }> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const c = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'], env: childEnv(cache) });
    let out = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    c.on('exit', (code) => {
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (code !== 0) reject(new Error(`${args.join(' ')} exited ${code}`));
      else resolve({ ms, out });
    });
  });
}

const prefix = `bench${process.pid}`;
const e = init([`--file-prefix=${prefix}`, '--no-huge']);
const zone = memzone.reserve('bench-zone', 4096);
new Uint32Array(zone.buffer)[0] = 0xc0ffee;

type Inside = { importMs: number; initMs: number; lookupMs: number };
const bare: number[] = [];
const bareEsm: number[] = [];
const bareExports: number[] = [];
const attachCjs: number[] = [];
const attachEsm: number[] = [];
const insideCjs: Inside[] = [];
const insideEsm: Inside[] = [];
const attachCjsOff: number[] = [];
const attachEsmOff: number[] = [];
const insideCjsOff: Inside[] = [];
const insideEsmOff: Inside[] = [];
const child = join(import.meta.dirname, 'attach-child.mjs');
const childCjs = join(import.meta.dirname, 'attach-child.cjs');
await run([childCjs, prefix]); // fills the code cache
await run([child, prefix]);
for (let i = 0; i < ROUNDS; i++) {
  bare.push((await run(['-e', '0'])).ms);
  bareEsm.push((await run([join(import.meta.dirname, 'empty.mjs')])).ms);
  bareExports.push((await run([join(import.meta.dirname, 'exports-ref.cjs')])).ms);
  let r = await run([childCjs, prefix]);
  attachCjs.push(r.ms);
  insideCjs.push(JSON.parse(r.out) as Inside);
  r = await run([child, prefix]);
  attachEsm.push(r.ms);
  insideEsm.push(JSON.parse(r.out) as Inside);
  r = await run([childCjs, prefix], false);
  attachCjsOff.push(r.ms);
  insideCjsOff.push(JSON.parse(r.out) as Inside);
  r = await run([child, prefix], false);
  attachEsmOff.push(r.ms);
  insideEsmOff.push(JSON.parse(r.out) as Inside);
}

// Reserve rate in this process, then first lookups (scan + map) in secondaries, then cached lookups here.
const N = 2000;
let t = process.hrtime.bigint();
for (let i = 0; i < N; i++) memzone.reserve(`r${i}`, 64);
const reserveUs = Number(process.hrtime.bigint() - t) / 1e3 / N;
const firstLookups: number[] = [];
for (let i = 0; i < 5; i++) firstLookups.push((JSON.parse((await run([child, prefix, String(N)])).out) as { firstUs: number }).firstUs);
const firstLookupUs = median(firstLookups);
const firstFew: number[] = [];
for (let i = 0; i < 5; i++) firstFew.push((JSON.parse((await run([child, prefix, '16'])).out) as { firstUs: number }).firstUs);
const firstFewUs = median(firstFew);
const warmFew: number[] = [];
for (let i = 0; i < 5; i++) warmFew.push((JSON.parse((await run([child, prefix, '16', 'warm'])).out) as { firstUs: number }).firstUs);
const warmFewUs = median(warmFew);
const LOOKUPS = 200_000;
const names = Array.from({ length: 64 }, (_, i) => `r${i * 31}`);
t = process.hrtime.bigint();
for (let i = 0; i < LOOKUPS; i++) memzone.find(names[i & 63]!);
const lookupUs = Number(process.hrtime.bigint() - t) / 1e3 / LOOKUPS;
t = process.hrtime.bigint();
for (let i = 0; i < LOOKUPS; i++) memzone.find(`r${N - 1}`);
const lookupLastUs = Number(process.hrtime.bigint() - t) / 1e3 / LOOKUPS;
e.cleanup();
rmSync(cacheDir, { recursive: true, force: true });

const bareMs = median(bare);
const bareEsmMs = median(bareEsm);
const bareExportsMs = median(bareExports);
const cjsMs = median(attachCjs);
const esmMs = median(attachEsm);
const cjsOffMs = median(attachCjsOff);
const esmOffMs = median(attachEsmOff);
const fmt = (x: number, d = 2): string => x.toFixed(d);
const part = (xs: Inside[], k: keyof Inside): number => median(xs.map((x) => x[k]));
console.log(`\n@mp/eal attach and memzone figures (median of ${ROUNDS} spawns; ${N} memzones in the table; load average ${loadavg().map((x) => x.toFixed(2)).join(' ')})\n`);
console.log('| figure | @mp | reference | ratio |');
console.log('|---|---|---|---|');
console.log(`| bare \`node -e 0\` start, spawn → exit | ${fmt(bareMs, 1)} ms | — | — |`);
console.log(`| empty ES module \`node empty.mjs\` | ${fmt(bareEsmMs, 1)} ms (+${fmt(bareEsmMs - bareMs, 1)} ms: Node's ESM entry) | — | — |`);
console.log(`| CommonJS start resolving one package through an exports map | ${fmt(bareExportsMs, 1)} ms (+${fmt(bareExportsMs - bareMs, 1)} ms: Node's package resolver) | — | — |`);
console.log(`| secondary (CommonJS) spawn → require → init → lookup → exit | ${fmt(cjsMs, 1)} ms | — | — |`);
console.log(`| **attach overhead beyond a bare node start (CommonJS)** | ${fmt(cjsMs - bareMs, 1)} ms | DPDK secondary rte_eal_init 60–95 ms | ${fmt((cjsMs - bareMs) / 60, 3)}× of 60 ms (goal ≤ 5 ms) |`);
console.log(`| attach overhead beyond that resolver-loaded start (CommonJS) | ${fmt(cjsMs - bareExportsMs, 1)} ms | DPDK 60–95 ms | ${fmt((cjsMs - bareExportsMs) / 60, 3)}× |`);
console.log(`| … require @mp/eal + @mp/memory + addon / init() / first lookup | ${fmt(part(insideCjs, 'importMs'))} / ${fmt(part(insideCjs, 'initMs'))} / ${fmt(part(insideCjs, 'lookupMs'), 3)} ms | | |`);
console.log(`| secondary (ES module) spawn → import → init → lookup → exit | ${fmt(esmMs, 1)} ms | — | — |`);
console.log(`| attach overhead beyond a bare node start (ES module) | ${fmt(esmMs - bareMs, 1)} ms (${fmt(esmMs - bareEsmMs, 1)} ms beyond an empty ES module) | DPDK 60–95 ms | ${fmt((esmMs - bareMs) / 60, 3)}× |`);
console.log(`| … import / init() / first lookup | ${fmt(part(insideEsm, 'importMs'))} / ${fmt(part(insideEsm, 'initMs'))} / ${fmt(part(insideEsm, 'lookupMs'), 3)} ms | | |`);
console.log(`| without the V8 code cache (\`MP_CODE_CACHE=0\`): attach beyond bare, CommonJS / ES module | ${fmt(cjsOffMs - bareMs, 1)} / ${fmt(esmOffMs - bareMs, 1)} ms | with the cache: ${fmt(cjsMs - bareMs, 1)} / ${fmt(esmMs - bareMs, 1)} ms | ${fmt((cjsMs - bareMs) / (cjsOffMs - bareMs), 2)}× / ${fmt((esmMs - bareMs) / (esmOffMs - bareMs), 2)}× |`);
console.log(`| … without the cache: require / init() / first lookup, CommonJS | ${fmt(part(insideCjsOff, 'importMs'))} / ${fmt(part(insideCjsOff, 'initMs'))} / ${fmt(part(insideCjsOff, 'lookupMs'), 3)} ms | | |`);
console.log(`| … without the cache: import / init() / first lookup, ES module | ${fmt(part(insideEsmOff, 'importMs'))} / ${fmt(part(insideEsmOff, 'initMs'))} / ${fmt(part(insideEsmOff, 'lookupMs'), 3)} ms | | |`);
console.log(`| memzone.reserve (64 B, table of ≤ ${N}) | ${fmt(reserveUs)} µs/op | — | — |`);
console.log(`| memzone.lookup of a memzone not yet mapped here, warmed code, 16 near the table's start | ${fmt(warmFewUs, 2)} µs/op | DPDK memzone + ring lookup ≈ 15 µs | ${fmt(warmFewUs / 15, 3)}× (goal ≤ 0.2×) |`);
console.log(`| the same, the very first lookups of a fresh process (cold code, interpreter) | ${fmt(firstFewUs, 2)} µs/op | DPDK ≈ 15 µs | ${fmt(firstFewUs / 15, 3)}× |`);
console.log(`| memzone.lookup in a fresh secondary, first time, all ${N} (scan + map), mean | ${fmt(firstLookupUs, 2)} µs/op | DPDK ≈ 15 µs | ${fmt(firstLookupUs / 15, 3)}× |`);
console.log(`| memzone.lookup, already mapped here, 64 names among ${N} | ${fmt(lookupUs, 3)} µs/op | DPDK ≈ 15 µs | ${fmt(lookupUs / 15, 4)}× |`);
console.log(`| memzone.lookup, already mapped, the last of ${N} | ${fmt(lookupLastUs, 3)} µs/op | DPDK ≈ 15 µs | ${fmt(lookupLastUs / 15, 4)}× |`);
