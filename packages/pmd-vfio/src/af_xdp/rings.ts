/**
 * The four AF_XDP rings of one socket, as a process maps them (mmap of the XSK fd at the kernel's page
 * offsets; the offsets inside each mapping come from getsockopt(XDP_MMAP_OFFSETS)), and their
 * single-producer / single-consumer index protocol in TypeScript.
 *
 * ```
 * | ring       | entry                              | we are    | kernel is |
 * | fill       | u64 frame address (UMEM offset)    | producer  | consumer  |  rx frames handed to the kernel
 * | rx         | xdp_desc { u64 addr, u32 len, u32 options } | consumer | producer | frames received
 * | tx         | xdp_desc                           | producer  | consumer  |  frames to send
 * | completion | u64 frame address                  | consumer  | producer  |  tx frames the kernel is done with
 *
 * each mapping: | producer u32 | … | consumer u32 | … | flags u32 | … | entries (2^k) |  (offsets: the kernel's)
 * ```
 * Indices are free-running u32; entry i is at `i & (size - 1)`. Memory order (as libxdp's xsk.h):
 * a producer writes the entries, then publishes `producer` (P1: Atomics.store, pairs with the kernel's
 * acquire load); a consumer loads `producer` (C1: Atomics.load, pairs with the kernel's release), reads
 * the entries, then publishes `consumer` (C2) so the kernel may overwrite them. Atomics on a
 * Uint32Array are sequentially consistent, which is at least that.
 *
 * No cached copy of the peer's index survives a call: a ring is driven by whichever process polls the
 * queue now, so every burst starts from the indices in the ring itself (one load each).
 */
import type { XskRingMap } from '../binding.js';

/** xdp_desc: u64 addr, u32 len, u32 options = 4 words. */
export const XDP_DESC_WORDS = 4;
export const XDP_DESC_SIZE = 16;
export const XDP_DESC_ADDR = 0;
export const XDP_DESC_LEN = 8;
export const XDP_DESC_OPTIONS = 12;

/** One mapped ring: word views and indices. */
export class XskRing {
  readonly u32: Uint32Array;
  readonly size: number;
  readonly mask: number;
  /** Word index of the producer and consumer u32s. */
  readonly prodW: number;
  readonly consW: number;
  /** Word index of entry 0. */
  readonly descW: number;
  /** Words per entry: 2 (u64 address) or 4 (xdp_desc). */
  readonly entryWords: number;

  constructor(m: XskRingMap, size: number, entryWords: number) {
    this.u32 = new Uint32Array(m.buf);
    this.size = size;
    this.mask = size - 1;
    this.prodW = m.producer >>> 2;
    this.consW = m.consumer >>> 2;
    this.descW = m.desc >>> 2;
    this.entryWords = entryWords;
  }

  /** C1 / producer side's view of the consumer: acquire loads. */
  producer(): number {
    return Atomics.load(this.u32, this.prodW);
  }
  consumer(): number {
    return Atomics.load(this.u32, this.consW);
  }
  /** P1: publish entries written up to `idx` (exclusive). */
  publishProducer(idx: number): void {
    Atomics.store(this.u32, this.prodW, idx >>> 0);
  }
  /** C2: entries before `idx` were read; the kernel may reuse them. */
  publishConsumer(idx: number): void {
    Atomics.store(this.u32, this.consW, idx >>> 0);
  }
  /** Word index of entry `idx` (free-running). */
  at(idx: number): number {
    return this.descW + (idx & this.mask) * this.entryWords;
  }
  /** Entries a consumer may read now (from `cons`). */
  available(cons: number): number {
    return (this.producer() - cons) >>> 0;
  }
  /** Free slots a producer may fill now (from `prod`). */
  free(prod: number): number {
    return (this.size - ((prod - this.consumer()) >>> 0)) >>> 0;
  }

  /**
   * The frames (addresses rounded down to a multiple of `frame`: an rx descriptor points past the
   * kernel's headroom) between consumer and producer: what is queued. Low words only: UMEMs are < 4 GiB.
   */
  queuedFrames(out: Set<number>, frame: number): void {
    const cons = this.consumer();
    const n = Math.min(this.available(cons), this.size);
    for (let i = 0; i < n; i++) {
      const a = this.u32[this.at(cons + i)]!;
      out.add(a - (a % frame));
    }
  }
}
