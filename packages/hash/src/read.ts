/**
 * The lock-free reader (DPDK's tbl_chng_cnt protocol): search a key's primary bucket, then its secondary
 * bucket and that bucket's chain of extendable buckets; compare keys under each slot's seqlock; a hit
 * needs no further check, a miss counts only if the table's change counter did not move meanwhile.
 * Readers never write shared memory.
 */
import { BUCKET, BUCKET_ENTRIES, HDR_W, SLOT } from './layout.js';
import { reread, type TableView } from './view.js';

/** Results of one search pass besides a position: not there, or the table changed under the search. */
export const MISS = -1;
export const RETRY = -2;
/** Bound on lookup restarts while writers keep moving keys (never spin forever). */
export const MAX_RETRIES = 100_000;
/** 2^32: the high word of a 64-bit data cell. */
export const TWO32 = 2 ** 32;
/** Most attempts at a stable read of one slot while iterating. */
const ITERATE_TRIES = 1000;

/** Index of the lowest set bit. */
export const ctz = (x: number): number => 31 - Math.clz32(x & -x);
export const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Bit i set when entry i of the bucket at u32 index `w` holds signature `sig`: the eight 16-bit
 * signatures are compared two per word (SWAR zero-lane test on x = word ^ sig·0x10001: a lane's low 15
 * bits plus 0x7fff carry into its bit 15 unless they are all zero, and never into the next lane, so bit
 * 15 of each lane of `((x & 0x7fff7fff) + 0x7fff7fff) | x` is clear exactly when that lane is zero).
 */
export function sigMatches(u32: Uint32Array, w: number, sig: number): number {
  const two = sig * 0x10001;
  let mk = 0;
  for (let j = 0; j < BUCKET_ENTRIES / 2; j++) {
    const x = u32[w + BUCKET.sigU16 / 2 + j]! ^ two;
    const z = ~(((x & 0x7fff7fff) + 0x7fff7fff) | x) & 0x80008000;
    // Lane 0 (bit 15) is entry 2j on a little-endian CPU, entry 2j + 1 on a big-endian one.
    const lo = (z >>> 15) & 1;
    const hi = (z >>> 31) & 1;
    mk |= (LITTLE_ENDIAN ? lo | (hi << 1) : hi | (lo << 1)) << (2 * j);
  }
  return mk;
}

/**
 * Lock-free search, retried while writers move keys. Sets t.dLo/dHi on a hit. A hit needs no counter
 * check (the key compared equal in a stable slot); a miss counts only if the change counter did not move
 * during the pass.
 */
export function find(t: TableView, h: number, kw: Uint32Array, at: number): number {
  const u32 = t.u32;
  // SYNC: counter before the search (a plain load: x86 keeps loads in order, and the closing read below
  // goes through the second view, which the compiler cannot merge with this one); pairs with bump() in
  // write.ts, which writers call before a key moves.
  let c0 = u32[HDR_W.tblChngCnt]!;
  for (let tries = 0; tries < MAX_RETRIES; tries++) {
    const r = findOnce(t, h, kw, at);
    if (r >= 0) return r;
    const c1 = reread(u32, t.r32, HDR_W.tblChngCnt);
    if (r === MISS && c1 === c0) return MISS;
    c0 = c1;
  }
  return MISS;
}

/** The whole lookup of `key` with hash `h` (validates the key): what a probe falls back to. */
export function findKey(t: TableView, key: Uint8Array, h: number): number {
  t.loadKey(key, t.kw, 0);
  return find(t, h >>> 0, t.kw, 0);
}

/** One pass over the primary bucket, then the secondary bucket and its chain. MISS, RETRY or a position. */
export function findOnce(t: TableView, h: number, kw: Uint32Array, at: number): number {
  const sig = h >>> 16;
  const prim = h & t.mask;
  let r = searchBucket(t, prim, sig, kw, at);
  if (r !== MISS) return r;
  let b = (prim ^ sig) & t.mask;
  for (let steps = 0; steps <= t.numExt; steps++) {
    r = searchBucket(t, b, sig, kw, at);
    if (r !== MISS) return r;
    b = t.u32[t.bw + b * BUCKET.words + BUCKET.nextW]!;
    if (b === 0) return MISS;
  }
  return RETRY; // a chain longer than the table: it changed under us
}

function searchBucket(t: TableView, b: number, sig: number, kw: Uint32Array, at: number): number {
  const u32 = t.u32;
  const u16 = t.u16;
  const w = t.bw + b * BUCKET.words;
  const s16 = w * 2;
  for (let i = 0; i < BUCKET_ENTRIES; i++) {
    if (u16[s16 + i] !== sig) continue;
    // SYNC: the key index is published by the writer's publish() (insertIn in write.ts); a plain load is
    // enough here (x86 keeps loads in order; the slot's version is re-read in matchSlot).
    const k = u32[w + BUCKET.keyIdxW + i]!;
    if (k === 0) continue;
    const r = matchSlot(t, k, kw, at);
    if (r !== MISS) return r;
  }
  return MISS;
}

/** The first key among the candidates `mk` (entry bits) of the bucket at word w that equals kw[at…]. */
export function matchIn(t: TableView, w: number, mk: number, kw: Uint32Array, at: number): number {
  let r = MISS;
  while (mk !== 0) {
    const k = t.u32[w + BUCKET.keyIdxW + ctz(mk)]!;
    mk &= mk - 1;
    if (k === 0) continue;
    const x = matchSlot(t, k, kw, at);
    if (x >= 0) return x;
    if (x === RETRY) r = RETRY;
  }
  return r;
}

/** Compare the key in slot k (seqlock-validated); on a match read its live data cell into t.dLo/dHi. */
export function matchSlot(t: TableView, k: number, kw: Uint32Array, at: number): number {
  const u32 = t.u32;
  const s = t.kw0 + k * t.slotWords;
  const v = u32[s]!;
  if (v & 1) return RETRY;
  const kk = s + SLOT.keyW;
  for (let j = 0; j < t.kWords; j++) if (u32[kk + j] !== kw[at + j]) return MISS;
  const d = s + SLOT.dataW + (v & 2);
  t.dLo = u32[d]!;
  t.dHi = u32[d + 1]!;
  // SYNC: the slot is unchanged since we read v: key and data belong together; pairs with the writer's
  // closing publish of the even version (addLocked in write.ts). On TSO a plain load (through the second
  // view, so the compiler cannot reuse v) is the acquire load Atomics.load would be.
  if (reread(u32, t.r32, s) !== v) return RETRY;
  return k - 1;
}

/** A copy of the key bytes in slot k. */
export function copyKey(t: TableView, k: number): Uint8Array {
  const s = t.kw0 + k * t.slotWords + SLOT.keyW;
  return new Uint8Array(t.u32.buffer, s * 4, t.keyLen).slice();
}

/** Is key index k referenced from its bucket? (search by the key's own hash) */
export function isLinked(t: TableView, k: number): boolean {
  const s = t.kw0 + k * t.slotWords + SLOT.keyW;
  const h = t.hashWords(t.u32, s);
  const sig = h >>> 16;
  const prim = h & t.mask;
  for (let b = prim, pass = 0; pass < 2; pass++, b = (prim ^ sig) & t.mask) {
    for (let c = b, steps = 0; c !== 0 || steps === 0; steps++) {
      const w = t.bw + c * BUCKET.words;
      for (let i = 0; i < BUCKET_ENTRIES; i++) if (Atomics.load(t.u32, w + BUCKET.keyIdxW + i) === k) return true;
      if (pass === 0 || steps > t.numExt) break;
      c = Atomics.load(t.u32, w + BUCKET.nextW);
    }
  }
  return false;
}

/** The data of key index k, or undefined when no bucket references it. */
export function dataOf(t: TableView, k: number): number | undefined {
  const s = t.kw0 + k * t.slotWords;
  const v = Atomics.load(t.u32, s);
  const d = s + SLOT.dataW + (v & 2);
  return isLinked(t, k) ? t.u32[d]! + t.u32[d + 1]! * TWO32 : undefined;
}

/** Every key with its position and data (main buckets, then extendable buckets), each read stably. */
export function* entries(t: TableView): IterableIterator<{ key: Uint8Array; position: number; data: number }> {
  const total = t.numBuckets + t.numExt;
  for (let b = 0; b < total; b++) {
    const w = t.bw + b * BUCKET.words;
    for (let i = 0; i < BUCKET_ENTRIES; i++) {
      const k = Atomics.load(t.u32, w + BUCKET.keyIdxW + i);
      if (k === 0 || k >= t.keySlots) continue;
      const s = t.kw0 + k * t.slotWords;
      for (let attempt = 0; attempt < ITERATE_TRIES; attempt++) {
        const v = Atomics.load(t.u32, s);
        if (v & 1) continue;
        const key = copyKey(t, k);
        const d = s + SLOT.dataW + (v & 2);
        const data = t.u32[d]! + t.u32[d + 1]! * TWO32;
        if (Atomics.load(t.u32, s) !== v) continue;
        yield { key, position: k - 1, data };
        break;
      }
    }
  }
}
