import { MpError, memzone } from '@mp/memory';
import type { Memzone } from '@mp/memory';
import type { Ring } from '@mp/ring';
import { CACHE_ENTRY_W, HDR, HDR_W, K, MEMPOOL_MZ_PREFIX, flushThreshold } from './layout.js';
import type { MempoolCreateOptions, MempoolDescriptor } from './options.js';
import { poolFor } from './pools.js';
import { Registry } from './registry.js';
import { state } from './state.js';
import { CHUNK, afterStale, reclaimRaw, ringEnq } from './reclaim.js';
import { claimCacheSlot, createPool, lookupPool, poolFromDescriptor, readHeader, usedCacheSlots } from './open.js';
import type { MakePool, MbufPart } from './open.js';

/**
 * rte_mempool: `n` fixed-size objects in one memzone, shared by every process of the group, named by
 * **handles** — u32 numbers `poolId << 24 | index` that identify the pool in every process ({@link poolOf},
 * {@link indexOf}). Free handles live in an @mp/ring; each thread has a cache (rte_mempool's per-lcore
 * cache) so most gets and puts touch no shared line but the cache's own counter.
 *
 * Every object out of the pool is answerable to the process that took it (its owner word holds the
 * process's tag); when that process dies, what it held and what its caches held goes back to the pool.
 * Objects handed to a ring or a queue must be {@link release}d (and {@link adopt}ed by the receiver).
 */
export class Mempool {
  readonly name: string;
  /** Pool id (1..255), the top byte of every handle of this pool. */
  readonly id: number;
  /** Objects in the pool. */
  readonly n: number;
  readonly eltSize: number;
  /** Bytes between two objects. */
  readonly stride: number;
  readonly cacheSize: number;
  readonly flags: number;
  readonly privSize: number;
  /** The pool's memory (memzone `MP_<name>`): header, owner words, objects. */
  readonly buffer: ArrayBuffer;
  /** All of {@link buffer} as bytes (hot paths index it with {@link offsetOf}). */
  readonly bytes: Uint8Array;
  /** All of {@link buffer} as 32-bit words (mbuf headers). */
  readonly words: Uint32Array;
  /** All of {@link buffer} as 64-bit words (mbuf olFlags, timestamp). */
  readonly q64: BigUint64Array;
  /** Byte offset of object 0 in {@link buffer}. */
  readonly objsOff: number;
  /** @internal KIND_PLAIN / KIND_PKTMBUF */
  readonly kind: number;
  /** @internal pktmbuf: data room size and per-mbuf private size */
  readonly dataRoom: number;
  /** @internal */
  readonly mbufPriv: number;

  private readonly ring: Ring;
  /** @internal the pool's memzone here (undefined: opened from a descriptor) */
  readonly mz: Memzone | undefined;
  private readonly desc: MempoolDescriptor | undefined;
  private readonly owners: Uint32Array;
  private readonly tag: number;
  /** This thread's cache (handles; the top is the most recently put). */
  private readonly cache: Uint32Array;
  private cacheLen = 0;
  /** Effective cache size for this thread (0 when no cache slot was free). */
  private csize: number;
  private readonly thresh: number;
  /** Index in {@link words} of this cache's shared count, or -1. */
  private readonly cacheW: number;
  private readonly scratch = new Uint32Array(CHUNK);
  private readonly ropts = { offset: 0 };
  private views: Array<Uint8Array | undefined> | undefined;
  /** @internal */
  freed = false;
  private closed = false;

  private constructor(buffer: ArrayBuffer, ring: Ring, tag: number, mz: Memzone | undefined, desc: MempoolDescriptor | undefined) {
    const u32 = new Uint32Array(buffer);
    this.name = readHeader(u32, mz?.name ?? desc?.memzone.name);
    this.buffer = buffer;
    this.bytes = new Uint8Array(buffer);
    this.words = u32;
    this.q64 = new BigUint64Array(buffer, 0, Math.floor(buffer.byteLength / 8));
    this.ring = ring;
    this.mz = mz;
    this.desc = desc;
    this.tag = tag;
    this.flags = new Uint16Array(buffer, 0, 4)[HDR.flags / 2]!;
    this.n = u32[HDR_W.n]!;
    this.eltSize = u32[HDR_W.eltSize]!;
    this.stride = u32[HDR_W.stride]!;
    this.cacheSize = u32[HDR_W.cacheSize]!;
    this.id = u32[HDR_W.poolId]!;
    this.privSize = u32[HDR_W.privSize]!;
    this.kind = u32[HDR_W.kind]!;
    this.dataRoom = u32[HDR_W.dataRoom]!;
    this.mbufPriv = u32[HDR_W.mbufPriv]!;
    this.objsOff = u32[HDR_W.objsOff]!;
    this.owners = new Uint32Array(buffer, u32[HDR_W.ownersOff]!, this.n);
    this.cacheW = this.cacheSize > 0 ? claimCacheSlot(u32, tag, this.name) : -1;
    this.csize = this.cacheW < 0 ? 0 : this.cacheSize;
    this.thresh = flushThreshold(this.csize);
    this.cache = new Uint32Array(this.csize === 0 ? 0 : this.thresh + this.csize);
  }

  // ---- create / lookup / free -----------------------------------------------------------------------------

  /**
   * Create a pool of `n` objects of `eltSize` bytes in the attached group.
   *
   * @throws {MpError} EINVAL — n not in 1…2^24-1, eltSize not a positive integer, cacheSize not in 0…512 or
   *   over n / 1.5, privSize negative, unknown flags, a bad name (empty, `/`, `..`, control characters)
   * @throws {MpError} ENAMETOOLONG — name longer than 25 bytes
   * @throws {MpError} EEXIST — a pool (or its memzone or ring `MP_<name>`) of that name exists
   * @throws {MpError} ENOSPC — 255 pools exist (handles hold the pool id in 8 bits), or the memzone table is full
   * @throws {MpError} ENOMEM — no room in the group's memory
   * @throws {MpError} ENOTCONN — `init()` from @mp/eal has not run
   * @see rte_mempool_create
   */
  static create(name: string, n: number, eltSize: number, opts: MempoolCreateOptions = {}): Mempool {
    return Mempool.make(name, n, eltSize, opts, undefined);
  }

  /** @internal shared by create and pktmbufPoolCreate */
  static make(name: string, n: number, eltSize: number, opts: MempoolCreateOptions, mbuf: MbufPart | undefined): Mempool {
    return createPool(Mempool.construct, name, n, eltSize, opts, mbuf);
  }

  /** The constructor, for open.ts. */
  private static readonly construct: MakePool = (buffer, ring, tag, mz, desc) => new Mempool(buffer, ring, tag, mz, desc);

  /**
   * Open a pool of the attached group by name (any process). One instance per thread and name.
   * Returns what processes that died unobserved still owned to their pools first.
   *
   * @throws {MpError} ENOENT — no pool of that name
   * @throws {MpError} EINVAL / ENAMETOOLONG — bad name
   * @throws {MpError} EPROTO — the memzone holds no pool, or another layout version
   * @throws {MpError} ENOTCONN — `init()` from @mp/eal has not run
   * @see rte_mempool_lookup
   */
  static lookup(name: string): Mempool {
    return lookupPool(Mempool.construct, name);
  }

  /**
   * The pool a handle belongs to, as this thread has it open (opened by id on first use in a process
   * of the group; a worker thread must have opened it with {@link fromDescriptor}).
   *
   * @throws {MpError} EBADF — no pool of that id (freed), or not open in this worker thread
   */
  static fromHandle(h: number): Mempool {
    return poolFor(h);
  }

  /**
   * {@link lookup} that returns undefined when there is no pool of that name.
   *
   * @throws {MpError} as lookup, but not ENOENT
   */
  static find(name: string): Mempool | undefined {
    try {
      return Mempool.lookup(name);
    } catch (err) {
      if ((err as MpError).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  /**
   * Open a pool in a worker thread from {@link describe}'s output (no group needed in the thread). The
   * worker gets its own cache, flushed when the worker exits; its objects count as its process's.
   *
   * @throws {MpError} EINVAL — not a mempool descriptor; ENOENT — the group's memory is gone; EPROTO
   */
  static fromDescriptor(d: MempoolDescriptor): Mempool {
    return poolFromDescriptor(Mempool.construct, d);
  }

  /**
   * Plain data for `postMessage`: a worker thread opens the pool with {@link Mempool.fromDescriptor}.
   *
   * @throws {MpError} EBADF — the pool was freed; ENOTCONN — no group attached
   */
  describe(): MempoolDescriptor {
    this.live();
    if (this.desc !== undefined) return this.desc;
    return { name: this.name, id: this.id, tag: this.tag, memzone: memzone.describe(this.mz!), ring: this.ring.describe() };
  }

  /**
   * Free the pool: its memzone, its ring and its id (as rte_mempool_free, objects still out are gone).
   * Handles of it in other processes must not be used afterwards.
   *
   * @throws {MpError} EBADF — already freed; ENOTSUP — a pool opened from a descriptor
   * @see rte_mempool_free
   */
  free(): void {
    this.live();
    if (this.mz === undefined) throw new MpError('ENOTSUP', 'a pool opened from a descriptor cannot be freed (free it where it was created or looked up)');
    const reg = Registry.get();
    reg.withLock(() => {
      this.close();
      this.freed = true;
      reg.freePoolLocked(this.id);
      this.ring.free();
      memzone.free(this.mz!.name);
    });
    if (state.byId[this.id] === this) state.byId[this.id] = undefined;
    if (state.byName.get(this.name) === this) state.byName.delete(this.name);
  }

  /**
   * Flush this thread's cache to the pool and give its cache slot back (no DPDK analogue: per-lcore caches
   * there never go away). Runs at exit by itself. The handle keeps working, uncached. Idempotent.
   */
  close(): void {
    if (this.closed || this.freed) return;
    this.closed = true;
    if (this.cacheW < 0) return;
    this.flushTo(0);
    Atomics.store(this.words, this.cacheW, 0);
    Atomics.store(this.words, this.cacheW - CACHE_ENTRY_W.len + CACHE_ENTRY_W.tag, 0);
    this.csize = 0;
  }

  // ---- counts ---------------------------------------------------------------------------------------------

  /** Objects available: in the ring plus in every cache of every process. @see rte_mempool_avail_count */
  get availCount(): number {
    let n = this.ring.count();
    for (const c of usedCacheSlots(this.words)) n += c.len;
    return Math.min(n, this.n);
  }

  /** Objects out of the pool (held, or released into a ring or queue). @see rte_mempool_in_use_count */
  get inUseCount(): number {
    return this.n - this.availCount;
  }

  /** Objects in this thread's cache. */
  get cacheCount(): number {
    return this.cacheLen;
  }

  /** The pool's private area (privSize bytes). @see rte_mempool_get_priv */
  priv(): Uint8Array {
    const off = this.words[HDR_W.privOff]!;
    return new Uint8Array(this.buffer, off, this.privSize);
  }

  // ---- get / put ------------------------------------------------------------------------------------------

  /**
   * One object, or -1 when the pool is empty (a return value, not an exception).
   *
   * @throws {MpError} EBADF — the pool was freed
   * @see rte_mempool_get
   */
  get(): number {
    if (this.freed) this.live();
    let len = this.cacheLen;
    if (len > 0) {
      this.cacheLen = --len;
      this.words[this.cacheW] = len;
      return this.cache[len]!;
    }
    if (this.csize > 0) {
      if (this.refill(this.csize + 1) === 0 && this.refill(1) === 0) return -1;
      len = --this.cacheLen;
      this.words[this.cacheW] = len;
      return this.cache[len]!;
    }
    const s = this.scratch;
    if (this.ringDeq(s, 0, 1) === 0) return -1;
    this.owners[s[0]! & K.INDEX_MASK] = this.tag;
    return s[0]!;
  }

  /**
   * `n` objects into `out[0..n)`, or none: returns n, or 0 when fewer than n are available.
   *
   * @throws {MpError} EINVAL — n not an integer in 0..out.length; EBADF — the pool was freed
   * @see rte_mempool_get_bulk
   */
  getBulk(out: Uint32Array, n: number): number {
    if (this.freed) this.live();
    if ((n >>> 0) !== n || n > out.length) throw new MpError('EINVAL', `getBulk n ${n} must be an integer in 0..${out.length} (the array's length)`);
    if (n === 0) return 0;
    const c = this.csize;
    if (n <= c) {
      let len = this.cacheLen;
      if (len < n) {
        if (this.refill(c + n - len) === 0 && this.refill(n - len) === 0) return 0;
        len = this.cacheLen;
      }
      const cache = this.cache;
      for (let i = 0; i < n; i++) out[i] = cache[--len]!;
      this.cacheLen = len;
      this.words[this.cacheW] = len;
      return n;
    }
    // Larger than the cache: from the ring, topped up from the cache when the ring alone has too few
    // (all or nothing against availCount, as DPDK since 23.03).
    const owners = this.owners;
    const tag = this.tag;
    if (this.ringDeq(out, 0, n) !== 0) {
      for (let i = 0; i < n; i++) owners[out[i]! & K.INDEX_MASK] = tag;
      return n;
    }
    let len = this.cacheLen;
    const cache = this.cache;
    if (len < n) {
      if (len === 0 || this.ringDeq(out, len, n - len) === 0) return 0;
      for (let i = len; i < n; i++) owners[out[i]! & K.INDEX_MASK] = tag;
    }
    const m = len < n ? len : n;
    for (let i = 0; i < m; i++) out[i] = cache[--len]!;
    this.cacheLen = len;
    this.words[this.cacheW] = len;
    return n;
  }

  /**
   * Give an object back. A handle already free (a double put, or an object a dead process's reclaim
   * returned first) is ignored.
   *
   * @throws {MpError} EINVAL — not a handle of this pool; EBADF — the pool was freed
   * @see rte_mempool_put
   */
  put(h: number): void {
    if (this.freed) this.live();
    const i = h & K.INDEX_MASK;
    if (h >>> K.INDEX_BITS !== this.id || i >= this.n) throw this.notMine(h);
    if (this.csize > 0) {
      if (this.owners[i] !== this.tag && !this.takeOver(i)) return;
      let len = this.cacheLen;
      this.cache[len++] = h;
      if (len >= this.thresh) {
        this.cacheLen = len;
        this.flushTo(this.csize);
      } else {
        this.cacheLen = len;
        this.words[this.cacheW] = len;
      }
      return;
    }
    if (!this.toFree(i)) return;
    const s = this.scratch;
    s[0] = h;
    this.ringEnq(s, 0, 1);
  }

  /**
   * Give back `arr[0..n)`.
   *
   * @throws {MpError} EINVAL — n out of range, or a handle not of this pool (nothing is put then);
   *   EBADF — the pool was freed
   * @see rte_mempool_put_bulk
   */
  putBulk(arr: Uint32Array, n: number): void {
    if (this.freed) this.live();
    if ((n >>> 0) !== n || n > arr.length) throw new MpError('EINVAL', `putBulk n ${n} must be an integer in 0..${arr.length} (the array's length)`);
    const id = this.id;
    const max = this.n;
    const owners = this.owners;
    const tag = this.tag;
    const c = this.csize;
    if (n <= c) {
      // One pass: check, claim and push; a bad handle rolls the cache back (nothing was put).
      const cache = this.cache;
      const len0 = this.cacheLen;
      let len = len0;
      for (let k = 0; k < n; k++) {
        const h = arr[k]!;
        const i = h & K.INDEX_MASK;
        if (h >>> K.INDEX_BITS !== id || i >= max) {
          this.cacheLen = len0; // pushed ones stay out, ours (taken over ones included)
          throw this.notMine(h);
        }
        if (owners[i] !== tag && !this.takeOver(i)) continue;
        cache[len++] = h;
      }
      this.cacheLen = len;
      if (len >= this.thresh) this.flushTo(c);
      else this.words[this.cacheW] = len;
      return;
    }
    for (let k = 0; k < n; k++) {
      const h = arr[k]!;
      if (h >>> K.INDEX_BITS !== id || (h & K.INDEX_MASK) >= max) throw this.notMine(h);
    }
    const s = this.scratch;
    for (let base = 0; base < n; base += CHUNK) {
      const end = Math.min(n, base + CHUNK);
      // As toFree(), inline: ours → free; someone else's (in flight, or another process's) → CAS; already
      // free → skipped. Handles go to the ring straight from `arr` unless one was skipped (then compacted).
      let k = 0;
      let compact = false;
      for (let j = base; j < end; j++) {
        const h = arr[j]!;
        const i = h & K.INDEX_MASK;
        const o = owners[i]!;
        if (o === tag) owners[i] = K.OWNER_FREE;
        else if (o === K.OWNER_FREE || Atomics.compareExchange(owners, i, o, K.OWNER_FREE) !== o) {
          if (!compact) {
            compact = true;
            for (let c = 0; c < k; c++) s[c] = arr[base + c]!;
          }
          continue;
        }
        if (compact) s[k] = h;
        k++;
      }
      if (k > 0) {
        if (compact) this.ringEnq(s, 0, k);
        else this.ringEnq(arr, base, k);
      }
    }
  }

  // ---- ownership ------------------------------------------------------------------------------------------

  /**
   * Hand `handles[0..n)` over to a ring or queue: they belong to no process until {@link adopt}ed, and
   * are not reclaimed if this process dies. One store per object. No DPDK analogue.
   *
   * @throws {MpError} EINVAL — n out of range
   */
  release(handles: Uint32Array, n: number): void {
    if ((n >>> 0) !== n || n > handles.length) throw new MpError('EINVAL', `release n ${n} must be an integer in 0..${handles.length}`);
    const owners = this.owners;
    for (let k = 0; k < n; k++) owners[handles[k]! & K.INDEX_MASK] = K.OWNER_IN_FLIGHT;
  }

  /**
   * Claim `handles[0..n)` (taken off a ring or queue) for this process: from now on its death returns
   * them. One store per object. No DPDK analogue.
   *
   * @throws {MpError} EINVAL — n out of range
   */
  adopt(handles: Uint32Array, n: number): void {
    if ((n >>> 0) !== n || n > handles.length) throw new MpError('EINVAL', `adopt n ${n} must be an integer in 0..${handles.length}`);
    const owners = this.owners;
    const tag = this.tag;
    for (let k = 0; k < n; k++) owners[handles[k]! & K.INDEX_MASK] = tag;
  }

  /** @internal one object of {@link release} (Mbuf.release walks chains across pools) */
  releaseOne(h: number): void {
    this.owners[h & K.INDEX_MASK] = K.OWNER_IN_FLIGHT;
  }

  /** @internal one object of {@link adopt} */
  adoptOne(h: number): void {
    this.owners[h & K.INDEX_MASK] = this.tag;
  }

  /** The owner word of a handle: 0 free, 0xffffffff released, else a process tag. @internal for tests and mbuf */
  ownerOf(h: number): number {
    return Atomics.load(this.owners, h & K.INDEX_MASK);
  }

  /** This process's owner tag. */
  get ownerTag(): number {
    return this.tag;
  }

  /**
   * Return every object `deadTag` owns (held or cached) to the pool. Each goes back exactly once: the
   * owner word is swapped from the dead tag to free, and only the swap's winner enqueues it.
   * @internal called by the registry when a process died
   */
  reclaimTag(deadTag: number): number {
    return reclaimRaw(this.buffer, this.ring, deadTag);
  }

  // ---- objects --------------------------------------------------------------------------------------------

  /** Byte offset of a handle's object in {@link buffer} / {@link bytes}. */
  offsetOf(h: number): number {
    return this.objsOff + (h & K.INDEX_MASK) * this.stride;
  }

  /** Index in {@link words} of a handle's object (its first word). */
  wordOf(h: number): number {
    return (this.objsOff + (h & K.INDEX_MASK) * this.stride) >>> 2;
  }

  /**
   * The object of a handle as bytes (eltSize). Views are made once per object per thread and reused.
   *
   * @throws {MpError} EINVAL — not a handle of this pool
   */
  obj(h: number): Uint8Array {
    const i = h & K.INDEX_MASK;
    if (h >>> K.INDEX_BITS !== this.id || i >= this.n) throw this.notMine(h);
    const views = this.views ?? (this.views = new Array<Uint8Array | undefined>(this.n));
    return views[i] ?? (views[i] = new Uint8Array(this.buffer, this.objsOff + i * this.stride, this.eltSize));
  }

  /** @internal true when this instance's memzone is no longer the pool's (freed, maybe made again). */
  stale(): boolean {
    if (this.freed) return true;
    if (this.mz === undefined) return false;
    try {
      return memzone.find(MEMPOOL_MZ_PREFIX + this.name) !== this.mz;
    } catch {
      return true;
    }
  }

  /** Text like rte_mempool_dump. */
  dump(): string {
    const lines = [
      `mempool <${this.name}>@id ${this.id}`,
      `  flags=0x${this.flags.toString(16)} size=${this.n} elt_size=${this.eltSize} stride=${this.stride} private_data_size=${this.privSize}`,
      `  cache_size=${this.cacheSize} (this thread: ${this.csize}, ${this.cacheLen} cached) avail=${this.availCount} in_use=${this.inUseCount}`,
    ];
    for (const c of usedCacheSlots(this.words)) lines.push(`  cache ${c.slot}: owner tag 0x${c.tag.toString(16)} len ${c.len}`);
    return lines.join('\n');
  }

  // ---- internals ------------------------------------------------------------------------------------------

  private live(): void {
    if (this.freed) throw new MpError('EBADF', `mempool '${this.name}' was freed`);
  }

  private notMine(h: number): MpError {
    return new MpError('EINVAL', `handle 0x${(h >>> 0).toString(16)} is not an object of mempool '${this.name}' (id ${this.id}, ${this.n} objects)`);
  }

  /** Object i, not tagged as ours, goes into our cache: claim it unless it is already free. */
  private takeOver(i: number): boolean {
    const owners = this.owners;
    for (;;) {
      const o = owners[i]!;
      if (o === K.OWNER_FREE) return false;
      if (Atomics.compareExchange(owners, i, o, this.tag) === o) return true;
    }
  }

  /** Object i goes to the ring: mark it free unless it already is. */
  private toFree(i: number): boolean {
    const owners = this.owners;
    const o = owners[i]!;
    if (o === this.tag) {
      owners[i] = K.OWNER_FREE;
      return true;
    }
    if (o === K.OWNER_FREE) return false;
    return Atomics.compareExchange(owners, i, o, K.OWNER_FREE) === o;
  }

  /** Dequeue k handles from the ring into the cache; tag them ours. Returns k or 0. */
  private refill(k: number): number {
    const len = this.cacheLen;
    if (this.ringDeq(this.cache, len, k) === 0) return 0;
    const cache = this.cache;
    const owners = this.owners;
    const tag = this.tag;
    for (let j = len; j < len + k; j++) owners[cache[j]! & K.INDEX_MASK] = tag;
    this.cacheLen = len + k;
    this.words[this.cacheW] = len + k;
    return k;
  }

  /** Move the cache down to `keep` objects: the rest, marked free first, go to the ring. */
  private flushTo(keep: number): void {
    const len = this.cacheLen;
    if (len <= keep) return;
    const cache = this.cache;
    const owners = this.owners;
    for (let j = keep; j < len; j++) owners[cache[j]! & K.INDEX_MASK] = K.OWNER_FREE;
    // Publish the count first: between here and the enqueue, availCount may count these low, never twice.
    this.cacheLen = keep;
    this.words[this.cacheW] = keep;
    this.ringEnq(cache, keep, len - keep);
  }

  private ringDeq(dst: Uint32Array, offset: number, k: number): number {
    const o = this.ropts;
    o.offset = offset;
    try {
      return this.ring.dequeueBulk(dst, k, o);
    } catch (err) {
      return afterStale(this.ring, err, () => this.ring.dequeueBulk(dst, k, o));
    }
  }

  private ringEnq(src: Uint32Array, offset: number, k: number): void {
    ringEnq(this.ring, src, offset, k, this.ropts);
  }
}
