// A process SIGKILLed while asleep in a blocking call (issue 18): its sleeper registration must not stay on
// the ring — no phantom sleeper in dump(), no futex wake paid by every later publish — once recover(), a
// publisher whose wake woke nobody, or the next waiter on that tail notices that its owner is dead.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Agent, uniquePrefix, useAgents } from '@mp/test-utils';

const AGENT = join(import.meta.dirname, 'fixtures/ring-agent.mjs');
const agent = useAgents(AGENT);

/** A group: the primary creates the ring; `join()` starts a secondary that looks it up. */
async function group(ring: { name: string; count: number; opts: Record<string, unknown> }): Promise<{ p: Agent; join: () => Promise<Agent> }> {
  const prefix = uniquePrefix('rz');
  const p = agent();
  await p.call('init', { args: [`--file-prefix=${prefix}`, '--proc-type=primary', '--no-huge', '-m', '64'] });
  await p.call('create', ring);
  const join = async (): Promise<Agent> => {
    const s = agent();
    await s.call('init', { args: [`--file-prefix=${prefix}`, '--proc-type=secondary', '--no-huge'] });
    await s.call('lookup', { name: ring.name });
    return s;
  };
  return { p, join };
}

/** Wait (bounded) until `cond` holds, checking every few ms: the condition is the event. */
async function until(what: string, cond: () => Promise<boolean>, tries = 2000): Promise<void> {
  for (let i = 0; !(await cond()); i++) {
    if (i >= tries) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

interface Seen {
  consumers: number;
  producers: number;
  /** Futex wakes issued by producers / consumers (dump's counters). */
  prodWakes: number;
  consWakes: number;
  /** Pids of the participant entries that dump() shows asleep. */
  asleep: number[];
}

/** What the ring's dump says about sleepers and wakes, read by agent `a`. */
async function seen(a: Agent, name: string): Promise<Seen> {
  const d = await a.call<string>('dump', { name });
  const num = (re: RegExp): number => {
    const m = re.exec(d);
    if (m === null) throw new Error(`dump() has no ${re.source}:\n${d}`);
    return Number(m[1]);
  };
  const asleep = [...d.matchAll(/participant \d+: pid (\d+) .* asleep prod (\d+) cons (\d+)/g)]
    .filter((m) => Number(m[2]) + Number(m[3]) > 0)
    .map((m) => Number(m[1]));
  return {
    consumers: num(/sleeping consumers=(\d+)/),
    producers: num(/sleeping consumers=\d+ producers=(\d+)/),
    prodWakes: num(/futex wakes by producers=(\d+)/),
    consWakes: num(/futex wakes by producers=\d+ consumers=(\d+)/),
    asleep,
  };
}

/**
 * Start a secondary blocked in `op` and SIGKILL it while it is registered asleep. A waiter leaves its
 * registration for a moment between two sleeps (its first sleep is 2 ms): a kill that lands there leaves
 * nothing behind, so that attempt is repeated with a new process until one dies registered. Returns it.
 */
async function killedAsleep(p: Agent, join: () => Promise<Agent>, name: string, op: string, args: Record<string, unknown>, side: 'consumers' | 'producers'): Promise<Agent> {
  for (let attempt = 0; attempt < 10; attempt++) {
    const c = await join();
    void c.request(op, { name, ...args }, 70_000).catch(() => undefined);
    await until(`pid ${c.pid} to sleep`, async () => (await seen(p, name)).asleep.includes(c.pid));
    expect((await c.kill('SIGKILL')).signal).toBe('SIGKILL');
    const s = await seen(p, name);
    if (s.asleep.includes(c.pid)) {
      // Nobody has looked yet: the dead process is still registered, alone.
      expect(s.asleep).toEqual([c.pid]);
      expect(s[side]).toBe(1);
      return c;
    }
  }
  throw new Error('no attempt killed the waiter while it was registered');
}

const MODES = [
  ['sync', 'waitOne', 'single'],
  ['async', 'waitOneAsync', 'single'],
  ['sync', 'waitOne', 'multi'],
  ['async', 'waitOneAsync', 'multi'],
] as const;

describe('a consumer SIGKILLed asleep leaves no phantom sleeper', () => {
  it.each(MODES)('%s wait (%s), %s ring: the next publish takes its sleeper back; later publishes make no futex wake', async (_l, op, mode) => {
    const name = 'zz';
    const { p, join } = await group({ name, count: 64, opts: { elemSize: 8, producer: mode, consumer: mode } });
    await killedAsleep(p, join, name, op, { timeoutMs: 60_000 }, 'consumers');
    expect((await p.call<{ ok: boolean }>('enqueueStamp', { name, value: 1 })).ok).toBe(true);
    const after = await seen(p, name);
    expect(after.consumers, 'the publish whose wake woke nobody took the dead sleeper back').toBe(0);
    expect(after.asleep).toEqual([]);
    for (let i = 2; i <= 4; i++) expect((await p.call<{ ok: boolean }>('enqueueStamp', { name, value: i })).ok).toBe(true);
    expect((await seen(p, name)).prodWakes, 'publishes after it issue no futex wake').toBe(after.prodWakes);
  }, 60_000);

  it.each(MODES)('%s wait (%s), %s ring: recover() takes back a sleeper raised by a dead process', async (_l, op, mode) => {
    const name = 'zr';
    const { p, join } = await group({ name, count: 64, opts: { elemSize: 8, producer: mode, consumer: mode } });
    const c = await killedAsleep(p, join, name, op, { timeoutMs: 60_000 }, 'consumers');
    const rep = await p.call<{ sleepersTakenBack: number; deadPids: number[] }>('recover', { name });
    expect(rep.sleepersTakenBack).toBe(1);
    expect(rep.deadPids).toContain(c.pid);
    const s = await seen(p, name);
    expect(s.consumers).toBe(0);
    expect(s.prodWakes).toBe(0);
    expect((await p.call<{ ok: boolean }>('enqueueStamp', { name, value: 1 })).ok).toBe(true);
    expect((await seen(p, name)).prodWakes, 'a publish after recover() issues no futex wake').toBe(0);
  }, 60_000);
});

describe('the next waiter on the same tail takes a dead sleeper back', () => {
  it.each([['single'], ['multi']] as const)('%s ring: a new consumer falls asleep beside a dead one, which goes; the new one is woken', async (mode) => {
    const name = 'zn';
    const { p, join } = await group({ name, count: 64, opts: { elemSize: 8, producer: mode, consumer: mode } });
    await killedAsleep(p, join, name, 'waitOne', { timeoutMs: 60_000 }, 'consumers');
    const next = await join();
    const woke = next.call<{ k: number; value: number }>('waitOne', { name, timeoutMs: 60_000 }, 70_000);
    // The dead one's bit goes when the new one registers (one read: the new one may be between sleeps later).
    await until('only the new consumer to be asleep', async () => {
      const s = await seen(p, name);
      return s.asleep.length === 1 && s.asleep[0] === next.pid && s.consumers === 1;
    });
    expect((await p.call<{ ok: boolean }>('enqueueStamp', { name, value: 7 })).ok).toBe(true);
    expect(await woke).toMatchObject({ k: 1, value: 7 });
  }, 60_000);
});

describe('a producer SIGKILLed asleep on a full ring', () => {
  it.each([['single'], ['multi']] as const)('%s ring: the next dequeue takes its sleeper back; later dequeues make no futex wake', async (mode) => {
    const name = 'zp';
    const { p, join } = await group({ name, count: 8, opts: { elemSize: 8, producer: mode, consumer: mode } });
    expect((await p.call<{ k: number }>('enqueueOnce', { name, n: 7 })).k).toBe(7);
    await killedAsleep(p, join, name, 'enqueueOnce', { n: 1, timeoutMs: null }, 'producers');
    expect((await p.call<{ k: number }>('dequeueOnce', { name, n: 1 })).k).toBe(1);
    const after = await seen(p, name);
    expect(after.producers).toBe(0);
    expect((await p.call<{ k: number }>('dequeueOnce', { name, n: 2 })).k).toBe(2);
    expect((await seen(p, name)).consWakes).toBe(after.consWakes);
  }, 60_000);
});
