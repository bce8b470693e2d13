import { readFileSync } from 'node:fs';
import { threadId } from 'node:worker_threads';
import { MpError, TSO, futexWait, futexWaitAsync, futexWake, memzone, validateName } from '@mp/memory';
import type { Memzone, MemzoneDescriptor } from '@mp/memory';
import {
  CACHE_LINE,
  HDR,
  HT,
  PART,
  PARTICIPANTS,
  Q_CONS_HEAD,
  Q_CONS_TAIL,
  Q_PROD_HEAD,
  Q_PROD_TAIL,
  REC_ABANDONED,
  REC_BUSY,
  REC_IDLE,
  RING_MAGIC,
  RING_MZ_PREFIX,
  RING_NAME_MAX,
  RING_VERSION,
  SYNC_MT,
  SYNC_MT_HTS,
  SYNC_MT_RTS,
  SYNC_ST,
  W_CONS_HEAD,
  W_CONS_SLEEPERS,
  W_CONS_TAIL,
  W_PROD_HEAD,
  W_PROD_SLEEPERS,
  W_PROD_TAIL,
  ringMemSize,
  slotsOffset,
} from './layout.js';

// ---- flags (same values as DPDK's RING_F_*) -----------------------------------------------------------

/** The ring has one producer at a time (RING_F_SP_ENQ). */
export const RING_F_SP_ENQ = 0x0001;
/** The ring has one consumer at a time (RING_F_SC_DEQ). */
export const RING_F_SC_DEQ = 0x0002;
/** `count` is the exact capacity, not a power of two (RING_F_EXACT_SZ). */
export const RING_F_EXACT_SZ = 0x0004;
/** Multi-producer with relaxed tail sync (RING_F_MP_RTS_ENQ). */
export const RING_F_MP_RTS_ENQ = 0x0008;
/** Multi-consumer with relaxed tail sync (RING_F_MC_RTS_DEQ). */
export const RING_F_MC_RTS_DEQ = 0x0010;
/** Multi-producer with head/tail sync: one enqueue in flight at a time (RING_F_MP_HTS_ENQ). */
export const RING_F_MP_HTS_ENQ = 0x0020;
/** Multi-consumer with head/tail sync: one dequeue in flight at a time (RING_F_MC_HTS_DEQ). */
export const RING_F_MC_HTS_DEQ = 0x0040;
/** Short aliases, as the issue and DPDK's docs name them. */
export const SP_ENQ = RING_F_SP_ENQ;
export const SC_DEQ = RING_F_SC_DEQ;
export const EXACT_SZ = RING_F_EXACT_SZ;
export const MP_RTS_ENQ = RING_F_MP_RTS_ENQ;
export const MC_RTS_DEQ = RING_F_MC_RTS_DEQ;
export const MP_HTS_ENQ = RING_F_MP_HTS_ENQ;
export const MC_HTS_DEQ = RING_F_MC_HTS_DEQ;
const KNOWN_FLAGS = 0x7f;

/** RTE_RING_SZ_MASK: the largest ring size. */
export const RING_SZ_MASK = 0x7fffffff;

/** How a side of the ring synchronises (DPDK's `rte_ring_sync_type`). */
export type SyncMode = 'multi' | 'single' | 'rts' | 'hts';

/** Elements cross the ring as 32-bit words: `elemSize / 4` entries of the array per element. */
export type RingData = Uint32Array | Int32Array;
/** Also accepted where elemSize is a multiple of 8 (viewed as 32-bit words; a view object per call). */
export type RingData64 = BigUint64Array | BigInt64Array | Float64Array;

/** Options of {@link Ring.create}. */
export interface RingCreateOptions {
  /** Bytes per element, a multiple of 4 (default 4; DPDK's classic ring holds 8-byte pointers). */
  elemSize?: number;
  /** `RING_F_*` bits (DPDK parity). Combined with `producer`/`consumer`/`exactSize`. */
  flags?: number;
  /** Producer sync: 'multi' (default, CAS), 'single' (SP_ENQ), 'rts' (MP_RTS_ENQ), 'hts' (MP_HTS_ENQ). */
  producer?: SyncMode;
  /** Consumer sync, as `producer`. */
  consumer?: SyncMode;
  /** Same as EXACT_SZ. */
  exactSize?: boolean;
}

/** Options of the element-moving calls. */
export interface RingOpOptions {
  /** Element index in the array to start from (default 0). */
  offset?: number;
  /**
   * Block up to this long (ms; `Infinity` = until done) when nothing (burst) / not everything (bulk) can
   * move right now, sleeping on a futex (no CPU). Omitted: never block, like DPDK.
   */
  timeoutMs?: number;
}

/** What a zero-copy start hands back: the reserved slots as one or two views (the ring wraps). */
export interface RingZcData {
  /** Elements reserved (0 = nothing; no finish needed). */
  n: number;
  /** Elements in `ptr1`. */
  n1: number;
  /** Word view of the first run of slots (`n1 * elemSize/4` words). */
  ptr1: Uint32Array;
  /** Word view of the rest after the wrap (`(n - n1) * elemSize/4` words; empty when no wrap). */
  ptr2: Uint32Array;
}

/** Plain data that lets another thread open the same ring ({@link Ring.fromDescriptor}). */
export interface RingDescriptor {
  readonly ring: string;
  readonly memzone: MemzoneDescriptor;
}

/** What {@link Ring.recover} did. */
export interface RingRecovery {
  /** Elements a dead producer had reserved but not published, dropped (never visible to consumers). */
  droppedEnqueued: number;
  /** Elements a dead consumer had reserved but not released, made available again (at-least-once). */
  returnedDequeued: number;
  /** Pids whose leftovers were cleared. */
  deadPids: number[];
  /** Sides not recovered because a live process is mid-operation on them (call again later). */
  busy: Array<'producer' | 'consumer'>;
}

/** An `ESTALE` error names the dead process. */
export type RingStaleError = MpError & { deadPid: number; side: 'producer' | 'consumer' };

// ---- tunables -------------------------------------------------------------------------------------------

/** A tail that has not moved for this long makes a waiter look for a dead owner. */
const STALL_MS = 50;
/**
 * Blocking waits on a single-producer/consumer other side wake this often (that side has no reservation
 * records to check). Where the other side has records, a waiter wakes every STALL_MS instead, so a dead
 * reservation is named within about 2 × STALL_MS, as a non-blocking caller's stall check does.
 */
const SLICE_MS = 1000;
/**
 * The same look for an async wait, whose wake-ups cost more (a libuv pool job and a promise each, ~0.3 ms
 * of CPU here): an idle async waiter stays well under 1 % CPU and still names a dead reservation within
 * about 5 × STALL_MS.
 */
const ASYNC_WATCH_MS = 4 * STALL_MS;

/*
 * On x86 (TSO, see @mp/memory's TSO) the single-producer / single-consumer fast path publishes its tail with
 * a plain store instead of Atomics.store's `xchg` (≈ 8 ns, a third of a burst-1 enqueue); other
 * architectures keep Atomics.store. The one thing a plain store gives up is store→load order against the
 * sleeper counter read just after it; a sleeper covers that by making its first futex sleep short
 * (FIRST_SLEEP_MS), so a wake-up lost in that window costs ≤ 2 ms, not a hang.
 */
/** Bursts of at least this many 32-bit words are copied with TypedArray.set (memcpy) instead of a loop. */
const COPY_BULK_WORDS = 32;
const FIRST_SLEEP_MS = 2;

const CRASH = process.env.MP_TEST_CRASH;
let crashCountdown = CRASH === undefined ? -1 : Number(process.env.MP_TEST_CRASH_AFTER ?? 0);
const CRASH_SIGNAL = (process.env.MP_TEST_CRASH_SIGNAL ?? 'SIGKILL') as NodeJS.Signals;
/**
 * Fault injection for tests: send this process MP_TEST_CRASH_SIGNAL (default SIGKILL; SIGSTOP stalls it)
 * once, at the named point, after MP_TEST_CRASH_AFTER passes.
 */
function crashAt(point: string): void {
  if (CRASH === point && crashCountdown-- === 0) process.kill(process.pid, CRASH_SIGNAL);
}

const enc = new TextEncoder();
const dec = new TextDecoder();
const isPow2 = (n: number): boolean => n > 0 && (n & (n - 1)) === 0;
const nextPow2 = (n: number): number => 2 ** Math.ceil(Math.log2(n));
const SYNC_NAMES = ['multi', 'single', 'rts', 'hts'] as const;
/** A ring's instance id: random, non-zero, a positive int32 (layout.ts). */
const newInstanceId = (): number => 1 + Math.floor(Math.random() * 0x7ffffffe);

/** True unless `pid` has exited (a zombie counts as dead). */
function pidAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as { code?: string }).code === 'EPERM';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

function staleError(side: 'producer' | 'consumer', pid: number, name: string): RingStaleError {
  const e = new MpError(
    'ESTALE',
    `ring '${name}': ${side} pid ${pid} died (or gave up on a timeout) between reserving and publishing slots; ` +
      `call ring.recover() once its peers have stopped waiting (this call moved nothing)`,
  ) as RingStaleError;
  e.deadPid = pid;
  e.side = side;
  return e;
}

/** Per-thread cache: one Ring object per ring memzone mapping. */
const opened = new Map<string, Ring>();

/**
 * A fixed-size FIFO of fixed-size elements in shared memory (rte_ring): lock-free multi-producer /
 * multi-consumer heads, usable by every process of the group and by worker threads. The element path is
 * JavaScript over the mapped memzone — Atomics only to publish head/tail, once per burst.
 */
export class Ring {
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
  /** rte_ring's `free_space` out-parameter: free slots after the last enqueue call. */
  lastFreeSpace = 0;
  /** rte_ring's `available` out-parameter: elements left after the last dequeue call. */
  lastAvailable = 0;

  private readonly mz: Memzone | undefined;
  private readonly descriptor: MemzoneDescriptor | undefined;
  private readonly i32: Int32Array;
  private readonly q64: BigUint64Array;
  /** The slots as 32-bit words. */
  private readonly w: Uint32Array;
  private readonly wpe: number;
  private readonly slotWords: number;
  private readonly prodSync: number;
  private readonly consSync: number;
  /** Last seen cons.tail / prod.tail: they only move forward, so a stale copy under-estimates. */
  private consTailCache = 0;
  private prodTailCache = 0;
  private epoch = 0;
  /** Word index of this thread's participant entry, or -1. */
  private rec = -1;
  /** Set by the reserve steps: the head the reservation started at. */
  private rOld = 0;
  /** Peek / zero-copy reservations in progress (elements), per side. */
  private pendingEnq = 0;
  private pendingDeq = 0;
  /** Deadline (Date.now() ms) of the blocking call in progress on this handle; Infinity outside one. */
  private deadline = Infinity;
  /** The ring's instance id (layout.ts): another value in the header means this ring was freed. */
  private readonly instance: number;

  private constructor(buffer: ArrayBuffer, mz: Memzone | undefined, descriptor: MemzoneDescriptor | undefined) {
    const u32 = new Uint32Array(buffer, 0, HDR.participantTable / 4);
    const u16 = new Uint16Array(buffer, 0, 4);
    const magic = Atomics.load(u32, HDR.magic / 4);
    if (magic !== RING_MAGIC) {
      throw new MpError('EPROTO', `memzone ${mz?.name ?? descriptor?.name} holds no ring (magic 0x${magic.toString(16)})`);
    }
    if (u16[HDR.version / 2] !== RING_VERSION) {
      throw new MpError('EPROTO', `ring layout version ${u16[HDR.version / 2]}, this @mp/ring speaks version ${RING_VERSION}`);
    }
    this.buffer = buffer;
    this.mz = mz;
    this.descriptor = descriptor;
    this.flags = u16[HDR.flags / 2]!;
    this.size = u32[HDR.size / 4]!;
    this.mask = u32[HDR.mask / 4]!;
    this.capacity = u32[HDR.capacity / 4]!;
    this.elemSize = u32[HDR.elemSize / 4]!;
    const u8 = new Uint8Array(buffer, HDR.name, HDR.nameSize);
    const end = u8.indexOf(0);
    this.name = dec.decode(u8.subarray(0, end < 0 ? HDR.nameSize : end));
    this.instance = u32[HDR.instance / 4]! | 0;
    this.i32 = new Int32Array(buffer);
    this.q64 = new BigUint64Array(buffer, 0, HDR.participantTable / 8);
    this.wpe = this.elemSize / 4;
    this.slotWords = this.size * this.wpe;
    this.w = new Uint32Array(buffer, slotsOffset(u32[HDR.participants / 4]!), this.slotWords);
    this.prodSync = this.i32[(HDR.prod + HT.sync) / 4]!;
    this.consSync = this.i32[(HDR.cons + HT.sync) / 4]!;
    this.epoch = Atomics.load(this.i32, HDR.epoch / 4);
    this.consTailCache = Atomics.load(this.i32, W_CONS_TAIL);
    this.prodTailCache = Atomics.load(this.i32, W_PROD_TAIL);
    if (this.prodSync !== SYNC_ST || this.consSync !== SYNC_ST) this.claim();
  }

  // ---- create / lookup / free ---------------------------------------------------------------------------

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
    const elemSize = opts.elemSize ?? 4;
    if (!Number.isInteger(elemSize) || elemSize <= 0 || elemSize % 4 !== 0) {
      throw new MpError('EINVAL', `ring elemSize ${elemSize} is not a positive multiple of 4`);
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
      if (size > 2 ** 31) throw new MpError('EINVAL', `ring count ${count} is too large for EXACT_SZ (at most 2^31-1 slots)`);
    } else {
      if (!isPow2(count)) {
        throw new MpError('EINVAL', `ring size ${count} is not a power of two (use EXACT_SZ for an exact capacity)`);
      }
      if (count < 2) throw new MpError('EINVAL', `ring size ${count} holds nothing (size 2 or more, capacity size-1)`);
      size = count;
      capacity = count - 1;
    }
    const bytes = ringMemSize(size, elemSize);
    if (bytes > 2 ** 32) throw new MpError('EINVAL', `ring of ${size} × ${elemSize}-byte elements needs ${bytes} bytes (> 4 GiB)`);
    const mz = memzone.reserve(RING_MZ_PREFIX + name, bytes, { align: CACHE_LINE });
    const buf = mz.buffer;
    const i32 = new Int32Array(buf, 0, slotsOffset() / 4);
    i32.fill(0);
    const u16 = new Uint16Array(buf, 0, 4);
    u16[HDR.version / 2] = RING_VERSION;
    u16[HDR.flags / 2] = flags;
    i32[HDR.size / 4] = size | 0;
    i32[HDR.mask / 4] = (size - 1) | 0;
    i32[HDR.capacity / 4] = capacity | 0;
    i32[HDR.elemSize / 4] = elemSize;
    i32[HDR.participants / 4] = PARTICIPANTS;
    new Uint8Array(buf, HDR.name, HDR.nameSize).set(enc.encode(name));
    // The epoch starts at the instance id: a handle of a ring freed here before holds another epoch, and
    // zeroed memory does not look like a live epoch either (layout.ts, "Freed rings").
    const instance = newInstanceId();
    i32[HDR.instance / 4] = instance;
    i32[HDR.epoch / 4] = instance;
    i32[(HDR.prod + HT.sync) / 4] = prodSync;
    i32[(HDR.cons + HT.sync) / 4] = consSync;
    // DPDK's default head/tail distance for RTS: capacity / 8.
    i32[(HDR.prod + HT.htdMax) / 4] = Math.max(1, Math.floor(capacity / 8));
    i32[(HDR.cons + HT.htdMax) / 4] = Math.max(1, Math.floor(capacity / 8));
    // SYNC: the magic goes last, so a lookup never sees a half-written header.
    Atomics.store(new Uint32Array(buf, 0, 1), 0, RING_MAGIC);
    const ring = new Ring(buf, mz, undefined);
    opened.set(name, ring);
    return ring;
  }

  /**
   * Open a ring of the attached group by name (any process).
   *
   * @throws {MpError} ENOENT — no ring of that name
   * @throws {MpError} EINVAL / ENAMETOOLONG — bad name
   * @throws {MpError} EPROTO — the memzone holds no ring, or another layout version
   * @throws {MpError} ENOSPC — all 64 participant slots are held (multi-producer/consumer rings)
   * @throws {MpError} ENOTCONN — `init()` from @mp/eal has not run
   * @see rte_ring_lookup
   */
  static lookup(name: string): Ring {
    validateName('ring', name, RING_NAME_MAX);
    const mz = memzone.find(RING_MZ_PREFIX + name);
    if (mz === undefined) throw new MpError('ENOENT', `no ring named '${name}'`);
    const cached = opened.get(name);
    // The same memzone mapping and the ring it held then (its instance id: a poisoned or stale handle is
    // never handed out again).
    if (cached !== undefined && cached.mz === mz && cached.i32[HDR.instance / 4] === cached.instance) return cached;
    const ring = new Ring(mz.buffer, mz, undefined);
    opened.set(name, ring);
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
   * @throws {MpError} EBADF — the ring was freed (through this handle or, noticed before any write, elsewhere)
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
    // SYNC: magic and instance id cleared before the epoch moves: a handle that sees the new epoch re-reads
    // them (resync) and stops; pairs with the epoch load at the top of enq()/deq().
    Atomics.store(i32, HDR.magic / 4, 0);
    Atomics.store(i32, HDR.instance / 4, 0);
    Atomics.add(i32, HDR.epoch / 4, 1);
    // Wake whoever sleeps on the ring: their next loop turn reads the epoch and throws EBADF.
    futexWake(i32, W_PROD_TAIL);
    futexWake(i32, W_CONS_TAIL);
    if (opened.get(this.name) === this) opened.delete(this.name);
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
    if (this.rec < 0) return;
    const i32 = this.i32;
    if (i32[this.rec + PART.prodState / 4] === REC_IDLE && i32[this.rec + PART.consState / 4] === REC_IDLE) {
      i32[this.rec + PART.tid / 4] = -1;
      Atomics.store(i32, this.rec + PART.pid / 4, 0);
    }
    this.rec = -1;
  }

  /** Throw EBADF when the ring was freed (here: the handle is poisoned; elsewhere: the header says so). */
  private check(): void {
    if (Atomics.load(this.i32, HDR.magic / 4) !== RING_MAGIC || this.i32[HDR.instance / 4] !== this.instance) this.gone();
  }

  /** The ring behind this handle was freed by another thread or process: poison the handle and throw. */
  private gone(): never {
    const why = `ring '${this.name}' was freed (by another thread or process); the handle cannot be used any more`;
    this.poison(why);
    throw new MpError('EBADF', why);
  }

  /**
   * Make every method of this handle throw EBADF (async ones reject) without touching the ring's memory
   * again: the memory may already hold another memzone. Own properties shadow the prototype, so live
   * handles' hot paths carry no check for it.
   */
  private poison(why: string): void {
    for (const k of Object.getOwnPropertyNames(Ring.prototype)) {
      const d = Object.getOwnPropertyDescriptor(Ring.prototype, k)!;
      if (k === 'constructor' || typeof d.value !== 'function') continue;
      const stub = k.endsWith('Async')
        ? (): Promise<never> => Promise.reject(new MpError('EBADF', why))
        : (): never => {
            throw new MpError('EBADF', why);
          };
      Object.defineProperty(this, k, { value: stub, configurable: true, writable: true, enumerable: false });
    }
  }

  // ---- sizes ----------------------------------------------------------------------------------------------

  /**
   * Elements in the ring. @see rte_ring_count
   * @throws {MpError} EBADF — the ring was freed (through this handle or, noticed before any write, elsewhere)
   */
  count(): number {
    this.check();
    const n = (Atomics.load(this.i32, W_PROD_TAIL) - Atomics.load(this.i32, W_CONS_TAIL)) >>> 0;
    return n > this.capacity ? this.capacity : n;
  }
  /**
   * Free slots. @see rte_ring_free_count
   * @throws {MpError} EBADF — the ring was freed (through this handle or, noticed before any write, elsewhere)
   */
  freeCount(): number {
    return this.capacity - this.count();
  }
  /**
   * @see rte_ring_full
   * @throws {MpError} EBADF — the ring was freed (through this handle or, noticed before any write, elsewhere)
   */
  full(): boolean {
    return this.freeCount() === 0;
  }
  /**
   * @see rte_ring_empty
   * @throws {MpError} EBADF — the ring was freed (through this handle or, noticed before any write, elsewhere)
   */
  empty(): boolean {
    this.check();
    return Atomics.load(this.i32, W_PROD_TAIL) === Atomics.load(this.i32, W_CONS_TAIL);
  }
  /**
   * @see rte_ring_get_capacity
   * @throws {MpError} EBADF — the ring was freed (through this handle or, noticed before any write, elsewhere)
   */
  getCapacity(): number {
    this.check();
    return this.capacity;
  }
  /** Producer / consumer sync modes. @see rte_ring_get_prod_sync_type */
  get producerMode(): SyncMode {
    return SYNC_NAMES[this.prodSync]!;
  }
  get consumerMode(): SyncMode {
    return SYNC_NAMES[this.consSync]!;
  }

  /**
   * Empty the ring. Not safe while any thread or process uses it (as rte_ring_reset); other handles notice
   * through the reset epoch on their next call.
   * @see rte_ring_reset
   * @throws {MpError} EBADF — the ring was freed (through this handle or, noticed before any write, elsewhere)
   */
  reset(): void {
    this.check();
    const i32 = this.i32;
    for (const base of [HDR.prod, HDR.cons]) {
      i32[(base + HT.headPos) / 4] = 0;
      i32[(base + HT.headCnt) / 4] = 0;
      i32[(base + HT.tailCnt) / 4] = 0;
      Atomics.store(i32, (base + HT.tailPos) / 4, 0);
    }
    for (let p = 0; p < PARTICIPANTS; p++) {
      const e = (HDR.participantTable + p * PART.size) / 4;
      i32[e + PART.prodState / 4] = REC_IDLE;
      i32[e + PART.consState / 4] = REC_IDLE;
    }
    Atomics.add(i32, HDR.epoch / 4, 1);
    this.resync();
  }

  /**
   * A printable description (rte_ring_dump).
   * @throws {MpError} EBADF — the ring was freed (through this handle or, noticed before any write, elsewhere)
   */
  dump(): string {
    this.check();
    const i32 = this.i32;
    const u = (o: number): number => i32[o / 4]! >>> 0;
    const lines = [
      `ring <${this.name}>@${this.mz ? `memzone RG_${this.name}` : 'descriptor'}`,
      `  flags=0x${this.flags.toString(16)} (producer ${this.producerMode}, consumer ${this.consumerMode})`,
      `  size=${this.size}`,
      `  capacity=${this.capacity}`,
      `  elemSize=${this.elemSize}`,
      `  ct=${u(HDR.cons + HT.tailPos)}`,
      `  ch=${u(HDR.cons + HT.headPos)}`,
      `  pt=${u(HDR.prod + HT.tailPos)}`,
      `  ph=${u(HDR.prod + HT.headPos)}`,
      `  used=${this.count()}`,
      `  avail=${this.freeCount()}`,
      `  sleeping consumers=${u(HDR.prod + HT.sleepers)} producers=${u(HDR.cons + HT.sleepers)}`,
    ];
    for (let p = 0; p < PARTICIPANTS; p++) {
      const e = HDR.participantTable + p * PART.size;
      const pid = u(e + PART.pid);
      if (pid === 0) continue;
      lines.push(
        `  participant ${p}: pid ${pid} thread ${i32[(e + PART.tid) / 4]} ` +
          `prod ${recName(u(e + PART.prodState))}@${u(e + PART.prodPos)} cons ${recName(u(e + PART.consState))}@${u(e + PART.consPos)}`,
      );
    }
    return lines.join('\n');
  }

  // ---- enqueue / dequeue ----------------------------------------------------------------------------------

  /**
   * Enqueue exactly `n` elements or none. Returns n or 0; `lastFreeSpace` holds the free slots after.
   *
   * @param src elements as 32-bit words (`elemSize/4` words each)
   * @param n elements (default: all of `src` from `offset`)
   * @throws {MpError} EINVAL — `src`/`n`/`offset` out of range
   * @throws {MpError} ESTALE — a producer died holding an earlier reservation (multi-producer rings)
   * @see rte_ring_enqueue_bulk_elem
   * @throws {MpError} ETIMEDOUT — with `timeoutMs` on a multi side: an earlier reservation (a live peer, stopped
   *   or starved) stayed unpublished past the timeout and this call could not undo its own (it abandoned it;
   *   the ring needs recover() once the peer has published); EINVAL also for a `timeoutMs` that is not ≥ 0
   * @throws {MpError} EBADF — the ring was freed (through this handle or, noticed before any write, elsewhere)
   */
  enqueueBulk(src: RingData | RingData64, n?: number, opts?: RingOpOptions): number {
    return this.enqueueOp(src, n, opts, true);
  }

  /**
   * Enqueue as many of `n` elements as fit. Returns how many; `lastFreeSpace` holds the free slots after.
   *
   * @throws {MpError} EINVAL — `src`/`n`/`offset` out of range
   * @throws {MpError} ESTALE — a producer died holding an earlier reservation (multi-producer rings)
   * @see rte_ring_enqueue_burst_elem
   * @throws {MpError} ETIMEDOUT — with `timeoutMs` on a multi side: an earlier reservation (a live peer, stopped
   *   or starved) stayed unpublished past the timeout and this call could not undo its own (it abandoned it;
   *   the ring needs recover() once the peer has published); EINVAL also for a `timeoutMs` that is not ≥ 0
   * @throws {MpError} EBADF — the ring was freed (through this handle or, noticed before any write, elsewhere)
   */
  enqueueBurst(src: RingData | RingData64, n?: number, opts?: RingOpOptions): number {
    return this.enqueueOp(src, n, opts, false);
  }

  /**
   * Dequeue exactly `n` elements or none into `dst`. Returns n or 0; `lastAvailable` holds what is left.
   *
   * @throws {MpError} EINVAL — `dst`/`n`/`offset` out of range
   * @throws {MpError} ESTALE — a consumer died holding an earlier reservation (multi-consumer rings), or
   *   (blocking) a producer died holding the reservation this call waits for
   * @see rte_ring_dequeue_bulk_elem
   * @throws {MpError} ETIMEDOUT — with `timeoutMs` on a multi side: an earlier reservation (a live peer, stopped
   *   or starved) stayed unpublished past the timeout and this call could not undo its own (it abandoned it;
   *   the ring needs recover() once the peer has published); EINVAL also for a `timeoutMs` that is not ≥ 0
   * @throws {MpError} EBADF — the ring was freed (through this handle or, noticed before any write, elsewhere)
   */
  dequeueBulk(dst: RingData | RingData64, n?: number, opts?: RingOpOptions): number {
    return this.dequeueOp(dst, n, opts, true);
  }

  /**
   * Dequeue up to `n` elements into `dst`. Returns how many; `lastAvailable` holds what is left.
   *
   * @throws {MpError} EINVAL — `dst`/`n`/`offset` out of range
   * @throws {MpError} ESTALE — as {@link dequeueBulk}
   * @see rte_ring_dequeue_burst_elem
   * @throws {MpError} ETIMEDOUT — with `timeoutMs` on a multi side: an earlier reservation (a live peer, stopped
   *   or starved) stayed unpublished past the timeout and this call could not undo its own (it abandoned it;
   *   the ring needs recover() once the peer has published); EINVAL also for a `timeoutMs` that is not ≥ 0
   * @throws {MpError} EBADF — the ring was freed (through this handle or, noticed before any write, elsewhere)
   */
  dequeueBurst(dst: RingData | RingData64, n?: number, opts?: RingOpOptions): number {
    return this.dequeueOp(dst, n, opts, false);
  }

  /**
   * Enqueue one element: a number (4-byte rings) or an array of `elemSize/4` words. Returns false when full.
   *
   * @throws {MpError} EINVAL — a number on a ring whose elements are not 4 bytes; ESTALE — as enqueueBulk
   * @see rte_ring_enqueue_elem
   * @throws {MpError} ETIMEDOUT — with `timeoutMs` on a multi side: an earlier reservation (a live peer, stopped
   *   or starved) stayed unpublished past the timeout and this call could not undo its own (it abandoned it;
   *   the ring needs recover() once the peer has published); EINVAL also for a `timeoutMs` that is not ≥ 0
   * @throws {MpError} EBADF — the ring was freed (through this handle or, noticed before any write, elsewhere)
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
   * @throws {MpError} EINVAL — `dst` too small; ESTALE — as dequeueBulk
   * @see rte_ring_dequeue_elem
   * @throws {MpError} ETIMEDOUT — with `timeoutMs` on a multi side: an earlier reservation (a live peer, stopped
   *   or starved) stayed unpublished past the timeout and this call could not undo its own (it abandoned it;
   *   the ring needs recover() once the peer has published); EINVAL also for a `timeoutMs` that is not ≥ 0
   * @throws {MpError} EBADF — the ring was freed (through this handle or, noticed before any write, elsewhere)
   */
  dequeue(dst: RingData | RingData64, opts?: RingOpOptions): boolean {
    return this.dequeueOp(dst, 1, opts, true) === 1;
  }

  /**
   * Dequeue one 4-byte element as an unsigned number, or undefined when empty.
   *
   * @throws {MpError} EINVAL — the ring's elements are not 4 bytes; ESTALE — as dequeueBulk
   * @see rte_ring_dequeue_elem
   * @throws {MpError} ETIMEDOUT — with `timeoutMs` on a multi side: an earlier reservation (a live peer, stopped
   *   or starved) stayed unpublished past the timeout and this call could not undo its own (it abandoned it;
   *   the ring needs recover() once the peer has published); EINVAL also for a `timeoutMs` that is not ≥ 0
   * @throws {MpError} EBADF — the ring was freed (through this handle or, noticed before any write, elsewhere)
   */
  dequeueValue(opts?: RingOpOptions): number | undefined {
    if (this.wpe !== 1) this.notNumbers();
    return this.dequeueOp(one, 1, opts, true) === 1 ? one[0]! : undefined;
  }

  /**
   * {@link enqueueBulk} that waits (default: forever) without blocking the event loop: the futex sleep runs
   * in the libuv pool. Resolves with n, or 0 on timeout.
   *
   * @throws {MpError} EINVAL — ranges; ESTALE — a peer died holding a reservation this call waits behind
   * @see rte_ring_enqueue_bulk_elem (DPDK has no blocking form)
   * @throws {MpError} ETIMEDOUT — with `timeoutMs` on a multi side: an earlier reservation (a live peer, stopped
   *   or starved) stayed unpublished past the timeout and this call could not undo its own (it abandoned it;
   *   the ring needs recover() once the peer has published); EINVAL also for a `timeoutMs` that is not ≥ 0
   * @throws {MpError} EBADF — the ring was freed (through this handle or, noticed before any write, elsewhere)
   */
  enqueueBulkAsync(src: RingData | RingData64, n?: number, opts?: RingOpOptions): Promise<number> {
    return this.asyncOp(true, src, n, opts, true);
  }
  /**
   * {@link enqueueBurst} that waits for room for at least one element without blocking the event loop.
   *
   * @throws {MpError} EINVAL — ranges; ESTALE — as enqueueBulkAsync
   * @see rte_ring_enqueue_burst_elem (DPDK has no blocking form)
   * @throws {MpError} ETIMEDOUT — with `timeoutMs` on a multi side: an earlier reservation (a live peer, stopped
   *   or starved) stayed unpublished past the timeout and this call could not undo its own (it abandoned it;
   *   the ring needs recover() once the peer has published); EINVAL also for a `timeoutMs` that is not ≥ 0
   * @throws {MpError} EBADF — the ring was freed (through this handle or, noticed before any write, elsewhere)
   */
  enqueueBurstAsync(src: RingData | RingData64, n?: number, opts?: RingOpOptions): Promise<number> {
    return this.asyncOp(true, src, n, opts, false);
  }
  /**
   * {@link dequeueBulk} that waits for n elements without blocking the event loop.
   *
   * @throws {MpError} EINVAL — ranges; ESTALE — a peer died holding a reservation this call waits behind
   * @see rte_ring_dequeue_bulk_elem (DPDK has no blocking form)
   * @throws {MpError} ETIMEDOUT — with `timeoutMs` on a multi side: an earlier reservation (a live peer, stopped
   *   or starved) stayed unpublished past the timeout and this call could not undo its own (it abandoned it;
   *   the ring needs recover() once the peer has published); EINVAL also for a `timeoutMs` that is not ≥ 0
   * @throws {MpError} EBADF — the ring was freed (through this handle or, noticed before any write, elsewhere)
   */
  dequeueBulkAsync(dst: RingData | RingData64, n?: number, opts?: RingOpOptions): Promise<number> {
    return this.asyncOp(false, dst, n, opts, true);
  }
  /**
   * {@link dequeueBurst} that waits (default: forever) for at least one element without blocking the
   * event loop; the wait sleeps on a futex in the libuv pool (one pool thread per pending wait).
   *
   * @throws {MpError} EINVAL — ranges; ESTALE — as dequeueBulkAsync
   * @see rte_ring_dequeue_burst_elem (DPDK has no blocking form)
   * @throws {MpError} ETIMEDOUT — with `timeoutMs` on a multi side: an earlier reservation (a live peer, stopped
   *   or starved) stayed unpublished past the timeout and this call could not undo its own (it abandoned it;
   *   the ring needs recover() once the peer has published); EINVAL also for a `timeoutMs` that is not ≥ 0
   * @throws {MpError} EBADF — the ring was freed (through this handle or, noticed before any write, elsewhere)
   */
  dequeueBurstAsync(dst: RingData | RingData64, n?: number, opts?: RingOpOptions): Promise<number> {
    return this.asyncOp(false, dst, n, opts, false);
  }

  // ---- peek (two-step) API ----------------------------------------------------------------------------------

  /**
   * Reserve `n` slots (all or nothing) to fill with {@link enqueueFinish}. Single-producer and HTS rings
   * only. Returns n or 0.
   *
   * @throws {MpError} ENOTSUP — the producer mode is multi or rts; EBUSY — a start is already pending
   * @see rte_ring_enqueue_bulk_elem_start
   * @throws {MpError} EBADF — the ring was freed (through this handle or, noticed before any write, elsewhere)
   */
  enqueueBulkStart(n: number): number {
    return this.enqStart(n, true);
  }
  /**
   * As {@link enqueueBulkStart}, reserving as many as fit. @see rte_ring_enqueue_burst_elem_start
   * @throws {MpError} EBADF — the ring was freed (through this handle or, noticed before any write, elsewhere)
   */
  enqueueBurstStart(n: number): number {
    return this.enqStart(n, false);
  }
  /**
   * Copy `n` (≤ reserved) elements from `src` into the reserved slots and publish them; the rest of the
   * reservation is given back.
   *
   * @throws {MpError} EINVAL — n larger than the reservation or than `src`
   * @see rte_ring_enqueue_elem_finish
   * @throws {MpError} EBADF — the ring was freed (through this handle or, noticed before any write, elsewhere)
   */
  enqueueFinish(src: RingData | RingData64 | undefined, n: number): void {
    this.checkFinish(n, this.pendingEnq);
    if (n > 0) {
      const s = words(src!);
      this.checkRange(s, n, 0);
      this.copyIn(s, 0, this.rOldEnq, n);
    }
    this.finishEnq(n);
  }

  /**
   * Copy out (peek) `n` elements or none without releasing them; {@link dequeueFinish} releases.
   * Single-consumer and HTS rings only.
   *
   * @throws {MpError} ENOTSUP — the consumer mode is multi or rts; EBUSY — a start is already pending
   * @see rte_ring_dequeue_bulk_elem_start
   * @throws {MpError} EBADF — the ring was freed (through this handle or, noticed before any write, elsewhere)
   */
  dequeueBulkStart(dst: RingData | RingData64, n?: number): number {
    return this.deqStart(dst, n, true);
  }
  /**
   * As {@link dequeueBulkStart}, as many as available. @see rte_ring_dequeue_burst_elem_start
   * @throws {MpError} EBADF — the ring was freed (through this handle or, noticed before any write, elsewhere)
   */
  dequeueBurstStart(dst: RingData | RingData64, n?: number): number {
    return this.deqStart(dst, n, false);
  }
  /**
   * Release the first `n` (≤ peeked) elements; the rest stay in the ring for the next dequeue.
   *
   * @throws {MpError} EINVAL — n larger than the peeked count
   * @see rte_ring_dequeue_elem_finish
   * @throws {MpError} EBADF — the ring was freed (through this handle or, noticed before any write, elsewhere)
   */
  dequeueFinish(n: number): void {
    this.checkFinish(n, this.pendingDeq);
    this.finishDeq(n);
  }

  /**
   * Zero-copy enqueue: reserve up to `n` slots (all or nothing) and get views of them to write in place,
   * then {@link enqueueZcFinish}. Single-producer and HTS rings only.
   *
   * @throws {MpError} ENOTSUP — producer mode multi or rts; EBUSY — a start is already pending
   * @see rte_ring_enqueue_zc_bulk_elem_start
   * @throws {MpError} EBADF — the ring was freed (through this handle or, noticed before any write, elsewhere)
   */
  enqueueZcBulkStart(n: number): RingZcData {
    return this.zcData(this.enqStart(n, true), this.rOldEnq);
  }
  /**
   * Zero-copy, as many as fit. @see rte_ring_enqueue_zc_burst_elem_start
   * @throws {MpError} EBADF — the ring was freed (through this handle or, noticed before any write, elsewhere)
   */
  enqueueZcBurstStart(n: number): RingZcData {
    return this.zcData(this.enqStart(n, false), this.rOldEnq);
  }
  /**
   * Publish the first `n` zero-copy slots; the rest of the reservation is given back.
   * @throws {MpError} EINVAL — n larger than the reservation
   * @see rte_ring_enqueue_zc_finish
   * @throws {MpError} EBADF — the ring was freed (through this handle or, noticed before any write, elsewhere)
   */
  enqueueZcFinish(n: number): void {
    this.checkFinish(n, this.pendingEnq);
    this.finishEnq(n);
  }
  /**
   * Zero-copy dequeue: views of up to `n` filled slots (all or nothing) to read in place, then
   * {@link dequeueZcFinish}. Single-consumer and HTS rings only.
   *
   * @throws {MpError} ENOTSUP — consumer mode multi or rts; EBUSY — a start is already pending
   * @see rte_ring_dequeue_zc_bulk_elem_start
   * @throws {MpError} EBADF — the ring was freed (through this handle or, noticed before any write, elsewhere)
   */
  dequeueZcBulkStart(n: number): RingZcData {
    return this.zcData(this.deqReserve(n, true), this.rOldDeq);
  }
  /**
   * Zero-copy, as many as available. @see rte_ring_dequeue_zc_burst_elem_start
   * @throws {MpError} EBADF — the ring was freed (through this handle or, noticed before any write, elsewhere)
   */
  dequeueZcBurstStart(n: number): RingZcData {
    return this.zcData(this.deqReserve(n, false), this.rOldDeq);
  }
  /**
   * Release the first `n` zero-copy slots; the rest stay in the ring.
   * @throws {MpError} EINVAL — n larger than the reservation
   * @see rte_ring_dequeue_zc_finish
   * @throws {MpError} EBADF — the ring was freed (through this handle or, noticed before any write, elsewhere)
   */
  dequeueZcFinish(n: number): void {
    this.checkFinish(n, this.pendingDeq);
    this.finishDeq(n);
  }

  // ---- dead peers -------------------------------------------------------------------------------------------

  /**
   * Repair what dead processes left on the ring. On each multi-producer/consumer side with no live
   * reservation in flight: a dead producer's reserved-but-unpublished slots are dropped (consumers never
   * saw them; callers that got ESTALE enqueued nothing), a dead consumer's reserved-but-unreleased
   * elements are handed out again (they may have been partly processed: at-least-once), and dead
   * processes' participant slots are freed. A single-producer/consumer side is rolled back the same way
   * when its head and tail differ: call it only once that side's user is gone. Elements already published
   * are never lost. Safe to call from any process at any time; a side with a live operation in flight is
   * left alone and reported in `busy`. No DPDK analogue (DPDK spins forever on a dead peer).
   * @throws {MpError} EBADF — the ring was freed (through this handle or, noticed before any write, elsewhere)
   */
  recover(): RingRecovery {
    this.check();
    const out: RingRecovery = { droppedEnqueued: 0, returnedDequeued: 0, deadPids: [], busy: [] };
    const dead = new Set<number>();
    out.droppedEnqueued = this.recoverSide(true, dead, out);
    out.returnedDequeued = this.recoverSide(false, dead, out);
    const i32 = this.i32;
    for (let p = 0; p < PARTICIPANTS; p++) {
      const e = (HDR.participantTable + p * PART.size) / 4;
      const pid = Atomics.load(i32, e + PART.pid / 4);
      if (pid === 0 || pidAlive(pid)) continue;
      dead.add(pid);
      if (i32[e + PART.prodState / 4] === REC_IDLE && i32[e + PART.consState / 4] === REC_IDLE) {
        Atomics.compareExchange(i32, e + PART.pid / 4, pid, 0);
      }
    }
    out.deadPids = [...dead].sort((a, b) => a - b);
    return out;
  }

  // ---- internals: the element path --------------------------------------------------------------------------

  // The element calls without options are the hot path: kept small (options, offsets and blocking go
  // through {@link withOpts}) so that V8 inlines the whole call, copy included, into the caller's loop.
  private enqueueOp(src: RingData | RingData64, n: number | undefined, opts: RingOpOptions | undefined, bulk: boolean): number {
    const s = src instanceof Uint32Array || src instanceof Int32Array ? src : words(src);
    if (opts !== undefined) return this.withOpts(true, s, n, opts, bulk);
    if (n === undefined) n = (s.length / this.wpe) | 0;
    this.checkRange(s, n, 0);
    return this.enq(s, n, 0, bulk);
  }

  private dequeueOp(dst: RingData | RingData64, n: number | undefined, opts: RingOpOptions | undefined, bulk: boolean): number {
    const d = dst instanceof Uint32Array || dst instanceof Int32Array ? dst : words(dst);
    if (opts !== undefined) return this.withOpts(false, d, n, opts, bulk);
    if (n === undefined) n = (d.length / this.wpe) | 0;
    this.checkRange(d, n, 0);
    return this.deq(d, n, 0, bulk);
  }

  /** An element call with options: an offset, and/or a blocking wait bounded by `timeoutMs`. */
  private withOpts(enq: boolean, a: RingData, n: number | undefined, opts: RingOpOptions, bulk: boolean): number {
    const off = opts.offset === undefined ? 0 : opts.offset;
    if (n === undefined) n = ((a.length / this.wpe) | 0) - off;
    this.checkRange(a, n, off);
    if (opts.timeoutMs !== undefined && n !== 0) return this.blockSync(enq, a, n, off, bulk, opts.timeoutMs);
    return enq ? this.enq(a, n, off, bulk) : this.deq(a, n, off, bulk);
  }

  /** EINVAL for a number on a ring of wider elements (EBADF first if the ring was freed). */
  private notNumbers(): never {
    this.check();
    throw new MpError('EINVAL', `ring '${this.name}' holds ${this.elemSize}-byte elements, not numbers`);
  }

  private checkRange(a: RingData, n: number, off: number): void {
    // The error path lives in its own function: the check stays small enough to inline into every caller.
    if (!(n >= 0 && off >= 0 && (n + off) * this.wpe <= a.length) || (n | 0) !== n || (off | 0) !== off) this.rangeError(a, n, off);
  }

  /** EINVAL for elements that do not fit the array (EBADF first if the ring was freed). */
  private rangeError(a: RingData, n: number, off: number): never {
    this.check();
    throw new MpError(
      'EINVAL',
      `ring '${this.name}': ${n} elements at offset ${off} do not fit an array of ${a.length} words (${this.wpe} per element)`,
    );
  }

  /** Enqueue core: reserve, copy, publish. */
  private enq(src: RingData, n: number, off: number, bulk: boolean): number {
    const i32 = this.i32;
    if (i32[HDR.epoch / 4] !== this.epoch) this.resync();
    let head: number;
    if (this.prodSync === SYNC_ST) {
      head = i32[W_PROD_HEAD]!;
      let free = (this.capacity + this.consTailCache - head) >>> 0;
      if (free < n) {
        // SYNC: read the consumers' line only when the cached tail says there is no room.
        this.consTailCache = Atomics.load(i32, W_CONS_TAIL);
        free = (this.capacity + this.consTailCache - head) >>> 0;
        if (free < n) {
          if (bulk || free === 0) {
            this.lastFreeSpace = free;
            return 0;
          }
          n = free;
        }
      }
      this.lastFreeSpace = free - n;
      const next = (head + n) | 0;
      i32[W_PROD_HEAD] = next;
      this.copyIn(src, off, head, n);
      // SYNC: publish the tail after the slots are written (release; see TSO).
      if (TSO) i32[W_PROD_TAIL] = next;
      else Atomics.store(i32, W_PROD_TAIL, next);
    } else {
      n = this.prodReserve(n, bulk);
      if (n === 0) return 0;
      head = this.rOld;
      this.copyIn(src, off, head, n);
      if (CRASH !== undefined) crashAt('ring-enqueue-reserved');
      if (!this.prodCommit(head, n)) return 0;
    }
    // SYNC: after the tail store (seq-cst, or release on TSO: see FIRST_SLEEP_MS); pairs with a sleeper's add.
    // On TSO a plain load is what Atomics.load compiles to anyway, without the builtin call.
    if ((TSO ? i32[W_PROD_SLEEPERS] : Atomics.load(i32, W_PROD_SLEEPERS)) !== 0) futexWake(i32, W_PROD_TAIL);
    return n;
  }

  /** Dequeue core: reserve, copy out, release. */
  private deq(dst: RingData, n: number, off: number, bulk: boolean): number {
    const i32 = this.i32;
    if (i32[HDR.epoch / 4] !== this.epoch) this.resync();
    let head: number;
    if (this.consSync === SYNC_ST) {
      head = i32[W_CONS_HEAD]!;
      let avail = (this.prodTailCache - head) >>> 0;
      if (avail < n) {
        // SYNC: read the producers' line only when the cached tail says there is too little.
        this.prodTailCache = Atomics.load(i32, W_PROD_TAIL);
        avail = (this.prodTailCache - head) >>> 0;
        if (avail < n) {
          if (bulk || avail === 0) {
            this.lastAvailable = avail;
            return 0;
          }
          n = avail;
        }
      }
      this.lastAvailable = avail - n;
      const next = (head + n) | 0;
      i32[W_CONS_HEAD] = next;
      this.copyOut(dst, off, head, n);
      // SYNC: release the slots after they are read (release; see TSO).
      if (TSO) i32[W_CONS_TAIL] = next;
      else Atomics.store(i32, W_CONS_TAIL, next);
    } else {
      n = this.consReserve(n, bulk);
      if (n === 0) return 0;
      head = this.rOld;
      this.copyOut(dst, off, head, n);
      if (CRASH !== undefined) crashAt('ring-dequeue-reserved');
      if (!this.consCommit(head, n)) return 0;
    }
    if ((TSO ? i32[W_CONS_SLEEPERS] : Atomics.load(i32, W_CONS_SLEEPERS)) !== 0) futexWake(i32, W_CONS_TAIL);
    return n;
  }

  private copyIn(src: RingData, off: number, head: number, n: number): void {
    const w = this.w;
    const wpe = this.wpe;
    let idx = (head & this.mask) * wpe;
    let s = off * wpe;
    const total = n * wpe;
    const first = this.slotWords - idx;
    if (total >= COPY_BULK_WORDS && src instanceof Uint32Array) {
      // Large bursts: one memcpy per contiguous run beats a word loop (the subarray costs an object).
      if (total <= first) w.set(src.subarray(s, s + total), idx);
      else {
        w.set(src.subarray(s, s + first), idx);
        w.set(src.subarray(s + first, s + total), 0);
      }
    } else if (total <= first) {
      for (let i = 0; i < total; i++) w[idx + i] = src[s + i]!;
    } else {
      for (let i = 0; i < first; i++) w[idx + i] = src[s + i]!;
      s += first;
      idx = total - first;
      for (let i = 0; i < idx; i++) w[i] = src[s + i]!;
    }
  }

  private copyOut(dst: RingData, off: number, head: number, n: number): void {
    const w = this.w;
    const wpe = this.wpe;
    let idx = (head & this.mask) * wpe;
    let d = off * wpe;
    const total = n * wpe;
    const first = this.slotWords - idx;
    if (total >= COPY_BULK_WORDS && dst instanceof Uint32Array) {
      if (total <= first) dst.set(w.subarray(idx, idx + total), d);
      else {
        dst.set(w.subarray(idx, idx + first), d);
        dst.set(w.subarray(0, total - first), d + first);
      }
    } else if (total <= first) {
      for (let i = 0; i < total; i++) dst[d + i] = w[idx + i]!;
    } else {
      for (let i = 0; i < first; i++) dst[d + i] = w[idx + i]!;
      d += first;
      idx = total - first;
      for (let i = 0; i < idx; i++) dst[d + i] = w[i]!;
    }
  }

  /**
   * The epoch moved: reset() by someone (forget cached tails), or free() (the header no longer names this
   * ring: EBADF before anything is written).
   */
  private resync(): void {
    this.check();
    this.epoch = Atomics.load(this.i32, HDR.epoch / 4);
    this.consTailCache = Atomics.load(this.i32, W_CONS_TAIL);
    this.prodTailCache = Atomics.load(this.i32, W_PROD_TAIL);
  }

  // ---- multi-thread head/tail protocols ---------------------------------------------------------------

  /** Reserve up to n slots on the producer side (MT, HTS, RTS). Sets rOld. */
  private prodReserve(n: number, bulk: boolean): number {
    const i32 = this.i32;
    const rec = this.rec;
    const sync = this.prodSync;
    // This thread gave up a reservation (ESTALE / ETIMEDOUT): its record marks the hole for the others
    // until recover() clears it; overwriting it would leave the hole unnamed.
    if (i32[rec + PART.prodState / 4] === REC_ABANDONED) throw this.abandonedError(true);
    for (;;) {
      let head: number;
      let qHead = 0n;
      if (sync === SYNC_MT_RTS) {
        qHead = Atomics.load(this.q64, Q_PROD_HEAD);
        head = Number(qHead & 0xffffffffn) | 0;
      } else {
        head = Atomics.load(i32, W_PROD_HEAD);
      }
      if (sync === SYNC_MT_HTS) {
        if (Atomics.load(i32, W_PROD_TAIL) !== head) {
          if (this.waitFront(true, head)) return 0;
          continue;
        }
      } else if (sync === SYNC_MT_RTS) {
        const tail = Atomics.load(i32, W_PROD_TAIL);
        if (((head - tail) >>> 0) > i32[(HDR.prod + HT.htdMax) / 4]!) {
          if (this.waitFront(true, head)) return 0;
          continue;
        }
      }
      let free = (this.capacity + this.consTailCache - head) >>> 0;
      if (free < n || free > this.capacity) {
        this.consTailCache = Atomics.load(i32, W_CONS_TAIL);
        free = (this.capacity + this.consTailCache - head) >>> 0;
      }
      let k = n;
      if (free < k) {
        if (bulk || free === 0) {
          this.lastFreeSpace = free;
          return 0;
        }
        k = free;
      }
      if (k === 0) {
        this.lastFreeSpace = free;
        return 0;
      }
      // The record goes first: a reservation nobody can attribute must not exist.
      i32[rec + PART.prodPos / 4] = head;
      i32[rec + PART.prodState / 4] = REC_BUSY;
      let won: boolean;
      if (sync === SYNC_MT_RTS) {
        const next = (((qHead >> 32n) + 1n) & 0xffffffffn) << 32n | BigInt((head + k) >>> 0);
        won = Atomics.compareExchange(this.q64, Q_PROD_HEAD, qHead, next) === qHead;
      } else {
        won = Atomics.compareExchange(i32, W_PROD_HEAD, head, (head + k) | 0) === head;
      }
      if (won) {
        this.rOld = head;
        this.lastFreeSpace = free - k;
        return k;
      }
    }
  }

  /**
   * Publish a producer reservation [old, old+n). False: a blocking call's deadline passed while an earlier
   * reservation stayed unpublished, and this one was undone (nothing moved).
   */
  private prodCommit(old: number, n: number): boolean {
    const i32 = this.i32;
    const next = (old + n) | 0;
    if (this.prodSync === SYNC_MT) {
      if (Atomics.load(i32, W_PROD_TAIL) !== old && !this.waitTail(true, old, next)) return false;
      Atomics.store(i32, W_PROD_TAIL, next);
    } else if (this.prodSync === SYNC_MT_HTS) {
      Atomics.store(i32, W_PROD_TAIL, next);
    } else {
      this.rtsCommit(Q_PROD_HEAD, Q_PROD_TAIL);
    }
    i32[this.rec + PART.prodState / 4] = REC_IDLE;
    return true;
  }

  private consReserve(n: number, bulk: boolean): number {
    const i32 = this.i32;
    const rec = this.rec;
    const sync = this.consSync;
    // This thread gave up a reservation (ESTALE / ETIMEDOUT): its record marks the hole for the others
    // until recover() clears it; overwriting it would leave the hole unnamed.
    if (i32[rec + PART.consState / 4] === REC_ABANDONED) throw this.abandonedError(false);
    for (;;) {
      let head: number;
      let qHead = 0n;
      if (sync === SYNC_MT_RTS) {
        qHead = Atomics.load(this.q64, Q_CONS_HEAD);
        head = Number(qHead & 0xffffffffn) | 0;
      } else {
        head = Atomics.load(i32, W_CONS_HEAD);
      }
      if (sync === SYNC_MT_HTS) {
        if (Atomics.load(i32, W_CONS_TAIL) !== head) {
          if (this.waitFront(false, head)) return 0;
          continue;
        }
      } else if (sync === SYNC_MT_RTS) {
        const tail = Atomics.load(i32, W_CONS_TAIL);
        if (((head - tail) >>> 0) > i32[(HDR.cons + HT.htdMax) / 4]!) {
          if (this.waitFront(false, head)) return 0;
          continue;
        }
      }
      let avail = (this.prodTailCache - head) >>> 0;
      if (avail < n || avail > this.capacity) {
        this.prodTailCache = Atomics.load(i32, W_PROD_TAIL);
        avail = (this.prodTailCache - head) >>> 0;
      }
      let k = n;
      if (avail < k) {
        if (bulk || avail === 0) {
          this.lastAvailable = avail;
          return 0;
        }
        k = avail;
      }
      if (k === 0) {
        this.lastAvailable = avail;
        return 0;
      }
      i32[rec + PART.consPos / 4] = head;
      i32[rec + PART.consState / 4] = REC_BUSY;
      let won: boolean;
      if (sync === SYNC_MT_RTS) {
        const next = (((qHead >> 32n) + 1n) & 0xffffffffn) << 32n | BigInt((head + k) >>> 0);
        won = Atomics.compareExchange(this.q64, Q_CONS_HEAD, qHead, next) === qHead;
      } else {
        won = Atomics.compareExchange(i32, W_CONS_HEAD, head, (head + k) | 0) === head;
      }
      if (won) {
        this.rOld = head;
        this.lastAvailable = avail - k;
        return k;
      }
    }
  }

  /** Release a consumer reservation [old, old+n); false as {@link prodCommit}. */
  private consCommit(old: number, n: number): boolean {
    const i32 = this.i32;
    const next = (old + n) | 0;
    if (this.consSync === SYNC_MT) {
      if (Atomics.load(i32, W_CONS_TAIL) !== old && !this.waitTail(false, old, next)) return false;
      Atomics.store(i32, W_CONS_TAIL, next);
    } else if (this.consSync === SYNC_MT_HTS) {
      Atomics.store(i32, W_CONS_TAIL, next);
    } else {
      this.rtsCommit(Q_CONS_HEAD, Q_CONS_TAIL);
    }
    i32[this.rec + PART.consState / 4] = REC_IDLE;
    return true;
  }

  /** RTS: count this finish; the last one in flight moves tail.pos up to head.pos. */
  private rtsCommit(qHeadIdx: number, qTailIdx: number): void {
    const q = this.q64;
    for (;;) {
      const tail = Atomics.load(q, qTailIdx);
      const head = Atomics.load(q, qHeadIdx);
      const cnt = ((tail >> 32n) + 1n) & 0xffffffffn;
      const pos = cnt === head >> 32n ? head & 0xffffffffn : tail & 0xffffffffn;
      if (Atomics.compareExchange(q, qTailIdx, tail, (cnt << 32n) | pos) === tail) return;
    }
  }

  /**
   * MT commit: wait until the tail reaches `old` (earlier reservations published). Returns true then.
   * Inside a blocking call whose deadline passes (but not before STALL_MS of waiting: a peer descheduled
   * for a moment must not cost a reservation), the reservation [old, next) is given up: undone when it is
   * still the last one (returns false: the call timed out, nothing moved, the ring is intact), else
   * marked abandoned and ETIMEDOUT thrown (the ring then needs recover(), as after ESTALE).
   */
  private waitTail(prod: boolean, old: number, next: number): boolean {
    const i32 = this.i32;
    const tw = prod ? W_PROD_TAIL : W_CONS_TAIL;
    const giveUpAt = this.deadline === Infinity ? Infinity : Math.max(this.deadline, Date.now() + STALL_MS);
    let last = Atomics.load(i32, tw);
    let since = 0;
    let pause = 0.02;
    for (let spin = 0; ; spin++) {
      const t = Atomics.load(i32, tw);
      if (t === old) return true;
      if (spin < 200) continue;
      const now = Date.now();
      if (t !== last || since === 0) {
        last = t;
        since = now;
        pause = 0.02;
      } else if (now - since > STALL_MS) {
        this.checkStalled(prod, t, old, true);
        since = now;
      }
      if (now >= giveUpAt) return this.giveUp(prod, old, next, t);
      // Let the owner of the earlier reservation run (2 cores, many processes): sleep briefly.
      futexWait(i32, tw, t, Math.min(pause, Math.max(0.02, giveUpAt - now)));
      pause = Math.min(pause * 2, 1);
    }
  }

  /** {@link waitTail}'s deadline passed: undo the reservation [old, next) if it is the last, else abandon it. */
  private giveUp(prod: boolean, old: number, next: number, tail: number): boolean {
    const i32 = this.i32;
    const stOff = (prod ? PART.prodState : PART.consState) / 4;
    // SYNC: a head CAS back from `next` succeeds only if nobody reserved after us; the slots go back
    // unseen (a producer's were never published, a consumer's copy is dropped: the call returns 0).
    if (Atomics.compareExchange(i32, prod ? W_PROD_HEAD : W_CONS_HEAD, next, old) === next) {
      Atomics.store(i32, this.rec + stOff, REC_IDLE);
      return false;
    }
    const front = this.frontOwner(prod, tail);
    i32[this.rec + (prod ? PART.prodCulprit : PART.consCulprit) / 4] = process.pid;
    Atomics.store(i32, this.rec + stOff, REC_ABANDONED);
    const side = prod ? 'producer' : 'consumer';
    throw new MpError(
      'ETIMEDOUT',
      `ring '${this.name}': the ${side} reservation in front of this call (pid ${front || 'unknown'}, alive but not ` +
        `publishing: stopped or starved?) outlived the call's timeout; this call moved nothing and abandoned its own ` +
        `reservation, which later ${side}s report as ESTALE — call ring.recover() once pid ${front || 'unknown'} has published or died`,
    );
  }

  /** ESTALE for a thread whose own earlier reservation on that side is abandoned and not yet recovered. */
  private abandonedError(prod: boolean): RingStaleError {
    const culprit = this.i32[this.rec + (prod ? PART.prodCulprit : PART.consCulprit) / 4]!;
    const e = staleError(prod ? 'producer' : 'consumer', culprit, this.name);
    e.message = `ring '${this.name}': this thread abandoned a ${e.side} reservation earlier (pid ${culprit} was blamed); ` +
      `call ring.recover() before using that side again`;
    return e;
  }

  /** Pid holding the reservation that starts at `tail` on one side, or 0. */
  private frontOwner(prod: boolean, tail: number): number {
    const i32 = this.i32;
    const stOff = (prod ? PART.prodState : PART.consState) / 4;
    const posOff = (prod ? PART.prodPos : PART.consPos) / 4;
    for (let p = 0; p < PARTICIPANTS; p++) {
      const e = (HDR.participantTable + p * PART.size) / 4;
      const pid = Atomics.load(i32, e + PART.pid / 4);
      if (pid !== 0 && Atomics.load(i32, e + stOff) === REC_BUSY && i32[e + posOff] === tail) return pid;
    }
    return 0;
  }

  /**
   * HTS/RTS reserve: the front reservation blocks us; wait a little, checking for a dead owner. True when
   * the blocking call in progress has passed its deadline (nothing is reserved yet: the call returns 0).
   */
  private waitFront(prod: boolean, head: number): boolean {
    if (this.deadline !== Infinity && Date.now() >= this.deadline) return true;
    const i32 = this.i32;
    const tw = prod ? W_PROD_TAIL : W_CONS_TAIL;
    const start = Date.now();
    let t = Atomics.load(i32, tw);
    for (let spin = 0; spin < 200; spin++) {
      if (Atomics.load(i32, tw) !== t || Atomics.load(i32, prod ? W_PROD_HEAD : W_CONS_HEAD) !== head) return false;
    }
    futexWait(i32, tw, t, 0.05);
    t = Atomics.load(i32, tw);
    const key = prod ? 'p' : 'c';
    const st = this.frontWatch;
    if (st.key !== key || st.tail !== t) {
      st.key = key;
      st.tail = t;
      st.since = start;
    } else if (Date.now() - st.since > STALL_MS) {
      st.since = Date.now();
      this.checkStalled(prod, t, head, false);
    }
    return false;
  }
  private readonly frontWatch = { key: '', tail: 0, since: 0 };

  /**
   * The tail of one side has not moved for STALL_MS. If a reservation in [tail, limit) belongs to a dead
   * process (or to one that gave up because of a dead one), throw ESTALE naming the dead pid; else return.
   */
  private checkStalled(prod: boolean, tail: number, limit: number, mine: boolean): void {
    const i32 = this.i32;
    const stOff = (prod ? PART.prodState : PART.consState) / 4;
    const posOff = (prod ? PART.prodPos : PART.consPos) / 4;
    const culOff = (prod ? PART.prodCulprit : PART.consCulprit) / 4;
    const span = (limit - tail) >>> 0;
    let culprit = 0;
    for (let p = 0; p < PARTICIPANTS; p++) {
      const e = (HDR.participantTable + p * PART.size) / 4;
      if (e === this.rec && mine) continue;
      const pid = Atomics.load(i32, e + PART.pid / 4);
      if (pid === 0) continue;
      const state = Atomics.load(i32, e + stOff);
      if (state === REC_IDLE) continue;
      const pos = i32[e + posOff]!;
      if (((pos - tail) >>> 0) >= span && !(span === 0 && pos === tail)) continue;
      if (state === REC_ABANDONED) {
        culprit = i32[e + culOff]! || pid;
      } else if (!pidAlive(pid)) {
        culprit = pid;
      } else if (pos === tail) {
        return; // the front reservation belongs to a live process: it will publish.
      }
    }
    if (culprit === 0) return;
    if (mine) {
      i32[this.rec + culOff] = culprit;
      Atomics.store(i32, this.rec + stOff, REC_ABANDONED);
    }
    throw staleError(prod ? 'producer' : 'consumer', culprit, this.name);
  }

  /** Roll back one side's head to its tail when nothing live is in flight there. Returns elements. */
  private recoverSide(prod: boolean, dead: Set<number>, out: RingRecovery): number {
    const i32 = this.i32;
    const hw = prod ? W_PROD_HEAD : W_CONS_HEAD;
    const tw = prod ? W_PROD_TAIL : W_CONS_TAIL;
    const stOff = (prod ? PART.prodState : PART.consState) / 4;
    const sync = prod ? this.prodSync : this.consSync;
    for (let attempt = 0; attempt < 1000; attempt++) {
      const head = Atomics.load(i32, hw);
      const tail = Atomics.load(i32, tw);
      const stale: number[] = [];
      let live = false;
      for (let p = 0; p < PARTICIPANTS; p++) {
        const e = (HDR.participantTable + p * PART.size) / 4;
        const pid = Atomics.load(i32, e + PART.pid / 4);
        const state = Atomics.load(i32, e + stOff);
        if (pid === 0 || state === REC_IDLE) continue;
        if (state === REC_BUSY && pidAlive(pid)) live = true;
        else {
          stale.push(e);
          if (state === REC_BUSY) dead.add(pid);
        }
      }
      if (live) {
        out.busy.push(prod ? 'producer' : 'consumer');
        return 0;
      }
      if (sync === SYNC_ST && head !== tail) {
        // No records on a single side: the reservation must stay unpublished for a while to count as dead.
        futexWait(i32, tw, tail, STALL_MS * 2);
        if (Atomics.load(i32, hw) !== head || Atomics.load(i32, tw) !== tail) continue;
      }
      if (head === tail && sync !== SYNC_MT_RTS) {
        for (const e of stale) i32[e + stOff] = REC_IDLE;
        return 0;
      }
      let ok: boolean;
      if (sync === SYNC_MT_RTS) {
        const q = this.q64;
        const qh = Atomics.load(q, prod ? Q_PROD_HEAD : Q_CONS_HEAD);
        const qt = Atomics.load(q, prod ? Q_PROD_TAIL : Q_CONS_TAIL);
        if (qh === qt) {
          for (const e of stale) i32[e + stOff] = REC_IDLE;
          return 0;
        }
        ok = Atomics.compareExchange(q, prod ? Q_PROD_HEAD : Q_CONS_HEAD, qh, qt) === qh;
      } else {
        ok = Atomics.compareExchange(i32, hw, head, tail) === head;
      }
      if (!ok) continue;
      for (const e of stale) i32[e + stOff] = REC_IDLE;
      if (prod) this.pendingEnq = 0;
      else this.pendingDeq = 0;
      return (head - tail) >>> 0;
    }
    out.busy.push(prod ? 'producer' : 'consumer');
    return 0;
  }

  /** Take a participant slot for this thread (pid, threadId). */
  private claim(): void {
    const i32 = this.i32;
    const pid = process.pid;
    const base = (p: number): number => (HDR.participantTable + p * PART.size) / 4;
    for (let p = 0; p < PARTICIPANTS; p++) {
      const e = base(p);
      if (Atomics.load(i32, e + PART.pid / 4) === pid && i32[e + PART.tid / 4] === threadId) {
        this.rec = e;
        return;
      }
    }
    for (let pass = 0; pass < 2; pass++) {
      for (let p = 0; p < PARTICIPANTS; p++) {
        const e = base(p);
        const owner = Atomics.load(i32, e + PART.pid / 4);
        if (pass === 0 && owner !== 0) continue;
        if (pass === 1) {
          if (owner === 0 || pidAlive(owner)) continue;
          if (i32[e + PART.prodState / 4] !== REC_IDLE || i32[e + PART.consState / 4] !== REC_IDLE) continue;
        }
        if (Atomics.compareExchange(i32, e + PART.pid / 4, owner, pid) === owner) {
          i32[e + PART.tid / 4] = threadId;
          i32[e + PART.prodState / 4] = REC_IDLE;
          i32[e + PART.consState / 4] = REC_IDLE;
          this.rec = e;
          return;
        }
      }
    }
    throw new MpError('ENOSPC', `ring '${this.name}': all ${PARTICIPANTS} participant slots are held by live threads (close() unused handles)`);
  }

  // ---- blocking -----------------------------------------------------------------------------------------

  /**
   * One sleep of a blocked call: register as a sleeper on the other side's tail word, re-check, sleep.
   * Returns the futex result (or 'ready' when the re-check found enough).
   */
  private sleepPrep(enq: boolean, need: number): { word: number; seen: number } | undefined {
    const i32 = this.i32;
    if (enq) {
      const seen = Atomics.load(i32, W_CONS_TAIL);
      const head = Atomics.load(i32, W_PROD_HEAD);
      if (((this.capacity + seen - head) >>> 0) >= need) return undefined;
      return { word: W_CONS_TAIL, seen };
    }
    const seen = Atomics.load(i32, W_PROD_TAIL);
    const head = Atomics.load(i32, W_CONS_HEAD);
    if (((seen - head) >>> 0) >= need) return undefined;
    return { word: W_PROD_TAIL, seen };
  }

  /**
   * The blocking loop of every sync call with `timeoutMs`: try, then sleep on the other side's tail until
   * the deadline. Every wait inside the try (a front reservation in HTS/RTS, earlier reservations in an
   * MT commit) sees the same deadline through `this.deadline`.
   */
  private blockSync(enq: boolean, a: RingData, n: number, off: number, bulk: boolean, timeoutMs: number): number {
    const deadline = deadlineOf(timeoutMs);
    const need = bulk ? n : 1;
    const i32 = this.i32;
    const sleepers = enq ? W_CONS_SLEEPERS : W_PROD_SLEEPERS;
    let first = true;
    for (;;) {
      const r = this.tryBy(enq, a, n, off, bulk, deadline);
      if (r > 0) return r;
      const left = deadline - Date.now();
      if (left <= 0) return 0;
      // SYNC: count ourselves as a sleeper before re-reading the tail (pairs with the publisher's
      // tail store then sleeper read): one of the two sees the other, so no wake-up is lost.
      Atomics.add(i32, sleepers, 1);
      try {
        const w = this.sleepPrep(enq, need);
        if (w !== undefined) futexWait(i32, w.word, w.seen, Math.min(left, first ? FIRST_SLEEP_MS : this.sliceMs(enq, STALL_MS)));
        first = false;
      } finally {
        Atomics.sub(i32, sleepers, 1);
      }
      this.checkOtherSide(enq);
    }
  }

  /** One attempt of a blocking call, its waits bounded by `deadline`. */
  private tryBy(enq: boolean, a: RingData, n: number, off: number, bulk: boolean, deadline: number): number {
    this.deadline = deadline;
    try {
      return enq ? this.enq(a, n, off, bulk) : this.deq(a, n, off, bulk);
    } finally {
      this.deadline = Infinity;
    }
  }

  private async asyncOp(enq: boolean, arr: RingData | RingData64, n: number | undefined, opts: RingOpOptions | undefined, bulk: boolean): Promise<number> {
    const a = arr instanceof Uint32Array || arr instanceof Int32Array ? arr : words(arr);
    const off = opts?.offset ?? 0;
    if (n === undefined) n = ((a.length / this.wpe) | 0) - off;
    this.checkRange(a, n, off);
    const deadline = deadlineOf(opts?.timeoutMs ?? Infinity);
    const need = bulk ? n : 1;
    const i32 = this.i32;
    const sleepers = enq ? W_CONS_SLEEPERS : W_PROD_SLEEPERS;
    let first = true;
    for (;;) {
      const r = this.tryBy(enq, a, n, off, bulk, deadline);
      if (r > 0 || n === 0) return r;
      const left = deadline - Date.now();
      if (left <= 0) return 0;
      Atomics.add(i32, sleepers, 1);
      try {
        const w = this.sleepPrep(enq, need);
        if (w !== undefined) await futexWaitAsync(i32, w.word, w.seen, Math.min(left, first ? FIRST_SLEEP_MS : this.sliceMs(enq, ASYNC_WATCH_MS)));
        first = false;
      } finally {
        Atomics.sub(i32, sleepers, 1);
      }
      this.checkOtherSide(enq);
    }
  }

  /**
   * How long one sleep of a blocked call may last. The other side's reservations are not woken on (only
   * its publishes are), so a waiter must look by itself: every STALL_MS where that side keeps records,
   * and just past the end of the stall window once a stuck tail is being watched — which names a dead
   * reservation within about 2 × STALL_MS, as a non-blocking caller's stall check does.
   */
  private sliceMs(enq: boolean, idle: number): number {
    if ((enq ? this.consSync : this.prodSync) === SYNC_ST) return SLICE_MS;
    const st = this.otherWatch;
    if (!st.active) return idle;
    return Math.max(1, st.since + STALL_MS + 1 - Date.now());
  }

  /**
   * A blocked caller waits for the other side; if that side's tail is stuck behind a dead process's
   * reservation, nothing will ever come: ESTALE instead of sleeping forever.
   */
  private checkOtherSide(enq: boolean): void {
    // Woken by free() (or a reset): re-check the header before reading anything else of the ring.
    if (this.i32[HDR.epoch / 4] !== this.epoch) this.resync();
    const prod = !enq;
    const sync = prod ? this.prodSync : this.consSync;
    if (sync === SYNC_ST) return;
    const i32 = this.i32;
    const head = Atomics.load(i32, prod ? W_PROD_HEAD : W_CONS_HEAD);
    const tail = Atomics.load(i32, prod ? W_PROD_TAIL : W_CONS_TAIL);
    const st = this.otherWatch;
    if (head === tail) {
      st.active = false;
      return;
    }
    const now = Date.now();
    if (!st.active || st.prod !== prod || st.tail !== tail) {
      st.active = true;
      st.prod = prod;
      st.tail = tail;
      st.since = now;
    } else if (now - st.since > STALL_MS) {
      this.checkStalled(prod, tail, head, false);
      st.since = now; // a live owner: look again one window later
    }
  }
  private readonly otherWatch = { active: false, prod: false, tail: 0, since: 0 };

  // ---- internals: two-step API --------------------------------------------------------------------------

  private rOldEnq = 0;
  private rOldDeq = 0;

  private enqStart(n: number, bulk: boolean): number {
    this.check();
    if (this.prodSync !== SYNC_ST && this.prodSync !== SYNC_MT_HTS) {
      throw new MpError('ENOTSUP', `ring '${this.name}': two-step enqueue needs a single-producer or HTS ring (producer is ${this.producerMode})`);
    }
    if (this.pendingEnq !== 0) throw new MpError('EBUSY', `ring '${this.name}': an enqueue start is pending (call enqueueFinish)`);
    if (!Number.isInteger(n) || n < 0) throw new MpError('EINVAL', `element count ${n} is not an integer ≥ 0`);
    const i32 = this.i32;
    let k: number;
    if (this.prodSync === SYNC_ST) {
      const head = i32[W_PROD_HEAD]!;
      this.consTailCache = Atomics.load(i32, W_CONS_TAIL);
      const free = (this.capacity + this.consTailCache - head) >>> 0;
      k = free < n ? (bulk ? 0 : free) : n;
      this.lastFreeSpace = free - k;
      if (k === 0) return 0;
      i32[W_PROD_HEAD] = (head + k) | 0;
      this.rOldEnq = head;
    } else {
      k = this.prodReserve(n, bulk);
      if (k === 0) return 0;
      this.rOldEnq = this.rOld;
    }
    this.pendingEnq = k;
    return k;
  }

  private finishEnq(n: number): void {
    const i32 = this.i32;
    const next = (this.rOldEnq + n) | 0;
    // Give back the unused part of the reservation: head first, then the tail (HTS readers compare both).
    i32[W_PROD_HEAD] = next;
    Atomics.store(i32, W_PROD_TAIL, next);
    if (this.prodSync === SYNC_MT_HTS) i32[this.rec + PART.prodState / 4] = REC_IDLE;
    this.pendingEnq = 0;
    if (Atomics.load(i32, W_PROD_SLEEPERS) !== 0) futexWake(i32, W_PROD_TAIL);
  }

  private deqStart(dst: RingData | RingData64, n: number | undefined, bulk: boolean): number {
    const d = dst instanceof Uint32Array || dst instanceof Int32Array ? dst : words(dst);
    if (n === undefined) n = (d.length / this.wpe) | 0;
    this.checkRange(d, n, 0);
    const k = this.deqReserve(n, bulk);
    if (k > 0) this.copyOut(d, 0, this.rOldDeq, k);
    return k;
  }

  private deqReserve(n: number, bulk: boolean): number {
    this.check();
    if (this.consSync !== SYNC_ST && this.consSync !== SYNC_MT_HTS) {
      throw new MpError('ENOTSUP', `ring '${this.name}': peek / zero-copy dequeue needs a single-consumer or HTS ring (consumer is ${this.consumerMode})`);
    }
    if (this.pendingDeq !== 0) throw new MpError('EBUSY', `ring '${this.name}': a dequeue start is pending (call dequeueFinish)`);
    if (!Number.isInteger(n) || n < 0) throw new MpError('EINVAL', `element count ${n} is not an integer ≥ 0`);
    const i32 = this.i32;
    let k: number;
    if (this.consSync === SYNC_ST) {
      const head = i32[W_CONS_HEAD]!;
      this.prodTailCache = Atomics.load(i32, W_PROD_TAIL);
      const avail = (this.prodTailCache - head) >>> 0;
      k = avail < n ? (bulk ? 0 : avail) : n;
      this.lastAvailable = avail - k;
      if (k === 0) return 0;
      i32[W_CONS_HEAD] = (head + k) | 0;
      this.rOldDeq = head;
    } else {
      k = this.consReserve(n, bulk);
      if (k === 0) return 0;
      this.rOldDeq = this.rOld;
    }
    this.pendingDeq = k;
    return k;
  }

  private finishDeq(n: number): void {
    const i32 = this.i32;
    const next = (this.rOldDeq + n) | 0;
    i32[W_CONS_HEAD] = next;
    Atomics.store(i32, W_CONS_TAIL, next);
    if (this.consSync === SYNC_MT_HTS) i32[this.rec + PART.consState / 4] = REC_IDLE;
    this.pendingDeq = 0;
    if (Atomics.load(i32, W_CONS_SLEEPERS) !== 0) futexWake(i32, W_CONS_TAIL);
  }

  private checkFinish(n: number, pending: number): void {
    this.check();
    if (!Number.isInteger(n) || n < 0 || n > pending) {
      throw new MpError('EINVAL', `ring '${this.name}': finish ${n} elements, but ${pending} are reserved`);
    }
  }

  private zcData(n: number, head: number): RingZcData {
    const wpe = this.wpe;
    const idx = (head & this.mask) * wpe;
    const first = Math.min(n * wpe, this.slotWords - idx);
    return {
      n,
      n1: first / wpe,
      ptr1: this.w.subarray(idx, idx + first),
      ptr2: this.w.subarray(0, n * wpe - first),
    };
  }
}

const one = new Uint32Array(1);

/**
 * Deadline (Date.now() ms) of a blocking call.
 *
 * @throws {MpError} EINVAL — timeoutMs is not a number ≥ 0 (Infinity allowed)
 */
function deadlineOf(timeoutMs: number): number {
  if (typeof timeoutMs !== 'number' || !(timeoutMs >= 0)) {
    throw new MpError('EINVAL', `timeoutMs ${String(timeoutMs)} is not a number ≥ 0 (Infinity waits until done)`);
  }
  return timeoutMs === Infinity ? Infinity : Date.now() + timeoutMs;
}

function words(a: RingData | RingData64): RingData {
  if (a instanceof Uint32Array || a instanceof Int32Array) return a;
  if (a instanceof BigUint64Array || a instanceof BigInt64Array || a instanceof Float64Array) {
    return new Uint32Array(a.buffer, a.byteOffset, a.length * 2);
  }
  throw new MpError('EINVAL', 'ring elements are passed as Uint32Array / Int32Array (or 64-bit typed arrays)');
}

/** DPDK's names of the flag bits, for messages. */
const FLAG_NAMES: ReadonlyArray<readonly [number, string]> = [
  [RING_F_SP_ENQ, 'RING_F_SP_ENQ'],
  [RING_F_SC_DEQ, 'RING_F_SC_DEQ'],
  [RING_F_EXACT_SZ, 'RING_F_EXACT_SZ'],
  [RING_F_MP_RTS_ENQ, 'RING_F_MP_RTS_ENQ'],
  [RING_F_MC_RTS_DEQ, 'RING_F_MC_RTS_DEQ'],
  [RING_F_MP_HTS_ENQ, 'RING_F_MP_HTS_ENQ'],
  [RING_F_MC_HTS_DEQ, 'RING_F_MC_HTS_DEQ'],
];
const flagName = (bit: number): string => FLAG_NAMES.find(([b]) => b === bit)![1];

/** Per side: the flag bit of each mode ('multi' has none), as DPDK's RING_F_* sync bits. */
const SIDE_BITS = {
  producer: { single: RING_F_SP_ENQ, rts: RING_F_MP_RTS_ENQ, hts: RING_F_MP_HTS_ENQ },
  consumer: { single: RING_F_SC_DEQ, rts: RING_F_MC_RTS_DEQ, hts: RING_F_MC_HTS_DEQ },
} as const;
const SYNC_OF: Record<SyncMode, number> = { multi: SYNC_MT, single: SYNC_ST, rts: SYNC_MT_RTS, hts: SYNC_MT_HTS };

/**
 * One side's mode from the flag bits and the option: at most one sync bit, and an option that names the
 * same mode as the bits (or no option). Anything else is a conflict → EINVAL naming both.
 */
function sideMode(flags: number, opt: unknown, side: 'producer' | 'consumer'): SyncMode {
  const bits = SIDE_BITS[side];
  const set = (['single', 'rts', 'hts'] as const).filter((m) => (flags & bits[m]) !== 0);
  if (set.length > 1) {
    throw new MpError('EINVAL', `ring flags ${set.map((m) => flagName(bits[m])).join(' and ')} conflict: choose one ${side} mode`);
  }
  const fromFlags: SyncMode = set[0] ?? 'multi';
  if (opt === undefined) return fromFlags;
  if (typeof opt !== 'string' || !(opt in SYNC_OF)) {
    throw new MpError('EINVAL', `${side} mode '${String(opt)}' is not one of multi, single, rts, hts`);
  }
  const mode = opt as SyncMode;
  if (set.length === 1 && mode !== fromFlags) {
    throw new MpError('EINVAL', `ring flag ${flagName(bits[set[0]!])} conflicts with ${side}: '${mode}' (the flag means ${side}: '${fromFlags}'; give one of them)`);
  }
  return mode;
}

/**
 * Validate and merge `flags` with the `producer` / `consumer` / `exactSize` options.
 *
 * @throws {MpError} EINVAL — flags not a non-negative integer or with unknown bits; two sync bits on one
 *   side; an option that disagrees with a flag (`RING_F_SP_ENQ` with `producer: 'multi'`, `RING_F_EXACT_SZ`
 *   with `exactSize: false`, …); an unknown mode; `exactSize` not a boolean
 */
function resolveFlags(opts: RingCreateOptions): { flags: number; prodSync: number; consSync: number } {
  const flags: unknown = opts.flags ?? 0;
  if (typeof flags !== 'number' || !Number.isInteger(flags) || flags < 0) {
    throw new MpError('EINVAL', `ring flags ${String(flags)} are not a non-negative integer of RING_F_* bits`);
  }
  if ((flags & ~KNOWN_FLAGS) !== 0 || flags > KNOWN_FLAGS) {
    throw new MpError('EINVAL', `unknown ring flags 0x${(flags - (flags & KNOWN_FLAGS)).toString(16)} (RING_F_* are 0x1..0x40)`);
  }
  const f = flags;
  const producer = sideMode(f, opts.producer, 'producer');
  const consumer = sideMode(f, opts.consumer, 'consumer');
  const exact = opts.exactSize;
  if (exact !== undefined && typeof exact !== 'boolean') throw new MpError('EINVAL', `exactSize ${String(exact)} is not a boolean`);
  if (exact === false && (f & RING_F_EXACT_SZ) !== 0) {
    throw new MpError('EINVAL', 'ring flag RING_F_EXACT_SZ conflicts with exactSize: false (give one of them)');
  }
  const out = (f & RING_F_EXACT_SZ) | (exact ? RING_F_EXACT_SZ : 0) |
    (producer === 'multi' ? 0 : SIDE_BITS.producer[producer]) | (consumer === 'multi' ? 0 : SIDE_BITS.consumer[consumer]);
  return { flags: out, prodSync: SYNC_OF[producer], consSync: SYNC_OF[consumer] };
}

function recName(s: number): string {
  return s === REC_IDLE ? 'idle' : s === REC_BUSY ? 'busy' : 'abandoned';
}
