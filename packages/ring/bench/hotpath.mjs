// In-process cost of one enqueue+dequeue pair per sync mode (one core: the protocol's own work, without
// cache-line transfers), for comparing builds: `node bench/hotpath.mjs [dir of a dist ...]` (default: this
// package's dist). Rounds interleave the builds; the table shows each cell's best round, ns per pair.
import { init } from '@mp/eal';
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';

const dirs = process.argv.slice(2);
if (dirs.length === 0) dirs.push(new URL('../dist', import.meta.url).pathname);
const builds = [];
for (const d of dirs) builds.push({ d, Ring: (await import(pathToFileURL(resolve(d, 'index.js')).href)).Ring });
init([`--file-prefix=hp${process.pid}`, '--no-huge', '-m', '256']);
const MODES = ['single', 'multi', 'hts', 'rts'];
const BURSTS = [1, 32, 128];
const ELEMS = Number(process.env.HOTPATH_ELEMS ?? 2e6);
const ROUNDS = Number(process.env.HOTPATH_ROUNDS ?? 5);
const rings = builds.map((b, i) => Object.fromEntries(MODES.map((m) => [m, b.Ring.create(`hp${i}_${m}`, 4096, { elemSize: 8, producer: m, consumer: m })])));
const best = new Map();
const buf = new Uint32Array(256);
for (let round = 0; round < ROUNDS; round++) {
  for (const m of MODES) {
    for (const burst of BURSTS) {
      for (let i = 0; i < builds.length; i++) {
        const r = rings[i][m];
        const iters = Math.floor(ELEMS / burst) + 100;
        const t0 = process.hrtime.bigint();
        for (let k = 0; k < iters; k++) {
          r.enqueueBurst(buf, burst);
          r.dequeueBurst(buf, burst);
        }
        const ns = Number(process.hrtime.bigint() - t0) / iters;
        const key = `${m} ${burst} ${i}`;
        best.set(key, Math.min(best.get(key) ?? Infinity, ns));
      }
    }
  }
}
console.log(`| mode | burst | ${builds.map((b) => b.d.split('/').slice(-2).join('/')).join(' | ')} |`);
console.log(`|---|---|${builds.map(() => '---').join('|')}|`);
for (const m of MODES) {
  for (const burst of BURSTS) {
    console.log(`| ${m} | ${burst} | ${builds.map((_, i) => best.get(`${m} ${burst} ${i}`).toFixed(1)).join(' | ')} |`);
  }
}
process.exit(0);
