/**
 * Who may write a table, for one process's handle: the group-wide {@link RobustLock} of multi-writer
 * tables, or the writer mark (the header's writerPid) of single-writer ones — a second live writer gets
 * EBUSY, a dead one's half-done write is repaired first (repair.ts) — and, before either writes anything,
 * the check that the table was not freed meanwhile (EBADF). The writes themselves are write.ts's.
 */
import { MpError, RobustLock } from '@mp/memory';
import { processAlive } from '@mp/memory/internal';
import { HASH_MAGIC, HDR_W } from './layout.js';
import { TWO32 } from './read.js';
import { repair } from './repair.js';
import { publish, type TableView } from './view.js';
import { addLocked } from './write.js';

/** EBUSY of a single-writer table another live process is writing: {@link pid} is that writer. */
export class HashWriterBusyError extends MpError {
  constructor(
    readonly table: string,
    readonly pid: number,
  ) {
    super('EBUSY', `hash '${table}' is single-writer and pid ${pid} is writing (create it with multiWriter: true for concurrent writers)`);
  }
}

/** One process's writer side of a table (internal: {@link Hash} holds one). */
export class TableWriter {
  private readonly lock: RobustLock;
  /** 1 inside a writer critical section (run, writeBatch), else 0. */
  private depth = 0;
  private readonly pid = process.pid;

  /** `fd`: the table's memzone file, opened by the caller (the lock's liveness byte-range locks). */
  constructor(
    private readonly t: TableView,
    fd: number,
  ) {
    this.lock = new RobustLock(fd, new Int32Array(t.buf), HDR_W.lockOwner);
    this.lock.onRepair((pid) => repair(t, pid));
  }

  /** Is the table this handle attached still there (magic and instance id unchanged)? */
  get live(): boolean {
    return Atomics.load(this.t.u32, HDR_W.magic) === HASH_MAGIC && this.t.u32[HDR_W.instance] === this.t.instance;
  }

  /**
   * Add the key in t.kw (hash h) with `data`, as the writer. @throws {MpError} EINVAL (data), ENOSPC,
   * EBADF, EBUSY, ETIMEDOUT
   */
  add(h: number, data: number): number {
    if (!Number.isSafeInteger(data) || data < 0) {
      throw new MpError('EINVAL', `hash data must be a safe integer ≥ 0 (a 64-bit value), got ${data}`);
    }
    const lo = data >>> 0;
    const hi = (data - lo) / TWO32;
    if (this.depth > 0) return addLocked(this.t, h, lo, hi);
    this.begin();
    try {
      return addLocked(this.t, h, lo, hi);
    } finally {
      this.end();
    }
  }

  /** Run fn as the writer (once per critical section: nested calls run inside the outer one). */
  run<T>(fn: () => T): T {
    if (this.depth > 0) return fn();
    this.begin();
    try {
      return fn();
    } finally {
      this.end();
    }
  }

  /** Become the writer: the robust lock (multi-writer tables) or the writer mark (single writer). */
  private begin(): void {
    // A table freed by another process: refuse before the lock or the writer mark writes into memory that
    // may already be another memzone's.
    this.enter();
    if (this.t.multiWriter) {
      this.lock.lock();
      try {
        this.enter();
      } catch (err) {
        this.lock.unlock();
        throw err;
      }
    } else {
      this.markWriter();
    }
    this.depth = 1;
  }

  private end(): void {
    this.depth = 0;
    if (this.t.multiWriter) this.lock.unlock();
    else publish(this.t.u32, HDR_W.writerPid, 0);
  }

  /** Single-writer tables: check no other live process is writing, repair after a dead one, mark us. */
  private markWriter(): void {
    const u32 = this.t.u32;
    const w = u32[HDR_W.writerPid]!;
    if (w !== this.pid) {
      if (w !== 0) {
        if (processAlive(w)) throw new HashWriterBusyError(this.t.name, w);
        repair(this.t, w);
      }
      publish(u32, HDR_W.writerPid, this.pid);
    }
    this.enter();
  }

  /** @throws {MpError} EBADF — the table was freed (by another process) */
  enter(): void {
    if (!this.live) throw new MpError('EBADF', `hash '${this.t.name}' was freed (by another process); the handle cannot be used any more`);
  }
}
