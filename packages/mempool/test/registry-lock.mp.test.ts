/**
 * A dead process's objects come back even when the pool registry's lock is held by a process that is
 * stopped. The reclaim runs from eal's `proc-exit` on the event loop; it used to wait there for the
 * registry lock — stalling the process for the lock's 10 s timeout — and then give the reclaim up, so
 * the dead process's mbufs stayed lost until some later create or lookup swept. Now it tries the lock
 * and comes back on a timer until the holder lets go.
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { uniquePrefix, useAgents } from '@mp/test-utils';
import type { AgentEvent } from '@mp/test-utils';

const AGENT = join(import.meta.dirname, 'fixtures/mempool-agent.mjs');
const agent = useAgents(AGENT);

const args = (prefix: string, type: string): string[] => [`--file-prefix=${prefix}`, `--proc-type=${type}`, '--no-huge', '-m', '256'];
const exitOf = (pid: number) => (e: AgentEvent): boolean => e.event === 'proc-exit' && e.pid === pid;

describe('pool registry lock held by a stopped process', () => {
  it("a secondary SIGKILLed holding 1000 mbufs while a registry-lock holder is SIGSTOPped: nothing comes back without the lock, the watcher's timers keep running, and after SIGCONT + release availCount returns to its start", async () => {
    const n = 4096;
    const prefix = uniquePrefix('mrl');
    const p = agent();
    await p.call('init', { args: args(prefix, 'primary') });
    await p.call('pktCreate', { name: 'mbufs', n, opts: { cacheSize: 256 } });
    const start = await p.call<number>('avail', { name: 'mbufs' });
    expect(start).toBe(n);
    const [h, s] = [agent(), agent()];
    for (const a of [h, s]) {
      await a.call('init', { args: args(prefix, 'secondary') });
      await a.call('lookup', { name: 'mbufs' });
    }
    expect((await s.call<{ n: number }>('holdMbufs', { name: 'mbufs', n: 1000 })).n).toBe(1000);

    expect(await h.call('holdRegistryLock')).toBe(true);
    process.kill(h.pid, 'SIGSTOP');
    try {
      await p.call('ticks', { count: 1 });
      await s.kill('SIGKILL');
      await p.waitEvent(exitOf(s.pid), 30_000);
      // p's event loop goes on while the lock is held (the old reclaim slept in the lock here) ...
      await p.call('ticks', { count: 50 });
      // ... and nothing came back without the lock.
      expect(await p.call<number>('avail', { name: 'mbufs' })).toBeLessThanOrEqual(n - 1000);
    } finally {
      process.kill(h.pid, 'SIGCONT');
    }
    expect(await h.call('releaseRegistryLock')).toBe(true);

    // The retry takes the lock now and returns the dead secondary's 1000 mbufs (and its burst's spare).
    let avail = await p.call<number>('avail', { name: 'mbufs' });
    for (let i = 0; i < 2000 && avail !== start; i++) {
      await p.call('ticks', { count: 5 });
      avail = await p.call<number>('avail', { name: 'mbufs' });
    }
    expect(avail).toBe(start);
    expect(await p.call('auditMbufs', { name: 'mbufs' })).toEqual({ got: n, bad: 0, avail: n });
  }, 120_000);
});
