// @mp/ring blocking waits across processes (`pnpm --filter @mp/ring bench`), the figures the ring tests
// used to assert (issue 16 item 7):
//   wake latency — a consumer asleep in the ring's blocking dequeue (sync: dequeueBurst with timeoutMs;
//     async: dequeueBurstAsync), woken by an enqueue from another process: p50/p99 µs from a stamp taken
//     right before the enqueue to the consumer's return. Beside, in the same run and the same way: a
//     process asleep in a plain read on a pipe (sync: read(2); async: the event loop), and one asleep in
//     @mp/memory's futexWait/futexWaitAsync on a shared word (the ring's own sleep, without the ring).
//   local wake latency — an async waiter woken from its own process (a timer callback enqueues), beside a
//     bare futexWaitAsync woken by futexWake in the same process and a plain promise, in the same run.
//   idle CPU share — consumers blocked on empty rings for IDLE_MS, CPU time from /proc/<pid>/stat,
//     beside a process asleep in a read on a pipe over the same window.
// Consumer on core 1, producer on core 0. Medians over ROUNDS interleaved rounds. Benches never assert.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cpuShare, percentiles, pinningNote, rounds, runPeer, spawnPeer, startBench } from '@mp/bench-utils';
import type { Peer } from '@mp/bench-utils';
import { eal, init, memzone } from '@mp/eal';
import { futexWaitAsync, futexWake } from '@mp/memory';
import { Ring } from '@mp/ring'; // the built package, as the peers load it

const ROUNDS = Number(process.env.WAKE_BENCH_ROUNDS ?? 3);
const K = Number(process.env.WAKE_BENCH_K ?? 100);
const IDLE_MS = Number(process.env.WAKE_BENCH_IDLE_MS ?? 5000);
const PEER = join(import.meta.dirname, 'wake-peer.mjs');
const VARIANTS = ['ring-sync', 'pipe-sync', 'futex-sync', 'ring-async', 'pipe-async', 'futex-async'] as const;

const bench = startBench({
  package: '@mp/ring',
  what: 'blocking dequeue: wake latency across processes, idle CPU share of a blocked consumer',
  memory: '/dev/shm, 4 KiB pages (--no-huge)',
  pinning: pinningNote('consumer core 1, producer core 0'),
  params: `${ROUNDS} interleaved rounds; ${K} wake-ups per variant and round; idle window ${IDLE_MS} ms`,
});
const prefix = `rwake${process.pid}`;
init([`--file-prefix=${prefix}`, '--proc-type=primary', '--no-huge', '-m', '64']);
const ctl = new Int32Array(memzone.reserve('wake_ctl', 64).buffer);
Ring.create('wake', 64, { elemSize: 8, producer: 'single', consumer: 'single' });
Ring.create('wake_local', 64, { elemSize: 8, producer: 'single', consumer: 'single' });
const IDLE_RINGS = [
  ['idle_sp', 'ring-sync', 'SP/SC'],
  ['idle_mp', 'ring-sync', 'MP/MC'],
  ['idle_spa', 'ring-async', 'SP/SC'],
  ['idle_mpa', 'ring-async', 'MP/MC'],
] as const;
for (const [name, , mode] of IDLE_RINGS) Ring.create(name, 64, { elemSize: 8, ...(mode === 'SP/SC' ? { producer: 'single', consumer: 'single' } : {}) });
const dir = mkdtempSync(join(tmpdir(), 'mp-ring-wake-'));
const fifo = join(dir, 'fifo');
execFileSync('mkfifo', [fifo]);

/** One run of `variant`: K wake-ups; records its p50 and p99 (µs). */
async function wake(variant: string, record: (k: string, v: number) => void): Promise<void> {
  ctl.fill(0);
  const cons = spawnPeer([process.execPath, PEER, 'cons', prefix, variant, String(K), fifo], { cpu: 1 });
  try {
    await cons.waitFor('ready');
    const prod = await runPeer([process.execPath, PEER, 'prod', prefix, variant, String(K), fifo], { cpu: 0, stderr: 'inherit' });
    if (prod.code !== 0) throw new Error(`${variant} producer exited ${prod.code}`);
    const { lat } = JSON.parse(await cons.next()) as { lat: number[] };
    const [p50, p99] = percentiles(lat, [0.5, 0.99]);
    record(`${variant} p50`, p50!);
    record(`${variant} p99`, p99!);
  } finally {
    await cons.end();
  }
}

/** Consumers asleep on a ring (a sleeper SIGKILLed by an earlier round is taken back by the next one to sleep there). */
const sleepers = (name: string): number => Number(/sleeping consumers=(\d+)/.exec(Ring.lookup(name).dump())![1]);

/** Consumers blocked on the idle rings and on the pipe; records each one's CPU share (%) over IDLE_MS. */
async function idle(record: (k: string, v: number) => void): Promise<void> {
  const peers: Array<[string, Peer]> = [
    ...IDLE_RINGS.map(([name, variant, mode]) => [`${variant} ${mode}`, spawnPeer([process.execPath, PEER, 'idle', prefix, variant, name, fifo], { cpu: 1 })] as [string, Peer]),
    ['pipe-sync', spawnPeer([process.execPath, PEER, 'idle', prefix, 'pipe-sync', '-', fifo], { cpu: 1 })],
    ['pipe-async', spawnPeer([process.execPath, PEER, 'idle', prefix, 'pipe-async', '-', fifo], { cpu: 1 })],
  ];
  try {
    for (const [, p] of peers) await p.waitFor('ready');
    // Every ring consumer registered asleep, and past its start-up.
    for (const [name] of IDLE_RINGS) {
      while (sleepers(name) !== 1) await new Promise((res) => setTimeout(res, 5));
    }
    await new Promise((res) => setTimeout(res, 500));
    const shares = await cpuShare(peers.map(([, p]) => p.child.pid!), IDLE_MS);
    peers.forEach(([key], i) => record(`idle ${key}`, shares[i]! * 100));
  } finally {
    await Promise.all(peers.map(([, p]) => p.end({ signal: 'SIGKILL' })));
  }
}

/**
 * Waiter and waker in this process: an async waiter asleep on a ring (dequeueBurstAsync), woken by an
 * enqueue from a timer callback of the same event loop; beside, the same through a bare futexWaitAsync
 * woken by futexWake (the libuv pool round trip the ring made before it ended local waits directly) and
 * a plain promise resolved from the timer (the floor). K wake-ups each; p50 / p99 µs, enqueue → resumed.
 */
async function local(record: (k: string, v: number) => void): Promise<void> {
  const r = Ring.lookup('wake_local');
  const word = new Int32Array(memzone.lookup('wake_ctl').buffer, 32, 1);
  const now = (): number => performance.now();
  const tick = (): Promise<void> => new Promise((res) => setTimeout(res, 1));
  const runs: Record<string, () => Promise<number[]>> = {
    'local ring': async () => {
      const lat: number[] = [];
      const dst = new Float64Array(1);
      for (let i = 0; i < K; i++) {
        const got = r.dequeueBurstAsync(dst, 1, { timeoutMs: 5000 });
        await tick();
        const t = now();
        r.enqueueBulk(new Float64Array([t]), 1);
        await got;
        lat.push((now() - t) * 1000);
      }
      return lat;
    },
    'local futex': async () => {
      const lat: number[] = [];
      for (let i = 0; i < K; i++) {
        Atomics.store(word, 0, 0);
        const got = futexWaitAsync(word, 0, 0, 5000);
        await tick();
        const t = now();
        Atomics.store(word, 0, 1);
        futexWake(word, 0);
        await got;
        lat.push((now() - t) * 1000);
      }
      return lat;
    },
    'local promise': async () => {
      const lat: number[] = [];
      for (let i = 0; i < K; i++) {
        let done!: () => void;
        const got = new Promise<void>((res) => (done = res));
        await tick();
        const t = now();
        done();
        await got;
        lat.push((now() - t) * 1000);
      }
      return lat;
    },
  };
  for (const [key, run] of Object.entries(runs)) {
    const [p50, p99] = percentiles(await run(), [0.5, 0.99]);
    record(`${key} p50`, p50!);
    record(`${key} p99`, p99!);
  }
}

try {
  const s = await rounds({ rounds: ROUNDS }, [
    ...VARIANTS.map((v) => [v, (record: (k: string, v: number) => void) => wake(v, record)] as const),
    ['local', (record: (k: string, v: number) => void) => local(record)],
    ['idle', (record: (k: string, v: number) => void) => idle(record)],
  ]);
  const pair = (v: string): [number, number] => [s.median(`${v} p50`), s.median(`${v} p99`)];
  const PIPE = 'pipe, same wait style';
  const FUTEX = 'futex on a shared word (@mp/memory)';
  bench.table(
    { title: `wake latency of a consumer asleep in another process, p50 / p99 (medians over ${ROUNDS} rounds of ${K} wake-ups)`, ours: '@mp/ring', unit: 'µs', refs: [PIPE, FUTEX], digits: 1 },
    [
      { op: 'sync: dequeueBurst(dst, 1, { timeoutMs }) — pipe: read(2)', ours: pair('ring-sync'), refs: { [PIPE]: pair('pipe-sync'), [FUTEX]: pair('futex-sync') } },
      { op: 'async: dequeueBurstAsync — pipe: the event loop', ours: pair('ring-async'), refs: { [PIPE]: pair('pipe-async'), [FUTEX]: pair('futex-async') } },
    ],
  );
  const POOL = 'futexWaitAsync + futexWake (the libuv pool)';
  const PROMISE = 'a promise resolved from the timer';
  bench.table(
    { title: `wake latency of an async waiter woken from its own process, p50 / p99 (medians over ${ROUNDS} rounds of ${K} wake-ups)`, ours: '@mp/ring', unit: 'µs', refs: [POOL, PROMISE], digits: 1 },
    [{ op: 'dequeueBurstAsync woken by an enqueue from a timer callback', ours: pair('local ring'), refs: { [POOL]: pair('local futex'), [PROMISE]: pair('local promise') } }],
  );
  const IDLE_REF = 'process asleep on a pipe, same wait style';
  bench.table(
    { title: `CPU share of a consumer blocked on an empty ring for ${IDLE_MS} ms (/proc/<pid>/stat, one tick = ${(1000 / IDLE_MS).toFixed(2)} %; median of ${ROUNDS})`, ours: '@mp/ring', unit: '% of a CPU', refs: [IDLE_REF], digits: 2, rounds: true },
    IDLE_RINGS.map(([, variant, mode]) => ({
      op: `${variant === 'ring-sync' ? 'sync dequeueBurst' : 'async dequeueBurstAsync'}, ${mode} ring`,
      ours: s.median(`idle ${variant} ${mode}`),
      refs: { [IDLE_REF]: s.median(`idle pipe-${variant === 'ring-sync' ? 'sync' : 'async'}`) },
      samples: s.all(`idle ${variant} ${mode}`),
    })),
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
  eal().cleanup();
  bench.end();
}
