/**
 * @mp/eal + @mp/memory benchmark: secondary attach time and memzone reserve/lookup rates.
 * Run: pnpm --filter @mp/eal bench   (prints a table; never asserts)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { median, rounds, runPeer, startBench } from '@mp/bench-utils';
import type { Row } from '@mp/bench-utils';
import { init, memzone } from '../src/index.js';

const ROUNDS = 15;

// Children run without NODE_EXTRA_CA_CERTS: where it is set (this machine class sets it), Node parses the
// CA bundle at every start (~100 ms here), which would drown the differences measured below. The V8 code
// cache of the bundles (@mp/memory's code-cache.ts) lives in a temp dir of this run: `off` children load
// without it, the others with it, filled by one warm-up child.
const cacheDir = mkdtempSync(join(tmpdir(), 'mp-bench-v8-'));

/** Spawn `node args…` to its exit: wall ms from spawn to exit, and its stdout. */
async function run(args: string[], cache = true): Promise<{ ms: number; out: string }> {
  const env = { MP_CODE_CACHE: cache ? cacheDir : '0', NODE_EXTRA_CA_CERTS: undefined };
  const r = await runPeer([process.execPath, ...args], { stderr: 'inherit', env });
  if (r.code !== 0) throw new Error(`${args.join(' ')} exited ${r.code}`);
  return r;
}

const N = 2000;
const bench = startBench({
  package: '@mp/eal',
  what: 'secondary attach time and memzone reserve/lookup rates',
  memory: '/dev/shm, 4 KiB pages (--no-huge)',
  pinning: 'none',
  params: `median of ${ROUNDS} interleaved spawns per figure; ${N} memzones in the table`,
});
const prefix = `bench${process.pid}`;
const e = init([`--file-prefix=${prefix}`, '--no-huge']);
const zone = memzone.reserve('bench-zone', 4096);
new Uint32Array(zone.buffer)[0] = 0xc0ffee;

type Inside = {
  importMs: number;
  initMs: number;
  lookupMs: number;
  /** Process CPU time (user + system) at the child's first line, of each step, and after the first lookup. */
  cpuStartMs: number;
  cpuImportMs: number;
  cpuInitMs: number;
  cpuLookupMs: number;
  cpuMs: number;
};
// The CPU time (user + system) of a bare start when its first line runs: the children's CPU beyond it is
// the attach's own, and unlike wall time it does not grow with the machine's load (only in-run figures count).
const firstLineCjs: number[] = [];
const firstLineEsm: number[] = [];
const bare: number[] = [];
const bareEsm: number[] = [];
const bareExports: number[] = [];
const nodeFloor: number[] = [];
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
await rounds({ rounds: ROUNDS }, [
  ['bare', async () => bare.push((await run(['-e', '0'])).ms)],
  ['bare esm', async () => bareEsm.push((await run([join(import.meta.dirname, 'empty.mjs')])).ms)],
  ['first line cjs', async () => firstLineCjs.push((JSON.parse((await run([join(import.meta.dirname, 'first-line.cjs')])).out) as { cpuMs: number }).cpuMs)],
  ['first line esm', async () => firstLineEsm.push((JSON.parse((await run([join(import.meta.dirname, 'first-line.mjs')])).out) as { cpuMs: number }).cpuMs)],
  ['bare exports', async () => bareExports.push((await run([join(import.meta.dirname, 'exports-ref.cjs')])).ms)],
  ['node floor', async () => nodeFloor.push(((x: { cpuStartMs: number; cpuMs: number }) => x.cpuMs - x.cpuStartMs)(JSON.parse((await run([join(import.meta.dirname, 'node-floor.cjs')])).out)))],
  ['attach cjs', async () => {
    const r = await run([childCjs, prefix]);
    attachCjs.push(r.ms);
    insideCjs.push(JSON.parse(r.out) as Inside);
  }],
  ['attach esm', async () => {
    const r = await run([child, prefix]);
    attachEsm.push(r.ms);
    insideEsm.push(JSON.parse(r.out) as Inside);
  }],
  ['attach cjs, no code cache', async () => {
    const r = await run([childCjs, prefix], false);
    attachCjsOff.push(r.ms);
    insideCjsOff.push(JSON.parse(r.out) as Inside);
  }],
  ['attach esm, no code cache', async () => {
    const r = await run([child, prefix], false);
    attachEsmOff.push(r.ms);
    insideEsmOff.push(JSON.parse(r.out) as Inside);
  }],
]);

// Reserve rate in this process, then first lookups (scan + map) in secondaries, then cached lookups here.
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
const parts = (xs: Inside[]): number[] => [part(xs, 'importMs'), part(xs, 'initMs'), part(xs, 'lookupMs')];
const cpuParts = (xs: Inside[]): number[] => [part(xs, 'cpuImportMs'), part(xs, 'cpuInitMs'), part(xs, 'cpuLookupMs')];
const firstCjs = median(firstLineCjs);
const firstEsm = median(firstLineEsm);
// The child's own CPU from its first line to after the first lookup; the ES module one also pays Node's ESM
// entry (the first lines' difference) beyond a bare CommonJS start.
const own = (xs: Inside[]): number => median(xs.map((x) => x.cpuMs - x.cpuStartMs));
const cpuCjs = own(insideCjs);
const cpuEsm = own(insideEsm) + (firstEsm - firstCjs);
const floor = median(nodeFloor);
const DPDK_ATTACH = 'DPDK secondary rte_eal_init';
const DPDK_LOOKUP = 'DPDK memzone + ring lookup';
// Ratios to the 60 ms end of DPDK's 60–95 ms (as before); the range is in the note.
const attach = (op: string, v: number, note: string): Row => ({ op, ours: v, unit: 'ms', anchors: { [DPDK_ATTACH]: 60 }, note, digits: 1 });
const lookup = (op: string, v: number, d: number, note = ''): Row => ({ op, ours: v, anchors: { [DPDK_LOOKUP]: 15 }, note, digits: d });
bench.table({ title: `@mp/eal attach (median of ${ROUNDS} spawns)`, ours: '@mp', unit: 'ms', anchors: [DPDK_ATTACH], digits: 1 }, [
  { op: 'bare `node -e 0` start, spawn → exit', ours: bareMs },
  { op: 'empty ES module `node empty.mjs`', ours: bareEsmMs, note: `+${fmt(bareEsmMs - bareMs, 1)} ms: Node's ESM entry` },
  { op: 'CommonJS start resolving one package through an exports map', ours: bareExportsMs, note: `+${fmt(bareExportsMs - bareMs, 1)} ms: Node's package resolver` },
  { op: 'secondary (CommonJS) spawn → require → init → lookup → exit', ours: cjsMs },
  attach('**attach overhead beyond a bare node start (CommonJS)**', cjsMs - bareMs, 'DPDK 60–95 ms; goal ≤ 5 ms'),
  attach('attach overhead beyond that resolver-loaded start (CommonJS)', cjsMs - bareExportsMs, 'DPDK 60–95 ms'),
  { op: '… require @mp/eal + @mp/memory + addon / init() / first lookup', ours: parts(insideCjs), digits: 3 },
  { op: 'secondary (ES module) spawn → import → init → lookup → exit', ours: esmMs },
  attach('attach overhead beyond a bare node start (ES module)', esmMs - bareMs, `${fmt(esmMs - bareEsmMs, 1)} ms beyond an empty ES module; DPDK 60–95 ms`),
  { op: '… import / init() / first lookup', ours: parts(insideEsm), digits: 3 },
  { op: 'CPU (user + system) of a bare start at its first line: CommonJS / ES module', ours: [firstCjs, firstEsm], note: `ES module entry: +${fmt(firstEsm - firstCjs, 1)} ms of Node's own` },
  { op: '**attach CPU beyond a bare start: CommonJS** (the child’s CPU from its first line to after the first lookup)', ours: cpuCjs, note: 'goal ≤ 5 ms', digits: 1 },
  { op: '… CPU of require / init() / first lookup, CommonJS', ours: cpuParts(insideCjs), digits: 2 },
  { op: "Node's floor of an attach (CPU): resolve @mp/eal and @mp/memory/internal through their exports maps, load vm, dlopen the addon (`bench/node-floor.cjs`)", ours: floor, note: `attach CPU beyond it: ${fmt(cpuCjs - floor, 1)} ms CommonJS`, digits: 2 },
  { op: '**attach CPU beyond a bare CommonJS start: ES module** (the same + the first lines’ difference)', ours: cpuEsm, note: `goal ≤ 10 ms; ${fmt(own(insideEsm), 1)} ms beyond a bare ES module start`, digits: 1 },
  { op: '… CPU of import / init() / first lookup, ES module', ours: cpuParts(insideEsm), digits: 2 },
  { op: 'without the V8 code cache (`MP_CODE_CACHE=0`): attach beyond bare, CommonJS / ES module', ours: [cjsOffMs - bareMs, esmOffMs - bareMs], note: `with the cache: ${fmt(cjsMs - bareMs, 1)} / ${fmt(esmMs - bareMs, 1)} ms (${fmt((cjsMs - bareMs) / (cjsOffMs - bareMs), 2)}× / ${fmt((esmMs - bareMs) / (esmOffMs - bareMs), 2)}×)` },
  { op: '… without the cache: require / init() / first lookup, CommonJS', ours: parts(insideCjsOff), digits: 3 },
  { op: '… without the cache: import / init() / first lookup, ES module', ours: parts(insideEsmOff), digits: 3 },
]);
bench.table({ title: `memzone reserve and lookup (${N} memzones in the table)`, ours: '@mp', unit: 'µs/op', anchors: [DPDK_LOOKUP] }, [
  { op: `memzone.reserve (64 B, table of ≤ ${N})`, ours: reserveUs },
  lookup("memzone.lookup of a memzone not yet mapped here, warmed code, 16 near the table's start", warmFewUs, 2, 'goal ≤ 0.2×'),
  lookup('the same, the very first lookups of a fresh process (cold code, interpreter)', firstFewUs, 2),
  lookup(`memzone.lookup in a fresh secondary, first time, all ${N} (scan + map), mean`, firstLookupUs, 2),
  lookup(`memzone.lookup, already mapped here, 64 names among ${N}`, lookupUs, 3),
  lookup(`memzone.lookup, already mapped, the last of ${N}`, lookupLastUs, 3),
]);
bench.end();
