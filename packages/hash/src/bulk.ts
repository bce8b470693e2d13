/**
 * Bulk lookups (rte_hash_lookup_bulk): a batch in chunks of BULK_CHUNK keys, each chunk in passes so the
 * CPU keeps many cache misses in flight (DPDK prefetches instead): hash every key and touch its primary
 * bucket; match signatures and touch the first candidate's key slot; compare keys; then the secondary
 * buckets of the rest, touched together first; misses are settled against the change counter once per
 * chunk. The per-table specialised passes (codegen.ts) replace passes 1–3 where they exist.
 */
import { MpError } from '@mp/memory';
import { loadWords } from './hashfn.js';
import { BUCKET, HDR_W } from './layout.js';
import type { KeyBatch } from './options.js';
import { MAX_RETRIES, MISS, RETRY, TWO32, ctz, findOnce, matchIn, sigMatches } from './read.js';
import { BULK_CHUNK, reread, type TableView } from './view.js';

/**
 * Passes 2 and 3 of a bulk lookup over the chunk's m keys, whose primary buckets (word index in t.bp[i])
 * were just touched: signature matches (t.bm[i]) and a touch of the first candidate's key slot for every
 * key, then the key compares. A hit writes positions[start + i] (and data); a key not settled here gets
 * MISS or RETRY there and its index in t.bs. Returns how many went to t.bs.
 */
export type PrimaryPass = (kv: Uint32Array, kb: number, m: number, positions: Int32Array, start: number, data: Float64Array | undefined) => number;

/** Pass 1 of a bulk lookup without given hashes: t.bh[i] = the hash of key i (words kv[kb + i·kWords …]). */
export type HashPass = (kv: Uint32Array, kb: number, m: number) => void;

/** The specialised passes of one table (undefined: the generic loops below). */
export interface BulkPasses {
  primary: PrimaryPass | undefined;
  hash: HashPass | undefined;
}

/** Check a bulk call's arguments; returns the number of keys. @throws {MpError} EINVAL */
export function checkBatch(t: TableView, keys: KeyBatch, sigs: Uint32Array | readonly number[] | undefined, positions: Int32Array, data: Float64Array | undefined): number {
  const packed = keys instanceof Uint8Array;
  const n = packed ? keys.length / t.keyLen : keys.length;
  if (!Number.isInteger(n)) throw new MpError('EINVAL', `packed key batch of ${keys.length} bytes is not a multiple of keyLen ${t.keyLen}`);
  if (!(positions instanceof Int32Array) || positions.length < n) throw new MpError('EINVAL', `positions must be an Int32Array of at least ${n} elements`);
  if (data !== undefined && (!(data instanceof Float64Array) || data.length < n)) throw new MpError('EINVAL', `data must be a Float64Array of at least ${n} elements`);
  if (sigs !== undefined && (sigs == null || sigs.length < n)) throw new MpError('EINVAL', `${n} keys need ${n} sigs`);
  return n;
}

/** The bulk lookup in TypeScript (the reference the native path is tested against). Returns the hits. */
export function lookupBulk(
  t: TableView,
  passes: BulkPasses,
  keys: KeyBatch,
  sigs: Uint32Array | readonly number[] | undefined,
  positions: Int32Array,
  data: Float64Array | undefined,
): number {
  const n = checkBatch(t, keys, sigs, positions, data);
  const packed = keys instanceof Uint8Array;
  let hits = 0;
  const kl = t.keyLen;
  const kwn = t.kWords;
  const u32 = t.u32;
  const mask = t.mask;
  const bw = t.bw;
  const kw0 = t.kw0;
  const sw = t.slotWords;
  const { bh, bp, bm, bs: pend } = t;
  for (let start = 0; start < n; start += BULK_CHUNK) {
    const m = Math.min(n - start, BULK_CHUNK);
    // The keys as words: packed, aligned keys of a multiple of 4 bytes are read in place.
    let kv = t.bkw;
    let kb = 0;
    if (packed && (kl & 3) === 0 && ((keys.byteOffset + start * kl) & 3) === 0 && (kv = keyWords(t, keys.buffer)) !== t.bkw) {
      kb = (keys.byteOffset + start * kl) >>> 2;
    } else {
      kv = t.bkw;
      for (let i = 0; i < m; i++) {
        if (packed) {
          loadWords(keys, (start + i) * kl, kl, kv, i * kwn);
        } else {
          const k = (keys as readonly Uint8Array[])[start + i]!;
          if (!(k instanceof Uint8Array) || k.length !== kl) t.badKey(k);
          loadWords(k, 0, kl, kv, i * kwn);
        }
      }
    }
    // Pass 1: hash every key and touch its primary bucket. The loads are independent and the loop is
    // short, so the CPU has many of these cache misses in flight at once. (Hashing is a loop of its own:
    // between the touches it would leave few misses in flight.)
    if (sigs === undefined) {
      if (passes.hash !== undefined) passes.hash(kv, kb, m);
      else for (let i = 0; i < m; i++) bh[i] = t.hashWords(kv, kb + i * kwn);
    } else {
      for (let i = 0; i < m; i++) bh[i] = sigs[start + i]!;
    }
    let touch = 0;
    for (let i = 0; i < m; i++) {
      const w = bw + (bh[i]! & mask) * BUCKET.words;
      bp[i] = w;
      touch ^= u32[w]!;
    }
    // SYNC: counter before the chunk's first search; misses are settled against it below (pairs with
    // bump() in write.ts).
    let c0 = u32[HDR_W.tblChngCnt]!;
    let np = 0;
    if (passes.primary !== undefined) {
      np = passes.primary(kv, kb, m, positions, start, data);
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
        if (settle(t, positions, data, start + i, matchIn(t, bp[i]!, bm[i]!, kv, kb + i * kwn))) hits++;
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
    t.touched = touch;
    let misses = 0;
    let retry = false;
    for (let j = 0; j < np; j++) {
      const i = pend[j]!;
      const h = bh[i]!;
      let r = matchIn(t, bp[j]!, sigMatches(u32, bp[j]!, h >>> 16), kv, kb + i * kwn);
      if (r === MISS && positions[start + i] === RETRY) r = RETRY;
      if (r === MISS && t.numExt > 0 && u32[bp[j]! + BUCKET.nextW] !== 0) r = findOnce(t, h, kv, kb + i * kwn);
      if (settle(t, positions, data, start + i, r)) hits++;
      else {
        misses++;
        if (r === RETRY) retry = true;
      }
    }
    // Misses stand if the change counter did not move since c0 (and no slot changed under a compare);
    // otherwise the misses are searched again, until a pass over them sees the counter unchanged.
    for (let round = 0; misses > 0 && round < MAX_RETRIES; round++) {
      const c1 = reread(u32, t.r32, HDR_W.tblChngCnt);
      if (!retry && c1 === c0) break;
      c0 = c1;
      retry = false;
      misses = 0;
      for (let i = 0; i < m; i++) {
        if (positions[start + i]! >= 0) continue;
        const r = findOnce(t, bh[i]!, kv, kb + i * kwn);
        if (settle(t, positions, data, start + i, r)) hits++;
        else {
          misses++;
          if (r === RETRY) retry = true;
        }
      }
    }
    if (np > 0) {
      for (let i = 0; i < m; i++) {
        if (positions[start + i]! < 0) {
          positions[start + i] = MISS;
          if (data !== undefined) data[start + i] = MISS;
        }
      }
    }
  }
  return hits;
}

/** Write key `at`'s result `r` (position, MISS or RETRY) and, on a hit, its data; true on a hit. */
function settle(t: TableView, positions: Int32Array, data: Float64Array | undefined, at: number, r: number): boolean {
  positions[at] = r;
  if (r < 0) return false;
  if (data !== undefined) data[at] = t.dLo + t.dHi * TWO32;
  return true;
}

/**
 * A u32 view of the whole `buf`, kept for the next call (bulk lookups of packed keys read them in place;
 * the view keeps the caller's last buffer alive until a batch in another buffer comes). The scratch
 * words when the buffer can change size.
 */
function keyWords(t: TableView, buf: ArrayBufferLike): Uint32Array {
  if (buf === t.kvBuf) return t.kvView;
  if ((buf as { resizable?: boolean }).resizable === true || (buf as { growable?: boolean }).growable === true) return t.bkw;
  t.kvBuf = buf;
  t.kvView = new Uint32Array(buf, 0, buf.byteLength >>> 2);
  return t.kvView;
}
