// The @mp/mempool side of the benchmark (spawned by mempool.bench.ts, pinned with taskset):
//   node js.mjs <file-prefix> <iterations> <n objects> <cache size>
// Same loops as dpdk/mempool_bulk.c; prints "js <case> <CPU ns per object>" per case (process CPU time), plus JS-only cases
// comparing ways to reach a packet's bytes ("js data-view|data-offset|obj-view <ns per packet>").
import { init } from '@mp/eal';
import { MBUF_HDR_SIZE, Mbuf, Mempool, PKTMBUF_HEADROOM, pktmbufPoolCreate } from '@mp/mempool';

const [prefix, itersArg, nArg, cacheArg] = process.argv.slice(2);
const iters = Number(itersArg);
const n = Number(nArg);
const cache = Number(cacheArg);
const BURST = 32;
const eal = init([`--file-prefix=${prefix}`, '--proc-type=primary', '--no-huge', '-m', '512']);

const c = Mempool.create('bc', n, 64, { cacheSize: cache });
const u = Mempool.create('bu', n, 64, { cacheSize: 0 });
const m = pktmbufPoolCreate('bm', n, { cacheSize: cache });
const objs = new Uint32Array(BURST);
let sink = 0;

function bulk(label, mp, k) {
  let acc = 0;
  const t0 = process.cpuUsage();
  for (let i = 0; i < k; i++) {
    if (mp.getBulk(objs, BURST) !== BURST) throw new Error(`${label}: getBulk failed at ${i}`);
    acc += objs[i & 31];
    mp.putBulk(objs, BURST);
  }
  const d = process.cpuUsage(t0);
  const t = (d.user + d.system) * 1000;
  sink ^= acc;
  console.log(`js ${label} ${(t / (k * BURST)).toFixed(3)}`);
}

function mbufs(label, mp, k) {
  let acc = 0;
  const t0 = process.cpuUsage();
  for (let i = 0; i < k; i++) {
    if (Mbuf.allocBulk(mp, objs, BURST) !== BURST) throw new Error(`${label}: allocBulk failed at ${i}`);
    acc += Mbuf.dataOff(objs[i & 31]);
    Mbuf.freeBulk(objs, BURST);
  }
  const d = process.cpuUsage(t0);
  const t = (d.user + d.system) * 1000;
  sink ^= acc;
  console.log(`js ${label} ${(t / (k * BURST)).toFixed(3)}`);
}

/**
 * Read the first and last data byte of 32 packets, `k` times: through a view per packet, through offsets
 * into the pool's bytes, or through the pool's cached object views. One loop per way (a shared loop
 * calling a closure would measure the closure call).
 */
function accessSetup() {
  if (Mbuf.allocBulk(m, objs, BURST) !== BURST) throw new Error('allocBulk');
  for (let j = 0; j < BURST; j++) Mbuf.append(objs[j], 64);
  return process.cpuUsage();
}
function accessDone(label, k, t0, acc) {
  const d = process.cpuUsage(t0);
  sink ^= acc;
  Mbuf.freeBulk(objs, BURST);
  console.log(`js ${label} ${(((d.user + d.system) * 1000) / (k * BURST)).toFixed(3)}`);
}
function dataView(k) {
  let acc = 0;
  const t0 = accessSetup();
  for (let i = 0; i < k; i++) {
    for (let j = 0; j < BURST; j++) {
      const d = Mbuf.data(objs[j]);
      acc += d[0] + d[d.length - 1];
    }
  }
  accessDone('data-view', k, t0, acc);
}
function dataOffset(k) {
  let acc = 0;
  const t0 = accessSetup();
  const bytes = m.bytes;
  for (let i = 0; i < k; i++) {
    for (let j = 0; j < BURST; j++) {
      const h = objs[j];
      const o = Mbuf.dataOffset(h);
      acc += bytes[o] + bytes[o + Mbuf.dataLen(h) - 1];
    }
  }
  accessDone('data-offset', k, t0, acc);
}
function objView(k) {
  let acc = 0;
  const t0 = accessSetup();
  const first = MBUF_HDR_SIZE + PKTMBUF_HEADROOM; // no private area in this pool
  for (let i = 0; i < k; i++) {
    for (let j = 0; j < BURST; j++) {
      const v = m.obj(objs[j]);
      acc += v[first] + v[first + 63];
    }
  }
  accessDone('obj-view', k, t0, acc);
}

bulk('warm', c, Math.floor(iters / 10));
bulk('bulk-cache', c, iters);
bulk('bulk-nocache', u, iters);
mbufs('mbuf-cache', m, iters);
dataView(Math.floor(iters / 4));
dataOffset(Math.floor(iters / 4));
objView(Math.floor(iters / 4));
if (sink === 0.5) console.log('');
eal.cleanup();
