/**
 * One process's view of a table: typed-array views of the memzone and the geometry read once from its
 * header (word indices, so the hot paths never divide), plus the per-process scratch the read, bulk and
 * write paths share. Internal: {@link Hash} holds one and passes it to the functions of read.ts,
 * bulk.ts, write.ts and repair.ts.
 */
import { MpError } from '@mp/memory';
import { TSO } from '@mp/memory/internal';
import { crc32cWords, jhashWords, loadWords } from './hashfn.js';
import { BUCKET, F_EXT, F_MULTI_WRITER, HASH_FUNC_IDS, HDR_H, HDR_W } from './layout.js';

/** Keys per pass of a bulk lookup. */
export const BULK_CHUNK = 64;
/** Longest queue of the writers' breadth-first cuckoo search (RTE_HASH_BFS_QUEUE_MAX_LEN). */
export const BFS_QUEUE = 1000;

export class TableView {
  readonly u32: Uint32Array;
  /** A second view of the same memory: the seqlock's closing reads go through it (see @mp/memory TSO). */
  readonly r32: Uint32Array;
  readonly u16: Uint16Array;
  readonly fnId: number;
  readonly initVal: number;
  readonly keyLen: number;
  readonly entries: number;
  readonly numBuckets: number;
  readonly numExt: number;
  readonly keySlots: number;
  readonly extendable: boolean;
  readonly multiWriter: boolean;
  readonly mask: number;
  readonly kWords: number;
  readonly slotWords: number;
  /** u32 index of bucket 0. */
  readonly bw: number;
  /** u32 index of key slot 0. */
  readonly kw0: number;
  /** u32 index of the free key stack. */
  readonly fkw: number;
  /** u32 index of the free ext-bucket stack. */
  readonly few: number;
  /** The table's instance id (layout.ts): another value in the header means it was freed. */
  readonly instance: number;
  /** Scratch: one key's words. */
  readonly kw: Uint32Array;
  /** Scratch: a batch of keys' words, their hashes, bucket word indexes, signature matches, pending keys. */
  readonly bkw: Uint32Array;
  readonly bh = new Uint32Array(BULK_CHUNK);
  readonly bp = new Int32Array(BULK_CHUNK);
  readonly bm = new Uint32Array(BULK_CHUNK);
  readonly bs = new Int32Array(BULK_CHUNK);
  /** Sink of the touch passes (keeps the loads alive). */
  readonly sink = new Int32Array(1);
  touched = 0;
  /** The buffer of the last packed batch and a u32 view of it ({@link keyWords}). */
  kvBuf: ArrayBufferLike | undefined;
  kvView: Uint32Array = new Uint32Array(0);
  /** Writers' cuckoo search queue. */
  readonly qB = new Int32Array(BFS_QUEUE);
  readonly qPrev = new Int32Array(BFS_QUEUE);
  readonly qSlot = new Int32Array(BFS_QUEUE);
  /** The bucket whose chain holds what the writer's search found last (primary or secondary). */
  foundHome = 0;
  /** The data of the last hit (lo, hi u32). */
  dLo = 0;
  dHi = 0;

  constructor(
    readonly name: string,
    readonly buf: ArrayBufferLike,
  ) {
    this.u32 = new Uint32Array(buf);
    this.r32 = new Uint32Array(buf);
    this.u16 = new Uint16Array(buf);
    const u32 = this.u32;
    const flags = this.u16[HDR_H.flags]!;
    this.fnId = u32[HDR_W.hashFunc]!;
    this.instance = u32[HDR_W.instance]!;
    this.initVal = u32[HDR_W.initVal]!;
    this.keyLen = u32[HDR_W.keyLen]!;
    this.entries = u32[HDR_W.entries]!;
    this.numBuckets = u32[HDR_W.numBuckets]!;
    this.numExt = u32[HDR_W.numExt]!;
    this.keySlots = u32[HDR_W.keySlots]!;
    this.extendable = (flags & F_EXT) !== 0;
    this.multiWriter = (flags & F_MULTI_WRITER) !== 0;
    this.mask = this.numBuckets - 1;
    this.kWords = (this.keyLen + 3) >>> 2;
    this.slotWords = u32[HDR_W.slotSize]! >>> 2;
    this.bw = u32[HDR_W.bucketsOff]! >>> 2;
    this.kw0 = u32[HDR_W.keyStoreOff]! >>> 2;
    this.fkw = u32[HDR_W.freeKeysOff]! >>> 2;
    this.few = u32[HDR_W.freeExtOff]! >>> 2;
    this.kw = new Uint32Array(this.kWords + 1);
    this.bkw = new Uint32Array(this.kWords * BULK_CHUNK);
  }

  /** u32 index of bucket b. */
  bucket(b: number): number {
    return this.bw + b * BUCKET.words;
  }

  /** u32 index of key slot k. */
  slot(k: number): number {
    return this.kw0 + k * this.slotWords;
  }

  /** The table's hash of the key words at w[at…]. */
  hashWords(w: Uint32Array, at: number): number {
    return this.fnId === HASH_FUNC_IDS.crc32c ? crc32cWords(w, at, this.keyLen, this.initVal) : jhashWords(w, at, this.keyLen, this.initVal);
  }

  /** Validate `key` and load its words into w[at…]. @throws {MpError} EINVAL */
  loadKey(key: Uint8Array, w: Uint32Array, at: number): void {
    if (!(key instanceof Uint8Array) || key.length !== this.keyLen) this.badKey(key);
    loadWords(key, 0, this.keyLen, w, at);
  }

  /** @throws {MpError} EINVAL — always: what is wrong with `key` */
  badKey(key: unknown): never {
    if (!(key instanceof Uint8Array)) throw new MpError('EINVAL', `hash '${this.name}': a key is a Uint8Array of ${this.keyLen} bytes`);
    throw new MpError('EINVAL', `hash '${this.name}': key of ${key.length} bytes, this table's keys are ${this.keyLen} bytes`);
  }
}

/**
 * A store other processes may read without a lock: plain on x86 (a release store there, and V8 keeps
 * typed-array stores in program order: see @mp/memory's TSO), Atomics.store elsewhere.
 */
export function publish(a: Uint32Array, i: number, v: number): void {
  if (TSO) a[i] = v;
  else Atomics.store(a, i, v);
}

/**
 * Re-read a word other processes write (a seqlock's closing read, the change counter after a miss): on
 * x86 a plain load through the second view `r32` (see @mp/memory's TSO), else Atomics.load. Chosen once
 * here, so hot paths neither test TSO nor see Atomics.load's untyped result.
 */
export const reread: (u32: Uint32Array, r32: Uint32Array, i: number) => number = TSO ? (_u32, r32, i) => r32[i]! : (u32, _r32, i) => Atomics.load(u32, i);
