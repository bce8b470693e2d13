// DPDK's symmetric_mp on @mp: N identical peers (the primary and N-1 secondaries run the same loop).
// Each peer produces its own slice of work items into a shared multi-producer/multi-consumer ring and
// consumes whatever it can take from it, until all items are consumed; a shared stats memzone holds one
// line per peer (as symmetric_mp's per-port statistics). The primary starts the other peers itself.
//   pnpm --filter symmetric-mp start          (3 peers, 1,000,000 items)
//   node main.mjs [peers] [items]
import { spawn } from 'node:child_process';
import { init, memzone } from '@mp/eal';
import { Ring } from '@mp/ring';

const BURST = 32;
const KEY = 0x5bd1e995;
const isPeer = process.argv[2] === 'peer';
const peers = Number(isPeer ? process.argv[4] : (process.argv[2] ?? 3));
const items = Number(isPeer ? process.argv[5] : (process.argv[3] ?? 1_000_000));
const prefix = isPeer ? process.argv[3] : `symmetric_mp_${process.pid}`;
// --proc-type=auto: the first becomes the primary, the rest attach — the same command line for all.
const eal = init([`--file-prefix=${prefix}`, '--proc-type=auto', '--no-huge', '-m', '32']);

// Stats line i (16 bytes): produced, consumed, checksum, pid. Word 0 of the zone: items consumed in total.
let work;
let stats;
let children = [];
if (eal.procType === 'primary') {
  work = Ring.create('sym_work', 4096, { elemSize: 8 });
  stats = new Uint32Array(memzone.reserve('sym_stats', 16 + 16 * peers).buffer);
  children = Array.from({ length: peers - 1 }, () =>
    spawn(process.execPath, [process.argv[1], 'peer', prefix, String(peers), String(items)], { stdio: 'inherit' }),
  );
} else {
  work = Ring.lookup('sym_work');
  stats = new Uint32Array(memzone.lookup('sym_stats').buffer);
}
const exits = children.map((c) => new Promise((r) => c.once('exit', r)));

// Every peer claims an id (a slot in the stats table) and waits until all peers are there.
const id = Atomics.add(stats, 1, 1);
while (Atomics.load(stats, 1) < peers) await new Promise((r) => setTimeout(r, 5));
const line = 4 + id * 4;
stats[line + 3] = process.pid;

// My slice of the work: items [from, to).
const from = Math.floor((items * id) / peers);
const to = Math.floor((items * (id + 1)) / peers);
const out = new Uint32Array(BURST * 2);
const inb = new Uint32Array(BURST * 2);
let next = from;
let consumed = 0;
let sum = 0;
const t0 = performance.now();
while (Atomics.load(stats, 0) < items) {
  if (next < to) {
    const n = Math.min(BURST, to - next);
    for (let i = 0; i < n; i++) {
      out[2 * i] = next + i;
      out[2 * i + 1] = ((next + i) ^ KEY) >>> 0;
    }
    next += work.enqueueBurst(out, n);
  }
  // Wait (futex, no CPU) only once my own slice is all in the ring.
  const k = work.dequeueBurst(inb, BURST, next < to ? undefined : { timeoutMs: 50 });
  for (let i = 0; i < k; i++) {
    if (inb[2 * i + 1] !== (inb[2 * i] ^ KEY) >>> 0) throw new Error(`peer ${id}: corrupt item`);
    sum = (sum + inb[2 * i]) >>> 0;
  }
  consumed += k;
  if (k > 0) Atomics.add(stats, 0, k);
}
stats[line] = next - from;
stats[line + 1] = consumed;
stats[line + 2] = sum;
Atomics.add(stats, 2, 1); // peers done
const secs = (performance.now() - t0) / 1000;
console.log(`peer ${id} (${eal.procType}, pid ${process.pid}): produced ${next - from}, consumed ${consumed} in ${secs.toFixed(2)} s`);

if (eal.procType === 'primary') {
  await Promise.all(exits);
  let total = 0;
  let check = 0;
  for (let p = 0; p < peers; p++) {
    total += stats[4 + p * 4 + 1];
    check = (check + stats[4 + p * 4 + 2]) >>> 0;
  }
  let want = 0;
  for (let i = 0; i < items; i++) want = (want + i) >>> 0;
  const ok = total === items && check === want;
  console.log(`symmetric_mp: ${peers} peers consumed ${total} of ${items} items, checksum ${ok ? 'verified' : 'WRONG'}`);
  eal.cleanup();
  process.exit(ok ? 0 : 1);
}
eal.cleanup();
process.exit(0);
