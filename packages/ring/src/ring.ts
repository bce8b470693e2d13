/**
 * class Ring: a ring's lifecycle (create, find/lookup, describe, free), its sizes and its element API.
 * Its handle state and element core are in handle.ts, its blocking calls (`*Async`, dequeueWaitAsync,
 * `timeoutMs`) in waits.ts; the protocols live beside it: headtail.ts (SP/SC and MP/MC head/tail), hts.ts,
 * rts.ts, copy.ts, participants.ts (dead peers), blocking.ts (the wait loop), peek.ts (two-step and zero-copy).
 */
import { MpError, futexWake, memzone, validateName } from '@mp/memory';
import type { Memzone, MemzoneDescriptor } from '@mp/memory';
import {
  CACHE_PAIR,
  DEFAULT_ELEM_SIZE,
  HDR,
  H_FLAGS,
  H_VERSION,
  HTD_MAX_DIVISOR,
  PARTICIPANTS,
  P_CONS_SLEEPS,
  P_PROD_SLEEPS,
  RING_MAGIC,
  RING_MZ_PREFIX,
  RING_NAME_MAX,
  RING_VERSION,
  W_CAPACITY,
  W_CONS_HEAD,
  W_CONS_HEAD_CNT,
  W_CONS_HTD_MAX,
  W_CONS_SLEEP_MASK,
  W_CONS_WAKES,
  W_CONS_SYNC,
  W_CONS_TAIL,
  W_CONS_TAIL_CNT,
  W_ELEM_SIZE,
  W_EPOCH,
  W_INSTANCE,
  W_MAGIC,
  W_MASK,
  W_PARTICIPANTS,
  W_PROD_HEAD,
  W_PROD_HEAD_CNT,
  W_PROD_HTD_MAX,
  W_PROD_SLEEP_MASK,
  W_PROD_WAKES,
  W_PROD_SYNC,
  W_PROD_TAIL,
  W_PROD_TAIL_CNT,
  W_SIZE,
  WORD_BYTES,
  ringMemSize,
  slotsOffset,
} from './layout.js';
import { RING_F_EXACT_SZ, RING_SZ_MASK, resolveFlags } from './flags.js';
import type { RingCreateOptions } from './flags.js';
import { words } from './copy.js';
import { participantLines, recoverRing, release, resetRecords } from './participants.js';
import { peekFinish, peekStart } from './peek.js';
import { sleeping } from './sleepers.js';
import { RingWaits } from './waits.js';
import { ringState } from './state.js';
import type { RingData, RingData64, RingDescriptor, RingOpOptions, RingRecovery, RingZcData } from './types.js';

const enc = new TextEncoder();
const isPow2 = (n: number): boolean => n > 0 && (n & (n - 1)) === 0;
const nextPow2 = (n: number): number => 2 ** Math.ceil(Math.log2(n));
/** A ring's instance id: random, non-zero, a positive int32 (layout.ts). */
const newInstanceId = (): number => 1 + Math.floor(Math.random() * 0x7ffffffe);
/** The largest ring memzone: its byte offsets must fit a u32. */
const MAX_RING_BYTES = 2 ** 32;
/** One element of a 4-byte ring, for the number forms. */
const one = new Uint32Array(1);

/** This thread's open handles, by ring name (shared by every copy of the package: state.ts). */
const opened = (): Map<string, Ring> => ringState<Ring>().opened;

/**
 * A fixed-size FIFO of fixed-size elements in shared memory (rte_ring): lock-free multi-producer /
 * multi-consumer heads, usable by every process of the group and by worker threads. The element path is
 * JavaScript over the mapped memzone — Atomics only to publish head/tail, once per burst.
 *
 * Errors every element call can throw (listed once here; each method names its own on top):
 * - `EINVAL` — the array, `n` or `offset` out of range, a `timeoutMs` that is not a number ≥ 0;
 * - `ESTALE` ({@link RingStaleError}) — a multi-thread side: a peer died holding a reservation in front of
 *   this call (or this thread abandoned one earlier); blocking calls also when the other side's tail is
 *   stuck behind a dead peer's reservation;
 * - `ETIMEDOUT` — with `timeoutMs` on a multi side: an earlier reservation (a live peer, stopped or
 *   starved) stayed unpublished past the timeout and this call could not undo its own (it abandoned it;
 *   the ring needs recover() once the peer has published);
 * - `EBADF` — the ring was freed (through this handle or, noticed before any write, elsewhere).
 */
export class Ring extends RingWaits {
  private constructor(buffer: ArrayBuffer, mz: Memzone | undefined, descriptor: MemzoneDescriptor | undefined) {
    super(buffer, mz, descriptor);
  }

  // ---- create / find / lookup / free ------------------------------------------------------------------

  /**
   * Create a ring in a new memzone `RG_<name>` of the attached group.
   *
   * @param count slots: a power of two (capacity `count - 1`), or with EXACT_SZ the exact capacity
   * @throws {MpError} EINVAL — count 0, not a power of two without EXACT_SZ, or > 2^31-1; elemSize not a
   *   positive multiple of 4; flags not a non-negative integer or with unknown bits; any conflict between
   *   flags and options, named both ways: two sync bits on one side (`RING_F_SP_ENQ` + `RING_F_MP_RTS_ENQ`,
   *   `RING_F_MP_RTS_ENQ` + `RING_F_MP_HTS_ENQ`, …), a flag and a `producer`/`consumer` option naming
   *   different modes (`RING_F_SP_ENQ` with `producer: 'multi'`), `RING_F_EXACT_SZ` with `exactSize: false`;
   *   an unknown mode
   * @throws {MpError} ENAMETOOLONG — name longer than 28 bytes
   * @throws {MpError} EEXIST — a ring (memzone) of that name exists
   * @throws {MpError} ENOMEM — no room in the group's memory
   * @throws {MpError} ENOTCONN — `init()` from @mp/eal has not run
   * @see rte_ring_create_elem
   */
  static create(name: string, count: number, opts: RingCreateOptions = {}): Ring {
    validateName('ring', name, RING_NAME_MAX);
    const elemSize = opts.elemSize ?? DEFAULT_ELEM_SIZE;
    if (!Number.isInteger(elemSize) || elemSize <= 0 || elemSize % WORD_BYTES !== 0) {
      throw new MpError('EINVAL', `ring elemSize ${elemSize} is not a positive multiple of ${WORD_BYTES}`);
    }
    const { flags, prodSync, consSync } = resolveFlags(opts);
    if (!Number.isInteger(count) || count <= 0 || count > RING_SZ_MASK) {
      throw new MpError('EINVAL', `ring count ${count} must be an integer in 1..${RING_SZ_MASK}`);
    }
    let size: number;
    let capacity: number;
    if (flags & RING_F_EXACT_SZ) {
      size = nextPow2(count + 1);
      capacity = count;
      if (size > RING_SZ_MASK + 1) throw new MpError('EINVAL', `ring count ${count} is too large for EXACT_SZ (at most 2^31-1 slots)`);
    } else {
      if (!isPow2(count)) {
        throw new MpError('EINVAL', `ring size ${count} is not a power of two (use EXACT_SZ for an exact capacity)`);
      }
      if (count < 2) throw new MpError('EINVAL', `ring size ${count} holds nothing (size 2 or more, capacity size-1)`);
      size = count;
      capacity = count - 1;
    }
    const bytes = ringMemSize(size, elemSize);
    if (bytes > MAX_RING_BYTES) throw new MpError('EINVAL', `ring of ${size} × ${elemSize}-byte elements needs ${bytes} bytes (> 4 GiB)`);
    const mz = memzone.reserve(RING_MZ_PREFIX + name, bytes, { align: CACHE_PAIR });
    const buf = mz.buffer;
    const i32 = new Int32Array(buf, 0, slotsOffset() / WORD_BYTES);
    i32.fill(0);
    const u16 = new Uint16Array(buf, 0, H_FLAGS + 1);
    u16[H_VERSION] = RING_VERSION;
    u16[H_FLAGS] = flags;
    i32[W_SIZE] = size | 0;
    i32[W_MASK] = (size - 1) | 0;
    i32[W_CAPACITY] = capacity | 0;
    i32[W_ELEM_SIZE] = elemSize;
    i32[W_PARTICIPANTS] = PARTICIPANTS;
    new Uint8Array(buf, HDR.name, HDR.nameSize).set(enc.encode(name));
    // The epoch starts at the instance id: a handle of a ring freed here before holds another epoch, and
    // zeroed memory does not look like a live epoch either (layout.ts, "Freed rings").
    const instance = newInstanceId();
    i32[W_INSTANCE] = instance;
    i32[W_EPOCH] = instance;
    i32[W_PROD_SYNC] = prodSync;
    i32[W_CONS_SYNC] = consSync;
    i32[W_PROD_HTD_MAX] = Math.max(1, Math.floor(capacity / HTD_MAX_DIVISOR));
    i32[W_CONS_HTD_MAX] = Math.max(1, Math.floor(capacity / HTD_MAX_DIVISOR));
    // The magic goes last (R0), so a lookup (A0 in the constructor) never sees a half-written header.
    Atomics.store(new Uint32Array(buf, 0, 1), W_MAGIC, RING_MAGIC);
    const ring = new Ring(buf, mz, undefined);
    opened().set(name, ring);
    return ring;
  }

  /**
   * Open a ring of the attached group by name (any process), or undefined when there is none. One handle
   * per thread and name: a second call returns the same object.
   *
   * @throws {MpError} EINVAL / ENAMETOOLONG — bad name
   * @throws {MpError} EPROTO — the memzone holds no ring, or another layout version
   * @throws {MpError} ENOSPC — all 64 participant slots are held (multi-producer/consumer rings)
   * @throws {MpError} ENOTCONN — `init()` from @mp/eal has not run
   * @see rte_ring_lookup (which returns NULL with rte_errno ENOENT)
   */
  static find(name: string): Ring | undefined {
    validateName('ring', name, RING_NAME_MAX);
    const mz = memzone.find(RING_MZ_PREFIX + name);
    if (mz === undefined) return undefined;
    const cache = opened();
    const cached = cache.get(name);
    // The same memzone mapping and the ring it held then (its instance id: a poisoned or stale handle is
    // never handed out again).
    if (cached !== undefined && cached.mz === mz && cached.i32[W_INSTANCE] === cached.instance) return cached;
    const ring = new Ring(mz.buffer, mz, undefined);
    cache.set(name, ring);
    return ring;
  }

  /**
   * Open a ring of the attached group by name (any process), as {@link Ring.find}, throwing when there is
   * none.
   *
   * @throws {MpError} ENOENT — no ring of that name
   * @throws {MpError} EINVAL / ENAMETOOLONG — bad name
   * @throws {MpError} EPROTO — the memzone holds no ring, or another layout version
   * @throws {MpError} ENOSPC — all 64 participant slots are held (multi-producer/consumer rings)
   * @throws {MpError} ENOTCONN — `init()` from @mp/eal has not run
   * @see rte_ring_lookup
   */
  static lookup(name: string): Ring {
    const ring = Ring.find(name);
    if (ring === undefined) throw new MpError('ENOENT', `no ring named '${name}'`);
    return ring;
  }

  /**
   * Open a ring in a worker thread (or any thread) from {@link Ring.describe}'s output: maps the same
   * memory; needs no group attached in that thread.
   *
   * @throws {MpError} EINVAL — not a ring descriptor
   * @throws {MpError} ENOENT — the group's memory is gone
   * @throws {MpError} EPROTO — the memory holds no ring
   */
  static fromDescriptor(d: RingDescriptor): Ring {
    if (!d || typeof d.ring !== 'string' || typeof d.memzone !== 'object') {
      throw new MpError('EINVAL', 'not a ring descriptor (make one with ring.describe())');
    }
    return new Ring(memzone.mapDescriptor(d.memzone), undefined, d.memzone);
  }

  /**
   * Plain data for `postMessage`: a worker thread opens the ring with {@link Ring.fromDescriptor}.
   *
   * @throws {MpError} ENOTCONN — no group attached (a ring opened from a descriptor re-describes itself)
   * @throws {MpError} EBADF — the ring was freed
   */
  describe(): RingDescriptor {
    this.check();
    if (this.descriptor !== undefined) return { ring: this.name, memzone: this.descriptor };
    return { ring: this.name, memzone: memzone.describe(this.mz!) };
  }

  /**
   * Free the ring's memzone. Every call on this handle afterwards throws `EBADF`. Handles in other threads
   * and processes notice on their next call — before they write anything — as long as the memory was not
   * reused in a way that restores this ring's epoch word by chance (see the package README); callers
   * blocked on the ring are woken to notice.
   *
   * @throws {MpError} EBADF — this handle's ring was already freed
   * @throws {MpError} ENOTSUP — a ring opened from a descriptor (free it where it was created or looked up)
   * @see rte_ring_free
   */
  free(): void {
    this.check();
    if (this.mz === undefined) throw new MpError('ENOTSUP', 'a ring opened from a descriptor cannot free the memzone');
    this.close();
    const i32 = this.i32;
    // R4: magic and instance id cleared before the epoch moves: a handle that sees the new epoch re-reads
    // them (resync) and stops; pairs with A4, the epoch load at the top of enq()/deq().
    Atomics.store(i32, W_MAGIC, 0);
    Atomics.store(i32, W_INSTANCE, 0);
    Atomics.add(i32, W_EPOCH, 1);
    // Wake whoever sleeps on the ring: their next loop turn reads the epoch and throws EBADF.
    futexWake(i32, W_PROD_TAIL);
    futexWake(i32, W_CONS_TAIL);
    const cache = opened();
    if (cache.get(this.name) === this) cache.delete(this.name);
    this.poison(`ring '${this.name}' was freed by this process; the handle cannot be used any more`);
    memzone.free(RING_MZ_PREFIX + this.name);
  }

  /**
   * Give back this thread's participant slot (rings with a multi-producer/consumer side); the handle must
   * not be used for multi-producer/consumer calls afterwards. Idempotent. No DPDK analogue.
   *
   * @throws {MpError} EBADF — the ring was freed
   */
  close(): void {
    this.check();
    if (this.p.rec < 0) return;
    release(this.i32, this.p.rec);
    this.p.rec = this.c.rec = -1;
  }

  // ---- sizes ----------------------------------------------------------------------------------------------

  /** Elements in the ring. @see rte_ring_count @throws {MpError} EBADF — the ring was freed */
  count(): number {
    this.check();
    const n = (Atomics.load(this.i32, W_PROD_TAIL) - Atomics.load(this.i32, W_CONS_TAIL)) >>> 0;
    return n > this.capacity ? this.capacity : n;
  }
  /** Free slots. @see rte_ring_free_count @throws {MpError} EBADF — the ring was freed */
  freeCount(): number {
    return this.capacity - this.count();
  }
  /** @see rte_ring_full @throws {MpError} EBADF — the ring was freed */
  full(): boolean {
    return this.freeCount() === 0;
  }
  /** @see rte_ring_empty @throws {MpError} EBADF — the ring was freed */
  empty(): boolean {
    this.check();
    return Atomics.load(this.i32, W_PROD_TAIL) === Atomics.load(this.i32, W_CONS_TAIL);
  }
  /** @see rte_ring_get_capacity @throws {MpError} EBADF — the ring was freed */
  getCapacity(): number {
    this.check();
    return this.capacity;
  }
  /**
   * Empty the ring. Not safe while any thread or process uses it (as rte_ring_reset); other handles notice
   * through the reset epoch on their next call.
   * @see rte_ring_reset
   * @throws {MpError} EBADF — the ring was freed
   */
  reset(): void {
    this.check();
    const i32 = this.i32;
    for (const w of [W_PROD_HEAD, W_PROD_HEAD_CNT, W_PROD_TAIL_CNT, W_CONS_HEAD, W_CONS_HEAD_CNT, W_CONS_TAIL_CNT]) i32[w] = 0;
    Atomics.store(i32, W_PROD_TAIL, 0);
    Atomics.store(i32, W_CONS_TAIL, 0);
    resetRecords(i32);
    Atomics.add(i32, W_EPOCH, 1);
    this.resync();
  }

  /**
   * A printable description (rte_ring_dump).
   * @throws {MpError} EBADF — the ring was freed
   */
  dump(): string {
    this.check();
    const i32 = this.i32;
    const u = (w: number): number => i32[w]! >>> 0;
    return [
      `ring <${this.name}>@${this.mz ? `memzone ${RING_MZ_PREFIX}${this.name}` : 'descriptor'}`,
      `  flags=0x${this.flags.toString(16)} (producer ${this.producerMode}, consumer ${this.consumerMode})`,
      `  size=${this.size}`,
      `  capacity=${this.capacity}`,
      `  elemSize=${this.elemSize}`,
      `  ct=${u(W_CONS_TAIL)}`,
      `  ch=${u(W_CONS_HEAD)}`,
      `  pt=${u(W_PROD_TAIL)}`,
      `  ph=${u(W_PROD_HEAD)}`,
      `  used=${this.count()}`,
      `  avail=${this.freeCount()}`,
      `  sleeping consumers=${sleeping(i32, W_PROD_SLEEP_MASK, P_CONS_SLEEPS)} producers=${sleeping(i32, W_CONS_SLEEP_MASK, P_PROD_SLEEPS)}`,
      `  futex wakes by producers=${u(W_PROD_WAKES)} consumers=${u(W_CONS_WAKES)}`,
      ...participantLines(i32),
    ].join('\n');
  }

  // ---- enqueue / dequeue ----------------------------------------------------------------------------------

  /**
   * Enqueue exactly `n` elements or none. Returns n or 0; `lastFreeSpace` holds the free slots after.
   *
   * @param src elements as 32-bit words (`elemSize/4` words each)
   * @param n elements (default: all of `src` from `offset`)
   * @throws {MpError} EINVAL, ESTALE ({@link RingStaleError}), ETIMEDOUT, EBADF — see the class comment
   * @see rte_ring_enqueue_bulk_elem
   */
  enqueueBulk(src: RingData | RingData64, n?: number, opts?: RingOpOptions): number {
    return this.enqueueOp(src, n, opts, true);
  }

  /**
   * Enqueue as many of `n` elements as fit. Returns how many; `lastFreeSpace` holds the free slots after.
   *
   * @throws {MpError} EINVAL, ESTALE ({@link RingStaleError}), ETIMEDOUT, EBADF — see the class comment
   * @see rte_ring_enqueue_burst_elem
   */
  enqueueBurst(src: RingData | RingData64, n?: number, opts?: RingOpOptions): number {
    return this.enqueueOp(src, n, opts, false);
  }

  /**
   * Dequeue exactly `n` elements or none into `dst`. Returns n or 0; `lastAvailable` holds what is left.
   *
   * @throws {MpError} EINVAL, ESTALE ({@link RingStaleError}), ETIMEDOUT, EBADF — see the class comment
   * @see rte_ring_dequeue_bulk_elem
   */
  dequeueBulk(dst: RingData | RingData64, n?: number, opts?: RingOpOptions): number {
    return this.dequeueOp(dst, n, opts, true);
  }

  /**
   * Dequeue up to `n` elements into `dst`. Returns how many; `lastAvailable` holds what is left.
   *
   * @throws {MpError} EINVAL, ESTALE ({@link RingStaleError}), ETIMEDOUT, EBADF — see the class comment
   * @see rte_ring_dequeue_burst_elem
   */
  dequeueBurst(dst: RingData | RingData64, n?: number, opts?: RingOpOptions): number {
    return this.dequeueOp(dst, n, opts, false);
  }

  /**
   * Enqueue one element: a number (4-byte rings) or an array of `elemSize/4` words. Returns false when full.
   *
   * @throws {MpError} EINVAL — also a number on a ring whose elements are not 4 bytes; ESTALE, ETIMEDOUT,
   *   EBADF — see the class comment
   * @see rte_ring_enqueue_elem
   */
  enqueue(elem: number | RingData | RingData64, opts?: RingOpOptions): boolean {
    if (typeof elem === 'number') {
      if (this.wpe !== 1) this.notNumbers();
      one[0] = elem;
      return this.enqueueOp(one, 1, opts, true) === 1;
    }
    return this.enqueueOp(elem, 1, opts, true) === 1;
  }

  /**
   * Dequeue one element into `dst`. Returns false when empty.
   *
   * @throws {MpError} EINVAL, ESTALE ({@link RingStaleError}), ETIMEDOUT, EBADF — see the class comment
   * @see rte_ring_dequeue_elem
   */
  dequeue(dst: RingData | RingData64, opts?: RingOpOptions): boolean {
    return this.dequeueOp(dst, 1, opts, true) === 1;
  }

  /**
   * Dequeue one 4-byte element as an unsigned number, or undefined when empty.
   *
   * @throws {MpError} EINVAL — also when the ring's elements are not 4 bytes; ESTALE, ETIMEDOUT, EBADF —
   *   see the class comment
   * @see rte_ring_dequeue_elem
   */
  dequeueValue(opts?: RingOpOptions): number | undefined {
    if (this.wpe !== 1) this.notNumbers();
    return this.dequeueOp(one, 1, opts, true) === 1 ? one[0]! : undefined;
  }

  // ---- peek (two-step) and zero-copy API (peek.ts) ------------------------------------------------------

  /**
   * Reserve `n` slots (all or nothing) to fill with {@link enqueueFinish}. Single-producer and HTS rings
   * only. Returns n or 0.
   *
   * @throws {MpError} ENOTSUP — the producer mode is multi or rts; EBUSY — a start is already pending;
   *   EINVAL — n not an integer ≥ 0; ESTALE, EBADF — see the class comment
   * @see rte_ring_enqueue_bulk_elem_start
   */
  enqueueBulkStart(n: number): number {
    this.check();
    return peekStart(this.p, n, true);
  }
  /**
   * As {@link enqueueBulkStart}, reserving as many as fit. @see rte_ring_enqueue_burst_elem_start
   * @throws {MpError} as {@link enqueueBulkStart}
   */
  enqueueBurstStart(n: number): number {
    this.check();
    return peekStart(this.p, n, false);
  }
  /**
   * Copy `n` (≤ reserved) elements from `src` into the reserved slots and publish them; the rest of the
   * reservation is given back.
   *
   * @throws {MpError} EINVAL — n larger than the reservation or than `src`; EBADF — the ring was freed
   * @see rte_ring_enqueue_elem_finish
   */
  enqueueFinish(src: RingData | RingData64 | undefined, n: number): void {
    this.checkFinish(n, this.p.pending);
    if (n > 0) {
      const s = words(src!);
      this.checkRange(s, n, 0);
      this.slots.copyIn(s, 0, this.p.peekOld, n);
    }
    peekFinish(this.p, n);
  }

  /**
   * Copy out (peek) `n` elements or none without releasing them; {@link dequeueFinish} releases.
   * Single-consumer and HTS rings only.
   *
   * @throws {MpError} ENOTSUP — the consumer mode is multi or rts; EBUSY — a start is already pending;
   *   EINVAL — `dst`/`n` out of range; ESTALE, EBADF — see the class comment
   * @see rte_ring_dequeue_bulk_elem_start
   */
  dequeueBulkStart(dst: RingData | RingData64, n?: number): number {
    return this.deqStart(dst, n, true);
  }
  /**
   * As {@link dequeueBulkStart}, as many as available. @see rte_ring_dequeue_burst_elem_start
   * @throws {MpError} as {@link dequeueBulkStart}
   */
  dequeueBurstStart(dst: RingData | RingData64, n?: number): number {
    return this.deqStart(dst, n, false);
  }
  /**
   * Release the first `n` (≤ peeked) elements; the rest stay in the ring for the next dequeue.
   *
   * @throws {MpError} EINVAL — n larger than the peeked count; EBADF — the ring was freed
   * @see rte_ring_dequeue_elem_finish
   */
  dequeueFinish(n: number): void {
    this.checkFinish(n, this.c.pending);
    peekFinish(this.c, n);
  }

  /**
   * Zero-copy enqueue: reserve up to `n` slots (all or nothing) and get views of them to write in place,
   * then {@link enqueueZcFinish}. Single-producer and HTS rings only.
   *
   * @throws {MpError} as {@link enqueueBulkStart}
   * @see rte_ring_enqueue_zc_bulk_elem_start
   */
  enqueueZcBulkStart(n: number): RingZcData {
    this.check();
    return this.slots.zc(peekStart(this.p, n, true), this.p.peekOld);
  }
  /**
   * Zero-copy, as many as fit. @see rte_ring_enqueue_zc_burst_elem_start
   * @throws {MpError} as {@link enqueueBulkStart}
   */
  enqueueZcBurstStart(n: number): RingZcData {
    this.check();
    return this.slots.zc(peekStart(this.p, n, false), this.p.peekOld);
  }
  /**
   * Publish the first `n` zero-copy slots; the rest of the reservation is given back.
   * @throws {MpError} EINVAL — n larger than the reservation; EBADF — the ring was freed
   * @see rte_ring_enqueue_zc_finish
   */
  enqueueZcFinish(n: number): void {
    this.checkFinish(n, this.p.pending);
    peekFinish(this.p, n);
  }
  /**
   * Zero-copy dequeue: views of up to `n` filled slots (all or nothing) to read in place, then
   * {@link dequeueZcFinish}. Single-consumer and HTS rings only.
   *
   * @throws {MpError} ENOTSUP — consumer mode multi or rts; EBUSY — a start is already pending; EINVAL;
   *   ESTALE, EBADF — see the class comment
   * @see rte_ring_dequeue_zc_bulk_elem_start
   */
  dequeueZcBulkStart(n: number): RingZcData {
    this.check();
    return this.slots.zc(peekStart(this.c, n, true), this.c.peekOld);
  }
  /**
   * Zero-copy, as many as available. @see rte_ring_dequeue_zc_burst_elem_start
   * @throws {MpError} as {@link dequeueZcBulkStart}
   */
  dequeueZcBurstStart(n: number): RingZcData {
    this.check();
    return this.slots.zc(peekStart(this.c, n, false), this.c.peekOld);
  }
  /**
   * Release the first `n` zero-copy slots; the rest stay in the ring.
   * @throws {MpError} EINVAL — n larger than the reservation; EBADF — the ring was freed
   * @see rte_ring_dequeue_zc_finish
   */
  dequeueZcFinish(n: number): void {
    this.checkFinish(n, this.c.pending);
    peekFinish(this.c, n);
  }

  // ---- dead peers (participants.ts) -------------------------------------------------------------------------

  /**
   * Repair what dead processes left on the ring. On each multi-producer/consumer side with no live
   * reservation in flight: a dead producer's reserved-but-unpublished slots are dropped (consumers never
   * saw them; callers that got ESTALE enqueued nothing), a dead consumer's reserved-but-unreleased
   * elements are handed out again (they may have been partly processed: at-least-once), sleepers that
   * dead processes left registered (killed asleep in a blocking call) are taken back, and dead processes'
   * participant slots are freed. A single-producer/consumer side is rolled back the same way
   * when its head and tail differ: call it only once that side's user is gone. Elements already published
   * are never lost. Safe to call from any process at any time; a side with a live operation in flight is
   * left alone and reported in `busy`. No DPDK analogue (DPDK spins forever on a dead peer).
   * @throws {MpError} EBADF — the ring was freed
   */
  recover(): RingRecovery {
    this.check();
    return recoverRing(this.i32, this.p, this.c);
  }
}

