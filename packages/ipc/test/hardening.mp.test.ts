/**
 * One bad call never wedges IPC (issue 11, class 6): a send that fails after its inbox doorbell was
 * rung still wakes the receiver; requests end at once when their peer is a zombie, has no known pid
 * and refuses, or is this process itself; bad options and names are refused with EINVAL.
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { uniquePrefix, useAgents } from '@mp/test-utils';
import type { Agent } from '@mp/test-utils';

const AGENT = join(import.meta.dirname, 'fixtures/agent.mjs');
const agent = useAgents(AGENT);
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

interface CallResult {
  ok: boolean;
  code?: string;
  message?: string;
  msgs?: Array<{ text: string }>;
}

async function group(n: number): Promise<{ p: Agent; s: Agent[]; prefix: string }> {
  const prefix = uniquePrefix('hd');
  const p = agent();
  await p.call('init', { args: [`--file-prefix=${prefix}`, '--proc-type=primary', '--no-huge'] });
  const s: Agent[] = [];
  for (let i = 0; i < n; i++) {
    const a = agent();
    await a.call('init', { args: [`--file-prefix=${prefix}`, '--proc-type=secondary', '--no-huge'] });
    s.push(a);
  }
  return { p, s, prefix };
}

/** A descriptor number no agent has open. */
const BAD_FD = 1_000_000;

describe('a failed send still wakes its receiver', () => {
  it('after sends with a bad fd (EINVAL) into the primary, 1000 requests from each of two other processes all succeed', async () => {
    const { p, s: [bad, s1, s2] } = await group(3);
    await p.call('register', { name: 'echo', mode: 'echo' });
    // Its carrier datagram fails (EBADF) after the inbox cell was claimed: the cell is published empty.
    await expect(bad!.call('send', { name: 'echo', text: 'x', fds: [BAD_FD] })).rejects.toThrow(/EINVAL/);
    expect(await bad!.call<CallResult>('request', { name: 'echo', fds: [BAD_FD] })).toMatchObject({ ok: false, code: 'EINVAL' });
    const [n1, n2] = await Promise.all([s1!.call<number>('pingPong', { name: 'echo', n: 1000 }, 60_000), s2!.call<number>('pingPong', { name: 'echo', n: 1000 }, 60_000)]);
    expect([n1, n2]).toEqual([1000, 1000]);
    // And the one that failed is not wedged either.
    expect(await bad!.call<CallResult>('request', { name: 'echo', text: 'again' })).toMatchObject({ ok: true, msgs: [{ text: `echo:again:${p.pid}` }] });
  });

  it('the same from the primary into a secondary', async () => {
    const { p, s: [s1, s2] } = await group(2);
    await s1!.call('register', { name: 'echo', mode: 'echo' });
    await expect(p.call('send', { name: 'echo', text: 'x', fds: [BAD_FD], to: s1!.pid })).rejects.toThrow(/EINVAL/);
    const [n1, n2] = await Promise.all([s2!.call<number>('pingPong', { name: 'echo', n: 1000, to: s1!.pid }, 60_000), p.call<number>('pingPong', { name: 'echo', n: 1000, to: s1!.pid }, 60_000)]);
    expect([n1, n2]).toEqual([1000, 1000]);
  });
});
