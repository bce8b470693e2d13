/**
 * THE layout of a ring in its memzone (named `RG_<ring name>`, as DPDK's `RTE_RING_MZ_PREFIX`). Every
 * offset, size, magic and version of the ring lives here and nowhere else. All offsets are from the start
 * of the memzone; positions are free-running u32 counters (slot = pos & mask), stored in 32-bit words so
 * they double as futex words. Integers are little-endian.
 *
 * Header
 * | off | size | field                          | written by                                   |
 * |   0 |    4 | magic 'MPRG'                   | creator, once, last step of create           |
 * |   4 |    2 | layout version                 | creator, once                                |
 * |   6 |    2 | flags (RING_F_*)               | creator, once                                |
 * |   8 |    4 | size (slots, a power of two)   | creator, once                                |
 * |  12 |    4 | mask (size - 1)                | creator, once                                |
 * |  16 |    4 | capacity                       | creator, once                                |
 * |  20 |    4 | elemSize (bytes, multiple of 4)| creator, once                                |
 * |  24 |    4 | participant slots              | creator, once                                |
 * |  28 |    4 | epoch (starts at the instance  | create; +1 by reset() and by free()          |
 * |     |      | id; a change makes handles re-check the header)                               |
 * |  32 |   28 | name (UTF-8, NUL-padded)       | creator, once                                |
 * |  60 |    4 | instance id (random, non-zero) | creator, once; zeroed by free()              |
 * |  64 |    8 | prod.head {pos u32, cnt u32}   | producers (CAS; cnt used by RTS only)        |  own cache line
 * |  72 |    8 | prod.tail {pos u32, cnt u32}   | producers (in order; RTS: CAS)               |
 * |  80 |    4 | prod sync type (SYNC_*)        | creator, once                                |
 * |  84 |    4 | prod htd max (RTS)             | creator, once                                |
 * |  88 |    4 | consumers asleep on prod.tail  | consumers (futex waiters for data)           |
 * | 128 |   32 | cons.head / tail / sync / htd  | consumers — same shape as prod               |  own cache line
 * | 152 |    4 | producers asleep on cons.tail  | producers (futex waiters for room)           |
 * | 192 | 64·P | participant table              | each participant its own line                |
 * |  S  |  n·e | slots                          | enqueue (copies), dequeue reads              |  n = 2^k, S = 192 + 64·P
 *
 * Participant entry (64 bytes, one cache line): who holds an in-flight reservation on a multi-producer /
 * multi-consumer side (MP, MC, HTS, RTS), so that a waiter stuck behind it can name a dead owner.
 * | off | size | field                                            |
 * |   0 |    4 | owner pid (0 = free; claimed with CAS)           |
 * |   4 |    4 | owner thread id (worker_threads.threadId)        |
 * |   8 |    4 | prod state (REC_IDLE / REC_BUSY / REC_ABANDONED)  |
 * |  12 |    4 | prod pos: the head this owner reserved from      |
 * |  16 |    4 | prod culprit: pid blamed when it abandoned        |
 * |  20 |    4 | cons state                                       |
 * |  24 |    4 | cons pos                                         |
 * |  28 |    4 | cons culprit                                     |
 * |  32 |   32 | reserved                                         |
 *
 * A reservation record is written (pos, then state BUSY) before the CAS that claims the head, and set
 * back to IDLE after the tail is published: a reservation without a record can't exist.
 *
 * Freed rings: free() clears the magic and the instance id and bumps the epoch before the memzone goes
 * back. Every handle compares the epoch on each element call (it did already, for reset()); a changed
 * epoch makes it re-read magic and instance id, so a handle elsewhere notices a freed ring (or a new ring
 * made at the same place) before it writes a byte. Version 2: the name field shrank to 28 bytes (names
 * are at most 28) to make room for the instance id.
 */

export const RING_MAGIC = 0x4752504d; // 'MPRG' little-endian
export const RING_VERSION = 2;

/** DPDK's RTE_RING_MZ_PREFIX. */
export const RING_MZ_PREFIX = 'RG_';
/** RTE_RING_NAMESIZE - 1: the memzone name `RG_<name>` must fit in 31 bytes. */
export const RING_NAME_MAX = 28;

/** Byte offsets. */
export const HDR = {
  magic: 0,
  version: 4,
  flags: 6,
  size: 8,
  mask: 12,
  capacity: 16,
  elemSize: 20,
  participants: 24,
  epoch: 28,
  name: 32,
  nameSize: 28,
  instance: 60,
  prod: 64,
  cons: 128,
  participantTable: 192,
} as const;

/** Byte offsets inside a head/tail line (prod at 64, cons at 128). */
export const HT = {
  headPos: 0,
  headCnt: 4,
  tailPos: 8,
  tailCnt: 12,
  sync: 16,
  htdMax: 20,
  /** On the prod line: consumers asleep waiting for data; on the cons line: producers waiting for room. */
  sleepers: 24,
} as const;

export const PART = {
  size: 64,
  pid: 0,
  tid: 4,
  prodState: 8,
  prodPos: 12,
  prodCulprit: 16,
  consState: 20,
  consPos: 24,
  consCulprit: 28,
} as const;

export const REC_IDLE = 0;
export const REC_BUSY = 1;
export const REC_ABANDONED = 2;

/** Participant slots per ring: threads/processes that may use a multi-producer or multi-consumer side. */
export const PARTICIPANTS = 64;

/** Sync types of a side, as DPDK's `enum rte_ring_sync_type`. */
export const SYNC_MT = 0;
export const SYNC_ST = 1;
export const SYNC_MT_RTS = 2;
export const SYNC_MT_HTS = 3;

export const CACHE_LINE = 64;

/** Offset of the slots. */
export const slotsOffset = (participants = PARTICIPANTS): number => HDR.participantTable + PART.size * participants;

/** Bytes of the memzone holding a ring of `size` slots of `elemSize` bytes. */
export const ringMemSize = (size: number, elemSize: number, participants = PARTICIPANTS): number =>
  slotsOffset(participants) + size * elemSize;

// 32-bit word indices used by the hot path (byte offset / 4).
export const W_PROD_HEAD = (HDR.prod + HT.headPos) / 4;
export const W_PROD_TAIL = (HDR.prod + HT.tailPos) / 4;
export const W_PROD_SLEEPERS = (HDR.prod + HT.sleepers) / 4;
export const W_CONS_HEAD = (HDR.cons + HT.headPos) / 4;
export const W_CONS_TAIL = (HDR.cons + HT.tailPos) / 4;
export const W_CONS_SLEEPERS = (HDR.cons + HT.sleepers) / 4;
// 64-bit word indices (RTS head/tail {pos, cnt}).
export const Q_PROD_HEAD = (HDR.prod + HT.headPos) / 8;
export const Q_PROD_TAIL = (HDR.prod + HT.tailPos) / 8;
export const Q_CONS_HEAD = (HDR.cons + HT.headPos) / 8;
export const Q_CONS_TAIL = (HDR.cons + HT.tailPos) / 8;
