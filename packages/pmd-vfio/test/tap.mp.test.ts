/**
 * net_tap across real processes, inside network namespaces the tests make and delete: frames both
 * ways between a multi-queue TAP port and an af_packet port on the same interface, each byte checked;
 * a 3-queue TAP polled by a primary and 2 secondaries (queue descriptors passed over @mp/ipc): flows
 * spread by the kernel, every frame it handed to a queue read once; 12 queues (more than one rte_mp
 * message carries) all reach a secondary; link events in every process.
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { netnsUnavailable, useAgents, useNetns } from '@mp/test-utils';
import type { Agent, Netns } from '@mp/test-utils';
import { after, netGroup, until } from './net-group.js';

const agent = useAgents(join(import.meta.dirname, 'fixtures/net-agent.mjs'));
const netns = useNetns();
const why = netnsUnavailable();

interface Rx {
  all: number;
  got: number;
  bad: number;
  dup: number;
  sum: number;
  flows: Record<string, number>;
}

async function setup(nSec: number): Promise<{ ns: Netns; p: Agent; s: Agent[] }> {
  const ns = netns('tap');
  const { p, s } = await netGroup(agent, ns, 'tap', nSec);
  return { ns, p, s };
}

/** A TAP port of `queues` queues (made by the probe) and an af_packet port on the same interface, both started. */
async function ports(p: Agent, queues: number): Promise<{ tap: number; afp: number }> {
  const tap = await p.call<number>('probe', { devargs: `net_tap0,iface=mptap0,queues=${queues}` });
  await p.call('setup', { port: tap, nbRxq: queues, nbTxq: queues });
  await p.call('start', { port: tap });
  await p.waitEvent((e) => e.event === 'link-up' && (e.data as { port: number }).port === tap);
  const afp = await p.call<number>('probe', { devargs: 'net_af_packet0,iface=mptap0' });
  await p.call('setup', { port: afp, nbRxq: 1, nbTxq: 1 });
  await p.call('start', { port: afp });
  return { tap, afp };
}

const sys = (ns: Netns, what: string): number => Number(ns.run('cat', `/sys/class/net/mptap0/statistics/${what}`).trim());

describe.skipIf(why !== undefined)(`net_tap (multi-queue TAP in a network namespace)${why ? ` — skipped: ${why}` : ''}`, () => {
  it('3000 frames each way between the TAP port and the kernel, each byte checked: checksums equal, none lost, none twice', async () => {
    const { p } = await setup(0);
    const { tap, afp } = await ports(p, 1);
    await p.call('rxStart', { port: afp, q: 0 });
    await p.call('rxStart', { port: tap, q: 0 });
    const out = await p.call<{ sum: number }>('send', { port: tap, flows: 3, count: 1000, len: 200, window: 256 });
    const back = await p.call<{ sum: number }>('send', { port: afp, flows: 3, count: 1000, len: 100, window: 256 });
    await until(async () => (await p.call<Rx>('rxPeek', { port: afp, q: 0 })).got >= 3000 && (await p.call<Rx>('rxPeek', { port: tap, q: 0 })).got >= 3000, '3000 frames each way');
    expect(await p.call<Rx>('rxStop', { port: afp, q: 0 })).toMatchObject({ got: 3000, bad: 0, dup: 0, sum: out.sum });
    expect(await p.call<Rx>('rxStop', { port: tap, q: 0 })).toMatchObject({ got: 3000, bad: 0, dup: 0, sum: back.sum });
  });

  it('primary + 2 secondaries poll queues 0, 1, 2: flows spread, every frame the kernel handed to a queue read once', async () => {
    const { ns, p, s } = await setup(2);
    const { tap, afp } = await ports(p, 3);
    const pollers = [p, ...s];
    for (const [q, x] of pollers.entries()) {
      if (x !== p) await x.call('attach', { name: 'net_tap0' });
      await x.call('rxStart', { port: tap, q });
    }
    const base = sys(ns, 'tx_packets');
    const sent = await p.call<{ sum: number }>('send', { port: afp, flows: 32, count: 100, len: 80, window: 256 });
    const total = async (): Promise<number> => (await Promise.all(pollers.map((x, q) => x.call<Rx>('rxPeek', { port: tap, q })))).reduce((n, r) => n + r.all, 0);
    await until(async () => sys(ns, 'tx_packets') - base + sys(ns, 'tx_dropped') >= 3200 && (await total()) >= sys(ns, 'tx_packets') - base, async () => `the queues to drain: tap tx_packets ${sys(ns, 'tx_packets') - base}, read ${await total()}`);
    const rs = await Promise.all(pollers.map((x, q) => x.call<Rx>('rxStop', { port: tap, q })));
    expect(rs.reduce((n, r) => n + r.all, 0)).toBe(sys(ns, 'tx_packets') - base);
    for (const r of rs) expect(r).toMatchObject({ bad: 0, dup: 0 });
    const owner = new Map<string, number>();
    for (const [q, r] of rs.entries()) for (const f of Object.keys(r.flows)) {
      expect(owner.has(f), `flow ${f} seen in queues ${owner.get(f)} and ${q}`).toBe(false);
      owner.set(f, q);
    }
    expect(rs.filter((r) => r.got > 0).length).toBeGreaterThanOrEqual(2);
    if (sys(ns, 'tx_dropped') === 0) expect(rs.reduce((n, r) => n + r.sum, 0)).toBe(sent.sum);
    expect((await p.call<{ rxOwners: number[] }>('info', { port: tap })).rxOwners).toEqual(pollers.map((x) => x.pid));
  });

  it('12 queues: a secondary gets all 12 descriptors (two rte_mp messages) and sends on queue 11', async () => {
    const { p, s } = await setup(1);
    const { tap, afp } = await ports(p, 12);
    await p.call('rxStart', { port: afp, q: 0 });
    await s[0]!.call('attach', { name: 'net_tap0' });
    expect(await s[0]!.call('burst', { port: tap, dir: 'tx', q: 11, n: 8 })).toBe(8);
    expect(await s[0]!.call('burst', { port: tap, dir: 'tx', q: 9, n: 8 })).toBe(8);
    await until(async () => (await p.call<Rx>('rxPeek', { port: afp, q: 0 })).got >= 16, '16 frames at the af_packet port');
    expect(await p.call<Rx>('rxStop', { port: afp, q: 0 })).toMatchObject({ got: 16, bad: 0 });
  });

  it('a secondary SIGKILLed while polling a TAP queue (holding mbufs): another process claims the queue and receives; the mbufs come back', async () => {
    const { p, s } = await setup(2);
    const { tap, afp } = await ports(p, 1);
    const start = await p.call<number>('avail');
    await s[0]!.call('attach', { name: 'net_tap0' });
    await s[0]!.call('rxStart', { port: tap, q: 0, holdEvery: 2 });
    await p.call('send', { port: afp, flows: 1, count: 400, window: 128 });
    await s[0]!.waitEvent((e) => e.event === 'holding');
    expect(await p.call<number>('avail')).toBeLessThan(start);
    expect((await s[1]!.request('rxStart', { port: tap, q: 0 })).code).toBe('EBUSY');
    await s[0]!.kill('SIGKILL');
    await p.waitEvent((e) => e.event === 'proc-exit' && (e.data as { pid: number }).pid === s[0]!.pid);
    await s[1]!.call('attach', { name: 'net_tap0' });
    await s[1]!.call('rxStart', { port: tap, q: 0 });
    await p.call('send', { port: afp, flows: 1, firstFlow: 1, count: 300, window: 128 });
    await until(async () => ((await s[1]!.call<Rx>('rxPeek', { port: tap, q: 0 })).flows[1] ?? 0) >= 300, 'the new poller to receive flow 1');
    const got = await s[1]!.call<Rx>('rxStop', { port: tap, q: 0 });
    expect(got).toMatchObject({ bad: 0, dup: 0 });
    expect(got.flows[1]).toBe(300);
    await until(async () => (await p.call<number>('avail')) === start, "the dead poller's mbufs back in the pool");
  });

  it('the TAP goes down: link-down in every process, bursts return 0; up again: link-up everywhere; queues 0 or 17: EINVAL', async () => {
    const { ns, p, s } = await setup(2);
    const { tap } = await ports(p, 2);
    for (const x of s) await x.call('attach', { name: 'net_tap0' });
    const all = [p, ...s];
    let marks = all.map((x) => x.events.length);
    ns.link('mptap0', false);
    for (const [i, x] of all.entries()) expect((await after(x, marks[i]!, (e) => e.event === 'link-down' && (e.data as { port: number }).port === tap)).data).toMatchObject({ port: tap, status: 'down', reason: 'interface mptap0 is down' });
    expect(await s[0]!.call('burst', { port: tap, dir: 'tx', q: 1, n: 4 })).toBe(0);
    marks = all.map((x) => x.events.length);
    ns.link('mptap0', true);
    for (const [i, x] of all.entries()) await after(x, marks[i]!, (e) => e.event === 'link-up' && (e.data as { port: number }).port === tap);
    expect(await s[0]!.call('burst', { port: tap, dir: 'tx', q: 1, n: 4 })).toBe(4);
    for (const bad of ['net_tap1,iface=mptap1,queues=0', 'net_tap1,iface=mptap1,queues=17', 'net_tap1,iface=mptap1,speed=1']) expect((await p.request('probe', { devargs: bad })).code, bad).toBe('EINVAL');
  });
});
