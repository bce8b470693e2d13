/** The net_ring group the ethdev tests share (ethdev.mp, ethdev.stress.mp). */
import { expect } from 'vitest';
import { startGroup } from '@mp/test-utils';
import type { Agent, StartedGroup } from '@mp/test-utils';

/**
 * A primary with a pool (16383 mbufs) and two back-to-back net_ring ports (0: A → B, 1: B → A) of `nq`
 * queues each, started, then `nSec` secondaries that looked the pool up. `agent`: the file's useAgents
 * spawner of ethdev-agent.mjs.
 */
export function ringGroup(agent: (env?: NodeJS.ProcessEnv) => Agent, nSec: number, nq: number): Promise<StartedGroup> {
  return startGroup(agent, nSec, {
    tag: 'eth',
    primaryArgs: ['-m', '256'],
    ready: async (x, i) => {
      if (i >= 0) return x.call('pool', {});
      await x.call('pool', { create: true, n: 16383 });
      const a = await x.call<number>('probe', { devargs: 'net_ring0' });
      const b = await x.call<number>('probe', { devargs: 'net_ring1,peer=net_ring0' });
      expect([a, b]).toEqual([0, 1]);
      for (const id of [a, b]) {
        await x.call('setup', { port: id, nbRxq: nq, nbTxq: nq });
        await x.call('start', { port: id });
      }
    },
  });
}
