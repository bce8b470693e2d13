/**
 * THE shared-memory layout of an @mp/hash table: one memzone named `HT_<name>`, offsets only.
 *
 * ```
 * Header (HDR_SIZE = 256 bytes)
 * | off | size | field            | written by                                   |
 * |   0 |    4 | magic 'MPHT'     | creator, last (0 once freed)                 |
 * |   4 |    2 | version          | creator, once                                |
 * |   6 |    2 | flags            | creator, once (EXT, MULTI_WRITER, LF)        |
 * |   8 |    4 | hash function id | creator, once (1 = crc32c, 2 = jhash)        |
 * |  12 |    4 | initVal          | creator, once                                |
 * |  16 |    4 | keyLen           | creator, once                                |
 * |  20 |    4 | entries          | creator, once (capacity in keys)             |
 * |  24 |    4 | numBuckets       | creator, once (power of two)                 |
 * |  28 |    4 | numExtBuckets    | creator, once (0, or numBuckets)             |
 * |  32 |    4 | keySlots         | creator, once (entries + 2: slot 0 = empty)  |
 * |  36 |    4 | slotSize         | creator, once (bytes per key-store slot)     |
 * |  40 |    4 | bucketsOff       | creator, once                                |
 * |  44 |    4 | keyStoreOff      | creator, once                                |
 * |  48 |    4 | freeKeysOff      | creator, once                                |
 * |  52 |    4 | freeExtOff       | creator, once                                |
 * |  56 |    4 | totalSize        | creator, once                                |
 * |  60 |    4 | instance id      | creator, once (random; 0 once freed): a stale|
 * |     |      |                  | writer elsewhere compares it with its own    |
 * |  64 |    4 | tblChngCnt       | writers (bumped before a key moves)          |  own cache line: readers poll it
 * | 128 |    4 | lockOwner        | RobustLock (multi-writer tables)             |  own cache line
 * | 132 |    4 | writerPid        | the single writer, during an operation       |
 * | 136 |    4 | count            | writers                                      |
 * | 140 |    4 | freeKeysTop      | writers                                      |
 * | 144 |    4 | freeExtTop       | writers                                      |
 *
 * Buckets at bucketsOff: (numBuckets + numExtBuckets) × 64 bytes, main buckets first; bucket ids ≥ numBuckets
 * are extendable buckets, chained from a main bucket through `next`.
 * | off | size | field            | written by                                   |
 * |   0 |   16 | sig[8] u16       | writers: short signature (hash >>> 16)       |
 * |  16 |   32 | keyIdx[8] u32    | writers (Atomics.store publishes the entry)  |  0 = empty
 * |  48 |    4 | next u32         | writers: next bucket id of the chain, 0 = end|
 *
 * Key store at keyStoreOff: keySlots × slotSize bytes; slot 0 is never used (keyIdx 0 = empty).
 * | off | size | field            | written by                                   |
 * |   0 |    4 | version u32      | writers: odd while the slot is rewritten;    |  seqlock for readers
 * |     |      |                  | bit 1 selects the live data cell             |
 * |   8 |    8 | data cell 0 u64  | writers (lo u32, hi u32)                     |
 * |  16 |    8 | data cell 1 u64  | writers                                      |
 * |  24 | keyLen↑4 | key bytes     | writers (zero padded to 4 bytes)             |
 *
 * Free key stack at freeKeysOff: (keySlots - 1) × u32 key indexes; top in freeKeysTop.
 * Free extendable-bucket stack at freeExtOff: numExtBuckets × u32 bucket ids; top in freeExtTop.
 * ```
 * Position of a key (what add/lookup/delete return, as rte_hash) = its key index − 1.
 */

export const HASH_MAGIC = 0x5448504d; // 'MPHT' little endian
/** 2: the multi-writer lock is a futex word with liveness read locks (RobustLock), no longer an OFD lock. */
export const HASH_VERSION = 2;

/** Header offsets in bytes. */
export const HDR = {
  magic: 0,
  version: 4,
  flags: 6,
  hashFunc: 8,
  initVal: 12,
  keyLen: 16,
  entries: 20,
  numBuckets: 24,
  numExt: 28,
  keySlots: 32,
  slotSize: 36,
  bucketsOff: 40,
  keyStoreOff: 44,
  freeKeysOff: 48,
  freeExtOff: 52,
  totalSize: 56,
  instance: 60,
  tblChngCnt: 64,
  lockOwner: 128,
  writerPid: 132,
  count: 136,
  freeKeysTop: 140,
  freeExtTop: 144,
  size: 256,
} as const;

/** Header word indices (u32): the hot paths never divide a byte offset by 4. */
export const HDR_W = {
  magic: HDR.magic / 4,
  hashFunc: HDR.hashFunc / 4,
  initVal: HDR.initVal / 4,
  keyLen: HDR.keyLen / 4,
  entries: HDR.entries / 4,
  numBuckets: HDR.numBuckets / 4,
  numExt: HDR.numExt / 4,
  keySlots: HDR.keySlots / 4,
  slotSize: HDR.slotSize / 4,
  bucketsOff: HDR.bucketsOff / 4,
  keyStoreOff: HDR.keyStoreOff / 4,
  freeKeysOff: HDR.freeKeysOff / 4,
  freeExtOff: HDR.freeExtOff / 4,
  totalSize: HDR.totalSize / 4,
  instance: HDR.instance / 4,
  tblChngCnt: HDR.tblChngCnt / 4,
  lockOwner: HDR.lockOwner / 4,
  writerPid: HDR.writerPid / 4,
  count: HDR.count / 4,
  freeKeysTop: HDR.freeKeysTop / 4,
  freeExtTop: HDR.freeExtTop / 4,
} as const;
/** Header u16 indices. */
export const HDR_H = { version: HDR.version / 2, flags: HDR.flags / 2 } as const;

/** Header flags. */
export const F_EXT = 0x1;
export const F_MULTI_WRITER = 0x2;
export const F_LF = 0x4;

/** Hash function ids stored in the header. */
export const HASH_FUNC_IDS = { crc32c: 1, jhash: 2 } as const;

/** Entries per bucket (RTE_HASH_BUCKET_ENTRIES). */
export const BUCKET_ENTRIES = 8;
/** Bucket size in bytes and its fields, in u32 words from the bucket start. */
export const BUCKET = { size: 64, words: 16, sigU16: 0, keyIdxW: 4, nextW: 12 } as const;
/** Key-store slot fields, in u32 words from the slot start. */
export const SLOT = { versionW: 0, dataW: 2, keyW: 6, headerBytes: 24 } as const;

/** Alignment of the table's memzone (a cache line). */
export const TABLE_ALIGN = 64;
/** Longest key in bytes. */
export const KEY_LEN_MAX = 1024;
/** Largest table: offsets are u32. */
export const TABLE_BYTES_MAX = 0xffffffff;

/** DPDK's RTE_HASH_ENTRIES_MAX is 2^30; offsets here are u32, so the table must fit in 4 GiB. */
export const ENTRIES_MAX = 1 << 30;

export interface Geometry {
  entries: number;
  keyLen: number;
  numBuckets: number;
  numExt: number;
  keySlots: number;
  slotSize: number;
  bucketsOff: number;
  keyStoreOff: number;
  freeKeysOff: number;
  freeExtOff: number;
  totalSize: number;
}

const align = (n: number, a: number): number => Math.ceil(n / a) * a;
const pow2ceil = (n: number): number => 2 ** Math.ceil(Math.log2(n));

/** Compute where everything lives for a table of `entries` keys of `keyLen` bytes. */
export function geometry(entries: number, keyLen: number, extendable: boolean): Geometry {
  const numBuckets = Math.max(1, pow2ceil(entries) / BUCKET_ENTRIES);
  const numExt = extendable ? numBuckets : 0;
  // Slot 0 marks an empty entry; one spare slot keeps data updates possible on a full table.
  const keySlots = entries + 2;
  const slotSize = align(SLOT.headerBytes + align(keyLen, 4), 8);
  const bucketsOff = HDR.size;
  const keyStoreOff = align(bucketsOff + (numBuckets + numExt) * BUCKET.size, 64);
  const freeKeysOff = align(keyStoreOff + keySlots * slotSize, 64);
  const freeExtOff = align(freeKeysOff + (keySlots - 1) * 4, 64);
  const totalSize = align(freeExtOff + numExt * 4, 64);
  return { entries, keyLen, numBuckets, numExt, keySlots, slotSize, bucketsOff, keyStoreOff, freeKeysOff, freeExtOff, totalSize };
}
