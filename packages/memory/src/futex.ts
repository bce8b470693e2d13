import { binding } from './binding.js';
import { MpError } from './errors.js';

/** Outcome of a futex wait, as `Atomics.wait` names them. */
export type FutexWaitResult = 'ok' | 'timed-out' | 'not-equal';
const RESULTS: readonly FutexWaitResult[] = ['ok', 'timed-out', 'not-equal'];

type Word32Array = Int32Array | Uint32Array;

function check(view: Word32Array, index: number): number {
  if (!(view instanceof Int32Array) && !(view instanceof Uint32Array)) {
    throw new MpError('EINVAL', 'futex words live in an Int32Array or Uint32Array view of shared memory');
  }
  if (!Number.isInteger(index) || index < 0 || index >= view.length) {
    throw new MpError('EINVAL', `futex index ${index} is outside the view (length ${view.length})`);
  }
  return view.byteOffset + index * 4;
}

function timeout(ms: number | undefined): number {
  if (ms === undefined || ms === Infinity) return -1;
  if (typeof ms !== 'number' || Number.isNaN(ms) || ms < 0) throw new MpError('EINVAL', `timeoutMs must be ≥ 0, got ${ms}`);
  return ms;
}

/**
 * Sleep until another process (or thread) calls {@link futexWake} on the same shared word, the word no
 * longer holds `expected`, or `timeoutMs` passes. Blocks the calling thread: the cross-process twin of
 * `Atomics.wait`, which only sees wakes from its own process.
 *
 * @throws {MpError} EINVAL — not a 32-bit view, index out of range, or a negative timeout
 */
export function futexWait(view: Word32Array, index: number, expected: number, timeoutMs?: number): FutexWaitResult {
  const off = check(view, index);
  return RESULTS[binding.futexWait(view.buffer as ArrayBuffer, off, expected >>> 0, timeout(timeoutMs))]!;
}

/**
 * {@link futexWait} on the libuv thread pool: the event loop keeps running while the word sleeps.
 *
 * @throws {MpError} EINVAL — as futexWait
 */
export async function futexWaitAsync(
  view: Word32Array,
  index: number,
  expected: number,
  timeoutMs?: number,
): Promise<FutexWaitResult> {
  const off = check(view, index);
  return RESULTS[await binding.futexWaitAsync(view.buffer as ArrayBuffer, off, expected >>> 0, timeout(timeoutMs))]!;
}

/**
 * Wake up to `count` waiters (any process) sleeping on the word. Returns how many were woken.
 *
 * @throws {MpError} EINVAL — not a 32-bit view or index out of range
 */
export function futexWake(view: Word32Array, index: number, count = 0x7fffffff): number {
  const off = check(view, index);
  return binding.futexWake(view.buffer as ArrayBuffer, off, count);
}
