/**
 * The virtio-net driver against the in-memory device model, across real processes: the device is
 * played by one process of the group (it reads the driver's split virtqueues in shared memory through
 * the IOVAs it was given), the driver by others. Frames both ways with content checksums, the rings
 * wrapping (and their 16-bit indices too), completions out of order, malformed used elements, link
 * events in every process, and a primary and a secondary each polling its own queue pair.
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { startGroup, useAgents } from '@mp/test-utils';
import type { Agent } from '@mp/test-utils';

const AGENT = join(import.meta.dirname, 'fixtures/virtio-agent.mjs');
const agent = useAgents(AGENT);

interface Rx {
  got: number;
  bad: number;
  sum: number;
}
interface PairStats {
  txFrames: number;
  txBytes: number;
  txSum: number;
  rxFrames: number;
  rxSum: number;
  pending: number;
}
interface ModelStats {
  pairs: PairStats[];
  active: number;
  dmaErrors: number;
  descErrors: number;
}

/** A primary with a pool, a device process (a secondary) with a model, and the port probed by the primary. */
async function group(opts: { pairs?: number; nq?: number; nbDesc?: number; start?: boolean } = {}): Promise<{ p: Agent; dev: Agent; prefix: string; port: number }> {
  const { pairs = 2, nq = 1, nbDesc = 256, start = true } = opts;
  const { p, s: [dev], prefix } = await startGroup(agent, 1, {
    tag: 'vio',
    primaryArgs: ['-m', '256'],
    ready: (x, i) => (i < 0 ? x.call('pool', { create: true, n: 4095 }) : x.call('model', { name: 'm0', pairs, queueMax: 256 })),
  });
  const port = await p.call<number>('probe', { devargs: 'net_virtio_model0,device=m0' });
  if (start) {
    await p.call('setup', { port, nbRxq: nq, nbTxq: nq, nbDesc });
    await p.call('start', { port });
  }
  return { p, dev: dev!, prefix, port };
}

describe('virtio-net over the device model (another process)', () => {
  it('100 000 frames each way with content checksums: the 256-entry rings wrap ~390 times, their u16 indices wrap too; every mbuf comes back', async () => {
    const { p, dev, port } = await group();
    const N = 100_000;
    await dev.call('modelGenerate', { pair: 0, count: N, len: 64 });
    const rx = await p.call<Rx>('rx', { port, q: 0, count: N, len: 64 }, 120_000);
    expect(rx).toMatchObject({ got: N, bad: 0 });
    const tx = await p.call<{ sent: number; sum: number }>('tx', { port, q: 0, count: N, len: 100 }, 120_000);
    expect(tx.sent).toBe(N);
    const d = await dev.call<PairStats>('modelWaitTx', { pair: 0, count: N }, 120_000);
    const ms = await dev.call<ModelStats>('modelStats');
    // What the device generated is what the driver delivered; what the driver sent the device read.
    expect(rx.sum).toBe(ms.pairs[0]!.rxSum);
    expect(d).toMatchObject({ txFrames: N, txBytes: N * 100, txSum: tx.sum });
    expect(ms).toMatchObject({ dmaErrors: 0, descErrors: 0 });
    const st = await p.call<{ ipackets: number; opackets: number; ibytes: number; obytes: number; ierrors: number }>('stats', { port });
    expect(st).toMatchObject({ ipackets: N, opackets: N, ibytes: N * 64, obytes: N * 100, ierrors: 0 });
    await p.call('stop', { port });
    expect(await p.call('avail')).toBe(4095); // all of the pool: the rx ring's and the tx ring's came back
  });

  it('completions out of order (used ring shuffled in windows of 16): nothing lost, nothing twice, the checksums hold', async () => {
    const { p, dev, port } = await group();
    await dev.call('modelReorder', { window: 16 });
    const N = 20_000;
    await dev.call('modelGenerate', { pair: 0, count: N, len: 200 });
    const rx = await p.call<Rx>('rx', { port, q: 0, count: N, len: 200 }, 120_000);
    expect(rx).toMatchObject({ got: N, bad: 0 });
    const tx = await p.call<{ sent: number; sum: number }>('tx', { port, q: 0, count: N, len: 60 }, 120_000);
    const d = await dev.call<PairStats>('modelWaitTx', { pair: 0, count: N }, 120_000);
    const ms = await dev.call<ModelStats>('modelStats');
    expect(rx.sum).toBe(ms.pairs[0]!.rxSum);
    expect(d).toMatchObject({ txFrames: N, txSum: tx.sum });
    await p.call('stop', { port });
    expect(await p.call('avail')).toBe(4095); // all of the pool: the rx ring's and the tx ring's came back
  });

  it('malformed used elements (a length past the buffer, an id out of range) are dropped and counted; traffic goes on', async () => {
    const { p, dev, port } = await group();
    // rx (virtqueue 0): 5 used elements with an impossible length → 5 drops counted as ierrors.
    await dev.call('modelFault', { vq: 0, kind: 'bad-len', count: 5 });
    await dev.call('modelGenerate', { pair: 0, count: 1000, len: 64 });
    const rx = await p.call<Rx>('rx', { port, q: 0, count: 995, len: 64 });
    expect(rx).toMatchObject({ got: 995, bad: 0 });
    let st = await p.call<{ ipackets: number; ierrors: number }>('stats', { port });
    expect(st).toMatchObject({ ipackets: 995, ierrors: 5 });
    // tx (virtqueue 1): 3 used elements naming descriptor 263 of a 256-entry ring → counted, no crash.
    await dev.call('modelFault', { vq: 1, kind: 'bad-id', count: 3 });
    const tx = await p.call<{ sent: number }>('tx', { port, q: 0, count: 1000 });
    expect(tx.sent).toBe(1000);
    await dev.call('modelWaitTx', { pair: 0, count: 1000 });
    // The completions are read at the next bursts: send more, then look.
    expect((await p.call<{ sent: number }>('tx', { port, q: 0, count: 64 })).sent).toBe(64);
    const xs = await p.call<Record<string, number>>('xstats', { port });
    expect(xs['tx_q0_virtio_bad_used']).toBe(3);
    // And the port still carries frames both ways.
    await dev.call('modelGenerate', { pair: 0, count: 500, len: 64 });
    expect(await p.call<Rx>('rx', { port, q: 0, count: 500, len: 64 })).toMatchObject({ got: 500, bad: 0 });
    st = await p.call<{ ipackets: number; ierrors: number }>('stats', { port });
    expect(st.ipackets).toBe(1495);
  });

  it('link status: the device takes its link down and up → link-down / link-up events in the primary and a secondary', async () => {
    const { p, dev, prefix, port } = await group();
    const s = agent();
    await s.call('init', { args: [`--file-prefix=${prefix}`, '--proc-type=secondary', '--no-huge'] });
    await s.call('attach', { name: 'net_virtio_model0' });
    expect(await s.call('link', { port })).toMatchObject({ status: 'up' });
    await dev.call('modelLink', { up: false });
    for (const a of [p, s]) await a.waitEvent((e) => e.event === 'link-down');
    expect(await s.call('link', { port })).toMatchObject({ status: 'down' });
    await dev.call('modelLink', { up: true });
    for (const a of [p, s]) await a.waitEvent((e) => e.event === 'link-up' && p.events.some((x) => x.event === 'link-down'));
    expect(await p.call('link', { port })).toMatchObject({ status: 'up' });
  });

  it('primary and secondary each poll their own queue pair (VQ_PAIRS_SET 2 over the control queue); the flows stay apart', async () => {
    const { p, dev, prefix, port } = await group({ pairs: 2, nq: 2 });
    const s = agent();
    await s.call('init', { args: [`--file-prefix=${prefix}`, '--proc-type=secondary', '--no-huge'] });
    await s.call('pool', {});
    await s.call('attach', { name: 'net_virtio_model0' });
    const N = 20_000;
    await dev.call('modelGenerate', { pair: 0, count: N, len: 64 });
    await dev.call('modelGenerate', { pair: 1, count: N, len: 64 });
    const [r0, r1, t0, t1] = await Promise.all([
      p.call<Rx>('rx', { port, q: 0, count: N, len: 64 }, 120_000),
      s.call<Rx>('rx', { port, q: 1, count: N, len: 64 }, 120_000),
      p.call<{ sent: number; sum: number }>('tx', { port, q: 0, count: N, len: 80 }, 120_000),
      s.call<{ sent: number; sum: number }>('tx', { port, q: 1, count: N, len: 90 }, 120_000),
    ]);
    // rx checks the marker: pair 0's frames on queue 0 only, pair 1's on queue 1 only.
    expect(r0).toMatchObject({ got: N, bad: 0 });
    expect(r1).toMatchObject({ got: N, bad: 0 });
    const d0 = await dev.call<PairStats>('modelWaitTx', { pair: 0, count: N }, 120_000);
    const d1 = await dev.call<PairStats>('modelWaitTx', { pair: 1, count: N }, 120_000);
    const ms = await dev.call<ModelStats>('modelStats');
    expect(ms.active).toBe(2);
    expect([r0.sum, r1.sum]).toEqual([ms.pairs[0]!.rxSum, ms.pairs[1]!.rxSum]);
    expect(d0).toMatchObject({ txFrames: N, txBytes: N * 80, txSum: t0.sum });
    expect(d1).toMatchObject({ txFrames: N, txBytes: N * 90, txSum: t1.sum });
    const info = await p.call<{ rxOwners: number[] }>('info', { port });
    expect(info.rxOwners).toEqual([p.pid, s.pid]);
    // The secondary's queue is its own: the primary polling it is refused.
    expect((await p.request('burst', { port, dir: 'rx', q: 1 })).code).toBe('EBUSY');
  });

  it('a secondary SIGKILLed while polling its queue pair (holding 100 received mbufs, 500 sent in flight): the primary takes the pair over as it is, the held mbufs come back', async () => {
    const { p, dev, prefix, port } = await group({ pairs: 2, nq: 2 });
    const s = agent();
    await s.call('init', { args: [`--file-prefix=${prefix}`, '--proc-type=secondary', '--no-huge'] });
    await s.call('pool', {});
    await s.call('attach', { name: 'net_virtio_model0' });
    await dev.call('modelGenerate', { pair: 1, count: 100, len: 64 });
    expect(await s.call('rxHold', { port, q: 1, count: 100 })).toBe(100);
    expect((await s.call<{ sent: number }>('tx', { port, q: 1, count: 500 })).sent).toBe(500);
    await dev.call('modelWaitTx', { pair: 1, count: 500 });
    await s.kill('SIGKILL');
    // Also when the primary never saw the secondary alive (it lives ~150 ms) and the device process reclaimed
    // its slot first: the exit comes from @mp/eal's exit log.
    await p.waitEvent((e) => e.event === 'proc-exit' && (e.data as { pid: number }).pid === s.pid);
    // The rx ring still holds its posted buffers (they belong to the queue, not to the dead poller).
    await dev.call('modelGenerate', { pair: 1, count: 5000, len: 64 });
    const r = await p.call<Rx>('rx', { port, q: 1, count: 5000, len: 64 });
    expect(r).toMatchObject({ got: 5000, bad: 0 });
    // tx: the new poller reclaims the dead one's completed sends, and sends on.
    expect((await p.call<{ sent: number }>('tx', { port, q: 1, count: 1000 })).sent).toBe(1000);
    expect((await dev.call<PairStats>('modelWaitTx', { pair: 1, count: 1500 })).txFrames).toBe(1500);
    expect((await p.call<{ rxOwners: number[] }>('info', { port })).rxOwners[1]).toBe(p.pid);
    await p.call('stop', { port });
    // Every mbuf is back: the ring's, the in-flight sends', and the 100 the dead process held.
    const deadline = Date.now() + 5000;
    let avail = await p.call<number>('avail');
    while (avail !== 4095 && Date.now() < deadline) avail = await p.call<number>('avail');
    expect(avail).toBe(4095);
  });

  it('bad input: a missing model → ENODEV naming it; more queues than the device has pairs → EINVAL; nbDesc not a power of two → EINVAL', async () => {
    const { p, port } = await group({ pairs: 1, start: false });
    const r = await p.request('probe', { devargs: 'net_virtio_model1,device=nosuch' });
    expect(r.code).toBe('ENODEV');
    expect(r.message).toContain('nosuch');
    expect((await p.request('probe', { devargs: 'net_virtio_model1' })).code).toBe('EINVAL');
    const c = await p.request('setup', { port, nbRxq: 2, nbTxq: 2 });
    expect(c.code).toBe('EINVAL');
    expect(c.message).toContain('1 queue pair');
    expect((await p.request('setup', { port, nbRxq: 1, nbTxq: 1, nbDesc: 100 })).code).toBe('EINVAL');
  });
});
