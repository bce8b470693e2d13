/**
 * @mp/eal + @mp/memory benchmark: secondary attach time and memzone reserve/lookup rates.
 * Run: pnpm --filter @mp/eal bench   (prints a table; never asserts)
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { init, memzone } from '../src/index.js';

const ROUNDS = 15;
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

function run(args: string[]): Promise<{ ms: number; out: string }> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const c = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
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

const bare: number[] = [];
const attach: number[] = [];
const inside: Array<{ importMs: number; initMs: number; lookupMs: number }> = [];
const child = join(import.meta.dirname, 'attach-child.mjs');
for (let i = 0; i < ROUNDS; i++) {
  bare.push((await run(['-e', '0'])).ms);
  const r = await run([child, prefix]);
  attach.push(r.ms);
  inside.push(JSON.parse(r.out) as { importMs: number; initMs: number; lookupMs: number });
}

// Reserve rate in this process, then first lookups (scan + map) in secondaries, then cached lookups here.
const N = 2000;
let t = process.hrtime.bigint();
for (let i = 0; i < N; i++) memzone.reserve(`r${i}`, 64);
const reserveUs = Number(process.hrtime.bigint() - t) / 1e3 / N;
const firstLookups: number[] = [];
for (let i = 0; i < 5; i++) firstLookups.push((JSON.parse((await run([child, prefix, String(N)])).out) as { firstUs: number }).firstUs);
const firstLookupUs = median(firstLookups);
const LOOKUPS = 200_000;
const names = Array.from({ length: 64 }, (_, i) => `r${i * 31}`);
t = process.hrtime.bigint();
for (let i = 0; i < LOOKUPS; i++) memzone.lookup(names[i & 63]!);
const lookupUs = Number(process.hrtime.bigint() - t) / 1e3 / LOOKUPS;
t = process.hrtime.bigint();
for (let i = 0; i < LOOKUPS; i++) memzone.lookup(`r${N - 1}`);
const lookupLastUs = Number(process.hrtime.bigint() - t) / 1e3 / LOOKUPS;
e.cleanup();

const bareMs = median(bare);
const attachMs = median(attach);
const fmt = (x: number, d = 2): string => x.toFixed(d);
console.log(`\n@mp/eal attach and memzone figures (median of ${ROUNDS} spawns; ${N} memzones in the table)\n`);
console.log('| figure | @mp | reference | ratio |');
console.log('|---|---|---|---|');
console.log(`| bare \`node -e 0\` start, spawn → exit | ${fmt(bareMs, 1)} ms | — | — |`);
console.log(`| secondary spawn → init → lookup → exit | ${fmt(attachMs, 1)} ms | — | — |`);
console.log(`| attach overhead beyond a bare node start | ${fmt(attachMs - bareMs, 1)} ms | DPDK secondary rte_eal_init 60–95 ms | ${fmt((attachMs - bareMs) / 60, 3)}× (goal ≤ 5 ms) |`);
console.log(`| … of which import @mp/eal (in child) | ${fmt(median(inside.map((x) => x.importMs)))} ms | | |`);
console.log(`| … of which init() as secondary (in child) | ${fmt(median(inside.map((x) => x.initMs)))} ms | | |`);
console.log(`| … of which first memzone.lookup (maps it) | ${fmt(median(inside.map((x) => x.lookupMs)) * 1000, 0)} µs | DPDK memzone + ring lookup ≈ 15 µs | ${fmt((median(inside.map((x) => x.lookupMs)) * 1000) / 15)}× |`);
console.log(`| memzone.reserve (64 B, table of ≤ ${N}) | ${fmt(reserveUs)} µs/op | — | — |`);
console.log(`| memzone.lookup in a secondary, first time (scan of ${N} + map), mean over ${N} | ${fmt(firstLookupUs, 2)} µs/op | DPDK memzone + ring lookup ≈ 15 µs | ${fmt(firstLookupUs / 15, 3)}× (goal ≤ 0.2×) |`);
console.log(`| memzone.lookup, already mapped here, 64 names among ${N} | ${fmt(lookupUs, 3)} µs/op | DPDK ≈ 15 µs | ${fmt(lookupUs / 15, 4)}× |`);
console.log(`| memzone.lookup, already mapped, the last of ${N} | ${fmt(lookupLastUs, 3)} µs/op | DPDK ≈ 15 µs | ${fmt(lookupLastUs / 15, 4)}× |`);
