/**
 * The group watch never waits for the process-table lock on the event loop. A process holding that lock
 * and stopped (SIGSTOP here; a process the scheduler leaves out is the same for everyone else) used to
 * stall the event loop of every process whose watch needed the lock — to reclaim a dead process's slot
 * — for up to the lock's 10 s timeout per look, and its proc-exit never came while the holder was
 * stopped. Now the watch tries the lock, reports the exit at once and leaves the slot for a later look;
 * once the holder lets go, the slot is reclaimed and every process reports the exit once.
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { uniquePrefix, useAgents } from '@mp/test-utils';
import type { Agent, AgentEvent } from '@mp/test-utils';

const AGENT = join(import.meta.dirname, 'fixtures/agent.mjs');
const agent = useAgents(AGENT);

const args = (prefix: string, ...more: string[]): string[] => [`--file-prefix=${prefix}`, '--no-huge', ...more];
const about = (event: string, pid: number) => (e: AgentEvent): boolean => e.event === event && (e.data as { pid: number }).pid === pid;
const count = (a: Agent, event: string, pid: number): number => a.events.filter(about(event, pid)).length;
type Proc = { slot: number; pid: number; alive: boolean };

describe('group watch and the table lock', () => {
  it('a table-lock holder SIGSTOPped: the watcher keeps its event loop, reports each death at once, and after SIGCONT + release the slots are reclaimed and every exit is reported once everywhere', async () => {
    const prefix = uniquePrefix('wl');
    const p = agent(); // the watcher
    await p.call('init', { args: args(prefix) });
    const [h, b, c] = [agent(), agent(), agent()];
    for (const a of [h, b, c]) {
      await a.call('init', { args: args(prefix, '--proc-type=secondary') });
      await p.waitEvent(about('proc-join', a.pid));
    }
    await h.waitEvent(about('proc-join', c.pid)); // h knows b and c alive before it stops
    const slots = await p.call<Proc[]>('processes');
    const slotOf = (a: Agent): number => slots.find((x) => x.pid === a.pid)!.slot;

    expect(await h.call('holdTableLock')).toBe(true);
    process.kill(h.pid, 'SIGSTOP');
    try {
      await p.call('ticks', { count: 1 }); // p's timer runs
      await b.kill('SIGKILL');
      // The watch found b dead and the lock busy: it reports b's exit without the lock ...
      await p.waitEvent(about('proc-exit', b.pid), 30_000);
      // ... and goes on: its timers keep firing, and its next looks see c die too.
      await p.call('ticks', { count: 20 });
      await c.kill('SIGKILL');
      await p.waitEvent(about('proc-exit', c.pid), 30_000);
      await p.call('ticks', { count: 20 });
      // Nobody wrote the table without the lock: both slots still wait, dead, for their reclaim.
      const held = await p.call<Proc[]>('processes');
      expect(held.find((x) => x.slot === slotOf(b))).toMatchObject({ pid: b.pid, alive: false });
      expect(held.find((x) => x.slot === slotOf(c))).toMatchObject({ pid: c.pid, alive: false });
    } finally {
      process.kill(h.pid, 'SIGCONT');
    }
    expect(await h.call('releaseTableLock')).toBe(true);

    // The holder, stopped while b and c died, reports both (from the table or from the exit log).
    await h.waitEvent(about('proc-exit', b.pid));
    await h.waitEvent(about('proc-exit', c.pid));
    // A process joining now finds both slots reclaimed (by a watch, or by its own claim): the table holds
    // p, h and itself.
    const d = agent();
    await d.call('init', { args: args(prefix, '--proc-type=secondary') });
    await p.waitEvent(about('proc-join', d.pid));
    await h.waitEvent(about('proc-join', d.pid));
    expect((await p.call<Proc[]>('processes')).map((x) => x.pid).sort()).toEqual([p.pid, h.pid, d.pid].sort());
    // Once each, in every process that knew them; d joined after: not its business.
    for (const a of [p, h]) for (const gone of [b, c]) expect(count(a, 'proc-exit', gone.pid), `${a.pid} about ${gone.pid}`).toBe(1);
    for (const gone of [b, c]) expect(count(d, 'proc-exit', gone.pid)).toBe(0);
  });
});
