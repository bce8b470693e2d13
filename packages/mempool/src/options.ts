/**
 * What a pool is created with: DPDK's `MEMPOOL_F_*` flags, the create options, the descriptor that opens a
 * pool in a worker thread, and the checks every argument passes before anything is taken from the group.
 */
import { MpError, validateName } from '@mp/memory';
import type { MemzoneDescriptor } from '@mp/memory';
import type { RingDescriptor } from '@mp/ring';
import { CACHE_LINE, CACHE_MAX_SIZE, MAX_OBJECTS, MEMPOOL_NAME_MAX, flushThreshold, poolGeometry } from './layout.js';
import type { Mempool } from './mempool.js';

/** DPDK's RTE_MEMPOOL_F_NO_SPREAD (accepted; memory has one channel here). */
export const MEMPOOL_F_NO_SPREAD = 0x0001;
/** DPDK's RTE_MEMPOOL_F_NO_CACHE_ALIGN: objects are packed at eltSize rounded up to 8, not to 64. */
export const MEMPOOL_F_NO_CACHE_ALIGN = 0x0002;
/** DPDK's RTE_MEMPOOL_F_SP_PUT: the free-handle ring is single-producer (one putter at a time). */
export const MEMPOOL_F_SP_PUT = 0x0004;
/** DPDK's RTE_MEMPOOL_F_SC_GET: the free-handle ring is single-consumer (one getter at a time). */
export const MEMPOOL_F_SC_GET = 0x0008;
/** DPDK's RTE_MEMPOOL_F_NO_IOVA_CONTIG (accepted; no IOVA here). */
export const MEMPOOL_F_NO_IOVA_CONTIG = 0x0020;
/** Every `MEMPOOL_F_*` bit {@link Mempool.create} accepts. */
export const KNOWN_FLAGS = MEMPOOL_F_NO_SPREAD | MEMPOOL_F_NO_CACHE_ALIGN | MEMPOOL_F_SP_PUT | MEMPOOL_F_SC_GET | MEMPOOL_F_NO_IOVA_CONTIG;

/** Options of {@link Mempool.create}. */
export interface MempoolCreateOptions {
  /** Per-thread cache size, 0 (default) … 512 and ≤ n / 1.5 (rte_mempool_create's cache_size). */
  cacheSize?: number;
  /** Bytes of the pool's private area ({@link Mempool.priv}), default 0. */
  privSize?: number;
  /** `MEMPOOL_F_*` bits. */
  flags?: number;
}

/** Plain data that lets a worker thread open the same pool ({@link Mempool.fromDescriptor}). */
export interface MempoolDescriptor {
  readonly name: string;
  readonly id: number;
  readonly tag: number;
  readonly memzone: MemzoneDescriptor;
  readonly ring: RingDescriptor;
}


/** What {@link checkCreate} validated and derived for a new pool. */
export interface CreateParams {
  cacheSize: number;
  privSize: number;
  flags: number;
  /** Bytes between two objects. */
  stride: number;
  geo: ReturnType<typeof poolGeometry>;
}

/**
 * Check the arguments of a pool's creation (before anything is taken from the group) and derive its
 * object stride and memory geometry.
 *
 * @throws {MpError} EINVAL / ENAMETOOLONG / ENOMEM — see {@link Mempool.create}
 */
export function checkCreate(name: string, n: number, eltSize: number, opts: MempoolCreateOptions): CreateParams {
    validateName('mempool', name, MEMPOOL_NAME_MAX);
  if (opts === null || typeof opts !== 'object') throw new MpError('EINVAL', 'mempool options must be an object');
  if (!Number.isInteger(n) || n < 1 || n > MAX_OBJECTS) throw new MpError('EINVAL', `mempool n ${n} must be an integer in 1..${MAX_OBJECTS} (a handle holds the index in 24 bits)`);
  if (!Number.isInteger(eltSize) || eltSize < 1 || eltSize > 2 ** 31) throw new MpError('EINVAL', `mempool eltSize ${eltSize} must be an integer in 1..2^31`);
  const cacheSize = opts.cacheSize ?? 0;
  if (!Number.isInteger(cacheSize) || cacheSize < 0 || cacheSize > CACHE_MAX_SIZE) {
    throw new MpError('EINVAL', `mempool cacheSize ${cacheSize} must be an integer in 0..${CACHE_MAX_SIZE} (RTE_MEMPOOL_CACHE_MAX_SIZE)`);
  }
  if (flushThreshold(cacheSize) > n) {
    throw new MpError('EINVAL', `mempool cacheSize ${cacheSize} is too large for ${n} objects (at most n / 1.5 = ${Math.floor((n * 2) / 3)})`);
  }
  const privSize = opts.privSize ?? 0;
  if (!Number.isInteger(privSize) || privSize < 0 || privSize > 2 ** 30) throw new MpError('EINVAL', `mempool privSize ${privSize} must be an integer in 0..2^30`);
  const flags = opts.flags ?? 0;
  if (!Number.isInteger(flags) || (flags & ~KNOWN_FLAGS) !== 0) {
    throw new MpError('EINVAL', `unknown mempool flags 0x${(flags & ~KNOWN_FLAGS).toString(16)} (MEMPOOL_F_* are 0x1, 0x2, 0x4, 0x8, 0x20)`);
  }
  const stride = flags & MEMPOOL_F_NO_CACHE_ALIGN ? Math.ceil(eltSize / 8) * 8 : Math.ceil(eltSize / CACHE_LINE) * CACHE_LINE;
  const geo = poolGeometry(n, stride, privSize);
  if (geo.bytes > 2 ** 32) throw new MpError('ENOMEM', `mempool of ${n} × ${stride} bytes needs ${geo.bytes} bytes (> 4 GiB)`);
  return { cacheSize, privSize, flags, stride, geo };
}
