/**
 * net_af_xdp across real processes, on a veth pair with 2 queues in a network namespace the test makes
 * (and deletes): frames with checksums both ways; a primary and 2 secondaries — the secondaries outside
 * the namespace, so their sockets can only be the primary's fds — each polling its own queue; link
 * events in every process; a secondary SIGKILLed mid-burst; bad devargs.
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { netnsUnavailable, startGroup, uniquePrefix, useAgents, useNetns } from '@mp/test-utils';
import type { Agent, AgentEvent, Netns } from '@mp/test-utils';
import { afXdpUnavailable } from '../src/internal.js';
import { after } from './net-group.js';

const AGENT = join(import.meta.dirname, 'fixtures/afxdp-agent.mjs');
const netns = useNetns();
const agent = useAgents(AGENT);
const why = netnsUnavailable() ?? afXdpUnavailable();

interface Recv {
  firstBad?: unknown;
  got: number;
  bad: number;
  dup: number;
  flows: Record<string, number>;
}

/** A namespace with veth va <-> vb, 2 rx and 2 tx queues each, both up. */
function veth2(ns: Netns): void {
  // No IPv6 on the links: no router solicitations among the test's frames.
  ns.run('sysctl', '-q', '-w', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1');
  ns.run('ip', 'link', 'add', 'va', 'numrxqueues', '2', 'numtxqueues', '2', 'type', 'veth', 'peer', 'name', 'vb', 'numrxqueues', '2', 'numtxqueues', '2');
  ns.run('ip', 'link', 'set', 'va', 'up');
  ns.run('ip', 'link', 'set', 'vb', 'up');
}

/** A primary in the namespace with ports 0 (va) and 1 (vb), `nq` queues each, started. */
/** A primary in `ns` with a pool and ports 0 (va) and 1 (vb) of `nq` queues, started; `nSec` secondaries (in `ns` when `secInNs`). */
async function group(ns: Netns, nq: number, nSec: number, secInNs = false): Promise<{ p: Agent; s: Agent[] }> {
  return startGroup((env) => agent(env, [], { netns: ns.name }), nSec, {
    tag: 'xdp',
    primaryArgs: ['-m', '256'],
    spawnSecondary: secInNs ? undefined : (env) => agent(env),
    ready: async (x, i) => {
      if (i >= 0) return x.call('pool', {});
      await x.call('pool', { create: true, n: 16383 });
      expect(await x.call('probe', { devargs: 'net_af_xdp0,iface=va,queue_count=2' })).toBe(0);
      expect(await x.call('probe', { devargs: 'net_af_xdp1,iface=vb,start_queue=0,queue_count=2' })).toBe(1);
      for (const port of [0, 1]) await x.call('setup', { port, nbRxq: nq, nbTxq: nq });
    },
  });
}

/** Frames the kernel counted as dropped on rx queue q of a port (the socket's XDP_STATISTICS). */
async function drops(x: Agent, port: number, q: number): Promise<number> {
  const st = await x.call<Record<string, number>>('xstats', { port });
  return (st[`af_xdp_q${q}_rx_dropped`] ?? 0) + (st[`af_xdp_q${q}_rx_ring_full`] ?? 0);
}

const linkOf0 = (kind: string) => (e: AgentEvent): boolean => e.event === kind && (e.data as { port: number }).port === 0;

describe('net_af_xdp', () => {
  it.skipIf(why !== undefined)(`frames with checksums both ways between two ports on a veth pair${why ? ` (skipped: ${why})` : ''}`, async () => {
    const ns = netns('xdp');
    veth2(ns);
    const { p } = await group(ns, 1, 0);
    const N = 20_000;
    for (const [from, to, flow] of [[0, 1, 1], [1, 0, 2]] as const) {
      const r = p.call<Recv>('recv', { port: to, q: 0, count: N, idleMs: 3000 }, 90_000);
      expect(await p.call('send', { port: from, q: 0, flow, count: N, len: 64 + flow * 100 }, 90_000)).toBe(N);
      const got = await r;
      expect(got.bad, JSON.stringify(got.firstBad)).toBe(0);
      expect(got.dup).toBe(0);
      expect(Object.keys(got.flows)).toEqual([String(flow)]);
      expect(got.got).toBeGreaterThan(0);
      expect(got.got + (await drops(p, to, 0))).toBe(N);
    }
    const st = await p.call<{ opackets: number; ipackets: number }>('stats', { port: 0 });
    expect(st.opackets).toBe(N);
  });

  it.skipIf(why !== undefined)(`primary + 2 secondaries outside the namespace, each polling its own queue of a 2-queue port: flows spread, nothing lost or seen twice${why ? ` (skipped: ${why})` : ''}`, async () => {
    const ns = netns('xdp');
    veth2(ns);
    const { p, s } = await group(ns, 2, 2);
    const N = 10_000;
    // va tx queue q lands on vb rx queue q (veth picks the peer's queue by the sender's).
    const r = s.map((x, i) => x.call<Recv>('recv', { port: 1, q: i, count: N, idleMs: 3000 }, 90_000));
    for (let i = 0; i < 2; i++) await s[i]!.call('ready', { port: 1, dir: 'rx', q: i });
    await Promise.all([0, 1].map((q) => p.call('send', { port: 0, q, flow: 10 + q, count: N }, 90_000)));
    const got = await Promise.all(r);
    for (let i = 0; i < 2; i++) {
      expect(got[i]!.bad, JSON.stringify(got[i]!.firstBad)).toBe(0);
      expect(got[i]!.dup).toBe(0);
      expect(Object.keys(got[i]!.flows)).toEqual([String(10 + i)]);
      expect(got[i]!.got + (await drops(p, 1, i))).toBe(N);
    }
    expect((await p.call<{ rxOwners: number[] }>('info', { port: 1 })).rxOwners).toEqual([s[0]!.pid, s[1]!.pid]);
    // And back: each secondary sends on its own tx queue of vb, the primary polls both rx queues of va.
    const back = [0, 1].map((q) => p.call<Recv>('recv', { port: 0, q, count: N, idleMs: 3000 }, 90_000));
    await Promise.all(s.map((x, i) => x.call('send', { port: 1, q: i, flow: 20 + i, count: N }, 90_000)));
    const b = await Promise.all(back);
    for (let q = 0; q < 2; q++) {
      expect(b[q]).toMatchObject({ bad: 0, dup: 0 });
      expect(Object.keys(b[q]!.flows)).toEqual([String(20 + q)]);
      expect(b[q]!.got + (await drops(p, 0, q))).toBe(N);
    }
  });

  it.skipIf(why !== undefined)(`the interface going down, up and away: link events in every process, bursts return 0${why ? ` (skipped: ${why})` : ''}`, async () => {
    const ns = netns('xdp');
    veth2(ns);
    const { p, s } = await group(ns, 1, 2);
    for (const x of s) await x.call('attach', { name: 'net_af_xdp0' });
    expect(await s[0]!.call('link', { port: 0 })).toEqual({ status: 'up', speed: 10000, duplex: 'full' });
    const all = [p, ...s];
    let marks = all.map((x) => x.events.length);
    ns.link('va', false);
    for (const [i, x] of all.entries()) expect((await after(x, marks[i]!, linkOf0('link-down'))).data).toMatchObject({ port: 0, status: 'down', reason: "interface 'va' is down" });
    expect(await s[0]!.call('burst', { port: 0, dir: 'rx', q: 0 })).toBe(0);
    expect(await s[1]!.call('burst', { port: 0, dir: 'tx', q: 0 })).toBe(0);
    marks = all.map((x) => x.events.length);
    ns.link('va', true);
    for (const [i, x] of all.entries()) expect((await after(x, marks[i]!, linkOf0('link-up'))).data).toMatchObject({ port: 0, status: 'up', speed: 10000 });
    marks = all.map((x) => x.events.length);
    ns.run('ip', 'link', 'del', 'va');
    // Deleting va closes it before unlisting it, all under RTNL: the prober reads after RTNL, so it is gone.
    for (const [i, x] of all.entries()) expect((await after(x, marks[i]!, linkOf0('link-down'))).data).toMatchObject({ port: 0, status: 'down', reason: "interface 'va' is gone" });
    expect(await s[1]!.call('link', { port: 0 })).toMatchObject({ status: 'down' });
    expect(await s[0]!.call('burst', { port: 0, dir: 'rx', q: 0 })).toBe(0);
    expect(await p.call('close', { port: 0 })).toBe(true);
  });

  it.skipIf(why !== undefined)(`a secondary SIGKILLed while receiving: its mbufs come back, another process takes the queue over and receives, nothing twice${why ? ` (skipped: ${why})` : ''}`, async () => {
    const ns = netns('xdp');
    veth2(ns);
    const { p, s } = await group(ns, 1, 2);
    const start = await p.call<number>('avail');
    const first = s[0]!.call<Recv>('recv', { port: 1, q: 0, count: 1e9, announceAt: 500, hold: 1000, idleMs: 60_000 }, 90_000).catch(() => undefined);
    await s[0]!.call('ready', { port: 1, dir: 'rx', q: 0 }).catch(() => undefined);
    const sending = p.call('send', { port: 0, q: 0, flow: 1, count: 20_000 }, 90_000);
    await s[0]!.waitEvent((e) => e.event === 'receiving', 30_000);
    await s[0]!.kill('SIGKILL');
    await first;
    await sending;
    await p.waitEvent((e) => e.event === 'proc-exit' && (e.data as { pid: number }).pid === s[0]!.pid);
    // The queue is free again: the other secondary takes it over and receives a second flow whole.
    const r = s[1]!.call<Recv>('recv', { port: 1, q: 0, count: 1e9, idleMs: 3000 }, 90_000);
    await s[1]!.call('ready', { port: 1, dir: 'rx', q: 0 });
    const before = await drops(p, 1, 0);
    await p.call('send', { port: 0, q: 0, flow: 2, count: 5000 }, 90_000);
    const got = await r;
    expect(got).toMatchObject({ bad: 0, dup: 0 });
    expect(got.flows['2']! + (await drops(p, 1, 0)) - before).toBe(5000);
    expect((await p.call<{ rxOwners: number[] }>('info', { port: 1 })).rxOwners).toEqual([s[1]!.pid]);
    // Every mbuf is back: the 1000 the dead one held and those it had received.
    const deadline = Date.now() + 10_000;
    let avail = await p.call<number>('avail');
    while (avail !== start && Date.now() < deadline) avail = await p.call<number>('avail');
    expect(avail).toBe(start);
  });

  it.skipIf(why !== undefined)(`the primary SIGKILLed: the secondaries' queues keep running; a survivor's close detaches the program, and when the last of them exits the kernel detaches the other${why ? ` (skipped: ${why})` : ''}`, async () => {
    const ns = netns('xdp');
    veth2(ns);
    const { p, s } = await group(ns, 1, 2);
    // Each secondary gets its fds (and the program's link) while the primary lives.
    await s[0]!.call('ready', { port: 1, dir: 'rx', q: 0 });
    await s[1]!.call('ready', { port: 0, dir: 'tx', q: 0 });
    expect(ns.run('ip', 'link', 'show', 'vb')).toMatch(/xdp/);
    await p.kill('SIGKILL');
    const r = s[0]!.call<Recv>('recv', { port: 1, q: 0, count: 5000, idleMs: 3000 }, 90_000);
    await s[1]!.call('send', { port: 0, q: 0, flow: 3, count: 5000 }, 90_000);
    const got = await r;
    expect(got).toMatchObject({ bad: 0, dup: 0 });
    expect(got.got).toBeGreaterThan(0);
    expect(got.flows['3']).toBe(got.got);
    expect(got.got + (await drops(s[0]!, 1, 0))).toBe(5000); // the secondary reads the kernel's counters itself
    expect(ns.run('ip', 'link', 'show', 'vb')).toMatch(/xdp/);
    // A survivor closes port 1: the program leaves vb at once (through its duplicate of the link).
    expect(await s[0]!.call('close', { port: 1 })).toBe(true);
    expect(ns.run('ip', 'link', 'show', 'vb')).not.toMatch(/xdp/);
    expect(ns.run('ip', 'link', 'show', 'va')).toMatch(/xdp/);
    for (const x of s) await x.kill('SIGKILL');
    expect(ns.run('ip', 'link', 'show', 'vb')).not.toMatch(/xdp/);
    expect(ns.run('ip', 'link', 'show', 'va')).not.toMatch(/xdp/);
  });

  it.skipIf(why !== undefined)(`bad input: unknown iface ENODEV naming it; queue_count 0 or above the channels, unknown key, more queues than queue_count EINVAL; a secondary's probe ENOTSUP${why ? ` (skipped: ${why})` : ''}`, async () => {
    const ns = netns('xdp');
    veth2(ns);
    const p = agent({}, [], { netns: ns.name });
    const prefix = uniquePrefix('xdp');
    await p.call('init', { args: [`--file-prefix=${prefix}`, '--no-huge', '-m', '64'] });
    const nodev = await p.request('probe', { devargs: 'net_af_xdp0,iface=nosuch0' });
    expect(nodev.code).toBe('ENODEV');
    expect(nodev.message).toContain("'nosuch0'");
    for (const bad of ['net_af_xdp0,iface=va,queue_count=0', 'net_af_xdp0,iface=va,queue_count=3', 'net_af_xdp0,iface=va,start_queue=1,queue_count=2', 'net_af_xdp0,iface=va,busy_budget=64', 'net_af_xdp0']) {
      expect((await p.request('probe', { devargs: bad })).code, bad).toBe('EINVAL');
    }
    expect(await p.call('probe', { devargs: 'net_af_xdp0,iface=va,start_queue=1,queue_count=1' })).toBe(0);
    await p.call('pool', { create: true, n: 1023 });
    const tooMany = await p.request('setup', { port: 0, nbRxq: 2, nbTxq: 1 });
    expect(tooMany.code).toBe('EINVAL');
    expect(tooMany.message).toContain('queue_count=1');
    // A secondary cannot probe: the others get their fds from the primary.
    const x = agent({}, [], { netns: ns.name });
    await x.call('init', { args: [`--file-prefix=${prefix}`, '--proc-type=secondary', '--no-huge'] });
    expect((await x.request('probe', { devargs: 'net_af_xdp1,iface=vb' })).code).toBe('ENOTSUP');
  });
});
