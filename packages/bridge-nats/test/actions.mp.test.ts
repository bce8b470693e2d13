/**
 * rte_mp requests across hosts: group A (namespace A) asks an action that groups B and C (namespace B,
 * each its own @mp group) registered; every group bridges it through its own clustered nats-server.
 * Proves nbSent/nbReceived, replies from both, a typed error reply, a one-way message to both, and the
 * timeout with nbReceived 1 when B's process was SIGKILLed.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { netnsUnavailable, uniquePrefix, useAgents, useNetns } from '@mp/test-utils';
import { natsServerMissing, stopAll } from './nats-servers.js';
import { twoHosts } from './hosts.js';

const AGENT = fileURLToPath(new URL('./fixtures/bridge-agent.mjs', import.meta.url));
const skip = netnsUnavailable() ?? natsServerMissing();

interface Result {
  nbSent: number;
  nbReceived: number;
  msgs: string[];
  errors: Array<{ name: string; code: string; remoteCode: string; message: string; group: string }>;
}

describe.skipIf(skip !== undefined)(`actions across hosts${skip ? ` (skipped: ${skip})` : ''}`, () => {
  const spawn = useAgents(AGENT);
  const makeNs = useNetns();
  afterEach(async () => {
    await stopAll();
  });

  it('A → B and C: nbSent 2 with both replies; an error reply is typed; B SIGKILLed → the request ends at its timeout with nbReceived 1', async () => {
    const hosts = await twoHosts(makeNs);
    const a = spawn({}, [], { netns: hosts.a.name });
    const b = spawn({}, [], { netns: hosts.b.name });
    const c = spawn({}, [], { netns: hosts.b.name });
    const names = ['stats', 'fail', 'note'];
    for (const [agent, tag, servers] of [[b, 'B', hosts.urlsB], [c, 'C', hosts.urlsB], [a, 'A', hosts.urlsA]] as const) {
      await agent.call('init', { prefix: uniquePrefix(`nac${tag}`) });
      await agent.call('register', { action: 'stats', mode: `ok${tag}` });
      await agent.call('register', { action: 'fail', mode: tag === 'C' ? 'throw' : `ok${tag}` });
      await agent.call('register', { action: 'note', mode: `note${tag}` });
      await agent.call('bridgeActions', { names, servers, group: `host${tag}`, announceMs: 500 });
    }
    expect(await a.call('waitPeers', { action: 'stats', n: 2 })).toEqual(['hostB', 'hostC']);

    const ok = await a.call<Result>('request', { action: 'stats', text: 'q1', timeoutMs: 5000 });
    expect(ok.nbSent).toBe(2);
    expect(ok.nbReceived).toBe(2);
    expect(ok.msgs.map((m) => m.replace(/:\d+:/, ':pid:')).sort()).toEqual(['okB:pid:q1', 'okC:pid:q1']);
    expect(ok.errors).toEqual([]);

    const mixed = await a.call<Result>('request', { action: 'fail', text: 'q2', timeoutMs: 5000 });
    expect(mixed).toMatchObject({ nbSent: 2, nbReceived: 1 });
    expect(mixed.msgs[0]).toMatch(/^okB:\d+:q2$/);
    expect(mixed.errors).toHaveLength(1);
    expect(mixed.errors[0]).toMatchObject({ name: 'MpBridgeRemoteError', code: 'EPERM', remoteCode: 'EPERM', group: 'hostC' });
    expect(mixed.errors[0]!.message).toMatch(/refused by \d+/);

    expect(await a.call('sendMsg', { action: 'note', text: 'hello' })).toBe(2);
    for (const g of [b, c]) {
      expect(await g.waitEvent((e) => e.event === 'handled' && e.action === 'note')).toMatchObject({ text: 'hello', request: false });
    }

    await b.kill('SIGKILL');
    // B's share is sent and never answered: the request ends (at its timeout) with C's reply only, and
    // no error stands in for B's.
    const half = await a.call<Result>('request', { action: 'stats', text: 'q3', timeoutMs: 800 });
    expect(half.nbSent).toBe(2);
    expect(half.nbReceived).toBe(1);
    expect(half.msgs).toHaveLength(1);
    expect(half.msgs[0]).toMatch(/^okC:\d+:q3$/);
    expect(half.errors).toEqual([]);
  }, 120_000);
});
