import { binding } from './binding.js';
import { MpError } from './errors.js';
import { log } from './log.js';

const sleeper = new Int32Array(new SharedArrayBuffer(4));
/** Sleep the thread for `ms` milliseconds (used only while waiting for a contended lock). */
export function sleepSync(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms);
}

/**
 * Byte `LOCK_LIVE_BASE + pid` of a file is read-locked (OFD) by every process that uses a RobustLock in
 * that file, for as long as it has the file open: the kernel's word that the process lives. Far above any
 * data or other lock range (@mp/eal's locks sit at 2^40 + a few hundred; segment files are smaller).
 */
export const LOCK_LIVE_BASE = 2 ** 44;
/** Owner-word bit: somebody sleeps on the word, the releaser wakes one. */
const WAITERS = 0x40000000;
const PID_MASK = 0x3fffffff;
/** Re-reads of the word before a contended taker sleeps (critical sections are often a microsecond). */
const SPINS = 200;
/** A sleeping taker wakes this often to ask the kernel whether the holder still lives. */
const NAP_MS = 5;

/**
 * A process-shared mutex that survives the death of its holder.
 *
 * The lock is the owner word in shared memory: 0 when free, else the holder's pid (plus a waiters bit).
 * Taking it uncontended is one compare-and-swap and letting it go one exchange: no system call. Whoever
 * waits sleeps on the word (futex) and, every few milliseconds, asks the kernel whether the holder lives:
 * each process using the lock holds an OFD read lock on byte `LOCK_LIVE_BASE + pid` of the same file,
 * and the kernel drops it when the process dies, however it dies (SIGKILL included; a zombie holds no
 * locks). A taker that finds the holder dead takes the word over and runs the registered repair
 * functions first — the EOWNERDEAD of a robust pthread mutex, without a pthread structure in shared
 * memory.
 *
 * Re-entrant within one instance (one thread); mutually exclusive between processes and between worker
 * threads. A worker thread that ends while holding the lock is not detected (its process lives): the
 * next taker fails with ETIMEDOUT naming the pid. If the holder dies and its pid is reused by a new
 * process that uses a lock in the same file, takers see a live holder and likewise time out.
 */
export class RobustLock {
  private depth = 0;
  private announced = false;
  private readonly pid = process.pid;
  private readonly repairs: Array<(deadPid: number) => void> = [];

  /**
   * @param fd file descriptor of the shared file, opened by this instance's thread; its liveness lock
   *   lives on it, so it must stay open while the lock is used
   * @param owner Int32Array over shared memory holding the owner word
   * @param ownerIndex index of the owner word in `owner`
   * @param timeoutMs how long a live holder may keep the lock before a taker gives up with ETIMEDOUT
   */
  constructor(
    private readonly fd: number,
    private readonly owner: Int32Array,
    private readonly ownerIndex: number,
    private readonly timeoutMs = 10_000,
  ) {}

  /** Register a function run (under the lock) when a holder is found to have died mid-update. */
  onRepair(fn: (deadPid: number) => void): void {
    this.repairs.push(fn);
  }

  /** True when this thread holds the lock. */
  get held(): boolean {
    return this.depth > 0;
  }

  /**
   * Run `fn` holding the lock. If `fn` throws, the lock is released; `fn` must leave shared state whole
   * when it throws (validate before writing).
   *
   * @throws {MpError} ETIMEDOUT — a live process kept the lock longer than timeoutMs (its pid is named)
   */
  withLock<T>(fn: () => T): T {
    this.lock();
    try {
      return fn();
    } finally {
      this.unlock();
    }
  }

  /**
   * Take the lock (re-entrant: count one {@link unlock} per call). For hot paths where a closure per
   * call costs; prefer {@link withLock}.
   *
   * @throws {MpError} ETIMEDOUT — as withLock
   */
  lock(): void {
    if (this.depth > 0) {
      this.depth++;
      return;
    }
    if (!this.announced) this.announce();
    // SYNC: acquire; pairs with the exchange in unlock().
    if (Atomics.compareExchange(this.owner, this.ownerIndex, 0, this.pid) !== 0) this.lockSlow();
    this.depth = 1;
  }

  /**
   * Take the lock if that needs no wait: true when this thread now holds it (count one {@link unlock}),
   * false when a live process (or another thread) holds it. Never sleeps, so an event loop that must
   * not stall — a periodic look at shared tables — calls this and tries again on its next turn. A holder
   * found dead is taken over and the repair functions run, as {@link lock} does.
   *
   * @see pthread_mutex_trylock (EBUSY is `false` here; EOWNERDEAD is the repair)
   */
  tryLock(): boolean {
    if (this.depth > 0) {
      this.depth++;
      return true;
    }
    if (!this.announced) this.announce();
    const w = this.owner;
    const i = this.ownerIndex;
    for (;;) {
      // SYNC: acquire; pairs with the exchange in unlock().
      const cur = Atomics.compareExchange(w, i, 0, this.pid);
      if (cur === 0) break;
      const holder = cur & PID_MASK;
      if (this.lives(holder)) return false;
      // Keep the waiters bit: others may sleep on the word, and our unlock must wake one.
      if (Atomics.compareExchange(w, i, cur, this.pid | (cur & WAITERS)) !== cur) continue;
      this.repair(holder);
      break;
    }
    this.depth = 1;
    return true;
  }

  /** Let go of one {@link lock}. */
  unlock(): void {
    if (this.depth > 1) {
      this.depth--;
      return;
    }
    if (this.depth === 0) return;
    this.depth = 0;
    // SYNC: release; the waiters bit says whether anybody sleeps on the word.
    const prev = Atomics.exchange(this.owner, this.ownerIndex, 0);
    if ((prev & WAITERS) !== 0) binding.futexWake(this.owner.buffer as ArrayBuffer, this.owner.byteOffset + this.ownerIndex * 4, 1);
  }

  /** Tell the kernel (and so every taker) that this process uses the file: the liveness read lock. */
  private announce(): void {
    binding.ofdLock(this.fd, LOCK_LIVE_BASE + this.pid, 1, 'r', true);
    this.announced = true;
  }

  private lockSlow(): void {
    const w = this.owner;
    const i = this.ownerIndex;
    const buf = w.buffer as ArrayBuffer;
    const off = w.byteOffset + i * 4;
    for (let s = 0; s < SPINS; s++) {
      if (Atomics.load(w, i) === 0 && Atomics.compareExchange(w, i, 0, this.pid) === 0) return;
    }
    const deadline = Date.now() + this.timeoutMs;
    let asked = false;
    for (;;) {
      let cur = Atomics.load(w, i);
      if (cur === 0) {
        // Others may still sleep: keep the waiters bit, so our unlock wakes the next one.
        if (Atomics.compareExchange(w, i, 0, this.pid | WAITERS) === 0) return;
        continue;
      }
      if ((cur & WAITERS) === 0) {
        if (Atomics.compareExchange(w, i, cur, cur | WAITERS) !== cur) continue;
        cur |= WAITERS;
      }
      // The first time, ask about the holder at once (it may have died long ago, with nobody waiting);
      // then after each nap the word did not change in. futexWait: 0 ok, 1 timed out, 2 not equal.
      if (asked && (binding.futexWait(buf, off, cur >>> 0, NAP_MS) !== 1 || Atomics.load(w, i) !== cur)) continue;
      asked = true;
      const holder = cur & PID_MASK;
      if (!this.lives(holder)) {
        if (Atomics.compareExchange(w, i, cur, this.pid | WAITERS) !== cur) continue;
        this.repair(holder);
        return;
      }
      if (Date.now() > deadline) throw new MpError('ETIMEDOUT', `shared lock held by live pid ${holder} for over ${this.timeoutMs} ms`);
    }
  }

  /** Just took the word over from `holder`, found dead: run the repairs; if one throws, let go and rethrow. */
  private repair(holder: number): void {
    log('debug', 'MEM', `lock holder pid ${holder} died holding a shared lock: pid ${this.pid} took it over and repairs (${this.repairs.length} repair function(s))`);
    try {
      for (const fn of this.repairs) fn(holder);
    } catch (err) {
      this.depth = 1;
      this.unlock();
      throw err;
    }
  }

  /** Does process `pid` (a holder) live? Its liveness read lock says so; our own process always does. */
  private lives(pid: number): boolean {
    return pid === this.pid || binding.ofdTest(this.fd, LOCK_LIVE_BASE + pid, 1, 'w');
  }
}
