import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { Agent, spawnAgent, tempDir } from '@mp/test-utils';
import { mapFile } from '../src/index.js';

/** The owner word's "somebody sleeps on it" bit (src/lock.ts). */
const LOCK_WAITERS = 0x40000000;

const AGENT = join(import.meta.dirname, 'fixtures/lock-agent.mjs');
const agents: Agent[] = [];
afterEach(async () => {
  await Promise.all(agents.splice(0).map((a) => a.kill()));
});
const start = (path: string): Agent => {
  const a = spawnAgent(AGENT, [path]);
  agents.push(a);
  return a;
};

/** A process asleep inside the lock of a fresh file (a "half-done update" marked), and another, ready, on the same file. */
async function held(): Promise<{ path: string; holder: Agent; other: Agent }> {
  const path = join(tempDir('lock'), 'f');
  const holder = start(path);
  const other = start(path);
  await other.waitEvent((e) => e.event === 'ready');
  holder.child.stdin.write('{"op":"hold"}\n');
  await holder.waitEvent((e) => e.event === 'holding');
  return { path, holder, other };
}

describe('RobustLock across processes', () => {
  it('is mutually exclusive: three processes, 20 000 unguarded increments each, exact total', async () => {
    const path = join(tempDir('lock'), 'f');
    const ps = [start(path), start(path), start(path)];
    await Promise.all(ps.map((p) => p.waitEvent((e) => e.event === 'ready')));
    const ends = await Promise.all(ps.map((p) => p.call<number>('increments', { times: 20_000 })));
    expect(Math.max(...ends)).toBe(60_000);
  });

  it('a holder SIGKILLed with nobody waiting: the next process to take the lock repairs at once', async () => {
    const path = join(tempDir('lock'), 'f');
    const holder = start(path);
    holder.child.stdin.write('{"op":"hold"}\n');
    await holder.waitEvent((e) => e.event === 'holding');
    await holder.kill('SIGKILL');
    const late = start(path);
    await late.waitEvent((e) => e.event === 'ready');
    // Taken (not ETIMEDOUT after the lock's timeout) and repaired; how fast is the bench's business.
    const r = await late.call<{ waitedMs: number; repaired: number[]; seenHalfDone: number }>('take');
    expect(r.repaired).toEqual([holder.pid]);
    expect(r.seenHalfDone).toBe(1);
  });

  it('tryLock: false at once while a live process holds the lock (the word untouched), true after the holder dies — with the repair', async () => {
    const { path, holder, other: taker } = await held();
    // The holder sleeps inside the lock for a minute: a taker that waited would not answer before it.
    expect(await taker.call('try')).toEqual({ taken: false, repaired: [], seenHalfDone: 1 });
    const file = mapFile(path, { size: 4096 });
    try {
      expect(Atomics.load(new Int32Array(file.buffer, 0, 1), 0)).toBe(holder.pid); // no waiters bit either
    } finally {
      file.close();
    }
    await holder.kill('SIGKILL');
    expect(await taker.call('try')).toEqual({ taken: true, repaired: [holder.pid], seenHalfDone: 1 });
    expect(await taker.call('try')).toEqual({ taken: true, repaired: [holder.pid], seenHalfDone: 1 }); // repaired once
  });

  it('a holder SIGKILLed inside the lock while another process sleeps on it: the sleeper gets it and repairs', async () => {
    const { path, holder, other: waiter } = await held();
    const taking = waiter.call<{ waitedMs: number; repaired: number[]; seenHalfDone: number }>('take');
    // The waiter is asleep behind the live holder once it has set the owner word's waiters bit.
    const file = mapFile(path, { size: 4096 });
    try {
      const owner = new Int32Array(file.buffer, 0, 1);
      while ((Atomics.load(owner, 0) & LOCK_WAITERS) === 0) await new Promise((r) => setImmediate(r));
    } finally {
      file.close();
    }
    await holder.kill('SIGKILL');
    const r = await taking;
    expect(r.repaired).toEqual([holder.pid]);
    expect(r.seenHalfDone).toBe(1);
  });
});
