// virtio-net against the in-memory device model (`pnpm --filter @mp/pmd-vfio bench`): 64-byte frames
// per second through a net_virtio_model port whose device is another process (a JS device model, so
// this measures the driver's virtqueue path plus a JS device, not a NIC) — tx (alloc, write, txBurst,
// reclaim) and rx (rxBurst, refill, free) — against, in the same run and process, a net_ring loopback
// port moving the same frames (tx then rx). Median of REPS runs. Benches never assert.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { eal, init } from '@mp/eal';
import { Mbuf, pktmbufPoolCreate } from '@mp/mempool';
import { ethdev } from '../src/index.js';
import type { Port } from '../src/index.js';

const REPS = Number(process.env.VIRTIO_BENCH_REPS ?? 3);
const N = Number(process.env.VIRTIO_BENCH_N ?? 500_000);
const BURST = 32;
const prefix = `viobench_${process.pid}`;
const median = (a: number[]): number => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;

init([`--file-prefix=${prefix}`, '--no-huge', '-m', '256']);
const pool = pktmbufPoolCreate('bench', 16383, { cacheSize: 256 });

const dev = spawn(process.execPath, [join(import.meta.dirname, 'virtio-device.mjs'), prefix, 'bench'], { stdio: ['pipe', 'pipe', 'inherit'] });
const lines = createInterface({ input: dev.stdout });
const waiting: Array<(l: string) => void> = [];
lines.on('line', (l) => waiting.shift()?.(l));
const nextLine = (): Promise<string> => new Promise((r) => waiting.push(r));
await nextLine(); // ready

const vio = ethdev.probe('net_virtio_model0,device=bench');
const ring = ethdev.probe('net_ring0');
for (const p of [vio, ring]) {
  p.configure(1, 1);
  p.rxQueueSetup(0, 1024, pool);
  p.txQueueSetup(0, 1024);
  p.start();
}

const h = new Uint32Array(BURST);
function send(p: Port, n: number): number {
  let sent = 0;
  while (sent < n) {
    const k = Math.min(BURST, n - sent);
    if (Mbuf.allocBulk(pool, h, k) !== k) continue;
    for (let i = 0; i < k; i++) Mbuf.append(h[i]!, 64);
    let s = 0;
    while (s < k) s += p.txBurst(0, h.subarray(s), k - s);
    sent += k;
  }
  return sent;
}
function recv(p: Port, n: number): void {
  let got = 0;
  while (got < n) {
    const k = p.rxBurst(0, h, BURST);
    Mbuf.freeBulk(h, k);
    got += k;
  }
}

let txDone = 0;
const tx: number[] = [];
const rx: number[] = [];
const ref: number[] = [];
for (let r = 0; r <= REPS; r++) {
  let t = process.hrtime.bigint();
  send(vio, N);
  txDone += N;
  dev.stdin.write(`tx ${txDone}\n`);
  await nextLine();
  const txMpps = N / (Number(process.hrtime.bigint() - t) / 1e3);
  dev.stdin.write(`gen ${N}\n`);
  t = process.hrtime.bigint();
  recv(vio, N);
  const rxMpps = N / (Number(process.hrtime.bigint() - t) / 1e3);
  // net_ring loopback, same process, same frames: tx then rx in bursts of BURST.
  t = process.hrtime.bigint();
  for (let i = 0; i < N; i += 512) {
    send(ring, 512);
    recv(ring, 512);
  }
  const refMpps = N / (Number(process.hrtime.bigint() - t) / 1e3);
  if (r === 0) continue; // warm-up
  tx.push(txMpps);
  rx.push(rxMpps);
  ref.push(refMpps);
}
const f = (x: number): string => x.toFixed(3);
console.log(`virtio-net over the device model (device in another process), ${N} frames of 64 bytes per run, median of ${REPS}`);
console.log(`| path | Mpps | × net_ring loopback (same run) |`);
console.log(`|---|---|---|`);
console.log(`| virtio tx (device consuming) | ${f(median(tx))} | ${f(median(tx) / median(ref))} |`);
console.log(`| virtio rx (device generating) | ${f(median(rx))} | ${f(median(rx) / median(ref))} |`);
console.log(`| net_ring loopback tx+rx | ${f(median(ref))} | 1.000 |`);
for (const p of [vio, ring]) {
  p.stop();
  p.close();
}
dev.stdin.write('quit\n');
await new Promise((r) => dev.on('exit', r));
eal().cleanup();
