// Hardening (issue 11), with real processes: a freed ring's handles in other processes stop before they
// write; a SIGSTOPped peer cannot make a blocking call outlive its timeout; a consumer blocked forever
// learns about a producer SIGKILLed mid-reservation as fast as a non-blocking caller would.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Agent, uniquePrefix, useAgents } from '@mp/test-utils';

const AGENT = join(import.meta.dirname, 'fixtures/ring-agent.mjs');
const agent = useAgents(AGENT);

interface Once {
  k?: number;
  error?: string;
  message?: string;
  deadPid?: number;
  side?: string;
  staleError?: boolean;
  values?: number[];
  startedAt: number;
  endedAt: number;
  ms: number;
}

/** A group: the primary creates the ring, then one secondary per env entry looks it up. */
async function group(ring: { name: string; count: number; opts: Record<string, unknown> }, envs: NodeJS.ProcessEnv[]): Promise<Agent[]> {
  const prefix = uniquePrefix('rs');
  const p = agent();
  await p.call('init', { args: [`--file-prefix=${prefix}`, '--proc-type=primary', '--no-huge', '-m', '64'] });
  await p.call('create', ring);
  const secs: Agent[] = [];
  for (const env of envs) {
    const s = agent(env);
    await s.call('init', { args: [`--file-prefix=${prefix}`, '--proc-type=secondary', '--no-huge'] });
    await s.call('lookup', { name: ring.name });
    secs.push(s);
  }
  return [p, ...secs];
}

/** The scheduler state letter of `pid` ('T' = stopped). */
function procState(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  return stat.charAt(stat.lastIndexOf(')') + 2);
}

/** Wait (bounded) until `cond` holds, checking every few ms: the condition is the event. */
async function until(what: string, cond: () => boolean | Promise<boolean>, tries = 2000): Promise<void> {
  for (let i = 0; !(await cond()); i++) {
    if (i >= tries) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const headsOf = async (a: Agent, name: string): Promise<{ ph: number; pt: number; ch: number; ct: number }> => {
  const d = await a.call<string>('dump', { name });
  const f = (k: string): number => Number(new RegExp(`\\b${k}=(\\d+)`).exec(d)![1]);
  return { ph: f('ph'), pt: f('pt'), ch: f('ch'), ct: f('ct') };
};

const STOP_ENQ = { MP_TEST_CRASH: 'ring-enqueue-reserved', MP_TEST_CRASH_SIGNAL: 'SIGSTOP', MP_TEST_CRASH_AFTER: '0' };
const STOP_DEQ = { MP_TEST_CRASH: 'ring-dequeue-reserved', MP_TEST_CRASH_SIGNAL: 'SIGSTOP', MP_TEST_CRASH_AFTER: '0' };

describe('a blocking call holds its timeout when a SIGSTOPped peer stalls the ring', () => {
  it.each([
    ['producer', 'multi'],
    ['producer', 'hts'],
    ['consumer', 'multi'],
    ['consumer', 'hts'],
  ] as const)('%s side, %s: the call behind the stopped reservation times out (0, nothing moved); the ring is intact after SIGCONT', async (side, mode) => {
    const prod = side === 'producer';
    const opts = { elemSize: 8, [side]: mode };
    const [p, stopper, victim] = await group({ name: 'stall', count: 1024, opts }, [prod ? STOP_ENQ : STOP_DEQ, {}]);
    if (!prod) expect((await p!.call<Once>('enqueueOnce', { name: 'stall', n: 16, value: 100 })).k).toBe(16);
    // The stopper reserves 4 slots and stops itself between the head move and the tail publish.
    const stopped = stopper!.call<Once>(prod ? 'enqueueOnce' : 'dequeueOnce', { name: 'stall', n: 4, value: 1 }, 60_000);
    await until('the peer to stop mid-operation', () => procState(stopper!.pid) === 'T');
    const r = await victim!.call<Once>(prod ? 'enqueueOnce' : 'dequeueOnce', { name: 'stall', n: 4, value: 50, timeoutMs: 1000 }, 30_000);
    // It returned (before: it waited for as long as the peer stayed stopped), with the timeout's result.
    expect(r.error, r.message).toBeUndefined();
    expect(r.k).toBe(0);
    expect(procState(stopper!.pid)).toBe('T'); // still stopped: the call did not wait the stall out
    // Nothing of the victim's stayed reserved: once the peer resumes, the ring holds exactly what it should.
    stopper!.child.kill('SIGCONT');
    expect((await stopped).k).toBe(4);
    const h = await headsOf(p!, 'stall');
    expect([h.ph, h.pt]).toEqual(prod ? [4, 4] : [16, 16]);
    expect([h.ch, h.ct]).toEqual(prod ? [0, 0] : [4, 4]);
    expect(await p!.call('recover', { name: 'stall' })).toEqual({ droppedEnqueued: 0, returnedDequeued: 0, sleepersTakenBack: 0, deadPids: [], busy: [] });
    const rest = await victim!.call<Once>('dequeueOnce', { name: 'stall', n: 32 });
    expect(rest.values).toEqual(prod ? [1, 2, 3, 4] : Array.from({ length: 12 }, (_, i) => 104 + i));
  }, 60_000);

  it('an MT producer with others reserved behind it cannot undo: ETIMEDOUT, its reservation abandoned; recover() drops it after the peer resumes', async () => {
    const [p, stopper, b1, b2] = await group({ name: 'stall2', count: 1024, opts: { elemSize: 8 } }, [STOP_ENQ, {}, {}]);
    const stopped = stopper!.call<Once>('enqueueOnce', { name: 'stall2', n: 4, value: 1 }, 60_000);
    await until('the peer to stop mid-operation', () => procState(stopper!.pid) === 'T');
    const first = b1!.call<Once>('enqueueOnce', { name: 'stall2', n: 4, value: 10, timeoutMs: 2000 }, 30_000);
    await until("b1's reservation", async () => (await headsOf(p!, 'stall2')).ph === 8);
    // b2 reserves behind b1 with a longer timeout: when b1's deadline passes, b1 is not the last reservation.
    const second = b2!.call<Once>('enqueueOnce', { name: 'stall2', n: 4, value: 20, timeoutMs: 4000 }, 30_000);
    await until("b2's reservation", async () => (await headsOf(p!, 'stall2')).ph === 12);
    const r1 = await first;
    expect(r1.error, r1.message).toBe('ETIMEDOUT');
    expect(r1.message).toContain(`pid ${stopper!.pid}`);
    expect(r1.ms).toBeLessThan(5000);
    // Its record marks the hole until recover(): b1 cannot reserve on that side again before that.
    const again = await b1!.call<Once>('enqueueOnce', { name: 'stall2', n: 1, value: 99 });
    expect(again.error, again.message).toBe('ESTALE');
    expect(again.message).toContain('recover()');
    // b2, now the last reservation, undoes its own at its deadline: a clean 0.
    const r2 = await second;
    expect(r2.error, r2.message).toBeUndefined();
    expect(r2.k).toBe(0);
    expect(r2.ms).toBeLessThan(10_000);
    expect(procState(stopper!.pid)).toBe('T');
    stopper!.child.kill('SIGCONT');
    expect((await stopped).k).toBe(4);
    const rep = await p!.call<{ droppedEnqueued: number; busy: string[] }>('recover', { name: 'stall2' });
    expect(rep.busy).toEqual([]);
    expect(rep.droppedEnqueued).toBe(4); // b1's abandoned slots, never visible
    expect((await p!.call<Once>('dequeueOnce', { name: 'stall2', n: 32 })).values).toEqual([1, 2, 3, 4]);
    expect((await b1!.call<Once>('enqueueOnce', { name: 'stall2', n: 2, value: 7 })).k).toBe(2);
    expect((await p!.call<Once>('dequeueOnce', { name: 'stall2', n: 32 })).values).toEqual([7, 8]);
  }, 60_000);
});

describe('a consumer blocked with timeoutMs: Infinity learns about a producer SIGKILLed mid-reservation', () => {
  it.each([
    ['multi', 'dequeueOnce'],
    ['hts', 'dequeueOnce'],
    ['rts', 'dequeueOnce'],
    ['multi', 'dequeueOnceAsync'],
  ] as const)(
    'producer %s, %s: ESTALE naming the dead pid within a few stall windows (well under the 1–2 s it took)',
    async (mode, op) => {
      const crash = { MP_TEST_CRASH: 'ring-enqueue-reserved', MP_TEST_CRASH_AFTER: '0' };
      const [p, dying, consumer] = await group({ name: 'dead', count: 1024, opts: { elemSize: 8, producer: mode } }, [crash, {}]);
      const blocked = consumer!.call<Once>(op, { name: 'dead', n: 4, timeoutMs: null }, 60_000);
      await until('the consumer to sleep', async () => (await p!.call<number>('sleepers', { name: 'dead' })) > 0);
      void dying!.request('enqueueOnce', { name: 'dead', n: 4 }).catch(() => undefined);
      const exit = await dying!.exited;
      expect(exit.signal).toBe('SIGKILL');
      const diedBy = Date.now(); // the death happened before this
      const r = await blocked;
      expect(r.error, r.message).toBe('ESTALE');
      expect(r.deadPid).toBe(dying!.pid);
      expect(r.staleError, 'a RingStaleError, an MpError subclass').toBe(true);
      expect(r.side).toBe('producer');
      // The blocked consumer looks at a side with reservation records every STALL_MS (50 ms; async: 200 ms)
      // and names a dead owner after one stall window: ~100 ms (async ~250 ms). Generous bound; it was
      // 1–2 s (1 s sleep slices).
      expect(r.endedAt - diedBy).toBeLessThan(1000);
    },
    60_000,
  );
});

describe('a ring freed by another process', () => {
  it('stale handles there throw EBADF on every call (a sleeper is woken to notice); the memzone reserved in its place is unchanged', async () => {
    const [p, s, sleeper] = await group({ name: 'gone', count: 256, opts: { elemSize: 8 } }, [{}, {}]);
    expect((await s!.call<Once>('enqueueOnce', { name: 'gone', n: 3 })).k).toBe(3);
    expect((await sleeper!.call<Once>('dequeueOnce', { name: 'gone', n: 3 })).k).toBe(3);
    const blocked = sleeper!.call<Once>('dequeueOnce', { name: 'gone', n: 4, timeoutMs: null }, 30_000);
    await until('the consumer to sleep', async () => (await p!.call<number>('sleepers', { name: 'gone' })) > 0);
    const where = await p!.call<{ offset: number; len: number }>('freeRing', { name: 'gone' });
    const r = await blocked;
    expect(r.error, r.message).toBe('EBADF');
    const next = await p!.call<{ offset: number; sha: string }>('reserveFill', { name: 'next_mz', len: where.len });
    expect(next.offset, 'the allocator reuses the freed place (else this test proves nothing)').toBe(where.offset);
    const w = { u32: [1, 2, 3, 4, 5, 6, 7, 8] };
    const calls: Array<[string, unknown[]]> = [
      ['enqueueBurst', [w, 2]],
      ['enqueueBulk', [w, 2]],
      ['enqueue', [w]],
      ['dequeueBurst', [w, 2]],
      ['dequeueBulk', [w, 1]],
      ['dequeue', [w]],
      ['enqueueBurst', [w, 2, { timeoutMs: 100 }]],
      ['enqueueBurstAsync', [w, 2, { timeoutMs: 100 }]],
      ['dequeueBurstAsync', [w, 2, { timeoutMs: 100 }]],
      ['count', []],
      ['freeCount', []],
      ['full', []],
      ['empty', []],
      ['getCapacity', []],
      ['reset', []],
      ['recover', []],
      ['dump', []],
      ['describe', []],
      ['close', []],
      ['free', []],
    ];
    for (const [method, args] of calls) {
      expect(await s!.call<string>('callStale', { name: 'gone', method, args }), `stale ${method}`).toBe('EBADF');
      expect(await sleeper!.call<string>('callStale', { name: 'gone', method, args }), `stale (was asleep) ${method}`).toBe('EBADF');
    }
    expect(await p!.call<string>('memzoneSha', { name: 'next_mz' })).toBe(next.sha);
  }, 60_000);
});
