import { closeSync, fstatSync, ftruncateSync, openSync, constants as fsc } from 'node:fs';
import { binding } from './binding.js';
import { MpError, fromSystemError } from './errors.js';

/** System page size. */
export const pageSize: number = binding.pageSize;

/** A whole file mapped MAP_SHARED into this process. */
export interface MappedFile {
  readonly path: string;
  /** Open read-write (libuv adds O_CLOEXEC); the OFD locks this process takes on the file belong to it. */
  readonly fd: number;
  readonly buffer: ArrayBuffer;
  /** Close the descriptor (dropping its OFD locks). The mapping lives until `buffer` is collected. */
  close(): void;
}

/**
 * Open (optionally create, mode 0600) and map a whole file of `size` bytes.
 *
 * @throws {MpError} EEXIST — `exclusive` and the file exists; ENOENT — missing and not `create`;
 *   EPERM — no access; EINVAL — size not positive
 */
export function mapFile(path: string, o: { size: number; create?: boolean; exclusive?: boolean; mode?: number }): MappedFile {
  if (!Number.isSafeInteger(o.size) || o.size <= 0) throw new MpError('EINVAL', `mapFile size must be > 0, got ${o.size}`);
  let flags = fsc.O_RDWR;
  if (o.create) flags |= fsc.O_CREAT;
  if (o.exclusive) flags |= fsc.O_EXCL;
  let fd: number;
  try {
    fd = openSync(path, flags, o.mode ?? 0o600);
  } catch (err) {
    throw fromSystemError(err, `opening ${path}`);
  }
  try {
    if (fstatSync(fd).size < o.size) ftruncateSync(fd, o.size);
    const buffer = binding.map(fd, 0, o.size, 0, o.size);
    let open = true;
    return {
      path,
      fd,
      buffer,
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

/**
 * Take (`'r'`/`'w'`) or drop (`'u'`) an OFD record lock on `[start, start+len)` of an open file. The
 * kernel drops it when the last descriptor of this open file description closes — on any death.
 * Returns false when `wait` is false and another description holds a conflicting lock.
 */
export function ofdLock(fd: number, start: number, len: number, type: 'r' | 'w' | 'u', wait = false): boolean {
  return binding.ofdLock(fd, start, len, type, wait);
}

/** True when another open file description holds a lock conflicting with `type` on the range. */
export function ofdTest(fd: number, start: number, len: number, type: 'r' | 'w' = 'w'): boolean {
  return binding.ofdTest(fd, start, len, type);
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
