// ethdev benchmark (`pnpm --filter @mp/pmd-vfio bench`): 64-byte-class frames (mbuf handles) per second
// through a net_ring port pair between two processes — the sender allocates and transmits, the receiver
// receives and frees, pinned to cores 0 and 1 — against, in the same run, the same two processes moving
// bare handles through an @mp/ring (what the port and the mempool add). Median of REPS runs after a
// warm-up, per burst size. The memif figures come from bench/memif.bench.ts. Benches never assert.
import { join } from 'node:path';
import { pinningNote, rounds, runPeer, startBench } from '@mp/bench-utils';
import type { Row } from '@mp/bench-utils';
import { eal, init } from '@mp/eal';
import { pktmbufPoolCreate } from '@mp/mempool';
import { Ring } from '@mp/ring';
import { ethdev } from '../src/index.js';

const REPS = Number(process.env.ETH_BENCH_REPS ?? 3);
const N = Number(process.env.ETH_BENCH_N ?? 5_000_000);
const BURSTS = [8, 32, 128];
const PEER = join(import.meta.dirname, 'ring-peer.mjs');
const prefix = `ethbench_${process.pid}`;

async function side(mode: string, role: string, n: number, burst: number): Promise<string> {
  const r = await runPeer([process.execPath, PEER, prefix, mode, role, String(n), String(burst)], { cpu: role === 'tx' ? 0 : 1, stderr: 'inherit' });
  if (r.code !== 0) throw new Error(`${mode} ${role} exited ${r.code}`);
  return r.out;
}

async function once(mode: string, n: number, burst: number): Promise<number> {
  const [, rx] = await Promise.all([side(mode, 'tx', n, burst), side(mode, 'rx', n, burst)]);
  const [, mpps, ok] = rx.trim().split(/\s+/);
  if (ok !== '1') throw new Error(`${mode} burst ${burst}: count mismatch`);
  return Number(mpps);
}

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

const bench = startBench({
  package: '@mp/pmd-vfio',
  what: 'ethdev net_ring port pair between two processes, beside the same processes moving bare handles through an @mp/ring',
  memory: '/dev/shm, 4 KiB pages (--no-huge)',
  pinning: pinningNote('sender core 0, receiver core 1'),
  params: `${N} packets per run, median of ${REPS} alternating runs after a warm-up, per burst`,
});
const RING = 'bare @mp/ring Mhandles/s';
const rows: Row[] = [];
for (const burst of BURSTS) {
  // One warm-up run of the port (shorter), then alternate, so drift on a shared machine hits both alike.
  const s = await rounds({ rounds: REPS, warmup: 1 }, [
    ['port', (_rec, r) => once('port', r < 0 ? Math.min(N, 500_000) : N, burst)],
    ['ring', (_rec, r) => (r < 0 ? undefined : once('ring', N, burst))],
  ]);
  const ringRounds = `ring rounds ${s.all('ring').map((x) => x.toFixed(2)).join(', ')}`;
  const goal = burst === 32 ? `goal ≥ 10 Mpps ${s.median('port') >= 10 ? '✔' : '✘'}; ` : '';
  rows.push({ op: `burst ${burst}`, ours: s.median('port'), refs: { [RING]: s.median('ring') }, samples: s.all('port'), note: `${goal}${ringRounds}` });
}
bench.table({ title: `net_ring between two processes: ${N} packets per run, median of ${REPS}`, ours: 'port Mpps (alloc+tx / rx+free)', unit: 'Mpps', refs: [RING], rounds: true }, rows);
for (const p of [a, b]) p.close();
eal().cleanup();
bench.end();
