/**
 * Element copies between the caller's arrays and the ring's slots (DPDK's __rte_ring_enqueue_elems /
 * __rte_ring_dequeue_elems): in one or two runs (the ring wraps) — by 64-bit words for elements of 8-byte
 * multiples (DPDK's _64 variants), else by 32-bit words, with memcpy (TypedArray.set) for large bursts —
 * and the zero-copy views of reserved slots.
 */
import { MpError } from '@mp/memory';
import type { RingData, RingData64, RingZcData } from './types.js';

/**
 * Bursts of at least this many 32-bit words are copied with TypedArray.set (memcpy) instead of a loop:
 * below it the subarray object each run costs more than the loop.
 */
const COPY_BULK_WORDS = 32;
/**
 * Elements of 8-byte multiples are copied by 64-bit words below this many 32-bit words (TypedArray.set
 * above it). A BigInt64Array load→store pair compiles to one 64-bit move (no BigInt is made in optimised
 * code) and copies bytes exactly — a Float64Array copy could change NaN bit patterns — and it needs no
 * subarray object, which costs more than copying 32 elements (bench/hotpath.mjs; README Performance).
 */
const COPY_Q_MAX_WORDS = 128;

/**
 * A 64-bit view of the caller's array, cached per direction: callers reuse one array per loop, so the
 * view is made once, not per call (a view object per call is what this path avoids). Keyed by the array
 * and its length (a length-tracking array on a resized buffer gets a new view).
 */
class View64 {
  key: RingData | undefined = undefined;
  len = -1;
  q: BigInt64Array | null = null;

  of(a: RingData): BigInt64Array | null {
    if (a === this.key && a.length === this.len) return this.q;
    this.key = a;
    this.len = a.length;
    // Not 8-byte aligned (a Uint32Array at an odd word): the 32-bit path.
    this.q = (a.byteOffset & 7) === 0 ? new BigInt64Array(a.buffer, a.byteOffset, a.length >>> 1) : null;
    return this.q;
  }
}

/** The slot array of one ring as this handle maps it. */
export class Slots {
  /** The slots as 32-bit words. */
  readonly w: Uint32Array;
  /** Words per element. */
  readonly wpe: number;
  readonly mask: number;
  /** Words of all slots (size × wpe). */
  readonly words: number;
  /** The slots as 64-bit words when elements are 8-byte multiples, else undefined. */
  readonly q: BigInt64Array | undefined;
  /** 64-bit words per element (wpe / 2), and of all slots. */
  readonly qpe: number;
  readonly qwords: number;
  private readonly srcView = new View64();
  private readonly dstView = new View64();

  constructor(w: Uint32Array, wpe: number, mask: number) {
    this.w = w;
    this.wpe = wpe;
    this.mask = mask;
    this.words = w.length;
    const even = (wpe & 1) === 0 && (w.byteOffset & 7) === 0;
    this.q = even ? new BigInt64Array(w.buffer, w.byteOffset, w.length >>> 1) : undefined;
    this.qpe = wpe >>> 1;
    this.qwords = w.length >>> 1;
  }

  /** Copy `n` elements from `src` (from element `off`) into the slots from position `head`. */
  copyIn(src: RingData, off: number, head: number, n: number): void {
    if (this.q !== undefined && n * this.wpe < COPY_Q_MAX_WORDS) {
      const a = this.srcView.of(src);
      if (a !== null) {
        copy64(this.q, (head & this.mask) * this.qpe, a, off * this.qpe, n * this.qpe, this.qwords, true);
        return;
      }
    }
    const w = this.w;
    const wpe = this.wpe;
    let idx = (head & this.mask) * wpe;
    let s = off * wpe;
    const total = n * wpe;
    const first = this.words - idx;
    if (total >= COPY_BULK_WORDS && src instanceof Uint32Array) {
      // Large bursts: one memcpy per contiguous run beats a word loop (the subarray costs an object; the
      // caller's whole array needs none).
      if (total <= first) w.set(s === 0 && total === src.length ? src : src.subarray(s, s + total), idx);
      else {
        w.set(src.subarray(s, s + first), idx);
        w.set(src.subarray(s + first, s + total), 0);
      }
    } else if (total <= first) {
      for (let i = 0; i < total; i++) w[idx + i] = src[s + i]!;
    } else {
      for (let i = 0; i < first; i++) w[idx + i] = src[s + i]!;
      s += first;
      idx = total - first;
      for (let i = 0; i < idx; i++) w[i] = src[s + i]!;
    }
  }

  /** Copy `n` elements from the slots at position `head` into `dst` (from element `off`). */
  copyOut(dst: RingData, off: number, head: number, n: number): void {
    if (this.q !== undefined && n * this.wpe < COPY_Q_MAX_WORDS) {
      const a = this.dstView.of(dst);
      if (a !== null) {
        copy64(this.q, (head & this.mask) * this.qpe, a, off * this.qpe, n * this.qpe, this.qwords, false);
        return;
      }
    }
    const w = this.w;
    const wpe = this.wpe;
    let idx = (head & this.mask) * wpe;
    let d = off * wpe;
    const total = n * wpe;
    const first = this.words - idx;
    if (total >= COPY_BULK_WORDS && dst instanceof Uint32Array) {
      if (total <= first) dst.set(w.subarray(idx, idx + total), d);
      else {
        dst.set(w.subarray(idx, idx + first), d);
        dst.set(w.subarray(0, total - first), d + first);
      }
    } else if (total <= first) {
      for (let i = 0; i < total; i++) dst[d + i] = w[idx + i]!;
    } else {
      for (let i = 0; i < first; i++) dst[d + i] = w[idx + i]!;
      d += first;
      idx = total - first;
      for (let i = 0; i < idx; i++) dst[d + i] = w[i]!;
    }
  }

  /** Views of `n` reserved slots from position `head`, split at the wrap. */
  zc(n: number, head: number): RingZcData {
    const wpe = this.wpe;
    const idx = (head & this.mask) * wpe;
    const first = Math.min(n * wpe, this.words - idx);
    return { n, n1: first / wpe, ptr1: this.w.subarray(idx, idx + first), ptr2: this.w.subarray(0, n * wpe - first) };
  }
}

/**
 * Copy `total` 64-bit words between the slots `q` (from word `idx`, wrapping at `qwords`) and the caller's
 * `a` (from word `at`): into the slots when `into`, else out of them.
 */
function copy64(q: BigInt64Array, idx: number, a: BigInt64Array, at: number, total: number, qwords: number, into: boolean): void {
  const first = qwords - idx < total ? qwords - idx : total;
  if (into) {
    run64(a, at, q, idx, first);
    if (first < total) run64(a, at + first, q, 0, total - first);
  } else {
    run64(q, idx, a, at, first);
    if (first < total) run64(q, 0, a, at + first, total - first);
  }
}

/**
 * One contiguous run of `k` 64-bit words from `s` (from `si`) to `d` (from `di`), four per turn: the loop's
 * own checks (counter, interrupt) are paid once per four moves, and the four loads go before the four
 * stores (≈ 1.9× the one-per-turn loop at 32 elements, bench/hotpath.mjs).
 */
function run64(s: BigInt64Array, si: number, d: BigInt64Array, di: number, k: number): void {
  let i = 0;
  for (; i + 4 <= k; i += 4) {
    const x0 = s[si + i]!;
    const x1 = s[si + i + 1]!;
    const x2 = s[si + i + 2]!;
    const x3 = s[si + i + 3]!;
    d[di + i] = x0;
    d[di + i + 1] = x1;
    d[di + i + 2] = x2;
    d[di + i + 3] = x3;
  }
  for (; i < k; i++) d[di + i] = s[si + i]!;
}

/** The 32-bit word view of an element array (64-bit arrays: a view object per call). */
export function words(a: RingData | RingData64): RingData {
  if (a instanceof Uint32Array || a instanceof Int32Array) return a;
  if (a instanceof BigUint64Array || a instanceof BigInt64Array || a instanceof Float64Array) {
    return new Uint32Array(a.buffer, a.byteOffset, (a.length * a.BYTES_PER_ELEMENT) / Uint32Array.BYTES_PER_ELEMENT);
  }
  throw new MpError('EINVAL', 'ring elements are passed as Uint32Array / Int32Array (or 64-bit typed arrays)');
}
