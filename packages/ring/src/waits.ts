/**
 * The blocking API of class Ring (ring.ts): the `*Async` element calls, {@link RingWaits.dequeueWaitAsync}
 * and the `timeoutMs` form of the element calls. Each call builds one wait loop (blocking.ts: try, register
 * as a sleeper, re-check, sleep) and runs it with a blocking futex wait (sync) or one in the libuv pool
 * (async). Ring extends this class; the element core it drives is in handle.ts.
 */
import { MpError } from '@mp/memory';
import { W_CONS_HEAD, W_EPOCH, W_PROD_TAIL } from './layout.js';
import { STALL_MS } from './headtail.js';
import { words } from './copy.js';
import { RingHandle } from './handle.js';
import { ASYNC_WATCH_MS, runAsync, runSync, waitLoop } from './blocking.js';
import type { RingData, RingData64, RingOpOptions } from './types.js';

/** The blocking calls of a ring handle; the public class is Ring (ring.ts). */
export abstract class RingWaits extends RingHandle {
  /**
   * {@link Ring.enqueueBulk} that waits (default: forever) without blocking the event loop: the futex sleep runs
   * in the libuv pool. Resolves with n, or 0 on timeout.
   *
   * @throws {MpError} (rejects) EINVAL, ESTALE ({@link RingStaleError}), ETIMEDOUT, EBADF — see the class comment
   * @see rte_ring_enqueue_bulk_elem (DPDK has no blocking form)
   */
  enqueueBulkAsync(src: RingData | RingData64, n?: number, opts?: RingOpOptions): Promise<number> {
    return this.asyncOp(true, src, n, opts, true);
  }
  /**
   * {@link Ring.enqueueBurst} that waits for room for at least one element without blocking the event loop.
   *
   * @throws {MpError} (rejects) EINVAL, ESTALE ({@link RingStaleError}), ETIMEDOUT, EBADF — see the class comment
   * @see rte_ring_enqueue_burst_elem (DPDK has no blocking form)
   */
  enqueueBurstAsync(src: RingData | RingData64, n?: number, opts?: RingOpOptions): Promise<number> {
    return this.asyncOp(true, src, n, opts, false);
  }
  /**
   * {@link Ring.dequeueBulk} that waits for n elements without blocking the event loop.
   *
   * @throws {MpError} (rejects) EINVAL, ESTALE ({@link RingStaleError}), ETIMEDOUT, EBADF — see the class comment
   * @see rte_ring_dequeue_bulk_elem (DPDK has no blocking form)
   */
  dequeueBulkAsync(dst: RingData | RingData64, n?: number, opts?: RingOpOptions): Promise<number> {
    return this.asyncOp(false, dst, n, opts, true);
  }
  /**
   * {@link Ring.dequeueBurst} that waits (default: forever) for at least one element without blocking the
   * event loop; the wait sleeps on a futex in the libuv pool (one pool thread per pending wait).
   *
   * @throws {MpError} (rejects) EINVAL, ESTALE ({@link RingStaleError}), ETIMEDOUT, EBADF — see the class comment
   * @see rte_ring_dequeue_burst_elem (DPDK has no blocking form)
   */
  dequeueBurstAsync(dst: RingData | RingData64, n?: number, opts?: RingOpOptions): Promise<number> {
    return this.asyncOp(false, dst, n, opts, false);
  }

  /**
   * Wait, without blocking the event loop, until at least `n` elements are there for this side's
   * consumers; reserves and copies nothing. Resolves with the elements available (≥ n), or 0 at the
   * timeout (default: wait forever). For a consumer that peeks (single or HTS side) and holds elements it
   * has seen but not released: it waits for one more than it holds, then peeks again. `n` may be a
   * function, read again at every wake-up, for a caller whose need changes while it waits (a peeker that
   * releases elements meanwhile); a function returning 0 ends the wait at the next wake-up (with 0).
   * The wait sleeps on a futex in the libuv pool, woken by every enqueue, like {@link Ring.dequeueBurstAsync}.
   *
   * @throws {MpError} (rejects) EINVAL — n (or its first value) not an integer in 1..capacity, a bad `timeoutMs`; ESTALE
   *   ({@link RingStaleError}) — the producer side's tail is stuck behind a dead peer's reservation; EBADF
   * @see rte_ring_count (DPDK has no blocking form)
   */
  dequeueWaitAsync(n: number | (() => number), opts?: Pick<RingOpOptions, 'timeoutMs'>): Promise<number> {
    // Not an async function: its promise is runAsync's own, one settlement fewer between a wake and the
    // caller; what it throws before the wait is a rejection all the same.
    try {
      return this.waitAsync(n, opts);
    } catch (err) {
      return Promise.reject(err as Error);
    }
  }

  private waitAsync(n: number | (() => number), opts?: Pick<RingOpOptions, 'timeoutMs'>): Promise<number> {
    this.check();
    const need = typeof n === 'function' ? n : (): number => n;
    const first = need();
    if (!Number.isInteger(first) || first < 1 || first > this.capacity) {
      throw new MpError('EINVAL', `ring '${this.name}': wait for ${first} elements (an integer in 1..${this.capacity})`);
    }
    const timeoutMs = opts?.timeoutMs ?? Infinity;
    if (typeof timeoutMs !== 'number' || !(timeoutMs >= 0)) {
      throw new MpError('EINVAL', `timeoutMs ${String(timeoutMs)} is not a number ≥ 0 (Infinity waits until done)`);
    }
    const i32 = this.i32;
    const c = this.c;
    return runAsync(
      waitLoop({
        own: c,
        other: this.p,
        get need(): number {
          return need();
        },
        deadline: timeoutMs === Infinity ? Infinity : Date.now() + timeoutMs,
        watchMs: ASYNC_WATCH_MS,
        attempt: () => {
          const e = (Atomics.load(i32, W_PROD_TAIL) - Atomics.load(i32, W_CONS_HEAD)) >>> 0;
          const k = need();
          return k > 0 && e >= k ? e : 0;
        },
        recheck: () => {
          if (i32[W_EPOCH] !== this.epoch) this.resync();
        },
      }),
    );
  }

  /** An element call with `timeoutMs` (handle.ts withOpts): the wait loop with a blocking futex sleep. */
  protected waitSync(enq: boolean, a: RingData, n: number, off: number, bulk: boolean, timeoutMs: number): number {
    return runSync(this.waitLoop(enq, a, n, off, bulk, timeoutMs, STALL_MS));
  }

  /** The `*Async` element calls; as dequeueWaitAsync, not an async function, and every throw a rejection. */
  protected asyncOp(enq: boolean, arr: RingData | RingData64, n: number | undefined, opts: RingOpOptions | undefined, bulk: boolean): Promise<number> {
    try {
      const a = arr instanceof Uint32Array || arr instanceof Int32Array ? arr : words(arr);
      const off = opts?.offset ?? 0;
      if (n === undefined) n = ((a.length / this.wpe) | 0) - off;
      this.checkRange(a, n, off);
      return runAsync(this.waitLoop(enq, a, n, off, bulk, opts?.timeoutMs ?? Infinity, ASYNC_WATCH_MS));
    } catch (err) {
      return Promise.reject(err as Error);
    }
  }

  /** The blocking loop (blocking.ts) of one element call. */
  protected waitLoop(enq: boolean, a: RingData, n: number, off: number, bulk: boolean, timeoutMs: number, watchMs: number): ReturnType<typeof waitLoop> {
    return waitLoop({
      own: enq ? this.p : this.c,
      other: enq ? this.c : this.p,
      need: n === 0 ? 0 : bulk ? n : 1,
      deadline: deadlineOf(timeoutMs),
      watchMs,
      attempt: () => (enq ? this.enq(a, n, off, bulk) : this.deq(a, n, off, bulk)),
      recheck: () => {
        // Woken by free() (or a reset): re-check the header before reading anything else of the ring.
        if (this.i32[W_EPOCH] !== this.epoch) this.resync();
      },
    });
  }
}

/**
 * Deadline (Date.now() ms) of a blocking call.
 *
 * @throws {MpError} EINVAL — timeoutMs is not a number ≥ 0 (Infinity allowed)
 */
function deadlineOf(timeoutMs: number): number {
  if (typeof timeoutMs !== 'number' || !(timeoutMs >= 0)) {
    throw new MpError('EINVAL', `timeoutMs ${String(timeoutMs)} is not a number ≥ 0 (Infinity waits until done)`);
  }
  return timeoutMs === Infinity ? Infinity : Date.now() + timeoutMs;
}
