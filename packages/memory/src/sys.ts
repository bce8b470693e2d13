import { closeSync, fstatSync, ftruncateSync } from 'node:fs';
import { binding } from './binding.js';
import { MpError, fromSystemError } from './errors.js';
import { openOwnedFile } from './files.js';

/** System page size. */
export const pageSize: number = binding.pageSize;

/** A whole file mapped MAP_SHARED into this process. */
export interface MappedFile {
  readonly path: string;
  /** Open read-write with O_CLOEXEC; the OFD locks this process takes on the file belong to it. */
  readonly fd: number;
  readonly buffer: ArrayBuffer;
  /** True when this call created the file. */
  readonly created: boolean;
  /** Close the descriptor (dropping its OFD locks). The mapping lives until `buffer` is collected. */
  close(): void;
}

/**
 * Open (optionally create, mode 0600) and map a whole file of `size` bytes (at least; a shorter file is
 * extended). Follows the safe file rules ({@link openOwnedFile}): never through a link; an existing file
 * must be a regular file of this uid with mode ≤ 0600.
 *
 * @throws {MpError} EEXIST — `exclusive` and the name exists; ENOENT — missing and not `create`;
 *   EPERM — a link, a file of another uid or with group/other permissions, no access;
 *   EINVAL — size not a positive integer
 */
export function mapFile(path: string, o: { size: number; create?: boolean; exclusive?: boolean }): MappedFile {
  if (!Number.isSafeInteger(o.size) || o.size <= 0) throw new MpError('EINVAL', `mapFile size must be > 0, got ${o.size}`);
  const { fd, created } = openOwnedFile(path, { create: o.exclusive ? 'exclusive' : o.create === true });
  try {
    if (fstatSync(fd).size < o.size) ftruncateSync(fd, o.size);
    const buffer = binding.map(fd, 0, o.size, 0, o.size);
    let open = true;
    return {
      path,
      fd,
      buffer,
      created,
      close() {
        if (open) closeSync(fd);
        open = false;
      },
    };
  } catch (err) {
    closeSync(fd);
    throw fromSystemError(err, `mapping ${path}`);
  }
}

const LOCK_TYPES = new Set(['r', 'w', 'u']);
function checkLockArgs(fd: number, start: number, len: number, type: string, fn: string): void {
  if (!Number.isInteger(fd) || fd < 0) throw new MpError('EBADF', `${fn}: fd must be an open descriptor (a non-negative integer), got ${fd}`);
  if (!Number.isSafeInteger(start) || start < 0 || !Number.isSafeInteger(len) || len < 0) {
    throw new MpError('EINVAL', `${fn}: start and len must be non-negative safe integers, got ${start}, ${len}`);
  }
  if (!LOCK_TYPES.has(type) || (fn === 'ofdTest' && type === 'u')) throw new MpError('EINVAL', `${fn}: lock type must be ${fn === 'ofdTest' ? "'r' or 'w'" : "'r', 'w' or 'u'"}, got ${JSON.stringify(type)}`);
}

/**
 * Take (`'r'`/`'w'`) or drop (`'u'`) an OFD record lock on `[start, start+len)` of an open file. The
 * kernel drops it when the last descriptor of this open file description closes — on any death.
 * Returns false when `wait` is false and another description holds a conflicting lock.
 *
 * @throws {MpError} EBADF — `fd` is not an open descriptor; EINVAL — bad range or type;
 *   ENOLCK-class failures as EIO
 */
export function ofdLock(fd: number, start: number, len: number, type: 'r' | 'w' | 'u', wait = false): boolean {
  checkLockArgs(fd, start, len, type, 'ofdLock');
  try {
    return binding.ofdLock(fd, start, len, type, wait);
  } catch (err) {
    throw fromSystemError(err, `ofdLock(${fd}, ${start}, ${len}, '${type}')`);
  }
}

/**
 * True when another open file description holds a lock conflicting with `type` on the range.
 *
 * @throws {MpError} EBADF — `fd` is not an open descriptor; EINVAL — bad range or type
 */
export function ofdTest(fd: number, start: number, len: number, type: 'r' | 'w' = 'w'): boolean {
  checkLockArgs(fd, start, len, type, 'ofdTest');
  try {
    return binding.ofdTest(fd, start, len, type);
  } catch (err) {
    throw fromSystemError(err, `ofdTest(${fd}, ${start}, ${len}, '${type}')`);
  }
}

/**
 * Call `onExit` once, from the event loop, when process `pid` exits (pidfd_open + poll). The watch does
 * not keep the event loop alive unless `ref` is true.
 *
 * @throws {MpError} ENOENT — no such process (ESRCH)
 */
export function watchPid(pid: number, onExit: () => void, ref = false): { close(): void } {
  try {
    return binding.pidWatch(pid, onExit, ref);
  } catch (err) {
    if ((err as { code?: string }).code === 'ESRCH') throw new MpError('ENOENT', `no process ${pid}`, { cause: err, syscall: 'pidfd_open' });
    throw fromSystemError(err, `watching pid ${pid}`);
  }
}

/**
 * Call `onTick` every `ms` milliseconds until `close()`: a timerfd watched by libuv (the addon's
 * intervalWatch), not a Node timer — a process's first Node timer costs ≈ 0.8 ms of CPU to set up, which a
 * secondary's attach paid for @mp/eal's process-table watch (packages/eal/README.md, "Attach time").
 * `ref` (default false): whether it keeps the event loop alive. What `onTick` throws is an uncaught
 * exception, as from a timer.
 *
 * @throws {MpError} EINVAL — ms is not a whole number of at least 1; EIO (or the errno) — no timerfd
 */
export function watchInterval(ms: number, onTick: () => void, ref = false): { close(): void } {
  if (!Number.isInteger(ms) || ms < 1 || ms > 0xffffffff) throw new MpError('EINVAL', `interval ${ms} ms: a whole number of at least 1 expected`);
  try {
    return binding.intervalWatch(ms, onTick, ref);
  } catch (err) {
    throw fromSystemError(err, 'starting an interval timer');
  }
}
