// One secondary attach, timed from inside: node start → import → init → first memzone.lookup; then
// lookups of memzones this process has not mapped yet (scan + map), and of ones it has (cached).
import { performance } from 'node:perf_hooks';
const t0 = performance.now();
const { init, memzone } = await import('@mp/eal');
const t1 = performance.now();
const e = init([`--file-prefix=${process.argv[2]}`, '--proc-type=secondary']);
const t2 = performance.now();
const mz = memzone.find('bench-zone');
const t3 = performance.now();
if (!mz || new Uint32Array(mz.buffer)[0] !== 0xc0ffee) process.exit(3);
const n = Number(process.argv[3] ?? 0);
let firstUs = 0;
if (process.argv[4] === 'warm') {
  // Warm the lookup path (JIT) on other memzones, so the timed lookups below measure steady-state code.
  for (let i = 100; i < 1100; i++) memzone.find(`r${i}`);
}
if (n > 0) {
  const t = performance.now();
  for (let i = 0; i < n; i++) if (!memzone.find(`r${i}`)) process.exit(4);
  firstUs = ((performance.now() - t) * 1000) / n;
}
process.stdout.write(JSON.stringify({ boot: t0, importMs: t1 - t0, initMs: t2 - t1, lookupMs: t3 - t2, firstUs }) + '\n');
e.cleanup();
