/**
 * Looking at groups from outside — what `mp ls`, `mp info` and `mp cleanup` use. Reading never joins or
 * writes a group: the config is opened read-only and read with `read()`, liveness comes from the
 * kernel's locks (F_OFD_GETLK on the primary lock and each slot lock: layout.ts), never from pids.
 *
 * {@link removeDeadGroup} is the one writer: it proves the group dead by taking the primary lock itself
 * and finding no slot lock held, marks the config closing (as the last process out does, so a process
 * starting on the prefix meanwhile waits), then deletes the group's own names exactly as @mp/eal does
 * (@mp/memory's segment removal, then {@link removeEntries}).
 */
import { closeSync, constants as fsc, fstatSync, lstatSync, openSync, readSync, readdirSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { MpError, RobustLock, fromSystemError, lstatOwned, ofdLock, ofdTest } from '@mp/memory';
import { GroupMemory, checkOwnedFd, euid, getU64 } from '@mp/memory/internal';
import type { MemzoneInfo } from '@mp/memory';
import { CONFIG_NAME, GROUP_ENTRY, removeEntries, tmpDir } from './runtime-dir.js';
import { CFG, CFG_MAGIC, CFG_VERSION, CFG_W, LOCK_PRIMARY, MAX_PROCS, PROC, PROC_W, PS_FREE, PT_PRIMARY, ST_CLOSING, ST_FORMATTING, ST_READY, lockSlot, procWord } from './layout.js';
import { TELEMETRY_SOCKET } from './telemetry-server.js';

/** One process-table entry as read from outside. */
export interface ProcessSnapshot {
  slot: number;
  pid: number;
  type: 'primary' | 'secondary';
  lcores: number[];
  startTime: Date;
  /** Its slot lock is held: the process lives (the kernel drops the lock on any death). */
  alive: boolean;
}

/** A group seen from outside: {@link inspectGroup}. */
export interface GroupSnapshot {
  prefix: string;
  runtimeDir: string;
  /**
   * `ready`, `formatting` (a primary is starting), `closing` (its last process is removing it),
   * `other-version` (made by another config layout version: only its locks are read), `invalid`.
   */
  state: 'ready' | 'formatting' | 'closing' | 'other-version' | 'invalid';
  /** Config layout version (a group of another @mp version is listed but not read further). */
  version: number;
  primaryPid: number;
  /** The primary lock is held. */
  primaryAlive: boolean;
  /** Some process holds the primary lock or a slot lock: the group is in use. False: stale. */
  live: boolean;
  processes: ProcessSnapshot[];
  memory?: {
    hugetlb: boolean;
    pageSize: number;
    segDir: string;
    capBytes: number;
    reservedBytes: number;
    memzones: MemzoneInfo[];
  };
  /** Telemetry sockets in the runtime dir: instance 0 is the primary's, n the secondary in slot n. */
  telemetry: Array<{ instance: number; path: string }>;
}

/** The directories whose subdirectories are group runtime dirs by default (those that exist). */
export function defaultGroupBases(): string[] {
  const uid = euid();
  const out = ['/var/run/mp'];
  const xdg = process.env.XDG_RUNTIME_DIR;
  if (xdg && xdg.startsWith('/')) out.push(join(xdg, 'mp'));
  out.push(join(tmpDir(), `mp-${uid}`));
  return out.filter((d) => {
    try {
      return lstatSync(d).isDirectory();
    } catch {
      return false;
    }
  });
}

/** Runtime dirs holding a group config under `bases` (each base's direct subdirectories). */
export function findGroups(bases: readonly string[] = defaultGroupBases()): string[] {
  const out: string[] = [];
  for (const base of bases) {
    let names: string[];
    try {
      names = readdirSync(base);
    } catch {
      continue;
    }
    for (const n of names.sort()) {
      try {
        if (lstatSync(join(base, n, CONFIG_NAME)).isFile()) out.push(join(base, n));
      } catch {
        // no config: not a group
      }
    }
  }
  return out;
}

/** Open a group's config read-only, checked by the safe file rules (ours, 0600, not a link). */
function openConfigReadOnly(dir: string): number {
  lstatOwned(dir, 'dir');
  const path = join(dir, CONFIG_NAME);
  let fd: number;
  try {
    fd = openSync(path, fsc.O_RDONLY | fsc.O_NOFOLLOW);
  } catch (err) {
    if ((err as { code?: string }).code === 'ELOOP') throw new MpError('EPERM', `refusing ${path}: it is a symbolic link`, { cause: err });
    throw fromSystemError(err, `opening ${path}`);
  }
  try {
    checkOwnedFd(fd, path);
  } catch (err) {
    closeSync(fd);
    throw err;
  }
  return fd;
}

function readAll(fd: number): ArrayBuffer {
  const size = fstatSync(fd).size;
  const buf = Buffer.alloc(Math.ceil(size / 4) * 4);
  let off = 0;
  while (off < size) {
    const n = readSync(fd, buf, off, size - off, off);
    if (n === 0) break;
    off += n;
  }
  return buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length);
}

function snapshot(dir: string, fd: number, bytes: ArrayBuffer): GroupSnapshot {
  const u32 = new Uint32Array(bytes);
  const u16 = new Uint16Array(bytes);
  const prefix = dir.split('/').pop() ?? dir;
  const magic = bytes.byteLength >= CFG.procTable ? u32[CFG_W.magic] : 0;
  const version = bytes.byteLength >= CFG.procTable ? u16[CFG.version / 2]! : 0;
  const stateWord = bytes.byteLength >= CFG.procTable ? u32[CFG_W.state] : -1;
  const primaryAlive = ofdTest(fd, LOCK_PRIMARY, 1, 'w');
  const processes: ProcessSnapshot[] = [];
  let anySlot = false;
  const usable = magic === CFG_MAGIC && version === CFG_VERSION;
  const max = usable ? Math.min(u32[CFG_W.maxProcs]!, MAX_PROCS) : MAX_PROCS;
  for (let i = 0; i < max; i++) {
    const alive = ofdTest(fd, lockSlot(i), 1, 'w');
    anySlot ||= alive;
    if (!usable) continue;
    const e = procWord(i);
    if (u32[e + PROC_W.state] === PS_FREE) continue;
    const lcores: number[] = [];
    for (let w = 0; w < PROC.lcoreWords; w++) {
      const bits = u32[e + PROC_W.lcores + w]!;
      for (let b = 0; b < 32; b++) if (bits & (1 << b)) lcores.push(w * 32 + b);
    }
    processes.push({
      slot: i,
      pid: u32[e + PROC_W.pid]!,
      type: u32[e + PROC_W.type] === PT_PRIMARY ? 'primary' : 'secondary',
      lcores,
      startTime: new Date(getU64(u32, e + PROC_W.startMs)),
      alive,
    });
  }
  const state = !usable ? (magic === CFG_MAGIC ? 'other-version' : magic === 0 && stateWord === ST_FORMATTING ? 'formatting' : 'invalid') : stateWord === ST_READY ? 'ready' : stateWord === ST_CLOSING ? 'closing' : 'formatting';
  const snap: GroupSnapshot = {
    prefix,
    runtimeDir: dir,
    state,
    version,
    primaryPid: usable || magic === 0 ? (u32[CFG_W.primaryPid] ?? 0) : 0,
    primaryAlive,
    live: primaryAlive || anySlot,
    processes,
    telemetry: telemetrySockets(dir),
  };
  if (usable) {
    try {
      const mem = GroupMemory.open({ fd, buffer: bytes, offset: u32[CFG_W.memOffset]! }, readOnlyLock(fd, bytes));
      snap.memory = {
        hugetlb: mem.hugetlb,
        pageSize: mem.pageSize,
        segDir: mem.segDir,
        capBytes: mem.capBytes,
        reservedBytes: mem.reservedBytes,
        memzones: mem.list(),
      };
      snap.prefix = mem.prefix || prefix;
    } catch {
      // a region of another version, or half formatted: shown without memory
    }
  }
  return snap;
}

/** A RobustLock over a private copy: GroupMemory wants one, the read-only paths never take it. */
function readOnlyLock(fd: number, bytes: ArrayBuffer): RobustLock {
  return new RobustLock(fd, new Int32Array(bytes), CFG_W.lockOwner);
}

function telemetrySockets(dir: string): Array<{ instance: number; path: string }> {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const out: Array<{ instance: number; path: string }> = [];
  for (const n of names) {
    if (!n.startsWith(TELEMETRY_SOCKET) || !GROUP_ENTRY.test(n)) continue;
    const rest = n.slice(TELEMETRY_SOCKET.length);
    out.push({ instance: rest === '' ? 0 : Number(rest.slice(1)), path: join(dir, n) });
  }
  return out.sort((a, b) => a.instance - b.instance);
}

/**
 * Read the group whose runtime dir is `dir`, without joining or writing it.
 *
 * @throws {MpError} ENOENT — no config there; EPERM — the dir or config is not ours (safe file rules)
 */
export function inspectGroup(dir: string): GroupSnapshot {
  const fd = openConfigReadOnly(dir);
  try {
    return snapshot(dir, fd, readAll(fd));
  } finally {
    closeSync(fd);
  }
}

/** What {@link removeDeadGroup} removed (or, with `dryRun`, would remove). */
export interface RemovedGroup {
  prefix: string;
  runtimeDir: string;
  /** Every path removed: segment files, then the runtime dir's group names, the config, the dir. */
  removed: string[];
  /** Names of the group left in place (not ours by the safe file rules, or removal failed). */
  left: string[];
}

/**
 * Remove a group no process holds: its segment files and its names in the runtime dir (the directory
 * too when the group created it) — the same deletions @mp/eal makes when a group ends, nothing else.
 * Dead is proven by the kernel: this call takes the group's primary lock (so no primary lives, and none
 * can start until it is done) and finds no slot lock held.
 *
 * @throws {MpError} EBUSY — a live process holds the group (nothing removed)
 * @throws {MpError} EPROTO — the group was made by another config layout version (nothing removed)
 * @throws {MpError} ENOENT — no group config in `dir`; EPERM — the dir or config is not ours
 */
export function removeDeadGroup(dir: string, o: { dryRun?: boolean } = {}): RemovedGroup {
  lstatOwned(dir, 'dir');
  const cfgPath = join(dir, CONFIG_NAME);
  let fd: number;
  try {
    fd = openSync(cfgPath, fsc.O_RDWR | fsc.O_NOFOLLOW);
  } catch (err) {
    if ((err as { code?: string }).code === 'ELOOP') throw new MpError('EPERM', `refusing ${cfgPath}: it is a symbolic link`, { cause: err });
    throw fromSystemError(err, `opening ${cfgPath}`);
  }
  try {
    checkOwnedFd(fd, cfgPath);
    const hb = Buffer.alloc(8);
    readSync(fd, hb, 0, 8, 0);
    const head = new Uint32Array(hb.buffer, hb.byteOffset, 2);
    const otherVersion = head[0] === CFG_MAGIC ? (head[1]! & 0xffff) : CFG_VERSION;
    if (otherVersion !== CFG_VERSION) {
      // Its locks may sit elsewhere: nothing here can prove it dead.
      throw new MpError('EPROTO', `group in ${dir} was made with config layout version ${otherVersion}; this @mp/eal (version ${CFG_VERSION}) cannot prove it dead: use the @mp version that made it`);
    }
    if (!ofdLock(fd, LOCK_PRIMARY, 1, 'w', false)) throw new MpError('EBUSY', `group in ${dir} is live: its primary lock is held`);
    const bytes = readAll(fd);
    const snap = snapshot(dir, fd, bytes);
    const holders = [];
    for (let i = 0; i < MAX_PROCS; i++) if (ofdTest(fd, lockSlot(i), 1, 'w')) holders.push(i);
    if (holders.length > 0) throw new MpError('EBUSY', `group in ${dir} is live: process slot(s) ${holders.join(', ')} are held`);
    const u32 = new Uint32Array(bytes);
    const usable = snap.version === CFG_VERSION && u32[CFG_W.magic] === CFG_MAGIC;
    const mem = usable ? openMemory(fd, bytes) : undefined;
    const segments: string[] = [];
    if (mem) for (let i = 0; i < mem.maxSegments; i++) if (exists(mem.segmentPath(i))) segments.push(mem.segmentPath(i));
    const entries = readdirSync(dir).filter((n) => GROUP_ENTRY.test(n)).map((n) => join(dir, n));
    const ownsDir = usable && u32[CFG_W.ownsDir] === 1;
    const candidates = [...segments, ...entries.filter((p) => p !== cfgPath), cfgPath, ...(ownsDir ? [dir] : [])];
    if (o.dryRun) return { prefix: snap.prefix, runtimeDir: dir, removed: candidates, left: [] };
    // As the last process out does: the group is closing; a process starting on the prefix now waits.
    const st = Buffer.alloc(4);
    st.writeUInt32LE(ST_CLOSING);
    writeSync(fd, st, 0, 4, CFG.state);
    mem?.removeFiles();
    removeEntries(dir, { keepConfig: false, removeDir: ownsDir });
    const removed = candidates.filter((p) => !exists(p));
    const left = candidates.filter((p) => exists(p));
    return { prefix: snap.prefix, runtimeDir: dir, removed, left };
  } finally {
    closeSync(fd);
  }
}

function openMemory(fd: number, bytes: ArrayBuffer): GroupMemory | undefined {
  try {
    return GroupMemory.open({ fd, buffer: bytes, offset: new Uint32Array(bytes)[CFG_W.memOffset]! }, readOnlyLock(fd, bytes));
  } catch {
    return undefined;
  }
}

function exists(p: string): boolean {
  try {
    lstatSync(p);
    return true;
  } catch {
    return false;
  }
}
