/**
 * @mp/ipc benchmark: request/reply round trips (async `request`, `requestSync`) and one-way `sendMsg`
 * rate between a primary and a secondary, beside references measured in the same run (child_process
 * `process.send`, a `net` unix stream ping-pong, a C ping-pong over the same kind of sockets with both
 * sides sleeping — bench/c/pingpong.c, built with gcc here) and DPDK's rte_mp figures from
 * ../shared/bench/ANCHORS.md.
 * Medians of RUNS runs. Never asserts time.
 */
import { execFileSync, fork, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { init } from '@mp/eal';
import * as ipc from '../src/index.js';

const N = 20_000;
const FLOOD = 200_000;
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const DPDK = { requestSyncP50: 80, sendmsgPerSec: 70_000 }; // ANCHORS.md: rte_mp_request_sync p50 ≈ 80 µs; rte_mp_sendmsg ≈ 70k msg/s
/** Opt-in modes, each measured in a group of its own (a primary and a secondary child, both with these options). */
const BUSY_POLL_US = Number(process.env.BENCH_BUSY_POLL_US ?? 50);
const MODES = { dflt: {}, spin: { busyPollUs: BUSY_POLL_US }, coalesce: { coalesce: true }, sockets: { inbox: false } } as const;
const here = import.meta.dirname;

const median = (a: number[]): number => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
const pct = (a: Float64Array, p: number): number => a[Math.min(a.length - 1, Math.floor(a.length * p))]!;
const enc = (o: unknown): Uint8Array => new Uint8Array(Buffer.from(JSON.stringify(o)));
const dec = <T>(u: Uint8Array): T => JSON.parse(Buffer.from(u).toString()) as T;

function waitLine(child: ChildProcess, word: string): Promise<void> {
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (l) => l === word && resolve());
    child.once('exit', (c) => reject(new Error(`child exited ${c}`)));
  });
}

/** Close a bench child's stdin (it then leaves its group and exits) and wait for its exit. */
async function endChild(c: ChildProcess): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return;
  const exited = once(c, 'exit');
  c.stdin!.end();
  await exited;
}

/** The next stdout lines of a child, one at a time. */
function lines(child: ChildProcess): () => Promise<string> {
  const queued: string[] = [];
  const waiting: Array<(l: string) => void> = [];
  createInterface({ input: child.stdout! }).on('line', (l) => (waiting.length > 0 ? waiting.shift()!(l) : queued.push(l)));
  return () => (queued.length > 0 ? Promise.resolve(queued.shift()!) : new Promise((resolve) => waiting.push(resolve)));
}

/** A group of two bench children started with `opts`; commands go to its secondary. */
async function modeGroup(opts: object): Promise<{ cmd<T>(c: object): Promise<T>; close(): Promise<void> }> {
  const prefix = `benchm${process.pid}_${randomBytes(3).toString('hex')}`;
  const start = async (procType: string): Promise<[ChildProcess, () => Promise<string>]> => {
    const c = spawn(process.execPath, [join(here, 'child.mjs'), prefix, procType, JSON.stringify(opts)], { stdio: ['pipe', 'pipe', 'inherit'] });
    const next = lines(c);
    if ((await next()) !== 'ready') throw new Error(`bench ${procType} did not start`);
    return [c, next];
  };
  const [pri] = await start('primary');
  const [sec, next] = await start('secondary');
  return {
    async cmd<T>(c: object): Promise<T> {
      sec.stdin!.write(`${JSON.stringify(c)}\n`);
      return JSON.parse(await next()) as T;
    },
    // The secondary leaves first, then the primary, which then ends the group (its runtime dir goes too).
    async close() {
      await endChild(sec);
      await endChild(pri);
    },
  };
}

/**
 * The C floor of a default-mode round trip: bench/c/pingpong.c (two processes, 332-byte datagrams over
 * bound unix datagram sockets with SO_PASSCRED, each side sleeping in epoll_wait, reading with
 * recvmmsg). Built with gcc into `dir`; undefined (row shown as n/a) when no compiler is there.
 */
function buildCPingPong(dir: string): string | undefined {
  const bin = join(dir, 'pingpong');
  try {
    execFileSync('gcc', ['-O2', '-Wall', '-Wextra', '-o', bin, join(here, 'c/pingpong.c')], { stdio: 'pipe' });
    return bin;
  } catch (err) {
    console.error(`C ping-pong reference not built (gcc): ${(err as Error).message.split('\n')[0]}`);
    return undefined;
  }
}

function runCPingPong(bin: string, dir: string, n: number): { p50: number; p99: number } {
  return JSON.parse(execFileSync(bin, [dir, String(n)], { encoding: 'utf8' })) as { p50: number; p99: number };
}

async function main(): Promise<void> {
  const prefix = `bench${process.pid}_${randomBytes(3).toString('hex')}`;
  init([`--file-prefix=${prefix}`, '--proc-type=primary', '--no-huge']);
  ipc.start();
  let sunk = 0;
  ipc.actionRegister('echo', (msg) => msg);
  ipc.actionRegister('sink', () => {
    sunk++;
  });
  ipc.actionRegister('cpu', (msg) => {
    const u = process.cpuUsage();
    return { name: msg.name, param: enc(u.user + u.system) };
  });
  const sec = spawn(process.execPath, [join(here, 'child.mjs'), prefix], { stdio: ['pipe', 'pipe', 'inherit'] });
  await waitLine(sec, 'ready');
  const to = sec.pid!;

  const rows = { asyncCpu: [] as number[], async: [] as number[], asyncP99: [] as number[], sync: [] as number[], syncP99: [] as number[], pToS: [] as number[], pToSP99: [] as number[], oneWayUp: [] as number[], oneWayDown: [] as number[] };
  const cp = { p50: [] as number[], p99: [] as number[], rate: [] as number[] };
  const spin = { asyncCpu: [] as number[], async: [] as number[], asyncP99: [] as number[], sync: [] as number[], syncP99: [] as number[] };
  const coal = { up: [] as number[], down: [] as number[] };
  const sockets = { async: [] as number[], sync: [] as number[], up: [] as number[] };
  // Default options, both ends bench children (as the sockets-only and C references are): the C ratio.
  const dflt = { async: [] as number[], asyncP99: [] as number[], asyncCpu: [] as number[], sync: [] as number[] };
  const dfltGroup = await modeGroup(MODES.dflt);
  const spinGroup = await modeGroup(MODES.spin);
  const coalGroup = await modeGroup(MODES.coalesce);
  const socketGroup = await modeGroup(MODES.sockets);
  const net = { p50: [] as number[], p99: [] as number[] };
  const cDir = mkdtempSync(join(tmpdir(), 'mp-ipc-bench-c-'));
  const cBin = buildCPingPong(cDir);
  const cpp = { p50: [] as number[], p99: [] as number[] };
  const floor = { p50: [] as number[], p99: [] as number[] };
  const param = new Uint8Array(16);

  const ref = fork(join(here, 'ref-child.mjs'), [], { stdio: ['pipe', 'pipe', 'inherit', 'ipc'] });
  await once(ref, 'spawn');
  const sockPath = join(tmpdir(), `mp-bench-${process.pid}.sock`);
  rmSync(sockPath, { force: true });
  const netChild = spawn(process.execPath, [join(here, 'ref-child.mjs'), 'net', sockPath], { stdio: ['pipe', 'pipe', 'inherit'] });
  await waitLine(netChild, 'ready');
  const sock = connect(sockPath);
  sock.setNoDelay(true);
  await once(sock, 'connect');

  for (let run = 0; run < RUNS; run++) {
    // @mp/ipc, secondary → primary (measured in the secondary).
    for (const mode of ['async', 'sync'] as const) {
      const r = await ipc.request({ name: 'latency', param: enc({ n: N, mode }) }, { to, timeoutMs: 120_000 });
      const v = dec<{ p50: number; p99: number; cpu: number; peerCpu: number }>(r.msgs[0]!.param);
      if (mode === 'async') rows.asyncCpu.push(v.cpu + v.peerCpu);
      rows[mode].push(v.p50);
      rows[mode === 'async' ? 'asyncP99' : 'syncP99'].push(v.p99);
    }
    // @mp/ipc, primary → secondary async request.
    {
      const t = new Float64Array(N);
      for (let i = 0; i < N; i++) {
        const t0 = performance.now();
        await ipc.request({ name: 'echo', param }, { to, timeoutMs: 5000 });
        t[i] = performance.now() - t0;
      }
      t.sort();
      rows.pToS.push(pct(t, 0.5) * 1000);
      rows.pToSP99.push(pct(t, 0.99) * 1000);
    }
    // One-way: secondary floods the primary.
    {
      sunk = 0;
      const t0 = performance.now();
      const done = new Promise<void>((resolve) => {
        const check = setInterval(() => {
          if (sunk >= FLOOD) {
            clearInterval(check);
            resolve();
          }
        }, 1);
      });
      await ipc.request({ name: 'flood', param: enc({ n: FLOOD }) }, { to, timeoutMs: 120_000 });
      await done;
      rows.oneWayUp.push(FLOOD / ((performance.now() - t0) / 1000));
    }
    // One-way: primary → secondary, then ask how many arrived (all: sends wait for room, never drop).
    {
      const base = dec<number>((await ipc.request({ name: 'sunk' }, { to })).msgs[0]!.param);
      const t0 = performance.now();
      for (let i = 0; i < FLOOD; i++) ipc.sendMsg({ name: 'sink', param }, { to });
      const got = dec<number>((await ipc.request({ name: 'sunk' }, { to, timeoutMs: 60_000 })).msgs[0]!.param) - base;
      if (got !== FLOOD) console.error(`one-way: ${got} of ${FLOOD} arrived`);
      rows.oneWayDown.push(FLOOD / ((performance.now() - t0) / 1000));
    }
    // Poll mode (busyPollUs on both sides), secondary → primary.
    for (const mode of ['async', 'sync'] as const) {
      const v = await spinGroup.cmd<{ p50: number; p99: number; cpu: number; peerCpu: number }>({ cmd: 'latency', n: N, mode });
      if (mode === 'async') spin.asyncCpu.push(v.cpu + v.peerCpu);
      spin[mode].push(v.p50);
      spin[mode === 'async' ? 'asyncP99' : 'syncP99'].push(v.p99);
    }
    // Coalesced one-way messages, both ways.
    for (const dir of ['up', 'down'] as const) {
      const v = await coalGroup.cmd<{ rate: number; got: number }>({ cmd: dir, n: FLOOD });
      if (v.got !== FLOOD) console.error(`coalesced one-way ${dir}: ${v.got} of ${FLOOD} arrived`);
      coal[dir].push(v.rate);
    }
    // Default mode between two bench children.
    for (const mode of ['async', 'sync'] as const) {
      const v = await dfltGroup.cmd<{ p50: number; p99: number; cpu: number; peerCpu: number }>({ cmd: 'latency', n: N, mode });
      dflt[mode].push(v.p50);
      if (mode === 'async') {
        dflt.asyncP99.push(v.p99);
        dflt.asyncCpu.push(v.cpu + v.peerCpu);
      }
    }
    // Reference: the same group with inboxes off (sockets only, as before inboxes).
    for (const mode of ['async', 'sync'] as const) {
      sockets[mode].push((await socketGroup.cmd<{ p50: number }>({ cmd: 'latency', n: N, mode })).p50);
    }
    {
      const v = await socketGroup.cmd<{ rate: number; got: number }>({ cmd: 'up', n: FLOOD });
      if (v.got !== FLOOD) console.error(`sockets-only one-way: ${v.got} of ${FLOOD} arrived`);
      sockets.up.push(v.rate);
    }
    // Reference: child_process IPC round trip and one-way.
    {
      const t = new Float64Array(N);
      for (let i = 0; i < N; i++) {
        const t0 = performance.now();
        ref.send({ i, p: 'x'.repeat(16) });
        await once(ref, 'message');
        t[i] = performance.now() - t0;
      }
      t.sort();
      cp.p50.push(pct(t, 0.5) * 1000);
      cp.p99.push(pct(t, 0.99) * 1000);
      const t0 = performance.now();
      for (let i = 0; i < FLOOD; i++) ref.send('one-way');
      ref.send('count?');
      for (;;) {
        const [m] = (await once(ref, 'message')) as [unknown];
        if (typeof m === 'number') break;
      }
      cp.rate.push(FLOOD / ((performance.now() - t0) / 1000));
    }
    // Reference: C ping-pong over unix datagram sockets, both sides sleeping (issue 18's goal: request (async) p50 ≤ 1.2× this).
    if (cBin !== undefined) {
      const v = runCPingPong(cBin, cDir, N);
      cpp.p50.push(v.p50);
      cpp.p99.push(v.p99);
    }
    // Reference: the Node floor — the same addon ping-pong with no channel logic (bench/floor-child.mjs).
    {
      const v = JSON.parse(execFileSync(process.execPath, [join(here, 'floor-child.mjs'), cDir, String(N)], { encoding: 'utf8' })) as { p50: number; p99: number };
      floor.p50.push(v.p50);
      floor.p99.push(v.p99);
    }
    // Reference: net unix stream ping-pong.
    {
      const t = new Float64Array(N);
      for (let i = 0; i < N; i++) {
        const t0 = performance.now();
        sock.write('ping-0123456789\n');
        await once(sock, 'data');
        t[i] = performance.now() - t0;
      }
      t.sort();
      net.p50.push(pct(t, 0.5) * 1000);
      net.p99.push(pct(t, 0.99) * 1000);
    }
  }

  const us = (v: number): string => `${v.toFixed(1)} µs`;
  const rate = (v: number): string => `${(v / 1000).toFixed(0)}k msg/s`;
  const cpP50 = median(cp.p50);
  const cP50 = cpp.p50.length > 0 ? median(cpp.p50) : NaN;
  const vsC = (v: number): string => (Number.isNaN(cP50) ? 'C ping-pong n/a' : `${(v / cP50).toFixed(2)}× C ping-pong`);
  const table: Array<[string, string, string]> = [
    ['request (async), default mode, sec→pri, both ends bench children, p50 / p99', `${us(median(dflt.async))} / ${us(median(dflt.asyncP99))}`, `${vsC(median(dflt.async))} (goal ≤ 1.2); requestSync ${us(median(dflt.sync))}; CPU ${us(median(dflt.asyncCpu))} per round trip (both processes)`],
    ['request (async), sec→pri (primary: this bench process), p50 / p99', `${us(median(rows.async))} / ${us(median(rows.asyncP99))}`, `${vsC(median(rows.async))}, ${(median(rows.async) / cpP50).toFixed(2)}× child_process (goal ≤ 1.0), ${(median(rows.async) / DPDK.requestSyncP50).toFixed(2)}× DPDK rte_mp_request_sync (goal ≤ 0.35); CPU ${us(median(rows.asyncCpu))} per round trip (both processes)`],
    ['requestSync, sec→pri, p50 / p99', `${us(median(rows.sync))} / ${us(median(rows.syncP99))}`, `${(median(rows.sync) / DPDK.requestSyncP50).toFixed(2)}× DPDK rte_mp_request_sync (goal ≤ 0.15)`],
    ['request (async), pri→sec, p50 / p99', `${us(median(rows.pToS))} / ${us(median(rows.pToSP99))}`, `${(median(rows.pToS) / cpP50).toFixed(2)}× child_process`],
    ['sendMsg one-way, sec→pri', rate(median(rows.oneWayUp)), `${(median(rows.oneWayUp) / DPDK.sendmsgPerSec).toFixed(1)}× DPDK rte_mp_sendmsg (goal ≥ 5), ${(median(rows.oneWayUp) / median(cp.rate)).toFixed(2)}× child_process`],
    ['sendMsg one-way, pri→sec', rate(median(rows.oneWayDown)), `${(median(rows.oneWayDown) / DPDK.sendmsgPerSec).toFixed(1)}× DPDK rte_mp_sendmsg`],
    [`opt-in busyPollUs ${BUSY_POLL_US}: request (async), sec→pri, p50 / p99`, `${us(median(spin.async))} / ${us(median(spin.asyncP99))}`, `${(median(spin.async) / cpP50).toFixed(2)}× child_process, ${(median(spin.async) / DPDK.requestSyncP50).toFixed(2)}× DPDK rte_mp_request_sync; CPU ${us(median(spin.asyncCpu))} per round trip (both processes)`],
    [`opt-in busyPollUs ${BUSY_POLL_US}: requestSync, sec→pri, p50 / p99`, `${us(median(spin.sync))} / ${us(median(spin.syncP99))}`, `${(median(spin.sync) / DPDK.requestSyncP50).toFixed(2)}× DPDK rte_mp_request_sync`],
    ['opt-in coalesce: sendMsg one-way, sec→pri', rate(median(coal.up)), `${(median(coal.up) / DPDK.sendmsgPerSec).toFixed(1)}× DPDK rte_mp_sendmsg, ${(median(coal.up) / median(cp.rate)).toFixed(2)}× child_process`],
    ['opt-in coalesce: sendMsg one-way, pri→sec', rate(median(coal.down)), `${(median(coal.down) / DPDK.sendmsgPerSec).toFixed(1)}× DPDK rte_mp_sendmsg`],
    ['ref: same with inboxes off (`inbox: false`, sockets only): request (async) / requestSync p50, one-way sec→pri', `${us(median(sockets.async))} / ${us(median(sockets.sync))}, ${rate(median(sockets.up))}`, `the transport before inboxes; every message in its datagram (the bound of sending messages inline); async ${vsC(median(sockets.async))}`],
    ['ref: C ping-pong, unix datagram sockets (332 B, SO_PASSCRED), both sides sleeping in epoll, p50 / p99', Number.isNaN(cP50) ? 'n/a (no gcc)' : `${us(cP50)} / ${us(median(cpp.p99))}`, 'bench/c/pingpong.c, built with gcc in this run'],
    ['ref: Node floor — the @mp/ipc addon ping-pong without channel logic (uv_poll → one JS callback → sendmsg), both sides sleeping, p50 / p99', `${us(median(floor.p50))} / ${us(median(floor.p99))}`, `${vsC(median(floor.p50))}: what event-loop wake-ups cost beyond C; the rest of request (async) is channel work in JS`],
    ['ref: child_process process.send round trip p50 / p99', `${us(cpP50)} / ${us(median(cp.p99))}`, 'ANCHORS: p50 28.5 µs, p99 132 µs'],
    ['ref: child_process one-way', rate(median(cp.rate)), 'ANCHORS: 68k msg/s'],
    ['ref: net unix stream ping-pong p50 / p99', `${us(median(net.p50))} / ${us(median(net.p99))}`, 'ANCHORS: p50 31.7 µs'],
    ['DPDK rte_mp_request_sync (ANCHORS.md)', 'p50 ≈ 80 µs, p99 0.4–1.6 ms', 'C, same machine class'],
    ['DPDK rte_mp_request_async callback (ANCHORS.md)', '350–600 µs', ''],
    ['DPDK rte_mp_sendmsg (ANCHORS.md)', '≈ 70k msg/s', ''],
  ];
  let qlen = '?';
  try {
    qlen = readFileSync('/proc/sys/net/unix/max_dgram_qlen', 'utf8').trim();
  } catch {
    // not Linux, or no procfs
  }
  console.log(`\n@mp/ipc — ${N} round trips, ${FLOOD} one-way messages, median of ${RUNS} runs; net.unix.max_dgram_qlen = ${qlen}\n`);
  console.log('| measure | value | ratio |');
  console.log('|---|---|---|');
  for (const [a, b, c] of table) console.log(`| ${a} | ${b} | ${c} |`);
  console.log(`\nper run: async p50 ${rows.async.map((v) => v.toFixed(1)).join(', ')} µs; sync p50 ${rows.sync.map((v) => v.toFixed(1)).join(', ')} µs; child_process p50 ${cp.p50.map((v) => v.toFixed(1)).join(', ')} µs`);
  console.log(`per run: C ping-pong p50 ${cpp.p50.map((v) => v.toFixed(1)).join(', ')} µs; Node floor p50 ${floor.p50.map((v) => v.toFixed(1)).join(', ')} µs; sockets-only async p50 ${sockets.async.map((v) => v.toFixed(1)).join(', ')} µs; default (children) async p50 ${dflt.async.map((v) => v.toFixed(1)).join(', ')} µs`);
  console.log(`per run: busyPollUs async p50 ${spin.async.map((v) => v.toFixed(1)).join(', ')} µs; sync p50 ${spin.sync.map((v) => v.toFixed(1)).join(', ')} µs; one-way sec→pri ${rows.oneWayUp.map(rate).join(', ')}, coalesced ${coal.up.map(rate).join(', ')}`);

  await dfltGroup.close();
  await spinGroup.close();
  await coalGroup.close();
  await socketGroup.close();
  sock.destroy();
  ref.kill();
  netChild.stdin!.end();
  // Our secondary leaves before we do, so this primary's exit ends the group and removes its files.
  await endChild(sec);
  rmSync(sockPath, { force: true });
  rmSync(cDir, { recursive: true, force: true });
  ipc.stop();
}

await main();
process.exit(0);
