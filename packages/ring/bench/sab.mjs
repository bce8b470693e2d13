// The in-run reference: a plain SharedArrayBuffer ring between two worker threads, written simply
// (Atomics once per burst for the indices, no cached indices; MP/MC: CAS on the head, wait for the tail).
//   node sab.mjs <reps> <n burst 1> <n burst 8> <n bursts 32/128>   (ring.bench.ts pins it to cores 0-1)
// Prints "sab <mode> <esize> <burst> <rep> <Melem/s> <checksum ok>" per run, same work as peer.mjs.
// With SAB_CACHED=1 the SP/SC ring is the tuned one instead (tag "sabc"): each side caches the other's
// index and reads it only when the cache says full or empty, one Atomics.store per burst — the way
// @mp/ring does it, so the two differ only by shared memory across processes vs threads.
import { Worker, isMainThread, workerData, parentPort } from 'node:worker_threads';
import { BURSTS, KEY, expectedSum } from './work.mjs';

const SLOTS = 4096;
const MASK = SLOTS - 1;
// Int32 indices: prod head 16, prod tail 17, cons head 32, cons tail 33, barrier 0.
const PH = 16, PT = 17, CH = 32, CT = 33;

if (isMainThread) {
  const [reps, ...ns] = process.argv.slice(2).map(Number);
  const ctl = new SharedArrayBuffer(256);
  const rings = [0, 1, 2, 3].map((i) => ({ hdr: new SharedArrayBuffer(256), data: new SharedArrayBuffer(SLOTS * (i % 2 ? 8 : 4)) }));
  const w = ['prod', 'cons'].map((role) => new Worker(new URL(import.meta.url), { workerData: { role, reps, ns, ctl, rings } }));
  w[1].on('message', (line) => console.log(line));
  await Promise.all(w.map((x) => new Promise((r) => x.on('exit', r))));
} else {
  const { role, reps, ns, ctl: ctlBuf, rings } = workerData;
  // Element i of the run goes to slot (head + i): i, or (i, i ^ KEY) for 8-byte elements.
  const writeSlots = (d, head, done, m, wpe, es) => {
    for (let i = 0; i < m; i++) {
      const v = done + i;
      const at = ((head + i) & MASK) * wpe;
      d[at] = v;
      if (es) d[at + 1] = v ^ KEY;
    }
  };
  const sumSlots = (d, head, m, wpe, es, sum) => {
    for (let i = 0; i < m; i++) {
      const at = ((head + i) & MASK) * wpe;
      sum = (sum + d[at]) | 0;
      if (es) sum = (sum + d[at + 1]) | 0;
    }
    return sum;
  };
  const cached = process.env.SAB_CACHED === '1';
  const tag = cached ? 'sabc' : 'sab';
  // Tuned SP/SC sides (SAB_CACHED=1): private head, cached view of the other side's tail.
  const produceCached = (h, d, es, n, burst) => {
    const wpe = es ? 2 : 1;
    let head = Atomics.load(h, PT);
    let consTail = Atomics.load(h, CT);
    let done = 0;
    while (done < n) {
      let m = n - done < burst ? n - done : burst;
      let free = (MASK + consTail - head) >>> 0;
      if (free < m) {
        consTail = Atomics.load(h, CT);
        free = (MASK + consTail - head) >>> 0;
        if (free < m) m = free;
        if (m === 0) continue;
      }
      writeSlots(d, head, done, m, wpe, es);
      head = (head + m) | 0;
      Atomics.store(h, PT, head);
      done += m;
    }
  };
  const consumeCached = (h, d, es, n, burst) => {
    const wpe = es ? 2 : 1;
    let head = Atomics.load(h, CT);
    let prodTail = Atomics.load(h, PT);
    let done = 0;
    let sum = 0;
    while (done < n) {
      let m = burst;
      let avail = (prodTail - head) >>> 0;
      if (avail < m) {
        prodTail = Atomics.load(h, PT);
        avail = (prodTail - head) >>> 0;
        if (avail < m) m = avail;
        if (m === 0) continue;
      }
      sum = sumSlots(d, head, m, wpe, es, sum);
      head = (head + m) | 0;
      Atomics.store(h, CT, head);
      done += m;
    }
    return sum >>> 0;
  };
  const ctl = new Int32Array(ctlBuf);
  const barrier = (k) => {
    Atomics.add(ctl, 0, 1);
    while (Atomics.load(ctl, 0) < 2 * (k + 1));
  };
  const produce = (h, d, mp, es, burst, n) => {
    const buf = new Uint32Array(256);
    const wpe = es ? 2 : 1;
    let done = 0;
    while (done < n) {
      let m = n - done < burst ? n - done : burst;
      let head;
      if (mp) {
        for (;;) {
          head = Atomics.load(h, PH);
          const free = (MASK + Atomics.load(h, CT) - head) >>> 0;
          if (free < m) m = free;
          if (m === 0) break;
          if (Atomics.compareExchange(h, PH, head, (head + m) | 0) === head) break;
        }
      } else {
        head = Atomics.load(h, PH);
        const free = (MASK + Atomics.load(h, CT) - head) >>> 0;
        if (free < m) m = free;
      }
      if (m === 0) continue;
      writeSlots(d, head, done, m, wpe, es);
      if (mp) while (Atomics.load(h, PT) !== head);
      else Atomics.store(h, PH, (head + m) | 0);
      Atomics.store(h, PT, (head + m) | 0);
      done += m;
    }
  };
  const consume = (h, d, mp, es, burst, n) => {
    const wpe = es ? 2 : 1;
    let done = 0;
    let sum = 0;
    while (done < n) {
      let m = burst;
      let head;
      if (mp) {
        for (;;) {
          head = Atomics.load(h, CH);
          const avail = (Atomics.load(h, PT) - head) >>> 0;
          if (avail < m) m = avail;
          if (m === 0) break;
          if (Atomics.compareExchange(h, CH, head, (head + m) | 0) === head) break;
        }
      } else {
        head = Atomics.load(h, CH);
        const avail = (Atomics.load(h, PT) - head) >>> 0;
        if (avail < m) m = avail;
      }
      if (m === 0) continue;
      sum = sumSlots(d, head, m, wpe, es, sum);
      if (mp) while (Atomics.load(h, CT) !== head);
      else Atomics.store(h, CH, (head + m) | 0);
      Atomics.store(h, CT, (head + m) | 0);
      done += m;
    }
    return sum >>> 0;
  };
  let k = 0;
  for (let mode = 0; mode < 2; mode++) {
    for (let es = 0; es < 2; es++) {
      const h = new Int32Array(rings[mode * 2 + es].hdr);
      const d = new Uint32Array(rings[mode * 2 + es].data);
      for (let bi = 0; bi < 4; bi++) {
        const burst = BURSTS[bi];
        const n = ns[bi < 2 ? bi : 2];
        const want = expectedSum(n, es);
        for (let rep = -1; rep < reps; rep++, k++) {
          barrier(k);
          const t0 = performance.now();
          const tuned = cached && mode === 0;
          if (role === 'prod') {
            if (tuned) produceCached(h, d, es, n, burst);
            else produce(h, d, mode === 1, es, burst, n);
          } else {
            const sum = tuned ? consumeCached(h, d, es, n, burst) : consume(h, d, mode === 1, es, burst, n);
            const s = (performance.now() - t0) / 1000;
            parentPort.postMessage(`${tag} ${mode ? 'mpmc' : 'spsc'} ${es ? 8 : 4} ${burst} ${rep} ${(n / s / 1e6).toFixed(3)} ${sum === want >>> 0 ? 1 : 0}`);
          }
        }
      }
    }
  }
}
