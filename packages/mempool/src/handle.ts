import { K } from './layout.js';

/** The pool id of a handle (1..255). */
export const poolOf = (handle: number): number => handle >>> K.INDEX_BITS;
/** The object index of a handle in its pool. */
export const indexOf = (handle: number): number => handle & K.INDEX_MASK;
/** The handle of object `index` of pool `poolId`. */
export const handleOf = (poolId: number, index: number): number => ((poolId << K.INDEX_BITS) | index) >>> 0;
