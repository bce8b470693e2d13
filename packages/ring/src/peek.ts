/**
 * The two-step API (DPDK's rte_ring_peek*.h): a start reserves slots (enqueue) or filled elements
 * (dequeue) and a finish publishes / releases some or all of them; zero-copy starts hand out views of
 * the reserved slots. Only where one reservation per side is in flight at a time: single and HTS sides.
 */
import { MpError } from '@mp/memory';
import { REC_IDLE, SYNC_MT_HTS, SYNC_ST } from './layout.js';
import { moveHeadST, wakeOther } from './headtail.js';
import type { Side } from './headtail.js';
import { moveHeadHTS } from './hts.js';
import { SYNC_NAMES } from './flags.js';

/**
 * Reserve up to `n` (bulk: all or nothing) on side `s`; the start is remembered until {@link peekFinish}.
 *
 * @throws {MpError} ENOTSUP — the side is multi or rts; EBUSY — a start is pending; EINVAL — bad n
 */
export function peekStart(s: Side, n: number, bulk: boolean): number {
  if (s.sync !== SYNC_ST && s.sync !== SYNC_MT_HTS) {
    throw new MpError(
      'ENOTSUP',
      s.prod
        ? `ring '${s.name}': two-step enqueue needs a single-producer or HTS ring (producer is ${SYNC_NAMES[s.sync]})`
        : `ring '${s.name}': peek / zero-copy dequeue needs a single-consumer or HTS ring (consumer is ${SYNC_NAMES[s.sync]})`,
    );
  }
  if (s.pending !== 0) {
    throw new MpError(
      'EBUSY',
      s.prod ? `ring '${s.name}': an enqueue start is pending (call enqueueFinish)` : `ring '${s.name}': a dequeue start is pending (call dequeueFinish)`,
    );
  }
  if (!Number.isInteger(n) || n < 0) throw new MpError('EINVAL', `element count ${n} is not an integer ≥ 0`);
  const k = s.sync === SYNC_ST ? moveHeadST(s, n, bulk) : moveHeadHTS(s, n, bulk);
  if (k === 0) return 0;
  s.peekOld = s.rOld;
  s.pending = k;
  return k;
}

/**
 * Publish (enqueue) / release (dequeue) the first `n` of the pending reservation; the rest goes back.
 *
 * @throws {MpError} EINVAL — n larger than the reservation
 */
export function peekFinish(s: Side, n: number): void {
  if (!Number.isInteger(n) || n < 0 || n > s.pending) {
    throw new MpError('EINVAL', `ring '${s.name}': finish ${n} elements, but ${s.pending} are reserved`);
  }
  const i32 = s.i32;
  const next = (s.peekOld + n) | 0;
  // Give back the unused part of the reservation: head first, then the tail (R2 in hts.ts: HTS head
  // moves compare both).
  i32[s.head] = next;
  Atomics.store(i32, s.tail, next);
  if (s.sync === SYNC_MT_HTS) i32[s.rec + s.recState] = REC_IDLE;
  s.pending = 0;
  wakeOther(s);
}
