/**
 * THE layout of @mp/mempool's shared structures: the group's pool registry, a pool's memzone (header,
 * cache table, owner words, objects) and an mbuf's header. Every offset, size, magic and version lives
 * here and nowhere else. Offsets are from the start of the memzone; integers are little-endian.
 *
 * Registry: memzone `mempool_registry`, one per group, made by the first process that uses a pool.
 * | off  | size   | field                                        | written by                          |
 * |    0 |      4 | magic 'MPMR'                                 | creator, once, last                 |
 * |    4 |      2 | layout version                               | creator, once                       |
 * |    6 |      2 | flags (0)                                    | creator, once                       |
 * |    8 |      4 | lock owner (RobustLock: pid + waiters bit)   | lock takers                         |
 * |   12 |      4 | pool table generation                        | lock holder (create / free); every  |
 * |      |        |                                              | process's handle→pool map checks it |
 * |   16 |      4 | last pool id handed out (ids go round robin) | lock holder                         |
 * |   64 | 32·128 | user table, one entry per eal process slot   | lock holder                         |
 * | 4160 | 64·256 | pool table, entry i = pool id i (0 unused)   | lock holder                         |
 *
 * User entry (32 bytes): a process of the group that uses pools, by its eal process-table slot.
 * | off | size | field                                                                |
 * |   0 |    4 | state (USER_FREE / USER_ACTIVE)                                      |
 * |   4 |    4 | pid                                                                  |
 * |   8 |    8 | start time, ms since the epoch (lo, hi) as eal's process table      |
 * |  16 |    4 | generation: bumped each time a process takes the entry (never reused)|
 * Owner tag of the process = generation << SLOT_BITS | slot (see {@link ownerTag}).
 *
 * Pool entry (64 bytes)
 * | off | size | field                                     |
 * |   0 |    4 | state (POOL_FREE / POOL_USED)             |
 * |  32 |   32 | pool name (NUL-terminated UTF-8)          |
 *
 * Pool memzone `MP_<name>` (free handles live in the @mp/ring `MP_<name>`, elemSize 4, EXACT_SZ n):
 * | off  | size    | field                                   | written by                            |
 * |    0 |       4 | magic 'MPMP'                            | creator, once, last                   |
 * |    4 |       2 | layout version                          | creator, once                         |
 * |    6 |       2 | flags (MEMPOOL_F_*)                     | creator, once                         |
 * |    8 |       4 | n (objects)                             | creator, once                         |
 * |   12 |       4 | eltSize (bytes asked for)               | creator, once                         |
 * |   16 |       4 | stride (bytes between objects)          | creator, once                         |
 * |   20 |       4 | cacheSize                               | creator, once                         |
 * |   24 |       4 | pool id (1..255)                        | creator, once                         |
 * |   28 |       4 | privSize (pool private area)            | creator, once                         |
 * |   32 |      32 | name                                    | creator, once                         |
 * |   64 |       4 | kind (KIND_PLAIN / KIND_PKTMBUF)        | creator, once                         |
 * |   68 |       4 | mbuf data room size (pktmbuf)           | creator, once                         |
 * |   72 |       4 | mbuf private size (pktmbuf, per mbuf)   | creator, once                         |
 * |   76 |       4 | offset of the owner words               | creator, once                         |
 * |   80 |       4 | offset of the private area              | creator, once                         |
 * |   84 |       4 | offset of the objects                   | creator, once                         |
 * |  128 | 64·128  | cache table, one line per cache         | its thread (len on every get/put)     |
 * |   OW |     4·n | owner words, one per object             | see below                             |
 * |   PV | privSize| pool private area                       | the application                       |
 * |   OB | stride·n| objects (stride = eltSize, 64-aligned   | the holder of the object              |
 * |      |         |   unless MEMPOOL_F_NO_CACHE_ALIGN)       |                                       |
 *
 * Cache entry (64 bytes): a per-thread cache's object count, so every process can sum availCount.
 * | off | size | field                                    |
 * |   0 |    4 | owner tag of the process (0 = free; CAS) |
 * |   4 |    4 | objects in the cache                     |
 *
 * Owner word of object i (u32): who is answerable for it.
 * | value          | meaning                                                                  |
 * | OWNER_FREE 0   | in the ring of free handles, or on its way there                          |
 * | a tag          | held, or in a cache, by the process with that tag                          |
 * | OWNER_IN_FLIGHT| released (`pool.release`): sits in a ring/queue, owned by no process      |
 * Transitions: get from the ring FREE→tag (store, after the dequeue); put to the ring tag→FREE (store,
 * before the enqueue); a put into a cache of an object not tagged by this process: CAS old→tag; release:
 * store IN_FLIGHT; adopt: store tag; reclaim of a dead process: CAS deadTag→FREE, only the winner
 * enqueues. A tag is never reused (its generation only grows), so a CAS on a dead tag wins at most once.
 *
 * mbuf (pktmbuf pools): object = header (128 B) | private area (mbuf privSize) | data room. Everything
 * rte_pktmbuf_reset writes is in the first cache line.
 * | off | size | field        | notes                                                          |
 * |   0 |    4 | buf          | handle of the mbuf whose data room this one uses: itself when  |
 * |     |      |              | direct, another mbuf when indirect (a clone; RTE_MBUF_INDIRECT) |
 * |   4 |    4 | next         | next segment's handle, 0 = none                                 |
 * |   8 |    4 | dataOff      | start of the data in the data room                              |
 * |  12 |    4 | dataLen      | bytes of data in this segment                                   |
 * |  16 |    4 | pktLen       | bytes of the whole packet (first segment)                       |
 * |  20 |    4 | bufLen       | data room size                                                  |
 * |  24 |    4 | refcnt       | Atomics when shared                                             |
 * |  28 |    4 | nbSegs       | segments (first segment)                                        |
 * |  32 |    4 | port         | 0xffff = none (RTE_MBUF_PORT_INVALID)                           |
 * |  36 |    4 | queue        |                                                                 |
 * |  40 |    4 | packetType   |                                                                 |
 * |  44 |    4 | rssHash      |                                                                 |
 * |  48 |    4 | vlanTci      |                                                                 |
 * |  52 |    4 | vlanTciOuter |                                                                 |
 * |  56 |    8 | olFlags      | u64                                                             |
 * |  64 |    8 | timestamp    | u64                                                             |
 * |  72 |    4 | privSize     | per-mbuf private area size                                      |
 * |  76 |   52 | reserved     |                                                                 |
 * The owner (rte_mbuf has none; @mp's is who holds it) is the pool's owner word of the mbuf.
 */
import { MAX_PROCS } from '@mp/eal';
import { wordsOf } from '@mp/memory/internal';

export const REG_MAGIC = 0x524d504d; // 'MPMR' little-endian
export const POOL_MAGIC = 0x504d504d; // 'MPMP' little-endian
export const MEMPOOL_VERSION = 1;

/** Memzone of the group's pool registry. */
export const REGISTRY_MZ = 'mempool_registry';
/** DPDK's RTE_MEMPOOL_MZ_PREFIX: the pool's memzone and its ring are both named `MP_<name>`. */
export const MEMPOOL_MZ_PREFIX = 'MP_';
/** Ring names hold 28 bytes; `MP_` takes 3 (DPDK's RTE_MEMPOOL_NAMESIZE - 1 is 28 for the same reason). */
export const MEMPOOL_NAME_MAX = 25;

/** Pool ids 1..255: the top byte of a handle. */
export const POOL_ID_BITS = 8;
export const INDEX_BITS = 24;
export const INDEX_MASK = 0xffffff;
export const MAX_POOLS = (1 << POOL_ID_BITS) - 1;
/** Objects per pool: indices fit in the low 24 bits of a handle. */
export const MAX_OBJECTS = INDEX_MASK;

/** DPDK's RTE_MEMPOOL_CACHE_MAX_SIZE. */
export const CACHE_MAX_SIZE = 512;
/** DPDK's CACHE_FLUSHTHRESH_MULTIPLIER: a cache flushes when it reaches 1.5 × its size. */
export const flushThreshold = (cacheSize: number): number => Math.floor((cacheSize * 3) / 2);
/** Caches (threads) per pool that count in availCount; more still work, uncached. */
export const CACHE_SLOTS = 128;

export const REG = {
  magic: 0,
  version: 4,
  flags: 6,
  lockOwner: 8,
  poolGen: 12,
  lastId: 16,
  users: 64,
  userSize: 32,
  pools: 64 + 32 * MAX_PROCS,
  poolSize: 64,
} as const;
export const USER = { state: 0, pid: 4, startMs: 8, gen: 16 } as const;
/** Word (Uint32Array) indices of the registry header, a user entry and a pool entry. */
export const REG_W = wordsOf(REG, ['magic', 'lockOwner', 'poolGen', 'lastId', 'users', 'userSize', 'pools', 'poolSize'] as const);
export const USER_W = wordsOf(USER, ['state', 'pid', 'startMs', 'gen'] as const);
export const USER_FREE = 0;
export const USER_ACTIVE = 1;
export const POOLE = { state: 0, name: 32, nameSize: 32 } as const;
export const POOLE_W = wordsOf(POOLE, ['state', 'name'] as const);
export const POOL_FREE = 0;
export const POOL_USED = 1;
export const registrySize = (): number => REG.pools + REG.poolSize * (MAX_POOLS + 1);

/** Bits of the eal slot in an owner tag. */
export const SLOT_BITS = Math.ceil(Math.log2(MAX_PROCS));
/** Generations wrap below this, so a tag is never OWNER_IN_FLIGHT. */
export const GEN_MAX = 2 ** (32 - SLOT_BITS) - 2;
/** The owner tag of the process in eal slot `slot` at entry generation `gen` (1..GEN_MAX). */
export const ownerTag = (slot: number, gen: number): number => ((gen << SLOT_BITS) | slot) >>> 0;
export const tagSlot = (tag: number): number => tag & ((1 << SLOT_BITS) - 1);

export const OWNER_FREE = 0;
export const OWNER_IN_FLIGHT = 0xffffffff;

export const HDR = {
  magic: 0,
  version: 4,
  flags: 6,
  n: 8,
  eltSize: 12,
  stride: 16,
  cacheSize: 20,
  poolId: 24,
  privSize: 28,
  name: 32,
  nameSize: 32,
  kind: 64,
  dataRoom: 68,
  mbufPriv: 72,
  ownersOff: 76,
  privOff: 80,
  objsOff: 84,
  caches: 128,
} as const;
/** Word indices of a pool header's 32-bit fields. */
export const HDR_W = wordsOf(HDR, ['magic', 'n', 'eltSize', 'stride', 'cacheSize', 'poolId', 'privSize', 'kind', 'dataRoom', 'mbufPriv', 'ownersOff', 'privOff', 'objsOff', 'caches'] as const);
export const KIND_PLAIN = 0;
export const KIND_PKTMBUF = 1;
export const CACHE_ENTRY = { size: 64, tag: 0, len: 4 } as const;
export const CACHE_ENTRY_W = wordsOf(CACHE_ENTRY, ['size', 'tag', 'len'] as const);
/** Word index of per-process cache entry `s` in a pool header. */
export const cacheWord = (s: number): number => HDR_W.caches + s * CACHE_ENTRY_W.size;

export const CACHE_LINE = 64;
const align = (x: number, a: number): number => Math.ceil(x / a) * a;

/** Where each part of a pool's memzone starts, and its total size. */
export function poolGeometry(n: number, stride: number, privSize: number): { ownersOff: number; privOff: number; objsOff: number; bytes: number } {
  const ownersOff = HDR.caches + CACHE_ENTRY.size * CACHE_SLOTS;
  const privOff = align(ownersOff + 4 * n, CACHE_LINE);
  const objsOff = align(privOff + privSize, CACHE_LINE);
  return { ownersOff, privOff, objsOff, bytes: objsOff + stride * n };
}

// ---- mbuf header -----------------------------------------------------------------------------------------

/** rte_mbuf is two cache lines; so is this header. */
export const MBUF_HDR_SIZE = 128;
/** DPDK's RTE_PKTMBUF_HEADROOM. */
export const PKTMBUF_HEADROOM = 128;
/** DPDK's RTE_MBUF_DEFAULT_BUF_SIZE (2048 + headroom). */
export const MBUF_DEFAULT_BUF_SIZE = 2048 + PKTMBUF_HEADROOM;
/** DPDK's RTE_MBUF_PRIV_ALIGN. */
export const MBUF_PRIV_ALIGN = 8;
/** DPDK's RTE_MBUF_PORT_INVALID. */
export const MBUF_PORT_INVALID = 0xffff;
/** Data room sizes are u16 in rte_mbuf (buf_len). */
export const MBUF_BUF_LEN_MAX = 0xffff;
/** Byte offsets in the mbuf header. */
export const MB = {
  buf: 0,
  next: 4,
  dataOff: 8,
  dataLen: 12,
  pktLen: 16,
  bufLen: 20,
  refcnt: 24,
  nbSegs: 28,
  port: 32,
  queue: 36,
  packetType: 40,
  rssHash: 44,
  vlanTci: 48,
  vlanTciOuter: 52,
  olFlags: 56,
  timestamp: 64,
  privSize: 72,
} as const;
/**
 * The hot path's numbers as a const enum, so that the bundler writes them into the code as literals (a
 * module-level constant is a context-slot load per use in V8's optimized code; literals measured 30 %
 * faster on mbuf alloc). The values are the tables' above, checked at load by {@link checkK}.
 * @internal
 */
export const enum K {
  INDEX_BITS = 24,
  INDEX_MASK = 0xffffff,
  W_BUF = 0,
  W_NEXT = 1,
  W_DATA_OFF = 2,
  W_DATA_LEN = 3,
  W_PKT_LEN = 4,
  W_BUF_LEN = 5,
  W_REFCNT = 6,
  W_NB_SEGS = 7,
  W_PORT = 8,
  W_QUEUE = 9,
  W_PKT_TYPE = 10,
  W_RSS = 11,
  W_VLAN = 12,
  W_VLAN_OUTER = 13,
  W_OL_FLAGS = 14,
  W_TIMESTAMP = 16,
  W_PRIV = 18,
  Q_OL_FLAGS = 7,
  Q_TIMESTAMP = 8,
  PORT_INVALID = 0xffff,
  HEADROOM = 128,
  OWNER_FREE = 0,
  OWNER_IN_FLIGHT = 0xffffffff,
  /** Word index of the registry's pool table generation. */
  REG_GEN_W = 3,
}

// 32-bit word indices in the mbuf header (byte offset / 4), for code outside this package's hot path.
export const W_BUF = K.W_BUF;
export const W_NEXT = K.W_NEXT;
export const W_DATA_OFF = K.W_DATA_OFF;
export const W_DATA_LEN = K.W_DATA_LEN;
export const W_PKT_LEN = K.W_PKT_LEN;
export const W_BUF_LEN = K.W_BUF_LEN;
export const W_REFCNT = K.W_REFCNT;
export const W_NB_SEGS = K.W_NB_SEGS;
export const W_PORT = K.W_PORT;
export const W_QUEUE = K.W_QUEUE;
export const W_PKT_TYPE = K.W_PKT_TYPE;
export const W_RSS = K.W_RSS;
export const W_VLAN = K.W_VLAN;
export const W_VLAN_OUTER = K.W_VLAN_OUTER;
export const W_PRIV = K.W_PRIV;
/** Low word of olFlags / timestamp (the high word follows). */
export const W_OL_FLAGS = K.W_OL_FLAGS;
export const W_TIMESTAMP = K.W_TIMESTAMP;
// 64-bit word indices.
export const Q_OL_FLAGS = K.Q_OL_FLAGS;
export const Q_TIMESTAMP = K.Q_TIMESTAMP;

/** The const enum must say what the tables say. @internal */
export function checkK(): void {
  const pairs: Array<[string, number, number]> = [
    ['INDEX_MASK', K.INDEX_MASK, (1 << INDEX_BITS) - 1],
    ['INDEX_BITS', K.INDEX_BITS, INDEX_BITS],
    ['W_BUF', K.W_BUF, MB.buf / 4],
    ['W_NEXT', K.W_NEXT, MB.next / 4],
    ['W_DATA_OFF', K.W_DATA_OFF, MB.dataOff / 4],
    ['W_DATA_LEN', K.W_DATA_LEN, MB.dataLen / 4],
    ['W_PKT_LEN', K.W_PKT_LEN, MB.pktLen / 4],
    ['W_BUF_LEN', K.W_BUF_LEN, MB.bufLen / 4],
    ['W_REFCNT', K.W_REFCNT, MB.refcnt / 4],
    ['W_NB_SEGS', K.W_NB_SEGS, MB.nbSegs / 4],
    ['W_PORT', K.W_PORT, MB.port / 4],
    ['W_QUEUE', K.W_QUEUE, MB.queue / 4],
    ['W_PKT_TYPE', K.W_PKT_TYPE, MB.packetType / 4],
    ['W_RSS', K.W_RSS, MB.rssHash / 4],
    ['W_VLAN', K.W_VLAN, MB.vlanTci / 4],
    ['W_VLAN_OUTER', K.W_VLAN_OUTER, MB.vlanTciOuter / 4],
    ['W_OL_FLAGS', K.W_OL_FLAGS, MB.olFlags / 4],
    ['W_TIMESTAMP', K.W_TIMESTAMP, MB.timestamp / 4],
    ['W_PRIV', K.W_PRIV, MB.privSize / 4],
    ['Q_OL_FLAGS', K.Q_OL_FLAGS, MB.olFlags / 8],
    ['Q_TIMESTAMP', K.Q_TIMESTAMP, MB.timestamp / 8],
    ['PORT_INVALID', K.PORT_INVALID, MBUF_PORT_INVALID],
    ['HEADROOM', K.HEADROOM, PKTMBUF_HEADROOM],
    ['OWNER_FREE', K.OWNER_FREE, OWNER_FREE],
    ['OWNER_IN_FLIGHT', K.OWNER_IN_FLIGHT, OWNER_IN_FLIGHT],
    ['REG_GEN_W', K.REG_GEN_W, REG.poolGen / 4],
  ];
  for (const [name, k, want] of pairs) if (k !== want) throw new Error(`@mp/mempool layout: ${name} is ${k}, the table says ${want}`);
}
checkK();
