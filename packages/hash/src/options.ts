/**
 * What a caller may ask of {@link Hash.create}: the options, DPDK's `RTE_HASH_EXTRA_FLAGS_*` bits, the
 * name rules, and their validation (every rule checked here, once, before anything is reserved).
 */
import { MEMZONE_NAME_MAX, MpError } from '@mp/memory';
import { BUCKET_ENTRIES, ENTRIES_MAX, KEY_LEN_MAX } from './layout.js';

/** DPDK's `RTE_HASH_EXTRA_FLAGS_*`, accepted in {@link HashOptions.flags} for parity. */
export const HASH_EXTRA_FLAGS_TRANS_MEM_SUPPORT = 0x01;
export const HASH_EXTRA_FLAGS_MULTI_WRITER_ADD = 0x02;
export const HASH_EXTRA_FLAGS_RW_CONCURRENCY = 0x04;
export const HASH_EXTRA_FLAGS_EXT_TABLE = 0x08;
export const HASH_EXTRA_FLAGS_NO_FREE_ON_DEL = 0x10;
export const HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF = 0x20;
const KNOWN_FLAGS = 0x3f;

/** Name of the memzone holding table `name` (as DPDK's "HT_" prefix). */
export const HASH_MZ_PREFIX = 'HT_';
/** Longest table name: the memzone name limit minus the prefix. */
export const HASH_NAME_MAX = MEMZONE_NAME_MAX - HASH_MZ_PREFIX.length;

export type HashFunc = 'crc32c' | 'jhash';

/** Options of {@link Hash.create} (rte_hash_parameters). */
export interface HashOptions {
  /** Capacity in keys (≥ 8). Buckets: the next power of two of `entries`, / 8. */
  entries: number;
  /** Key length in bytes (fixed for the table). */
  keyLen: number;
  /** Hash function, stored in the table by id; default `'jhash'` (DPDK's default). */
  hashFunc?: HashFunc;
  /** Seed of the hash function (hash_func_init_val), default 0. */
  initVal?: number;
  /** Extendable buckets: the table then always holds `entries` keys (RTE_HASH_EXTRA_FLAGS_EXT_TABLE). */
  extendable?: boolean;
  /**
   * Several processes may add/delete at once; writers serialize on a lock that survives their death
   * (RTE_HASH_EXTRA_FLAGS_MULTI_WRITER_ADD). Without it one writer at a time is the caller's promise.
   */
  multiWriter?: boolean;
  /** Readers never lock; this is the only mode (DPDK's RW_CONCURRENCY_LF). */
  readWriteConcurrency?: 'lock-free';
  /** `HASH_EXTRA_FLAGS_*` bits, merged with the booleans above. */
  flags?: number;
  /** NUMA socket, -1 or 0. */
  socket?: number;
}

/** One entry, as {@link Hash.get} and {@link Hash.iterate} report it. */
export interface HashEntry {
  /** Where: the key's position, stable while the key is in the table (0 … entries). */
  position: number;
  /** What: the 64-bit data stored with the key, as a safe integer. */
  data: number;
}

/** Keys for the bulk calls: one array of keys, or keys packed back to back in one byte array. */
export type KeyBatch = readonly Uint8Array[] | Uint8Array;

/** {@link HashOptions} checked and merged with their flag bits. */
export interface ValidOptions {
  entries: number;
  keyLen: number;
  hashFunc: HashFunc;
  initVal: number;
  extendable: boolean;
  multiWriter: boolean;
  socket: number;
}

/**
 * Check `opts` (see {@link Hash.create} for the codes).
 *
 * @throws {MpError} EINVAL, ENOTSUP
 */
export function validateOptions(opts: HashOptions): ValidOptions {
  if (opts === null || typeof opts !== 'object') throw new MpError('EINVAL', 'hash options are required ({ entries, keyLen })');
  const { entries, keyLen } = opts;
  if (!Number.isInteger(entries) || entries < BUCKET_ENTRIES || entries > ENTRIES_MAX) {
    throw new MpError('EINVAL', `hash entries must be an integer in ${BUCKET_ENTRIES}…${ENTRIES_MAX}, got ${entries}`);
  }
  if (!Number.isInteger(keyLen) || keyLen < 1 || keyLen > KEY_LEN_MAX) {
    throw new MpError('EINVAL', `hash keyLen must be an integer in 1…${KEY_LEN_MAX}, got ${keyLen}`);
  }
  const hashFunc = opts.hashFunc ?? 'jhash';
  if (hashFunc !== 'crc32c' && hashFunc !== 'jhash') {
    throw new MpError('EINVAL', `unknown hash function '${String(hashFunc)}' (use 'crc32c' or 'jhash')`);
  }
  const initVal = opts.initVal ?? 0;
  if (!Number.isInteger(initVal) || initVal < -0x80000000 || initVal > 0xffffffff) {
    throw new MpError('EINVAL', `hash initVal must be a 32-bit integer, got ${initVal}`);
  }
  const flags = opts.flags ?? 0;
  if (!Number.isInteger(flags) || (flags & ~KNOWN_FLAGS) !== 0) {
    throw new MpError('EINVAL', `unknown hash flags 0x${(flags & ~KNOWN_FLAGS).toString(16)}`);
  }
  if (flags & HASH_EXTRA_FLAGS_NO_FREE_ON_DEL) {
    throw new MpError('ENOTSUP', 'HASH_EXTRA_FLAGS_NO_FREE_ON_DEL is not needed: deleted keys are freed at once and readers validate slots');
  }
  if (opts.readWriteConcurrency !== undefined && opts.readWriteConcurrency !== 'lock-free') {
    throw new MpError('EINVAL', `readWriteConcurrency '${String(opts.readWriteConcurrency)}' is not supported (readers are always 'lock-free')`);
  }
  return {
    entries,
    keyLen,
    hashFunc,
    initVal,
    extendable: opts.extendable === true || (flags & HASH_EXTRA_FLAGS_EXT_TABLE) !== 0,
    multiWriter: opts.multiWriter === true || (flags & HASH_EXTRA_FLAGS_MULTI_WRITER_ADD) !== 0,
    socket: opts.socket ?? -1,
  };
}
