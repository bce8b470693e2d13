// ethdev benchmark (`pnpm --filter @mp/pmd-vfio bench`): 64-byte-class frames (mbuf handles) per second
// through a net_ring port pair between two processes — the sender allocates and transmits, the receiver
// receives and frees, pinned to cores 0 and 1 — against, in the same run, the same two processes moving
// bare handles through an @mp/ring (what the port and the mempool add). Median of REPS runs after a
// warm-up, per burst size. The memif figures come from bench/memif.bench.ts. Benches never assert.
import { execFileSync, spawn } from 'node:child_process';
import { join } from 'node:path';
import { eal, init } from '@mp/eal';
import { pktmbufPoolCreate } from '@mp/mempool';
import { Ring } from '@mp/ring';
import { ethdev } from '../src/index.js';

const REPS = Number(process.env.ETH_BENCH_REPS ?? 3);
const N = Number(process.env.ETH_BENCH_N ?? 5_000_000);
const BURSTS = [8, 32, 128];
const PEER = join(import.meta.dirname, 'ring-peer.mjs');
const prefix = `ethbench_${process.pid}`;

const hasTaskset = (() => {
  try {
    execFileSync('taskset', ['-c', '0', 'true']);
    return true;
  } catch {
    return false;
  }
})();

function side(mode: string, role: string, n: number, burst: number): Promise<string> {
  const args = [PEER, prefix, mode, role, String(n), String(burst)];
  const [cmd, argv] = hasTaskset ? ['taskset', ['-c', role === 'tx' ? '0' : '1', process.execPath, ...args]] : [process.execPath, args];
  return new Promise((resolve, reject) => {
    const c = spawn(cmd as string, argv as string[], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    c.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${mode} ${role} exited ${code}`))));
  });
}

async function once(mode: string, n: number, burst: number): Promise<number> {
  const [, rx] = await Promise.all([side(mode, 'tx', n, burst), side(mode, 'rx', n, burst)]);
  const [, mpps, ok] = rx.trim().split(/\s+/);
  if (ok !== '1') throw new Error(`${mode} burst ${burst}: count mismatch`);
  return Number(mpps);
}

const median = (a: number[]): number => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;

init([`--file-prefix=${prefix}`, '--no-huge', '-m', '256']);
const pool = pktmbufPoolCreate('bench', 16383, { cacheSize: 256 });
const a = ethdev.probe('net_ring0');
const b = ethdev.probe('net_ring1,peer=net_ring0');
for (const p of [a, b]) {
  p.configure(1, 1);
  p.rxQueueSetup(0, 1024, pool);
  p.txQueueSetup(0, 1024);
  p.start();
}
Ring.create('bench_raw', 1024, { flags: 0x3, elemSize: 4 });

console.log(`net_ring between two processes${hasTaskset ? ' (pinned to cores 0 and 1)' : ''}: ${N} packets per run, median of ${REPS}`);
console.log('burst | port Mpps (alloc+tx / rx+free) | bare @mp/ring Mhandles/s | port / ring | goal ≥ 10 Mpps at burst 32');
for (const burst of BURSTS) {
  const port: number[] = [];
  const ring: number[] = [];
  await once('port', Math.min(N, 500_000), burst); // warm-up
  for (let r = 0; r < REPS; r++) {
    // Alternate, so drift on a shared machine hits both alike.
    port.push(await once('port', N, burst));
    ring.push(await once('ring', N, burst));
  }
  const mp = median(port);
  const mr = median(ring);
  console.log(`${String(burst).padStart(5)} | ${mp.toFixed(2).padStart(8)} [${port.map((x) => x.toFixed(2)).join(', ')}] | ${mr.toFixed(2).padStart(8)} [${ring.map((x) => x.toFixed(2)).join(', ')}] | ${(mp / mr).toFixed(2)}× | ${burst === 32 ? (mp >= 10 ? '✔' : '✘') : ''}`);
}
for (const p of [a, b]) p.close();
eal().cleanup();
