/**
 * memif benchmark: 64-byte frames per second over memif between two processes, one sending bursts of
 * 32 as fast as the ring takes them, the other receiving — @mp ↔ @mp (the memif layer on a plain
 * buffer, and through ethdev's net_memif with mbufs), @mp → testpmd (rxonly), and
 * the reference testpmd (txonly) → testpmd (rxonly) over DPDK's own net_memif, all in the same run.
 * testpmd's rate is its own `Rx-pps` (--stats-period=1). Medians of the per-second rates after a
 * warm-up. Never asserts time. Needs dpdk-testpmd (Debian package `dpdk`) for the reference rows.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { median, pinningNote, rounds, spawnPeer, startBench } from '@mp/bench-utils';
import type { Peer } from '@mp/bench-utils';
import { TESTPMD, Testpmd } from '../test/fixtures/testpmd.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
const WARMUP = 2;
const here = import.meta.dirname;
/** Each run gets its own socket path and testpmd prefixes (a SIGKILLed testpmd leaves its socket file). */
let runs = 0;

/** A bench child pinned to `cpu` (as testpmd pins its forwarding lcore), when taskset exists. */
const child = (cpu: number, args: string[], script = 'child.mjs'): Peer => spawnPeer([process.execPath, join(here, script), ...args], { cpu });
const end = (p: Peer): Promise<unknown> => p.end();

/** Collect per-second rates from an @mp rx child. */
async function rxRates(next: () => Promise<string>): Promise<number[]> {
  const rates: number[] = [];
  for (let i = 0; i < WARMUP + SECONDS; i++) {
    const r = JSON.parse(await next()) as { pps: number };
    if (i >= WARMUP) rates.push(r.pps);
  }
  return rates;
}

/**
 * Two @mp processes over one memif socket, receiver on core 1: `child.mjs` (the memif layer on a plain
 * buffer) or `ethdev-child.mjs` (two groups, each probing a net_memif port and polling it: alloc+tx / rx+free).
 */
async function mpPair(dir: string, script: 'child.mjs' | 'ethdev-child.mjs'): Promise<number> {
  const socket = join(dir, `${script === 'child.mjs' ? 'mp' : 'eth'}${++runs}.sock`);
  const rx = child(1, ['server', 'rx', socket], script);
  const tx = child(0, ['client', 'tx', socket], script);
  try {
    await rx.next();
    await tx.next();
    return median(await rxRates(rx.next));
  } finally {
    await Promise.all([end(tx), end(rx)]);
  }
}

/** Rx-pps lines of a testpmd started with --stats-period=1, after the warm-up. */
async function testpmdRates(tp: Testpmd): Promise<number[]> {
  const rates: number[] = [];
  let seen = tp.lines.length;
  const t0 = Date.now();
  while (rates.length < WARMUP + SECONDS) {
    if (Date.now() - t0 > 60_000) throw new Error(`testpmd: no traffic in 60 s:\n${tp.output()}`);
    for (; seen < tp.lines.length; seen++) {
      const m = /Rx-pps:\s+(\d+)/.exec(tp.lines[seen]!);
      if (m && Number(m[1]) > 0) rates.push(Number(m[1]));
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return rates.slice(WARMUP);
}

async function mpToTestpmd(dir: string): Promise<number> {
  const socket = join(dir, `tp-rx${++runs}.sock`);
  const tp = new Testpmd({ prefix: `bench_mt${process.pid}_${runs}`, devargs: `role=server,socket=${socket},socket-abstract=no`, forward: 'rxonly', lcores: '0,1', mainLcore: 0, extra: ['--stats-period=1'] });
  const tx = child(0, ['client', 'tx', socket]);
  try {
    await tx.next();
    return median(await testpmdRates(tp));
  } finally {
    await end(tx);
    await tp.kill();
  }
}

async function testpmdToTestpmd(dir: string): Promise<number> {
  const socket = join(dir, `tp-tp${++runs}.sock`);
  // Forwarding lcores on different cores: the receiver's on 1, the sender's on 0.
  const rx = new Testpmd({ prefix: `bench_rx${process.pid}_${runs}`, devargs: `role=server,socket=${socket},socket-abstract=no`, forward: 'rxonly', lcores: '0,1', mainLcore: 0, extra: ['--stats-period=1'] });
  await rx.wait(/Press enter to exit|Port 0: /, 30_000);
  const tx = new Testpmd({ prefix: `bench_tx${process.pid}_${runs}`, devargs: `role=client,socket=${socket},socket-abstract=no`, forward: 'txonly', lcores: '0,1', mainLcore: 1, extra: ['--txpkts=64'] });
  try {
    return median(await testpmdRates(rx));
  } finally {
    await tx.kill();
    await rx.kill();
  }
}

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const bench = startBench({
  package: '@mp/pmd-vfio',
  what: 'memif: 64-byte frames per second between two processes, bursts of 32, one queue',
  memory: '/dev/shm, 4 KiB pages (--no-huge), testpmd too',
  pinning: pinningNote('receiver core 1, sender core 0; testpmd forwarding lcores likewise'),
  params: `${ROUNDS} rounds × ${SECONDS} s after ${WARMUP} s warm-up (medians of per-second rates)`,
});
const dir = mkdtempSync(join(tmpdir(), 'memif-bench-'));
try {
  // The paths take turns, ROUNDS times, so a change in the machine's other load hits them alike.
  const REF = 'testpmd txonly → testpmd rxonly (reference)';
  const paths: Array<[string, () => Promise<number>]> = [
    ['@mp → @mp (2 node processes)', () => mpPair(dir, 'child.mjs')],
    ['@mp ethdev net_memif → @mp ethdev net_memif (mbufs: alloc+tx / rx+free)', () => mpPair(dir, 'ethdev-child.mjs')],
  ];
  if (TESTPMD !== undefined) {
    paths.push(['@mp → testpmd rxonly', () => mpToTestpmd(dir)]);
    paths.push([REF, () => testpmdToTestpmd(dir)]);
  } else {
    bench.note('dpdk-testpmd not installed: reference rows skipped (apt-get install dpdk)');
  }
  const got = await rounds({ rounds: ROUNDS }, paths.map(([name, run]) => [name, () => run()] as const));
  const ref = got.median(REF);
  bench.table(
    { title: `memif, 64-byte frames, bursts of 32, one queue, ${ROUNDS} rounds × ${SECONDS} s after ${WARMUP} s warm-up`, ours: 'frames/s', unit: 'Mpps', refs: [REF], rounds: true },
    paths.map(([name]) => ({ op: name, ours: got.median(name) / 1e6, refs: { [REF]: ref / 1e6 }, samples: got.all(name).map((x) => x / 1e6) })),
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
  bench.end();
}
