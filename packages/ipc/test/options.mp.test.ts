/** The opt-in speed options, `coalesce` and `busyPollUs`, between real processes (speed itself is the bench's). */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { startGroup, useAgents, useTempDir } from '@mp/test-utils';
import type { Agent } from '@mp/test-utils';

// Registered before the agents, so (after-hooks run last-registered first) agents die before their dirs go.
const runtimeDir = useTempDir('opts');
const agent = useAgents(join(import.meta.dirname, 'fixtures/agent.mjs'));

/** A primary and n secondaries of a fresh group, every channel started with `ipcOpts`. */
async function group(n: number, ipcOpts: object): Promise<{ p: Agent; s: Agent[] }> {
  return startGroup(agent, n, { tag: 'o', params: { ipcOpts } });
}

describe('coalesce', () => {
  // Bursts larger than one coalesced datagram (32), with fds (sent alone, in order) and without.
  for (const [label, fdEvery] of [['plain', 0], ['every 7th with an fd', 7]] as const) {
    it(`a burst of 1000 messages (${label}) arrives whole and in order, before a request sent after it: secondary → primary, primary → secondary, secondary → secondary`, async () => {
      const { p, s: [s1, s2] } = await group(2, { coalesce: true });
      for (const a of [p, s1!, s2!]) await a.call('register', { name: 'seq', mode: 'sequence' });
      expect(await s1!.call('burst', { name: 'seq', n: 1000, fdEvery, ask: 'seq' })).toEqual(['1000:0']);
      expect(await p.call('burst', { name: 'seq', n: 1000, fdEvery, ask: 'seq', to: s2!.pid })).toEqual(['1000:0']);
      expect(await s2!.call('burst', { name: 'seq', n: 1000, fdEvery, ask: 'seq', to: s1!.pid })).toEqual(['1000:0']);
    });
  }

  it('a coalesced broadcast reaches every secondary whole and in order', async () => {
    const { p, s } = await group(3, { coalesce: true });
    for (const a of s) await a.call('register', { name: 'seq', mode: 'sequence' });
    // No `to` from the primary: every message and the request go to all three.
    expect(await p.call('burst', { name: 'seq', n: 500, ask: 'seq' })).toEqual(['500:0', '500:0', '500:0']);
  });

  it('sendMsg still throws ENOENT at once for a peer that is gone', async () => {
    const { p, s: [s1, s2] } = await group(2, { coalesce: true });
    await p.call('register', { name: 'seq', mode: 'sequence' });
    expect(await s1!.call('burst', { name: 'seq', n: 10, ask: 'seq' })).toEqual(['10:0']);
    const s2pid = s2!.pid;
    await s2!.kill('SIGKILL');
    expect(await s1!.request('send', { name: 'seq', text: '0', to: s2pid })).toMatchObject({ ok: false, code: 'ENOENT' });
    await p.kill('SIGKILL');
    expect(await s1!.request('send', { name: 'seq', text: '0' })).toMatchObject({ ok: false, code: 'ENOENT' });
  });

  it('is ignored on a channel opened on an explicit runtime dir (its peers may be DPDK processes)', async () => {
    const dir = runtimeDir();
    const p = agent();
    const s1 = agent();
    await p.call('start', { runtimeDir: dir, procType: 'primary', coalesce: true });
    await s1.call('start', { runtimeDir: dir, procType: 'secondary', coalesce: true });
    await p.call('register', { name: 'seq', mode: 'sequence' });
    expect(await s1.call('burst', { name: 'seq', n: 200, ask: 'seq' })).toEqual(['200:0']);
  });
});

describe('busyPollUs', () => {
  it('requests, replies and messages flow both ways with both sides polling', async () => {
    const { p, s: [s1] } = await group(1, { busyPollUs: 500 });
    await p.call('register', { name: 'echo', mode: 'echo' });
    await s1!.call('register', { name: 'echo', mode: 'echo' });
    await p.call('register', { name: 'seq', mode: 'sequence' });
    expect(await s1!.call('pingPong', { name: 'echo', n: 2000 })).toBe(2000);
    expect(await p.call('pingPong', { name: 'echo', n: 500, to: s1!.pid })).toBe(500);
    expect(await s1!.call('burst', { name: 'seq', n: 500, ask: 'seq' })).toEqual(['500:0']);
    const rs = await s1!.call<{ ok: boolean; msgs: Array<{ text: string }> }>('requestSync', { name: 'echo', text: 'sync' });
    expect(rs.msgs[0]!.text).toBe(`echo:sync:${p.pid}`);
  });

  it('with coalesce too, and a polling process still answers its other events (stdin commands here)', async () => {
    const { p, s: [s1] } = await group(1, { busyPollUs: 2000, coalesce: true });
    await p.call('register', { name: 'echo', mode: 'echo' });
    await p.call('register', { name: 'seq', mode: 'sequence' });
    const pp = s1!.call('pingPong', { name: 'echo', n: 3000 });
    // The primary is polling between requests; commands on its stdin are served all the same.
    expect(await p.call('secondaries')).toEqual([s1!.pid]);
    expect(await pp).toBe(3000);
    expect(await s1!.call('burst', { name: 'seq', n: 300, ask: 'seq' })).toEqual(['300:0']);
  });

  it('rejects a bad value with EINVAL', async () => {
    const a = agent();
    const dir = runtimeDir();
    for (const busyPollUs of [-1, 2_000_000, '5', true]) {
      expect(await a.request('start', { runtimeDir: dir, procType: 'primary', busyPollUs })).toMatchObject({ ok: false, code: 'EINVAL' });
    }
    expect(await a.call('start', { runtimeDir: dir, procType: 'primary', busyPollUs: 100 })).toBe(join(dir, 'mp_socket'));
  });
});
