/**
 * The group's pool registry (memzone `mempool_registry`, layout in layout.ts): pool ids for handles, and
 * the table of processes that use pools, whose generations make owner tags that are never reused.
 *
 * Updates happen under a RobustLock in the registry, so a process that dies holding it does not wedge
 * the group; the repair pass drops pool entries whose pool never got its magic (a creator that died
 * midway).
 */
import { closeSync } from 'node:fs';
import { MpError, RobustLock, memzone, openOwnedFile } from '@mp/memory';
import { getU64, groupMemory, log, setU64 } from '@mp/memory/internal';
import { state } from './state.js';
import { eal } from '@mp/eal';
import type { ProcessInfo } from '@mp/eal';
import {
  GEN_MAX,
  MAX_POOLS,
  MEMPOOL_MZ_PREFIX,
  MEMPOOL_VERSION,
  POOLE,
  POOLE_W,
  POOL_FREE,
  POOL_MAGIC,
  POOL_USED,
  REG,
  REGISTRY_MZ,
  REG_MAGIC,
  REG_W,
  USER_ACTIVE,
  USER_FREE,
  USER_W,
  ownerTag,
  registrySize,
} from './layout.js';
import { MAX_PROCS } from '@mp/eal';

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Reclaims every object a tag owns in every pool (installed by mempool.ts); returns objects returned. */
export type Reclaimer = (tag: number) => number;

/** How long a lookup waits for a concurrent creator to finish formatting the registry. */
const FORMAT_WAIT_MS = 5_000;

export class Registry {
  readonly u32: Uint32Array;
  private readonly u8: Uint8Array;
  private readonly lock: RobustLock;
  private readonly fd: number;
  /** This process's owner tag (0 until {@link join}). */
  tag = 0;
  private slot = -1;
  private gen = 0;
  private reclaimer: Reclaimer = () => 0;
  private watching = false;
  /** Objects returned from dead processes by this process (for tests and `dump`). */
  reclaimed = 0;

  private constructor(mz: { buffer: ArrayBuffer; name: string }, path: string) {
    this.u32 = new Uint32Array(mz.buffer);
    this.u8 = new Uint8Array(mz.buffer);
    // Its own descriptor (it outlives the group's at exit, when leave() runs), opened by the safe file
    // rules: never through a link, only a file of this uid.
    this.fd = openOwnedFile(path).fd;
    this.lock = new RobustLock(this.fd, new Int32Array(mz.buffer), REG_W.lockOwner);
    this.lock.onRepair(() => this.repair());
  }

  /** The attached group's registry, made on first use. @throws {MpError} ENOTCONN, ENOMEM, EPROTO */
  static get(): Registry {
    const g = groupMemory();
    let r = state.registries.get(g);
    if (r !== undefined) return r;
    let mz = memzone.find(REGISTRY_MZ);
    if (mz === undefined) {
      try {
        mz = memzone.reserve(REGISTRY_MZ, registrySize(), { align: 64 });
        const u32 = new Uint32Array(mz.buffer);
        u32.fill(0);
        new Uint16Array(mz.buffer)[REG.version / 2] = MEMPOOL_VERSION;
        // SYNC: magic last; pairs with the wait below in a concurrent first user.
        Atomics.store(u32, REG_W.magic, REG_MAGIC);
      } catch (err) {
        if ((err as MpError).code !== 'EEXIST') throw err;
        mz = memzone.find(REGISTRY_MZ);
        if (mz === undefined) throw new MpError('ENOENT', 'the mempool registry vanished while being made', { cause: err });
      }
    }
    const u32 = new Uint32Array(mz.buffer);
    const deadline = Date.now() + FORMAT_WAIT_MS;
    while (Atomics.load(u32, REG_W.magic) !== REG_MAGIC) {
      if (Date.now() > deadline) throw new MpError('EPROTO', `memzone ${REGISTRY_MZ} holds no mempool registry (its maker died formatting it?)`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
    }
    const v = new Uint16Array(mz.buffer)[REG.version / 2];
    if (v !== MEMPOOL_VERSION) throw new MpError('EPROTO', `mempool registry layout version ${v}, this @mp/mempool speaks version ${MEMPOOL_VERSION}`);
    r = new Registry(mz, memzone.describe(mz).path);
    state.registries.set(g, r);
    return r;
  }

  setReclaimer(fn: Reclaimer): void {
    this.reclaimer = fn;
  }

  withLock<T>(fn: () => T): T {
    return this.lock.withLock(fn);
  }

  // ---- processes -------------------------------------------------------------------------------------

  /**
   * Take this process's user entry (once): first return what dead users of the group still own, then
   * claim the entry of our eal slot with a new generation. Also starts listening to eal's `proc-exit`.
   */
  join(): number {
    if (this.tag !== 0) return this.tag;
    const e = eal();
    this.withLock(() => {
      const w = this.userW(e.slot);
      // A previous user of our eal slot that did not leave: what it owned goes back after we take the
      // entry (its tag stays distinct from ours: the generation grows).
      const prevGen = Atomics.load(this.u32, w + USER_W.state) === USER_ACTIVE ? this.u32[w + USER_W.gen]! : 0;
      const me = e.processes().find((p) => p.slot === e.slot);
      let gen = this.u32[w + USER_W.gen]! + 1;
      if (gen > GEN_MAX) gen = 1;
      this.u32[w + USER_W.pid] = process.pid;
      setU64(this.u32, w + USER_W.startMs, me?.startTime.getTime() ?? 0);
      this.u32[w + USER_W.gen] = gen;
      Atomics.store(this.u32, w + USER_W.state, USER_ACTIVE);
      this.slot = e.slot;
      this.gen = gen;
      this.tag = ownerTag(e.slot, gen);
      if (prevGen !== 0) this.reclaimTagLocked(ownerTag(e.slot, prevGen), -1);
      this.sweepLocked();
    });
    if (!this.watching) {
      this.watching = true;
      e.on('proc-exit', (info) => this.procExitSoon(info, 1));
    }
    return this.tag;
  }

  /**
   * eal saw a process leave or die: if it used pools, return what it owned (whoever gets here first).
   * Runs on the event loop, so it never waits for the registry lock: a holder that is stopped or left
   * out by the scheduler would stall this process's timers and sockets for up to the lock's timeout,
   * and the reclaim would be dropped when that ran out. Busy: try again on a timer (1 ms, doubling to
   * 100 ms) until it is done, someone else did it, or this process leaves.
   */
  private procExitSoon(info: ProcessInfo, delayMs: number): void {
    if (this.tag === 0) return;
    try {
      if (this.tryProcExit(info) !== undefined) return;
    } catch (err) {
      log('warning', 'MEMPOOL', `reclaim after pid ${info.pid} exited: ${(err as Error).message}`);
      return;
    }
    setTimeout(() => this.procExitSoon(info, Math.min(delayMs * 2, 100)), delayMs).unref();
  }

  /** {@link procExitSoon}'s one try: objects returned, or undefined when the lock is busy. */
  private tryProcExit(info: ProcessInfo): number | undefined {
    if (!this.lock.tryLock()) return undefined;
    try {
      const w = this.userW(info.slot);
      if (Atomics.load(this.u32, w + USER_W.state) !== USER_ACTIVE) return 0;
      if (this.u32[w + USER_W.pid] !== info.pid || getU64(this.u32, w + USER_W.startMs) !== info.startTime.getTime()) return 0;
      return this.reclaimUserLocked(info.slot);
    } finally {
      this.lock.unlock();
    }
  }

  /** Return what users of the group that are no longer alive still own. Under the lock. */
  private sweepLocked(): number {
    let e;
    try {
      e = eal();
    } catch {
      return 0;
    }
    const live = new Map<number, ProcessInfo>();
    for (const p of e.processes()) if (p.alive) live.set(p.slot, p);
    let n = 0;
    for (let s = 0; s < MAX_PROCS; s++) {
      const w = this.userW(s);
      if (Atomics.load(this.u32, w + USER_W.state) !== USER_ACTIVE) continue;
      if (s === this.slot && this.u32[w + USER_W.gen] === this.gen) continue;
      const p = live.get(s);
      if (p !== undefined && p.pid === this.u32[w + USER_W.pid] && p.startTime.getTime() === getU64(this.u32, w + USER_W.startMs)) continue;
      n += this.reclaimUserLocked(s);
    }
    return n;
  }

  /** Deaths that happened while nobody watched (create/lookup time). */
  sweep(): number {
    return this.withLock(() => this.sweepLocked());
  }

  private reclaimUserLocked(slot: number): number {
    const w = this.userW(slot);
    const n = this.reclaimTagLocked(ownerTag(slot, this.u32[w + USER_W.gen]!), this.u32[w + USER_W.pid]!);
    Atomics.store(this.u32, w + USER_W.state, USER_FREE);
    return n;
  }

  private reclaimTagLocked(tag: number, pid: number): number {
    const n = this.reclaimer(tag);
    this.reclaimed += n;
    if (n > 0) log('info', 'MEMPOOL', `returned ${n} objects owned by ${pid > 0 ? `pid ${pid}` : 'a former process'} (owner tag 0x${tag.toString(16)}) to their pools`);
    return n;
  }

  /** This process leaves (exit): what it still owns goes back, its entry is freed. */
  leave(): void {
    if (this.tag === 0) return;
    this.withLock(() => {
      const w = this.userW(this.slot);
      this.reclaimed += this.reclaimer(this.tag);
      if (this.u32[w + USER_W.gen] === this.gen && this.u32[w + USER_W.pid] === process.pid) Atomics.store(this.u32, w + USER_W.state, USER_FREE);
    });
    this.tag = 0;
    closeSync(this.fd);
  }

  private userW(slot: number): number {
    return REG_W.users + slot * REG_W.userSize;
  }

  // ---- pools -----------------------------------------------------------------------------------------

  /** Name of pool `id`, or undefined. */
  poolName(id: number): string | undefined {
    if (id < 1 || id > MAX_POOLS) return undefined;
    const e = REG.pools + id * REG.poolSize;
    if (Atomics.load(this.u32, REG_W.pools + id * REG_W.poolSize + POOLE_W.state) !== POOL_USED) return undefined;
    const b = this.u8.subarray(e + POOLE.name, e + POOLE.name + POOLE.nameSize);
    const end = b.indexOf(0);
    return dec.decode(b.subarray(0, end < 0 ? b.length : end));
  }

  /** Ids of the pools in use. */
  poolIds(): number[] {
    const out: number[] = [];
    for (let id = 1; id <= MAX_POOLS; id++) if (Atomics.load(this.u32, REG_W.pools + id * REG_W.poolSize + POOLE_W.state) === POOL_USED) out.push(id);
    return out;
  }

  /** Claim a pool id for `name` (under the lock). @throws {MpError} EEXIST, ENOSPC */
  allocPoolLocked(name: string): number {
    for (let id = 1; id <= MAX_POOLS; id++) {
      if (this.poolName(id) === name) throw new MpError('EEXIST', `a mempool named '${name}' exists (pool id ${id})`);
    }
    // Round robin from the last id handed out: a freed id is reused as late as possible, so a stale
    // handle of a freed pool rarely meets a new pool of the same id.
    const last = this.u32[REG_W.lastId]!;
    let free = 0;
    for (let k = 1; k <= MAX_POOLS && free === 0; k++) {
      const id = ((last + k - 1) % MAX_POOLS) + 1;
      if (Atomics.load(this.u32, REG_W.pools + id * REG_W.poolSize + POOLE_W.state) === POOL_FREE) free = id;
    }
    if (free === 0) throw new MpError('ENOSPC', `all ${MAX_POOLS} pool ids of the group are in use (a handle holds the pool id in 8 bits)`);
    this.u32[REG_W.lastId] = free;
    const e = REG.pools + free * REG.poolSize;
    this.u8.fill(0, e + POOLE.name, e + POOLE.name + POOLE.nameSize);
    this.u8.set(enc.encode(name), e + POOLE.name);
    return free;
  }

  /** Publish pool `id` (its memzone is formatted). Under the lock. */
  publishPoolLocked(id: number): void {
    Atomics.store(this.u32, REG_W.pools + id * REG_W.poolSize + POOLE_W.state, POOL_USED);
    Atomics.add(this.u32, REG_W.poolGen, 1);
  }

  /** Forget pool `id`. Under the lock. */
  freePoolLocked(id: number): void {
    Atomics.store(this.u32, REG_W.pools + id * REG_W.poolSize + POOLE_W.state, POOL_FREE);
    Atomics.add(this.u32, REG_W.poolGen, 1);
  }

  /** A lock holder died: drop pool entries whose memzone was never finished. */
  private repair(): void {
    for (const id of this.poolIds()) {
      const mz = memzone.find(MEMPOOL_MZ_PREFIX + this.poolName(id)!);
      if (mz === undefined || new Uint32Array(mz.buffer, 0, 1)[0] !== POOL_MAGIC) {
        log('notice', 'MEMPOOL', `dropped pool id ${id} ('${this.poolName(id)}'), left half-made by a dead process`);
        this.freePoolLocked(id);
      }
    }
  }
}
