/**
 * The writer (called with the writer lock or mark held, table.ts): add and delete, cuckoo moves by a
 * breadth-first search, chains of extendable buckets and their compaction, the free stacks. Every store
 * a reader may see goes through publish() after what it publishes, and bump() precedes every move of a
 * key, so a lock-free reader (read.ts) either finds the key or sees the counter change and searches again.
 */
import { MpError } from '@mp/memory';
import { FAULTS, faultPoint } from '@mp/memory/internal';
import { BUCKET, BUCKET_ENTRIES, HDR_W, SLOT } from './layout.js';
import { ctz, sigMatches } from './read.js';
import { BFS_QUEUE, publish, type TableView } from './view.js';

/** Fault points of the writer, for the crash tests (see @mp/memory's faultPoint). */
export const HASH_FAULTS = {
  addSlot: 'hash-add-slot',
  addPublished: 'hash-add-published',
  cuckooMove: 'hash-cuckoo-move',
  delUnlinked: 'hash-del-unlinked',
} as const;

/** Tell readers a key moves: they search again (pairs with the counter reads in read.ts find/bulk.ts). */
export function bump(t: TableView): void {
  // SYNC: readers that overlap this see a different counter and search again.
  publish(t.u32, HDR_W.tblChngCnt, (t.u32[HDR_W.tblChngCnt]! + 1) >>> 0);
}

/** Writer-side search: u32 index of the keyIdx word holding the key, or -1. Also sets `t.foundHome`. */
function wFind(t: TableView, h: number, kw: Uint32Array): number {
  const sig = h >>> 16;
  const prim = h & t.mask;
  const sec = (prim ^ sig) & t.mask;
  // Touch both buckets before searching either: their two cache misses overlap.
  t.touched = t.u32[t.bw + prim * BUCKET.words]! ^ t.u32[t.bw + sec * BUCKET.words]!;
  let e = wSearch(t, prim, sig, kw);
  if (e >= 0) {
    t.foundHome = prim;
    return e;
  }
  let b = sec;
  for (let steps = 0; steps <= t.numExt; steps++) {
    e = wSearch(t, b, sig, kw);
    if (e >= 0) {
      t.foundHome = sec;
      return e;
    }
    b = t.u32[t.bw + b * BUCKET.words + BUCKET.nextW]!;
    if (b === 0) break;
  }
  return -1;
}

function wSearch(t: TableView, b: number, sig: number, kw: Uint32Array): number {
  const u32 = t.u32;
  const w = t.bw + b * BUCKET.words;
  for (let mk = sigMatches(u32, w, sig); mk !== 0; mk &= mk - 1) {
    const i = ctz(mk);
    const k = u32[w + BUCKET.keyIdxW + i]!;
    if (k === 0) continue;
    const kk = t.kw0 + k * t.slotWords + SLOT.keyW;
    let j = 0;
    while (j < t.kWords && u32[kk + j] === kw[j]) j++;
    if (j === t.kWords) return w + BUCKET.keyIdxW + i;
  }
  return -1;
}

/** Add the key in t.kw (hash h) with data lo/hi, or update its data. Returns its position. @throws ENOSPC */
export function addLocked(t: TableView, h: number, lo: number, hi: number): number {
  const u32 = t.u32;
  const e = wFind(t, h, t.kw);
  if (e >= 0) {
    // Update in place without a visible odd state: write the idle data cell, then flip the version.
    const k = u32[e]!;
    const s = t.kw0 + k * t.slotWords;
    const v = u32[s]!;
    const d = s + SLOT.dataW + ((v + 2) & 2);
    u32[d] = lo;
    u32[d + 1] = hi;
    // SYNC: one store publishes the new data cell; pairs with matchSlot's reads of the version (read.ts).
    publish(u32, s, (v + 2) >>> 0);
    return k - 1;
  }
  if (u32[HDR_W.count]! >= t.entries) throw new MpError('ENOSPC', `hash '${t.name}' is full (${t.entries} keys)`);
  const k = popKey(t);
  if (k === 0) throw new MpError('ENOSPC', `hash '${t.name}' has no free key slot`);
  // Fill the slot: odd version while it changes, so a stale reader of its previous key retries.
  const s = t.kw0 + k * t.slotWords;
  const v = u32[s]!;
  publish(u32, s, (v + 1) >>> 0);
  const kk = s + SLOT.keyW;
  for (let j = 0; j < t.kWords; j++) u32[kk + j] = t.kw[j]!;
  const d = s + SLOT.dataW + ((v + 2) & 2);
  u32[d] = lo;
  u32[d + 1] = hi;
  // SYNC: the even version closes the slot's rewrite; pairs with matchSlot's closing reread (read.ts).
  publish(u32, s, (v + 2) >>> 0);
  if (FAULTS) faultPoint(HASH_FAULTS.addSlot);
  const sig = h >>> 16;
  const prim = h & t.mask;
  const sec = (prim ^ sig) & t.mask;
  if (insertIn(t, prim, sig, k) || makeSpace(t, prim, sig, k) || makeSpace(t, sec, sig, k) || (t.numExt > 0 && insertExt(t, sec, sig, k))) {
    if (FAULTS) faultPoint(HASH_FAULTS.addPublished);
    u32[HDR_W.count] = u32[HDR_W.count]! + 1;
    return k - 1;
  }
  pushKey(t, k);
  throw new MpError('ENOSPC', `hash '${t.name}': no room for the key in its buckets (${u32[HDR_W.count]} of ${t.entries} keys; consider extendable: true)`);
}

function insertIn(t: TableView, b: number, sig: number, k: number): boolean {
  const w = t.bw + b * BUCKET.words;
  for (let i = 0; i < BUCKET_ENTRIES; i++) {
    if (t.u32[w + BUCKET.keyIdxW + i] === 0) {
      t.u16[w * 2 + i] = sig;
      // SYNC: publish the entry after its signature and slot are written; pairs with the plain key-index
      // load of searchBucket (read.ts).
      publish(t.u32, w + BUCKET.keyIdxW + i, k);
      return true;
    }
  }
  return false;
}

/** Breadth-first search for a cuckoo path from bucket `start` to an empty entry; move keys along it. */
function makeSpace(t: TableView, start: number, sig: number, k: number): boolean {
  const { qB, qPrev, qSlot, u32, u16 } = t;
  let head = 0;
  let tail = 1;
  qB[0] = start;
  qPrev[0] = -1;
  qSlot[0] = -1;
  while (head < tail && tail <= BFS_QUEUE - BUCKET_ENTRIES) {
    const b = qB[head]!;
    const w = t.bw + b * BUCKET.words;
    for (let i = 0; i < BUCKET_ENTRIES; i++) {
      if (u32[w + BUCKET.keyIdxW + i] === 0) {
        moveAlong(t, head, i, sig, k);
        return true;
      }
    }
    for (let i = 0; i < BUCKET_ENTRIES; i++) {
      qB[tail] = (b ^ u16[w * 2 + i]!) & t.mask;
      qPrev[tail] = head;
      qSlot[tail] = i;
      tail++;
    }
    head++;
  }
  return false;
}

function moveAlong(t: TableView, node: number, slot: number, sig: number, k: number): void {
  const { qB, qPrev, qSlot, u32, u16 } = t;
  let cur = node;
  let curSlot = slot;
  while (qPrev[cur] !== -1) {
    const prev = qPrev[cur]!;
    const prevSlot = qSlot[cur]!;
    const cw = t.bw + qB[cur]! * BUCKET.words;
    const pw = t.bw + qB[prev]! * BUCKET.words;
    // SYNC: bump before overwriting an entry whose key was copied elsewhere by the previous step, so a
    // reader that missed the key in both places searches again. The copy makes the key present twice.
    bump(t);
    u16[cw * 2 + curSlot] = u16[pw * 2 + prevSlot]!;
    publish(u32, cw + BUCKET.keyIdxW + curSlot, u32[pw + BUCKET.keyIdxW + prevSlot]!);
    if (FAULTS) faultPoint(HASH_FAULTS.cuckooMove);
    cur = prev;
    curSlot = prevSlot;
  }
  bump(t);
  const w = t.bw + qB[cur]! * BUCKET.words;
  u16[w * 2 + curSlot] = sig;
  publish(u32, w + BUCKET.keyIdxW + curSlot, k);
}

/** Put the key in the chain of extendable buckets of `sec`, taking a new bucket if needed. */
function insertExt(t: TableView, sec: number, sig: number, k: number): boolean {
  const u32 = t.u32;
  let last = sec;
  for (let b = u32[t.bw + sec * BUCKET.words + BUCKET.nextW]!; b !== 0; b = u32[t.bw + b * BUCKET.words + BUCKET.nextW]!) {
    if (insertIn(t, b, sig, k)) return true;
    last = b;
  }
  const top = u32[HDR_W.freeExtTop]!;
  if (top === 0) return false;
  const e = u32[t.few + top - 1]!;
  u32[HDR_W.freeExtTop] = top - 1;
  const w = t.bw + e * BUCKET.words;
  for (let i = 0; i < BUCKET.words; i++) u32[w + i] = 0;
  t.u16[w * 2] = sig;
  u32[w + BUCKET.keyIdxW] = k;
  // SYNC: link the filled bucket at the chain's end: readers see all of it or none (pairs with the
  // chain walk's plain load of next in findOnce, read.ts).
  publish(u32, t.bw + last * BUCKET.words + BUCKET.nextW, e);
  return true;
}

/** Delete the key in t.kw (hash h); returns the position it had. @throws ENOENT */
export function delLocked(t: TableView, h: number): number {
  const u32 = t.u32;
  const e = wFind(t, h, t.kw);
  if (e < 0) throw new MpError('ENOENT', `hash '${t.name}': no such key`);
  const k = u32[e]!;
  const home = t.foundHome;
  const w = e - ((e - t.bw) % BUCKET.words);
  const slot = e - w - BUCKET.keyIdxW;
  t.u16[w * 2 + slot] = 0;
  publish(u32, e, 0);
  if (t.numExt > 0) compact(t, home, (w - t.bw) / BUCKET.words, slot);
  if (FAULTS) faultPoint(HASH_FAULTS.delUnlinked);
  pushKey(t, k);
  u32[HDR_W.count] = u32[HDR_W.count]! - 1;
  return k - 1;
}

/** Fill the hole at (b, slot) with the last entry of b's chain, then recycle an emptied tail bucket. */
function compact(t: TableView, home: number, b: number, slot: number): void {
  const u32 = t.u32;
  const u16 = t.u16;
  const next = (x: number): number => u32[t.bw + x * BUCKET.words + BUCKET.nextW]!;
  if (next(b) !== 0) {
    let last = b;
    while (next(last) !== 0) last = next(last);
    const lw = t.bw + last * BUCKET.words;
    for (let i = BUCKET_ENTRIES - 1; i >= 0; i--) {
      const k = u32[lw + BUCKET.keyIdxW + i]!;
      if (k === 0) continue;
      const bw = t.bw + b * BUCKET.words;
      u16[bw * 2 + slot] = u16[lw * 2 + i]!;
      publish(u32, bw + BUCKET.keyIdxW + slot, k);
      bump(t);
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
  const lw = t.bw + last * BUCKET.words;
  for (let i = 0; i < BUCKET_ENTRIES; i++) if (u32[lw + BUCKET.keyIdxW + i] !== 0) return;
  publish(u32, t.bw + prev * BUCKET.words + BUCKET.nextW, 0);
  bump(t);
  const top = u32[HDR_W.freeExtTop]!;
  u32[t.few + top] = last;
  u32[HDR_W.freeExtTop] = top + 1;
}

function popKey(t: TableView): number {
  const top = t.u32[HDR_W.freeKeysTop]!;
  if (top === 0) return 0;
  const k = t.u32[t.fkw + top - 1]!;
  t.u32[HDR_W.freeKeysTop] = top - 1;
  return k;
}

function pushKey(t: TableView, k: number): void {
  const top = t.u32[HDR_W.freeKeysTop]!;
  t.u32[t.fkw + top] = k;
  t.u32[HDR_W.freeKeysTop] = top + 1;
}

/** Remove every key (rte_hash_reset), under the writer lock. */
export function resetLocked(t: TableView): void {
  const u32 = t.u32;
  const total = t.numBuckets + t.numExt;
  for (let b = 0; b < total; b++) {
    const w = t.bw + b * BUCKET.words;
    for (let i = 0; i < BUCKET_ENTRIES; i++) {
      Atomics.store(u32, w + BUCKET.keyIdxW + i, 0);
      t.u16[w * 2 + i] = 0;
    }
    Atomics.store(u32, w + BUCKET.nextW, 0);
  }
  bump(t);
  rebuildFree(t, null);
}

/**
 * Rebuild the free stacks and the count from the buckets (the truth). `seen` marks key indexes in use
 * (null: none). Ext buckets not in a chain are cleared and freed.
 */
export function rebuildFree(t: TableView, seen: Uint8Array | null, extSeen?: Uint8Array): void {
  const u32 = t.u32;
  let top = 0;
  let used = 0;
  // Highest index on top of the stack last: keys get low positions first.
  for (let k = t.keySlots - 1; k >= 1; k--) {
    if (seen !== null && seen[k]) used++;
    else u32[t.fkw + top++] = k;
  }
  u32[HDR_W.freeKeysTop] = top;
  u32[HDR_W.count] = used;
  let etop = 0;
  for (let i = t.numExt - 1; i >= 0; i--) {
    const b = t.numBuckets + i;
    if (extSeen !== undefined && extSeen[i]) continue;
    const w = t.bw + b * BUCKET.words;
    for (let j = 0; j < BUCKET.words; j++) Atomics.store(u32, w + j, 0);
    u32[t.few + etop++] = b;
  }
  u32[HDR_W.freeExtTop] = etop;
}
