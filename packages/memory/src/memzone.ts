/**
 * The memzone table of a group's memory region (rte_memzone): named, fixed blocks of the segment files,
 * reserved and freed under the region's robust lock, found lock-free by a sequence-checked scan.
 */
import { fnv1a, fromUtf8, getU64, isPow2, readCString, roundUp, setU64, utf8, writeCString } from './bytes.js';
import { binding } from './binding.js';
import { MpError, fromSystemError } from './errors.js';
import { faultPoint } from './fault.js';
import {
  DEFAULT_MAX_MEMZONES,
  DEFAULT_MAX_SEGMENTS,
  HDR,
  HDR_W,
  MEMF_HUGETLB,
  MEMF_LEGACY,
  MEMF_SINGLE_FILE,
  MEMZONE_NAME_MAX,
  MEM_MAGIC,
  MEM_VERSION,
  MZ,
  MZ_W,
  MZ_FREE,
  MZ_FREEING,
  MZ_RESERVING,
  MZ_USED,
  wordIndex,
  memzoneTableOffset,
} from './layout.js';
import { RobustLock } from './lock.js';
import { log } from './log.js';
import {
  CACHE_LINE_SIZE,
  KNOWN_FLAGS,
  MEMZONE_SIZE_HINT_ONLY,
  PAGE_FLAGS,
  SOCKET_ID_ANY,
} from './memzone-types.js';
import type { Memzone, MemzoneDescriptor, MemzoneInfo, ReserveOptions } from './memzone-types.js';
import { validateName } from './names.js';
import { SEGMENT_CHUNK, Segments } from './segments.js';

/** Where a group's memory region lives: inside the shared config file, mapped by this process. */
export interface MemoryRegion {
  /** The config file, open read-write in this process (its OFD locks belong to this description). */
  fd: number;
  /** The whole config mapping. */
  buffer: ArrayBuffer;
  /** Byte offset of the memory region in `buffer`. */
  offset: number;
}

/** What a primary formats a fresh region with (chosen by @mp/eal from hugepage discovery and argv). */
export interface FormatOptions {
  prefix: string;
  /** Directory holding the segment files: a hugetlbfs mount or /dev/shm. */
  segDir: string;
  hugetlb: boolean;
  pageSize: number;
  capBytes: number;
  singleFileSegments: boolean;
  legacyMem: boolean;
  maxMemzones?: number;
  maxSegments?: number;
}


/**
 * The group's memory as seen by one process: the segment and memzone tables in the shared config
 * region, the segment files, and this process's mappings. Created by @mp/eal's `init()`.
 */
export class GroupMemory {
  private readonly u32: Uint32Array;
  private readonly i32: Int32Array;
  private readonly u8: Uint8Array;
  /** u32 index of the region start. */
  private readonly base: number;
  private readonly mzBase: number;
  /** {@link mzBase} as a Uint32Array index. */
  private readonly mzWord: number;
  /** The segment files this table's memzones live in. */
  private readonly segs: Segments;
  private readonly cache = new Map<string, { index: number; seq: number; mz: Memzone }>();

  private constructor(
    readonly region: MemoryRegion,
    private readonly lock: RobustLock,
  ) {
    this.u32 = new Uint32Array(region.buffer);
    this.i32 = new Int32Array(region.buffer);
    this.u8 = new Uint8Array(region.buffer);
    this.base = wordIndex(region.offset);
    this.mzBase = region.offset + memzoneTableOffset(this.maxSegments);
    this.mzWord = wordIndex(this.mzBase);
    this.segs = new Segments(this.u32, this.base, this);
    lock.onRepair((pid) => this.repair(pid));
  }

  /**
   * Write a fresh region (primary of a new group). The magic is written last.
   *
   * @throws {MpError} EINVAL — bad sizes; ENOSPC/ENOMEM — a legacy-mem preallocation did not fit
   */
  static format(region: MemoryRegion, lock: RobustLock, o: FormatOptions): GroupMemory {
    const u32 = new Uint32Array(region.buffer);
    const u8 = new Uint8Array(region.buffer);
    const b = wordIndex(region.offset);
    const maxMz = o.maxMemzones ?? DEFAULT_MAX_MEMZONES;
    const maxSeg = o.maxSegments ?? DEFAULT_MAX_SEGMENTS;
    u8.fill(0, region.offset, region.offset + memzoneTableOffset(maxSeg) + MZ.size * maxMz);
    const flags = (o.hugetlb ? MEMF_HUGETLB : 0) | (o.singleFileSegments ? MEMF_SINGLE_FILE : 0) | (o.legacyMem ? MEMF_LEGACY : 0);
    new Uint16Array(region.buffer)[(region.offset + HDR.version) / 2] = MEM_VERSION;
    new Uint16Array(region.buffer)[(region.offset + HDR.flags) / 2] = flags;
    u32[b + HDR_W.pageSize] = o.pageSize;
    setU64(u32, b + HDR_W.capBytes, o.capBytes);
    u32[b + HDR_W.maxMemzones] = maxMz;
    u32[b + HDR_W.maxSegments] = maxSeg;
    writeCString(u8, region.offset + HDR.segDir, HDR.segDirSize, o.segDir);
    writeCString(u8, region.offset + HDR.prefix, HDR.prefixSize, o.prefix);
    const mem = new GroupMemory(region, lock);
    if (o.singleFileSegments || o.legacyMem) {
      lock.withLock(() => {
        const seg = mem.segs.create(roundUp(o.capBytes, o.pageSize));
        if (o.legacyMem) mem.segs.fallocate(seg, 0, mem.segs.bytes(seg));
      });
    }
    // SYNC: the magic goes last, so nobody treats a half-formatted region as valid.
    Atomics.store(u32, b + HDR_W.magic, MEM_MAGIC);
    return mem;
  }

  /**
   * Attach to an existing region (secondary, or a primary adopting a group).
   *
   * @throws {MpError} EPROTO — not a memory region, or written by another layout version
   */
  static open(region: MemoryRegion, lock: RobustLock): GroupMemory {
    const u32 = new Uint32Array(region.buffer);
    const magic = Atomics.load(u32, wordIndex(region.offset) + HDR_W.magic);
    const version = new Uint16Array(region.buffer)[(region.offset + HDR.version) / 2];
    if (magic !== MEM_MAGIC) {
      throw new MpError('EPROTO', `memory region has magic 0x${magic.toString(16)}, expected 0x${MEM_MAGIC.toString(16)}`);
    }
    if (version !== MEM_VERSION) {
      throw new MpError('EPROTO', `memory region layout version ${version}, this @mp/memory speaks version ${MEM_VERSION}`);
    }
    return new GroupMemory(region, lock);
  }

  get flags(): number {
    return new Uint16Array(this.region.buffer)[(this.region.offset + HDR.flags) / 2]!;
  }
  get hugetlb(): boolean {
    return (this.flags & MEMF_HUGETLB) !== 0;
  }
  get singleFileSegments(): boolean {
    return (this.flags & MEMF_SINGLE_FILE) !== 0;
  }
  get legacyMem(): boolean {
    return (this.flags & MEMF_LEGACY) !== 0;
  }
  get pageSize(): number {
    return this.u32[this.base + HDR_W.pageSize]!;
  }
  get capBytes(): number {
    return getU64(this.u32, this.base + HDR_W.capBytes);
  }
  get reservedBytes(): number {
    return getU64(this.u32, this.base + HDR_W.reservedBytes);
  }
  get maxMemzones(): number {
    return this.u32[this.base + HDR_W.maxMemzones]!;
  }
  get maxSegments(): number {
    return this.u32[this.base + HDR_W.maxSegments]!;
  }
  get segDir(): string {
    return readCString(this.u8, this.region.offset + HDR.segDir, HDR.segDirSize);
  }
  get prefix(): string {
    return readCString(this.u8, this.region.offset + HDR.prefix, HDR.prefixSize);
  }
  private get highWater(): number {
    return Atomics.load(this.u32, this.base + HDR_W.mzHighWater);
  }

  /** A postMessage-able description of a memzone of this group (see {@link mapDescriptor}). */
  describe(mz: MemzoneInfo): MemzoneDescriptor {
    return { name: mz.name, path: this.segmentPath(mz.segment), offset: mz.offset, len: mz.len, pageSize: this.pageSize };
  }

  /**
   * A {@link RobustLock} whose owner word is `i32[index]` of memzone `mz`: the process-shared lock of a
   * structure that lives in a memzone (a table, a registry). Its liveness locks go on the segment's
   * descriptor this process already holds, so no file is opened per lock.
   */
  robustLock(mz: MemzoneInfo & { buffer: ArrayBuffer }, index: number): RobustLock {
    return new RobustLock(this.segs.fd(mz.segment), new Int32Array(mz.buffer), index);
  }

  /** Path of segment file i. */
  segmentPath(i: number): string {
    return this.segs.path(i);
  }

  // ---- memzones -------------------------------------------------------------------------------------

  /** @see reserve */
  reserve(name: string, len: number, opts: ReserveOptions = {}): Memzone {
    validateName('memzone', name, MEMZONE_NAME_MAX);
    if (!Number.isSafeInteger(len) || len < 0) throw new MpError('EINVAL', `memzone length must be an integer ≥ 0, got ${len}`);
    const align = opts.align ?? CACHE_LINE_SIZE;
    if (!isPow2(align)) throw new MpError('EINVAL', `memzone align ${align} is not a power of two`);
    const socket = opts.socket ?? SOCKET_ID_ANY;
    if (socket !== SOCKET_ID_ANY && socket !== 0) {
      throw new MpError('EINVAL', `socket ${socket} has no memory in this group (socket 0 or -1 for any)`);
    }
    const flags = opts.flags ?? 0;
    if (!Number.isInteger(flags) || (flags & ~KNOWN_FLAGS) !== 0) {
      throw new MpError('EINVAL', `unknown memzone flags 0x${(flags & ~KNOWN_FLAGS).toString(16)}`);
    }
    const wanted = PAGE_FLAGS.filter(([f]) => flags & f).map(([, sz]) => sz);
    if (wanted.length > 0 && !wanted.includes(this.pageSize) && !(flags & MEMZONE_SIZE_HINT_ONLY)) {
      throw new MpError(
        'ENOMEM',
        `memzone '${name}' asks for ${wanted.map((s) => `${s >> 10} KiB`).join('/')} pages; this group's memory uses ` +
          `${this.pageSize >> 10} KiB pages (add MEMZONE_SIZE_HINT_ONLY to accept them)`,
      );
    }
    const nameBytes = utf8(name);
    const hash = fnv1a(nameBytes);
    return this.lock.withLock(() => {
      if (this.findIndex(nameBytes, hash) >= 0) throw new MpError('EEXIST', `a memzone named '${name}' exists`);
      const slot = this.freeSlot();
      if (slot < 0) throw new MpError('ENOSPC', `no free memzone slot (${this.maxMemzones} in use)`);
      const place = this.place(len, align);
      if (place === undefined) {
        throw new MpError(
          'ENOMEM',
          `no room for memzone '${name}' of ${len} bytes aligned to ${align} (group cap ${this.capBytes} bytes, ` +
            `${this.reservedBytes} reserved; raise -m)`,
        );
      }
      const size = place.len;
      this.segs.fallocate(place.seg, place.offset, size);
      const e = this.mzBase + slot * MZ.size;
      const w = this.mzWord + slot * MZ_W.size;
      const seqIdx = w + MZ_W.seq;
      // SYNC: odd seq tells lock-free readers the entry is being rewritten.
      Atomics.add(this.u32, seqIdx, 1);
      Atomics.store(this.u32, w + MZ_W.state, MZ_RESERVING);
      this.u8.fill(0, e + MZ.name, e + MZ.name + MZ.nameSize);
      this.u8.set(nameBytes, e + MZ.name);
      this.u32[w + MZ_W.hash] = hash;
      this.u32[w + MZ_W.seg] = place.seg;
      setU64(this.u32, w + MZ_W.offset, place.offset);
      setU64(this.u32, w + MZ_W.len, size);
      this.i32[w + MZ_W.socket] = socket;
      this.u32[w + MZ_W.flags] = flags;
      this.u32[w + MZ_W.align] = align;
      this.u32[w + MZ_W.pid] = process.pid;
      if (slot >= this.highWater) Atomics.store(this.u32, this.base + HDR_W.mzHighWater, slot + 1);
      faultPoint('memzone-reserve');
      // SYNC: publish the entry (state, then even seq) after every field is written.
      Atomics.store(this.u32, w + MZ_W.state, MZ_USED);
      Atomics.add(this.u32, seqIdx, 1);
      setU64(this.u32, this.base + HDR_W.reservedBytes, this.reservedBytes + size);
      Atomics.add(this.u32, this.base + HDR_W.generation, 1);
      return this.materialize(slot, Atomics.load(this.u32, seqIdx), name);
    });
  }

  /** @see lookup */
  lookup(name: string): Memzone {
    const mz = this.find(name);
    if (mz === undefined) throw new MpError('ENOENT', `no memzone named '${name}'`);
    return mz;
  }

  /** @see find */
  find(name: string): Memzone | undefined {
    // Fast path: a memzone this process mapped before is still the same one while its entry's sequence
    // counter has not moved (every rewrite of an entry moves it), so one shared load answers.
    const hit = this.cache.get(name);
    if (hit !== undefined && Atomics.load(this.u32, this.mzWord + hit.index * MZ_W.size + MZ_W.seq) === hit.seq) return hit.mz;
    validateName('memzone', name, MEMZONE_NAME_MAX);
    const nameBytes = utf8(name);
    const hash = fnv1a(nameBytes);
    for (let attempt = 0; attempt < 100; attempt++) {
      const slot = this.findIndex(nameBytes, hash);
      if (slot < 0) return undefined;
      const w = this.mzWord + slot * MZ_W.size;
      const seq = Atomics.load(this.u32, w + MZ_W.seq);
      if (seq & 1) continue;
      const cached = this.cache.get(name);
      if (cached !== undefined && cached.index === slot && cached.seq === seq) return cached.mz;
      const mz = this.materialize(slot, seq, name);
      if (Atomics.load(this.u32, w + MZ_W.seq) === seq) return mz;
    }
    throw new MpError('EBUSY', `memzone table entry for '${name}' kept changing under the lookup`);
  }

  /** @see free */
  free(name: string): void {
    validateName('memzone', name, MEMZONE_NAME_MAX);
    const nameBytes = utf8(name);
    const hash = fnv1a(nameBytes);
    this.lock.withLock(() => {
      const slot = this.findIndex(nameBytes, hash);
      if (slot < 0) throw new MpError('ENOENT', `no memzone named '${name}'`);
      const w = this.mzWord + slot * MZ_W.size;
      const len = getU64(this.u32, w + MZ_W.len);
      Atomics.add(this.u32, w + MZ_W.seq, 1);
      Atomics.store(this.u32, w + MZ_W.state, MZ_FREEING);
      faultPoint('memzone-free');
      Atomics.store(this.u32, w + MZ_W.state, MZ_FREE);
      Atomics.add(this.u32, w + MZ_W.seq, 1);
      setU64(this.u32, this.base + HDR_W.reservedBytes, this.reservedBytes - len);
      Atomics.add(this.u32, this.base + HDR_W.generation, 1);
      this.cache.delete(name);
    });
  }

  /** @see list */
  list(): MemzoneInfo[] {
    const out: MemzoneInfo[] = [];
    const hw = this.highWater;
    for (let i = 0; i < hw; i++) {
      const e = this.mzBase + i * MZ.size;
      const w = this.mzWord + i * MZ_W.size;
      // A writer that died mid-update leaves an odd seq until the next lock holder repairs it: skip it.
      for (let attempt = 0; attempt < 1000; attempt++) {
        const seq = Atomics.load(this.u32, w + MZ_W.seq);
        if (seq & 1) continue;
        if (Atomics.load(this.u32, w + MZ_W.state) !== MZ_USED) break;
        const info = this.readInfo(e);
        if (Atomics.load(this.u32, w + MZ_W.seq) === seq) {
          out.push(info);
          break;
        }
      }
    }
    return out;
  }

  /** @see dump */
  dump(): string {
    const rows = this.list();
    const lines = [
      `memzones of group '${this.prefix}': ${rows.length} in use, ${this.reservedBytes} of ${this.capBytes} bytes reserved, ` +
        `${this.pageSize >> 10} KiB pages in ${this.segDir}`,
      'name                            segment  offset        len           socket  flags     reserved by',
    ];
    for (const r of rows) {
      lines.push(
        `${r.name.padEnd(32)}${String(r.segment).padEnd(9)}0x${r.offset.toString(16).padEnd(12)}${String(r.len).padEnd(14)}` +
          `${String(r.socketId).padEnd(8)}0x${r.flags.toString(16).padEnd(8)}${r.reservedBy}`,
      );
    }
    return lines.join('\n');
  }

  // ---- group lifecycle (used by @mp/eal) -------------------------------------------------------------

  /** Close this process's segment file descriptors (mappings stay valid until their buffers are collected). */
  close(): void {
    this.segs.close();
    this.cache.clear();
  }

  /**
   * Remove every segment file of the group (a primary or the last process ending the group, or a new
   * primary cleaning a dead one): only names of this group that are files of ours (safe file rules),
   * never a link's target or another user's file.
   */
  removeFiles(): void {
    this.segs.removeFiles();
  }

  /** Generation counter, bumped by every table change. */
  get generation(): number {
    return Atomics.load(this.u32, this.base + HDR_W.generation);
  }

  /**
   * Undo what a holder of the table lock left half-done when it died: entries caught mid-reserve are
   * released, mid-free are finished, odd sequence counters are closed, a half-created segment is removed,
   * and the byte count is recomputed from the table. Runs under the table lock.
   */
  repair(deadPid: number): void {
    let fixed = 0;
    const hw = this.highWater;
    for (let i = 0; i < hw; i++) {
      const w = this.mzWord + i * MZ_W.size;
      const state = this.u32[w + MZ_W.state];
      const seq = this.u32[w + MZ_W.seq]!;
      if (state === MZ_RESERVING || state === MZ_FREEING) {
        Atomics.store(this.u32, w + MZ_W.state, MZ_FREE);
        fixed++;
      }
      if (seq & 1) Atomics.store(this.u32, w + MZ_W.seq, seq + 1);
    }
    fixed += this.segs.repair();
    let total = 0;
    for (let i = 0; i < hw; i++) {
      const w = this.mzWord + i * MZ_W.size;
      if (this.u32[w + MZ_W.state] === MZ_USED) total += getU64(this.u32, w + MZ_W.len);
    }
    setU64(this.u32, this.base + HDR_W.reservedBytes, total);
    Atomics.add(this.u32, this.base + HDR_W.generation, 1);
    log('notice', 'MEM', `repaired the memzone table after pid ${deadPid} died holding its lock (${fixed} entries fixed)`);
  }

  // ---- internals -------------------------------------------------------------------------------------

  private readInfo(e: number): MemzoneInfo {
    const w = wordIndex(e);
    const nameEnd = this.u8.indexOf(0, e + MZ.name);
    return {
      name: fromUtf8(this.u8, e + MZ.name, Math.min(nameEnd, e + MZ.name + MZ.nameSize)),
      len: getU64(this.u32, w + MZ_W.len),
      segment: this.u32[w + MZ_W.seg]!,
      offset: getU64(this.u32, w + MZ_W.offset),
      socketId: this.i32[w + MZ_W.socket]!,
      flags: this.u32[w + MZ_W.flags]!,
      align: this.u32[w + MZ_W.align]!,
      hugepageSz: this.pageSize,
      reservedBy: this.u32[w + MZ_W.pid]!,
    };
  }

  private materialize(slot: number, seq: number, name: string): Memzone {
    const e = this.mzBase + slot * MZ.size;
    const info = this.readInfo(e);
    let buffer: ArrayBuffer;
    try {
      buffer = binding.view(this.segs.map(info.segment), info.offset, info.len);
    } catch (err) {
      throw fromSystemError(err, `mapping memzone '${name}'`);
    }
    const mz: Memzone = Object.freeze({ ...info, buffer });
    this.cache.set(name, { index: slot, seq, mz });
    return mz;
  }

  /** Scan the table for a used entry with this name (lock-free; callers re-check seq when it matters). */
  private findIndex(nameBytes: Uint8Array, hash: number): number {
    const hw = this.highWater;
    const u32 = this.u32;
    const stride = MZ_W.size;
    let h = this.mzWord + MZ_W.hash;
    let st = this.mzWord + MZ_W.state;
    for (let i = 0; i < hw; i++, h += stride, st += stride) {
      if (u32[h] !== hash || Atomics.load(u32, st) !== MZ_USED) continue;
      const n = this.mzBase + i * MZ.size + MZ.name;
      let same = this.u8[n + nameBytes.length] === 0;
      for (let k = 0; same && k < nameBytes.length; k++) same = this.u8[n + k] === nameBytes[k];
      if (same) return i;
    }
    return -1;
  }

  private freeSlot(): number {
    const max = this.maxMemzones;
    for (let i = 0; i < max; i++) {
      if (this.u32[this.mzWord + i * MZ_W.size + MZ_W.state] === MZ_FREE) return i;
    }
    return -1;
  }

  /** First fit over the used ranges of each segment; a new segment when none has room. */
  private place(len: number, align: number): { seg: number; offset: number; len: number } | undefined {
    const used = new Map<number, Array<[number, number]>>();
    const hw = this.highWater;
    for (let i = 0; i < hw; i++) {
      const w = this.mzWord + i * MZ_W.size;
      const st = this.u32[w + MZ_W.state];
      if (st !== MZ_USED && st !== MZ_RESERVING) continue;
      const seg = this.u32[w + MZ_W.seg]!;
      const off = getU64(this.u32, w + MZ_W.offset);
      const l = getU64(this.u32, w + MZ_W.len);
      let arr = used.get(seg);
      if (arr === undefined) used.set(seg, (arr = []));
      arr.push([off, off + Math.max(l, 1)]);
    }
    let best: { seg: number; offset: number; len: number } | undefined;
    for (let s = 0; s < this.maxSegments; s++) {
      if (!this.segs.ready(s)) continue;
      const size = this.segs.bytes(s);
      const ranges = (used.get(s) ?? []).sort((a, b) => a[0] - b[0]);
      let cursor = 0;
      for (const [start, end] of [...ranges, [size, size] as [number, number]]) {
        const at = roundUp(cursor, align);
        const room = start - at;
        if (len > 0 && room >= len) return { seg: s, offset: at, len };
        if (len === 0 && room > 0 && (best === undefined || room > best.len)) best = { seg: s, offset: at, len: room };
        cursor = Math.max(cursor, end);
      }
    }
    if (len === 0 && best !== undefined) return best;
    if (this.singleFileSegments || this.legacyMem) return undefined;
    // A new segment file, if the -m cap leaves room.
    const total = this.segs.totalBytes();
    const left = Math.floor((this.capBytes - total) / this.pageSize) * this.pageSize;
    const need = len === 0 ? left : roundUp(len, this.pageSize);
    if (need <= 0 || need > left) return undefined;
    const size = len === 0 ? left : Math.min(left, Math.max(need, SEGMENT_CHUNK));
    const seg = this.segs.create(size);
    if (seg < 0) return undefined;
    return { seg, offset: 0, len: len === 0 ? size : len };
  }


}

