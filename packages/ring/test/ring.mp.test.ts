// Real processes on one ring: stress with checksums, worker threads and processes together, SIGKILL
// mid-stream, blocking wake-up latency and idle CPU.
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { Agent, uniquePrefix, useAgents } from '@mp/test-utils';

const AGENT = join(import.meta.dirname, 'fixtures/ring-agent.mjs');
const agent = useAgents(AGENT);

interface PerProducer {
  count: number;
  sum: number;
  sumsq: number;
  last: number;
  disorder: number;
  first: number;
}
interface Consumed {
  total: number;
  per: Record<string, PerProducer>;
  error?: string;
  message?: string;
  side?: string;
  deadPid?: number;
}
interface Produced {
  sent: number;
  error?: string;
  message?: string;
  deadPid?: number;
  side?: string;
  errClass?: string;
}

/** A group: primary creates the ring, `n` secondaries look it up. */
async function group(n: number, ring: { name: string; count: number; opts: Record<string, unknown> }, env: NodeJS.ProcessEnv[] = []): Promise<Agent[]> {
  const prefix = uniquePrefix('rm');
  const p = agent(env[0]);
  await p.call('init', { args: [`--file-prefix=${prefix}`, '--proc-type=primary', '--no-huge', '-m', '64'] });
  await p.call('create', ring);
  const secs: Agent[] = [];
  for (let i = 1; i <= n; i++) {
    const s = agent(env[i]);
    await s.call('init', { args: [`--file-prefix=${prefix}`, '--proc-type=secondary', '--no-huge'] });
    await s.call('lookup', { name: ring.name });
    secs.push(s);
  }
  return [p, ...secs];
}

const seqSum = (n: number): number => (n * (n - 1)) / 2;
function seqSumSq(n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s = (s + Math.imul(i, i)) >>> 0;
  return s;
}

/** Merge what the consumers saw per producer and check: nothing lost, duplicated or reordered. */
function verify(results: Consumed[], producers: Record<number, number>): void {
  for (const r of results) expect(r.error, r.message).toBeUndefined();
  for (const [id, n] of Object.entries(producers)) {
    let count = 0;
    let sum = 0;
    let sumsq = 0;
    for (const r of results) {
      const p = r.per[id];
      if (!p) continue;
      expect(p.disorder, `producer ${id} reordered`).toBe(0);
      count += p.count;
      sum += p.sum;
      sumsq = (sumsq + p.sumsq) >>> 0;
    }
    expect(count, `producer ${id} count`).toBe(n);
    expect(sum, `producer ${id} checksum`).toBe(seqSum(n));
    expect(sumsq, `producer ${id} square checksum`).toBe(seqSumSq(n));
  }
}

describe('cross-process throughput with checksums (≥ 10^7 elements)', () => {
  it('SPSC: 1 producer → 1 consumer, 10^7 elements', async () => {
    const N = 10_000_000;
    const [p, c] = await group(1, { name: 'spsc', count: 4096, opts: { elemSize: 8, producer: 'single', consumer: 'single' } });
    const consumed = c!.call<Consumed>('consume', { name: 'spsc', expect: N, burst: 64, idleMs: 10_000 }, 120_000);
    const produced = await p!.call<Produced>('produce', { name: 'spsc', producer: 1, count: N, burst: 64 }, 120_000);
    expect(produced).toEqual({ sent: N });
    verify([await consumed], { 1: N });
  }, 150_000);

  it('MPMC: 2 producers → 2 consumers, 10^7 elements', async () => {
    const N = 5_000_000;
    const [p1, p2, c1, c2] = await group(3, { name: 'mpmc', count: 4096, opts: { elemSize: 8 } });
    const cons = [c1!, c2!].map((c) => c.call<Consumed>('consume', { name: 'mpmc', burst: 32, idleMs: 3000 }, 150_000));
    const prods = [p1!, p2!].map((p, i) => p.call<Produced>('produce', { name: 'mpmc', producer: i + 1, count: N, burst: 32 }, 150_000));
    for (const r of await Promise.all(prods)) expect(r).toEqual({ sent: N });
    const results = await Promise.all(cons);
    verify(results, { 1: N, 2: N });
    // Both consumers took part.
    expect(results.every((r) => r.total > 0)).toBe(true);
  }, 180_000);
});

describe('worker threads and processes on the same ring at once', () => {
  it('a process producer, a worker-thread producer, a worker-thread consumer and a process consumer', async () => {
    const N = 300_000;
    const [p, q, c] = await group(2, { name: 'mixed', count: 1024, opts: { elemSize: 8 } });
    const cons = [
      c!.call<Consumed>('consume', { name: 'mixed', burst: 16, idleMs: 2000 }, 60_000),
      q!.call<Consumed>('consumeInWorker', { name: 'mixed', burst: 16, idleMs: 2000 }, 60_000),
    ];
    const prods = [
      p!.call<Produced>('produce', { name: 'mixed', producer: 1, count: N, burst: 8 }, 60_000),
      p!.call<Produced>('produceInWorker', { name: 'mixed', producer: 2, count: N, burst: 8 }, 60_000),
      q!.call<Produced>('produceInWorker', { name: 'mixed', producer: 3, count: N, burst: 8 }, 60_000),
    ];
    for (const r of await Promise.all(prods)) expect(r).toEqual({ sent: N });
    const results = await Promise.all(cons);
    verify(results, { 1: N, 2: N, 3: N });
  }, 90_000);
});

describe('dead peers: SIGKILL mid-stream never hangs anyone', () => {
  it('a producer killed between reserving and publishing: the other producer and the consumer get ESTALE naming it; recover() repairs', async () => {
    const [c, a, b] = await group(2, { name: 'dead', count: 1024, opts: { elemSize: 8 } }, [
      {},
      { MP_TEST_CRASH: 'ring-enqueue-reserved', MP_TEST_CRASH_AFTER: '2000' },
      {},
    ]);
    const t0 = Date.now();
    const consumed = c!.call<Consumed>('consume', { name: 'dead', burst: 32, idleMs: 30_000 }, 60_000);
    const bDone = b!.call<Produced>('produce', { name: 'dead', producer: 2, count: 50_000_000, burst: 8, stallMs: 30_000 }, 60_000);
    const aReply = a!.request('produce', { name: 'dead', producer: 1, count: 50_000_000, burst: 8 }, 60_000).catch((e: Error) => e);
    const exit = await a!.exited;
    expect(exit.signal).toBe('SIGKILL');
    expect(await aReply).toBeInstanceOf(Error);
    const bRes = await bDone;
    expect(bRes.error).toBe('ESTALE');
    expect(bRes.deadPid).toBe(a!.pid);
    // A RingStaleError (an MpError subclass) naming the side whose reservation is stuck.
    expect(bRes.errClass).toBe('RingStaleError');
    expect(bRes.side).toBe('producer');
    expect(bRes.message).toContain(`pid ${a!.pid}`);
    const cRes = await consumed;
    expect(cRes.error).toBe('ESTALE');
    expect(cRes.deadPid).toBe(a!.pid);
    expect(cRes.side).toBe('producer');
    // Bounded: far below the 30 s the waits would otherwise last.
    expect(Date.now() - t0).toBeLessThan(25_000);
    // What was published arrived in order; producer 1's elements are an unbroken prefix.
    const p1 = cRes.per['1']!;
    expect(p1.disorder).toBe(0);
    expect(p1.count).toBe(p1.last + 1);
    expect(p1.count).toBeGreaterThanOrEqual(2000); // 2000 bursts published before the fatal one

    const rep = await c!.call<{ droppedEnqueued: number; deadPids: number[]; busy: string[] }>('recover', { name: 'dead' });
    expect(rep.busy).toEqual([]);
    expect(rep.deadPids).toContain(a!.pid);
    expect(rep.droppedEnqueued).toBeGreaterThanOrEqual(8); // A's burst, plus B's abandoned one
    // The ring works again for everyone left.
    const again = c!.call<Consumed>('consume', { name: 'dead', expect: 10_000, burst: 32, idleMs: 5000 }, 30_000);
    expect(await b!.call<Produced>('produce', { name: 'dead', producer: 3, count: 10_000, burst: 8 }, 30_000)).toEqual({ sent: 10_000 });
    verify([await again], { 3: 10_000 });
  }, 90_000);

  it('a consumer killed mid-reservation: the other consumer gets ESTALE; recover() hands its elements out again', async () => {
    const [p, a, b] = await group(2, { name: 'deadc', count: 256, opts: { elemSize: 8 } }, [
      {},
      { MP_TEST_CRASH: 'ring-dequeue-reserved', MP_TEST_CRASH_AFTER: '500' },
      {},
    ]);
    const bCons = b!.call<Consumed>('consume', { name: 'deadc', burst: 4, idleMs: 30_000 }, 60_000);
    const aCons = a!.request('consume', { name: 'deadc', burst: 4, idleMs: 30_000 }, 60_000).catch((e: Error) => e);
    const prod = p!.call<Produced>('produce', { name: 'deadc', producer: 1, count: 1_000_000, burst: 4, stallMs: 30_000 }, 60_000);
    await a!.exited;
    expect(await aCons).toBeInstanceOf(Error);
    const bRes = await bCons;
    expect(bRes.error).toBe('ESTALE');
    expect(bRes.deadPid).toBe(a!.pid);
    expect(bRes.side).toBe('consumer');
    const rep = await p!.call<{ returnedDequeued: number; deadPids: number[]; busy: string[] }>('recover', { name: 'deadc' });
    expect(rep.deadPids).toContain(a!.pid);
    expect(rep.returnedDequeued).toBeGreaterThanOrEqual(4);
    // The producer, blocked on a ring the dead consumer keeps full, learns about it too (or finished).
    const pRes = await prod;
    if (pRes.error !== undefined) {
      expect(pRes.error).toBe('ESTALE');
      expect(pRes.deadPid).toBe(a!.pid);
    }
  }, 90_000);

  it('a producer SIGKILLed at a random moment: the rest finish or get ESTALE (none hangs: their calls time out at 60 s)', async () => {
    const [c, a, b] = await group(2, { name: 'rnd', count: 1024, opts: { elemSize: 8 } });
    const consumed = c!.call<Consumed>('consume', { name: 'rnd', burst: 32, idleMs: 3000 }, 60_000);
    const bDone = b!.call<Produced>('produce', { name: 'rnd', producer: 2, count: 2_000_000, burst: 8, stallMs: 5000 }, 60_000);
    void a!.request('produce', { name: 'rnd', producer: 1, count: 50_000_000, burst: 8 }, 60_000).catch(() => undefined);
    // The random moment of the fault (not a synchronisation: any moment must do).
    await new Promise((r) => setTimeout(r, 300 + Math.random() * 300));
    await a!.kill('SIGKILL');
    const bRes = await bDone;
    const cRes = await consumed;
    if (bRes.error === undefined) {
      expect(bRes.sent).toBe(2_000_000);
    } else {
      expect(bRes.error).toBe('ESTALE');
      expect(bRes.deadPid).toBe(a!.pid);
    }
    expect(cRes.error === undefined || (cRes.error === 'ESTALE' && cRes.deadPid === a!.pid)).toBe(true);
    const p1 = cRes.per['1'];
    if (p1) {
      expect(p1.disorder).toBe(0);
      expect(p1.count).toBe(p1.last + 1); // a prefix of A's sequence, no holes
    }
    if (bRes.error === undefined && cRes.error === undefined) {
      expect(cRes.per['2']!.count).toBe(2_000_000);
      expect(cRes.per['2']!.sum).toBe(seqSum(2_000_000));
    }
  }, 90_000);
});

describe('blocking waits sleep on a futex across processes', () => {
  it.each([
    ['sync', 'waitOne'],
    ['async', 'waitOneAsync'],
  ])('a blocked consumer (%s), registered asleep, is woken by an enqueue from another process and gets that element', async (_l, op) => {
    const [p, c] = await group(1, { name: 'wake', count: 64, opts: { elemSize: 8, producer: 'single', consumer: 'single' } });
    for (let i = 0; i < 15; i++) {
      const woke = c!.call<{ k: number; wokeAt: number; value: number }>(op, { name: 'wake', timeoutMs: 20_000 }, 30_000);
      // Wait until the consumer is registered as asleep.
      for (let t = 0; (await p!.call<number>('sleepers', { name: 'wake' })) === 0; t++) {
        expect(t).toBeLessThan(500);
        await new Promise((r) => setTimeout(r, 2));
      }
      await new Promise((r) => setTimeout(r, 5));
      const sent = await p!.call<{ ok: boolean; at: number }>('enqueueStamp', { name: 'wake', value: i + 1 });
      expect(sent.ok).toBe(true);
      const w = await woke;
      expect(w.k).toBe(1);
      expect(w.value).toBe(i + 1);
    }
  }, 60_000);

  it.each([
    ['sync', false],
    ['async', true],
  ])('an idle blocked consumer (%s) stays blocked until its timeout and returns 0 elements', async (_l, async) => {
    const [, c] = await group(1, { name: 'idle', count: 64, opts: { elemSize: 8 } });
    const r = await c!.call<{ k: number; wallMs: number; cpuMs: number }>('idleCpu', { name: 'idle', timeoutMs: 2000, async }, 30_000);
    expect(r.k).toBe(0);
    expect(r.wallMs).toBeGreaterThan(1500);
  }, 30_000);
});

describe('process model', () => {
  it('Ring.create before init() → ENOTCONN', async () => {
    const a = agent();
    const r = await a.request('createNoInit');
    expect(r.ok).toBe(false);
    expect(r.code).toBe('ENOTCONN');
  });

  it('a secondary sees the ring the primary created, with its modes', async () => {
    const [, s] = await group(1, { name: 'modes', count: 64, opts: { elemSize: 16, producer: 'hts', consumer: 'rts' } });
    expect(await s!.call('lookup', { name: 'modes' })).toEqual({ capacity: 63, elemSize: 16, producer: 'hts', consumer: 'rts' });
  });
});
