// attach-child.mjs as CommonJS. It times itself with process.hrtime and writes its line with
// fs.writeSync: perf_hooks and the process.stdout stream would load Node modules a bare start does not,
// and count as attach time.
const now = () => Number(process.hrtime.bigint()) / 1e6;
const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
const c0 = cpu();
const t0 = now();
const { init, memzone } = require('@mp/eal');
const t1 = now();
const c1 = cpu();
const e = init([`--file-prefix=${process.argv[2]}`, '--proc-type=secondary']);
const t2 = now();
const c2 = cpu();
const mz = memzone.lookup('bench-zone');
const t3 = now();
const c3 = cpu();
if (!mz || new Uint32Array(mz.buffer)[0] !== 0xc0ffee) process.exit(3);
require('node:fs').writeSync(1, JSON.stringify({ importMs: t1 - t0, initMs: t2 - t1, lookupMs: t3 - t2, cpuStartMs: c0, cpuImportMs: c1 - c0, cpuInitMs: c2 - c1, cpuLookupMs: c3 - c2, cpuMs: c3, firstUs: 0 }) + '\n');
e.cleanup();
