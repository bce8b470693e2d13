// Sleeper registration in one process (sleepers.ts, layout.ts "Sleepers"): per-thread bits and counts, the
// entry a single-producer/consumer ring claims at the first sleep, the polling fallback when no entry is
// free, and the layout version that came with it. Killed sleepers: sleepers.mp.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { init } from '@mp/eal';
import type { Eal } from '@mp/eal';
import { uniquePrefix, mpErrorCode } from '@mp/test-utils';
import { MpError, Ring, RING_VERSION } from '../src/index.js';
import { H_VERSION, P_PID, P_TID, PARTICIPANTS, partWord } from '../src/layout.js';
import type { SyncMode } from '../src/index.js';

let group: Eal;
beforeAll(() => {
  group = init([`--file-prefix=${uniquePrefix('rq')}`, '--no-huge', '-m', '64']);
});
afterAll(() => group.cleanup());

let seq = 0;
const fresh = (): string => `q${seq++}`;
const asleep = (r: Ring): { consumers: number; mine: string | undefined } => {
  const d = r.dump();
  return {
    consumers: Number(/sleeping consumers=(\d+)/.exec(d)![1]),
    mine: new RegExp(`pid ${process.pid} .*(asleep prod \\d+ cons \\d+)`).exec(d)?.[1],
  };
};

describe('sleeper registration', () => {
  it.each([['single'], ['multi']] as Array<[SyncMode]>)(
    '%s ring: two waits of one thread count twice under one entry; the bit goes with the last',
    async (mode) => {
      const r = Ring.create(fresh(), 16, { elemSize: 8, producer: mode, consumer: mode });
      const a = new Uint32Array(2);
      const b = new Uint32Array(2);
      // Each async call has tried, registered and gone to sleep by the time it returns its promise.
      const wa = r.dequeueBurstAsync(a, 1, { timeoutMs: 30_000 });
      const wb = r.dequeueBurstAsync(b, 1, { timeoutMs: 30_000 });
      expect(asleep(r)).toEqual({ consumers: 2, mine: 'asleep prod 0 cons 2' });
      expect(r.enqueueBurst(new Uint32Array([5, 0, 6, 0]), 2)).toBe(2);
      expect([await wa, await wb]).toEqual([1, 1]);
      expect([a[0], b[0]].sort()).toEqual([5, 6]);
      expect(asleep(r)).toEqual({ consumers: 0, mine: 'asleep prod 0 cons 0' });
      // Nobody asleep: a publish issues no futex wake.
      const wakes = (): number => Number(/futex wakes by producers=(\d+)/.exec(r.dump())![1]);
      const before = wakes();
      expect(r.enqueue(new Uint32Array([7, 0]))).toBe(true);
      expect(wakes()).toBe(before);
      r.free();
    },
  );

  it('every participant entry held by a live thread: a single-ring waiter cannot register, polls, and still gets the element', async () => {
    const r = Ring.create(fresh(), 16, { elemSize: 8, producer: 'single', consumer: 'single' });
    const i32 = new Int32Array(r.buffer);
    // This process's pid under thread ids no thread of it has: live owners for liveness checks.
    for (let p = 0; p < PARTICIPANTS; p++) {
      i32[partWord(p) + P_PID] = process.pid;
      i32[partWord(p) + P_TID] = 1_000_000 + p;
    }
    const dst = new Uint32Array(2);
    const w = r.dequeueBurstAsync(dst, 1, { timeoutMs: 30_000 });
    expect(asleep(r).consumers, 'registered nowhere').toBe(0);
    expect(r.enqueue(new Uint32Array([9, 0]))).toBe(true);
    expect(await w).toBe(1);
    expect(dst[0]).toBe(9);
    for (let p = 0; p < PARTICIPANTS; p++) i32[partWord(p) + P_PID] = 0;
    r.free();
  });
});

describe('layout version', () => {
  it(`a ring of layout version ${RING_VERSION - 1} (sleeper counts, before the sleeper masks) is refused with EPROTO naming both versions`, () => {
    const r = Ring.create(fresh(), 16, { elemSize: 8 });
    const u16 = new Uint16Array(r.buffer, 0, H_VERSION + 1);
    u16[H_VERSION] = RING_VERSION - 1;
    let err: unknown;
    try {
      Ring.fromDescriptor(r.describe());
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(MpError);
    expect(mpErrorCode(() => Ring.fromDescriptor(r.describe()))).toBe('EPROTO');
    expect((err as Error).message).toContain(`version ${RING_VERSION - 1}`);
    expect((err as Error).message).toContain(`version ${RING_VERSION}`);
    u16[H_VERSION] = RING_VERSION;
    r.free();
  });
});
