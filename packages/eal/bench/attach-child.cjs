// attach-child.mjs as CommonJS. It times itself with process.hrtime and writes its line with
// fs.writeSync: perf_hooks and the process.stdout stream would load Node modules a bare start does not,
// and count as attach time.
const now = () => Number(process.hrtime.bigint()) / 1e6;
const t0 = now();
const { init, memzone } = require('@mp/eal');
const t1 = now();
const e = init([`--file-prefix=${process.argv[2]}`, '--proc-type=secondary']);
const t2 = now();
const mz = memzone.lookup('bench-zone');
const t3 = now();
if (!mz || new Uint32Array(mz.buffer)[0] !== 0xc0ffee) process.exit(3);
require('node:fs').writeSync(1, JSON.stringify({ importMs: t1 - t0, initMs: t2 - t1, lookupMs: t3 - t2, firstUs: 0 }) + '\n');
e.cleanup();
