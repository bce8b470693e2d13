// In-process cost of one enqueue+dequeue pair of 8-byte elements per sync mode and burst (one core: the
// protocol's own work, without cache-line transfers), for comparing builds:
//   node bench/hotpath.mjs [dist dir ...]   (default: this package's dist)
// Every cell runs in a fresh child process (hotpath-cell.mjs: its own type feedback, a producer loop and a
// consumer loop as the cross-process peers have), rounds interleave the builds, and the table shows each
// cell's best round in ns of the child's CPU time (user + system) per pair: a loaded machine deschedules
// us, which wall time would count.
// HOTPATH_MODES / HOTPATH_BURSTS (comma lists), HOTPATH_ELEMS, HOTPATH_ROUNDS narrow or lengthen it.
// Where pkg-config finds libdpdk, dpdk/ring_pair.c (the same pairs on DPDK's rte_ring in one thread, its CPU
// time) is built and run in every round too: the in-run C reference for the single and multi rows.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ELEMS = Number(process.env.HOTPATH_ELEMS ?? 2e7);

const here = fileURLToPath(new URL('.', import.meta.url));
const dirs = process.argv.slice(2);
if (dirs.length === 0) dirs.push(join(here, '../dist'));
const MODES = (process.env.HOTPATH_MODES ?? 'single,multi,hts,rts').split(',');
const BURSTS = (process.env.HOTPATH_BURSTS ?? '1,32,128').split(',').map(Number);
const ROUNDS = Number(process.env.HOTPATH_ROUNDS ?? 5);
let cBin;
const cDir = mkdtempSync(join(tmpdir(), 'mp-ring-pair-'));
try {
  const pc = (a) => execFileSync('pkg-config', [a, 'libdpdk']).toString().trim().split(/\s+/).filter(Boolean);
  cBin = join(cDir, 'ring_pair');
  execFileSync('gcc', ['-O3', ...pc('--cflags'), join(here, 'dpdk/ring_pair.c'), '-o', cBin, ...pc('--libs')], { stdio: 'pipe' });
} catch {
  cBin = undefined;
}
const C_MODES = new Set(['single', 'multi']);
const best = new Map();
const keep = (key, ns) => best.set(key, Math.min(best.get(key) ?? Infinity, ns));
for (let round = 0; round < ROUNDS; round++) {
  for (const m of MODES) {
    for (const burst of BURSTS) {
      if (cBin !== undefined && C_MODES.has(m)) keep(`${m} ${burst} c`, Number(execFileSync(cBin, [m, String(burst), String(ELEMS)]).toString()));
      for (let i = 0; i < dirs.length; i++) {
        const cell = [join(here, 'hotpath-cell.mjs'), dirs[i], m, String(burst), String(ELEMS)];
        const out = execFileSync(process.execPath, ['--allow-natives-syntax', ...cell]).toString();
        keep(`${m} ${burst} ${i}`, Number(out));
      }
    }
  }
}
rmSync(cDir, { recursive: true, force: true });
const names = dirs.map((d) => d.split('/').slice(-2).join('/'));
console.log(`| mode | burst | ${names.join(' | ')} | DPDK C | ${names.map((n) => `C/${n}`).join(' | ')} |`);
console.log(`|---|---|${dirs.map(() => '---|').join('')}---|${dirs.map(() => '---|').join('')}`);
for (const m of MODES) {
  for (const burst of BURSTS) {
    const js = dirs.map((_, i) => best.get(`${m} ${burst} ${i}`));
    const ref = best.get(`${m} ${burst} c`);
    console.log(`| ${m} | ${burst} | ${js.map((x) => x.toFixed(1)).join(' | ')} | ${ref === undefined ? '—' : ref.toFixed(1)} | ` +
      `${js.map((x) => (ref === undefined ? '—' : `${(ref / x).toFixed(2)}×`)).join(' | ')} |`);
  }
}
console.log(cBin === undefined ? 'DPDK C reference skipped (pkg-config libdpdk / gcc failed)' : 'DPDK C: dpdk/ring_pair.c, rte_ring, 8-byte elements, CPU time per pair, same rounds');
