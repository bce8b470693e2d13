import { closeSync } from 'node:fs';
import { MpError, RobustLock, TSO, groupMemory, memzone, openOwnedFile, validateName, MEMZONE_NAME_MAX } from '@mp/memory';
import { crashPoint, log } from '@mp/memory/internal';
import type { GroupMemory, Memzone } from '@mp/memory';
import { CRC32C_TABLES, crc32cWords, jhashWords, loadWords } from './hashfn.js';
import {
  BUCKET,
  BUCKET_ENTRIES,
  ENTRIES_MAX,
  F_EXT,
  F_LF,
  F_MULTI_WRITER,
  HASH_FUNC_IDS,
  HASH_MAGIC,
  HASH_VERSION,
  HDR,
  SLOT,
  geometry,
} from './layout.js';

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

const MISS = -1;
const RETRY = -2;
/** Bound on lookup restarts while writers keep moving keys (never spin forever). */
const MAX_RETRIES = 100_000;
const BFS_QUEUE = 1000;
const TWO32 = 2 ** 32;
const CRASH = process.env.MP_TEST_CRASH;
const crash = (point: string): void => {
  if (CRASH === point) crashPoint(point);
};

/**
 * A store other processes may read without a lock: plain on x86 (a release store there, and V8 keeps
 * typed-array stores in program order: see @mp/memory's TSO), Atomics.store elsewhere.
 */
function publish(a: Uint32Array, i: number, v: number): void {
  if (TSO) a[i] = v;
  else Atomics.store(a, i, v);
}

/**
 * Re-read a word other processes write (a seqlock's closing read, the change counter after a miss): on
 * x86 a plain load through the second view `r32` (see @mp/memory's TSO), else Atomics.load. Chosen once
 * here, so hot paths neither test TSO nor see Atomics.load's untyped result.
 */
const reread: (u32: Uint32Array, r32: Uint32Array, i: number) => number = TSO ? (_u32, r32, i) => r32[i]! : (u32, _r32, i) => Atomics.load(u32, i);

/** Keys per pass of a bulk lookup. */
const BULK_CHUNK = 64;
/** Index of the lowest set bit. */
const ctz = (x: number): number => 31 - Math.clz32(x & -x);
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
/**
 * Bit i set when entry i of the bucket at u32 index `w` may hold signature `sig`: the eight 16-bit
 * signatures are compared two per word (SWAR zero-lane test on word ^ sig·0x10001). A lane just above a
 * matching one can be flagged falsely (borrow); a key compare settles every candidate, so that costs only
 * a compare, and a real match is never missed.
 */
function sigMatches(u32: Uint32Array, w: number, sig: number): number {
  const two = sig * 0x10001;
  let mk = 0;
  for (let j = 0; j < BUCKET_ENTRIES / 2; j++) {
    const x = u32[w + BUCKET.sigU16 / 2 + j]! ^ two;
    const z = (x - 0x10001) & ~x & 0x80008000;
    // Lane 0 (bit 15) is entry 2j on a little-endian CPU, entry 2j + 1 on a big-endian one.
    const lo = (z >>> 15) & 1;
    const hi = (z >>> 31) & 1;
    mk |= (LITTLE_ENDIAN ? lo | (hi << 1) : hi | (lo << 1)) << (2 * j);
  }
  return mk;
}

const CNT = HDR.tblChngCnt / 4;
const WRITER = HDR.writerPid / 4;
const COUNT = HDR.count / 4;
const KTOP = HDR.freeKeysTop / 4;
const ETOP = HDR.freeExtTop / 4;

const attached = new WeakMap<GroupMemory, Map<string, Hash>>();
function cacheOf(): Map<string, Hash> {
  const g = groupMemory();
  let m = attached.get(g);
  if (m === undefined) attached.set(g, (m = new Map()));
  return m;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as { code?: string }).code === 'EPERM';
  }
}

/**
 * A whole lookup: validate the key, load its words, search both main buckets, compare and read the data
 * under the slot's seqlock; when that does not settle it (not there, a chain, a slot being rewritten, a
 * miss that must be checked against the change counter) the full protocol (Hash.findSlow). Returns the
 * position or -1. Called with `this` = the table; the data lands in dLo/dHi.
 */
type Probe = (this: Hash, key: Uint8Array, h: number) => number;

/** Longest key (in 32-bit words) that gets an unrolled probe; longer keys use the generic loop. */
const PROBE_UNROLL_WORDS = 16;

/**
 * The probe of one table, compiled when a process attaches it: the table's geometry is written into the
 * code as constants and the key's words are loaded into locals and compared without a loop (DPDK likewise
 * picks a compare function per key length, rte_hash_k16_cmp_eq and its siblings). Undefined for keys
 * longer than PROBE_UNROLL_WORDS words.
 */
/**
 * Source of the table's hash function over a key of `keyLen` bytes whose 32-bit words (little-endian, zero
 * padded) are the expressions `word(j)`: a block that sets the already declared `h` (unsigned). crc32c is
 * crc32cWords unrolled (slicing by 4 over the tables `t`); jhash is jhashWords unrolled.
 */
function hashCode(fnId: number, keyLen: number, initVal: number, word: (j: number) => string): string {
  const out: string[] = ['{'];
  if (fnId === HASH_FUNC_IDS.crc32c) {
    out.push(`let c = ${initVal >>> 0};`, 'let x = 0;');
    for (let j = 0; j < keyLen >>> 2; j++) {
      out.push(`x = (c ^ ${word(j)}) >>> 0; c = t[768 + (x & 255)] ^ t[512 + ((x >>> 8) & 255)] ^ t[256 + ((x >>> 16) & 255)] ^ t[x >>> 24];`);
    }
    if ((keyLen & 3) !== 0) {
      out.push(`x = ${word(keyLen >>> 2)};`);
      for (let r = 0; r < (keyLen & 3); r++) out.push('c = t[(c ^ x) & 255] ^ (c >>> 8); x >>>= 8;');
    }
  } else {
    const rot = (v: string, k: number): string => `((${v} << ${k}) | (${v} >>> ${32 - k}))`;
    out.push(`let a = ${(0xdeadbeef + keyLen + initVal) | 0};`, 'let b = a;', 'let c = a;');
    let i = 0;
    let n = keyLen;
    for (; n > 12; i += 3, n -= 12) {
      out.push(`a = (a + ${word(i)}) | 0; b = (b + ${word(i + 1)}) | 0; c = (c + ${word(i + 2)}) | 0;`);
      for (const [x, y, z, k] of [['a', 'c', 'b', 4], ['b', 'a', 'c', 6], ['c', 'b', 'a', 8], ['a', 'c', 'b', 16], ['b', 'a', 'c', 19], ['c', 'b', 'a', 4]] as const) {
        out.push(`${x} = (${x} - ${y}) | 0; ${x} ^= ${rot(y, k)}; ${y} = (${y} + ${z}) | 0;`);
      }
    }
    out.push(`a = (a + ${word(i)}) | 0;`);
    if (n > 4) out.push(`b = (b + ${word(i + 1)}) | 0;`);
    if (n > 8) out.push(`c = (c + ${word(i + 2)}) | 0;`);
    for (const [x, y, k] of [['c', 'b', 14], ['a', 'c', 11], ['b', 'a', 25], ['c', 'b', 16], ['a', 'c', 4], ['b', 'a', 14], ['c', 'b', 24]] as const) {
      out.push(`${x} ^= ${y}; ${x} = (${x} - ${rot(y, k)}) | 0;`);
    }
  }
  out.push('h = c >>> 0;', '}');
  return out.join('\n    ');
}

/** Source snippets of a compiled lookup for keys of `keyLen` bytes (≤ PROBE_UNROLL_WORDS words). */
function keyCode(keyLen: number): { validate: string; load: string; cmp: string } {
  const words = (keyLen + 3) >>> 2;
  const load: string[] = [];
  const cmp: string[] = [];
  for (let i = 0; i < words; i++) {
    const bytes: string[] = [];
    for (let b = 0; b < 4 && i * 4 + b < keyLen; b++) bytes.push(b === 0 ? `key[${i * 4}]` : `(key[${i * 4 + b}] << ${8 * b})`);
    load.push(`const k${i} = ${bytes.join(' | ')};`);
    cmp.push(`i32[kk + ${i}] === k${i}`);
  }
  return {
    validate: `if (!(key instanceof Uint8Array) || key.length !== ${keyLen}) this.badKey(key);`,
    load: load.join('\n    '),
    cmp: cmp.join(' && '),
  };
}

/**
 * The table's hash(), compiled from the same snippets as its lookup (so the tests of hash() against the
 * standalone crc32c/jhash, themselves checked against DPDK's vectors, cover the lookup's inlined hash).
 */
function compileHash(fnId: number, keyLen: number, initVal: number): ((key: Uint8Array) => number) | undefined {
  if ((keyLen + 3) >>> 2 > PROBE_UNROLL_WORDS) return undefined;
  const k = keyCode(keyLen);
  const src = `
    ${k.validate}
    ${k.load}
    let h = 0;
    ${hashCode(fnId, keyLen, initVal, (j) => `k${j}`)}
    return h;`;
  return (new Function('t', `return function hash(key) {${src}\n  };`) as (t: Uint32Array) => (key: Uint8Array) => number)(CRC32C_TABLES);
}

function compileProbe(
  g: { keyLen: number; mask: number; bw: number; kw0: number; slotWords: number; initVal: number; fnId: number },
  buf: ArrayBufferLike,
  hashing: boolean,
): Probe | undefined {
  const { keyLen } = g;
  const words = (keyLen + 3) >>> 2;
  if (words > PROBE_UNROLL_WORDS) return undefined;
  const k = keyCode(keyLen);
  let head: string;
  if (hashing) {
    head = `
    ${k.validate}
    ${k.load}
    let h = 0;
    ${hashCode(g.fnId, keyLen, g.initVal, (j) => `k${j}`)}
    const sig = h >>> 16;
    let b = h & ${g.mask};
    let w = ${g.bw} + b * ${BUCKET.words};
    let s16 = w * 2;
    const first = u16[s16];`;
  } else {
    // The primary bucket's first signature word is loaded before anything else, so its cache miss is
    // under way while the key is validated and loaded (and, in a loop of lookups, while the previous one
    // finishes).
    head = `
    h >>>= 0;
    const sig = h >>> 16;
    let b = h & ${g.mask};
    let w = ${g.bw} + b * ${BUCKET.words};
    let s16 = w * 2;
    const first = u16[s16];
    ${k.validate}
    ${k.load}`;
  }
  const src = `${head}
    for (let pass = 0; pass < 2; pass++) {
      for (let i = 0; i < ${BUCKET_ENTRIES}; i++) {
        if ((i === 0 && pass === 0 ? first : u16[s16 + i]) !== sig) continue;
        const k = u32[w + ${BUCKET.keyIdxW} + i];
        const s = ${g.kw0} + k * ${g.slotWords};
        const v = u32[s];
        const kk = s + ${SLOT.keyW};
        if (!(${k.cmp}) || k === 0 || (v & 1) !== 0) continue;
        const d = s + ${SLOT.dataW} + (v & 2);
        this.dLo = u32[d];
        this.dHi = u32[d + 1];
        if ((${TSO ? 'r32[s]' : 'Atomics.load(u32, s)'}) === v) return k - 1;
        break;
      }
      b = (b ^ sig) & ${g.mask};
      w = ${g.bw} + b * ${BUCKET.words};
      s16 = w * 2;
    }
    return this.findSlow(key, h);`;
  const make = new Function('u32', 'r32', 'i32', 'u16', 't', `return function ${hashing ? 'lookup(key)' : 'probe(key, h)'} {${src}\n  };`) as (
    ...views: [Uint32Array, Uint32Array, Int32Array, Uint16Array, Uint32Array]
  ) => Probe;
  return make(new Uint32Array(buf), new Uint32Array(buf), new Int32Array(buf), new Uint16Array(buf), CRC32C_TABLES);
}

/**
 * Passes 2 and 3 of a bulk lookup over the chunk's m keys, whose primary buckets (word index in bp[i])
 * were just touched: signature matches (bm[i]) and a touch of the first candidate's key slot for every
 * key, then the key compares. A hit writes positions[start + i] (and data); a key not settled here gets
 * MISS or RETRY there and its index in pend. Returns how many went to pend.
 */
type PrimaryPass = (kv: Uint32Array, kb: number, m: number, positions: Int32Array, start: number, data: Float64Array | undefined) => number;

/** The bulk lookup's {@link PrimaryPass} for one table, compiled as {@link compileProbe} is. */
function compilePrimaryPass(
  g: { keyLen: number; bw: number; kw0: number; slotWords: number },
  buf: ArrayBufferLike,
  scratch: { bh: Uint32Array; bp: Int32Array; bm: Uint32Array; pend: Int32Array; sink: Int32Array },
): PrimaryPass | undefined {
  const words = (g.keyLen + 3) >>> 2;
  if (words > PROBE_UNROLL_WORDS || (g.keyLen & 3) !== 0) return undefined;
  const cmp = Array.from({ length: words }, (_, j) => `u32[s + ${SLOT.keyW + j}] === kv[at + ${j}]`).join(' && ');
  const lanes: string[] = [];
  for (let j = 0; j < BUCKET_ENTRIES / 2; j++) {
    const [lo, hi] = LITTLE_ENDIAN ? [2 * j, 2 * j + 1] : [2 * j + 1, 2 * j];
    lanes.push(`{ const x = u32[w + ${BUCKET.sigU16 / 2 + j}] ^ two; const z = (x - 0x10001) & ~x & 0x80008000; mk |= (((z >>> 15) & 1) << ${lo}) | ((z >>> 31) << ${hi}); }`);
  }
  const src = `
    let touch = 0;
    for (let i = 0; i < m; i++) {
      const w = bp[i];
      const two = (bh[i] >>> 16) * 0x10001;
      let mk = 0;
      ${lanes.join('\n      ')}
      bm[i] = mk;
      if (mk !== 0) touch ^= u32[${g.kw0} + u32[w + ${BUCKET.keyIdxW} + 31 - Math.clz32(mk & -mk)] * ${g.slotWords}];
    }
    sink[0] ^= touch;
    let np = 0;
    outer: for (let i = 0; i < m; i++) {
      const w = bp[i];
      const at = kb + i * ${words};
      let r = ${MISS};
      for (let mk = bm[i]; mk !== 0; mk &= mk - 1) {
        const k = u32[w + ${BUCKET.keyIdxW} + 31 - Math.clz32(mk & -mk)];
        const s = ${g.kw0} + k * ${g.slotWords};
        const v = u32[s];
        if (k === 0 || !(${cmp})) continue;
        if ((v & 1) !== 0) { r = ${RETRY}; continue; }
        const d = s + ${SLOT.dataW} + (v & 2);
        const lo = u32[d];
        const hi = u32[d + 1];
        if ((${TSO ? 'r32[s]' : 'Atomics.load(u32, s)'}) !== v) { r = ${RETRY}; continue; }
        positions[start + i] = k - 1;
        if (data !== undefined) data[start + i] = lo + hi * ${TWO32};
        continue outer;
      }
      positions[start + i] = r;
      pend[np++] = i;
    }
    return np;`;
  const make = new Function('u32', 'r32', 'bh', 'bp', 'bm', 'pend', 'sink', `return function primaryPass(kv, kb, m, positions, start, data) {${src}
  };`) as (
    ...a: [Uint32Array, Uint32Array, Uint32Array, Int32Array, Uint32Array, Int32Array, Int32Array]
  ) => PrimaryPass;
  return make(new Uint32Array(buf), new Uint32Array(buf), scratch.bh, scratch.bp, scratch.bm, scratch.pend, scratch.sink);
}

/**
 * Pass 1 of a bulk lookup without given hashes: bh[i] = the crc32c of key i (words kv[kb + i·words …]),
 * compiled per table with the seed and key length as constants and the table walk unrolled. Undefined
 * unless the table hashes with crc32c and its keys are whole words (≤ PROBE_UNROLL_WORDS of them).
 */
type HashPass = (kv: Uint32Array, kb: number, m: number) => void;

function compileHashPass(g: { keyLen: number; fnId: number; initVal: number }, bh: Uint32Array): HashPass | undefined {
  const words = g.keyLen >>> 2;
  if ((g.keyLen & 3) !== 0 || words > PROBE_UNROLL_WORDS) return undefined;
  const src = `
    for (let i = 0; i < m; i++) {
      const at = kb + i * ${words};
      let h = 0;
      ${hashCode(g.fnId, g.keyLen, g.initVal, (j) => `kv[at + ${j}]`)}
      bh[i] = h;
    }`;
  const make = new Function('t', 'bh', `return function hashPass(kv, kb, m) {${src}\n  };`) as (t: Uint32Array, bh: Uint32Array) => HashPass;
  return make(CRC32C_TABLES, bh);
}

/**
 * A cuckoo hash table in a memzone (rte_hash): fixed-length keys, 8-entry buckets with 16-bit signatures,
 * a key store with 64-bit data per key, optional extendable buckets. Created by any process of a group,
 * attached by name in the others; lookups are lock-free and pure JS.
 */
export class Hash {
  /** Key length in bytes. */
  readonly keyLen: number;
  /** Capacity in keys. */
  readonly entries: number;
  readonly hashFunc: HashFunc;
  readonly initVal: number;
  readonly extendable: boolean;
  readonly multiWriter: boolean;
  readonly numBuckets: number;

  private readonly u32: Uint32Array;
  /** A second view of the same memory: the seqlock's closing reads go through it (see @mp/memory TSO). */
  private readonly r32: Uint32Array;
  /** The fast path of a lookup, compiled for this table ({@link compileProbe}). */
  private readonly probe: Probe;
  /** Passes 2–3 of a bulk lookup, compiled for this table (undefined: keys too long or not whole words). */
  private readonly primaryPass: PrimaryPass | undefined;
  private readonly sink = new Int32Array(1);
  /** Pass 1 of a bulk lookup that hashes, compiled for this table (undefined: the generic hash loop). */
  private readonly hashPass: HashPass | undefined;
  private readonly u16: Uint16Array;
  private readonly fnId: number;
  private readonly mask: number;
  private readonly numExt: number;
  private readonly keySlots: number;
  private readonly kWords: number;
  private readonly slotWords: number;
  /** u32 index of bucket 0. */
  private readonly bw: number;
  /** u32 index of key slot 0. */
  private readonly kw0: number;
  private readonly fkw: number;
  private readonly few: number;
  private readonly lock: RobustLock;
  private fd: number;
  /** Scratch: one key's words. */
  private readonly kw: Uint32Array;
  /** Scratch: a batch of keys' words and hashes. */
  private readonly bkw: Uint32Array;
  private readonly bh = new Uint32Array(BULK_CHUNK);
  /** Scratch of the bulk lookup: bucket word index, signature-match bits, pending key indexes. */
  private readonly bm = new Uint32Array(BULK_CHUNK);
  private readonly bp = new Int32Array(BULK_CHUNK);
  private readonly bs = new Int32Array(BULK_CHUNK);
  /** The buffer of the last packed batch and a u32 view of it ({@link keyWords}). */
  private kvBuf: ArrayBufferLike | undefined;
  private kvView: Uint32Array = new Uint32Array(0);
  /** Sink of the bulk lookup's touch passes (keeps the loads alive). */
  private touched = 0;
  private readonly qB = new Int32Array(BFS_QUEUE);
  private readonly qPrev = new Int32Array(BFS_QUEUE);
  private readonly qSlot = new Int32Array(BFS_QUEUE);
  private wdepth = 0;
  private readonly pid = process.pid;
  /** The table's instance id (layout.ts): another value in the header means it was freed. */
  private readonly instance: number;
  private dLo = 0;
  private dHi = 0;

  private constructor(
    readonly name: string,
    private readonly mz: Memzone,
  ) {
    const buf = mz.buffer;
    this.u32 = new Uint32Array(buf);
    this.r32 = new Uint32Array(buf);
    this.u16 = new Uint16Array(buf);
    const u32 = this.u32;
    const flags = this.u16[HDR.flags / 2]!;
    this.fnId = u32[HDR.hashFunc / 4]!;
    this.instance = u32[HDR.instance / 4]!;
    this.hashFunc = this.fnId === HASH_FUNC_IDS.crc32c ? 'crc32c' : 'jhash';
    this.initVal = u32[HDR.initVal / 4]!;
    this.keyLen = u32[HDR.keyLen / 4]!;
    this.entries = u32[HDR.entries / 4]!;
    this.numBuckets = u32[HDR.numBuckets / 4]!;
    this.numExt = u32[HDR.numExt / 4]!;
    this.keySlots = u32[HDR.keySlots / 4]!;
    this.extendable = (flags & F_EXT) !== 0;
    this.multiWriter = (flags & F_MULTI_WRITER) !== 0;
    this.mask = this.numBuckets - 1;
    this.kWords = (this.keyLen + 3) >>> 2;
    this.slotWords = u32[HDR.slotSize / 4]! / 4;
    this.bw = u32[HDR.bucketsOff / 4]! / 4;
    this.kw0 = u32[HDR.keyStoreOff / 4]! / 4;
    this.fkw = u32[HDR.freeKeysOff / 4]! / 4;
    this.few = u32[HDR.freeExtOff / 4]! / 4;
    this.kw = new Uint32Array(this.kWords + 1);
    const geo = { keyLen: this.keyLen, mask: this.mask, bw: this.bw, kw0: this.kw0, slotWords: this.slotWords, initVal: this.initVal, fnId: this.fnId };
    this.probe = compileProbe(geo, buf, false) ?? this.probeLoop;
    // The compiled probes are whole lookups (fast path, then the full protocol): installed as this instance's
    // lookupWithHash and lookup, a caller's loop makes one call per lookup. The
    // prototype methods do the same.
    (this as { lookupWithHash: Probe }).lookupWithHash = this.probe;
    const hashing = compileProbe(geo, buf, true);
    if (hashing !== undefined) (this as { lookup: (key: Uint8Array) => number }).lookup = hashing as (key: Uint8Array) => number;
    const hash = compileHash(this.fnId, this.keyLen, this.initVal);
    if (hash !== undefined) (this as { hash: (key: Uint8Array) => number }).hash = hash;
    this.bkw = new Uint32Array(this.kWords * BULK_CHUNK);
    this.hashPass = compileHashPass({ keyLen: this.keyLen, fnId: this.fnId, initVal: this.initVal }, this.bh);
    this.primaryPass = compilePrimaryPass({ keyLen: this.keyLen, bw: this.bw, kw0: this.kw0, slotWords: this.slotWords }, buf, {
      bh: this.bh,
      bp: this.bp,
      bm: this.bm,
      pend: this.bs,
      sink: this.sink,
    });
    const path = memzone.describe(mz).path;
    // Safe file rules (@mp/memory): never through a link, only a file of this uid.
    this.fd = openOwnedFile(path).fd;
    this.lock = new RobustLock(this.fd, new Int32Array(buf), HDR.lockOwner / 4);
    this.lock.onRepair((pid) => this.repair(pid));
  }

  // ---- create / attach / free ------------------------------------------------------------------------

  /**
   * Create a table in the group's shared memory, visible by name to every process of the group.
   *
   * @throws {MpError} EINVAL — entries < 8 or > 2^30, keyLen not in 1…1024, unknown hash function, bad
   *   initVal, flags or readWriteConcurrency; ENOTSUP — HASH_EXTRA_FLAGS_NO_FREE_ON_DEL (keys are freed on
   *   delete here: readers validate slots instead)
   * @throws {MpError} EINVAL / ENAMETOOLONG — bad name (at most {@link HASH_NAME_MAX} bytes)
   * @throws {MpError} EEXIST — a table (memzone `HT_<name>`) of that name exists
   * @throws {MpError} ENOMEM — no room in the group's memory; ENOSPC — the memzone table is full
   * @throws {MpError} ENOTCONN — no group attached (call init() from @mp/eal)
   * @see rte_hash_create
   */
  static create(name: string, opts: HashOptions): Hash {
    validateName('hash', name, HASH_NAME_MAX);
    if (opts === null || typeof opts !== 'object') throw new MpError('EINVAL', 'hash options are required ({ entries, keyLen })');
    const { entries, keyLen } = opts;
    if (!Number.isInteger(entries) || entries < BUCKET_ENTRIES || entries > ENTRIES_MAX) {
      throw new MpError('EINVAL', `hash entries must be an integer in ${BUCKET_ENTRIES}…${ENTRIES_MAX}, got ${entries}`);
    }
    if (!Number.isInteger(keyLen) || keyLen < 1 || keyLen > 1024) {
      throw new MpError('EINVAL', `hash keyLen must be an integer in 1…1024, got ${keyLen}`);
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
    const extendable = opts.extendable === true || (flags & HASH_EXTRA_FLAGS_EXT_TABLE) !== 0;
    const multiWriter = opts.multiWriter === true || (flags & HASH_EXTRA_FLAGS_MULTI_WRITER_ADD) !== 0;
    const g = geometry(entries, keyLen, extendable);
    if (g.totalSize > 0xffffffff) {
      throw new MpError('EINVAL', `a table of ${entries} keys of ${keyLen} bytes needs ${g.totalSize} bytes (at most 4 GiB)`);
    }
    const mz = memzone.reserve(HASH_MZ_PREFIX + name, g.totalSize, { align: 64, socket: opts.socket ?? -1 });
    const u32 = new Uint32Array(mz.buffer);
    const u16 = new Uint16Array(mz.buffer);
    new Uint8Array(mz.buffer).fill(0);
    u16[HDR.version / 2] = HASH_VERSION;
    u16[HDR.flags / 2] = (extendable ? F_EXT : 0) | (multiWriter ? F_MULTI_WRITER : 0) | F_LF;
    u32[HDR.hashFunc / 4] = HASH_FUNC_IDS[hashFunc];
    u32[HDR.initVal / 4] = initVal >>> 0;
    u32[HDR.keyLen / 4] = keyLen;
    u32[HDR.entries / 4] = entries;
    u32[HDR.numBuckets / 4] = g.numBuckets;
    u32[HDR.numExt / 4] = g.numExt;
    u32[HDR.keySlots / 4] = g.keySlots;
    u32[HDR.slotSize / 4] = g.slotSize;
    u32[HDR.bucketsOff / 4] = g.bucketsOff;
    u32[HDR.keyStoreOff / 4] = g.keyStoreOff;
    u32[HDR.freeKeysOff / 4] = g.freeKeysOff;
    u32[HDR.freeExtOff / 4] = g.freeExtOff;
    u32[HDR.totalSize / 4] = g.totalSize;
    // A new table in a freed table's place has another instance id: the old table's handles elsewhere
    // refuse to write into it (enter()).
    u32[HDR.instance / 4] = 1 + Math.floor(Math.random() * 0xfffffffe);
    const h = new Hash(name, mz);
    h.rebuildFree(null);
    // SYNC: the magic goes last: Hash.lookup() in another process waits for it.
    Atomics.store(u32, HDR.magic / 4, HASH_MAGIC);
    cacheOf().set(name, h);
    return h;
  }

  /**
   * Attach to the table `name` created by any process of the group. Returns this process's one instance
   * of the table (the same object on every call).
   *
   * @throws {MpError} ENOENT — no table of that name
   * @throws {MpError} EPROTO — the memzone is not a hash table, or was written by another layout version
   * @throws {MpError} EINVAL / ENAMETOOLONG — bad name; ENOTCONN — no group attached
   * @see rte_hash_find_existing
   */
  static lookup(name: string): Hash {
    validateName('hash', name, HASH_NAME_MAX);
    const cache = cacheOf();
    const mz = memzone.find(HASH_MZ_PREFIX + name);
    if (mz === undefined) throw new MpError('ENOENT', `no hash table named '${name}'`);
    const known = cache.get(name);
    if (known !== undefined && known.mz.offset === mz.offset && known.mz.segment === mz.segment && known.live) return known;
    const u32 = new Uint32Array(mz.buffer);
    // A creator in another process may still be formatting the table: wait for its magic (bounded).
    const deadline = Date.now() + 2000;
    let magic = Atomics.load(u32, 0);
    while (magic === 0 && Date.now() < deadline) {
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
      magic = Atomics.load(u32, 0);
    }
    if (magic !== HASH_MAGIC) {
      throw new MpError('EPROTO', `memzone '${mz.name}' is not a hash table (magic 0x${magic.toString(16)}, expected 0x${HASH_MAGIC.toString(16)})`);
    }
    const version = new Uint16Array(mz.buffer)[HDR.version / 2];
    if (version !== HASH_VERSION) {
      throw new MpError('EPROTO', `hash table '${name}' has layout version ${version}, this @mp/hash speaks version ${HASH_VERSION}`);
    }
    known?.closeFd();
    const h = new Hash(name, mz);
    cache.set(name, h);
    return h;
  }

  /**
   * Free the table and its memzone. Every call on this handle afterwards throws `EBADF` without touching
   * the memory (it may already hold the next memzone). In other processes, writers check the header
   * before they write anything and get `EBADF`; lookups there read whatever the memory holds next (they
   * never write): every process must have stopped using the table, as with rte_hash_free.
   *
   * @throws {MpError} EBADF — already freed (here or by another process); ETIMEDOUT — a live writer kept
   *   the lock too long
   * @see rte_hash_free
   */
  free(): void {
    this.run(() => {
      Atomics.store(this.u32, 0, 0);
      Atomics.store(this.u32, HDR.instance / 4, 0);
    });
    const cache = cacheOf();
    if (cache.get(this.name) === this) cache.delete(this.name);
    this.poison(`hash '${this.name}' was freed by this process; the handle cannot be used any more`);
    memzone.free(HASH_MZ_PREFIX + this.name);
    this.closeFd();
  }

  /**
   * Make every method of this handle throw EBADF, including the per-table compiled lookups installed on
   * the instance: own properties shadow them, so live tables' lookups carry no check for it.
   */
  private poison(why: string): void {
    const stub = (): never => {
      throw new MpError('EBADF', why);
    };
    const names = new Set([...Object.getOwnPropertyNames(Hash.prototype), 'lookup', 'lookupWithHash', 'hash']);
    names.delete('constructor');
    names.delete('closeFd');
    for (const k of names) {
      const d = Object.getOwnPropertyDescriptor(Hash.prototype, k);
      if (d !== undefined && typeof d.value !== 'function') continue;
      Object.defineProperty(this, k, { value: stub, configurable: true, writable: true, enumerable: false });
    }
  }

  private get live(): boolean {
    return Atomics.load(this.u32, 0) === HASH_MAGIC && this.u32[HDR.instance / 4] === this.instance;
  }

  private closeFd(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }

  // ---- hashing ------------------------------------------------------------------------------------------

  /**
   * The table's hash of `key` (its function and initVal, from the shared header): the `sig` the
   * `*WithHash` calls take.
   *
   * @throws {MpError} EINVAL — key is not a Uint8Array of keyLen bytes
   * @see rte_hash_hash
   * @throws {MpError} EBADF — the table was freed (through this handle; writes also when freed elsewhere)
   */
  hash(key: Uint8Array): number {
    this.loadKey(key, this.kw, 0);
    return this.hashWords(this.kw, 0);
  }

  private hashWords(w: Uint32Array, at: number): number {
    return this.fnId === HASH_FUNC_IDS.crc32c ? crc32cWords(w, at, this.keyLen, this.initVal) : jhashWords(w, at, this.keyLen, this.initVal);
  }

  private loadKey(key: Uint8Array, w: Uint32Array, at: number): void {
    if (!(key instanceof Uint8Array) || key.length !== this.keyLen) this.badKey(key);
    loadWords(key, 0, this.keyLen, w, at);
  }

  private badKey(key: unknown): never {
    if (!(key instanceof Uint8Array)) throw new MpError('EINVAL', `hash '${this.name}': a key is a Uint8Array of ${this.keyLen} bytes`);
    throw new MpError('EINVAL', `hash '${this.name}': key of ${key.length} bytes, this table's keys are ${this.keyLen} bytes`);
  }

  // ---- lookups (lock-free) ------------------------------------------------------------------------------

  /**
   * Find `key`. Returns its position (0 … entries, as rte_hash), or -1 when absent. Lock-free.
   *
   * @throws {MpError} EINVAL — key is not a Uint8Array of keyLen bytes
   * @see rte_hash_lookup
   * @throws {MpError} EBADF — the table was freed (through this handle; writes also when freed elsewhere)
   */
  lookup(key: Uint8Array): number {
    this.loadKey(key, this.kw, 0);
    return this.findKey(key, this.hashWords(this.kw, 0));
  }

  /**
   * {@link lookup} with the key's hash computed beforehand ({@link hash}, or the same function elsewhere).
   *
   * @throws {MpError} EINVAL — key is not a Uint8Array of keyLen bytes
   * @see rte_hash_lookup_with_hash
   * @throws {MpError} EBADF — the table was freed (through this handle; writes also when freed elsewhere)
   */
  lookupWithHash(key: Uint8Array, sig: number): number {
    return this.findKey(key, sig >>> 0);
  }

  /**
   * The data stored with `key`, or undefined when absent. Lock-free.
   *
   * @throws {MpError} EINVAL — key is not a Uint8Array of keyLen bytes
   * @see rte_hash_lookup_data
   * @throws {MpError} EBADF — the table was freed (through this handle; writes also when freed elsewhere)
   */
  lookupData(key: Uint8Array): number | undefined {
    return this.lookup(key) < 0 ? undefined : this.dLo + this.dHi * TWO32;
  }

  /**
   * {@link lookupData} with a precomputed hash.
   *
   * @throws {MpError} EINVAL — key is not a Uint8Array of keyLen bytes
   * @see rte_hash_lookup_with_hash_data
   * @throws {MpError} EBADF — the table was freed (through this handle; writes also when freed elsewhere)
   */
  lookupDataWithHash(key: Uint8Array, sig: number): number | undefined {
    return this.findKey(key, sig >>> 0) < 0 ? undefined : this.dLo + this.dHi * TWO32;
  }

  /**
   * Where and what: `{ position, data }` of `key`, read together, or undefined when absent.
   *
   * @throws {MpError} EINVAL — key is not a Uint8Array of keyLen bytes
   * @see rte_hash_lookup_data
   * @throws {MpError} EBADF — the table was freed (through this handle; writes also when freed elsewhere)
   */
  get(key: Uint8Array): HashEntry | undefined {
    const pos = this.lookup(key);
    return pos < 0 ? undefined : { position: pos, data: this.dLo + this.dHi * TWO32 };
  }

  /**
   * Look up a batch of keys: `positions[i]` gets key i's position or -1, `data[i]` (when given) its data
   * or -1. Returns the number of hits. Lock-free; one change-counter check for the whole batch.
   *
   * @throws {MpError} EINVAL — a key of the wrong length, a packed batch not a multiple of keyLen, or
   *   output arrays shorter than the batch
   * @see rte_hash_lookup_bulk
   * @see rte_hash_lookup_bulk_data
   * @throws {MpError} EBADF — the table was freed (through this handle; writes also when freed elsewhere)
   */
  lookupBulk(keys: KeyBatch, positions: Int32Array, data?: Float64Array): number {
    return this.bulk(keys, undefined, positions, data);
  }

  /**
   * {@link lookupBulk} with precomputed hashes (`sigs[i]` for key i).
   *
   * @throws {MpError} EINVAL — as lookupBulk, or fewer sigs than keys
   * @see rte_hash_lookup_with_hash_bulk
   * @see rte_hash_lookup_with_hash_bulk_data
   * @throws {MpError} EBADF — the table was freed (through this handle; writes also when freed elsewhere)
   */
  lookupBulkWithHash(keys: KeyBatch, sigs: Uint32Array | readonly number[], positions: Int32Array, data?: Float64Array): number {
    return this.bulk(keys, sigs, positions, data);
  }

  private bulk(keys: KeyBatch, sigs: Uint32Array | readonly number[] | undefined, positions: Int32Array, data: Float64Array | undefined): number {
    const packed = keys instanceof Uint8Array;
    const n = packed ? keys.length / this.keyLen : keys.length;
    if (!Number.isInteger(n)) throw new MpError('EINVAL', `packed key batch of ${keys.length} bytes is not a multiple of keyLen ${this.keyLen}`);
    if (!(positions instanceof Int32Array) || positions.length < n) throw new MpError('EINVAL', `positions must be an Int32Array of at least ${n} elements`);
    if (data !== undefined && (!(data instanceof Float64Array) || data.length < n)) throw new MpError('EINVAL', `data must be a Float64Array of at least ${n} elements`);
    if (sigs !== undefined && (sigs == null || sigs.length < n)) throw new MpError('EINVAL', `${n} keys need ${n} sigs`);
    let hits = 0;
    const kl = this.keyLen;
    const kwn = this.kWords;
    const u32 = this.u32;
    const mask = this.mask;
    const bw = this.bw;
    const kw0 = this.kw0;
    const sw = this.slotWords;
    const bh = this.bh;
    const bp = this.bp;
    const bm = this.bm;
    const pend = this.bs;
    for (let start = 0; start < n; start += BULK_CHUNK) {
      const m = Math.min(n - start, BULK_CHUNK);
      // The keys as words: packed, aligned keys of a multiple of 4 bytes are read in place.
      let kv = this.bkw;
      let kb = 0;
      if (packed && (kl & 3) === 0 && ((keys.byteOffset + start * kl) & 3) === 0 && (kv = this.keyWords(keys.buffer)) !== this.bkw) {
        kb = (keys.byteOffset + start * kl) >>> 2;
      } else {
        kv = this.bkw;
        for (let i = 0; i < m; i++) {
          if (packed) {
            loadWords(keys, (start + i) * kl, kl, kv, i * kwn);
          } else {
            const k = (keys as readonly Uint8Array[])[start + i]!;
            if (!(k instanceof Uint8Array) || k.length !== kl) this.badKey(k);
            loadWords(k, 0, kl, kv, i * kwn);
          }
        }
      }
      // Pass 1: hash every key and touch its primary bucket. The loads are independent and the loop is short,
      // so the CPU has many of these cache misses in flight at once (DPDK's bulk lookup prefetches instead).
      // (Hashing is a loop of its own: between the touches it would leave few misses in flight.)
      if (sigs === undefined) {
        if (this.hashPass !== undefined) this.hashPass(kv, kb, m);
        else for (let i = 0; i < m; i++) bh[i] = this.hashWords(kv, kb + i * kwn);
      }
      if (sigs !== undefined) for (let i = 0; i < m; i++) bh[i] = sigs[start + i]!;
      let touch = 0;
      for (let i = 0; i < m; i++) {
        const w = bw + (bh[i]! & mask) * BUCKET.words;
        bp[i] = w;
        touch ^= u32[w]!;
      }
      // SYNC: counter before the batch's first search; misses are settled against it below.
      let c0 = u32[CNT]!;
      let np = 0;
      if (this.primaryPass !== undefined) {
        np = this.primaryPass(kv, kb, m, positions, start, data);
        hits += m - np;
      } else {
        // Pass 2: signature matches in the primary bucket; touch the key slot of the first match.
        for (let i = 0; i < m; i++) {
          const mk = sigMatches(u32, bp[i]!, bh[i]! >>> 16);
          bm[i] = mk;
          if (mk !== 0) touch ^= u32[kw0 + u32[bp[i]! + BUCKET.keyIdxW + ctz(mk)]! * sw]!;
        }
        // Pass 3: compare keys; those not found go on to their secondary bucket.
        for (let i = 0; i < m; i++) {
          if (this.settle(positions, data, start + i, this.matchIn(bp[i]!, bm[i]!, kv, kb + i * kwn))) hits++;
          else pend[np++] = i;
        }
      }
      // Pass 4: the secondary buckets of those keys, touched together first, then searched (chains last).
      for (let j = 0; j < np; j++) {
        const h = bh[pend[j]!]!;
        const w = bw + (((h & mask) ^ (h >>> 16)) & mask) * BUCKET.words;
        bp[j] = w;
        touch ^= u32[w]!;
      }
      this.touched = touch;
      let misses = 0;
      let retry = false;
      for (let j = 0; j < np; j++) {
        const i = pend[j]!;
        const h = bh[i]!;
        let r = this.matchIn(bp[j]!, sigMatches(u32, bp[j]!, h >>> 16), kv, kb + i * kwn);
        if (r === MISS && positions[start + i] === RETRY) r = RETRY;
        if (r === MISS && this.numExt > 0 && u32[bp[j]! + BUCKET.nextW] !== 0) r = this.findOnce(h, kv, kb + i * kwn);
        if (this.settle(positions, data, start + i, r)) hits++;
        else {
          misses++;
          if (r === RETRY) retry = true;
        }
      }
      // Misses stand if the change counter did not move since c0 (and no slot changed under a compare);
      // otherwise the misses are searched again, until a pass over them sees the counter unchanged.
      for (let round = 0; misses > 0 && round < MAX_RETRIES; round++) {
        const c1 = reread(u32, this.r32, CNT);
        if (!retry && c1 === c0) break;
        c0 = c1;
        retry = false;
        misses = 0;
        for (let i = 0; i < m; i++) {
          if (positions[start + i]! >= 0) continue;
          const r = this.findOnce(bh[i]!, kv, kb + i * kwn);
          if (this.settle(positions, data, start + i, r)) hits++;
          else {
            misses++;
            if (r === RETRY) retry = true;
          }
        }
      }
      if (np > 0) {
        for (let i = 0; i < m; i++) {
          if (positions[start + i]! < 0) {
            positions[start + i] = -1;
            if (data !== undefined) data[start + i] = -1;
          }
        }
      }
    }
    return hits;
  }

  /** Write key `at`'s result `r` (position, MISS or RETRY) and, on a hit, its data; true on a hit. */
  private settle(positions: Int32Array, data: Float64Array | undefined, at: number, r: number): boolean {
    positions[at] = r;
    if (r < 0) return false;
    if (data !== undefined) data[at] = this.dLo + this.dHi * TWO32;
    return true;
  }

  /** The first key among the candidates `mk` (entry bits) of the bucket at word w that equals kw[at…]. */
  private matchIn(w: number, mk: number, kw: Uint32Array, at: number): number {
    let r = MISS;
    while (mk !== 0) {
      const k = this.u32[w + BUCKET.keyIdxW + ctz(mk)]!;
      mk &= mk - 1;
      if (k === 0) continue;
      const x = this.matchSlot(k, kw, at);
      if (x >= 0) return x;
      if (x === RETRY) r = RETRY;
    }
    return r;
  }

  /**
   * A u32 view of the whole `buf`, kept for the next call (bulk lookups of packed keys read them in place;
   * the view keeps the caller's last buffer alive until a batch in another buffer comes). The scratch
   * words when the buffer can change size.
   */
  private keyWords(buf: ArrayBufferLike): Uint32Array {
    if (buf === this.kvBuf) return this.kvView;
    if ((buf as { resizable?: boolean }).resizable === true || (buf as { growable?: boolean }).growable === true) return this.bkw;
    this.kvBuf = buf;
    this.kvView = new Uint32Array(buf, 0, buf.byteLength >>> 2);
    return this.kvView;
  }

  /**
   * Lock-free search, retried while writers move keys (DPDK's tbl_chng_cnt protocol). Sets dLo/dHi on a
   * hit. A hit needs no counter check (the key compared equal in a stable slot); a miss counts only if the
   * change counter did not move during the pass.
   */
  private find(h: number, kw: Uint32Array, at: number): number {
    const u32 = this.u32;
    // SYNC: counter before the search (a plain load: x86 keeps loads in order, and the closing read below
    // is an Atomics.load the compiler cannot merge with this one), counter again after a miss.
    let c0 = u32[CNT]!;
    for (let tries = 0; tries < MAX_RETRIES; tries++) {
      const r = this.findOnce(h, kw, at);
      if (r >= 0) return r;
      const c1 = reread(u32, this.r32, CNT);
      if (r === MISS && c1 === c0) return MISS;
      c0 = c1;
    }
    return MISS;
  }

  /** The compiled probe, then (miss, chain, concurrent change) the full protocol. Validates the key. */
  private findKey(key: Uint8Array, h: number): number {
    return this.probe(key, h);
  }

  /** After the probe: the full protocol (a miss, a chain, a concurrent change). Validates the key. */
  private findSlow(key: Uint8Array, h: number): number {
    this.loadKey(key, this.kw, 0);
    return this.find(h, this.kw, 0);
  }

  /** {@link Probe} for keys longer than PROBE_UNROLL_WORDS words: the generic full search. */
  private probeLoop(key: Uint8Array, h: number): number {
    this.loadKey(key, this.kw, 0);
    return this.find(h >>> 0, this.kw, 0);
  }

  /** One pass over the primary bucket, then the secondary bucket and its chain. MISS, RETRY or a position. */
  private findOnce(h: number, kw: Uint32Array, at: number): number {
    const sig = h >>> 16;
    const prim = h & this.mask;
    let r = this.searchBucket(prim, sig, kw, at);
    if (r !== MISS) return r;
    let b = (prim ^ sig) & this.mask;
    for (let steps = 0; steps <= this.numExt; steps++) {
      r = this.searchBucket(b, sig, kw, at);
      if (r !== MISS) return r;
      b = this.u32[this.bw + b * BUCKET.words + BUCKET.nextW]!;
      if (b === 0) return MISS;
    }
    return RETRY; // a chain longer than the table: it changed under us
  }

  private searchBucket(b: number, sig: number, kw: Uint32Array, at: number): number {
    const u32 = this.u32;
    const u16 = this.u16;
    const w = this.bw + b * BUCKET.words;
    const s16 = w * 2;
    for (let i = 0; i < BUCKET_ENTRIES; i++) {
      if (u16[s16 + i] !== sig) continue;
      // SYNC: the key index is published by the writer's Atomics.store; a plain load is enough here (x86
      // keeps loads in order; the slot's version is re-read with Atomics.load below).
      const k = u32[w + BUCKET.keyIdxW + i]!;
      if (k === 0) continue;
      const r = this.matchSlot(k, kw, at);
      if (r !== MISS) return r;
    }
    return MISS;
  }

  /** Compare the key in slot k (seqlock-validated); on a match read its live data cell. */
  private matchSlot(k: number, kw: Uint32Array, at: number): number {
    const u32 = this.u32;
    const s = this.kw0 + k * this.slotWords;
    const v = u32[s]!;
    if (v & 1) return RETRY;
    const kk = s + SLOT.keyW;
    for (let j = 0; j < this.kWords; j++) if (u32[kk + j] !== kw[at + j]) return MISS;
    const d = s + SLOT.dataW + (v & 2);
    this.dLo = u32[d]!;
    this.dHi = u32[d + 1]!;
    // SYNC: the slot is unchanged since we read v: key and data belong together. On TSO a plain load (through
    // the second view, so the compiler cannot reuse v) is the acquire load Atomics.load would be.
    if (reread(u32, this.r32, s) !== v) return RETRY;
    return k - 1;
  }

  /**
   * The data of the key at `position` (from lookup/add), or undefined when that position holds no key.
   * Racy by nature when another process deletes the key meanwhile; prefer {@link get}.
   *
   * @throws {MpError} EINVAL — position out of range
   * @see rte_hash_get_key_with_position
   * @throws {MpError} EBADF — the table was freed (through this handle; writes also when freed elsewhere)
   */
  dataAt(position: number): number | undefined {
    const k = this.checkPosition(position);
    const s = this.kw0 + k * this.slotWords;
    const v = Atomics.load(this.u32, s);
    const d = s + SLOT.dataW + (v & 2);
    return this.isLinked(k) ? this.u32[d]! + this.u32[d + 1]! * TWO32 : undefined;
  }

  /**
   * A copy of the key at `position`, or undefined when that position holds no key.
   *
   * @throws {MpError} EINVAL — position out of range
   * @see rte_hash_get_key_with_position
   * @throws {MpError} EBADF — the table was freed (through this handle; writes also when freed elsewhere)
   */
  keyAt(position: number): Uint8Array | undefined {
    const k = this.checkPosition(position);
    if (!this.isLinked(k)) return undefined;
    return this.copyKey(k);
  }

  private checkPosition(position: number): number {
    if (!Number.isInteger(position) || position < 0 || position >= this.keySlots - 1) {
      throw new MpError('EINVAL', `position ${position} is outside 0…${this.keySlots - 2}`);
    }
    return position + 1;
  }

  private copyKey(k: number): Uint8Array {
    const s = this.kw0 + k * this.slotWords + SLOT.keyW;
    return new Uint8Array(this.u32.buffer, s * 4, this.keyLen).slice();
  }

  /** Is key index k referenced from its bucket? (search by the key's own hash) */
  private isLinked(k: number): boolean {
    const s = this.kw0 + k * this.slotWords + SLOT.keyW;
    const h = this.hashWords(this.u32, s);
    const sig = h >>> 16;
    const prim = h & this.mask;
    for (let b = prim, pass = 0; pass < 2; pass++, b = (prim ^ sig) & this.mask) {
      for (let c = b, steps = 0; c !== 0 || steps === 0; steps++) {
        const w = this.bw + c * BUCKET.words;
        for (let i = 0; i < BUCKET_ENTRIES; i++) if (Atomics.load(this.u32, w + BUCKET.keyIdxW + i) === k) return true;
        if (pass === 0 || steps > this.numExt) break;
        c = Atomics.load(this.u32, w + BUCKET.nextW);
      }
    }
    return false;
  }

  /**
   * Number of keys in the table. @see rte_hash_count
   * @throws {MpError} EBADF — the table was freed (through this handle; writes also when freed elsewhere)
   */
  count(): number {
    return Atomics.load(this.u32, COUNT);
  }

  /**
   * Every key with its position and data (main buckets, then extendable buckets). Keys moved or added by
   * a concurrent writer may be missed or seen twice, as with rte_hash_iterate.
   *
   * @see rte_hash_iterate
   * @throws {MpError} EBADF — the table was freed (through this handle; writes also when freed elsewhere)
   */
  *iterate(): IterableIterator<HashEntry & { key: Uint8Array }> {
    const total = this.numBuckets + this.numExt;
    for (let b = 0; b < total; b++) {
      const w = this.bw + b * BUCKET.words;
      for (let i = 0; i < BUCKET_ENTRIES; i++) {
        const k = Atomics.load(this.u32, w + BUCKET.keyIdxW + i);
        if (k === 0 || k >= this.keySlots) continue;
        const s = this.kw0 + k * this.slotWords;
        for (let attempt = 0; attempt < 1000; attempt++) {
          const v = Atomics.load(this.u32, s);
          if (v & 1) continue;
          const key = this.copyKey(k);
          const d = s + SLOT.dataW + (v & 2);
          const data = this.u32[d]! + this.u32[d + 1]! * TWO32;
          if (Atomics.load(this.u32, s) !== v) continue;
          yield { key, position: k - 1, data };
          break;
        }
      }
    }
  }

  // ---- writers ------------------------------------------------------------------------------------------

  /**
   * Add `key` with `data` (default 0), or update the data of a key already present (its position stays).
   * Returns the key's position. Multi-writer tables take the group-wide writer lock per call; wrap many
   * calls in {@link writeBatch} to take it once.
   *
   * @throws {MpError} EINVAL — key not a Uint8Array of keyLen bytes, data not a safe integer ≥ 0
   * @throws {MpError} ENOSPC — the table is full (or, without extendable buckets, no cuckoo path was found)
   * @throws {MpError} EBADF — the table was freed; EBUSY — single-writer table, another live process is
   *   writing; ETIMEDOUT — multi-writer lock held by a live process too long
   * @see rte_hash_add_key_data
   */
  add(key: Uint8Array, data = 0): number {
    this.loadKey(key, this.kw, 0);
    return this.addH(this.hashWords(this.kw, 0), data);
  }

  /**
   * {@link add} with a precomputed hash. `sig` must be the table's hash of the key ({@link hash}), or the
   * key will not be found by plain lookups.
   *
   * @throws {MpError} EINVAL / ENOSPC / EBADF / EBUSY / ETIMEDOUT — as add
   * @see rte_hash_add_key_with_hash_data
   */
  addWithHash(key: Uint8Array, sig: number, data = 0): number {
    this.loadKey(key, this.kw, 0);
    return this.addH(sig >>> 0, data);
  }

  /**
   * Delete `key`; returns the position it had.
   *
   * @throws {MpError} ENOENT — the key is not in the table
   * @throws {MpError} EINVAL / EBADF / EBUSY / ETIMEDOUT — as add
   * @see rte_hash_del_key
   */
  delete(key: Uint8Array): number {
    this.loadKey(key, this.kw, 0);
    return this.delH(this.hashWords(this.kw, 0));
  }

  /**
   * {@link delete} with a precomputed hash.
   *
   * @throws {MpError} ENOENT / EINVAL / EBADF / EBUSY / ETIMEDOUT — as delete
   * @see rte_hash_del_key_with_hash
   */
  deleteWithHash(key: Uint8Array, sig: number): number {
    this.loadKey(key, this.kw, 0);
    return this.delH(sig >>> 0);
  }

  /**
   * Remove every key. Readers running meanwhile may miss keys (as rte_hash_reset).
   *
   * @throws {MpError} EBADF / EBUSY / ETIMEDOUT — as add
   * @see rte_hash_reset
   */
  reset(): void {
    this.run(() => {
      const u32 = this.u32;
      const total = this.numBuckets + this.numExt;
      for (let b = 0; b < total; b++) {
        const w = this.bw + b * BUCKET.words;
        for (let i = 0; i < BUCKET_ENTRIES; i++) {
          Atomics.store(u32, w + BUCKET.keyIdxW + i, 0);
          this.u16[w * 2 + i] = 0;
        }
        Atomics.store(u32, w + BUCKET.nextW, 0);
      }
      this.bump();
      this.rebuildFree(null);
    });
  }

  /**
   * Run `fn` as one writer critical section: multi-writer tables take the lock once for all the writes
   * `fn` makes (much faster than a lock per add); single-writer tables mark the writer once.
   *
   * @throws {MpError} EBADF / EBUSY / ETIMEDOUT — as add; and whatever `fn` throws
   */
  writeBatch<T>(fn: () => T): T {
    return this.run(fn);
  }

  /**
   * Check the table's invariants (every entry in one of its key's two buckets or their chain, no key
   * index twice, free stack + entries = all slots, count right). Returns the problems found (empty: sound).
   * Diagnostic: run it while no writer is active.
   * @throws {MpError} EBADF — the table was freed (through this handle; writes also when freed elsewhere)
   */
  audit(): string[] {
    const problems: string[] = [];
    const u32 = this.u32;
    const seen = new Uint8Array(this.keySlots);
    let linked = 0;
    const visit = (b: number, home: number): void => {
      const w = this.bw + b * BUCKET.words;
      for (let i = 0; i < BUCKET_ENTRIES; i++) {
        const k = u32[w + BUCKET.keyIdxW + i]!;
        if (k === 0) continue;
        if (k >= this.keySlots) {
          problems.push(`bucket ${b}[${i}]: key index ${k} out of range`);
          continue;
        }
        if (seen[k]) problems.push(`key index ${k} referenced twice (bucket ${b}[${i}])`);
        seen[k] = 1;
        linked++;
        const h = this.hashWords(u32, this.kw0 + k * this.slotWords + SLOT.keyW);
        const sig = h >>> 16;
        const prim = h & this.mask;
        const sec = (prim ^ sig) & this.mask;
        if (this.u16[w * 2 + i] !== sig) problems.push(`bucket ${b}[${i}]: signature ${this.u16[w * 2 + i]} ≠ ${sig}`);
        if (home !== prim && home !== sec) problems.push(`key index ${k} sits in bucket ${b} (chain of ${home}), its buckets are ${prim}/${sec}`);
        if (u32[this.kw0 + k * this.slotWords]! & 1) problems.push(`key index ${k}: odd version`);
      }
    };
    for (let b = 0; b < this.numBuckets; b++) {
      visit(b, b);
      let c = u32[this.bw + b * BUCKET.words + BUCKET.nextW]!;
      for (let steps = 0; c !== 0; steps++) {
        if (c < this.numBuckets || c >= this.numBuckets + this.numExt || steps > this.numExt) {
          problems.push(`chain of bucket ${b}: bad next ${c}`);
          break;
        }
        visit(c, b);
        c = u32[this.bw + c * BUCKET.words + BUCKET.nextW]!;
      }
    }
    const top = u32[KTOP]!;
    for (let i = 0; i < top; i++) {
      const k = u32[this.fkw + i]!;
      if (seen[k]) problems.push(`key index ${k} is both free and in use`);
      seen[k] = 1;
    }
    for (let k = 1; k < this.keySlots; k++) if (!seen[k]) problems.push(`key index ${k} is neither free nor in use (leaked)`);
    if (u32[COUNT] !== linked) problems.push(`count ${u32[COUNT]} ≠ ${linked} keys in buckets`);
    return problems;
  }

  // ---- writer internals --------------------------------------------------------------------------------

  /** Run fn as the writer: the robust lock (multi-writer) or the writer mark (single writer). */
  private run<T>(fn: () => T): T {
    if (this.wdepth > 0) return fn();
    this.beginWrite();
    try {
      return fn();
    } finally {
      this.endWrite();
    }
  }

  /** Become the writer: the robust lock (multi-writer tables) or the writer mark (single writer). */
  private beginWrite(): void {
    // A table freed by another process: refuse before the lock or the writer mark writes into memory that
    // may already be another memzone's.
    this.enter();
    if (this.multiWriter) {
      this.lock.lock();
      try {
        this.enter();
      } catch (err) {
        this.lock.unlock();
        throw err;
      }
    } else {
      this.markWriter();
    }
    this.wdepth = 1;
  }

  private endWrite(): void {
    this.wdepth = 0;
    if (this.multiWriter) this.lock.unlock();
    else publish(this.u32, WRITER, 0);
  }

  /** Single-writer tables: check no other live process is writing, repair after a dead one, mark us. */
  private markWriter(): void {
    const u32 = this.u32;
    const w = u32[WRITER]!;
    if (w !== this.pid) {
      if (w !== 0) {
        if (isAlive(w)) {
          throw new MpError('EBUSY', `hash '${this.name}' is single-writer and pid ${w} is writing (create it with multiWriter: true for concurrent writers)`);
        }
        this.repair(w);
      }
      publish(u32, WRITER, this.pid);
    }
    this.enter();
  }

  private enter(): void {
    if (!this.live) throw new MpError('EBADF', `hash '${this.name}' was freed (by another process); the handle cannot be used any more`);
  }

  private addH(h: number, data: number): number {
    if (!Number.isSafeInteger(data) || data < 0) {
      throw new MpError('EINVAL', `hash data must be a safe integer ≥ 0 (a 64-bit value), got ${data}`);
    }
    const lo = data >>> 0;
    const hi = (data - lo) / TWO32;
    if (this.wdepth > 0) return this.addLocked(h, lo, hi);
    this.beginWrite();
    try {
      return this.addLocked(h, lo, hi);
    } finally {
      this.endWrite();
    }
  }

  private delH(h: number): number {
    if (this.wdepth > 0) return this.delLocked(h);
    this.beginWrite();
    try {
      return this.delLocked(h);
    } finally {
      this.endWrite();
    }
  }

  private bump(): void {
    // SYNC: readers that overlap this see a different counter and search again.
    publish(this.u32, CNT, (this.u32[CNT]! + 1) >>> 0);
  }

  /** Writer-side search: u32 index of the keyIdx word holding the key, or -1. Also sets `foundHome`. */
  private wFind(h: number, kw: Uint32Array): number {
    const sig = h >>> 16;
    const prim = h & this.mask;
    const sec = (prim ^ sig) & this.mask;
    // Touch both buckets before searching either: their two cache misses overlap.
    this.touched = this.u32[this.bw + prim * BUCKET.words]! ^ this.u32[this.bw + sec * BUCKET.words]!;
    let e = this.wSearch(prim, sig, kw);
    if (e >= 0) {
      this.foundHome = prim;
      return e;
    }
    let b = sec;
    for (let steps = 0; steps <= this.numExt; steps++) {
      e = this.wSearch(b, sig, kw);
      if (e >= 0) {
        this.foundHome = sec;
        return e;
      }
      b = this.u32[this.bw + b * BUCKET.words + BUCKET.nextW]!;
      if (b === 0) break;
    }
    return -1;
  }
  /** The bucket whose chain holds what wFind found last (primary or secondary). */
  private foundHome = 0;

  private wSearch(b: number, sig: number, kw: Uint32Array): number {
    const u32 = this.u32;
    const w = this.bw + b * BUCKET.words;
    for (let mk = sigMatches(u32, w, sig); mk !== 0; mk &= mk - 1) {
      const i = ctz(mk);
      const k = u32[w + BUCKET.keyIdxW + i]!;
      if (k === 0) continue;
      const kk = this.kw0 + k * this.slotWords + SLOT.keyW;
      let j = 0;
      while (j < this.kWords && u32[kk + j] === kw[j]) j++;
      if (j === this.kWords) return w + BUCKET.keyIdxW + i;
    }
    return -1;
  }

  private addLocked(h: number, lo: number, hi: number): number {
    const u32 = this.u32;
    const e = this.wFind(h, this.kw);
    if (e >= 0) {
      // Update in place without a visible odd state: write the idle data cell, then flip the version.
      const k = u32[e]!;
      const s = this.kw0 + k * this.slotWords;
      const v = u32[s]!;
      const d = s + SLOT.dataW + ((v + 2) & 2);
      u32[d] = lo;
      u32[d + 1] = hi;
      // SYNC: one store publishes the new data cell.
      publish(u32, s, (v + 2) >>> 0);
      return k - 1;
    }
    if (u32[COUNT]! >= this.entries) throw new MpError('ENOSPC', `hash '${this.name}' is full (${this.entries} keys)`);
    const k = this.popKey();
    if (k === 0) throw new MpError('ENOSPC', `hash '${this.name}' has no free key slot`);
    // Fill the slot: odd version while it changes, so a stale reader of its previous key retries.
    const s = this.kw0 + k * this.slotWords;
    const v = u32[s]!;
    publish(u32, s, (v + 1) >>> 0);
    const kk = s + SLOT.keyW;
    for (let j = 0; j < this.kWords; j++) u32[kk + j] = this.kw[j]!;
    const d = s + SLOT.dataW + ((v + 2) & 2);
    u32[d] = lo;
    u32[d + 1] = hi;
    publish(u32, s, (v + 2) >>> 0);
    crash('hash-add-slot');
    const sig = h >>> 16;
    const prim = h & this.mask;
    const sec = (prim ^ sig) & this.mask;
    if (this.insertIn(prim, sig, k) || this.makeSpace(prim, sig, k) || this.makeSpace(sec, sig, k) || (this.numExt > 0 && this.insertExt(sec, sig, k))) {
      crash('hash-add-published');
      u32[COUNT] = u32[COUNT]! + 1;
      return k - 1;
    }
    this.pushKey(k);
    throw new MpError('ENOSPC', `hash '${this.name}': no room for the key in its buckets (${u32[COUNT]} of ${this.entries} keys; consider extendable: true)`);
  }

  private insertIn(b: number, sig: number, k: number): boolean {
    const w = this.bw + b * BUCKET.words;
    for (let i = 0; i < BUCKET_ENTRIES; i++) {
      if (this.u32[w + BUCKET.keyIdxW + i] === 0) {
        this.u16[w * 2 + i] = sig;
        // SYNC: publish the entry after its signature and slot are written.
        publish(this.u32, w + BUCKET.keyIdxW + i, k);
        return true;
      }
    }
    return false;
  }

  /** Breadth-first search for a cuckoo path from bucket `start` to an empty entry; move keys along it. */
  private makeSpace(start: number, sig: number, k: number): boolean {
    const { qB, qPrev, qSlot, u32, u16 } = this;
    let head = 0;
    let tail = 1;
    qB[0] = start;
    qPrev[0] = -1;
    qSlot[0] = -1;
    while (head < tail && tail <= BFS_QUEUE - BUCKET_ENTRIES) {
      const b = qB[head]!;
      const w = this.bw + b * BUCKET.words;
      for (let i = 0; i < BUCKET_ENTRIES; i++) {
        if (u32[w + BUCKET.keyIdxW + i] === 0) {
          this.moveAlong(head, i, sig, k);
          return true;
        }
      }
      for (let i = 0; i < BUCKET_ENTRIES; i++) {
        qB[tail] = (b ^ u16[w * 2 + i]!) & this.mask;
        qPrev[tail] = head;
        qSlot[tail] = i;
        tail++;
      }
      head++;
    }
    return false;
  }

  private moveAlong(node: number, slot: number, sig: number, k: number): void {
    const { qB, qPrev, qSlot, u32, u16 } = this;
    let cur = node;
    let curSlot = slot;
    while (qPrev[cur] !== -1) {
      const prev = qPrev[cur]!;
      const prevSlot = qSlot[cur]!;
      const cw = this.bw + qB[cur]! * BUCKET.words;
      const pw = this.bw + qB[prev]! * BUCKET.words;
      // SYNC: bump before overwriting an entry whose key was copied elsewhere by the previous step, so a
      // reader that missed the key in both places searches again. The copy makes the key present twice.
      this.bump();
      u16[cw * 2 + curSlot] = u16[pw * 2 + prevSlot]!;
      publish(u32, cw + BUCKET.keyIdxW + curSlot, u32[pw + BUCKET.keyIdxW + prevSlot]!);
      crash('hash-cuckoo-move');
      cur = prev;
      curSlot = prevSlot;
    }
    this.bump();
    const w = this.bw + qB[cur]! * BUCKET.words;
    u16[w * 2 + curSlot] = sig;
    publish(u32, w + BUCKET.keyIdxW + curSlot, k);
  }

  /** Put the key in the chain of extendable buckets of `sec`, taking a new bucket if needed. */
  private insertExt(sec: number, sig: number, k: number): boolean {
    const u32 = this.u32;
    let last = sec;
    for (let b = u32[this.bw + sec * BUCKET.words + BUCKET.nextW]!; b !== 0; b = u32[this.bw + b * BUCKET.words + BUCKET.nextW]!) {
      if (this.insertIn(b, sig, k)) return true;
      last = b;
    }
    const top = u32[ETOP]!;
    if (top === 0) return false;
    const e = u32[this.few + top - 1]!;
    u32[ETOP] = top - 1;
    const w = this.bw + e * BUCKET.words;
    for (let i = 0; i < BUCKET.words; i++) u32[w + i] = 0;
    this.u16[w * 2] = sig;
    u32[w + BUCKET.keyIdxW] = k;
    // SYNC: link the filled bucket at the chain's end: readers see all of it or none.
    publish(u32, this.bw + last * BUCKET.words + BUCKET.nextW, e);
    return true;
  }

  private delLocked(h: number): number {
    const u32 = this.u32;
    const e = this.wFind(h, this.kw);
    if (e < 0) throw new MpError('ENOENT', `hash '${this.name}': no such key`);
    const k = u32[e]!;
    const home = this.foundHome;
    const w = e - ((e - this.bw) % BUCKET.words);
    const slot = e - w - BUCKET.keyIdxW;
    this.u16[w * 2 + slot] = 0;
    publish(u32, e, 0);
    if (this.numExt > 0) this.compact(home, (w - this.bw) / BUCKET.words, slot);
    crash('hash-del-unlinked');
    this.pushKey(k);
    u32[COUNT] = u32[COUNT]! - 1;
    return k - 1;
  }

  /** Fill the hole at (b, slot) with the last entry of b's chain, then recycle an emptied tail bucket. */
  private compact(home: number, b: number, slot: number): void {
    const u32 = this.u32;
    const u16 = this.u16;
    const next = (x: number): number => u32[this.bw + x * BUCKET.words + BUCKET.nextW]!;
    if (next(b) !== 0) {
      let last = b;
      while (next(last) !== 0) last = next(last);
      const lw = this.bw + last * BUCKET.words;
      for (let i = BUCKET_ENTRIES - 1; i >= 0; i--) {
        const k = u32[lw + BUCKET.keyIdxW + i]!;
        if (k === 0) continue;
        const bw = this.bw + b * BUCKET.words;
        u16[bw * 2 + slot] = u16[lw * 2 + i]!;
        publish(u32, bw + BUCKET.keyIdxW + slot, k);
        this.bump();
        u16[lw * 2 + i] = 0;
        publish(u32, lw + BUCKET.keyIdxW + i, 0);
        break;
      }
    }
    // Recycle the last bucket of home's chain if it is empty now.
    let prev = home;
    let last = next(home);
    if (last === 0) return;
    while (next(last) !== 0) {
      prev = last;
      last = next(last);
    }
    const lw = this.bw + last * BUCKET.words;
    for (let i = 0; i < BUCKET_ENTRIES; i++) if (u32[lw + BUCKET.keyIdxW + i] !== 0) return;
    publish(u32, this.bw + prev * BUCKET.words + BUCKET.nextW, 0);
    this.bump();
    const top = u32[ETOP]!;
    u32[this.few + top] = last;
    u32[ETOP] = top + 1;
  }

  private popKey(): number {
    const top = this.u32[KTOP]!;
    if (top === 0) return 0;
    const k = this.u32[this.fkw + top - 1]!;
    this.u32[KTOP] = top - 1;
    return k;
  }

  private pushKey(k: number): void {
    const top = this.u32[KTOP]!;
    this.u32[this.fkw + top] = k;
    this.u32[KTOP] = top + 1;
  }

  /**
   * Rebuild the free stacks and the count from the buckets (the truth). `seen` marks key indexes in use
   * (null: none). Ext buckets not in a chain are cleared and freed.
   */
  private rebuildFree(seen: Uint8Array | null, extSeen?: Uint8Array): void {
    const u32 = this.u32;
    let top = 0;
    let used = 0;
    // Highest index on top of the stack last: keys get low positions first.
    for (let k = this.keySlots - 1; k >= 1; k--) {
      if (seen !== null && seen[k]) used++;
      else u32[this.fkw + top++] = k;
    }
    u32[KTOP] = top;
    u32[COUNT] = used;
    let etop = 0;
    for (let i = this.numExt - 1; i >= 0; i--) {
      const b = this.numBuckets + i;
      if (extSeen !== undefined && extSeen[i]) continue;
      const w = this.bw + b * BUCKET.words;
      for (let j = 0; j < BUCKET.words; j++) Atomics.store(u32, w + j, 0);
      u32[this.few + etop++] = b;
    }
    u32[ETOP] = etop;
  }

  /**
   * Make the table whole after a writer died mid-operation (runs under the writer lock, or in the next
   * single writer): close odd slot versions, drop duplicate entries a half-done cuckoo move or compaction
   * left, clear signatures of empty entries, cut bad chains, and rebuild the free stacks and the count.
   */
  private repair(deadPid: number): void {
    const u32 = this.u32;
    const u16 = this.u16;
    let fixed = 0;
    for (let k = 1; k < this.keySlots; k++) {
      const s = this.kw0 + k * this.slotWords;
      const v = u32[s]!;
      if (v & 1) {
        Atomics.store(u32, s, (v + 1) >>> 0);
        fixed++;
      }
    }
    const seen = new Uint8Array(this.keySlots);
    const extSeen = new Uint8Array(this.numExt);
    const clean = (b: number): void => {
      const w = this.bw + b * BUCKET.words;
      for (let i = 0; i < BUCKET_ENTRIES; i++) {
        const k = u32[w + BUCKET.keyIdxW + i]!;
        if (k === 0) {
          if (u16[w * 2 + i] !== 0) u16[w * 2 + i] = 0;
          continue;
        }
        if (k >= this.keySlots || seen[k]) {
          Atomics.store(u32, w + BUCKET.keyIdxW + i, 0);
          u16[w * 2 + i] = 0;
          fixed++;
          continue;
        }
        seen[k] = 1;
      }
    };
    for (let b = 0; b < this.numBuckets; b++) {
      clean(b);
      let prev = b;
      let c = u32[this.bw + b * BUCKET.words + BUCKET.nextW]!;
      while (c !== 0) {
        const x = c - this.numBuckets;
        if (x < 0 || x >= this.numExt || extSeen[x]) {
          Atomics.store(u32, this.bw + prev * BUCKET.words + BUCKET.nextW, 0);
          fixed++;
          break;
        }
        extSeen[x] = 1;
        clean(c);
        prev = c;
        c = u32[this.bw + c * BUCKET.words + BUCKET.nextW]!;
      }
    }
    this.bump();
    this.rebuildFree(seen, extSeen);
    log('notice', 'HASH', `repaired hash '${this.name}' after pid ${deadPid} died writing it (${fixed} fixes, ${u32[COUNT]} keys)`);
  }
}
