// @mp/bridge-nats benchmark (`pnpm --filter @mp/bridge-nats bench`, root). Two network namespaces A and B
// joined by a veth, a nats-server in each (clustered, streams R2: every write crosses the veth). Measures
//   bridge: ring (A) → ringToStream → JetStream → streamToRing → ring (B), 16-byte elements, batch 256
//   raw:    @nats-io/jetstream publish (A) + durable pull consume() (B) of the same payloads (256 elements a
//           message), one ack in flight and 64 in flight; for latency also with the bridge's headers
// Throughput: BENCH_N elements flat out, median of BENCH_REPS runs. Latency: 16 elements every 2 ms,
// p50/p99 from the send time stamped in each element to its arrival in B's ring consumer (one clock:
// same host); raw stamps right before its publish. BENCH_REPS rounds of bridge + raw back to back.
// Prints absolutes and ratios to raw; benches never assert.
import { fileURLToPath } from 'node:url';
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
const LAT_BURSTS = Number(process.env.BENCH_LAT_BURSTS ?? 1000);
const BATCH = 256;
/** The bridges' window (messages in flight A → stream, unacked stream → B); default theirs (8). */
const WINDOW = process.env.BENCH_WINDOW === undefined ? undefined : Number(process.env.BENCH_WINDOW);
const win = WINDOW === undefined ? {} : { window: WINDOW };

interface Res {
  got: number;
  dups: number;
  rate: number;
  p50Us: number;
  p99Us: number;
}

async function main(): Promise<void> {
  const bench = startBench({
    package: '@mp/bridge-nats',
    what: 'ring (A) → JetStream → ring (B) across two namespaces, beside raw JetStream publish + consume',
    memory: '/dev/shm, 4 KiB pages (--no-huge)',
    pinning: 'none',
    params: `N=${N}, median of ${REPS} interleaved runs; 2 clustered servers, R2, batch ${BATCH}, 16-byte elements; latency: ${LAT_BURSTS} bursts of 16 every 2 ms`,
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
    let run = 0;
    const prefix = (): string => `nbb${process.pid}_${run}`;

    /** One bridge run: fresh groups, rings, stream; produce on A, consume on B. */
    async function bridgeRun(count: number, paced: boolean, idleSpinUs?: number): Promise<Res> {
      run++;
      const [a1, a2, b1, b2] = [spawn(hosts.a), spawn(hosts.a), spawn(hosts.b), spawn(hosts.b)];
      await a1.call('init', { prefix: `${prefix()}a` });
      await a1.call('create', { name: 'src', count: 16384, opts: { elemSize: 16, consumer: 'single' } });
      await a2.call('init', { prefix: `${prefix()}a` });
      await b1.call('init', { prefix: `${prefix()}b` });
      await b1.call('create', { name: 'dst', count: 16384, opts: { elemSize: 16, producer: 'single' } });
      await b2.call('init', { prefix: `${prefix()}b` });
      const stream = `BR${run}`;
      await a2.call('r2s', { name: 'src', servers: hosts.urlsA, stream, subject: `br.${run}`, batch: BATCH, create: true, replicas: 2, ...win, ...(idleSpinUs === undefined ? {} : { idleSpinUs }) });
      await b2.call('s2r', { name: 'dst', servers: hosts.urlsB, stream, durable: 'b', ...win });
      const consumed = b1.call<Res>('consume', { name: 'dst', count }, 300_000);
      await a1.call('produce', paced ? { name: 'src', count, burst: 16, everyMs: 2 } : { name: 'src', count, burst: 64 }, 300_000);
      const r = await consumed;
      for (const a of [a2, b2]) await a.call('closeBridge');
      await Promise.all([a1, a2, b1, b2].map((a) => a.kill()));
      return r;
    }

    /** One raw JetStream run: same payloads, `window` publish acks in flight. */
    async function rawRun(count: number, paced: boolean, window: number, bridgeHeaders = false): Promise<Res> {
      run++;
      const [pub, sub] = [spawn(hosts.a), spawn(hosts.b)];
      const stream = `RW${run}`;
      await pub.call('rawStream', { servers: hosts.urlsA, stream, subject: `rw.${run}`, replicas: 2 });
      const consumed = sub.call<Res>('rawConsume', { servers: hosts.urlsB, stream, durable: 'b', count }, 300_000);
      await pub.call('rawPublish', { servers: hosts.urlsA, subject: `rw.${run}`, count, batch: BATCH, window, bridgeHeaders, ...(paced ? { burst: 16, everyMs: 2 } : {}) }, 300_000);
      const r = await consumed;
      await Promise.all([pub.kill(), sub.kill()]);
      return r;
    }

    const thr = new Samples();
    await rounds({ rounds: REPS, into: thr }, [
      ['bridge', async (record) => {
        const b = await bridgeRun(N, false);
        if (b.dups !== 0 || b.got !== N) bench.note(`!! bridge run: ${b.got} of ${N}, ${b.dups} duplicates`);
        record('bridge', b.rate);
      }],
      ['raw1', async () => (await rawRun(N, false, 1)).rate],
      ['raw64', async (record, i) => {
        record('raw64', (await rawRun(N, false, 64)).rate);
        const [b, r1, r64] = [thr.all('bridge').at(-1)!, thr.all('raw1').at(-1)!, thr.all('raw64').at(-1)!];
        record('r1', b / r1);
        record('r64', b / r64);
        bench.note(`rep ${i}: bridge ${(b / 1000).toFixed(0)}k/s, raw w=1 ${(r1 / 1000).toFixed(0)}k/s, raw w=64 ${(r64 / 1000).toFixed(0)}k/s`);
      }],
    ]);
    const RAW1 = 'raw JetStream, 1 ack in flight';
    const RAW64 = 'raw JetStream, 64 acks in flight';
    const k = (x: number): number => x / 1000;
    bench.table({ title: `@mp/bridge-nats throughput (N=${N}, median of ${REPS})`, ours: '@mp/bridge-nats', unit: 'k elements/s', refs: [RAW1, RAW64], digits: 0, rounds: true }, [
      {
        op: 'ring → stream → ring',
        ours: k(thr.median('bridge')),
        refs: { [RAW1]: k(thr.median('raw1')), [RAW64]: k(thr.median('raw64')) },
        samples: thr.all('bridge').map(k),
        note: `medians of the per-run ratios: ${median(thr.all('r1')).toFixed(2)}× / ${median(thr.all('r64')).toFixed(2)}×`,
      },
    ]);

    // Latency: REPS rounds, each a bridge run and raw runs back to back (the machine's load moves between
    // rounds; ratios and differences are taken within a round, then the median over rounds).
    const latCount = LAT_BURSTS * 16;
    const lat = { b: [] as Res[], r: [] as Res[], rh: [] as Res[], added: [] as number[], addedH: [] as number[] };
    for (let i = 0; i < REPS; i++) {
      const b = await bridgeRun(latCount, true);
      const r = await rawRun(latCount, true, 1);
      const rh = await rawRun(latCount, true, 1, true);
      lat.b.push(b);
      lat.r.push(r);
      lat.rh.push(rh);
      lat.added.push(b.p50Us - r.p50Us);
      lat.addedH.push(b.p50Us - rh.p50Us);
      bench.note(`lat rep ${i}: p50 bridge ${(b.p50Us / 1000).toFixed(2)} ms, raw ${(r.p50Us / 1000).toFixed(2)} ms, raw + bridge headers ${(rh.p50Us / 1000).toFixed(2)} ms`);
    }
    const ms = (xs: Res[]): number[] => [median(xs.map((x) => x.p50Us)) / 1000, median(xs.map((x) => x.p99Us)) / 1000];
    const LR = 'raw publish → consume, each publish after the previous ack';
    const LRH = 'raw as that, with the headers the bridge adds';
    const rowsLat = [
      {
        op: 'bridge, 16 elements every 2 ms',
        ours: ms(lat.b),
        refs: { [LR]: ms(lat.r), [LRH]: ms(lat.rh) },
        note: `p50 +${(median(lat.added) / 1000).toFixed(2)} ms over raw, +${(median(lat.addedH) / 1000).toFixed(2)} ms over raw with headers (medians of per-round differences)`,
      },
    ];
    if (process.env.BENCH_SPIN === '1') {
      const lbs = await bridgeRun(latCount, true, 1_000_000);
      const lr = await rawRun(latCount, true, 1);
      rowsLat.push({ op: 'bridge with idleSpinUs 10⁶ (A polls its ring; one round)', ours: ms([lbs]), refs: { [LR]: ms([lr]), [LRH]: [NaN, NaN] }, note: `p50 +${((lbs.p50Us - lr.p50Us) / 1000).toFixed(2)} ms over raw in the same round` });
    }
    bench.table({ title: `latency p50 / p99, medians over ${REPS} rounds (bridge, raw, raw with headers back to back)`, ours: '@mp/bridge-nats', unit: 'ms', refs: [LR, LRH] }, rowsLat);
  } finally {
    await cleanup();
    bench.end();
  }
}

await main();
