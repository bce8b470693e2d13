// attach-child.mjs as CommonJS: Node's ESM entry alone costs more than the whole attach (see the bench).
const { performance } = require('node:perf_hooks');
const t0 = performance.now();
const { init, memzone } = require('@mp/eal');
const t1 = performance.now();
const e = init([`--file-prefix=${process.argv[2]}`, '--proc-type=secondary']);
const t2 = performance.now();
const mz = memzone.lookup('bench-zone');
const t3 = performance.now();
if (!mz || new Uint32Array(mz.buffer)[0] !== 0xc0ffee) process.exit(3);
process.stdout.write(JSON.stringify({ boot: t0, importMs: t1 - t0, initMs: t2 - t1, lookupMs: t3 - t2, firstUs: 0 }) + '\n');
e.cleanup();
