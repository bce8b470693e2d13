// One side of the cross-process benchmark (spawned by ring.bench.ts, pinned with taskset):
//   node peer.mjs prod|cons <file-prefix> <reps> <n burst 1> <n burst 8> <n bursts 32/128>
// Same work as dpdk/ring_xproc.c: mode (SP/SC, MP/MC) x element size (4, 8) x burst (1, 8, 32, 128) x reps.
// The consumer prints "js <mode> <esize> <burst> <rep> <Melem/s> <checksum ok 0|1>" per run.
// RING_BENCH_IMPL=<dist dir> runs another build of @mp/ring (ring.bench.ts RING_BENCH_BUILDS).
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import { init, memzone } from '@mp/eal';

const impl = process.env.RING_BENCH_IMPL;
const { Ring } = await import(impl ? pathToFileURL(resolve(impl, 'index.js')).href : '@mp/ring');
import { BURSTS, KEY, expectedSum } from './work.mjs';

const [role, prefix, repsArg, ...nArgs] = process.argv.slice(2);
const reps = Number(repsArg);
const ns = nArgs.map(Number);

init([`--file-prefix=${prefix}`, '--proc-type=secondary', '--no-huge']);
const ctl = new Int32Array(memzone.find('rb_ctl').buffer, 0, 16);
const rings = [0, 1, 2, 3].map((i) => Ring.lookup(`rb_${i}`));
const prod = role === 'prod';

function barrier(k) {
  Atomics.add(ctl, 0, 1);
  while (Atomics.load(ctl, 0) < 2 * (k + 1));
}

function produce(r, es, burst, n) {
  const buf = new Uint32Array(256);
  let done = 0;
  while (done < n) {
    const m = n - done < burst ? n - done : burst;
    if (es) {
      for (let i = 0; i < m; i++) {
        const v = done + i;
        buf[2 * i] = v;
        buf[2 * i + 1] = v ^ KEY;
      }
    } else {
      for (let i = 0; i < m; i++) buf[i] = done + i;
    }
    done += r.enqueueBurst(buf, m);
  }
}

function consume(r, es, burst, n) {
  const buf = new Uint32Array(256);
  let done = 0;
  let sum = 0;
  while (done < n) {
    const got = r.dequeueBurst(buf, burst);
    const words = es ? got * 2 : got;
    for (let i = 0; i < words; i++) sum = (sum + buf[i]) | 0;
    done += got;
  }
  return sum >>> 0;
}

let k = 0;
for (let mode = 0; mode < 2; mode++) {
  for (let es = 0; es < 2; es++) {
    const r = rings[mode * 2 + es];
    for (let bi = 0; bi < 4; bi++) {
      const burst = BURSTS[bi];
      const n = ns[bi < 2 ? bi : 2];
      const want = expectedSum(n, es);
      for (let rep = -1; rep < reps; rep++, k++) {
        barrier(k);
        const t0 = performance.now();
        if (prod) produce(r, es, burst, n);
        else {
          const sum = consume(r, es, burst, n);
          const s = (performance.now() - t0) / 1000;
          console.log(`js ${mode ? 'mpmc' : 'spsc'} ${es ? 8 : 4} ${burst} ${rep} ${(n / s / 1e6).toFixed(3)} ${sum === want >>> 0 ? 1 : 0}`);
        }
      }
    }
  }
}
process.exit(0);
