/**
 * THE layout of the group's shared `config` file (in the runtime dir, mapped by every process). Every
 * offset, size, magic and version of it lives here and nowhere else; @mp/memory's region inside it is
 * laid out by @mp/memory's own layout.ts.
 *
 * Header
 * | off | size | field                   | written by                                   |
 * |   0 |    4 | magic 'MPCF'            | primary, last step of format                 |
 * |   4 |    2 | layout version          | primary, once                                |
 * |   6 |    2 | option flags (CFGF_*)   | primary, once (what secondaries must match)  |
 * |   8 |    4 | state (ST_*)            | primary                                      |
 * |  12 |    4 | primary pid             | primary (a new primary adopting the group)   |
 * |  16 |    4 | primary generation      | bumped by each primary that adopts the group |
 * |  20 |    4 | table lock owner pid    | table-lock holder (0 when free; RobustLock)  |
 * |  24 |    4 | max processes           | primary, once                                |
 * |  28 |    4 | memory region offset    | primary, once                                |
 * |  32 |    4 | process table generation| table-lock holder, bumped on join/leave      |
 * |  36 |    4 | owns runtime dir (0/1)  | primary, at format (inherited from a stale   |
 * |     |      |                         | config): the group made its dir, so removes it|
 * |  40 |    4 | exit log head           | table-lock holder: seq of the last exit logged|
 * |  64 | 64·P | process table           | table-lock holder                            |
 * |  EL | 64·X | exit log (ring)         | table-lock holder, one entry per freed slot  |
 * |  MR |   …  | @mp/memory region       | see @mp/memory layout.ts                     |
 *
 * Process entry (64 bytes)
 * | off | size | field                                   |
 * |   0 |    4 | state (PS_FREE/PS_JOINING/PS_ALIVE)     |
 * |   4 |    4 | pid                                     |
 * |   8 |    4 | type (1 primary, 2 secondary)           |
 * |  12 |    4 | reserved                                |
 * |  16 |    8 | start time, ms since the epoch (lo, hi) |
 * |  24 |   16 | lcore bitmap (lcores 0..127)            |
 * |  40 |   24 | reserved                                |
 *
 * Exit log entry (64 bytes; EL = 64 + 64·P, X = EXIT_LOG_LEN entries, entry of seq q at q mod X): the
 * process entry of every slot freed (its process left or died, whoever reclaimed it), copied under the
 * table lock before the slot can be claimed again, so that every process reports every exit — also of a
 * process it never saw alive, whose slot somebody else reclaimed (Eal.watch, exit-log.ts).
 * | off | size | field                                              |
 * |   0 |    4 | seq (written first; the head is stored after the entry) |
 * |   4 |    4 | pid                                                |
 * |   8 |    4 | type                                               |
 * |  12 |    4 | slot                                               |
 * |  16 |    8 | start time, ms since the epoch (lo, hi)            |
 * |  24 |   16 | lcore bitmap                                       |
 * |  40 |   24 | reserved                                           |
 *
 * OFD record-lock ranges on the config file (lock ranges, not data; far beyond EOF):
 * | byte          | held by                                    | meaning                       |
 * | LOCK_BASE     | the primary, exclusively, for its lifetime; | primary alive                 |
 * |               | or the last process out while it removes   | group ending: wait, retry     |
 * |               | the group's files (state ST_CLOSING)        |                               |
 * | LOCK_BASE+1   | (unused since layout 2)                    |                               |
 * | LOCK_BASE+64+i| the process in slot i, for its lifetime    | slot i's process alive        |
 * | @mp/memory LOCK_LIVE_BASE + pid | each process that took the table lock, read-locked, for its lifetime | pid alive (RobustLock takers ask) |
 * The table lock itself is the owner word at offset 20 (RobustLock: compare-and-swap + futex).
 *
 * Layout 4 (this): the exit log (a layout-3 process would free slots without logging them).
 * Layout 3: the last process out — a secondary too — ends the group, holding LOCK_BASE while it
 * removes the files; the owns-runtime-dir word. A layout-2 process would neither clean up nor wait.
 * Layout 2: the table lock became a futex word with liveness read locks (was an OFD lock at
 * LOCK_BASE+1); processes of layout 1 and 2 would not exclude each other, hence the version.
 */

import { wordsOf } from '@mp/memory/internal';

export const CFG_MAGIC = 0x4643504d; // 'MPCF' little-endian
export const CFG_VERSION = 4;

export const CFGF_NO_HUGE = 1 << 0;
export const CFGF_SINGLE_FILE = 1 << 1;
export const CFGF_LEGACY_MEM = 1 << 2;

export const CFG = {
  magic: 0,
  version: 4,
  flags: 6,
  state: 8,
  primaryPid: 12,
  primaryGen: 16,
  lockOwner: 20,
  maxProcs: 24,
  memOffset: 28,
  procGen: 32,
  ownsDir: 36,
  exitSeq: 40,
  procTable: 64,
} as const;

/** Word (Uint32Array) indices of the header's 32-bit fields. */
export const CFG_W = wordsOf(CFG, ['magic', 'state', 'primaryPid', 'primaryGen', 'lockOwner', 'maxProcs', 'memOffset', 'procGen', 'ownsDir', 'exitSeq', 'procTable'] as const);

export const ST_FORMATTING = 0;
export const ST_READY = 1;
export const ST_CLOSING = 2;

export const PROC = {
  size: 64,
  state: 0,
  pid: 4,
  type: 8,
  startMs: 16,
  lcores: 24,
  lcoreWords: 4,
} as const;
/** Word indices of a process-table entry (`size`: words per entry). */
export const PROC_W = wordsOf(PROC, ['size', 'state', 'pid', 'type', 'startMs', 'lcores'] as const);
/** Word index of process-table entry `i`. */
export const procWord = (i: number): number => CFG_W.procTable + i * PROC_W.size;
export const PS_FREE = 0;
export const PS_JOINING = 1;
export const PS_ALIVE = 2;
export const PT_PRIMARY = 1;
export const PT_SECONDARY = 2;

/** RTE_MAX_LCORE. */
export const MAX_LCORE = PROC.lcoreWords * 32;
/** The lcores of the bit set of PROC.lcoreWords words at `u32[w]` (a process entry's or a logged exit's). */
export function lcoresAt(u32: Uint32Array, w: number): number[] {
  const lcores: number[] = [];
  for (let k = 0; k < PROC.lcoreWords; k++) {
    const bits = Atomics.load(u32, w + k);
    for (let b = 0; b < 32; b++) if (bits & (1 << b)) lcores.push(k * 32 + b);
  }
  return lcores;
}
export const MAX_PROCS = 128;

export const LOCK_BASE = 2 ** 40;
export const LOCK_PRIMARY = LOCK_BASE;
export const lockSlot = (i: number): number => LOCK_BASE + 64 + i;

/** Entries of the exit log: exits a process can miss while it does not look (more are reported lost). */
export const EXIT_LOG_LEN = 256;
export const EXIT = {
  size: 64,
  seq: 0,
  pid: 4,
  type: 8,
  slot: 12,
  startMs: 16,
  lcores: 24,
  /** Offset of the log in the config: right after the process table. */
  log: CFG.procTable + PROC.size * MAX_PROCS,
} as const;
/** Word indices of an exit log entry (`size`: words per entry; `log`: the log's first word). */
export const EXIT_W = wordsOf(EXIT, ['size', 'seq', 'pid', 'type', 'slot', 'startMs', 'lcores', 'log'] as const);
/** Word index of the exit log entry holding sequence number `seq`. */
export const exitWord = (seq: number): number => EXIT_W.log + ((seq >>> 0) % EXIT_LOG_LEN) * EXIT_W.size;

/** Offset of @mp/memory's region: after the process table and the exit log, on a 4 KiB boundary. */
export const memRegionOffset = (): number => Math.ceil((EXIT.log + EXIT.size * EXIT_LOG_LEN) / 4096) * 4096;
