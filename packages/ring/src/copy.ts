/**
 * Element copies between the caller's arrays and the ring's slots (DPDK's __rte_ring_enqueue_elems /
 * __rte_ring_dequeue_elems): by 32-bit words, in one or two runs (the ring wraps), and the zero-copy
 * views of reserved slots.
 */
import { MpError } from '@mp/memory';
import type { RingData, RingData64, RingZcData } from './types.js';

/**
 * Bursts of at least this many 32-bit words are copied with TypedArray.set (memcpy) instead of a loop:
 * below it the subarray object each run costs more than the loop.
 */
const COPY_BULK_WORDS = 32;

/** The slot array of one ring as this handle maps it. */
export class Slots {
  /** The slots as 32-bit words. */
  readonly w: Uint32Array;
  /** Words per element. */
  readonly wpe: number;
  readonly mask: number;
  /** Words of all slots (size × wpe). */
  readonly words: number;

  constructor(w: Uint32Array, wpe: number, mask: number) {
    this.w = w;
    this.wpe = wpe;
    this.mask = mask;
    this.words = w.length;
  }

  /** Copy `n` elements from `src` (from element `off`) into the slots from position `head`. */
  copyIn(src: RingData, off: number, head: number, n: number): void {
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

/** The 32-bit word view of an element array (64-bit arrays: a view object per call). */
export function words(a: RingData | RingData64): RingData {
  if (a instanceof Uint32Array || a instanceof Int32Array) return a;
  if (a instanceof BigUint64Array || a instanceof BigInt64Array || a instanceof Float64Array) {
    return new Uint32Array(a.buffer, a.byteOffset, (a.length * a.BYTES_PER_ELEMENT) / Uint32Array.BYTES_PER_ELEMENT);
  }
  throw new MpError('EINVAL', 'ring elements are passed as Uint32Array / Int32Array (or 64-bit typed arrays)');
}
