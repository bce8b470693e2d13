/**
 * Ring (host A) → JetStream → ring (host B) between two network namespaces, each with its own @mp group
 * and nats-server(s), the servers clustered over the veth. Two producer processes on A number their
 * elements; B's consumer checks that every element arrives, in order per producer, none twice — plain,
 * with the stream's leader SIGKILLed mid-transfer, with the ring → stream bridge SIGKILLed and restarted
 * mid-transfer, with the stream → ring bridge SIGKILLed at both sides of its enqueue and restarted, with
 * HTS rings on both sides, and with B's ring full for a while (the bridge's memory stays bounded).
 *
 * Elements: MP_BRIDGE_COUNT (default 100 000; MP_BRIDGE_FULL=1 → 1 000 000, the issue's figure).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { netnsUnavailable, uniquePrefix, useAgents, useNetns, useTempDir } from '@mp/test-utils';
import type { Agent } from '@mp/test-utils';
import { natsServerMissing, stopAll } from './nats-servers.js';
import { twoHosts } from './hosts.js';
import type { Hosts } from './hosts.js';

const AGENT = fileURLToPath(new URL('./fixtures/bridge-agent.mjs', import.meta.url));
const skip = netnsUnavailable() ?? natsServerMissing();
const COUNT = Number(process.env.MP_BRIDGE_COUNT ?? (process.env.MP_BRIDGE_FULL === '1' ? 1_000_000 : 100_000));
const PER = Math.floor(COUNT / 2);
const FULL_MS = Number(process.env.MP_BRIDGE_FULL_MS ?? (process.env.MP_BRIDGE_FULL === '1' ? 10_000 : 3_000));

interface Consumed {
  total: number;
  per: Record<string, { count: number; next: number }>;
  disorder: number;
  dups: number;
  error?: string;
}

describe.skipIf(skip !== undefined)(`ring → stream → ring across two namespaces${skip ? ` (skipped: ${skip})` : ''}`, () => {
  const spawn = useAgents(AGENT);
  const makeNs = useNetns();
  const makeTemp = useTempDir('nbstate');
  afterEach(async () => {
    await stopAll();
  });

  /** Group A: primary (creates ring `src`, producer 1), secondary producer 2, secondary bridge. Group B: primary (ring `dst`, consumer), secondary bridge. */
  async function setup(hosts: Hosts, { dstCount = 8192, srcConsumer = 'single', dstProducer = 'single', ackWaitMs = 10_000 } = {}) {
    const pa = uniquePrefix('nba');
    const pb = uniquePrefix('nbb');
    const opts = { netns: hosts.a.name };
    const optsB = { netns: hosts.b.name };
    const a1 = spawn({}, [], opts);
    const a2 = spawn({}, [], opts);
    const b1 = spawn({}, [], optsB);
    await a1.call('init', { prefix: pa });
    await a1.call('create', { name: 'src', count: 8192, opts: { elemSize: 8, consumer: srcConsumer } });
    await a2.call('init', { prefix: pa });
    await b1.call('init', { prefix: pb });
    await b1.call('create', { name: 'dst', count: dstCount, opts: { elemSize: 8, producer: dstProducer } });
    /** A ringToStream process on A (`env`: its fault point, if any). */
    const startBridgeA = async (env: Record<string, string> = {}): Promise<Agent> => {
      const ab = spawn(env, [], opts);
      await ab.call('init', { prefix: pa });
      await ab.call('r2s', { name: 'src', servers: hosts.urlsA, stream: 'MPS', subject: 'mp.src', batch: 256, create: true, replicas: hosts.servers.length, retryMs: 20_000 }, 40_000);
      return ab;
    };
    const ab = await startBridgeA();
    /** A streamToRing process on B (`env`: its fault point, if any); its progress record in a temp dir. */
    const stateDir = makeTemp();
    const startBridgeB = async (env: Record<string, string> = {}): Promise<Agent> => {
      const bb = spawn(env, [], optsB);
      await bb.call('init', { prefix: pb });
      await bb.call('s2r', { name: 'dst', servers: hosts.urlsB, stream: 'MPS', durable: 'toB', stateDir, ackWaitMs, retryMs: 20_000 }, 40_000);
      return bb;
    };
    const b2 = await startBridgeB();
    return { a1, a2, ab, b1, b2, startBridgeA, startBridgeB };
  }

  function checkAll(res: Consumed): void {
    expect(res.error).toBeUndefined();
    expect(res.dups).toBe(0);
    expect(res.disorder).toBe(0);
    expect(res.per['1']).toEqual({ count: PER, next: PER });
    expect(res.per['2']).toEqual({ count: PER, next: PER });
    expect(res.total).toBe(2 * PER);
  }

  it(`${2 * PER} elements from two producers on A arrive on B: all, in order per producer, none twice`, async () => {
    const hosts = await twoHosts(makeNs);
    const { a1, a2, b1 } = await setup(hosts);
    await b1.call('consumeBg', { name: 'dst', expect: 2 * PER });
    await Promise.all([a1.call('produce', { name: 'src', producer: 1, count: PER }, 120_000), a2.call('produce', { name: 'src', producer: 2, count: PER }, 120_000)]);
    const res = (await b1.waitEvent((e) => e.event === 'consumed', 120_000)) as unknown as Consumed;
    checkAll(res);
  }, 180_000);

  it('the stream leader SIGKILLed mid-transfer (3 servers, R3): all arrive, none twice', async () => {
    const hosts = await twoHosts(makeNs, { three: true });
    const { a1, a2, ab, b1, b2 } = await setup(hosts);
    await b1.call('consumeBg', { name: 'dst', expect: 2 * PER, progressEvery: Math.floor(PER / 2) });
    await a1.call('produceBg', { name: 'src', producer: 1, count: PER });
    await a2.call('produceBg', { name: 'src', producer: 2, count: PER });
    await b1.waitEvent((e) => e.event === 'progress', 120_000);
    const { leader } = await a1.call<{ leader: string }>('streamLeader', { servers: hosts.urlsA, stream: 'MPS' });
    const victim = hosts.servers.find((s) => s.name === leader);
    expect(victim, `leader ${leader}`).toBeDefined();
    await victim!.kill('SIGKILL');
    const res = (await b1.waitEvent((e) => e.event === 'consumed', 150_000)) as unknown as Consumed;
    checkAll(res);
    console.log(`leader ${leader} killed: bridge A ${JSON.stringify(await ab.call('stats'))}, bridge B ${JSON.stringify(await b2.call('stats'))}`);
    // The stream really moved on to another leader.
    const after = await a1.call<{ leader: string }>('streamLeader', { servers: hosts.urlsA.filter((u) => u !== victim!.url), stream: 'MPS' });
    expect(after.leader).not.toBe(leader);
  }, 240_000);

  it('the ring → stream bridge SIGKILLed mid-transfer, then its successor right after an ack (before the release), a third finishes: all arrive, none twice', async () => {
    const hosts = await twoHosts(makeNs, { three: true });
    const { a1, a2, ab, b1, startBridgeA } = await setup(hosts);
    await b1.call('consumeBg', { name: 'dst', expect: 2 * PER, progressEvery: Math.floor(PER / 3) });
    await a1.call('produceBg', { name: 'src', producer: 1, count: PER });
    await a2.call('produceBg', { name: 'src', producer: 2, count: PER });
    await b1.waitEvent((e) => e.event === 'progress', 120_000);
    await ab.kill('SIGKILL');
    const ab2 = await startBridgeA({ MP_TEST_CRASH: 'ring-to-stream-acked', MP_TEST_CRASH_AFTER: '20' });
    expect((await ab2.exited).signal).toBe('SIGKILL');
    const ab3 = await startBridgeA();
    const res = (await b1.waitEvent((e) => e.event === 'consumed', 150_000)) as unknown as Consumed;
    checkAll(res);
    const st = await ab3.call<{ acked: number; duplicates: number }>('stats');
    console.log(`bridge A restarted twice: ${JSON.stringify(st)}`);
    // The second victim's last acked message was still in the ring: the third bridge released it unsent.
    expect(st.duplicates).toBeGreaterThan(0);
    expect(st.acked).toBeLessThan(2 * PER);
  }, 240_000);

  it(`HTS rings on both sides (A's consumer, B's producer): all ${2 * PER} arrive, in order per producer, none twice`, async () => {
    const hosts = await twoHosts(makeNs);
    const { a1, a2, b1, ab, b2 } = await setup(hosts, { srcConsumer: 'hts', dstProducer: 'hts' });
    await b1.call('consumeBg', { name: 'dst', expect: 2 * PER });
    await Promise.all([a1.call('produce', { name: 'src', producer: 1, count: PER }, 120_000), a2.call('produce', { name: 'src', producer: 2, count: PER }, 120_000)]);
    const res = (await b1.waitEvent((e) => e.event === 'consumed', 120_000)) as unknown as Consumed;
    checkAll(res);
    // Both bridges moved every element (nothing skipped as a duplicate on the way).
    expect((await ab.call<{ acked: number }>('stats')).acked).toBe(2 * PER);
    expect((await b2.call<{ acked: number; duplicates: number }>('stats')).acked).toBe(2 * PER);
  }, 180_000);

  it('the stream → ring bridge SIGKILLed after an enqueue (before its ack), its successor after a record (before the enqueue), a third finishes: all arrive, none twice', async () => {
    const hosts = await twoHosts(makeNs);
    // A short ack wait: what a dead bridge held unacked comes again sooner.
    const { a1, a2, b1, b2, startBridgeB } = await setup(hosts, { ackWaitMs: 3000 });
    // The first bridge runs without a fault point: replace it by one armed to die after its 40th enqueue.
    await b2.kill('SIGKILL');
    const b3 = await startBridgeB({ MP_TEST_CRASH: 'stream-to-ring-enqueued', MP_TEST_CRASH_AFTER: '40' });
    await b1.call('consumeBg', { name: 'dst', expect: 2 * PER });
    await a1.call('produceBg', { name: 'src', producer: 1, count: PER });
    await a2.call('produceBg', { name: 'src', producer: 2, count: PER });
    expect((await b3.exited).signal).toBe('SIGKILL');
    // The 41st message is in B's ring and was never acked: the server redelivers it to the next bridge.
    // b3's record was written once, before its first enqueue (an anchor: 41 enqueues later the restart
    // counts them from the ring's tail); b4 dies at its first enqueue, right after writing its own anchor.
    const b4 = await startBridgeB({ MP_TEST_CRASH: 'stream-to-ring-recorded', MP_TEST_CRASH_AFTER: '0' });
    expect((await b4.exited).signal).toBe('SIGKILL');
    const b5 = await startBridgeB();
    const res = (await b1.waitEvent((e) => e.event === 'consumed', 150_000)) as unknown as Consumed;
    checkAll(res);
    const st = await b5.call<{ duplicates: number; redelivered: number }>('stats');
    console.log(`bridge B restarted twice: ${JSON.stringify(st)}`);
    // The last bridge got again what the second one held unacked when it died.
    expect(st.redelivered).toBeGreaterThan(0);
  }, 240_000);

  it(`B's ring full for ${FULL_MS} ms: the bridge waits with bounded memory, nothing is lost`, async () => {
    const hosts = await twoHosts(makeNs);
    const { a1, a2, b1, b2 } = await setup(hosts, { dstCount: 1024 });
    await b2.call('watchStats', { everyMs: 100 });
    await Promise.all([a1.call('produce', { name: 'src', producer: 1, count: PER }, 120_000), a2.call('produce', { name: 'src', producer: 2, count: PER }, 120_000)]);
    // The ring fills (1023 elements) and the bridge blocks on it.
    await b2.waitEvent((e) => e.event === 'stats' && (e.waits as number) > 0, 60_000);
    const first = (await b2.call<{ rss: number; heap: number; ext: number; acked: number }>('stats'));
    const samples: Array<{ rss: number; heap: number; ext: number; acked: number; pending: number }> = [];
    const end = Date.now() + FULL_MS;
    while (Date.now() < end) {
      samples.push(await b2.call('stats'));
      await new Promise((r) => setTimeout(r, 200));
    }
    const maxRss = Math.max(...samples.map((s) => s.rss));
    const maxHeap = Math.max(...samples.map((s) => s.heap));
    console.log(`ring full ${FULL_MS} ms: bridge rss ${(first.rss / 2 ** 20).toFixed(1)} → max ${(maxRss / 2 ** 20).toFixed(1)} MiB, heap ${(first.heap / 2 ** 20).toFixed(1)} → max ${(maxHeap / 2 ** 20).toFixed(1)} MiB, acked ${first.acked} → ${samples.at(-1)!.acked}`);
    // Nothing moved into the full ring, and the backlog (≈ 2·PER elements in the stream) was not pulled into memory.
    expect(samples.at(-1)!.acked).toBe(first.acked);
    expect(Math.max(...samples.map((s) => s.pending))).toBeLessThanOrEqual(256);
    expect(maxRss - first.rss).toBeLessThan(32 * 2 ** 20);
    const res = await b1.call<Consumed>('consume', { name: 'dst', expect: 2 * PER }, 150_000);
    checkAll(res);
  }, 240_000);
});
