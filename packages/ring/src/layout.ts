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
 * |  64 |   64 | guard (RTE_CACHE_GUARD)        | nobody                                       |
 * | 128 |    8 | prod.head {pos u32, cnt u32}   | producers (CAS; cnt used by RTS only)        |  own cache line
 * | 136 |    8 | prod.tail {pos u32, cnt u32}   | producers (in order; RTS: CAS)               |
 * | 144 |    4 | prod sync type (SYNC_*)        | creator, once                                |
 * | 148 |    4 | prod htd max (RTS)             | creator, once                                |
 * | 152 |    8 | consumers asleep on prod.tail  | each sleeping consumer its bit (Sleepers)    |
 * | 160 |    4 | futex wakes issued by producers| producers (only when they wake)              |
 * | 192 |   64 | guard                          | nobody                                       |
 * | 256 |   24 | cons.head / tail / sync / htd  | consumers — same shape as prod               |  own cache line
 * | 280 |    8 | producers asleep on cons.tail  | each sleeping producer its own bit           |
 * | 288 |    4 | futex wakes issued by consumers| consumers (only when they wake)              |
 * | 320 |   64 | guard                          | nobody                                       |
 * | 384 |128·P | participant table              | each participant a line + a guard line       |
 * |  S  |  n·e | slots                          | enqueue (copies), dequeue reads              |  n = 2^k, S = 384 + 128·P
 *
 * Guard lines: x86 cores fetch cache lines in aligned pairs (the adjacent-line prefetcher), so two lines
 * written by different cores must not share a 128-byte pair, or each write costs a coherence miss even
 * though no byte is shared. DPDK pads its head/tail lines the same way (RTE_CACHE_GUARD). Every line
 * written on the hot path — prod line, cons line, each participant's record — owns its 128-byte pair.
 *
 * Participant entry (64 bytes, one cache line, then a guard line): who holds an in-flight reservation on a multi-producer /
 * multi-consumer side (MP, MC, HTS, RTS), so that a waiter stuck behind it can name a dead owner; and
 * who sleeps in a blocking call (its bit in a sleeper mask), so that a dead sleeper can be taken back.
 * | off | size | field                                            |
 * |   0 |    4 | owner pid (0 = free; claimed with CAS)           |
 * |   4 |    4 | owner thread id (worker_threads.threadId)        |
 * |   8 |    4 | prod state (REC_IDLE / REC_BUSY / REC_ABANDONED)  |
 * |  12 |    4 | prod pos: the head this owner reserved from      |
 * |  16 |    4 | prod culprit: pid blamed when it abandoned        |
 * |  20 |    4 | cons state                                       |
 * |  24 |    4 | cons pos                                         |
 * |  28 |    4 | cons culprit                                     |
 * |  32 |    4 | prod sleeps: this thread's producer waits asleep |
 * |  36 |    4 | cons sleeps: this thread's consumer waits asleep |
 * |  40 |   24 | reserved                                         |
 *
 * A reservation record is written (pos, then state BUSY) before the CAS that claims the head, and set
 * back to IDLE after the tail is published: a reservation without a record can't exist.
 *
 * Freed rings: free() clears the magic and the instance id and bumps the epoch before the memzone goes
 * back. Every handle compares the epoch on each element call (it did already, for reset()); a changed
 * epoch makes it re-read magic and instance id, so a handle elsewhere notices a freed ring (or a new ring
 * made at the same place) before it writes a byte. Version 2: the name field shrank to 28 bytes (names
 * are at most 28) to make room for the instance id. Version 3: guard lines (above); participant entries
 * 128 bytes apart. Version 4: sleepers as a mask of participant entries (below) instead of a count, and
 * the futex-wake counters. A reader of another version is refused with EPROTO naming both versions (a v3
 * process would read the mask as a count and miss the wake counters).
 *
 * Sleepers: a blocked call registers on the line of the tail it sleeps on by setting its participant
 * entry's bit in that line's mask (every thread that sleeps has an entry: a single-producer/consumer ring
 * claims one at the first sleep) and counts the waits in its entry (only the entry's thread writes it;
 * the bit goes when its count is back to 0). A publisher wakes when the mask is not 0. A process killed
 * asleep leaves only its own bit: recover(), a publisher whose wake woke nobody, and the next waiter on
 * that tail clear the bits of dead entries (pid gone) — never a count that live sleepers share.
 */

export const RING_MAGIC = 0x4752504d; // 'MPRG' little-endian
export const RING_VERSION = 4;

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
  prod: 128,
  cons: 256,
  participantTable: 384,
} as const;

/** Byte offsets inside a head/tail line (prod at 64, cons at 128). */
export const HT = {
  headPos: 0,
  headCnt: 4,
  tailPos: 8,
  tailCnt: 12,
  sync: 16,
  htdMax: 20,
  /**
   * On the prod line: consumers asleep waiting for data; on the cons line: producers waiting for room. A
   * mask of participant entries, 64 bits as two words (entries 0–31, 32–63).
   */
  sleepMask: 24,
  /** Futex wakes this side issued (prod line: producers waking consumers). */
  wakes: 32,
} as const;

export const PART = {
  /** Bytes of an entry's fields (one cache line); entries are PART.stride apart. */
  size: 64,
  /** An entry and its guard line. */
  stride: 128,
  pid: 0,
  tid: 4,
  prodState: 8,
  prodPos: 12,
  prodCulprit: 16,
  consState: 20,
  consPos: 24,
  consCulprit: 28,
  prodSleeps: 32,
  consSleeps: 36,
} as const;

export const REC_IDLE = 0;
export const REC_BUSY = 1;
export const REC_ABANDONED = 2;

/**
 * Participant slots per ring: threads/processes that may use a multi-producer or multi-consumer side, or
 * sleep in a blocking call. The sleeper masks hold one bit each: two 32-bit words.
 */
export const PARTICIPANTS = 64;
export const SLEEP_MASK_WORDS = PARTICIPANTS / 32;

/** Sync types of a side, as DPDK's `enum rte_ring_sync_type`. */
export const SYNC_MT = 0;
export const SYNC_ST = 1;
export const SYNC_MT_RTS = 2;
export const SYNC_MT_HTS = 3;

/** Bytes of a 32-bit word: elements are multiples of it, slots are addressed in it. */
export const WORD_BYTES = Uint32Array.BYTES_PER_ELEMENT;
/** Default element size (one word; DPDK's classic ring holds 8-byte pointers). */
export const DEFAULT_ELEM_SIZE = WORD_BYTES;

export const CACHE_LINE = 64;
/** The unit the adjacent-line prefetcher moves: a ring's memzone is aligned to it (see Guard lines). */
export const CACHE_PAIR = 2 * CACHE_LINE;

/** Offset of the slots. */
export const slotsOffset = (participants = PARTICIPANTS): number => HDR.participantTable + PART.stride * participants;

/** Bytes of the memzone holding a ring of `size` slots of `elemSize` bytes. */
export const ringMemSize = (size: number, elemSize: number, participants = PARTICIPANTS): number =>
  slotsOffset(participants) + size * elemSize;

// ---- word indices: every index the code uses, computed here (byte offset / 4), never divided elsewhere ----

/** 32-bit words of the header fields (Int32Array / Uint32Array over the ring). */
export const W_MAGIC = HDR.magic / 4;
export const W_SIZE = HDR.size / 4;
export const W_MASK = HDR.mask / 4;
export const W_CAPACITY = HDR.capacity / 4;
export const W_ELEM_SIZE = HDR.elemSize / 4;
export const W_PARTICIPANTS = HDR.participants / 4;
export const W_EPOCH = HDR.epoch / 4;
export const W_INSTANCE = HDR.instance / 4;
/** Words before the participant table (the header and both head/tail lines). */
export const W_HEADER_END = HDR.participantTable / 4;
/** 16-bit halves of the first word (Uint16Array over the ring). */
export const H_VERSION = HDR.version / 2;
export const H_FLAGS = HDR.flags / 2;

// Producer line.
export const W_PROD_HEAD = (HDR.prod + HT.headPos) / 4;
export const W_PROD_HEAD_CNT = (HDR.prod + HT.headCnt) / 4;
export const W_PROD_TAIL = (HDR.prod + HT.tailPos) / 4;
export const W_PROD_TAIL_CNT = (HDR.prod + HT.tailCnt) / 4;
export const W_PROD_SYNC = (HDR.prod + HT.sync) / 4;
export const W_PROD_HTD_MAX = (HDR.prod + HT.htdMax) / 4;
export const W_PROD_SLEEP_MASK = (HDR.prod + HT.sleepMask) / 4;
export const W_PROD_WAKES = (HDR.prod + HT.wakes) / 4;
// Consumer line.
export const W_CONS_HEAD = (HDR.cons + HT.headPos) / 4;
export const W_CONS_HEAD_CNT = (HDR.cons + HT.headCnt) / 4;
export const W_CONS_TAIL = (HDR.cons + HT.tailPos) / 4;
export const W_CONS_TAIL_CNT = (HDR.cons + HT.tailCnt) / 4;
export const W_CONS_SYNC = (HDR.cons + HT.sync) / 4;
export const W_CONS_HTD_MAX = (HDR.cons + HT.htdMax) / 4;
export const W_CONS_SLEEP_MASK = (HDR.cons + HT.sleepMask) / 4;
export const W_CONS_WAKES = (HDR.cons + HT.wakes) / 4;
// 64-bit word indices (RTS head/tail {pos, cnt}; BigUint64Array over the header).
export const Q_PROD_HEAD = (HDR.prod + HT.headPos) / 8;
export const Q_PROD_TAIL = (HDR.prod + HT.tailPos) / 8;
export const Q_CONS_HEAD = (HDR.cons + HT.headPos) / 8;
export const Q_CONS_TAIL = (HDR.cons + HT.tailPos) / 8;
/** 64-bit words before the participant table. */
export const Q_HEADER_END = HDR.participantTable / 8;

/** RTS {pos, cnt}: pos is the low 32 bits, cnt the high 32 (little-endian words). */
export const RTS_POS_MASK = 0xffffffffn;
export const RTS_CNT_SHIFT = 32n;

// Participant entries: word index of entry p, and word offsets inside an entry.
export const P_WORDS = PART.stride / 4;
/** Word index of participant entry `p` (0 ≤ p < PARTICIPANTS). */
export const partWord = (p: number): number => HDR.participantTable / 4 + p * P_WORDS;
export const P_PID = PART.pid / 4;
export const P_TID = PART.tid / 4;
export const P_PROD_STATE = PART.prodState / 4;
export const P_PROD_POS = PART.prodPos / 4;
export const P_PROD_CULPRIT = PART.prodCulprit / 4;
export const P_CONS_STATE = PART.consState / 4;
export const P_CONS_POS = PART.consPos / 4;
export const P_CONS_CULPRIT = PART.consCulprit / 4;
export const P_PROD_SLEEPS = PART.prodSleeps / 4;
export const P_CONS_SLEEPS = PART.consSleeps / 4;
/** Participant index of entry word `e` (its bit in a sleeper mask). */
export const partIndex = (e: number): number => (e - HDR.participantTable / 4) / P_WORDS;

/**
 * The words of one side, as DPDK's `struct rte_ring_headtail` plus what @mp adds. One head move serves
 * both sides through these (DPDK's move_head takes the side's own head/tail `d` and the other side's
 * tail `s`): the producer side's own line is `prod` and its "other tail" is `cons.tail`, and vice versa.
 */
export interface SideWords {
  readonly head: number;
  readonly tail: number;
  readonly qHead: number;
  readonly qTail: number;
  readonly sync: number;
  readonly htdMax: number;
  /** The other side's tail: what bounds this side's head. */
  readonly otherTail: number;
  /** Mask (two words) of the other side's waiters asleep on this side's tail (checked after each publish). */
  readonly wakeSleepers: number;
  /** Mask (two words) where this side's blocked callers register (asleep on the other side's tail). */
  readonly ownSleepers: number;
  /** This side's futex-wake counter. */
  readonly wakes: number;
  /** Word offset of this side's sleep count inside a participant entry. */
  readonly recSleeps: number;
  /** Word offsets of this side's reservation record inside a participant entry. */
  readonly recState: number;
  readonly recPos: number;
  readonly recCulprit: number;
}

export const PROD_WORDS: SideWords = {
  head: W_PROD_HEAD,
  tail: W_PROD_TAIL,
  qHead: Q_PROD_HEAD,
  qTail: Q_PROD_TAIL,
  sync: W_PROD_SYNC,
  htdMax: W_PROD_HTD_MAX,
  otherTail: W_CONS_TAIL,
  wakeSleepers: W_PROD_SLEEP_MASK,
  ownSleepers: W_CONS_SLEEP_MASK,
  wakes: W_PROD_WAKES,
  recSleeps: P_PROD_SLEEPS,
  recState: P_PROD_STATE,
  recPos: P_PROD_POS,
  recCulprit: P_PROD_CULPRIT,
};

export const CONS_WORDS: SideWords = {
  head: W_CONS_HEAD,
  tail: W_CONS_TAIL,
  qHead: Q_CONS_HEAD,
  qTail: Q_CONS_TAIL,
  sync: W_CONS_SYNC,
  htdMax: W_CONS_HTD_MAX,
  otherTail: W_PROD_TAIL,
  wakeSleepers: W_CONS_SLEEP_MASK,
  ownSleepers: W_PROD_SLEEP_MASK,
  wakes: W_CONS_WAKES,
  recSleeps: P_CONS_SLEEPS,
  recState: P_CONS_STATE,
  recPos: P_CONS_POS,
  recCulprit: P_CONS_CULPRIT,
};

/** RTS: DPDK's default head/tail distance is capacity / HTD_MAX_DIVISOR. */
export const HTD_MAX_DIVISOR = 8;
