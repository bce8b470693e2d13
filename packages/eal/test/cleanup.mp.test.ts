/**
 * The last process out removes the group's files (issue 11, class 5), whoever it is — and a primary
 * starting on the prefix while that happens neither fails nor loses its own group.
 */
import { describe, expect, it } from 'vitest';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { startGroup, uniquePrefix, useAgents } from '@mp/test-utils';
import type { Agent } from '@mp/test-utils';

const AGENT = join(import.meta.dirname, 'fixtures/agent.mjs');
const agent = useAgents(AGENT);
const ROUNDS = 20;

/** What group `prefix` has left on disk: its runtime dir's entries and its segment files. */
function leftovers(prefix: string, runtimeDir: string): string[] {
  const out = readdirSync('/dev/shm').filter((f) => f.startsWith(`${prefix}map_`)).map((f) => `/dev/shm/${f}`);
  if (existsSync(runtimeDir)) out.push(runtimeDir, ...readdirSync(runtimeDir).map((f) => join(runtimeDir, f)));
  return out;
}

async function group(prefix: string): Promise<{ p: Agent; s: Agent[]; runtimeDir: string }> {
  const { p, s, primaryInit } = await startGroup(agent, 2, { prefix });
  await p.call('reserve', { name: 'data', len: 1 << 20 });
  await s[0]!.call('reserve', { name: 'by-secondary', len: 4096 });
  return { p, s, runtimeDir: (primaryInit as { runtimeDir: string }).runtimeDir };
}

// Each round starts and stops three node processes: allow for a loaded 2-core machine (a stuck round
// still fails, at the deadline of its own wait).
describe(`the last process out cleans up (${ROUNDS} rounds each)`, { timeout: 300_000 }, () => {
  it('primary exits first, then the secondaries exit cleanly: nothing of the group is left', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const prefix = uniquePrefix('lo');
      const { p, s, runtimeDir } = await group(prefix);
      await p.close();
      expect(leftovers(prefix, runtimeDir).length, `round ${round}: the secondaries still use the group`).toBeGreaterThan(0);
      await s[0]!.close();
      await s[1]!.close();
      expect(leftovers(prefix, runtimeDir), `round ${round}`).toEqual([]);
    }
  });

  it('primary SIGKILLed first, then the secondaries exit cleanly: nothing of the group is left', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const prefix = uniquePrefix('lk');
      const { p, s, runtimeDir } = await group(prefix);
      await p.kill('SIGKILL');
      await s[1]!.close();
      expect(leftovers(prefix, runtimeDir).length, `round ${round}: one secondary still uses the group`).toBeGreaterThan(0);
      await s[0]!.close();
      expect(leftovers(prefix, runtimeDir), `round ${round}`).toEqual([]);
    }
  });

  it('everyone SIGKILLed: the files stay (nobody could clean), and the next primary removes them', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const prefix = uniquePrefix('la');
      const { p, s, runtimeDir } = await group(prefix);
      await Promise.all([p.kill('SIGKILL'), s[0]!.kill('SIGKILL'), s[1]!.kill('SIGKILL')]);
      expect(leftovers(prefix, runtimeDir).length, `round ${round}`).toBeGreaterThan(0);
      const next = agent();
      const r = await next.call<{ procType: string; adopted: boolean }>('init', { args: [`--file-prefix=${prefix}`, '--no-huge'] });
      expect(r).toMatchObject({ procType: 'primary', adopted: false });
      expect(await next.call('lookup', { name: 'data' })).toBeNull(); // a fresh group, not the dead one's memory
      await next.close();
      expect(leftovers(prefix, runtimeDir), `round ${round}`).toEqual([]);
    }
  });

  it('a primary starting while the last secondary leaves gets a working group of its own, and its exit leaves nothing', async () => {
    for (let round = 0; round < ROUNDS; round++) {
        const prefix = uniquePrefix('lr');
        const p = agent();
        const { runtimeDir } = await p.call<{ runtimeDir: string }>('init', { args: [`--file-prefix=${prefix}`, '--no-huge'] });
        const s = agent();
        await s.call('init', { args: [`--file-prefix=${prefix}`, '--no-huge', '--proc-type=secondary'] });
        await s.call('reserve', { name: 'old', len: 4096 });
        await p.close();
        const next = agent();
        await next.waitEvent((e) => e.event === 'ready');
        // The secondary's exit (it ends the group) and the new primary's init race.
        const [, r] = await Promise.all([s.close(), next.request('init', { args: [`--file-prefix=${prefix}`, '--no-huge', '--proc-type=auto'] })]);
        expect(r.ok, `round ${round}: ${r.code} ${r.message}`).toBe(true);
        expect((r.value as { procType: string }).procType).toBe('primary');
        await next.call('reserve', { name: 'new', len: 4096 });
        await next.call('write', { name: 'new', text: `round ${round}` });
        expect(await next.call('read', { name: 'new', len: `round ${round}`.length })).toBe(`round ${round}`);
        await next.close();
        expect(leftovers(prefix, runtimeDir), `round ${round}`).toEqual([]);
    }
  });
});
