/**
 * @mp/ipc benchmark: request/reply round trips (async `request`, `requestSync`) and one-way `sendMsg`
 * rate between a primary and a secondary, beside references measured in the same run (child_process
 * `process.send`, a `net` unix stream ping-pong, a C ping-pong over the same kind of sockets with both
 * sides sleeping — bench/c/pingpong.c, built with gcc here) and DPDK's rte_mp figures from
 * ../shared/bench/ANCHORS.md.
 * Medians of RUNS runs. Never asserts time.
 */
import { execFileSync, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { median, percentile, rounds, spawnPeer, startBench } from '@mp/bench-utils';
import type { Peer, Row } from '@mp/bench-utils';
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

const enc = (o: unknown): Uint8Array => new Uint8Array(Buffer.from(JSON.stringify(o)));
const dec = <T>(u: Uint8Array): T => JSON.parse(Buffer.from(u).toString()) as T;

/** A bench child (child.mjs) of group `prefix`, started and ready. */
async function benchChild(prefix: string, procType?: string, opts?: object): Promise<Peer> {
  const c = spawnPeer([process.execPath, join(here, 'child.mjs'), prefix, ...(procType === undefined ? [] : [procType, JSON.stringify(opts)])]);
  if ((await c.next()) !== 'ready') throw new Error(`bench ${procType ?? 'secondary'} did not start`);
  return c;
}

/** A group of two bench children started with `opts`; commands go to its secondary. */
async function modeGroup(opts: object): Promise<{ cmd<T>(c: object): Promise<T>; close(): Promise<void> }> {
  const prefix = `benchm${process.pid}_${randomBytes(3).toString('hex')}`;
  const pri = await benchChild(prefix, 'primary', opts);
  const sec = await benchChild(prefix, 'secondary', opts);
  return {
    async cmd<T>(c: object): Promise<T> {
      sec.child.stdin!.write(`${JSON.stringify(c)}\n`);
      return JSON.parse(await sec.next()) as T;
    },
    // The secondary leaves first (its stdin closed), then the primary, which then ends the group (its runtime dir goes too).
    async close() {
      await sec.end({ ms: 60_000 });
      await pri.end({ ms: 60_000 });
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
  let qlen = '?';
  try {
    qlen = readFileSync('/proc/sys/net/unix/max_dgram_qlen', 'utf8').trim();
  } catch {
    // not Linux, or no procfs
  }
  const bench = startBench({
    package: '@mp/ipc',
    what: 'request/reply round trips and one-way rates between a primary and a secondary',
    memory: '/dev/shm, 4 KiB pages (--no-huge)',
    pinning: 'none',
    params: `${N} round trips, ${FLOOD} one-way messages, median of ${RUNS} interleaved runs; net.unix.max_dgram_qlen = ${qlen}`,
  });
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
  const sec = await benchChild(prefix);
  const to = sec.child.pid!;

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
  const floor = { p50: [] as number[], p99: [] as number[], cpu: [] as number[] };
  const floorAwait = { p50: [] as number[], p99: [] as number[], cpu: [] as number[] };
  const param = new Uint8Array(16);

  const ref = fork(join(here, 'ref-child.mjs'), [], { stdio: ['pipe', 'pipe', 'inherit', 'ipc'] });
  await once(ref, 'spawn');
  const sockPath = join(tmpdir(), `mp-bench-${process.pid}.sock`);
  rmSync(sockPath, { force: true });
  const netChild = spawnPeer([process.execPath, join(here, 'ref-child.mjs'), 'net', sockPath]);
  await netChild.waitFor('ready');
  const sock = connect(sockPath);
  sock.setNoDelay(true);
  await once(sock, 'connect');

  await rounds({ rounds: RUNS }, [
    // @mp/ipc, secondary → primary (measured in the secondary).
    ['sec→pri latency', async () => {
      for (const mode of ['async', 'sync'] as const) {
        const r = await ipc.request({ name: 'latency', param: enc({ n: N, mode }) }, { to, timeoutMs: 120_000 });
        const v = dec<{ p50: number; p99: number; cpu: number; peerCpu: number }>(r.msgs[0]!.param);
        if (mode === 'async') rows.asyncCpu.push(v.cpu + v.peerCpu);
        rows[mode].push(v.p50);
        rows[mode === 'async' ? 'asyncP99' : 'syncP99'].push(v.p99);
      }
    }],
    // @mp/ipc, primary → secondary async request.
    ['pri→sec request', async () => {
      const t = new Float64Array(N);
      for (let i = 0; i < N; i++) {
        const t0 = performance.now();
        await ipc.request({ name: 'echo', param }, { to, timeoutMs: 5000 });
        t[i] = performance.now() - t0;
      }
      rows.pToS.push(percentile(t, 0.5) * 1000);
      rows.pToSP99.push(percentile(t, 0.99) * 1000);
    }],
    // One-way: secondary floods the primary.
    ['one-way up', async () => {
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
    }],
    // One-way: primary → secondary, then ask how many arrived (all: sends wait for room, never drop).
    ['one-way down', async () => {
      const base = dec<number>((await ipc.request({ name: 'sunk' }, { to })).msgs[0]!.param);
      const t0 = performance.now();
      for (let i = 0; i < FLOOD; i++) ipc.sendMsg({ name: 'sink', param }, { to });
      const got = dec<number>((await ipc.request({ name: 'sunk' }, { to, timeoutMs: 60_000 })).msgs[0]!.param) - base;
      if (got !== FLOOD) console.error(`one-way: ${got} of ${FLOOD} arrived`);
      rows.oneWayDown.push(FLOOD / ((performance.now() - t0) / 1000));
    }],
    // Poll mode (busyPollUs on both sides), secondary → primary.
    ['busyPollUs latency', async () => {
      for (const mode of ['async', 'sync'] as const) {
        const v = await spinGroup.cmd<{ p50: number; p99: number; cpu: number; peerCpu: number }>({ cmd: 'latency', n: N, mode });
        if (mode === 'async') spin.asyncCpu.push(v.cpu + v.peerCpu);
        spin[mode].push(v.p50);
        spin[mode === 'async' ? 'asyncP99' : 'syncP99'].push(v.p99);
      }
    }],
    // Coalesced one-way messages, both ways.
    ['coalesce one-way', async () => {
      for (const dir of ['up', 'down'] as const) {
        const v = await coalGroup.cmd<{ rate: number; got: number }>({ cmd: dir, n: FLOOD });
        if (v.got !== FLOOD) console.error(`coalesced one-way ${dir}: ${v.got} of ${FLOOD} arrived`);
        coal[dir].push(v.rate);
      }
    }],
    // Default mode between two bench children (the same setup as the C and sockets-only references).
    ['default mode, children', async () => {
      for (const mode of ['async', 'sync'] as const) {
        const v = await dfltGroup.cmd<{ p50: number; p99: number; cpu: number; peerCpu: number }>({ cmd: 'latency', n: N, mode });
        dflt[mode].push(v.p50);
        if (mode === 'async') {
          dflt.asyncP99.push(v.p99);
          dflt.asyncCpu.push(v.cpu + v.peerCpu);
        }
      }
    }],
    // Reference: the same group with inboxes off (sockets only, as before inboxes).
    ['sockets only', async () => {
      for (const mode of ['async', 'sync'] as const) {
        sockets[mode].push((await socketGroup.cmd<{ p50: number }>({ cmd: 'latency', n: N, mode })).p50);
      }
      {
        const v = await socketGroup.cmd<{ rate: number; got: number }>({ cmd: 'up', n: FLOOD });
        if (v.got !== FLOOD) console.error(`sockets-only one-way: ${v.got} of ${FLOOD} arrived`);
        sockets.up.push(v.rate);
      }
    }],
    // Reference: child_process IPC round trip and one-way.
    ['child_process', async () => {
      const t = new Float64Array(N);
      for (let i = 0; i < N; i++) {
        const t0 = performance.now();
        ref.send({ i, p: 'x'.repeat(16) });
        await once(ref, 'message');
        t[i] = performance.now() - t0;
      }
      cp.p50.push(percentile(t, 0.5) * 1000);
      cp.p99.push(percentile(t, 0.99) * 1000);
      const t0 = performance.now();
      for (let i = 0; i < FLOOD; i++) ref.send('one-way');
      ref.send('count?');
      for (;;) {
        const [m] = (await once(ref, 'message')) as [unknown];
        if (typeof m === 'number') break;
      }
      cp.rate.push(FLOOD / ((performance.now() - t0) / 1000));
    }],
    // Reference: C ping-pong over unix datagram sockets, both sides sleeping (issue 18's goal: request (async) p50 ≤ 1.2× this).
    ['C ping-pong', async () => {
      if (cBin !== undefined) {
        const v = runCPingPong(cBin, cDir, N);
        cpp.p50.push(v.p50);
        cpp.p99.push(v.p99);
      }
    }],
    // Reference: the Node floor — the same addon ping-pong with no channel logic (bench/floor-child.mjs).
    ['Node floor', async () => {
      const v = JSON.parse(execFileSync(process.execPath, [join(here, 'floor-child.mjs'), cDir, String(N)], { encoding: 'utf8' })) as { p50: number; p99: number; cpu: number };
      floor.p50.push(v.p50);
      floor.p99.push(v.p99);
      floor.cpu.push(v.cpu);
    }],
    // Reference: the Node floor with the reply handed over through a promise the loop awaits (as request() does).
    ['Node floor, awaited', async () => {
      const v = JSON.parse(execFileSync(process.execPath, [join(here, 'floor-child.mjs'), cDir, String(N), 'await'], { encoding: 'utf8' })) as { p50: number; p99: number; cpu: number };
      floorAwait.p50.push(v.p50);
      floorAwait.p99.push(v.p99);
      floorAwait.cpu.push(v.cpu);
    }],
    // Reference: net unix stream ping-pong.
    ['net stream', async () => {
      const t = new Float64Array(N);
      for (let i = 0; i < N; i++) {
        const t0 = performance.now();
        sock.write('ping-0123456789\n');
        await once(sock, 'data');
        t[i] = performance.now() - t0;
      }
      net.p50.push(percentile(t, 0.5) * 1000);
      net.p99.push(percentile(t, 0.99) * 1000);
    }],
  ]);

  const m = median;
  const pair = (p50: number[], p99: number[]): number[] => [m(p50), m(p99)];
  const us = (v: number): string => `${v.toFixed(1)} µs`;
  const k = (v: number): number => v / 1000;
  const C = 'C ping-pong';
  const CP = 'child_process';
  const RS = 'DPDK rte_mp_request_sync p50';
  const SM = 'DPDK rte_mp_sendmsg';
  const NODE = 'Node peers';
  const cRef = cpp.p50.length > 0 ? pair(cpp.p50, cpp.p99) : undefined;
  const cpRef = pair(cp.p50, cp.p99);
  const FL = 'Node floor';
  const flRef = pair(floor.p50, floor.p99);
  bench.table({ title: `@mp/ipc round trips, p50 / p99 (${N} per run, median of ${RUNS} runs)`, ours: '@mp/ipc', unit: 'µs', refs: [C, FL, CP], anchors: [RS, NODE], digits: 1 }, [
    { op: 'request (async), default mode, sec→pri, both ends bench children', ours: pair(dflt.async, dflt.asyncP99), refs: { [C]: cRef, [FL]: flRef, [CP]: cpRef }, note: `goals ≤ 1.2× C (issue 18), ≤ 1.1× the Node floor; requestSync ${us(m(dflt.sync))}; CPU ${us(m(dflt.asyncCpu))} per round trip (both processes; the floor's ${us(m(floor.cpu))})` },
    { op: 'request (async), sec→pri (primary: this bench process)', ours: pair(rows.async, rows.asyncP99), refs: { [C]: cRef, [FL]: flRef, [CP]: cpRef }, anchors: { [RS]: DPDK.requestSyncP50 }, note: `goals ≤ 1.2× C, ≤ 1.0× child_process, ≤ 0.35× DPDK; CPU ${us(m(rows.asyncCpu))} per round trip (both processes)` },
    { op: 'requestSync, sec→pri', ours: pair(rows.sync, rows.syncP99), anchors: { [RS]: DPDK.requestSyncP50 }, note: 'goal ≤ 0.15× DPDK' },
    { op: 'request (async), pri→sec', ours: pair(rows.pToS, rows.pToSP99), refs: { [CP]: cpRef } },
    { op: `opt-in busyPollUs ${BUSY_POLL_US}: request (async), sec→pri`, ours: pair(spin.async, spin.asyncP99), refs: { [CP]: cpRef }, anchors: { [RS]: DPDK.requestSyncP50 }, note: `CPU ${us(m(spin.asyncCpu))} per round trip (both processes)` },
    { op: `opt-in busyPollUs ${BUSY_POLL_US}: requestSync, sec→pri`, ours: pair(spin.sync, spin.syncP99), anchors: { [RS]: DPDK.requestSyncP50 } },
    { op: 'ref: inboxes off (`inbox: false`, sockets only): request (async), p50 only', ours: m(sockets.async), refs: { [C]: cRef }, note: 'the transport before inboxes; every message in its datagram (the bound of sending messages inline)' },
    { op: 'ref: inboxes off: requestSync, p50 only', ours: m(sockets.sync) },
    { op: 'ref: C ping-pong, unix datagram sockets (332 B, SO_PASSCRED), both sides sleeping in epoll', ours: cRef ?? 'n/a (no gcc)', note: 'bench/c/pingpong.c, built with gcc in this run' },
    { op: 'ref: Node floor — the @mp/ipc addon ping-pong without channel logic (uv_poll → one JS callback → sendmsg), both sides sleeping', ours: flRef, refs: { [C]: cRef }, note: `what event-loop wake-ups cost beyond C; the rest of request (async) is channel work in JS; CPU ${us(m(floor.cpu))} per round trip (both processes)` },
    { op: 'ref: Node floor, the reply awaited through a promise settled in the callback (request()\'s hand-over, nothing else)', ours: pair(floorAwait.p50, floorAwait.p99), refs: { [C]: cRef, [FL]: flRef }, note: `CPU ${us(m(floorAwait.cpu))} per round trip (both processes)` },
    { op: 'ref: child_process process.send round trip', ours: cpRef, anchors: { [NODE]: [28.5, 132] } },
    { op: 'ref: net unix stream ping-pong', ours: pair(net.p50, net.p99), anchors: { [NODE]: 31.7 } },
  ]);
  bench.table({ title: `@mp/ipc one-way messages (${FLOOD} per run, median of ${RUNS} runs)`, ours: '@mp/ipc', unit: 'k msg/s', refs: [CP], anchors: [SM, NODE], digits: 0 }, [
    { op: 'sendMsg one-way, sec→pri', ours: k(m(rows.oneWayUp)), refs: { [CP]: k(m(cp.rate)) }, anchors: { [SM]: k(DPDK.sendmsgPerSec) }, note: 'goal ≥ 5× DPDK' },
    { op: 'sendMsg one-way, pri→sec', ours: k(m(rows.oneWayDown)), anchors: { [SM]: k(DPDK.sendmsgPerSec) } },
    { op: 'opt-in coalesce: sendMsg one-way, sec→pri', ours: k(m(coal.up)), refs: { [CP]: k(m(cp.rate)) }, anchors: { [SM]: k(DPDK.sendmsgPerSec) } },
    { op: 'opt-in coalesce: sendMsg one-way, pri→sec', ours: k(m(coal.down)), anchors: { [SM]: k(DPDK.sendmsgPerSec) } },
    { op: 'ref: inboxes off (`inbox: false`, sockets only), sec→pri', ours: k(m(sockets.up)) },
    { op: 'ref: child_process one-way', ours: k(m(cp.rate)), anchors: { [NODE]: 68 } },
  ]);
  bench.note('ANCHORS.md, DPDK rte_mp (C, same machine class): request_sync p50 ≈ 80 µs, p99 0.4–1.6 ms; request_async callback 350–600 µs; sendmsg ≈ 70k msg/s');
  const per = (xs: number[]): string => xs.map((v) => v.toFixed(1)).join(', ');
  const rate = (v: number): string => `${(v / 1000).toFixed(0)}k msg/s`;
  bench.note(`per run: async p50 ${per(rows.async)} µs; sync p50 ${per(rows.sync)} µs; child_process p50 ${per(cp.p50)} µs`);
  bench.note(`per run: C ping-pong p50 ${per(cpp.p50)} µs; Node floor p50 ${per(floor.p50)} µs; sockets-only async p50 ${per(sockets.async)} µs`);
  bench.note(`per run: busyPollUs async p50 ${per(spin.async)} µs; sync p50 ${per(spin.sync)} µs; one-way sec→pri ${rows.oneWayUp.map(rate).join(', ')}, coalesced ${coal.up.map(rate).join(', ')}`);
  bench.note(`per run: default mode (children) async p50 ${per(dflt.async)} µs, CPU ${per(dflt.asyncCpu)} µs; Node floor CPU ${per(floor.cpu)} µs per round trip (both processes); awaited floor p50 ${per(floorAwait.p50)} µs`);

  await dfltGroup.close();
  await spinGroup.close();
  await coalGroup.close();
  await socketGroup.close();
  sock.destroy();
  ref.kill();
  await netChild.end();
  // Our secondary leaves before we do, so this primary's exit ends the group and removes its files.
  await sec.end({ ms: 60_000 });
  rmSync(sockPath, { force: true });
  rmSync(cDir, { recursive: true, force: true });
  ipc.stop();
  bench.end();
}

await main();
process.exit(0);
