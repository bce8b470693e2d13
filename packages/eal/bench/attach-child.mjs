// One secondary attach, timed from inside: node start → import → init → first memzone.lookup; then
// lookups of memzones this process has not mapped yet (scan + map), and of ones it has (cached).
// Timed with process.hrtime and written with fs.writeSync through createRequire (the same builtins a
// CommonJS start has loaded): importing node:perf_hooks or node:fs, or using the process.stdout stream,
// would load modules and ES facades a bare start does not, and count as attach time.
const now = () => Number(process.hrtime.bigint()) / 1e6;
const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
const c0 = cpu();
const t0 = now();
const { init, memzone } = await import('@mp/eal');
const t1 = now();
const c1 = cpu();
const e = init([`--file-prefix=${process.argv[2]}`, '--proc-type=secondary']);
const t2 = now();
const c2 = cpu();
const mz = memzone.find('bench-zone');
const t3 = now();
const c3 = cpu();
if (!mz || new Uint32Array(mz.buffer)[0] !== 0xc0ffee) process.exit(3);
const n = Number(process.argv[3] ?? 0);
let firstUs = 0;
if (process.argv[4] === 'warm') {
  // Warm the lookup path (JIT) on other memzones, so the timed lookups below measure steady-state code.
  for (let i = 100; i < 1100; i++) memzone.find(`r${i}`);
}
if (n > 0) {
  const t = now();
  for (let i = 0; i < n; i++) if (!memzone.find(`r${i}`)) process.exit(4);
  firstUs = ((now() - t) * 1000) / n;
}
const { createRequire } = await import('node:module');
createRequire(import.meta.url)('node:fs').writeSync(1, JSON.stringify({ importMs: t1 - t0, initMs: t2 - t1, lookupMs: t3 - t2, cpuStartMs: c0, cpuImportMs: c1 - c0, cpuInitMs: c2 - c1, cpuLookupMs: c3 - c2, cpuMs: c3, firstUs }) + '\n');
e.cleanup();
