/**
 * The base of class Ring (ring.ts): one thread's handle on a mapped ring — the header it read, its two
 * {@link Side}s and slots, the freed-ring checks (epoch, poison) and the element core every public call
 * goes through (enq/deq: reserve, copy, publish, wake; the blocking calls are in waits.ts).
 */
import { MpError } from '@mp/memory';
import type { Memzone, MemzoneDescriptor } from '@mp/memory';
import { FAULTS, faultPoint } from '@mp/memory/internal';
import {
  HDR,
  H_FLAGS,
  H_VERSION,
  Q_HEADER_END,
  RING_MAGIC,
  RING_VERSION,
  SYNC_MT,
  SYNC_MT_HTS,
  SYNC_ST,
  W_CAPACITY,
  W_CONS_TAIL,
  W_ELEM_SIZE,
  W_EPOCH,
  W_HEADER_END,
  W_INSTANCE,
  W_MAGIC,
  W_MASK,
  W_PARTICIPANTS,
  W_PROD_TAIL,
  W_SIZE,
  WORD_BYTES,
  slotsOffset,
} from './layout.js';
import { SYNC_NAMES } from './flags.js';
import type { SyncMode } from './flags.js';
import { Side, moveHeadMT, moveHeadST, updateTailMT, updateTailST, wakeOther } from './headtail.js';
import { moveHeadHTS, updateTailHTS } from './hts.js';
import { moveHeadRTS, updateTailRTS } from './rts.js';
import { Slots, words } from './copy.js';
import { claim } from './participants.js';
import { peekStart } from './peek.js';
import type { RingData, RingData64, RingOpOptions } from './types.js';

const dec = new TextDecoder();

/** One thread's handle on a ring; the public API is class Ring (ring.ts). */
export abstract class RingHandle {
  readonly name: string;
  /** Slots (a power of two). */
  readonly size: number;
  readonly mask: number;
  /** Usable slots: `size - 1`, or the exact count with EXACT_SZ. */
  readonly capacity: number;
  /** Bytes per element. */
  readonly elemSize: number;
  /** RING_F_* flags the ring was created with. */
  readonly flags: number;
  /** The ring's memory (the memzone's buffer, or a worker's own mapping of it). */
  readonly buffer: ArrayBuffer;

  protected readonly mz: Memzone | undefined;
  protected readonly descriptor: MemzoneDescriptor | undefined;
  protected readonly i32: Int32Array;
  /** Producer and consumer sides of this handle. */
  protected readonly p: Side;
  protected readonly c: Side;
  protected readonly slots: Slots;
  /** Words per element. */
  protected readonly wpe: number;
  protected epoch = 0;
  /** The ring's instance id (layout.ts): another value in the header means this ring was freed. */
  protected readonly instance: number;

  protected constructor(buffer: ArrayBuffer, mz: Memzone | undefined, descriptor: MemzoneDescriptor | undefined) {
    const u32 = new Uint32Array(buffer, 0, W_HEADER_END);
    const u16 = new Uint16Array(buffer, 0, H_FLAGS + 1);
    const magic = Atomics.load(u32, W_MAGIC);
    if (magic !== RING_MAGIC) {
      throw new MpError('EPROTO', `memzone ${mz?.name ?? descriptor?.name} holds no ring (magic 0x${magic.toString(16)})`);
    }
    if (u16[H_VERSION] !== RING_VERSION) {
      throw new MpError('EPROTO', `ring layout version ${u16[H_VERSION]}, this @mp/ring speaks version ${RING_VERSION}`);
    }
    this.buffer = buffer;
    this.mz = mz;
    this.descriptor = descriptor;
    this.flags = u16[H_FLAGS]!;
    this.size = u32[W_SIZE]!;
    this.mask = u32[W_MASK]!;
    this.capacity = u32[W_CAPACITY]!;
    this.elemSize = u32[W_ELEM_SIZE]!;
    const u8 = new Uint8Array(buffer, HDR.name, HDR.nameSize);
    const end = u8.indexOf(0);
    this.name = dec.decode(u8.subarray(0, end < 0 ? HDR.nameSize : end));
    this.instance = u32[W_INSTANCE]! | 0;
    this.i32 = new Int32Array(buffer);
    const q64 = new BigUint64Array(buffer, 0, Q_HEADER_END);
    this.wpe = this.elemSize / WORD_BYTES;
    const w = new Uint32Array(buffer, slotsOffset(u32[W_PARTICIPANTS]!), this.size * this.wpe);
    this.slots = new Slots(w, this.wpe, this.mask);
    this.epoch = Atomics.load(this.i32, W_EPOCH);
    this.p = new Side(true, this.i32, q64, this.name, this.capacity);
    this.c = new Side(false, this.i32, q64, this.name, this.capacity);
    if (this.p.sync !== SYNC_ST || this.c.sync !== SYNC_ST) this.p.rec = this.c.rec = claim(this.i32, this.name);
  }

  /** rte_ring's `free_space` out-parameter: free slots after the last enqueue call. */
  get lastFreeSpace(): number {
    return this.p.last;
  }
  /** rte_ring's `available` out-parameter: elements left after the last dequeue call. */
  get lastAvailable(): number {
    return this.c.last;
  }

  /** Producer / consumer sync modes. @see rte_ring_get_prod_sync_type */
  get producerMode(): SyncMode {
    return SYNC_NAMES[this.p.sync]!;
  }
  get consumerMode(): SyncMode {
    return SYNC_NAMES[this.c.sync]!;
  }


  /** Throw EBADF when the ring was freed (here: the handle is poisoned; elsewhere: the header says so). */
  protected check(): void {
    if (Atomics.load(this.i32, W_MAGIC) !== RING_MAGIC || this.i32[W_INSTANCE] !== this.instance) this.gone();
  }

  /** The ring behind this handle was freed by another thread or process: poison the handle and throw. */
  protected gone(): never {
    const why = `ring '${this.name}' was freed (by another thread or process); the handle cannot be used any more`;
    this.poison(why);
    throw new MpError('EBADF', why);
  }

  /**
   * Make every method of this handle throw EBADF (async ones reject) without touching the ring's memory
   * again: the memory may already hold another memzone. Own properties shadow the prototype, so live
   * handles' hot paths carry no check for it.
   */
  protected poison(why: string): void {
    for (let proto = Object.getPrototypeOf(this) as object | null; proto !== null && proto !== Object.prototype; proto = Object.getPrototypeOf(proto) as object | null) {
      for (const k of Object.getOwnPropertyNames(proto)) {
        const d = Object.getOwnPropertyDescriptor(proto, k)!;
        if (k === 'constructor' || typeof d.value !== 'function' || Object.prototype.hasOwnProperty.call(this, k)) continue;
        const stub = k.endsWith('Async')
          ? (): Promise<never> => Promise.reject(new MpError('EBADF', why))
          : (): never => {
              throw new MpError('EBADF', why);
            };
        Object.defineProperty(this, k, { value: stub, configurable: true, writable: true, enumerable: false });
      }
    }
  }

  /**
   * The epoch moved (A4): reset() by someone (forget cached tails), or free() (the header no longer names
   * this ring: EBADF before anything is written).
   */
  protected resync(): void {
    this.check();
    this.epoch = Atomics.load(this.i32, W_EPOCH);
    this.p.otherTailCache = Atomics.load(this.i32, W_CONS_TAIL);
    this.c.otherTailCache = Atomics.load(this.i32, W_PROD_TAIL);
  }

  // ---- internals: the element path --------------------------------------------------------------------------

  // The element calls without options are the hot path: kept small (options, offsets and blocking go
  // through {@link withOpts}) so that V8 inlines the whole call, copy included, into the caller's loop.
  protected enqueueOp(src: RingData | RingData64, n: number | undefined, opts: RingOpOptions | undefined, bulk: boolean): number {
    const s = src instanceof Uint32Array || src instanceof Int32Array ? src : words(src);
    if (opts !== undefined) return this.withOpts(true, s, n, opts, bulk);
    if (n === undefined) n = (s.length / this.wpe) | 0;
    this.checkRange(s, n, 0);
    return this.enq(s, n, 0, bulk);
  }

  protected dequeueOp(dst: RingData | RingData64, n: number | undefined, opts: RingOpOptions | undefined, bulk: boolean): number {
    const d = dst instanceof Uint32Array || dst instanceof Int32Array ? dst : words(dst);
    if (opts !== undefined) return this.withOpts(false, d, n, opts, bulk);
    if (n === undefined) n = (d.length / this.wpe) | 0;
    this.checkRange(d, n, 0);
    return this.deq(d, n, 0, bulk);
  }

  /** An element call with options: an offset, and/or a blocking wait bounded by `timeoutMs`. */
  protected withOpts(enq: boolean, a: RingData, n: number | undefined, opts: RingOpOptions, bulk: boolean): number {
    const off = opts.offset === undefined ? 0 : opts.offset;
    if (n === undefined) n = ((a.length / this.wpe) | 0) - off;
    this.checkRange(a, n, off);
    if (opts.timeoutMs !== undefined && n !== 0) return this.waitSync(enq, a, n, off, bulk, opts.timeoutMs);
    return enq ? this.enq(a, n, off, bulk) : this.deq(a, n, off, bulk);
  }

  /** The `timeoutMs` form of an element call (waits.ts). */
  protected abstract waitSync(enq: boolean, a: RingData, n: number, off: number, bulk: boolean, timeoutMs: number): number;

  /** EINVAL for a number on a ring of wider elements (EBADF first if the ring was freed). */
  protected notNumbers(): never {
    this.check();
    throw new MpError('EINVAL', `ring '${this.name}' holds ${this.elemSize}-byte elements, not numbers`);
  }

  protected checkRange(a: RingData, n: number, off: number): void {
    // The error path lives in its own function: the check stays small enough to inline into every caller.
    if (!(n >= 0 && off >= 0 && (n + off) * this.wpe <= a.length) || (n | 0) !== n || (off | 0) !== off) this.rangeError(a, n, off);
  }

  /** EINVAL for elements that do not fit the array (EBADF first if the ring was freed). */
  protected rangeError(a: RingData, n: number, off: number): never {
    this.check();
    throw new MpError(
      'EINVAL',
      `ring '${this.name}': ${n} elements at offset ${off} do not fit an array of ${a.length} words (${this.wpe} per element)`,
    );
  }

  /** Enqueue core: reserve, copy, publish (R1), wake (S1). */
  protected enq(src: RingData, n: number, off: number, bulk: boolean): number {
    // A4: the epoch (R4 in free(), or a reset) before anything is written.
    if (this.i32[W_EPOCH] !== this.epoch) this.resync();
    const s = this.p;
    if (s.sync === SYNC_ST) {
      n = moveHeadST(s, n, bulk);
      if (n === 0) return 0;
      this.slots.copyIn(src, off, s.rOld, n);
      updateTailST(s, (s.rOld + n) | 0);
    } else {
      n = reserve(s, n, bulk);
      if (n === 0) return 0;
      const head = s.rOld;
      this.slots.copyIn(src, off, head, n);
      if (FAULTS) faultPoint('ring-enqueue-reserved');
      if (!publish(s, head, n)) return 0;
    }
    wakeOther(s);
    return n;
  }

  /** Dequeue core: reserve, copy out, release (R1), wake (S1). */
  protected deq(dst: RingData, n: number, off: number, bulk: boolean): number {
    if (this.i32[W_EPOCH] !== this.epoch) this.resync();
    const s = this.c;
    if (s.sync === SYNC_ST) {
      n = moveHeadST(s, n, bulk);
      if (n === 0) return 0;
      this.slots.copyOut(dst, off, s.rOld, n);
      updateTailST(s, (s.rOld + n) | 0);
    } else {
      n = reserve(s, n, bulk);
      if (n === 0) return 0;
      const head = s.rOld;
      this.slots.copyOut(dst, off, head, n);
      if (FAULTS) faultPoint('ring-dequeue-reserved');
      if (!publish(s, head, n)) return 0;
    }
    wakeOther(s);
    return n;
  }

  protected deqStart(dst: RingData | RingData64, n: number | undefined, bulk: boolean): number {
    this.check();
    const d = dst instanceof Uint32Array || dst instanceof Int32Array ? dst : words(dst);
    if (n === undefined) n = (d.length / this.wpe) | 0;
    this.checkRange(d, n, 0);
    const k = peekStart(this.c, n, bulk);
    if (k > 0) this.slots.copyOut(d, 0, this.c.peekOld, k);
    return k;
  }

  protected checkFinish(n: number, pending: number): void {
    this.check();
    if (!Number.isInteger(n) || n < 0 || n > pending) {
      throw new MpError('EINVAL', `ring '${this.name}': finish ${n} elements, but ${pending} are reserved`);
    }
  }
}

/** The head move of a multi-thread side's mode. Sets `s.rOld`. */
function reserve(s: Side, n: number, bulk: boolean): number {
  const sync = s.sync;
  return sync === SYNC_MT ? moveHeadMT(s, n, bulk) : sync === SYNC_MT_HTS ? moveHeadHTS(s, n, bulk) : moveHeadRTS(s, n, bulk);
}

/** The tail update of a multi-thread side's mode. False: a blocking call gave its reservation back. */
function publish(s: Side, old: number, n: number): boolean {
  const sync = s.sync;
  if (sync === SYNC_MT) return updateTailMT(s, old, n);
  if (sync === SYNC_MT_HTS) updateTailHTS(s, old, n);
  else updateTailRTS(s);
  return true;
}
