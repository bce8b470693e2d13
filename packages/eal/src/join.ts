/**
 * How a process joins its group (rte_eal_init's memory and config part): a primary opens the config and
 * takes the primary lock, then adopts a group whose secondaries live, cleans a dead one or formats a
 * fresh one; a secondary attaches to a live, whole group; both claim a process-table slot. The safe
 * file rules apply throughout (runtime-dir.ts, @mp/memory's files.ts).
 */
import { fstatSync } from 'node:fs';
import { join } from 'node:path';
import { MpError, RobustLock, chooseBacking, lstatOwned, mapFile, ofdLock, ofdTest } from '@mp/memory';
import { GroupMemory, faultPoint, log, memRegionSize, setU64, sleepSync } from '@mp/memory/internal';
import type { MappedFile } from '@mp/memory';
import type { validateOptions } from './args.js';
import { CONFIG_NAME, checkEntries, prepareRuntimeDir, removeEntries } from './runtime-dir.js';
import { logExit } from './exit-log.js';
import type { RuntimeDirPlan } from './runtime-dir.js';
import {
  CFG,
  CFGF_LEGACY_MEM,
  CFGF_NO_HUGE,
  CFGF_SINGLE_FILE,
  CFG_MAGIC,
  CFG_VERSION,
  CFG_W,
  LOCK_PRIMARY,
  MAX_PROCS,
  PROC,
  PROC_W,
  PS_ALIVE,
  PS_FREE,
  PS_JOINING,
  PT_PRIMARY,
  PT_SECONDARY,
  ST_CLOSING,
  ST_FORMATTING,
  ST_READY,
  lockSlot,
  memRegionOffset,
  procWord,
} from './layout.js';

/** What joining gives the Eal. */
export interface Built {
  cfg: MappedFile;
  lock: RobustLock;
  memory: GroupMemory;
  adopted: boolean;
  slot: number;
}

function makeLock(cfg: MappedFile): RobustLock {
  return new RobustLock(cfg.fd, new Int32Array(cfg.buffer), CFG_W.lockOwner);
}

function regionOf(cfg: MappedFile): { fd: number; buffer: ArrayBuffer; offset: number } {
  return { fd: cfg.fd, buffer: cfg.buffer, offset: new Uint32Array(cfg.buffer)[CFG_W.memOffset]! };
}

/** Slots whose process holds its slot lock (secondaries of a group whose primary died, say). */
function liveSlots(cfg: MappedFile): number[] {
  const u32 = new Uint32Array(cfg.buffer);
  const out: number[] = [];
  const max = Math.min(u32[CFG_W.maxProcs]!, MAX_PROCS);
  for (let i = 0; i < max; i++) {
    if (u32[procWord(i) + PROC_W.state] !== PS_FREE && ofdTest(cfg.fd, lockSlot(i), 1, 'w')) out.push(i);
  }
  return out;
}

function describeFlags(f: number): string {
  const parts = [];
  if (f & CFGF_NO_HUGE) parts.push('--no-huge');
  if (f & CFGF_SINGLE_FILE) parts.push('--single-file-segments');
  if (f & CFGF_LEGACY_MEM) parts.push('--legacy-mem');
  return parts.length ? parts.join(' ') : 'none of --no-huge/--single-file-segments/--legacy-mem';
}

export function startPrimary(cfg: MappedFile, o: ReturnType<typeof validateOptions>, wantFlags: number, runtimeDir: string, ownsDir: boolean): Built {
  try {
    const u32 = new Uint32Array(cfg.buffer);
    const u16 = new Uint16Array(cfg.buffer);
    const magic = u32[CFG_W.magic];
    const version = u16[CFG.version / 2];
    const live = magic === CFG_MAGIC ? liveSlots(cfg) : [];
    if (magic === CFG_MAGIC && live.length > 0) {
      // Adopt: the old primary died while secondaries live. Keep every byte of memory.
      if (version !== CFG_VERSION) {
        throw new MpError('EPROTO', `group '${o.filePrefix}' was made with config layout version ${version}; this @mp/eal uses version ${CFG_VERSION}, so it cannot adopt it while its secondaries live`);
      }
      const flags = u16[CFG.flags / 2]!;
      if (flags !== wantFlags) {
        throw new MpError('EINVAL', `group '${o.filePrefix}' runs with ${describeFlags(flags)}; this primary asked for ${describeFlags(wantFlags)}`);
      }
      const lock = makeLock(cfg);
      const memory = GroupMemory.open(regionOf(cfg), lock);
      registerEalRepair(cfg, lock);
      let slot = -1;
      lock.withLock(() => {
        const deadPrimary = u32[CFG_W.primaryPid];
        Atomics.store(u32, CFG_W.state, ST_FORMATTING);
        slot = claimSlot(cfg, PT_PRIMARY, o.lcores ?? []);
        Atomics.store(u32, CFG_W.primaryPid, process.pid);
        Atomics.add(u32, CFG_W.primaryGen, 1);
        Atomics.store(u32, CFG_W.state, ST_READY);
        log('notice', 'EAL', `adopted group '${o.filePrefix}' (primary pid ${deadPrimary} died; ${live.length} live process(es) kept)`);
      });
      return { cfg, lock, memory, adopted: true, slot };
    }
    // A stale group's config says whether the group made the directory: a new group inherits that.
    const inherited = magic === CFG_MAGIC && version === CFG_VERSION && u32[CFG_W.ownsDir] === 1;
    if (magic === CFG_MAGIC) cleanStaleGroup(cfg, runtimeDir, o.filePrefix);
    return formatFresh(cfg, o, wantFlags, ownsDir || inherited);
  } catch (err) {
    cfg.close();
    throw err;
  }
}

/** A secondary met a group whose last process is removing it (ESTALE; `auto` retries as primary). */
export class GroupEnding extends MpError {
  constructor(prefix: string) {
    super('ESTALE', `group '${prefix}' ended while this process was attaching (its last process left): start a primary`);
  }
}

/**
 * Create or check the runtime dir, then open (or create) the config and take the primary lock: nothing
 * is read or written before we know we are the only primary. Returns undefined for `auto` when a live
 * primary holds the prefix. A group being ended by its last process (ST_CLOSING, or a config already
 * unlinked) is waited out, up to the deadline.
 *
 * @throws {MpError} EBUSY — a live primary holds the prefix (`--proc-type=primary`)
 * @throws {MpError} ETIMEDOUT — the group's last process did not finish removing it by the deadline
 * @throws {MpError} EPERM / EINVAL — the runtime dir or config fails the safe file rules, foreign entries
 */
export function openPrimaryConfig(plan: RuntimeDirPlan, o: ReturnType<typeof validateOptions>, deadline: number): { cfg: MappedFile; dirCreated: boolean } | undefined {
  const size = memRegionOffset() + memRegionSize();
  let dirCreated = false;
  for (let busyLooks = 0; ; ) {
    let cfg: MappedFile;
    try {
      dirCreated = prepareRuntimeDir(plan, true) || dirCreated;
      checkEntries(plan.dir);
      cfg = mapFile(join(plan.dir, CONFIG_NAME), { size, create: true });
    } catch (err) {
      // The directory went between our mkdir and the create: a group ending removed it. Again.
      if (err instanceof MpError && err.code === 'ENOENT' && Date.now() < deadline) continue;
      throw err;
    }
    const locked = ofdLock(cfg.fd, LOCK_PRIMARY, 1, 'w', false);
    const unlinked = fstatSync(cfg.fd).nlink === 0;
    if (locked && !unlinked) return { cfg, dirCreated };
    const u32 = new Uint32Array(cfg.buffer);
    const ending = unlinked || Atomics.load(u32, CFG_W.state) === ST_CLOSING;
    const pid = u32[CFG_W.primaryPid];
    cfg.close();
    if (ending) {
      if (Date.now() >= deadline) throw new MpError('ETIMEDOUT', `group '${o.filePrefix}' in ${plan.dir} is still being removed by its last process`);
      sleepSync(1);
      continue;
    }
    if (o.procType === 'auto') return undefined;
    // The last process out takes this lock a moment before it marks the group closing: look once more.
    if (busyLooks++ < 2) {
      sleepSync(1);
      continue;
    }
    throw new MpError('EBUSY', `a primary (pid ${pid}) is already running for file prefix '${o.filePrefix}' in ${plan.dir}; use --proc-type=secondary or another --file-prefix`);
  }
}

/** Nobody of the old group lives: remove its segment files and runtime files (except the config we hold). */
function cleanStaleGroup(cfg: MappedFile, runtimeDir: string, prefix: string): void {
  const u16 = new Uint16Array(cfg.buffer);
  if (u16[CFG.version / 2] === CFG_VERSION) {
    try {
      const mem = GroupMemory.open(regionOf(cfg), makeLock(cfg));
      mem.removeFiles();
      mem.close();
    } catch {
      // unreadable memory region: nothing we can name to remove
    }
  }
  removeEntries(runtimeDir, { keepConfig: true, removeDir: false });
  log('notice', 'EAL', `removed the stale files of group '${prefix}' (its primary and secondaries are dead)`);
}

function formatFresh(cfg: MappedFile, o: ReturnType<typeof validateOptions>, wantFlags: number, ownsDir: boolean): Built {
  const u32 = new Uint32Array(cfg.buffer);
  const u16 = new Uint16Array(cfg.buffer);
  // SYNC: magic off first: a secondary that raced in sees an unformatted group and waits.
  Atomics.store(u32, CFG_W.magic, 0);
  new Uint8Array(cfg.buffer).fill(0);
  const memOff = memRegionOffset();
  u16[CFG.version / 2] = CFG_VERSION;
  u16[CFG.flags / 2] = wantFlags;
  u32[CFG_W.maxProcs] = MAX_PROCS;
  u32[CFG_W.memOffset] = memOff;
  u32[CFG_W.primaryPid] = process.pid;
  u32[CFG_W.primaryGen] = 1;
  u32[CFG_W.ownsDir] = ownsDir ? 1 : 0;
  const memBytes = o.memoryMb !== undefined ? o.memoryMb * 2 ** 20 : o.socketMem !== undefined ? o.socketMem.reduce((a, b) => a + b, 0) * 2 ** 20 : undefined;
  const backing = chooseBacking({ noHuge: o.noHuge ?? false, ...(o.hugeDir !== undefined ? { hugeDir: o.hugeDir } : {}), ...(memBytes !== undefined ? { memBytes } : {}) });
  const lock = makeLock(cfg);
  const memory = GroupMemory.format(regionOf(cfg), lock, {
    prefix: o.filePrefix,
    segDir: backing.segDir,
    hugetlb: backing.hugetlb,
    pageSize: backing.pageSize,
    capBytes: backing.capBytes,
    singleFileSegments: o.singleFileSegments ?? false,
    legacyMem: o.legacyMem ?? false,
  });
  registerEalRepair(cfg, lock);
  let slot = -1;
  lock.withLock(() => {
    slot = claimSlot(cfg, PT_PRIMARY, o.lcores ?? []);
  });
  // SYNC: the magic and READY go last: a secondary attaches only to a whole config.
  Atomics.store(u32, CFG_W.magic, CFG_MAGIC);
  Atomics.store(u32, CFG_W.state, ST_READY);
  return { cfg, lock, memory, adopted: false, slot };
}

function registerEalRepair(cfg: MappedFile, lock: RobustLock): void {
  const u32 = new Uint32Array(cfg.buffer);
  lock.onRepair((deadPid) => {
    for (let i = 0; i < MAX_PROCS; i++) {
      const e = procWord(i);
      if (u32[e + PROC_W.state] === PS_JOINING) {
        u32[e + PROC_W.state] = PS_FREE;
        log('notice', 'EAL', `freed process slot ${i} left half-claimed by dead pid ${deadPid}`);
      }
    }
  });
}

/** Claim a process-table slot (under the table lock): lcore check, reclaim of dead slots. */
function claimSlot(cfg: MappedFile, type: number, lcores: number[]): number {
  const u32 = new Uint32Array(cfg.buffer);
  const max = u32[CFG_W.maxProcs]!;
  let free = -1;
  for (let i = 0; i < max; i++) {
    const e = procWord(i);
    const state = u32[e + PROC_W.state];
    if (state !== PS_FREE && !ofdTest(cfg.fd, lockSlot(i), 1, 'w')) {
      // Its process is dead: reclaim the slot (an exit every watch reports; a half-claimed slot never joined).
      if (state === PS_ALIVE) logExit(u32, i);
      u32[e + PROC_W.state] = PS_FREE;
      Atomics.add(u32, CFG_W.procGen, 1);
    }
    if (u32[e + PROC_W.state] === PS_FREE) {
      // A free slot whose lock is still held belongs to a process on its way out: take another.
      if (free < 0 && ofdLock(cfg.fd, lockSlot(i), 1, 'w', false)) free = i;
      continue;
    }
    for (const l of lcores) {
      if (u32[e + PROC_W.lcores + (l >> 5)]! & (1 << (l & 31))) {
        const pid = u32[e + PROC_W.pid];
        throw new MpError('EBUSY', `lcore ${l} is already used by pid ${pid} of this group; give each process its own -l/--lcores`);
      }
    }
  }
  if (free < 0) throw new MpError('ENOSPC', `the process table is full (${max} processes)`);
  const e = procWord(free);
  Atomics.store(u32, e + PROC_W.state, PS_JOINING);
  faultPoint('proc-join');
  u32[e + PROC_W.pid] = process.pid;
  u32[e + PROC_W.type] = type;
  const now = Date.now();
  setU64(u32, e + PROC_W.startMs, now);
  for (let w = 0; w < PROC.lcoreWords; w++) u32[e + PROC_W.lcores + w] = 0;
  for (const l of lcores) u32[e + PROC_W.lcores + (l >> 5)] = (u32[e + PROC_W.lcores + (l >> 5)]! | (1 << (l & 31))) >>> 0;
  Atomics.store(u32, e + PROC_W.state, PS_ALIVE);
  Atomics.add(u32, CFG_W.procGen, 1);
  return free;
}

export function attachSecondary(plan: RuntimeDirPlan, o: ReturnType<typeof validateOptions>, wantFlags: number, deadline: number): Built {
  const runtimeDir = plan.dir;
  const cfgPath = join(runtimeDir, CONFIG_NAME);
  const noGroup = (cause?: unknown): MpError =>
    new MpError('ENOENT', `no process group '${o.filePrefix}' (no ${cfgPath}): start a primary first, or check --file-prefix/--runtime-dir`, cause === undefined ? {} : { cause });
  // Join only a group whose directory and config pass the safe file rules (a foreign uid's group: EPERM).
  try {
    prepareRuntimeDir(plan, false);
  } catch (err) {
    throw err instanceof MpError && err.code === 'ENOENT' ? noGroup(err) : err;
  }
  const timeoutMs = o.attachTimeoutMs ?? 5000;
  let cfg: MappedFile;
  for (;;) {
    const st = lstatOwned(cfgPath, 'file');
    if (st === undefined) throw noGroup();
    if (st.size > 0) {
      try {
        cfg = mapFile(cfgPath, { size: st.size });
        break;
      } catch (err) {
        throw err instanceof MpError && err.code === 'ENOENT' ? noGroup(err) : err;
      }
    }
    if (Date.now() > deadline) throw new MpError('ETIMEDOUT', `group '${o.filePrefix}' config stayed empty for ${timeoutMs} ms`);
    sleepSync(2);
  }
  try {
    const u32 = new Uint32Array(cfg.buffer);
    const u16 = new Uint16Array(cfg.buffer);
    for (;;) {
      if (fstatSync(cfg.fd).nlink === 0 || Atomics.load(u32, CFG_W.state) === ST_CLOSING) throw new GroupEnding(o.filePrefix);
      if (!ofdTest(cfg.fd, LOCK_PRIMARY, 1, 'w')) {
        const pid = u32[CFG_W.primaryPid];
        throw new MpError('ESTALE', `the primary (pid ${pid}) of group '${o.filePrefix}' is dead; ${runtimeDir} holds its stale files. Start a primary (it adopts or cleans the group), then retry`);
      }
      if (Atomics.load(u32, CFG_W.magic) === CFG_MAGIC && Atomics.load(u32, CFG_W.state) === ST_READY) break;
      if (Date.now() > deadline) throw new MpError('ETIMEDOUT', `the primary of group '${o.filePrefix}' did not finish initializing within ${timeoutMs} ms`);
      sleepSync(2);
    }
    const version = u16[CFG.version / 2];
    if (version !== CFG_VERSION) {
      throw new MpError('EPROTO', `group '${o.filePrefix}' uses config layout version ${version}; this @mp/eal uses version ${CFG_VERSION} (run the same @mp version in every process)`);
    }
    if (fstatSync(cfg.fd).size < memRegionOffset() + memRegionSize()) {
      throw new MpError('EPROTO', `group '${o.filePrefix}' config is ${fstatSync(cfg.fd).size} bytes; this @mp/eal expects ${memRegionOffset() + memRegionSize()}`);
    }
    const flags = u16[CFG.flags / 2]!;
    const mismatch = (f: number): boolean => (wantFlags & f) !== (flags & f);
    if (mismatch(CFGF_SINGLE_FILE) || mismatch(CFGF_LEGACY_MEM) || ((wantFlags & CFGF_NO_HUGE) !== 0 && (flags & CFGF_NO_HUGE) === 0)) {
      throw new MpError('EINVAL', `memory options differ from the primary's: the group runs with ${describeFlags(flags)}, this process asked for ${describeFlags(wantFlags)} (a mismatch corrupts memory in DPDK; pass the same switches)`);
    }
    const lock = makeLock(cfg);
    const memory = GroupMemory.open(regionOf(cfg), lock);
    if (o.noHuge && memory.hugetlb) {
      throw new MpError('EINVAL', `--no-huge given but group '${o.filePrefix}' uses hugepages`);
    }
    registerEalRepair(cfg, lock);
    let slot = -1;
    lock.withLock(() => {
      if (Atomics.load(u32, CFG_W.state) !== ST_READY) throw new GroupEnding(o.filePrefix);
      slot = claimSlot(cfg, PT_SECONDARY, o.lcores ?? []);
    });
    return { cfg, lock, memory, adopted: false, slot };
  } catch (err) {
    cfg.close();
    throw err;
  }
}
