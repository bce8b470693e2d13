/**
 * Stress: ethdev with the net_ring driver across 3 processes, 10^7 packets with per-flow sequence
 * numbers on two queue pairs (the behaviour tests are ethdev.mp.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { useAgents } from '@mp/test-utils';
import { ringGroup } from './ring-group.js';

const agent = useAgents(join(import.meta.dirname, 'fixtures/ethdev-agent.mjs'));

interface Recv {
  got: number;
  bad: number;
  flows: Record<string, number>;
}

const group = (nSec: number, nq: number): ReturnType<typeof ringGroup> => ringGroup(agent, nSec, nq);

describe('net_ring across processes, under load', () => {
  it('primary + 2 secondaries, each on its own queue pair: 10^7 packets with per-flow sequence numbers, none lost or duplicated', async () => {
    const { p, s } = await group(2, 2);
    const start = await p.call<number>('avail');
    const PER = 2_500_000; // 4 flows × 2.5·10^6 = 10^7
    // Secondary i sends flow i on port 0 queue i and flow 10+i on port 1 queue i; it receives what the
    // other secondary sent: port 1 rx q (1-i) carries port 0 tx q (1-i), port 0 rx q (1-i) port 1's.
    const work = s.flatMap((x, i) => [
      x.call('send', { port: 0, q: i, flow: i, count: PER }, 120_000),
      x.call('send', { port: 1, q: i, flow: 10 + i, count: PER }, 120_000),
      x.call<Recv>('recv', { port: 1, q: 1 - i, count: PER, timeoutMs: 110_000 }, 120_000),
      x.call<Recv>('recv', { port: 0, q: 1 - i, count: PER, timeoutMs: 110_000 }, 120_000),
    ]);
    const r = await Promise.all(work);
    const recvs = [r[2], r[3], r[6], r[7]] as Recv[];
    for (const x of recvs) expect(x).toMatchObject({ got: PER, bad: 0 });
    expect(recvs.map((x) => Object.keys(x.flows)).flat().sort()).toEqual(['0', '1', '10', '11']);
    for (const x of recvs) for (const last of Object.values(x.flows)) expect(last).toBe(PER);
    // Stats add up, read from a third process.
    const st0 = await p.call<{ opackets: number; ipackets: number; qOpackets: number[]; qIpackets: number[] }>('stats', { port: 0 });
    const st1 = await p.call<{ opackets: number; ipackets: number }>('stats', { port: 1 });
    expect(st0.opackets).toBe(2 * PER);
    expect(st0.qOpackets).toEqual([PER, PER]);
    expect(st1.ipackets).toBe(2 * PER);
    expect(st0.ipackets).toBe(2 * PER);
    expect(await p.call('avail')).toBe(start);    // The calls above wait up to 120 s each (the receivers 110 s): the test outlives them.
  }, 150_000);
});
