// Single-process conformance, table-driven over sync modes and element sizes (as DPDK's test_ring.c).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Worker } from 'node:worker_threads';
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { init, memzone } from '@mp/eal';
import { futexWaitAsync, futexWake } from '@mp/memory';
import type { Eal } from '@mp/eal';
import { uniquePrefix, mpErrorCode } from '@mp/test-utils';
import {
  Ring,
  RING_F_EXACT_SZ,
  RING_F_SC_DEQ,
  RING_F_SP_ENQ,
  RING_F_MP_HTS_ENQ,
  RING_F_MP_RTS_ENQ,
  RING_F_MC_HTS_DEQ,
  RING_F_MC_RTS_DEQ,
  SP_ENQ,
  SC_DEQ,
} from '../src/index.js';
import type { SyncMode } from '../src/index.js';
import { MODES } from './fixtures/modes.js';

let group: Eal;
beforeAll(() => {
  group = init([`--file-prefix=${uniquePrefix('rg')}`, '--no-huge', '-m', '64']);
});
afterAll(() => group.cleanup());

let seq = 0;
const fresh = (): string => `r${seq++}`;

const code = mpErrorCode;

const ELEM_SIZES = [4, 8, 16, 32];

/** Element `v` as words: word 0 = v, word k = v * 31 + k. */
function fill(buf: Uint32Array, wpe: number, from: number, count: number, at = 0): void {
  for (let e = 0; e < count; e++) {
    const v = from + e;
    buf[(at + e) * wpe] = v;
    for (let k = 1; k < wpe; k++) buf[(at + e) * wpe + k] = (v * 31 + k) >>> 0;
  }
}
function check(buf: Uint32Array, wpe: number, from: number, count: number, at = 0): void {
  for (let e = 0; e < count; e++) {
    const v = from + e;
    if (buf[(at + e) * wpe] !== v) throw new Error(`element ${e}: got ${buf[(at + e) * wpe]}, want ${v}`);
    for (let k = 1; k < wpe; k++) {
      if (buf[(at + e) * wpe + k] !== ((v * 31 + k) >>> 0)) throw new Error(`element ${e} word ${k} corrupt`);
    }
  }
}

describe('create / lookup / errors', () => {
  it.each([
    ['count 0', 0, {}],
    ['count not a power of two', 1000, {}],
    ['count above 2^31-1', 2 ** 31, {}],
    ['count 2^31 with EXACT_SZ', 2 ** 31, { flags: RING_F_EXACT_SZ }],
    ['elemSize 6', 1024, { elemSize: 6 }],
    ['elemSize 0', 1024, { elemSize: 0 }],
  ])('%s → EINVAL', (_label, count, opts) => {
    expect(code(() => Ring.create(fresh(), count, opts))).toBe('EINVAL');
  });

  // Every conflicting pair of sync sources on a side (two bits; a bit and an option naming another mode),
  // EXACT_SZ against exactSize: false, and every unknown bit: EINVAL naming both sides of the conflict.
  const SIDE_BITS = {
    producer: { single: ['RING_F_SP_ENQ', RING_F_SP_ENQ], rts: ['RING_F_MP_RTS_ENQ', RING_F_MP_RTS_ENQ], hts: ['RING_F_MP_HTS_ENQ', RING_F_MP_HTS_ENQ] },
    consumer: { single: ['RING_F_SC_DEQ', RING_F_SC_DEQ], rts: ['RING_F_MC_RTS_DEQ', RING_F_MC_RTS_DEQ], hts: ['RING_F_MC_HTS_DEQ', RING_F_MC_HTS_DEQ] },
  } as const;
  const FLAG_MODES = ['single', 'rts', 'hts'] as const;
  const OPTION_MODES = ['multi', 'single', 'rts', 'hts'] as const;
  const conflicts: Array<[string, Record<string, unknown>, string[]]> = [];
  const agreements: Array<[string, Record<string, unknown>, 'producer' | 'consumer', SyncMode]> = [];
  for (const side of ['producer', 'consumer'] as const) {
    const bits = SIDE_BITS[side];
    for (let i = 0; i < FLAG_MODES.length; i++) {
      const [name1, bit1] = bits[FLAG_MODES[i]!];
      for (let j = i + 1; j < FLAG_MODES.length; j++) {
        const [name2, bit2] = bits[FLAG_MODES[j]!];
        conflicts.push([`${name1} | ${name2}`, { flags: bit1 | bit2 }, [name1, name2]]);
      }
      for (const o of OPTION_MODES) {
        if (o === FLAG_MODES[i]) agreements.push([`${name1} with ${side}: '${o}'`, { flags: bit1, [side]: o }, side, o]);
        else conflicts.push([`${name1} with ${side}: '${o}'`, { flags: bit1, [side]: o }, [name1, `${side}: '${o}'`]]);
      }
    }
    conflicts.push([`all three ${side} bits`, { flags: bits.single[1] | bits.rts[1] | bits.hts[1] }, [bits.single[0], bits.rts[0], bits.hts[0]]]);
  }
  conflicts.push(['RING_F_EXACT_SZ with exactSize: false', { flags: RING_F_EXACT_SZ, exactSize: false }, ['RING_F_EXACT_SZ', 'exactSize: false']]);
  for (let bit = 7; bit < 31; bit++) conflicts.push([`unknown bit 0x${(1 << bit).toString(16)}`, { flags: 1 << bit }, ['unknown', (1 << bit).toString(16)]]);
  conflicts.push(['flags 2^31', { flags: 2 ** 31 }, ['unknown']]);
  conflicts.push(['flags -1', { flags: -1 }, ['-1', 'non-negative integer']]);
  conflicts.push(['flags 1.5', { flags: 1.5 }, ['1.5', 'non-negative integer']]);
  conflicts.push(['flags NaN', { flags: NaN }, ['NaN', 'non-negative integer']]);
  conflicts.push(["producer: 'fast'", { producer: 'fast' }, ["'fast'", 'multi, single, rts, hts']]);
  conflicts.push(["exactSize: 'yes'", { exactSize: 'yes' }, ['exactSize', 'boolean']]);

  it.each(conflicts)('%s → EINVAL naming both', (_label, opts, names) => {
    let err: (Error & { code?: string }) | undefined;
    try {
      Ring.create(fresh(), 1024, opts);
    } catch (e) {
      err = e as Error & { code?: string };
    }
    expect(err?.name).toBe('MpError');
    expect(err?.code).toBe('EINVAL');
    for (const n of names) expect(err?.message).toContain(n);
  });

  it.each(agreements)('%s agree: the ring has that mode', (_label, opts, side, mode) => {
    const r = Ring.create(fresh(), 64, opts);
    expect(side === 'producer' ? r.producerMode : r.consumerMode).toBe(mode);
    expect(side === 'producer' ? r.consumerMode : r.producerMode).toBe('multi');
  });

  it('the flag forms and the option forms make the same rings', () => {
    const pairs: Array<[Record<string, unknown>, Record<string, unknown>]> = [
      [{ flags: RING_F_SP_ENQ | RING_F_SC_DEQ }, { producer: 'single', consumer: 'single' }],
      [{ flags: RING_F_MP_RTS_ENQ | RING_F_MC_RTS_DEQ }, { producer: 'rts', consumer: 'rts' }],
      [{ flags: RING_F_MP_HTS_ENQ | RING_F_MC_HTS_DEQ }, { producer: 'hts', consumer: 'hts' }],
      [{ flags: RING_F_EXACT_SZ }, { exactSize: true }],
      [{ flags: RING_F_EXACT_SZ | RING_F_SP_ENQ }, { flags: RING_F_EXACT_SZ, exactSize: true, producer: 'single' }],
    ];
    for (const [a, b] of pairs) {
      const ra = Ring.create(fresh(), 100, { exactSize: true, ...a });
      const rb = Ring.create(fresh(), 100, { exactSize: true, ...b });
      expect([ra.flags, ra.producerMode, ra.consumerMode]).toEqual([rb.flags, rb.producerMode, rb.consumerMode]);
    }
  });

  it.each([NaN, -1, '5'])('timeoutMs %s → EINVAL (sync and async)', async (t) => {
    const r = Ring.create(fresh(), 8);
    expect(code(() => r.dequeueBurst(new Uint32Array(1), 1, { timeoutMs: t as number }))).toBe('EINVAL');
    await expect(r.dequeueBurstAsync(new Uint32Array(1), 1, { timeoutMs: t as number })).rejects.toMatchObject({ code: 'EINVAL' });
  });

  it('names the fix in the message for a non power of two', () => {
    expect(() => Ring.create(fresh(), 1000)).toThrow(/not a power of two \(use EXACT_SZ/);
  });

  it('EEXIST, ENOENT, ENAMETOOLONG, EINVAL name', () => {
    const name = fresh();
    Ring.create(name, 64);
    expect(code(() => Ring.create(name, 64))).toBe('EEXIST');
    expect(code(() => Ring.lookup('nope-not-here'))).toBe('ENOENT');
    expect(code(() => Ring.create('x'.repeat(29), 64))).toBe('ENAMETOOLONG');
    expect(Ring.create('y'.repeat(28), 64).name).toBe('y'.repeat(28));
    expect(code(() => Ring.create('a/b', 64))).toBe('EINVAL');
    expect(code(() => Ring.create('', 64))).toBe('EINVAL');
  });

  it('lookup returns the same ring; free makes it disappear', () => {
    const name = fresh();
    const r = Ring.create(name, 256, { elemSize: 8, flags: RING_F_SP_ENQ | RING_F_SC_DEQ });
    const l = Ring.lookup(name);
    expect(l.capacity).toBe(255);
    expect(l.elemSize).toBe(8);
    expect(l.producerMode).toBe('single');
    expect(l.consumerMode).toBe('single');
    expect(r.enqueue(new Uint32Array([1, 2]))).toBe(true);
    expect(l.count()).toBe(1);
    r.free();
    expect(code(() => Ring.lookup(name))).toBe('ENOENT');
    expect(code(() => r.free())).toBe('EBADF');
  });

  it('find returns undefined where lookup throws ENOENT, the same handle where there is a ring; both validate the name', () => {
    const name = fresh();
    expect(Ring.find(name)).toBeUndefined();
    expect(code(() => Ring.lookup(name))).toBe('ENOENT');
    const r = Ring.create(name, 64, { elemSize: 8 });
    expect(Ring.find(name)).toBe(r);
    expect(Ring.lookup(name)).toBe(r);
    for (const bad of ['a/b', '', 'z'.repeat(29)]) {
      const want = bad.length > 28 ? 'ENAMETOOLONG' : 'EINVAL';
      expect(code(() => Ring.find(bad))).toBe(want);
      expect(code(() => Ring.lookup(bad))).toBe(want);
    }
    // A memzone of that name that holds no ring is an error for both, not "not found".
    const other = fresh();
    memzone.reserve(`RG_${other}`, 4096);
    expect(code(() => Ring.find(other))).toBe('EPROTO');
    r.free();
    expect(Ring.find(name)).toBeUndefined();
  });

  it.each([
    [1, 1, 2],
    [1000, 1000, 1024],
    [1023, 1023, 1024],
    [1024, 1024, 2048],
  ])('EXACT_SZ count %i → capacity %i, %i slots', (count, capacity, size) => {
    const r = Ring.create(fresh(), count, { exactSize: true });
    expect(r.capacity).toBe(capacity);
    expect(r.getCapacity()).toBe(capacity);
    expect(r.size).toBe(size);
    const src = new Uint32Array(count + 5);
    expect(r.enqueueBurst(src)).toBe(capacity);
    expect(r.full()).toBe(true);
    expect(r.lastFreeSpace).toBe(0);
  });

  it('power-of-two rings hold count - 1', () => {
    const r = Ring.create(fresh(), 16);
    expect(r.capacity).toBe(15);
    expect(r.enqueueBurst(new Uint32Array(20))).toBe(15);
  });

  it('dump names the ring and its state', () => {
    const r = Ring.create(fresh(), 64, { producer: 'hts' });
    r.enqueue(7);
    const d = r.dump();
    expect(d).toContain(r.name);
    expect(d).toContain('used=1');
    expect(d).toContain('producer hts');
  });

  it('numbers only on 4-byte rings; arrays must hold n elements', () => {
    const r = Ring.create(fresh(), 64, { elemSize: 8 });
    expect(code(() => r.enqueue(1))).toBe('EINVAL');
    expect(code(() => r.dequeueValue())).toBe('EINVAL');
    expect(code(() => r.enqueueBulk(new Uint32Array(4), 3))).toBe('EINVAL');
    expect(code(() => r.enqueueBulk(new Uint32Array(4), 1, { offset: 2 }))).toBe('EINVAL');
    expect(code(() => r.enqueueBulk(new Uint32Array(4), -1))).toBe('EINVAL');
  });
});

describe.each(MODES)('producer %s / consumer %s', (producer, consumer) => {
  describe.each(ELEM_SIZES)('elemSize %i', (elemSize) => {
    const wpe = elemSize / 4;

    it('empty/full/count/freeCount and bulk all-or-nothing vs burst', () => {
      const r = Ring.create(fresh(), 64, { producer, consumer, elemSize });
      expect(r.empty()).toBe(true);
      expect(r.count()).toBe(0);
      expect(r.freeCount()).toBe(63);
      const src = new Uint32Array(100 * wpe);
      fill(src, wpe, 0, 100);
      expect(r.enqueueBulk(src, 40)).toBe(40);
      expect(r.lastFreeSpace).toBe(23);
      expect(r.enqueueBulk(src, 30, { offset: 40 })).toBe(0); // 23 free: all or nothing
      expect(r.lastFreeSpace).toBe(23);
      expect(r.count()).toBe(40);
      expect(r.enqueueBurst(src, 30, { offset: 40 })).toBe(23); // as many as fit
      expect(r.full()).toBe(true);
      expect(r.lastFreeSpace).toBe(0);
      expect(r.enqueueBurst(src, 1)).toBe(0);
      const dst = new Uint32Array(100 * wpe);
      expect(r.dequeueBulk(dst, 64)).toBe(0);
      expect(r.lastAvailable).toBe(63);
      expect(r.dequeueBulk(dst, 10)).toBe(10);
      expect(r.lastAvailable).toBe(53);
      check(dst, wpe, 0, 10);
      expect(r.dequeueBurst(dst, 90, { offset: 10 })).toBe(53);
      expect(r.lastAvailable).toBe(0);
      check(dst, wpe, 0, 63);
      expect(r.empty()).toBe(true);
      expect(r.dequeueBurst(dst, 5)).toBe(0);
    });

    it('FIFO across many wrap-arounds with mixed burst sizes', () => {
      const r = Ring.create(fresh(), 32, { producer, consumer, elemSize, exactSize: false });
      const src = new Uint32Array(40 * wpe);
      const dst = new Uint32Array(40 * wpe);
      let next = 0;
      let want = 0;
      let rnd = 12345;
      const rand = (m: number): number => ((rnd = (Math.imul(rnd, 1103515245) + 12345) >>> 0) % m);
      for (let it = 0; it < 2000; it++) {
        const n = rand(34);
        fill(src, wpe, next, n);
        const put = rand(2) ? r.enqueueBurst(src, n) : r.enqueueBulk(src, n);
        expect(put === n || put < n).toBe(true);
        next += put;
        const m = rand(34);
        const got = rand(2) ? r.dequeueBurst(dst, m) : r.dequeueBulk(dst, m);
        check(dst, wpe, want, got);
        want += got;
        expect(r.count()).toBe(next - want);
      }
      expect(next).toBeGreaterThan(10000);
    });

    it('single-element enqueue/dequeue', () => {
      const r = Ring.create(fresh(), 4, { producer, consumer, elemSize });
      const e = new Uint32Array(wpe);
      for (let i = 0; i < 3; i++) {
        fill(e, wpe, i, 1);
        expect(r.enqueue(e)).toBe(true);
      }
      expect(r.enqueue(e)).toBe(false);
      const out = new Uint32Array(wpe);
      for (let i = 0; i < 3; i++) {
        expect(r.dequeue(out)).toBe(true);
        check(out, wpe, i, 1);
      }
      expect(r.dequeue(out)).toBe(false);
    });
  });

  it('dequeueValue / enqueue(number) on 4-byte rings, signed and unsigned words', () => {
    const r = Ring.create(fresh(), 8, { producer, consumer });
    expect(r.enqueue(0xffffffff)).toBe(true);
    expect(r.enqueueBulk(new Int32Array([-2]))).toBe(1);
    expect(r.dequeueValue()).toBe(0xffffffff);
    const out = new Int32Array(1);
    expect(r.dequeue(out)).toBe(true);
    expect(out[0]).toBe(-2);
    expect(r.dequeueValue()).toBeUndefined();
  });

  it('64-bit typed arrays carry 8-byte elements bit-exactly', () => {
    const r = Ring.create(fresh(), 16, { producer, consumer, elemSize: 8 });
    const src = new BigUint64Array([0xfedcba9876543210n, 1n, 2n ** 64n - 1n]);
    expect(r.enqueueBulk(src)).toBe(3);
    const dst = new BigUint64Array(3);
    expect(r.dequeueBulk(dst)).toBe(3);
    expect([...dst]).toEqual([...src]);
  });

  // Elements of 8-byte multiples are copied by 64-bit words (copy.ts) from a view of the caller's array
  // that is cached per direction: every bit pattern (NaN payloads included) must survive, in the
  // interpreter and in optimised code (20 000 calls), from arrays at an odd word (the 32-bit path), after
  // switching arrays, and from a length-tracking array whose resizable buffer grew between calls.
  it.each([8, 16])('%i-byte elements: every bit pattern, any array alignment, arrays switched and resized', (elemSize) => {
    const wpe = elemSize / 4;
    const r = Ring.create(fresh(), 64, { producer, consumer, elemSize });
    const PATTERNS = [0x7ff00001, 0xfff00001, 0x7ff80000, 0xfff7ffff, 0xffffffff, 0, 0x80000000, 0x12345678];
    const word = (v: number, k: number): number => (k % 2 === 1 ? PATTERNS[(v + k) % PATTERNS.length]! : (v * 7 + k) >>> 0);
    const aligned = new Uint32Array(40 * wpe);
    const odd = new Uint32Array(new ArrayBuffer((40 * wpe + 1) * 4), 4); // byteOffset 4: not 8-byte aligned
    // A resizable ArrayBuffer (ES2024; Node 20 has it, this package's TypeScript lib does not name it).
    type Resizable = ArrayBuffer & { readonly maxByteLength: number; resize(byteLength: number): void };
    const ResizableBuffer = ArrayBuffer as unknown as new (byteLength: number, o: { maxByteLength: number }) => Resizable;
    const growing = new ResizableBuffer(8 * wpe * 4, { maxByteLength: 24 * wpe * 4 }); // < 128 words: the 64-bit path
    const tracking = new Uint32Array(growing); // length follows the buffer
    const outs = [new Uint32Array(40 * wpe), new Uint32Array(new ArrayBuffer((40 * wpe + 1) * 4), 4)];
    let next = 0;
    let want = 0;
    for (let it = 0; it < 20000; it++) {
      const phase = it % 50; // runs of 5 calls with the growing array, so a stale cached view would show
      const src = phase < 5 ? tracking : phase % 7 === 0 ? odd : aligned;
      if (src === tracking && growing.byteLength < growing.maxByteLength) growing.resize(growing.byteLength + wpe * 4);
      // The growing array is enqueued whole: its last element lies beyond any view made before it grew.
      const n = src === tracking ? src.length / wpe : 1 + (it % 13);
      for (let e = 0; e < n; e++) for (let k = 0; k < wpe; k++) src[e * wpe + k] = word(next + e, k);
      next += r.enqueueBurst(src, n);
      const dst = outs[it % 3 === 0 ? 1 : 0]!;
      const got = r.dequeueBurst(dst, 1 + (it % 17));
      for (let e = 0; e < got; e++) {
        for (let k = 0; k < wpe; k++) {
          if (dst[e * wpe + k] !== word(want + e, k)) throw new Error(`call ${it}: element ${want + e} word ${k} is ${dst[e * wpe + k]}`);
        }
      }
      want += got;
    }
    expect(want).toBeGreaterThan(50000);
    expect(next - want).toBe(r.count());
  });

  it('blocking dequeue with a timeout returns 0 when nothing comes', () => {
    const r = Ring.create(fresh(), 8, { producer, consumer });
    expect(r.dequeueBurst(new Uint32Array(4), 4, { timeoutMs: 30 })).toBe(0);
    r.enqueue(5);
    expect(r.dequeueBurst(new Uint32Array(4), 4, { timeoutMs: 30 })).toBe(1);
  });

  it('blocking enqueue (bulk) waits for room and times out with 0', async () => {
    const r = Ring.create(fresh(), 8, { producer, consumer });
    expect(r.enqueueBulk(new Uint32Array(6))).toBe(6);
    expect(r.enqueueBulk(new Uint32Array(3), 3, { timeoutMs: 20 })).toBe(0);
    const p = r.enqueueBulkAsync(new Uint32Array([1, 2, 3]), 3, { timeoutMs: 10_000 });
    setTimeout(() => r.dequeueBulk(new Uint32Array(4), 4), 20);
    expect(await p).toBe(3);
    expect(r.count()).toBe(5);
  });

  it('reset empties the ring', () => {
    const r = Ring.create(fresh(), 8, { producer, consumer });
    r.enqueueBurst(new Uint32Array(5));
    r.reset();
    expect(r.count()).toBe(0);
    expect(r.enqueueBurst(new Uint32Array(9))).toBe(7);
    expect(r.dequeueBurst(new Uint32Array(9))).toBe(7);
  });

  it('recover() on a healthy ring changes nothing', () => {
    const r = Ring.create(fresh(), 16, { producer, consumer });
    r.enqueueBurst(new Uint32Array([1, 2, 3]));
    const rep = r.recover();
    expect(rep).toEqual({ droppedEnqueued: 0, returnedDequeued: 0, sleepersTakenBack: 0, deadPids: [], busy: [] });
    expect(r.count()).toBe(3);
  });
});

describe.each([
  ['single', 'single'],
  ['hts', 'hts'],
] as Array<[SyncMode, SyncMode]>)('peek and zero-copy: producer %s / consumer %s', (producer, consumer) => {
  it('dequeueBulkStart copies without releasing; finish releases part', () => {
    const r = Ring.create(fresh(), 16, { producer, consumer });
    r.enqueueBulk(new Uint32Array([10, 11, 12, 13]));
    const dst = new Uint32Array(8);
    expect(r.dequeueBulkStart(dst, 5)).toBe(0);
    expect(r.dequeueBulkStart(dst, 3)).toBe(3);
    expect([...dst.subarray(0, 3)]).toEqual([10, 11, 12]);
    expect(() => r.dequeueBulkStart(dst, 1)).toThrow(/pending/);
    expect(code(() => r.dequeueFinish(4))).toBe('EINVAL');
    r.dequeueFinish(1);
    expect(r.count()).toBe(3);
    expect(r.dequeueBurstStart(dst, 8)).toBe(3);
    expect([...dst.subarray(0, 3)]).toEqual([11, 12, 13]);
    r.dequeueFinish(0);
    expect(r.count()).toBe(3);
  });

  it('enqueue start/finish publishes only what finish names', () => {
    const r = Ring.create(fresh(), 8, { producer, consumer });
    expect(r.enqueueBulkStart(10)).toBe(0);
    expect(r.enqueueBurstStart(10)).toBe(7);
    r.enqueueFinish(new Uint32Array([1, 2]), 2);
    expect(r.count()).toBe(2);
    expect(r.enqueueBulkStart(5)).toBe(5);
    r.enqueueFinish(new Uint32Array([3, 4, 5, 6, 7]), 5);
    expect(r.full()).toBe(true);
    const dst = new Uint32Array(7);
    expect(r.dequeueBulk(dst)).toBe(7);
    expect([...dst]).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it('zero-copy enqueue and dequeue hand out slot views, split at the wrap', () => {
    const r = Ring.create(fresh(), 8, { producer, consumer, elemSize: 8 });
    // Move the heads to slot 6 so a reservation of 4 wraps.
    r.enqueueBulk(new Uint32Array(12));
    r.dequeueBulk(new Uint32Array(12));
    const zc = r.enqueueZcBulkStart(4);
    expect(zc.n).toBe(4);
    expect(zc.n1).toBe(2);
    expect(zc.ptr1.length).toBe(4);
    expect(zc.ptr2.length).toBe(4);
    zc.ptr1.set([1, 101, 2, 102]);
    zc.ptr2.set([3, 103, 4, 104]);
    r.enqueueZcFinish(4);
    const dz = r.dequeueZcBurstStart(8);
    expect(dz.n).toBe(4);
    expect([...dz.ptr1, ...dz.ptr2]).toEqual([1, 101, 2, 102, 3, 103, 4, 104]);
    r.dequeueZcFinish(3);
    expect(r.count()).toBe(1);
    expect(r.dequeueZcBulkStart(2).n).toBe(0);
  });
});

describe.each([
  ['multi', 'multi'],
  ['rts', 'rts'],
] as Array<[SyncMode, SyncMode]>)('peek refused: producer %s / consumer %s', (producer, consumer) => {
  it('ENOTSUP for two-step and zero-copy calls', () => {
    const r = Ring.create(fresh(), 8, { producer, consumer });
    expect(code(() => r.dequeueBulkStart(new Uint32Array(1), 1))).toBe('ENOTSUP');
    expect(code(() => r.enqueueBulkStart(1))).toBe('ENOTSUP');
    expect(code(() => r.enqueueZcBurstStart(1))).toBe('ENOTSUP');
    expect(code(() => r.dequeueZcBurstStart(1))).toBe('ENOTSUP');
  });
});

describe('dequeueWaitAsync', () => {
  it('resolves once n elements are there, taking none; 0 at its timeout; a need function is re-read at each wake-up', async () => {
    const r = Ring.create(fresh(), 16, { consumer: 'single' });
    const three = r.dequeueWaitAsync(3);
    r.enqueue(1);
    r.enqueue(2);
    r.enqueue(3);
    expect(await three).toBe(3);
    expect(r.count()).toBe(3);
    // A peeker holding 3 waits for a 4th; it times out with 0 when none comes.
    expect(await r.dequeueWaitAsync(4, { timeoutMs: 20 })).toBe(0);
    // The need drops while waiting (the peeker released 2): the next enqueue ends the wait.
    let need = 5;
    const changing = r.dequeueWaitAsync(() => need);
    expect(r.dequeueBurst(new Uint32Array(2), 2)).toBe(2);
    need = 2;
    r.enqueue(4);
    expect(await changing).toBe(2);
    // A need of 0 ends the wait at the next wake-up, with 0.
    need = 9;
    const ended = r.dequeueWaitAsync(() => need);
    need = 0;
    r.enqueue(5);
    expect(await ended).toBe(0);
    expect(r.count()).toBe(3);
    await expect(r.dequeueWaitAsync(0)).rejects.toMatchObject({ code: 'EINVAL' });
    await expect(r.dequeueWaitAsync(r.capacity + 1)).rejects.toMatchObject({ code: 'EINVAL' });
    r.free();
  });
});

describe('async waits woken in this process', () => {
  it('an enqueue (dequeue) through the same handle wakes an async waiter directly, with every libuv pool thread busy', async () => {
    // Occupy every pool thread with a futex wait nobody ends yet: a wake-up that needs the pool cannot come.
    const pool = Number(process.env.UV_THREADPOOL_SIZE ?? 4);
    const word = new Int32Array(memzone.reserve(fresh(), 64).buffer);
    let blockersDone = 0;
    const blockers = Array.from({ length: pool }, () => futexWaitAsync(word, 0, 0, 60_000).then(() => blockersDone++));
    const r = Ring.create(fresh(), 4, { producer: 'single', consumer: 'single' });
    const dst = new Uint32Array(4);
    const got = r.dequeueBurstAsync(dst, 4, { timeoutMs: 60_000 });
    const seen = r.dequeueWaitAsync(2, { timeoutMs: 60_000 });
    r.enqueue(7);
    expect(await got).toBe(1);
    expect(dst[0]).toBe(7);
    r.enqueueBulk(new Uint32Array([8, 9]), 2);
    expect(await seen).toBe(2);
    r.enqueue(10); // full (capacity 3)
    const room = r.enqueueBulkAsync(new Uint32Array([11]), 1, { timeoutMs: 60_000 });
    expect(r.dequeueBurst(dst, 1)).toBe(1);
    expect(await room).toBe(1);
    expect(blockersDone).toBe(0);
    // A pool thread not yet scheduled (a loaded machine) calls its futex wait after this: the changed word
    // ends it at once instead of after its 60 s.
    Atomics.store(word, 0, 1);
    futexWake(word, 0);
    await Promise.all(blockers);
    r.free();
  });
});

describe('worker threads', () => {
  it('a worker opens the ring from its descriptor; 10^6 elements cross, in order', async () => {
    const r = Ring.create(fresh(), 1024, { flags: SP_ENQ | SC_DEQ });
    const N = 1_000_000;
    const code = `
      const { workerData, parentPort } = require('node:worker_threads');
      import(${JSON.stringify(pathToFileURL(join(import.meta.dirname, '../dist/index.js')).href)}).then(({ Ring }) => {
        const r = Ring.fromDescriptor(workerData.d);
        const buf = new Uint32Array(64);
        let next = 0;
        while (next < workerData.N) {
          const n = Math.min(64, workerData.N - next);
          for (let i = 0; i < n; i++) buf[i] = next + i;
          next += r.enqueueBurst(buf, n, { timeoutMs: 10000 });
        }
        parentPort.postMessage(next);
      });`;
    const w = new Worker(code, { eval: true, workerData: { d: r.describe(), N } });
    const done = new Promise((resolve, reject) => {
      w.on('message', resolve);
      w.on('error', reject);
    });
    const dst = new Uint32Array(64);
    let want = 0;
    while (want < N) {
      const k = await r.dequeueBurstAsync(dst, 64, { timeoutMs: 10_000 });
      expect(k).toBeGreaterThan(0);
      for (let i = 0; i < k; i++) if (dst[i] !== want + i) throw new Error(`got ${dst[i]} want ${want + i}`);
      want += k;
    }
    expect(await done).toBe(N);
    await w.terminate();
  });

  it('fromDescriptor rejects junk', () => {
    expect(code(() => Ring.fromDescriptor({} as never))).toBe('EINVAL');
  });
});
