/** The plain data types of @mp/ring's API (element arrays, options, results). */
import type { MemzoneDescriptor } from '@mp/memory';

/** Elements cross the ring as 32-bit words: `elemSize / 4` entries of the array per element. */
export type RingData = Uint32Array | Int32Array;
/** Also accepted where elemSize is a multiple of 8 (viewed as 32-bit words; a view object per call). */
export type RingData64 = BigUint64Array | BigInt64Array | Float64Array;

/** Options of the element-moving calls. */
export interface RingOpOptions {
  /** Element index in the array to start from (default 0). */
  offset?: number;
  /**
   * Block up to this long (ms; `Infinity` = until done) when nothing (burst) / not everything (bulk) can
   * move right now, sleeping on a futex (no CPU). Omitted: never block, like DPDK.
   */
  timeoutMs?: number;
}

/** What a zero-copy start hands back: the reserved slots as one or two views (the ring wraps). */
export interface RingZcData {
  /** Elements reserved (0 = nothing; no finish needed). */
  n: number;
  /** Elements in `ptr1`. */
  n1: number;
  /** Word view of the first run of slots (`n1 * elemSize/4` words). */
  ptr1: Uint32Array;
  /** Word view of the rest after the wrap (`(n - n1) * elemSize/4` words; empty when no wrap). */
  ptr2: Uint32Array;
}

/** Plain data that lets another thread open the same ring ({@link Ring.fromDescriptor}). */
export interface RingDescriptor {
  readonly ring: string;
  readonly memzone: MemzoneDescriptor;
}

/** What {@link Ring.recover} did. */
export interface RingRecovery {
  /** Elements a dead producer had reserved but not published, dropped (never visible to consumers). */
  droppedEnqueued: number;
  /** Elements a dead consumer had reserved but not released, made available again (at-least-once). */
  returnedDequeued: number;
  /** Sleepers of dead processes (killed asleep in a blocking call) taken off the ring's sleeper masks. */
  sleepersTakenBack: number;
  /** Pids whose leftovers were cleared. */
  deadPids: number[];
  /** Sides not recovered because a live process is mid-operation on them (call again later). */
  busy: Array<'producer' | 'consumer'>;
}

/** A side of the ring, as errors and recoveries name it. */
export type RingSide = 'producer' | 'consumer';
