/**
 * proc-exit reaches every process of the group, also for a process that joined and died while that
 * process was not looking (its event loop blocked, as under a loaded scheduler) and whose slot someone
 * else reclaimed first: another secondary's table watch, or the next process to join. Before the exit
 * log, such a process was known to nobody that had not seen it alive, and its exit was lost (the primary
 * of pmd-vfio's virtio SIGKILL test, one run in ten).
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { uniquePrefix, useAgents } from '@mp/test-utils';
import type { Agent, AgentEvent } from '@mp/test-utils';

const AGENT = join(import.meta.dirname, 'fixtures/agent.mjs');
const agent = useAgents(AGENT);

const args = (prefix: string, ...more: string[]): string[] => [`--file-prefix=${prefix}`, '--no-huge', ...more];
const about = (event: string, pid: number) => (e: AgentEvent): boolean => e.event === event && (e.data as { pid: number }).pid === pid;
const indexOf = (a: Agent, event: string, pid: number): number => a.events.findIndex(about(event, pid));

describe('proc-exit of a process the watcher never saw alive', () => {
  it.each([
    ["another secondary's watch", 'watch'],
    ['the next process to join (its slot claim)', 'join'],
  ] as const)('the primary blocked while a secondary joins and is SIGKILLed, its slot reclaimed by %s → the primary still reports proc-exit (before the next proc-join)', async (_label, reclaimer) => {
    const prefix = uniquePrefix('x');
    const p = agent();
    const w = agent();
    await p.call('init', { args: args(prefix) });
    await p.call('reserve', { name: 'gate', len: 4096 });
    await w.call('init', { args: args(prefix, '--proc-type=secondary') });
    await p.waitEvent(about('proc-join', w.pid));

    // The primary's event loop stops (word 1 says so) until word 0 is set.
    const pBlocked = p.call<boolean>('block', { name: 'gate', flag: 1 });
    expect(await w.call('awaitWord', { name: 'gate', index: 1 })).toBe(true);
    // Joining the next process reclaims the dead slot only if no watch got there first: block w too.
    const wBlocked = reclaimer === 'join' ? w.call<boolean>('block', { name: 'gate', flag: 2 }) : undefined;

    const s = agent();
    const si = await s.call<{ slot: number }>('init', { args: args(prefix, '--proc-type=secondary') });
    if (reclaimer === 'join') expect(await s.call('awaitWord', { name: 'gate', index: 2 })).toBe(true);
    await s.kill('SIGKILL');
    if (reclaimer === 'watch') await w.waitEvent(about('proc-exit', s.pid)); // w reclaimed the slot

    const s2 = agent();
    const s2i = await s2.call<{ slot: number }>('init', { args: args(prefix, '--proc-type=secondary') });
    expect(s2i.slot).toBe(si.slot); // the dead slot, reclaimed, taken again
    await s2.call('futexWake', { name: 'gate', index: 0, value: 1 });
    expect(await pBlocked).toBe(true);
    if (wBlocked) expect(await wBlocked).toBe(true);

    // The primary's first looks after the block: s2 joined; s's exit comes first.
    await p.waitEvent(about('proc-join', s2.pid));
    expect(indexOf(p, 'proc-exit', s.pid), JSON.stringify(p.events)).toBeGreaterThanOrEqual(0);
    expect(indexOf(p, 'proc-exit', s.pid)).toBeLessThan(indexOf(p, 'proc-join', s2.pid));
    expect(p.events.find(about('proc-exit', s.pid))?.data).toMatchObject({ slot: si.slot, type: 'secondary', alive: false });
    // Once only, in every process (w too, blocked or not when s died).
    await w.waitEvent(about('proc-join', s2.pid));
    for (const a of [p, w]) expect(a.events.filter(about('proc-exit', s.pid))).toHaveLength(1);
  });
});
