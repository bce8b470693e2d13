import { binding } from './binding.js';
import { MpError } from './errors.js';

const sleeper = new Int32Array(new SharedArrayBuffer(4));
/** Sleep the thread for `ms` milliseconds (used only while waiting for a contended lock). */
export function sleepSync(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms);
}

/**
 * A process-shared mutex that survives the death of its holder.
 *
 * The kernel side is an OFD record lock on one byte of a shared file: it belongs to the open file
 * description, so the kernel drops it when the holder dies, however it dies. The shared side is an
 * owner word: the holder writes its pid after taking the lock and clears it before letting go. A taker
 * that finds the word non-zero knows the previous holder died inside its critical section and runs the
 * registered repair functions before going on — the EOWNERDEAD of a robust pthread mutex, without a
 * pthread structure in shared memory.
 *
 * Re-entrant within one module instance (one thread); mutually exclusive between processes and between
 * worker threads (each thread's instance opens its own file description).
 */
export class RobustLock {
  private depth = 0;
  private readonly repairs: Array<(deadPid: number) => void> = [];

  /**
   * @param fd file descriptor of the shared file, opened by this module instance
   * @param lockByte byte offset locked in that file (a lock range, not data)
   * @param owner Int32Array over shared memory holding the owner word
   * @param ownerIndex index of the owner word in `owner`
   * @param timeoutMs how long a live holder may keep the lock before a taker gives up with ETIMEDOUT
   */
  constructor(
    private readonly fd: number,
    private readonly lockByte: number,
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
    if (this.depth > 0) {
      this.depth++;
      try {
        return fn();
      } finally {
        this.depth--;
      }
    }
    this.acquire();
    this.depth = 1;
    try {
      return fn();
    } finally {
      this.depth = 0;
      // SYNC: clear the owner word before the kernel lock goes, so the next taker sees a clean exit.
      Atomics.store(this.owner, this.ownerIndex, 0);
      binding.ofdLock(this.fd, this.lockByte, 1, 'u', false);
    }
  }

  private acquire(): void {
    if (!binding.ofdLock(this.fd, this.lockByte, 1, 'w', false)) {
      const deadline = Date.now() + this.timeoutMs;
      let pause = 0.05;
      while (!binding.ofdLock(this.fd, this.lockByte, 1, 'w', false)) {
        if (Date.now() > deadline) {
          const pid = Atomics.load(this.owner, this.ownerIndex);
          throw new MpError('ETIMEDOUT', `shared table lock held by live pid ${pid} for over ${this.timeoutMs} ms`);
        }
        sleepSync(pause);
        pause = Math.min(pause * 2, 2);
      }
    }
    const prev = Atomics.load(this.owner, this.ownerIndex);
    if (prev !== 0) {
      try {
        for (const repair of this.repairs) repair(prev);
      } catch (err) {
        binding.ofdLock(this.fd, this.lockByte, 1, 'u', false);
        throw err;
      }
    }
    Atomics.store(this.owner, this.ownerIndex, process.pid);
  }
}
