// One side of the net_ring benchmark (bench/ethdev.bench.ts): a secondary of the bench's group.
//   node ring-peer.mjs <prefix> <mode: port|ring> <role: tx|rx> <packets> <burst>
// port: mbufs from pool 'bench' through net_ring0 tx q0 → net_ring1 rx q0 (alloc + tx / rx + free).
// ring: the same handles through a bare @mp/ring (SP/SC, 4-byte elements): what the port adds on top.
// The receiver prints "rx <Mpps> <ok>".
import { init, eal } from '@mp/eal';
import { Mbuf, Mempool } from '@mp/mempool';
import { Ring } from '@mp/ring';
import { ethdev } from '@mp/pmd-vfio';

const [prefix, mode, role, nStr, bStr] = process.argv.slice(2);
const N = Number(nStr);
const B = Number(bStr);
init([`--file-prefix=${prefix}`, '--proc-type=secondary', '--no-huge']);
const pool = Mempool.lookup('bench');
const h = new Uint32Array(B);
let moved = 0;
let sum = 0;
const t0 = process.hrtime.bigint();
if (mode === 'port') {
  const port = ethdev.attach(role === 'tx' ? 'net_ring0' : 'net_ring1');
  if (role === 'tx') {
    while (moved < N) {
      const n = Math.min(B, N - moved);
      if (Mbuf.allocBulk(pool, h, n) !== n) continue;
      let sent = 0;
      while (sent < n) sent += port.txBurst(0, sent === 0 ? h : h.subarray(sent), n - sent);
      moved += n;
    }
  } else {
    while (moved < N) {
      const n = port.rxBurst(0, h, B);
      if (n === 0) continue;
      sum += n;
      Mbuf.freeBulk(h, n);
      moved += n;
    }
  }
} else {
  const ring = Ring.lookup('bench_raw');
  if (role === 'tx') {
    for (let i = 0; i < B; i++) h[i] = i;
    while (moved < N) {
      const n = Math.min(B, N - moved);
      moved += ring.enqueueBurst(h, n);
    }
  } else {
    while (moved < N) {
      const n = ring.dequeueBurst(h, B);
      sum += n;
      moved += n;
    }
  }
}
const s = Number(process.hrtime.bigint() - t0) / 1e9;
if (process.env.ETH_BENCH_DEBUG) process.stderr.write(`${mode} ${role} ${(N / s / 1e6).toFixed(3)} Mpps\n`);
if (role === 'rx') process.stdout.write(`rx ${(N / s / 1e6).toFixed(3)} ${sum === N ? 1 : 0}\n`);
eal().cleanup();
