/**
 * Mbuf ownership across a queue (@mp/mempool's reclaim): what a process puts on a queue belongs to the
 * queue, not to the process (its death must not take the mbufs back), and what it takes off becomes its
 * own. One store per mbuf; a burst of one pool (the usual case) costs one pool look-up.
 */
import { poolFor } from '@mp/mempool';

const one = new Uint32Array(1);

function samePool(handles: Uint32Array, n: number): boolean {
  const id = handles[0]! >>> 24;
  for (let i = 1; i < n; i++) if (handles[i]! >>> 24 !== id) return false;
  return true;
}

/** `handles[0..n)` now belong to a queue (sent). */
export function releaseHandles(handles: Uint32Array, n: number): void {
  if (n === 0) return;
  if (samePool(handles, n)) {
    poolFor(handles[0]!).release(handles, n);
    return;
  }
  for (let i = 0; i < n; i++) {
    one[0] = handles[i]!;
    poolFor(one[0]).release(one, 1);
  }
}

/** `handles[0..n)` now belong to this process (received). */
export function adoptHandles(handles: Uint32Array, n: number): void {
  if (n === 0) return;
  if (samePool(handles, n)) {
    poolFor(handles[0]!).adopt(handles, n);
    return;
  }
  for (let i = 0; i < n; i++) {
    one[0] = handles[i]!;
    poolFor(one[0]).adopt(one, 1);
  }
}
