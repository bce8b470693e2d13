/**
 * The process's attached group (kept in the process-wide slot, state.ts, so every copy of this package
 * sees it) and the rte_memzone_* functions over it; `mapDescriptor` for worker threads, which attach to
 * nothing.
 */
import { closeSync } from 'node:fs';
import { binding } from './binding.js';
import { MpError, fromSystemError } from './errors.js';
import { openOwnedFile } from './files.js';
import type { RobustLock } from './lock.js';
import { isPow2, roundUp } from './bytes.js';
import type { GroupMemory } from './memzone.js';
import type { Memzone, MemzoneDescriptor, MemzoneInfo, ReserveOptions } from './memzone-types.js';
import { memoryState } from './state.js';

/** Make `mem` the group the module-level functions use. Called by @mp/eal's `init()`. */
export function attachMemory(mem: GroupMemory): void {
  memoryState.group = mem;
}
/** Forget the attached group (called by @mp/eal's `cleanup()`). */
export function detachMemory(): void {
  memoryState.group?.close();
  memoryState.group = undefined;
}
/**
 * The attached group's memory.
 *
 * @throws {MpError} ENOTCONN — `init()` from @mp/eal has not run in this process
 */
export function groupMemory(): GroupMemory {
  const current = memoryState.group;
  if (current === undefined) throw new MpError('ENOTCONN', 'no process group attached: call init() from @mp/eal first');
  return current;
}

/**
 * Reserve a named block of shared memory, visible to every process of the group (rte_memzone_reserve).
 * `len` 0 reserves the largest free block.
 *
 * @throws {MpError} EINVAL — bad length, align (not a power of two), socket or flags
 * @throws {MpError} ENAMETOOLONG — name longer than 31 bytes
 * @throws {MpError} EEXIST — a memzone of that name exists
 * @throws {MpError} ENOSPC — the memzone table is full
 * @throws {MpError} ENOMEM — no room under the group's `-m` cap, or the backing memory is exhausted
 * @throws {MpError} ENOTCONN — no group attached
 * @see rte_memzone_reserve_aligned
 */
export function reserve(name: string, len: number, opts?: ReserveOptions): Memzone {
  return groupMemory().reserve(name, len, opts);
}
/**
 * The memzone named `name` (rte_memzone_lookup). Lock-free. Like `Ring.lookup` and `Hash.findExisting`,
 * a missing one is an error; {@link find} is the form that returns undefined.
 *
 * @throws {MpError} ENOENT — no memzone of that name; EINVAL / ENAMETOOLONG — bad name; ENOTCONN — no
 *   group attached; EBUSY — the entry kept changing under the read (100 tries)
 * @see rte_memzone_lookup
 */
export function lookup(name: string): Memzone {
  return groupMemory().lookup(name);
}
/**
 * The memzone named `name`, or undefined when there is none (rte_memzone_lookup's NULL). Lock-free.
 *
 * @throws {MpError} EINVAL / ENAMETOOLONG — bad name; ENOTCONN — no group attached; EBUSY — the entry
 *   kept changing under the read (100 tries)
 */
export function find(name: string): Memzone | undefined {
  return groupMemory().find(name);
}
/**
 * Free a memzone (rte_memzone_free). Its bytes may be handed to a later reserve; buffers already
 * mapped stay valid but must not be used.
 *
 * @throws {MpError} ENOENT — no memzone of that name; EINVAL / ENAMETOOLONG — bad name; ENOTCONN
 * @see rte_memzone_free
 */
export function free(name: string): void {
  groupMemory().free(name);
}
/**
 * Every memzone of the group.
 *
 * @throws {MpError} ENOTCONN — no group attached
 * @see rte_memzone_walk
 */
export function list(): MemzoneInfo[] {
  return groupMemory().list();
}
/**
 * A printable table of the group's memzones (rte_memzone_dump).
 *
 * @throws {MpError} ENOTCONN — no group attached
 */
export function dump(): string {
  return groupMemory().dump();
}

/**
 * Map the bytes a {@link MemzoneDescriptor} names, in any thread, with no group attached: how a worker
 * thread reaches a ring or table that its process's group holds.
 *
 * @throws {MpError} ENOENT — the segment file is gone (the group ended); EINVAL — a malformed descriptor;
 *   EPERM — the path is a link or a file that is not this uid's (safe file rules)
 */
export function mapDescriptor(d: MemzoneDescriptor): ArrayBuffer {
  if (!d || typeof d.path !== 'string' || !Number.isSafeInteger(d.offset) || !Number.isSafeInteger(d.len) || !isPow2(d.pageSize)) {
    throw new MpError('EINVAL', 'not a memzone descriptor (make one with memzone.describe())');
  }
  const fd = openOwnedFile(d.path).fd;
  try {
    const mapStart = Math.floor(d.offset / d.pageSize) * d.pageSize;
    const delta = d.offset - mapStart;
    return binding.map(fd, mapStart, Math.max(d.pageSize, roundUp(delta + d.len, d.pageSize)), delta, d.len);
  } catch (err) {
    throw fromSystemError(err, `mapping memzone '${d.name}'`);
  } finally {
    closeSync(fd);
  }
}

/**
 * Describe a memzone of the attached group for {@link mapDescriptor} in another thread.
 *
 * @throws {MpError} ENOTCONN — no group attached
 */
export function describe(mz: MemzoneInfo): MemzoneDescriptor {
  return groupMemory().describe(mz);
}

/**
 * A process-shared lock that survives its holder's death, its owner word being `i32[index]` of memzone
 * `mz` (see {@link RobustLock}): what a table kept in a memzone locks with.
 *
 * @throws {MpError} ENOTCONN — no group attached; EINVAL — index outside the memzone
 */
export function robustLock(mz: Memzone, index: number): RobustLock {
  if (!Number.isInteger(index) || index < 0 || index * 4 + 4 > mz.len) throw new MpError('EINVAL', `lock word ${index} is outside memzone '${mz.name}' (${mz.len} bytes)`);
  return groupMemory().robustLock(mz, index);
}

