import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { Agent, spawnAgent, startGroup } from '@mp/test-utils';

const AGENT = join(import.meta.dirname, 'fixtures/agent.mjs');
const agents: Agent[] = [];
const primaries = new Set<Agent>();
function agent(env: NodeJS.ProcessEnv = {}): Agent {
  const a = spawnAgent(AGENT, [], env);
  agents.push(a);
  return a;
}
afterEach(async () => {
  const all = agents.splice(0);
  // Secondaries detach, then the primary ends the group (its files go), then nobody is left running.
  const cleanup = (a: Agent): Promise<unknown> => a.request('cleanup', {}, 5000).catch(() => undefined);
  await Promise.all(all.filter((a) => !primaries.has(a)).map(cleanup));
  await Promise.all(all.filter((a) => primaries.has(a)).map(cleanup));
  primaries.clear();
  await Promise.all(all.map((a) => a.kill('SIGKILL')));
});

/** A primary and `n` secondaries of a fresh group. */
async function group(n: number, env: Array<NodeJS.ProcessEnv> = []): Promise<Agent[]> {
  const g = await startGroup(agent, n, { tag: 'hs', primaryArgs: ['-m', '512'], secondaryEnv: env });
  primaries.add(g.p);
  return [g.p, ...g.s];
}

interface Cross {
  plain: number;
  withHash: number;
  count: number;
}

describe('@mp/hash across processes', () => {
  it.each(['crc32c', 'jhash'])('plain add in one process, plain lookup in another (%s id in the header)', async (hashFunc) => {
    const [p, s1, s2] = await group(2);
    await p!.call('create', { name: 'x', opts: { entries: 4096, keyLen: 16, hashFunc, initVal: 0xabcdef } });
    expect(await s1!.call('attach', { name: 'x' })).toMatchObject({ hashFunc, initVal: 0xabcdef, keyLen: 16 });
    await s1!.call('addRange', { name: 'x', from: 0, to: 1000 });
    await s2!.call('addRange', { name: 'x', from: 1000, to: 2000 });
    for (const a of [p!, s1!, s2!]) {
      expect(await a.call<Cross>('crossCheck', { name: 'x', from: 0, to: 2000 })).toEqual({ plain: 2000, withHash: 2000, count: 2000 });
    }
    expect(await p!.call('audit', { name: 'x' })).toEqual([]);
  });

  it('lock-free readers in 2 processes (bulk lookups native in one, TypeScript in the other) while a writer adds, deletes and updates: ≥ 10^7 operations', async () => {
    const [p, r1, r2] = await group(2, [{}, { MP_HASH_NATIVE: '0' }]);
    // A table kept ~90 % full, so most adds move keys along cuckoo paths under the readers' feet.
    const range = { stableFrom: 0, stableTo: 48_000, churnFrom: 1_000_000, churnTo: 1_024_000 };
    await p!.call('create', { name: 'lf', opts: { entries: 65_536, keyLen: 16, hashFunc: 'crc32c' } });
    await p!.call('addRange', { name: 'lf', from: range.stableFrom, to: range.stableTo, batch: true });
    const total = 5_000_000; // per reader: the readers alone make the 10^7
    const [writes, a, b] = await Promise.all([
      p!.call<{ n: number; full: number }>('churn', { name: 'lf', ...range, readers: 2 }, 120_000),
      r1!.call<{ n: number; stableMiss: number; wrong: number; hits: number; native: boolean }>('read', { name: 'lf', ...range, total }, 120_000),
      r2!.call<{ n: number; stableMiss: number; wrong: number; hits: number; native: boolean }>('read', { name: 'lf', ...range, total }, 120_000),
    ]);
    expect([a.native, b.native], 'reader 1 runs the native bulk lookup, reader 2 the TypeScript one').toEqual([true, false]);
    expect(a.n + b.n + writes.n).toBeGreaterThanOrEqual(10_000_000);
    expect(writes.n).toBeGreaterThan(10_000);
    expect([a.stableMiss, b.stableMiss]).toEqual([0, 0]);
    expect([a.wrong, b.wrong]).toEqual([0, 0]);
    expect(a.hits).toBeGreaterThan(a.n / 2);
    expect(await p!.call('audit', { name: 'lf' })).toEqual([]);
    expect(await r1!.call<number>('count', { name: 'lf' })).toBeGreaterThanOrEqual(48_000);
  }, 150_000);

  it('a reader never returns another key\'s data while a writer reuses the key slot under it', async () => {
    const [p, r1, r2] = await group(2);
    await p!.call('create', { name: 'reuse', opts: { entries: 64, keyLen: 16, hashFunc: 'jhash' } });
    const total = 3_000_000;
    const [writes, a, b] = await Promise.all([
      p!.call<number>('reuse', { name: 'reuse', readers: 2 }, 120_000),
      r1!.call<{ hits: number; wrong: number }>('readPair', { name: 'reuse', total }, 120_000),
      r2!.call<{ hits: number; wrong: number }>('readPair', { name: 'reuse', total }, 120_000),
    ]);
    expect(writes).toBeGreaterThan(10_000);
    expect(a.hits + b.hits).toBeGreaterThan(1000);
    expect([a.wrong, b.wrong]).toEqual([0, 0]);
  }, 150_000);

  it.each([false, true])('two writers in two processes add disjoint key sets at once (writeBatch: %s)', async (batch) => {
    const [p, w1, w2] = await group(2);
    await p!.call('create', { name: 'mw', opts: { entries: 40_000, keyLen: 16, hashFunc: 'jhash', multiWriter: true, extendable: true } });
    const [n1, n2] = await Promise.all([
      w1!.call<number>('addRange', { name: 'mw', from: 0, to: 15_000, batch }, 60_000),
      w2!.call<number>('addRange', { name: 'mw', from: 100_000, to: 115_000, batch }, 60_000),
    ]);
    expect(n1 + n2).toBe(30_000);
    expect(await p!.call('count', { name: 'mw' })).toBe(30_000);
    expect(await p!.call('checkRange', { name: 'mw', from: 0, to: 15_000 })).toEqual({ bad: 0, first: [] });
    expect(await p!.call('checkRange', { name: 'mw', from: 100_000, to: 115_000 })).toEqual({ bad: 0, first: [] });
    expect(await p!.call('audit', { name: 'mw' })).toEqual([]);
  }, 90_000);

  it.each([
    ['hash-add-slot', true],
    ['hash-cuckoo-move', true],
    ['hash-add-published', true],
    ['hash-cuckoo-move', false],
  ] as const)(
    'a writer SIGKILLed mid-add (%s, multiWriter %s) wedges nobody and corrupts no other key',
    async (point, multiWriter) => {
      const [p, victim, next] = await group(2, [{ MP_TEST_CRASH: point }]);
      // A loaded table (no extendable buckets) so that adds need cuckoo moves. A single-writer table is
      // repaired by the next writer, which finds the dead writer's pid in the header.
      await p!.call('create', { name: 'k', opts: { entries: 8192, keyLen: 16, hashFunc: 'crc32c', multiWriter } });
      await p!.call('addRange', { name: 'k', from: 0, to: 7000 });
      const died = victim!.request('addRange', { name: 'k', from: 50_000, to: 51_000 }).catch((e: Error) => e);
      expect(await victim!.exited).toEqual({ code: null, signal: 'SIGKILL' });
      await died;
      // The next writer takes the lock the dead one held, repairs, and goes on.
      expect(await next!.call('addRange', { name: 'k', from: 90_000, to: 90_500 }, 20_000)).toBe(500);
      expect(next!.stderr.join('\n')).toContain(`repaired hash 'k' after pid ${victim!.pid} died`);
      expect(await p!.call('checkRange', { name: 'k', from: 0, to: 7000 })).toEqual({ bad: 0, first: [] });
      expect(await p!.call('checkRange', { name: 'k', from: 90_000, to: 90_500 })).toEqual({ bad: 0, first: [] });
      expect(await p!.call('audit', { name: 'k' })).toEqual([]);
    },
    60_000,
  );
});
