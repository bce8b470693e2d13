/**
 * The safe file rules (DESIGN §5): every file and directory a group creates, opens, trusts or deletes goes
 * through here.
 *
 * - Files are created with O_CREAT|O_EXCL|O_NOFOLLOW and mode 0600; existing ones are opened with
 *   O_NOFOLLOW and checked with fstat on the open descriptor: a regular file, owned by this process's
 *   effective uid, no group or other permission bits.
 * - Directories are created 0700 one component at a time; an existing component is checked with lstat:
 *   not a link, a directory, owned by this uid, not group- or world-writable.
 * - A name is removed only after lstat shows it is what we would have made (owned by us, the expected
 *   kind), never recursively, and a directory only with rmdir.
 *
 * Anything else is refused with `EPERM` naming the path and its owner. This machine class runs with
 * `fs.protected_symlinks=0` and `fs.protected_regular=0`, so the kernel gives no help in sticky
 * directories such as /dev/shm and /tmp: the checks here are the only protection.
 *
 * Node offers no openat(), so a directory chain is checked by path. That is sound because every checked
 * component belongs to us and nobody else can write into it: nobody else can swap a later component.
 */
import { closeSync, fchmodSync, fstatSync, lstatSync, mkdirSync, openSync, rmdirSync, unlinkSync, constants as fsc } from 'node:fs';
import type { Stats } from 'node:fs';
import { dirname } from 'node:path';
import { MpError, fromSystemError } from './errors.js';

/** What a checked name must be. */
export type FileKind = 'file' | 'dir' | 'socket';

/** This process's effective uid: the owner every file of its groups must have. */
export function euid(): number {
  return process.geteuid?.() ?? 0;
}

const KIND_TEST: Record<FileKind, (st: Stats) => boolean> = {
  file: (st) => st.isFile(),
  dir: (st) => st.isDirectory(),
  socket: (st) => st.isSocket(),
};

function kindOf(st: Stats): string {
  if (st.isSymbolicLink()) return 'a symbolic link';
  if (st.isDirectory()) return 'a directory';
  if (st.isFile()) return 'a regular file';
  if (st.isSocket()) return 'a socket';
  return 'a special file';
}

function refuse(path: string, why: string, cause?: unknown): MpError {
  return new MpError('EPERM', `refusing ${path}: ${why}`, cause === undefined ? {} : { cause });
}

/**
 * Why `st` (of `path`) is not a `kind` of ours, or undefined when it is. `forbiddenMode` holds the
 * permission bits that must be clear (files: any group/other bit; directories: group/other write).
 */
function problem(st: Stats, kind: FileKind, forbiddenMode: number): string | undefined {
  if (!KIND_TEST[kind](st)) {
    return `it is ${kindOf(st)} owned by uid ${st.uid}, not ${kind === 'dir' ? 'a directory' : kind === 'file' ? 'a regular file' : 'a socket'}${st.isSymbolicLink() ? ' (links are never followed)' : ''}`;
  }
  const me = euid();
  if (st.uid !== me) return `it belongs to uid ${st.uid}, not to this process's uid ${me} (planted by another user?)`;
  const bad = st.mode & forbiddenMode;
  if (bad !== 0) return `its mode ${(st.mode & 0o7777).toString(8).padStart(4, '0')} lets other users in (allowed: at most ${kind === 'dir' ? '0755 without group/other write' : '0600'})`;
  return undefined;
}

/**
 * Check an open descriptor of `path`: a regular file owned by this uid with no group/other bits. Returns
 * its fstat.
 *
 * @throws {MpError} EPERM — anything else (the message names the path, what it is and its owner)
 */
export function checkOwnedFd(fd: number, path: string): Stats {
  let st: Stats;
  try {
    st = fstatSync(fd);
  } catch (err) {
    throw fromSystemError(err, `fstat of ${path}`);
  }
  const why = problem(st, 'file', 0o077);
  if (why !== undefined) throw refuse(path, why);
  return st;
}

/** Result of {@link openOwnedFile}. */
export interface OwnedFile {
  fd: number;
  /** True when this call created the file (O_EXCL succeeded). */
  created: boolean;
}

/**
 * Open a file of the group read-write, never following a link at its last component.
 *
 * - `create: 'exclusive'`: O_CREAT|O_EXCL — the name must not exist.
 * - `create: true`: create it exclusively if missing, else open the existing one (checked).
 * - `create: false` (default): it must exist (checked).
 *
 * An existing file must be a regular file owned by this uid with mode ≤ 0600.
 *
 * @throws {MpError} EPERM — a link, a foreign or over-permissive file, or no access (EACCES)
 * @throws {MpError} EEXIST — `create: 'exclusive'` and the name exists
 * @throws {MpError} ENOENT — missing and not to be created
 */
export function openOwnedFile(path: string, o: { create?: boolean | 'exclusive' } = {}): OwnedFile {
  const base = fsc.O_RDWR | fsc.O_NOFOLLOW;
  if (o.create) {
    try {
      return { fd: openSync(path, base | fsc.O_CREAT | fsc.O_EXCL, 0o600), created: true };
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code !== 'EEXIST' || o.create === 'exclusive') throw openError(err, path);
    }
  }
  let fd: number;
  try {
    fd = openSync(path, base);
  } catch (err) {
    throw openError(err, path);
  }
  try {
    checkOwnedFd(fd, path);
  } catch (err) {
    closeSync(fd);
    throw err;
  }
  return { fd, created: false };
}

function openError(err: unknown, path: string): MpError {
  const code = (err as { code?: string }).code;
  if (code === 'ELOOP') {
    let owner = '';
    try {
      owner = ` owned by uid ${lstatSync(path).uid}`;
    } catch {
      // gone again
    }
    return refuse(path, `it is a symbolic link${owner} (links are never followed)`, err);
  }
  if (code === 'EEXIST') {
    const why = describeExisting(path);
    return new MpError('EEXIST', `${path} exists already${why ? ` (${why})` : ''}`, { cause: err, syscall: 'open' });
  }
  if (code === 'EACCES' || code === 'EPERM') return refuse(path, 'permission denied (does it belong to another user?)', err);
  return fromSystemError(err, `opening ${path}`);
}

function describeExisting(path: string): string {
  try {
    const st = lstatSync(path);
    return `${kindOf(st)} of uid ${st.uid}, mode ${(st.mode & 0o7777).toString(8).padStart(4, '0')}`;
  } catch {
    return '';
  }
}

/**
 * lstat `path` and check it is a `kind` of ours (for directories: not group/world writable; files and
 * sockets: owned by us and, for files, mode ≤ 0600). Returns undefined when it does not exist.
 *
 * @throws {MpError} EPERM — it exists but is not ours (named with its owner), or cannot be examined (EACCES)
 */
export function lstatOwned(path: string, kind: FileKind): Stats | undefined {
  let st: Stats;
  try {
    st = lstatSync(path);
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'ENOENT') return undefined;
    if (code === 'EACCES' || code === 'EPERM') throw refuse(path, 'permission denied (does it belong to another user?)', err);
    if (code === 'ENOTDIR') throw refuse(path, 'a component of it is not a directory', err);
    throw fromSystemError(err, `lstat of ${path}`);
  }
  const why = problem(st, kind, kind === 'dir' ? 0o022 : kind === 'file' ? 0o077 : 0);
  if (why !== undefined) throw refuse(path, why);
  return st;
}

/**
 * Make sure `dir` and every component from `from` down to it are directories of ours (see the module
 * doc); missing components are created 0700 when `create`, one at a time (never through a link).
 * `from` must be `dir` or one of its ancestors; components above it are not examined. The last
 * component's group/other read bits are cleared (it is ours).
 *
 * Returns the directories this call created, outermost first.
 *
 * @throws {MpError} EPERM — a component is a link, not a directory, not ours, group/world writable, or
 *   cannot be created
 * @throws {MpError} ENOENT — a component is missing and `create` is false, or was removed as it was created
 */
export function ensureOwnedDir(dir: string, from: string, create: boolean): string[] {
  const chain: string[] = [];
  for (let d = dir; ; d = dirname(d)) {
    chain.unshift(d);
    if (d === from) break;
    if (d === dirname(d)) throw new MpError('EINVAL', `${from} is not an ancestor of ${dir}`);
  }
  const created: string[] = [];
  for (const d of chain) {
    let st = lstatOwned(d, 'dir');
    if (st === undefined) {
      if (!create) throw new MpError('ENOENT', `${d} does not exist`);
      try {
        mkdirSync(d, { mode: 0o700 });
        created.push(d);
      } catch (err) {
        if ((err as { code?: string }).code !== 'EEXIST') {
          const e = fromSystemError(err, `creating ${d}`);
          throw e.code === 'ENOENT' ? e : refuse(d, `cannot create it: ${(err as Error).message}`, err);
        }
      }
      // Check what is there now, ours or raced in by someone else.
      st = lstatOwned(d, 'dir');
      if (st === undefined) throw new MpError('ENOENT', `${d} vanished while being created (removed by a group ending?)`);
    }
  }
  const leaf = lstatOwned(dir, 'dir');
  if (leaf === undefined) throw new MpError('ENOENT', `${dir} vanished while being checked (removed by a group ending?)`);
  if ((leaf.mode & 0o077) !== 0) {
    try {
      // Ours and a directory (checked just above): only read/search bits can be open here.
      require0700(dir);
    } catch (err) {
      throw refuse(dir, `cannot make it 0700: ${(err as Error).message}`, err);
    }
  }
  return created;
}

function require0700(dir: string): void {
  // A directory cannot be opened O_RDWR; open it O_RDONLY|O_DIRECTORY|O_NOFOLLOW and fchmod it, so a
  // swapped-in link is never followed.
  const fd = openSync(dir, fsc.O_RDONLY | fsc.O_DIRECTORY | fsc.O_NOFOLLOW);
  try {
    const st = fstatSync(fd);
    if (!st.isDirectory() || st.uid !== euid()) throw new Error('changed under us');
    fchmodSync(fd, 0o700);
  } finally {
    closeSync(fd);
  }
}

/**
 * Remove `path` if it is a `kind` of ours (lstat-checked: never a link's target, never another user's
 * file). A directory is removed with rmdir only (it must be empty). Returns true when removed, false
 * when it did not exist or is not ours (then it is left alone and a reason is returned by `why`).
 */
export function removeOwned(path: string, kind: FileKind): { removed: boolean; why?: string } {
  let st: Stats;
  try {
    st = lstatSync(path);
  } catch {
    return { removed: false };
  }
  const why = problem(st, kind, kind === 'file' ? 0o077 : kind === 'dir' ? 0o022 : 0);
  if (why !== undefined) return { removed: false, why: `${path}: ${why}` };
  try {
    if (kind === 'dir') rmdirSync(path);
    else unlinkSync(path);
    return { removed: true };
  } catch (err) {
    return { removed: false, why: `${path}: ${(err as Error).message}` };
  }
}
