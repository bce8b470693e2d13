/**
 * Relaxed tail sync (RTS; DPDK's rte_ring_rts_elem_pvt.h): head and tail are 64-bit {pos, cnt} pairs.
 * A head move bumps head.cnt with its CAS; a finishing thread bumps tail.cnt, and the one that makes it
 * equal head.cnt (the last in flight) moves tail.pos up to head.pos. Threads never wait for each other's
 * publish, only for the head/tail distance to fall under `htdMax`. BigInt CAS: slower than MT here.
 */
import { REC_ABANDONED, REC_BUSY, REC_IDLE, RTS_CNT_SHIFT, RTS_POS_MASK } from './layout.js';
import { abandonedError, entriesAt, waitFront } from './headtail.js';
import type { Side } from './headtail.js';

/** RTS head move: wait while head - tail > htdMax, record, C1 on {pos, cnt}. Sets `s.rOld`. */
export function moveHeadRTS(s: Side, n: number, bulk: boolean): number {
  const i32 = s.i32;
  const q = s.q64;
  const rec = s.rec;
  if (i32[rec + s.recState] === REC_ABANDONED) throw abandonedError(s);
  for (;;) {
    const qHead = Atomics.load(q, s.qHead);
    const head = Number(qHead & RTS_POS_MASK) | 0;
    // A3: the distance to the published tail (R3 of the others) bounds how far heads may run ahead.
    if (((head - Atomics.load(i32, s.tail)) >>> 0) > s.htdMax) {
      if (waitFront(s, head)) return 0;
      continue;
    }
    const k = entriesAt(s, head, n, bulk);
    if (k === 0) return 0;
    i32[rec + s.recPos] = head;
    i32[rec + s.recState] = REC_BUSY;
    const next = ((((qHead >> RTS_CNT_SHIFT) + 1n) & RTS_POS_MASK) << RTS_CNT_SHIFT) | BigInt((head + k) >>> 0);
    if (Atomics.compareExchange(q, s.qHead, qHead, next) === qHead) {
      s.rOld = head;
      return k;
    }
  }
}

/** R3: count this finish; the last one in flight moves tail.pos up to head.pos. */
export function updateTailRTS(s: Side): void {
  const q = s.q64;
  for (;;) {
    const tail = Atomics.load(q, s.qTail);
    const head = Atomics.load(q, s.qHead);
    const cnt = ((tail >> RTS_CNT_SHIFT) + 1n) & RTS_POS_MASK;
    const pos = cnt === head >> RTS_CNT_SHIFT ? head & RTS_POS_MASK : tail & RTS_POS_MASK;
    if (Atomics.compareExchange(q, s.qTail, tail, (cnt << RTS_CNT_SHIFT) | pos) === tail) break;
  }
  s.i32[s.rec + s.recState] = REC_IDLE;
}
