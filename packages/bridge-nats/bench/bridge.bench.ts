// @mp/bridge-nats benchmark (`pnpm --filter @mp/bridge-nats bench`, root). Two network namespaces A and B
// joined by a veth, a nats-server in each (clustered, streams R2: every write crosses the veth). Measures
//   bridge: ring (A) → ringToStream → JetStream → streamToRing → ring (B), 16-byte elements, batch 256, in
//           two arrangements: in process (ringToStream runs in the producer's process, streamToRing in the
//           consumer's: 2 Node processes wake per message) and separate (each bridge a process of its own
//           in the group: 4 processes)
//   raw:    @nats-io/jetstream publish (A) + durable pull consume() (B) of the same payloads, created the
//           way streamToRing creates its consumer; for latency also with the headers the bridge adds, and
//           with the expected last sequence alone (the header that makes the leader check order)
// Throughput: BENCH_N elements flat out (a saturating run), median of BENCH_REPS rounds; raw with 1 and
// with 64 acks in flight. Latency: a paced run, not a saturating one (a saturated pipeline measures its
// queues, not its hops) — bursts of 16 elements (one message) at BENCH_LAT_RATE messages/s, open loop
// for bridge and raw alike (a burst is due at its time whatever the previous one did); p50/p99 from the
// send time stamped in each element to its arrival in B's consumer (one clock: same host).
// BENCH_HOPS=1: also per-hop stamps of every message (src/trace.ts) and the server's store time, p50 per
// hop for each arrangement and raw in the same rounds, and the stream / consumer leaders of each run.
// Every paced run also reports the CPU time per message of its processes on A and on B (what each row
// takes from the two cores the servers share). BENCH_LAT_ROWS picks the latency rows (see LAT_ROWS).
// Prints absolutes and ratios to raw; benches never assert.
import { fileURLToPath } from 'node:url';
import { loadavg } from 'node:os';
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { findGroups, removeDeadGroup } from '@mp/eal';
import { Samples, median, rounds, startBench } from '@mp/bench-utils';
import { createNetns } from '@mp/test-utils/netns';
import type { Netns } from '@mp/test-utils/netns';
import { spawnAgent } from '@mp/test-utils/host';
import type { Agent } from '@mp/test-utils/host';
import { stopAll } from '../test/nats-servers.js';
import { twoHosts } from '../test/hosts.js';

const AGENT = fileURLToPath(new URL('./bench-agent.mjs', import.meta.url));
const N = Number(process.env.BENCH_N ?? 200_000);
const REPS = Number(process.env.BENCH_REPS ?? 3);
/** Latency runs: messages (bursts of 16 elements) per run, and their rate (messages/s). */
const LAT_MSGS = Number(process.env.BENCH_LAT_MSGS ?? 3000);
const LAT_RATE = Number(process.env.BENCH_LAT_RATE ?? 1000);
const HOPS = process.env.BENCH_HOPS === '1';
/** Which parts run: `thr` (throughput), `lat` (latency); default both. */
const PARTS = new Set((process.env.BENCH_PARTS ?? 'thr,lat').split(','));
const BATCH = 256;
const BURST = 16;
/** The bridges' window (messages in flight A → stream, unacked stream → B); default theirs (64, raw's consumer alike). */
const WINDOW = process.env.BENCH_WINDOW === undefined ? undefined : Number(process.env.BENCH_WINDOW);
const win = WINDOW === undefined ? {} : { window: WINDOW };
/**
 * BENCH_PROF: CPU time of every process of every saturating run, printed per element (agents: their
 * process.cpuUsage(); nats-servers: /proc/<pid>/stat). BENCH_PROF=<dir> (an absolute path) also writes a
 * CPU profile of each agent, `<dir>/<run>-<what>-<process>.cpuprofile`; any other value (`cpu`) only times.
 */
const PROF = process.env.BENCH_PROF;
/** A process's user + system CPU time in µs, from /proc (clock ticks of 10 ms). */
function procCpuUs(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const w = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return (Number(w[11]) + Number(w[12])) * 10_000;
}
/** Start timing `who` (name → agent) and the servers; the stop returns CPU µs by name, `servers` included. */
async function profile(who: Record<string, Agent>, servers: number[], tag: string, paced: boolean): Promise<() => Promise<Record<string, number> | undefined>> {
  if (PROF === undefined || paced) return async () => undefined;
  const list = Object.entries(who).filter(([, a], i, all) => all.findIndex(([, b]) => b === a) === i);
  const sample = PROF.startsWith('/');
  for (const [, a] of list) await a.call('profStart', { sample });
  const s0 = servers.map(procCpuUs);
  return async () => {
    const cpu: Record<string, number> = { servers: servers.reduce((t, pid, i) => t + procCpuUs(pid) - s0[i]!, 0) };
    for (const [n, a] of list) cpu[n] = await a.call<number>('profStop', { file: `${PROF}/${tag}-${n}.cpuprofile` });
    return cpu;
  };
}
/** "A 3.1, B 4.2, servers 6.0, total 13.3 µs CPU per element". */
const cpuNote = (cpu: Record<string, number>, n: number): string => {
  const e = Object.entries(cpu).map(([k, v]) => [k, v / n] as const);
  return `${e.map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', ')}, total ${e.reduce((t, [, v]) => t + v, 0).toFixed(2)} µs CPU per element`;
};

type Arrangement = 'inproc' | 'separate' | 'rawB';
/** Rows of the latency part: bridge arrangements, then raw references. */
type LatRow = Arrangement | 'inprocSpin' | 'raw' | 'rawH' | 'rawE';
const ARR: Record<LatRow, string> = {
  inproc: 'bridge in the producer\'s / consumer\'s process (2 processes)',
  separate: 'bridge processes of their own (4 processes)',
  inprocSpin: 'bridge in process, idleSpinUs 200 (the former default: 200 µs of polling before the ring wait)',
  rawB: 'ringToStream in the producer\'s process, raw consumer on B',
  raw: 'raw publish → consume',
  rawH: 'raw with the headers the bridge adds',
  rawE: 'raw with the expected last sequence alone',
};
const SHORT: Record<LatRow, string> = { inproc: 'in process', separate: 'separate', inprocSpin: 'in process spin 200 µs', rawB: 'ringToStream → raw consumer', raw: 'raw', rawH: 'raw + bridge headers', rawE: 'raw + expectation' };
const RAWS: LatRow[] = ['raw', 'rawH', 'rawE'];
/**
 * BENCH_LAT_ROWS: the latency rows (default in process, separate, raw, raw + the bridge's headers, raw +
 * the expectation alone); more: `inprocSpin` (in process, idleSpinUs 200), `rawB` (ringToStream, raw consumer
 * on B: isolates B's side; BENCH_MIX=1 adds it too).
 */
const LAT_ROWS = (process.env.BENCH_LAT_ROWS ?? `inproc,separate${process.env.BENCH_MIX === '1' ? ',rawB' : ''},raw,rawH,rawE`).split(',') as LatRow[];
/** BENCH_SPIN_US: ringToStream's idleSpinUs in the bridge rows (default the bridge's). */
const spin = process.env.BENCH_SPIN_US === undefined ? {} : { idleSpinUs: Number(process.env.BENCH_SPIN_US) };

interface Res {
  got: number;
  dups: number;
  rate: number;
  p50Us: number;
  p99Us: number;
  /** keep: per element seq, send and arrival times (ms). */
  sent?: Array<number | null>;
  arrive?: Array<number | null>;
  /** raw keep: per message [seq of its first element, server store time]. */
  stored?: Array<[number, number]>;
  /** Filled in by the bench: achieved message rate of a paced run, hops (ms, p50). */
  msgRate?: number;
  hops?: Record<string, number>;
  leaders?: string;
  /** CPU µs per message (user + system) of the run's processes on A and on B, paced runs. */
  cpuA?: number;
  cpuB?: number;
  /** BENCH_PROF: CPU µs of each process over the run. */
  cpu?: Record<string, number>;
  /** ringToStream's messages (its stats()): elements per message = got / this. */
  msgsA?: number;
}

/** The JetStream part of a message's way (client publish → client delivery), and what the bridge adds around it. */
const SERVER = 'JetStream: published → delivered (raw: send → consumer)';
const OWN = 'the bridge\'s own hops: A\'s wake + publish, B\'s enqueue + consumer wake';

/** A's hop: element stamped and enqueued → ringToStream's publish call returned (raw: stamped → its publish call returned). */
const HOP_A = 'element enqueued on A → published by ringToStream (raw: its publish call)';

type Trace = Record<'publish' | 'ack' | 'deliver' | 'enqueue', Array<[number, number, number?]>>;

const p50 = (xs: number[]): number => median(xs);
const la = (): string => loadavg()[0]!.toFixed(1);

/** Per-hop p50 (ms) of a traced bridge run: keyed by each message's first element. */
function bridgeHops(r: Res, a: Trace, b: Trace): Record<string, number> {
  const first = <T>(xs: Array<[number, ...T[]]>): Map<number, T[]> => {
    const m = new Map<number, T[]>();
    for (const [seq, ...rest] of xs) if (!m.has(seq)) m.set(seq, rest);
    return m;
  };
  const [pub, ack, del, enq] = [first<number>(a.publish as never), first<number>(a.ack as never), first<number>(b.deliver as never), first<number>(b.enqueue as never)];
  const h: Record<string, number[]> = {};
  const add = (k: string, v: number): void => void (h[k] ??= []).push(v);
  for (const [seq, [tp]] of pub) {
    const sent = r.sent?.[seq];
    const arr = r.arrive?.[seq];
    const d = del.get(seq);
    const e = enq.get(seq)?.[0];
    const k = ack.get(seq)?.[0];
    if (sent == null || arr == null || d === undefined || e === undefined || k === undefined) continue;
    const [td, stored] = d as [number, number];
    add(HOP_A, tp! - sent);
    add('published → stored by the stream leader', stored - tp!);
    add('stored → ack back at ringToStream', k - stored);
    add('stored → delivered (streamToRing / raw consumer)', td - stored);
    add('delivered → enqueued in B\'s ring', e - td);
    add('enqueued → B\'s consumer has it', arr - e);
    add('total (send → consumer)', arr - sent);
    add(SERVER, td - tp!);
    add(OWN, tp! - sent + (arr - td));
  }
  return Object.fromEntries(Object.entries(h).map(([k, v]) => [k, p50(v)]));
}

/** Per-hop p50 (ms) of a raw run. */
function rawHops(r: Res): Record<string, number> {
  const h: Record<string, number[]> = {};
  const add = (k: string, v: number): void => void (h[k] ??= []).push(v);
  for (const [seq, stored] of r.stored ?? []) {
    const sent = r.sent?.[seq];
    const arr = r.arrive?.[seq];
    if (sent == null || arr == null) continue;
    add('published → stored by the stream leader', stored - sent);
    add('stored → delivered (streamToRing / raw consumer)', arr - stored);
    add('total (send → consumer)', arr - sent);
    add(SERVER, arr - sent);
  }
  return Object.fromEntries(Object.entries(h).map(([k, v]) => [k, p50(v)]));
}

async function main(): Promise<void> {
  const bench = startBench({
    package: '@mp/bridge-nats',
    what: 'ring (A) → JetStream → ring (B) across two namespaces, beside raw JetStream publish + consume',
    memory: '/dev/shm, 4 KiB pages (--no-huge)',
    pinning: 'none',
    params: `N=${N}, median of ${REPS} interleaved rounds; 2 clustered servers, R2, batch ${BATCH}, 16-byte elements; latency: paced, ${LAT_MSGS} messages of ${BURST} elements at ${LAT_RATE}/s${HOPS ? '; per-hop stamps on' : ''}`,
  });
  if (process.getuid?.() !== 0) {
    bench.note('bridge-nats bench: needs root (network namespaces); skipped');
    return;
  }
  const made: Netns[] = [];
  const agents: Agent[] = [];
  const spawn = (ns: Netns): Agent => {
    const a = spawnAgent(AGENT, [], {}, { netns: ns.name });
    agents.push(a);
    return a;
  };
  const cleanup = async (): Promise<void> => {
    await Promise.all(agents.splice(0).map((a) => a.kill()));
    // The agents die by SIGKILL: their groups' files stay behind unless removed (every run's, once dead).
    for (const dir of findGroups()) {
      if (!basename(dir).startsWith(`nbb${process.pid}_`)) continue;
      try {
        removeDeadGroup(dir);
      } catch (err) {
        console.error(`bench: group ${dir} left in place: ${(err as Error).message}`);
      }
    }
    await stopAll();
    for (const ns of made.splice(0)) ns.del();
  };
  process.once('SIGINT', () => void cleanup().then(() => process.exit(130)));
  try {
    const hosts = await twoHosts((tag) => {
      const ns = createNetns(tag);
      made.push(ns);
      return ns;
    });
    {
      const probe = spawn(hosts.a);
      await probe.call('jsReady', { servers: hosts.urlsA, replicas: 2 }, 40_000);
      await probe.kill();
    }
    let run = 0;
    const prefix = (): string => `nbb${process.pid}_${run}`;

    /**
     * One bridge run: fresh groups, rings, stream; produce on A, consume on B — flat out, or paced (then
     * with the per-hop stamps when BENCH_HOPS=1). `inproc`: each bridge runs in the process that holds
     * its ring's producer (A) / consumer (B); else in a process of its own in the same group.
     */
    async function bridgeRun(count: number, arr: Arrangement, paced: boolean, extra: { idleSpinUs?: number } = {}): Promise<Res> {
      run++;
      const rawB = arr === 'rawB';
      const inproc = arr !== 'separate';
      const [a1, b1] = [spawn(hosts.a), spawn(hosts.b)];
      const [a2, b2] = inproc ? [a1, b1] : [spawn(hosts.a), spawn(hosts.b)];
      const mine = [...new Set([a1, a2, b1, b2])];
      const trace = HOPS && paced;
      await a1.call('init', { prefix: `${prefix()}a` });
      await a1.call('create', { name: 'src', count: 16384, opts: { elemSize: 16, consumer: 'single' } });
      await b1.call('init', { prefix: `${prefix()}b` });
      await b1.call('create', { name: 'dst', count: 16384, opts: { elemSize: 16, producer: 'single' } });
      if (!inproc) {
        await a2.call('init', { prefix: `${prefix()}a` });
        await b2.call('init', { prefix: `${prefix()}b` });
      }
      if (trace) for (const a of [a2, b2]) await a.call('traceOn');
      const stream = `BR${run}`;
      await a2.call('r2s', { name: 'src', servers: hosts.urlsA, stream, subject: `br.${run}`, batch: BATCH, create: true, replicas: 2, ...win, ...extra });
      let consumed: Promise<Res>;
      if (rawB) {
        // B is raw JetStream's consumer reading the bridge's stream (isolates the B side).
        await b1.call('rawConsume', { servers: hosts.urlsB, stream, durable: 'b', count, keep: trace, ...(WINDOW === undefined ? {} : { window: WINDOW }) });
        consumed = b1.call<Res>('rawConsumed', {}, 300_000);
      } else {
        await b2.call('s2r', { name: 'dst', servers: hosts.urlsB, stream, durable: 'b', ...win });
        consumed = b1.call<Res>('consume', { name: 'dst', count, keep: trace }, 300_000);
      }
      const [onA, onB] = [[...new Set([a1, a2])], [...new Set([b1, b2])]];
      const cpu0 = await cpuOf([...onA, ...onB]);
      const stopProf = await profile(inproc ? { A: a1, B: b1 } : { Aprod: a1, Abridge: a2, Bcons: b1, Bbridge: b2 }, hosts.servers.map((s) => s.pid), `${run}-${arr}`, paced);
      const prod = await a1.call<{ seq: number; ms: number }>('produce', paced ? { name: 'src', count, burst: BURST, rate: LAT_RATE } : { name: 'src', count, burst: 64 }, 300_000);
      const r = await consumed;
      r.cpu = await stopProf();
      if (paced) {
        r.msgRate = (count / BURST) * (1000 / prod.ms);
        const cpu1 = await cpuOf([...onA, ...onB]);
        const per = (from: number, to: number): number => (cpu1.slice(from, to).reduce((x, y) => x + y, 0) - cpu0.slice(from, to).reduce((x, y) => x + y, 0)) / (count / BURST);
        r.cpuA = per(0, onA.length);
        r.cpuB = per(onA.length, onA.length + onB.length);
      }
      if (trace) {
        const tb = rawB
          ? { publish: [], ack: [], deliver: (r.stored ?? []).map(([q, st]) => [q, r.arrive?.[q] ?? NaN, st]), enqueue: (r.stored ?? []).map(([q]) => [q, r.arrive?.[q] ?? NaN]) }
          : await b2.call<Trace>('traceTake');
        r.hops = bridgeHops(r, await a2.call<Trace>('traceTake'), tb as Trace);
        const l = await b1.call<{ stream: string; consumer: string }>('leaders', { servers: hosts.urlsB, stream, durable: 'b' });
        r.leaders = `stream ${l.stream}, consumer ${l.consumer}`;
      }
      delete r.sent;
      delete r.arrive;
      delete r.stored;
      r.msgsA = (await a2.call<{ messages: number } | null>('closeBridge'))?.messages;
      if (!rawB) await b2.call('closeBridge');
      await Promise.all(mine.map((a) => a.kill()));
      return r;
    }

    /** CPU µs (user + system) each agent has used so far. */
    async function cpuOf(as: Agent[]): Promise<number[]> {
      return Promise.all(as.map((a) => a.call<number>('cpu')));
    }

    /**
     * One raw JetStream run: same payloads; flat out with `window` acks in flight, or paced as the
     * bridge's; `headers`: none, the bridge's (id, expected last sequence, Mp-*), or the expectation alone.
     */
    async function rawRun(count: number, paced: boolean, window: number, headers: 'none' | 'bridge' | 'expect' = 'none'): Promise<Res> {
      run++;
      const [pub, sub] = [spawn(hosts.a), spawn(hosts.b)];
      const stream = `RW${run}`;
      const trace = HOPS && paced;
      await pub.call('rawStream', { servers: hosts.urlsA, stream, subject: `rw.${run}`, replicas: 2 });
      await sub.call('rawConsume', { servers: hosts.urlsB, stream, durable: 'b', count, keep: trace, ...(WINDOW === undefined ? {} : { window: WINDOW }) });
      const consumed = sub.call<Res>('rawConsumed', {}, 300_000);
      const cpu0 = await cpuOf([pub, sub]);
      const stopProf = await profile({ pub, sub }, hosts.servers.map((s) => s.pid), `${run}-raw${window}`, paced);
      const prod = await pub.call<{ seq: number; ms: number; publishCallUs: number }>('rawPublish', { servers: hosts.urlsA, subject: `rw.${run}`, count, batch: BATCH, window, headers, ...(paced ? { burst: BURST, rate: LAT_RATE } : {}) }, 300_000);
      const r = await consumed;
      r.cpu = await stopProf();
      if (paced) {
        r.msgRate = (count / BURST) * (1000 / prod.ms);
        const cpu1 = await cpuOf([pub, sub]);
        r.cpuA = (cpu1[0]! - cpu0[0]!) / (count / BURST);
        r.cpuB = (cpu1[1]! - cpu0[1]!) / (count / BURST);
      }
      if (trace) {
        r.hops = { [HOP_A]: prod.publishCallUs / 1000, ...rawHops(r) };
        const l = await sub.call<{ stream: string; consumer: string }>('leaders', { servers: hosts.urlsB, stream, durable: 'b' });
        r.leaders = `stream ${l.stream}, consumer ${l.consumer}`;
      }
      delete r.sent;
      delete r.arrive;
      delete r.stored;
      await Promise.all([pub.kill(), sub.kill()]);
      return r;
    }

    // ---- Throughput: saturating runs, interleaved rounds -------------------------------------------------
    const thr = new Samples();
    if (PARTS.has('thr')) await throughput();
    if (PARTS.has('lat')) await latency();

    async function throughput(): Promise<void> {
      const checked = (b: Res, what: string): Res => {
        if (b.dups !== 0 || b.got !== N) bench.note(`!! ${what}: ${b.got} of ${N}, ${b.dups} duplicates`);
        if (b.cpu) bench.note(`${what}: ${cpuNote(b.cpu, b.got)}`);
        return b;
      };
      /** Records the run's elements per message (ringToStream's batching) beside its rate. */
      const perMsg = (record: (k: string, v: number) => void, a: string, b: Res): number => {
        if (b.msgsA) record(`${a}/epm`, b.got / b.msgsA);
        return b.rate;
      };
      await rounds({ rounds: REPS, into: thr }, [
        ['inproc', async (record) => perMsg(record, 'inproc', checked(await bridgeRun(N, 'inproc', false), 'bridge in process'))],
        ['separate', async (record) => perMsg(record, 'separate', checked(await bridgeRun(N, 'separate', false), 'bridge, separate processes'))],
        ['raw1', async () => checked(await rawRun(N, false, 1), 'raw, 1 ack in flight').rate],
        ['raw64', async (record, i) => {
          record('raw64', checked(await rawRun(N, false, 64), 'raw, 64 acks in flight').rate);
          const last = (k: string): number => thr.all(k).at(-1)!;
          for (const a of ['inproc', 'separate'] as const) {
            record(`${a}/r1`, last(a) / last('raw1'));
            record(`${a}/r64`, last(a) / last('raw64'));
          }
          const k = (x: number): string => `${(x / 1000).toFixed(0)}k/s`;
          const epm = (a: string): string => (thr.all(`${a}/epm`).length > i ? ` (${last(`${a}/epm`).toFixed(0)} elements/message)` : '');
          bench.note(`rep ${i} (load ${la()}): bridge in process ${k(last('inproc'))}${epm('inproc')}, separate ${k(last('separate'))}${epm('separate')}, raw w=1 ${k(last('raw1'))}, raw w=64 ${k(last('raw64'))} (${BATCH} elements/message)`);
        }],
      ]);
      const RAW1 = 'raw JetStream, 1 ack in flight';
      const RAW64 = 'raw JetStream, 64 acks in flight';
      const k = (x: number): number => x / 1000;
      bench.table(
        { title: `@mp/bridge-nats throughput, saturating (N=${N}, median of ${REPS})`, ours: '@mp/bridge-nats', unit: 'k elements/s', refs: [RAW1, RAW64], digits: 0, rounds: true },
        (['inproc', 'separate'] as const).map((a) => ({
          op: `ring → stream → ring, ${ARR[a]}`,
          ours: k(thr.median(a)),
          refs: { [RAW1]: k(thr.median('raw1')), [RAW64]: k(thr.median('raw64')) },
          samples: thr.all(a).map(k),
          note: `medians of the per-round ratios: ${median(thr.all(`${a}/r1`)).toFixed(2)}× / ${median(thr.all(`${a}/r64`)).toFixed(2)}×`,
        })),
      );

    }

    async function latency(): Promise<void> {
      // ---- Latency: paced runs, REPS rounds of every row back to back ----------------------------------------
      // (the machine's load moves between rounds; differences are taken within a round, then the median).
      const latCount = LAT_MSGS * BURST;
      const lat: Record<LatRow, Res[]> = { inproc: [], separate: [], inprocSpin: [], rawB: [], raw: [], rawH: [], rawE: [] };
      const runRow: Record<LatRow, () => Promise<Res>> = {
        inproc: () => bridgeRun(latCount, 'inproc', true, spin),
        separate: () => bridgeRun(latCount, 'separate', true, spin),
        inprocSpin: () => bridgeRun(latCount, 'inproc', true, { idleSpinUs: 200 }),
        rawB: () => bridgeRun(latCount, 'rawB', true, spin),
        raw: () => rawRun(latCount, true, 64),
        rawH: () => rawRun(latCount, true, 64, 'bridge'),
        rawE: () => rawRun(latCount, true, 64, 'expect'),
      };
      const rows = LAT_ROWS.filter((k) => k in runRow);
      for (let i = 0; i < REPS; i++) {
        const l0 = la();
        for (const k of rows) lat[k].push(await runRow[k]());
        const ms = (r: Res): string => `${(r.p50Us / 1000).toFixed(2)} ms (${(r.msgRate ?? 0).toFixed(0)} msg/s${r.leaders ? `; ${r.leaders}` : ''})`;
        bench.note(`lat rep ${i} (load ${l0}→${la()}): p50 ${rows.map((k) => `${SHORT[k]} ${ms(lat[k][i]!)}`).join(', ')}`);
      }
      const pair = (xs: Res[]): number[] => [median(xs.map((x) => x.p50Us)) / 1000, median(xs.map((x) => x.p99Us)) / 1000];
      const added = (xs: Res[], ref: Res[]): string => (ref.length === 0 ? '—' : `${Math.round(median(xs.map((x, i) => x.p50Us - ref[i]!.p50Us)))} µs`);
      const refRows = RAWS.filter((k) => rows.includes(k));
      const bridgeRows = rows.filter((k) => !RAWS.includes(k));
      const latRows = bridgeRows.map((a) => ({
        op: ARR[a],
        ours: pair(lat[a]),
        refs: Object.fromEntries(refRows.map((k) => [ARR[k], pair(lat[k])])),
        samples: lat[a].map((x) => x.p50Us / 1000),
        note: `added p50 ${refRows.map((k) => `${added(lat[a], lat[k])} over ${SHORT[k]}`).join(', ')} (medians of per-round differences)`,
      }));
      if (process.env.BENCH_SPIN === '1') {
        const lbs = await bridgeRun(latCount, 'separate', true, { idleSpinUs: 1_000_000 });
        const lr = await rawRun(latCount, true, 64);
        latRows.push({ op: 'separate, ringToStream idleSpinUs 10⁶ (A polls its ring; one round)', ours: pair([lbs]), refs: { [ARR.raw]: pair([lr]) }, samples: [lbs.p50Us / 1000], note: `added p50 ${Math.round(lbs.p50Us - lr.p50Us)} µs over raw in the same round` });
      }
      bench.table(
        { title: `latency p50 / p99, paced: ${BURST}-element messages at ${LAT_RATE}/s, open loop (medians over ${REPS} rounds; each round every row back to back)`, ours: '@mp/bridge-nats', unit: 'ms', refs: refRows.map((k) => ARR[k]), rounds: true },
        latRows,
      );

      // CPU per message of the processes of each row (A: producer and ringToStream / raw publisher; B:
      // streamToRing and consumer / raw consumer): what each arrangement takes from the cores the servers share.
      const cpuOfRow = (xs: Res[], side: 'cpuA' | 'cpuB'): string => median(xs.map((x) => x[side] ?? NaN)).toFixed(0);
      bench.table(
        { title: `CPU per message, µs (user + system of the row's processes on each side, medians over ${REPS} rounds)`, ours: 'A (producer side)', unit: 'µs', refs: ['B (consumer side)'] },
        rows.map((k) => ({ op: ARR[k], ours: cpuOfRow(lat[k], 'cpuA'), refs: { 'B (consumer side)': cpuOfRow(lat[k], 'cpuB') } })),
      );

      if (HOPS) {
        // Per-hop p50 (ms), median over the rounds of each run's p50.
        const hopsOf = (xs: Res[], hop: string): string => {
          const v = xs.map((x) => x.hops?.[hop]).filter((x): x is number => x !== undefined);
          return v.length === 0 ? '—' : median(v).toFixed(3);
        };
        const first = rows[0]!;
        const names = [...new Set(bridgeRows.flatMap((k) => Object.keys(lat[k][0]?.hops ?? {})))];
        bench.table(
          { title: `where the latency goes: p50 per hop in ms (medians over ${REPS} rounds; paced runs above; one clock, the server's store time for "stored")`, ours: ARR[first], unit: 'ms', refs: rows.slice(1).map((k) => ARR[k]) },
          names.map((hop) => ({ op: hop, ours: hopsOf(lat[first], hop), refs: Object.fromEntries(rows.slice(1).map((k) => [ARR[k], hopsOf(lat[k], hop)])) })),
        );
      }
    }
  } finally {
    await cleanup();
    bench.end();
  }
}

await main();
