/**
 * THE layout of @mp/memory's shared structures. Every offset, size, magic and version of the memory
 * region lives here and nowhere else. The native addon reads no shared structure (it only maps files and
 * waits on 32-bit futex words whose offsets TypeScript passes in), so there is no C struct to compare.
 *
 * The memory region sits inside the group's `config` file at an offset chosen by @mp/eal; all offsets
 * below are relative to the start of the region. Integers are little-endian; 64-bit quantities are
 * stored as two u32 halves (lo, hi) and are always < 2^53.
 *
 * Region header
 * | off | size | field              | written by                                  |
 * |   0 |    4 | magic 'MPMZ'       | primary, once, last step of format          |
 * |   4 |    2 | version            | primary, once                               |
 * |   6 |    2 | flags (MEMF_*)     | primary, once                               |
 * |   8 |    4 | generation         | table-lock holder, bumped on every change   |
 * |  12 |    4 | page size          | primary, once                               |
 * |  16 |    8 | cap bytes (-m)     | primary, once                               |
 * |  24 |    8 | reserved bytes     | table-lock holder                           |
 * |  32 |    4 | segment count      | table-lock holder                           |
 * |  36 |    4 | memzone high water | table-lock holder (slots [0, hw) may be used)|
 * |  40 |    4 | max memzones       | primary, once                               |
 * |  44 |    4 | max segments       | primary, once                               |
 * |  64 |  256 | segment dir (NUL-terminated UTF-8) | primary, once               |
 * | 320 |   64 | file prefix (NUL-terminated)       | primary, once               |
 * | 384 | 32·S | segment table                      | table-lock holder           |
 * |  …  | 96·M | memzone table                      | table-lock holder           |
 *
 * Segment entry (32 bytes) — segment i is the file `<segDir>/<prefix>map_<i>`
 * | off | size | field                      |
 * |   0 |    4 | state (SEG_FREE/SEG_CREATING/SEG_READY) |
 * |   4 |    4 | reserved                   |
 * |   8 |    8 | size in bytes              |
 * |  16 |   16 | reserved                   |
 *
 * OFD record-lock range on each segment file (a lock range, not data; far beyond any segment's end):
 * | byte          | held by                                             | meaning                 |
 * | SEG_LIVE_LOCK | every process that opened the segment, read-locked  | the segment is in use   |
 * A leftover segment file (same name, ours by the safe file rules) is removed only when nobody holds
 * this lock: a live group sharing the prefix from another runtime dir keeps its memory.
 *
 * Memzone entry (96 bytes): a per-entry sequence counter makes lock-free reads safe (odd = being written)
 * | off | size | field                                     |
 * |   0 |    4 | seq (odd while the lock holder rewrites it)|
 * |   4 |    4 | state (MZ_FREE/MZ_RESERVING/MZ_USED/MZ_FREEING) |
 * |   8 |    4 | name hash (FNV-1a 32 of the name bytes)   |
 * |  12 |    4 | segment index                             |
 * |  16 |    8 | offset in the segment                     |
 * |  24 |    8 | length                                    |
 * |  32 |    4 | socket id (i32, -1 = any)                 |
 * |  36 |    4 | flags (RTE_MEMZONE_* compatible)          |
 * |  40 |    4 | align                                     |
 * |  44 |    4 | reserved by pid                           |
 * |  48 |   16 | reserved                                  |
 * |  64 |   32 | name (NUL-terminated, ≤ 31 bytes)         |
 */

export const MEM_MAGIC = 0x5a4d504d; // 'MPMZ' little-endian
export const MEM_VERSION = 1;

/** Region header flags (memory options a secondary must match). */
export const MEMF_HUGETLB = 1 << 0;
export const MEMF_SINGLE_FILE = 1 << 1;
export const MEMF_LEGACY = 1 << 2;

export const HDR = {
  magic: 0,
  version: 4,
  flags: 6,
  generation: 8,
  pageSize: 12,
  capBytes: 16,
  reservedBytes: 24,
  segCount: 32,
  mzHighWater: 36,
  maxMemzones: 40,
  maxSegments: 44,
  segDir: 64,
  segDirSize: 256,
  prefix: 320,
  prefixSize: 64,
  segTable: 384,
} as const;

/** Bytes per 32-bit word: the one place byte offsets become Uint32Array indices. */
export const WORD = 4;

/** `byteOffset / WORD`, refusing an offset that is not word-aligned (a layout bug). */
export function wordIndex(byteOffset: number): number {
  if (byteOffset % WORD !== 0) throw new RangeError(`byte offset ${byteOffset} is not ${WORD}-byte aligned`);
  return byteOffset / WORD;
}

/** The word indices of a byte-offset table's 32-bit-aligned fields (`W.f === T.f / WORD`). */
export function wordsOf<T extends Record<string, number>, K extends keyof T>(table: T, keys: readonly K[]): { readonly [P in K]: number } {
  const out = {} as { [P in K]: number };
  for (const k of keys) out[k] = wordIndex(table[k]!);
  return out;
}

/** Word indices of the header's 32-bit fields (64-bit ones: the lo word). */
export const HDR_W = wordsOf(HDR, ['magic', 'generation', 'pageSize', 'capBytes', 'reservedBytes', 'segCount', 'mzHighWater', 'maxMemzones', 'maxSegments', 'segTable'] as const);

export const SEG = {
  size: 32,
  state: 0,
  bytes: 8,
} as const;
/** Byte of each segment file read-locked by every process that has it open (see the table above). */
export const SEG_LIVE_LOCK = 2 ** 42;
/** Word indices of a segment entry (`size`: words per entry). */
export const SEG_W = wordsOf(SEG, ['size', 'state', 'bytes'] as const);
export const SEG_FREE = 0;
export const SEG_CREATING = 1;
export const SEG_READY = 2;

export const MZ = {
  size: 96,
  seq: 0,
  state: 4,
  hash: 8,
  seg: 12,
  offset: 16,
  len: 24,
  socket: 32,
  flags: 36,
  align: 40,
  pid: 44,
  name: 64,
  nameSize: 32,
} as const;
/** Word indices of a memzone entry (`size`: words per entry). */
export const MZ_W = wordsOf(MZ, ['size', 'seq', 'state', 'hash', 'seg', 'offset', 'len', 'socket', 'flags', 'align', 'pid', 'name'] as const);
export const MZ_FREE = 0;
export const MZ_RESERVING = 1;
export const MZ_USED = 2;
export const MZ_FREEING = 3;

/** Longest file prefix (bytes) the region header holds with its NUL: the one limit `--file-prefix` is checked against. */
export const FILE_PREFIX_MAX = HDR.prefixSize - 1;
/** RTE_MEMZONE_NAMESIZE − 1. */
export const MEMZONE_NAME_MAX = MZ.nameSize - 1;
/** RTE_MAX_MEMZONE. */
export const DEFAULT_MAX_MEMZONES = 2560;
export const DEFAULT_MAX_SEGMENTS = 64;

export const memzoneTableOffset = (maxSegments: number): number => HDR.segTable + SEG.size * maxSegments;

/** Bytes the region needs for the given table sizes, rounded up to 4 KiB. */
export function memRegionSize(maxMemzones = DEFAULT_MAX_MEMZONES, maxSegments = DEFAULT_MAX_SEGMENTS): number {
  const end = memzoneTableOffset(maxSegments) + MZ.size * maxMemzones;
  return Math.ceil(end / 4096) * 4096;
}
