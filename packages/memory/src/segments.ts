/**
 * The segment files of a group's memory: `<segDir>/<prefix>map_<i>`, listed in the segment table of the
 * memory region (layout.ts, SEG_W), created on demand under the table lock, opened and mapped once per
 * process, and marked in use by a read lock on their in-use byte (dropped by the kernel when the process
 * dies, so a leftover file is told from a live group's).
 */
import { closeSync, ftruncateSync } from 'node:fs';
import { join } from 'node:path';
import { binding } from './binding.js';
import type { SegmentHandle } from './binding.js';
import { getU64, setU64 } from './bytes.js';
import { MpError, fromSystemError } from './errors.js';
import { faultPoint } from './fault.js';
import { lstatOwned, openOwnedFile, removeOwned } from './files.js';
import { HDR_W, SEG_CREATING, SEG_FREE, SEG_LIVE_LOCK, SEG_READY, SEG_W } from './layout.js';
import { log } from './log.js';

/** Size of a segment file created on demand (when `--single-file-segments` is off). */
export const SEGMENT_CHUNK = 64 << 20;

/** What the segments need to know of the region header they are listed in. */
export interface SegmentGeometry {
  readonly segDir: string;
  readonly prefix: string;
  readonly pageSize: number;
  readonly hugetlb: boolean;
  readonly maxSegments: number;
}

/** This process's view of the segment table: its descriptors and mappings of the files. */
export class Segments {
  private readonly fds = new Map<number, number>();
  private readonly maps = new Map<number, SegmentHandle>();

  /** `base` is the u32 index of the region start in `u32` (the segment table is at HDR_W.segTable). */
  constructor(
    private readonly u32: Uint32Array,
    private readonly base: number,
    private readonly g: SegmentGeometry,
  ) {}

  private word(seg: number): number {
    return this.base + HDR_W.segTable + seg * SEG_W.size;
  }

  /** Path of segment file `seg`. */
  path(seg: number): string {
    return join(this.g.segDir, `${this.g.prefix}map_${seg}`);
  }

  /** Whether segment `seg` is created and sized. */
  ready(seg: number): boolean {
    return this.u32[this.word(seg) + SEG_W.state] === SEG_READY;
  }

  /** Size in bytes of segment `seg` (as recorded in the table). */
  bytes(seg: number): number {
    return getU64(this.u32, this.word(seg) + SEG_W.bytes);
  }

  /** Total bytes of the ready segments. */
  totalBytes(): number {
    let total = 0;
    for (let s = 0; s < this.g.maxSegments; s++) if (this.ready(s)) total += this.bytes(s);
    return total;
  }

  /**
   * This process's descriptor of segment `seg`, opened (and marked in use) on first use.
   *
   * @throws {MpError} EPERM — a link or a file not ours has the segment's name (safe file rules)
   */
  fd(seg: number): number {
    let fd = this.fds.get(seg);
    if (fd === undefined) {
      // Safe file rules: a link or a file not ours is refused (EPERM) — a foreign group's memory is never used.
      fd = openOwnedFile(this.path(seg)).fd;
      try {
        markInUse(fd, this.path(seg));
      } catch (err) {
        closeSync(fd);
        throw err;
      }
      this.fds.set(seg, fd);
    }
    return fd;
  }

  /** This process's mapping of a whole segment (made on first use; views of it cost no system call). */
  map(seg: number): SegmentHandle {
    let m = this.maps.get(seg);
    if (m === undefined) {
      m = binding.mapSegment(this.fd(seg), this.bytes(seg));
      this.maps.set(seg, m);
    }
    return m;
  }

  /**
   * Back `[offset, offset + len)` of segment `seg` with pages now (whole pages), so a reservation that the
   * memory cannot hold fails here rather than as a SIGBUS on first touch.
   *
   * @throws {MpError} ENOMEM — the hugepages or /dev/shm ran out
   */
  fallocate(seg: number, offset: number, len: number): void {
    if (len === 0) return;
    const ps = this.g.pageSize;
    const start = Math.floor(offset / ps) * ps;
    const end = Math.ceil((offset + len) / ps) * ps;
    try {
      binding.fallocate(this.fd(seg), start, end - start);
    } catch (err) {
      const e = fromSystemError(err, `reserving ${end - start} bytes of ${this.g.hugetlb ? 'hugepage' : '/dev/shm'} memory`);
      throw new MpError(e.code === 'ENOSPC' ? 'ENOMEM' : e.code, e.message.replace(/^\w+: /, ''), { cause: err, syscall: 'fallocate' });
    }
  }

  /**
   * Create segment file `<prefix>map_<i>` of `size` bytes in the first free slot; -1 when every slot is
   * taken. Under the table lock.
   *
   * @throws {MpError} EPERM / EBUSY — see {@link createSegmentFile}
   */
  create(size: number): number {
    let s = 0;
    while (s < this.g.maxSegments && this.u32[this.word(s) + SEG_W.state] !== SEG_FREE) s++;
    if (s === this.g.maxSegments) return -1;
    const w = this.word(s);
    this.u32[w + SEG_W.state] = SEG_CREATING;
    setU64(this.u32, w + SEG_W.bytes, size);
    const path = this.path(s);
    let fd: number;
    try {
      fd = createSegmentFile(path);
    } catch (err) {
      this.u32[w + SEG_W.state] = SEG_FREE;
      throw err instanceof MpError ? err : fromSystemError(err, `creating segment file ${path}`);
    }
    try {
      markInUse(fd, path);
      ftruncateSync(fd, size);
    } catch (err) {
      closeSync(fd);
      this.u32[w + SEG_W.state] = SEG_FREE;
      removeOwned(path, 'file');
      throw err instanceof MpError ? err : fromSystemError(err, `creating segment file ${path}`);
    }
    const old = this.fds.get(s);
    if (old !== undefined) closeSync(old);
    this.fds.set(s, fd);
    faultPoint('segment-create');
    this.u32[w + SEG_W.state] = SEG_READY;
    this.u32[this.base + HDR_W.segCount] = this.u32[this.base + HDR_W.segCount]! + 1;
    return s;
  }

  /** Remove the files of segments a dead lock holder left half-created; returns how many. Under the lock. */
  repair(): number {
    let fixed = 0;
    for (let s = 0; s < this.g.maxSegments; s++) {
      const w = this.word(s);
      if (this.u32[w + SEG_W.state] === SEG_CREATING) {
        removeOwned(this.path(s), 'file');
        this.u32[w + SEG_W.state] = SEG_FREE;
        fixed++;
      }
    }
    return fixed;
  }

  /** Close this process's descriptors (mappings stay valid until their buffers are collected). */
  close(): void {
    for (const fd of this.fds.values()) closeSync(fd);
    this.fds.clear();
    this.maps.clear();
  }

  /** Remove every segment file of the group: only files of ours (safe file rules), never a link's target. */
  removeFiles(): void {
    for (let i = 0; i < this.g.maxSegments; i++) {
      const r = removeOwned(this.path(i), 'file');
      if (r.why !== undefined) log('warning', 'MEM', `left ${r.why}`);
    }
  }
}

/** Read-lock a segment's in-use byte on `fd` (dropped by the kernel when the process dies). */
function markInUse(fd: number, path: string): void {
  try {
    binding.ofdLock(fd, SEG_LIVE_LOCK, 1, 'r', false);
  } catch (err) {
    throw fromSystemError(err, `locking segment file ${path}`);
  }
}

/**
 * Create a segment file with O_CREAT|O_EXCL|O_NOFOLLOW, mode 0600. A file already there is removed and
 * the create retried only when it is proven a leftover of ours: a regular file of this uid with mode ≤
 * 0600 (safe file rules) that no live process has open (its in-use byte is unlocked).
 *
 * @throws {MpError} EPERM — a link or a file that is not ours is in the way (named with its owner)
 * @throws {MpError} EBUSY — a live process uses a file of that name (another group with this prefix)
 */
function createSegmentFile(path: string): number {
  for (let attempt = 0; ; attempt++) {
    try {
      return openOwnedFile(path, { create: 'exclusive' }).fd;
    } catch (err) {
      if (!(err instanceof MpError) || err.code !== 'EEXIST' || attempt > 0) throw err;
    }
    lstatOwned(path, 'file'); // EPERM for a link or a file not ours
    const old = openOwnedFile(path).fd;
    try {
      if (binding.ofdTest(old, SEG_LIVE_LOCK, 1, 'w')) {
        throw new MpError('EBUSY', `segment file ${path} is in use by live processes (another group with the same --file-prefix in another runtime dir?)`);
      }
    } finally {
      closeSync(old);
    }
    removeOwned(path, 'file');
    log('notice', 'MEM', `removed the leftover segment file ${path} of a dead group`);
  }
}
