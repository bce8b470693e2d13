/**
 * net_af_packet across real processes, inside network namespaces the tests make (veth pairs) and
 * delete: frames with content checksums; a port of 3 queues polled by a primary and 2 secondaries
 * (each maps its own socket's rings from descriptors the primary passed over @mp/ipc): flows spread
 * by PACKET_FANOUT, nothing the kernel delivered to the rings lost, nothing seen twice; link events in
 * every process when the veth goes down and up; a poller SIGKILLed: its queue claimed by another
 * process, its mbufs back in the pool. Bad devargs: ENODEV naming the interface, EINVAL for queues.
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
  got: number;
  bad: number;
  dup: number;
  sum: number;
  flows: Record<string, number>;
}

/** A namespace with veth va ↔ vb (IPv6 off: no stray frames), and a primary inside it with a pool. */
async function setup(nSec: number): Promise<{ ns: Netns; p: Agent; s: Agent[] }> {
  const ns = netns('afp');
  ns.veth('va', 'vb');
  const { p, s } = await netGroup(agent, ns, 'afp', nSec);
  return { ns, p, s };
}

describe.skipIf(why !== undefined)(`net_af_packet (veth in a network namespace)${why ? ` — skipped: ${why}` : ''}`, () => {
  it('5000 frames va → vb, each byte checked: checksums equal, none lost, none twice, in order per flow', async () => {
    const { p } = await setup(0);
    const a = await p.call<number>('probe', { devargs: 'net_af_packet0,iface=va' });
    const b = await p.call<number>('probe', { devargs: 'net_af_packet1,iface=vb,qpairs=1' });
    for (const id of [a, b]) {
      await p.call('setup', { port: id, nbRxq: 1, nbTxq: 1 });
      await p.call('start', { port: id });
    }
    await p.call('rxStart', { port: b, q: 0 });
    const sent = await p.call<{ sent: number; sum: number }>('send', { port: a, flows: 4, count: 1250, len: 128, window: 256 });
    await until(async () => (await p.call<{ got: number }>('rxPeek', { port: b, q: 0 })).got >= 5000, '5000 frames');
    const r = await p.call<Rx>('rxStop', { port: b, q: 0 });
    expect(r).toMatchObject({ got: 5000, bad: 0, dup: 0, sum: sent.sum });
    expect(r.flows).toEqual({ 0: 1250, 1: 1250, 2: 1250, 3: 1250 });
    const x = await p.call<Record<string, number>>('xstats', { port: b });
    expect(x.af_packet_kernel_packets! - x.af_packet_kernel_drops!).toBe(5000);
    expect((await p.call<{ opackets: number }>('stats', { port: a })).opackets).toBe(5000);
  });

  it('primary + 2 secondaries poll queues 0, 1, 2 of one port: flows spread, every frame the kernel put in a ring seen once', async () => {
    const { p, s } = await setup(2);
    const a = await p.call<number>('probe', { devargs: 'net_af_packet0,iface=va' });
    const b = await p.call<number>('probe', { devargs: 'net_af_packet1,iface=vb,qpairs=3' });
    await p.call('setup', { port: a, nbRxq: 1, nbTxq: 1 });
    await p.call('setup', { port: b, nbRxq: 3, nbTxq: 3 });
    for (const id of [a, b]) await p.call('start', { port: id });
    const pollers = [p, ...s];
    for (const [q, x] of pollers.entries()) {
      if (x !== p) await x.call('attach', { name: 'net_af_packet1' });
      await x.call('rxStart', { port: b, q });
    }
    const FLOWS = 32;
    const PER = 100;
    const sent = await p.call<{ sent: number; sum: number }>('send', { port: a, flows: FLOWS, count: PER, len: 96, window: 256 });
    await until(async () => {
      const x = await p.call<Record<string, number>>('xstats', { port: b });
      const st = await p.call<{ ipackets: number }>('stats', { port: b });
      return x.af_packet_kernel_packets === FLOWS * PER && st.ipackets === x.af_packet_kernel_packets - x.af_packet_kernel_drops;
    }, async () => `every frame in a ring received: ${JSON.stringify(await p.call('xstats', { port: b }))} ${JSON.stringify(await Promise.all(pollers.map((x, q) => x.call('rxPeek', { port: b, q }))))}`);
    const rs = await Promise.all(pollers.map((x, q) => x.call<Rx>('rxStop', { port: b, q })));
    const x = await p.call<Record<string, number>>('xstats', { port: b });
    const delivered = x.af_packet_kernel_packets! - x.af_packet_kernel_drops!;
    expect(rs.reduce((n, r) => n + r.got, 0)).toBe(delivered);
    for (const r of rs) expect(r).toMatchObject({ bad: 0, dup: 0 });
    // Each flow lands in exactly one queue (hash fanout); more than one queue carries flows.
    const owner = new Map<string, number>();
    for (const [q, r] of rs.entries()) for (const f of Object.keys(r.flows)) {
      expect(owner.has(f), `flow ${f} seen in queues ${owner.get(f)} and ${q}`).toBe(false);
      owner.set(f, q);
    }
    expect(rs.filter((r) => r.got > 0).length).toBeGreaterThanOrEqual(2);
    if (x.af_packet_kernel_drops === 0) expect(rs.reduce((n, r) => n + r.sum, 0)).toBe(sent.sum);
    // Every process polled its own queue.
    expect((await p.call<{ rxOwners: number[] }>('info', { port: b })).rxOwners).toEqual(pollers.map((q) => q.pid));
  });

  it('the veth goes down: link-down in every process and bursts return 0; up again: link-up everywhere', async () => {
    const { ns, p, s } = await setup(2);
    const b = await p.call<number>('probe', { devargs: 'net_af_packet1,iface=vb,qpairs=2' });
    await p.call('setup', { port: b, nbRxq: 2, nbTxq: 2 });
    await p.call('start', { port: b });
    for (const x of s) await x.call('attach', { name: 'net_af_packet1' });
    expect(await s[0]!.call('burst', { port: b, dir: 'rx', q: 1 })).toBe(0);
    const all = [p, ...s];
    let marks = all.map((x) => x.events.length);
    ns.link('vb', false);
    for (const [i, x] of all.entries()) expect((await after(x, marks[i]!, (e) => e.event === 'link-down')).data).toMatchObject({ port: b, status: 'down', reason: 'interface vb is down' });
    expect(await s[0]!.call('link', { port: b })).toMatchObject({ status: 'down' });
    expect(await s[0]!.call('burst', { port: b, dir: 'tx', q: 1, n: 4 })).toBe(0);
    marks = all.map((x) => x.events.length);
    ns.link('vb', true);
    for (const [i, x] of all.entries()) expect((await after(x, marks[i]!, (e) => e.event === 'link-up')).data).toMatchObject({ port: b, status: 'up' });
    expect(await s[0]!.call('burst', { port: b, dir: 'tx', q: 1, n: 4 })).toBe(4);
    marks = all.map((x) => x.events.length);
    ns.run('ip', 'link', 'del', 'va'); // takes vb with it
    for (const [i, x] of all.entries()) expect((await after(x, marks[i]!, (e) => e.event === 'link-down')).data).toMatchObject({ port: b, status: 'down', reason: 'interface vb is gone' });
    expect(await s[1]!.call('burst', { port: b, dir: 'rx', q: 0 })).toBe(0);
  });

  it('a secondary SIGKILLed while polling (holding mbufs): another process claims its queue and receives; the mbufs come back', async () => {
    const { p, s } = await setup(2);
    const a = await p.call<number>('probe', { devargs: 'net_af_packet0,iface=va' });
    const b = await p.call<number>('probe', { devargs: 'net_af_packet1,iface=vb' });
    await p.call('setup', { port: a, nbRxq: 1, nbTxq: 1 });
    await p.call('setup', { port: b, nbRxq: 1, nbTxq: 1 });
    for (const id of [a, b]) await p.call('start', { port: id });
    const start = await p.call<number>('avail');
    await s[0]!.call('attach', { name: 'net_af_packet1' });
    await s[0]!.call('rxStart', { port: b, q: 0, holdEvery: 2 });
    await p.call('send', { port: a, flows: 1, count: 400, window: 128 });
    await s[0]!.waitEvent((e) => e.event === 'holding');
    expect(await p.call<number>('avail')).toBeLessThan(start);
    const r = await s[1]!.request('rxStart', { port: b, q: 0 });
    expect(r.code).toBe('EBUSY');
    await s[0]!.kill('SIGKILL');
    await p.waitEvent((e) => e.event === 'proc-exit' && (e.data as { pid: number }).pid === s[0]!.pid);
    await s[1]!.call('attach', { name: 'net_af_packet1' });
    await s[1]!.call('rxStart', { port: b, q: 0 });
    await p.call('send', { port: a, flows: 1, firstFlow: 1, count: 300, window: 128 });
    await until(async () => ((await s[1]!.call<Rx>('rxPeek', { port: b, q: 0 })).flows[1] ?? 0) >= 300, 'the new poller to receive flow 1');
    const got = await s[1]!.call<Rx>('rxStop', { port: b, q: 0 });
    expect(got).toMatchObject({ bad: 0, dup: 0 });
    expect(got.flows[1]).toBe(300);
    await until(async () => (await p.call<number>('avail')) === start, 'the dead poller\'s mbufs back in the pool');
  });

  it('bad devargs: an unknown interface is ENODEV naming it; qpairs 0 or above 16, or more queues than qpairs, EINVAL; unknown keys EINVAL', async () => {
    const { p } = await setup(0);
    const r = await p.request('probe', { devargs: 'net_af_packet0,iface=nosuch0' });
    expect(r.code).toBe('ENODEV');
    expect(r.message).toContain('nosuch0');
    for (const bad of ['net_af_packet0,iface=va,qpairs=0', 'net_af_packet0,iface=va,qpairs=17', 'net_af_packet0,iface=va,colour=red', 'net_af_packet0', 'net_af_packet0,iface=va,framesz=1000']) {
      expect((await p.request('probe', { devargs: bad })).code, bad).toBe('EINVAL');
    }
    const id = await p.call<number>('probe', { devargs: 'net_af_packet0,iface=va,qpairs=2' });
    const c = await p.request('configure', { port: id, nbRxq: 3, nbTxq: 1 });
    expect(c.code).toBe('EINVAL');
    expect(c.message).toContain('qpairs=2');
  });
});
