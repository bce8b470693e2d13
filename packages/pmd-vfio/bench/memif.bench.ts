/**
 * memif benchmark: 64-byte frames per second over memif between two processes, one sending bursts of
 * 32 as fast as the ring takes them, the other receiving — @mp ↔ @mp (the memif layer on a plain
 * buffer, and through ethdev's net_memif with mbufs), @mp → testpmd (rxonly), and
 * the reference testpmd (txonly) → testpmd (rxonly) over DPDK's own net_memif, all in the same run.
 * testpmd's rate is its own `Rx-pps` (--stats-period=1). Medians of the per-second rates after a
 * warm-up. Never asserts time. Needs dpdk-testpmd (Debian package `dpdk`) for the reference rows.
 */
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { TESTPMD, Testpmd } from '../test/fixtures/testpmd.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
const WARMUP = 2;
const here = import.meta.dirname;
/** Each run gets its own socket path and testpmd prefixes (a SIGKILLed testpmd leaves its socket file). */
let runs = 0;
const median = (a: number[]): number => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)] ?? NaN;
const fmt = (pps: number): string => (Number.isFinite(pps) ? `${(pps / 1e6).toFixed(2)} Mpps` : 'n/a');

const TASKSET: string | undefined = (() => {
  try {
    return execFileSync('sh', ['-c', 'command -v taskset'], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
})();

/** A bench child pinned to `cpu` (as testpmd pins its forwarding lcore), when taskset exists. */
function child(cpu: number, args: string[], script = 'child.mjs'): { c: ChildProcess; next: () => Promise<string> } {
  const argv = [process.execPath, join(here, script), ...args];
  const c = TASKSET !== undefined
    ? spawn(TASKSET, ['-c', String(cpu), ...argv], { stdio: ['pipe', 'pipe', 'inherit'] })
    : spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'inherit'] });
  const queued: string[] = [];
  const waiting: Array<(l: string) => void> = [];
  let exited = false;
  const failed: Array<(e: Error) => void> = [];
  createInterface({ input: c.stdout! }).on('line', (l) => (waiting.length > 0 ? (failed.shift(), waiting.shift()!(l)) : queued.push(l)));
  c.on('exit', (code) => {
    exited = true;
    for (const f of failed.splice(0)) f(new Error(`bench child ${args.join(' ')} exited (${code})`));
  });
  const next = (): Promise<string> => {
    if (queued.length > 0) return Promise.resolve(queued.shift()!);
    if (exited) return Promise.reject(new Error(`bench child ${args.join(' ')} has exited`));
    return new Promise((resolve, reject) => {
      waiting.push(resolve);
      failed.push(reject);
    });
  };
  return { c, next };
}

async function end(c: ChildProcess): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return;
  const ex = once(c, 'exit');
  c.stdin!.end();
  const t = setTimeout(() => c.kill('SIGKILL'), 5000);
  await ex;
  clearTimeout(t);
}

/** Collect per-second rates from an @mp rx child. */
async function rxRates(next: () => Promise<string>): Promise<number[]> {
  const rates: number[] = [];
  for (let i = 0; i < WARMUP + SECONDS; i++) {
    const r = JSON.parse(await next()) as { pps: number };
    if (i >= WARMUP) rates.push(r.pps);
  }
  return rates;
}

async function mpToMp(dir: string): Promise<number> {
  const socket = join(dir, `mp${++runs}.sock`);
  const rx = child(1, ['server', 'rx', socket]);
  const tx = child(0, ['client', 'tx', socket]);
  try {
    await rx.next();
    await tx.next();
    return median(await rxRates(rx.next));
  } finally {
    await Promise.all([end(tx.c), end(rx.c)]);
  }
}

/** The same through ethdev: two groups, each probing a net_memif port and polling it (alloc+tx / rx+free). */
async function ethdevToEthdev(dir: string): Promise<number> {
  const socket = join(dir, `eth${++runs}.sock`);
  const rx = child(1, ['server', 'rx', socket], 'ethdev-child.mjs');
  const tx = child(0, ['client', 'tx', socket], 'ethdev-child.mjs');
  try {
    await rx.next();
    await tx.next();
    return median(await rxRates(rx.next));
  } finally {
    await Promise.all([end(tx.c), end(rx.c)]);
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
    await end(tx.c);
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
const dir = mkdtempSync(join(tmpdir(), 'memif-bench-'));
try {
  // The paths take turns, ROUNDS times, so a change in the machine's other load hits them alike.
  const paths: Array<[string, () => Promise<number>]> = [
    ['@mp → @mp (2 node processes)', () => mpToMp(dir)],
    ['@mp ethdev net_memif → @mp ethdev net_memif (mbufs: alloc+tx / rx+free)', () => ethdevToEthdev(dir)],
  ];
  if (TESTPMD !== undefined) {
    paths.push(['@mp → testpmd rxonly', () => mpToTestpmd(dir)]);
    paths.push(['testpmd txonly → testpmd rxonly (reference)', () => testpmdToTestpmd(dir)]);
  } else {
    console.log('dpdk-testpmd not installed: reference rows skipped (apt-get install dpdk)');
  }
  const got = new Map<string, number[]>(paths.map(([n]) => [n, []]));
  for (let r = 0; r < ROUNDS; r++) for (const [name, run] of paths) got.get(name)!.push(await run());
  const rows = paths.map(([name]) => [name, median(got.get(name)!)] as const);
  const ref = rows.find((r) => r[0].includes('reference'))?.[1] ?? NaN;
  console.log(`\nmemif, 64-byte frames, bursts of 32, one queue, ${ROUNDS} rounds × ${SECONDS} s after ${WARMUP} s warm-up (medians of per-second rates)`);
  console.log('| path | frames/s | × reference | rounds |');
  console.log('|---|---:|---:|---|');
  for (const [name, pps] of rows) {
    console.log(`| ${name} | ${fmt(pps)} | ${Number.isFinite(ref) ? (pps / ref).toFixed(2) : 'n/a'} | ${got.get(name)!.map(fmt).join(', ')} |`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
