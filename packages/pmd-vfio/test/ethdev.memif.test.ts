/**
 * net_memif through ethdev across real processes: the prober holds the control channel, SECONDARIES
 * poll their own queues over rings they mapped themselves (regions fetched from the prober over
 * @mp/ipc, remapped after a reconnect); link events with the peer's reason in every process; DPDK's
 * testpmd as the peer in both roles; no mbuf leaks.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { startGroup, uniquePrefix, useAgents, useTempDir } from '@mp/test-utils';
import type { Agent } from '@mp/test-utils';
import { TESTPMD, Testpmd } from './fixtures/testpmd.js';

const AGENT = join(import.meta.dirname, 'fixtures/ethdev-agent.mjs');
// Registered before the agents and testpmds, so (after-hooks run last-registered first) they die before their dirs go.
const sockDir = useTempDir('ethmemif');
const agent = useAgents(AGENT);

const pmds: Testpmd[] = [];
afterEach(async () => {
  await Promise.all(pmds.splice(0).map((t) => t.kill()));
});

function sockPath(): string {
  return join(sockDir(), 'memif.sock');
}

interface Recv {
  got: number;
  bad: number;
  flows: Record<string, number>;
}
interface LinkEv {
  port: number;
  name: string;
  status: string;
  reason?: string;
}

/** A group: a primary with a pool and `nSec` secondaries attached to it. */
async function group(nSec: number): Promise<{ p: Agent; s: Agent[] }> {
  return startGroup(agent, nSec, { tag: 'ethm', primaryArgs: ['-m', '256'], ready: (x, i) => x.call('pool', i < 0 ? { create: true, n: 16383 } : {}) });
}

/** Probe, set up nq queue pairs and start a memif port in the primary `p`; `s` attach it before it starts. */
async function memifPort(p: Agent, devargs: string, nq: number, s: Agent[] = []): Promise<number> {
  const id = await p.call<number>('probe', { devargs });
  for (const x of s) await x.call('attach', { name: devargs.split(',')[0] });
  await p.call('setup', { port: id, nbRxq: nq, nbTxq: nq, nbDesc: 1024 });
  await p.call('start', { port: id });
  return id;
}

const isUp = (name: string) => (e: { event: string; data?: unknown }): boolean => e.event === 'link-up' && (e.data as LinkEv).name === name;
const isDown = (name: string) => (e: { event: string; data?: unknown }): boolean => e.event === 'link-down' && (e.data as LinkEv).name === name;
/** The n-th event (1-based, seen or future) matching pred. */
function nth(x: Agent, pred: (e: { event: string; data?: unknown }) => boolean, n: number, timeoutMs?: number): ReturnType<Agent['waitEvent']> {
  let c = 0;
  return x.waitEvent((e) => pred(e) && ++c === n, timeoutMs);
}

describe('net_memif through ethdev', () => {
  it('devargs: DPDK key spellings are accepted, bad values and unknown keys are EINVAL naming them', async () => {
    const { p } = await group(0);
    const sock = sockPath();
    expect(await p.call('probe', { devargs: `net_memif0,role=server,socket=${sock},socket-abstract=no,id=3,secret=abc,bsize=1024,rsize=9,mac=02:00:00:00:00:09` })).toBe(0);
    expect((await p.call<{ mac: string; driver: string }>('info', { port: 0 }))).toMatchObject({ mac: '02:00:00:00:00:09', driver: 'net_memif' });
    for (const [d, re] of [
      [`net_memif1,role=master,socket=${sock}x`, /role=master/],
      [`net_memif1,socket=${sock}y,rsize=15`, /rsize=15/],
      [`net_memif1,socket=${sock}z,zero-copy=yes`, /zero-copy/],
      [`net_memif1,socket=${sock}w,colour=blue`, /no argument 'colour'/],
      [`net_memif1,socket=${sock}v,socket-abstract=maybe`, /socket-abstract=maybe/],
    ] as const) {
      const r = await p.request('probe', { devargs: d });
      expect(r.code).toBe('EINVAL');
      expect(r.message).toMatch(re);
    }
    // The same id on the same socket is refused (the first port keeps it).
    expect((await p.request('probe', { devargs: `net_memif1,role=server,socket=${sock},id=3` })).code).toBe('EEXIST');
  });

  it('two groups (server port in one, client port in the other), traffic polled by secondaries: per-flow sequences intact both ways, stats add up, no mbuf leak', async () => {
    const A = await group(2);
    const B = await group(2);
    const sock = sockPath();
    const startA = await A.p.call<number>('avail');
    const startB = await B.p.call<number>('avail');
    await memifPort(A.p, `net_memif0,role=server,socket=${sock},socket-abstract=no`, 2, A.s);
    await memifPort(B.p, `net_memif0,role=client,socket=${sock},socket-abstract=no`, 2, B.s);
    for (const x of [A.p, ...A.s, B.p, ...B.s]) await x.waitEvent(isUp('net_memif0'));
    const PER = 200_000;
    // Secondary i of each group owns queue pair i of its port: it sends flow g*10+i and receives the
    // flow the other group's secondary i sends.
    const work = [A, B].flatMap((g, gi) =>
      g.s.flatMap((x, i) => [
        x.call<number>('send', { port: 0, q: i, flow: gi * 10 + i, count: PER }, 120_000),
        x.call<Recv>('recv', { port: 0, q: i, count: PER, timeoutMs: 110_000 }, 120_000),
      ]),
    );
    const r = await Promise.all(work);
    const recvs = [r[1], r[3], r[5], r[7]] as Recv[];
    for (const x of recvs) expect(x).toMatchObject({ got: PER, bad: 0 });
    expect(recvs.map((x) => Object.keys(x.flows)).flat()).toEqual(['10', '11', '0', '1']);
    for (const x of recvs) for (const last of Object.values(x.flows)) expect(last).toBe(PER);
    // Counters in the port table, read by the primaries (which polled nothing).
    for (const g of [A, B]) {
      const st = await g.p.call<{ ipackets: number; opackets: number; ibytes: number; obytes: number; qIpackets: number[]; rxNombuf: number }>('stats', { port: 0 });
      expect(st).toMatchObject({ ipackets: 2 * PER, opackets: 2 * PER, ibytes: 2 * PER * 64, obytes: 2 * PER * 64, qIpackets: [PER, PER], rxNombuf: 0 });
      const info = await g.p.call<{ rxOwners: number[] }>('info', { port: 0 });
      expect(info.rxOwners).toEqual(g.s.map((x) => x.pid));
    }
    expect(await A.p.call('avail')).toBe(startA);
    expect(await B.p.call('avail')).toBe(startB);
  });

  it('the peer disconnects: link-down with its reason in every process; the server port takes the next connection and the secondary polls the new rings', async () => {
    const A = await group(1);
    const B = await group(0);
    const sock = sockPath();
    const startA = await A.p.call<number>('avail');
    await memifPort(A.p, `net_memif0,role=server,socket=${sock}`, 1, A.s);
    await memifPort(B.p, `net_memif0,role=client,socket=${sock}`, 1);
    for (const x of [A.p, A.s[0]!]) await x.waitEvent(isUp('net_memif0'));
    // The secondary talks to B's primary, which echoes.
    const echo1 = B.p.call<number>('echo', { port: 0, count: 1000 });
    expect(await A.s[0]!.call('frames', { port: 0, count: 1000 })).toEqual({ sent: 1000, got: 1000, bad: 0 });
    expect(await echo1).toBe(1000);
    // B stops its port: a DISCONNECT "Interface stopped" reaches the server.
    await B.p.call('stop', { port: 0 });
    for (const x of [A.p, A.s[0]!]) {
      const ev = await x.waitEvent(isDown('net_memif0'));
      expect(ev.data).toMatchObject({ port: 0, status: 'down', reason: 'Interface stopped' });
    }
    expect(await A.s[0]!.call('link', { port: 0 })).toMatchObject({ status: 'down' });
    // The next connection (B starts again): the secondary remaps at its next burst and traffic flows.
    await B.p.call('start', { port: 0 });
    for (const x of [A.p, A.s[0]!]) await nth(x, isUp('net_memif0'), 2);
    const echo2 = B.p.call<number>('echo', { port: 0, count: 1000 });
    expect(await A.s[0]!.call('frames', { port: 0, count: 1000, len: 1000 })).toEqual({ sent: 1000, got: 1000, bad: 0 });
    expect(await echo2).toBe(1000);
    const xs = await A.p.call<Record<string, number>>('xstats', { port: 0 });
    expect(xs.memif_connection).toBe(3); // up, down, up
    expect(await A.p.call('avail')).toBe(startA);
  });
});

describe('net_memif rx without mbufs', () => {
  it('an empty pool: the frames wait in the ring, rx_nombuf counts the failed bursts, and they arrive once mbufs are back', async () => {
    const A = await group(1);
    const B = await group(0);
    const sock = sockPath();
    const start = await A.p.call<number>('avail');
    await memifPort(A.p, `net_memif0,role=server,socket=${sock}`, 1, A.s);
    await memifPort(B.p, `net_memif0,role=client,socket=${sock}`, 1);
    await A.s[0]!.waitEvent(isUp('net_memif0'));
    expect(await A.s[0]!.call<number>('holdAll')).toBeGreaterThan(0);
    expect(await B.p.call('send', { port: 0, q: 0, flow: 5, count: 100 })).toBe(100);
    // The first burst claims the queue and maps the rings (asked of the prober within the burst);
    // every burst that finds no mbuf counts one rx_nombuf.
    for (let i = 0; i < 3; i++) expect(await A.s[0]!.call('burst', { port: 0, dir: 'rx', q: 0, n: 32 })).toBe(0);
    expect((await A.p.call<{ rxNombuf: number; ipackets: number }>('stats', { port: 0 }))).toMatchObject({ rxNombuf: 3, ipackets: 0 });
    await A.s[0]!.call('unhold');
    expect(await A.s[0]!.call<Recv>('recv', { port: 0, q: 0, count: 100, timeoutMs: 10_000 })).toMatchObject({ got: 100, bad: 0, flows: { 5: 100 } });
    expect(await A.p.call('avail')).toBe(start);
  });
});

describe.skipIf(TESTPMD === undefined)(`net_memif through ethdev ↔ dpdk-testpmd${TESTPMD === undefined ? ' (SKIPPED: dpdk-testpmd not installed; apt-get install dpdk)' : ''}`, () => {
  for (const ourRole of ['client', 'server'] as const) {
    it(`testpmd ${ourRole === 'client' ? 'server' : 'client'} (macswap) ↔ @mp ${ourRole} port polled by a secondary: every frame back in order, MACs swapped, content intact`, async () => {
      const { p, s } = await group(1);
      const sock = sockPath();
      const start = await p.call<number>('avail');
      const theirs = ourRole === 'client' ? 'server' : 'client';
      let tp: Testpmd | undefined;
      if (theirs === 'server') {
        tp = new Testpmd({ prefix: uniquePrefix('tpmd'), devargs: `role=server,socket=${sock},socket-abstract=no`, forward: 'macswap' });
        pmds.push(tp);
      }
      await memifPort(p, `net_memif0,role=${ourRole},socket=${sock},socket-abstract=no`, 1, s);
      if (theirs === 'client') {
        tp = new Testpmd({ prefix: uniquePrefix('tpmd'), devargs: `role=client,socket=${sock},socket-abstract=no`, forward: 'macswap' });
        pmds.push(tp);
      }
      await s[0]!.waitEvent(isUp('net_memif0'), 30_000);
      await tp!.forwarding();
      const N = 5000;
      expect(await s[0]!.call('frames', { port: 0, count: N, len: 128, swap: true })).toEqual({ sent: N, got: N, bad: 0 });
      const down = s[0]!.waitEvent(isDown('net_memif0'), 30_000);
      const stats = await tp!.stop();
      expect(stats).toMatchObject({ rx: N, tx: N });
      // testpmd's exit ends the connection: link-down reaches the secondary too.
      expect((await down).data).toMatchObject({ status: 'down' });
      expect(await p.call('avail')).toBe(start);
    });
  }
});
