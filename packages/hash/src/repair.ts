/**
 * After a writer died mid-operation: make the table whole again (run under the writer lock, or by the
 * next single writer); and the audit of the table's invariants the tests and `mp` diagnostics run.
 */
import { log } from '@mp/memory/internal';
import { BUCKET, BUCKET_ENTRIES, HDR_W, SLOT } from './layout.js';
import type { TableView } from './view.js';
import { bump, rebuildFree } from './write.js';

/**
 * Close odd slot versions, drop duplicate entries a half-done cuckoo move or compaction left, clear
 * signatures of empty entries, cut bad chains, and rebuild the free stacks and the count.
 */
export function repair(t: TableView, deadPid: number): void {
  const u32 = t.u32;
  const u16 = t.u16;
  let fixed = 0;
  for (let k = 1; k < t.keySlots; k++) {
    const s = t.kw0 + k * t.slotWords;
    const v = u32[s]!;
    if (v & 1) {
      Atomics.store(u32, s, (v + 1) >>> 0);
      fixed++;
    }
  }
  const seen = new Uint8Array(t.keySlots);
  const extSeen = new Uint8Array(t.numExt);
  const clean = (b: number): void => {
    const w = t.bw + b * BUCKET.words;
    for (let i = 0; i < BUCKET_ENTRIES; i++) {
      const k = u32[w + BUCKET.keyIdxW + i]!;
      if (k === 0) {
        if (u16[w * 2 + i] !== 0) u16[w * 2 + i] = 0;
        continue;
      }
      if (k >= t.keySlots || seen[k]) {
        Atomics.store(u32, w + BUCKET.keyIdxW + i, 0);
        u16[w * 2 + i] = 0;
        fixed++;
        continue;
      }
      seen[k] = 1;
    }
  };
  for (let b = 0; b < t.numBuckets; b++) {
    clean(b);
    let prev = b;
    let c = u32[t.bw + b * BUCKET.words + BUCKET.nextW]!;
    while (c !== 0) {
      const x = c - t.numBuckets;
      if (x < 0 || x >= t.numExt || extSeen[x]) {
        Atomics.store(u32, t.bw + prev * BUCKET.words + BUCKET.nextW, 0);
        fixed++;
        break;
      }
      extSeen[x] = 1;
      clean(c);
      prev = c;
      c = u32[t.bw + c * BUCKET.words + BUCKET.nextW]!;
    }
  }
  bump(t);
  rebuildFree(t, seen, extSeen);
  log('notice', 'HASH', `repaired hash '${t.name}' after pid ${deadPid} died writing it (${fixed} fixes, ${u32[HDR_W.count]} keys)`);
}

/**
 * The table's invariants: every entry in one of its key's two buckets or their chain, no key index
 * twice, free stack + entries = all slots, count right. Returns the problems found (empty: sound).
 */
export function audit(t: TableView): string[] {
  const problems: string[] = [];
  const u32 = t.u32;
  const seen = new Uint8Array(t.keySlots);
  let linked = 0;
  const visit = (b: number, home: number): void => {
    const w = t.bw + b * BUCKET.words;
    for (let i = 0; i < BUCKET_ENTRIES; i++) {
      const k = u32[w + BUCKET.keyIdxW + i]!;
      if (k === 0) continue;
      if (k >= t.keySlots) {
        problems.push(`bucket ${b}[${i}]: key index ${k} out of range`);
        continue;
      }
      if (seen[k]) problems.push(`key index ${k} referenced twice (bucket ${b}[${i}])`);
      seen[k] = 1;
      linked++;
      const h = t.hashWords(u32, t.kw0 + k * t.slotWords + SLOT.keyW);
      const sig = h >>> 16;
      const prim = h & t.mask;
      const sec = (prim ^ sig) & t.mask;
      if (t.u16[w * 2 + i] !== sig) problems.push(`bucket ${b}[${i}]: signature ${t.u16[w * 2 + i]} ≠ ${sig}`);
      if (home !== prim && home !== sec) problems.push(`key index ${k} sits in bucket ${b} (chain of ${home}), its buckets are ${prim}/${sec}`);
      if (u32[t.kw0 + k * t.slotWords]! & 1) problems.push(`key index ${k}: odd version`);
    }
  };
  for (let b = 0; b < t.numBuckets; b++) {
    visit(b, b);
    let c = u32[t.bw + b * BUCKET.words + BUCKET.nextW]!;
    for (let steps = 0; c !== 0; steps++) {
      if (c < t.numBuckets || c >= t.numBuckets + t.numExt || steps > t.numExt) {
        problems.push(`chain of bucket ${b}: bad next ${c}`);
        break;
      }
      visit(c, b);
      c = u32[t.bw + c * BUCKET.words + BUCKET.nextW]!;
    }
  }
  const top = u32[HDR_W.freeKeysTop]!;
  for (let i = 0; i < top; i++) {
    const k = u32[t.fkw + i]!;
    if (seen[k]) problems.push(`key index ${k} is both free and in use`);
    seen[k] = 1;
  }
  for (let k = 1; k < t.keySlots; k++) if (!seen[k]) problems.push(`key index ${k} is neither free nor in use (leaked)`);
  if (u32[HDR_W.count] !== linked) problems.push(`count ${u32[HDR_W.count]} ≠ ${linked} keys in buckets`);
  return problems;
}
