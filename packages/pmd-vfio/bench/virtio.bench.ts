// virtio-net against the in-memory device model (`pnpm --filter @mp/pmd-vfio bench`): 64-byte frames
// per second through a net_virtio_model port whose device is another process (a JS device model, so
// this measures the driver's virtqueue path plus a JS device, not a NIC) — tx (alloc, write, txBurst,
// reclaim) and rx (rxBurst, refill, free) — against, in the same run and process, a net_ring loopback
// port moving the same frames (tx then rx). Median of REPS runs. Benches never assert.
import { join } from 'node:path';
import { rounds, spawnPeer, startBench } from '@mp/bench-utils';
import { eal, init } from '@mp/eal';
import { Mbuf, pktmbufPoolCreate } from '@mp/mempool';
import { ethdev } from '../src/index.js';
import type { Port } from '../src/index.js';

const REPS = Number(process.env.VIRTIO_BENCH_REPS ?? 3);
const N = Number(process.env.VIRTIO_BENCH_N ?? 500_000);
const BURST = 32;
const prefix = `viobench_${process.pid}`;

init([`--file-prefix=${prefix}`, '--no-huge', '-m', '256']);
const pool = pktmbufPoolCreate('bench', 16383, { cacheSize: 256 });

const bench = startBench({
  package: '@mp/pmd-vfio',
  what: 'virtio-net over the JS device model (device in another process), beside a net_ring loopback in this process',
  memory: '/dev/shm, 4 KiB pages (--no-huge)',
  pinning: 'none',
  params: `${N} frames of 64 bytes per run, median of ${REPS} runs after a warm-up`,
});
const dev = spawnPeer([process.execPath, join(import.meta.dirname, 'virtio-device.mjs'), prefix, 'bench']);
const nextLine = (): Promise<string> => dev.next();
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
const runs = await rounds({ rounds: REPS, warmup: 1 }, [
  ['run', async (record) => {
    let t = process.hrtime.bigint();
    send(vio, N);
    txDone += N;
    dev.child.stdin!.write(`tx ${txDone}\n`);
    await nextLine();
    const txMpps = N / (Number(process.hrtime.bigint() - t) / 1e3);
    dev.child.stdin!.write(`gen ${N}\n`);
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
    record('tx', txMpps);
    record('rx', rxMpps);
    record('ref', refMpps);
  }],
]);
const REF = 'net_ring loopback tx+rx (same run)';
bench.table({ title: `virtio-net over the device model (device in another process), ${N} frames of 64 bytes per run, median of ${REPS}`, ours: '@mp virtio', unit: 'Mpps', refs: [REF], digits: 3, rounds: true }, [
  { op: 'virtio tx (device consuming)', ours: runs.median('tx'), refs: { [REF]: runs.median('ref') }, samples: runs.all('tx') },
  { op: 'virtio rx (device generating)', ours: runs.median('rx'), refs: { [REF]: runs.median('ref') }, samples: runs.all('rx') },
  { op: 'net_ring loopback tx+rx', ours: runs.median('ref'), refs: { [REF]: runs.median('ref') }, samples: runs.all('ref') },
]);
for (const p of [vio, ring]) {
  p.stop();
  p.close();
}
dev.child.stdin!.write('quit\n');
await dev.end();
eal().cleanup();
bench.end();
