/**
 * Head/tail sync (HTS; DPDK's rte_ring_hts_elem_pvt.h): one reservation per side in flight. A head move
 * waits until the side's tail has caught up with its head (the previous reservation was published), then
 * claims with a CAS; the tail update needs no wait. That one-at-a-time property is what makes peek and
 * zero-copy possible on a multi-thread side (peek.ts).
 */
import { REC_ABANDONED, REC_BUSY, REC_IDLE } from './layout.js';
import { abandonedError, entriesAt, waitFront } from './headtail.js';
import type { Side } from './headtail.js';

/** HTS head move: wait for tail == head (A2), record, C1. Sets `s.rOld`; 0 if a blocking deadline passed. */
export function moveHeadHTS(s: Side, n: number, bulk: boolean): number {
  const i32 = s.i32;
  const rec = s.rec;
  if (i32[rec + s.recState] === REC_ABANDONED) throw abandonedError(s);
  for (;;) {
    const head = Atomics.load(i32, s.head);
    // A2: the previous reservation's tail store (R2) must be seen before we claim after it.
    if (Atomics.load(i32, s.tail) !== head) {
      if (waitFront(s, head)) return 0;
      continue;
    }
    const k = entriesAt(s, head, n, bulk);
    if (k === 0) return 0;
    i32[rec + s.recPos] = head;
    i32[rec + s.recState] = REC_BUSY;
    if (Atomics.compareExchange(i32, s.head, head, (head + k) | 0) === head) {
      s.rOld = head;
      return k;
    }
  }
}

/** HTS tail update: R2, publish [old, old+n) — nobody else can be in flight on this side. */
export function updateTailHTS(s: Side, old: number, n: number): void {
  // R2: after the slots; pairs with A1 of the other side and A2 of this side's next head move.
  Atomics.store(s.i32, s.tail, (old + n) | 0);
  s.i32[s.rec + s.recState] = REC_IDLE;
}
