/**
 * Giving a dead process's objects back to their pool, exactly once, and the enqueue of handles that must
 * fit (shared by every path that returns objects to the ring).
 */
import { MpError } from '@mp/memory';
import { sleepSync, wordIndex } from '@mp/memory/internal';
import type { Ring } from '@mp/ring';
import {
  CACHE_ENTRY_W,
  CACHE_SLOTS,
  HDR_W,
  K,
  KIND_PKTMBUF,
  POOL_MAGIC,
  cacheWord,
} from './layout.js';
import { handleOf } from './handle.js';
import { initMbuf } from './mbuf-init.js';

/** Handles moved per ring call (a pool's scratch, a fresh pool's fill, a reclaim's returns). */
export const CHUNK = 1024;

/** Enqueue k handles that must fit (the ring holds every handle of the pool), recovering from dead peers. */
export function ringEnq(ring: Ring, src: Uint32Array, offset: number, k: number, o: { offset: number }): void {
  o.offset = offset;
  let n: number;
  try {
    n = ring.enqueueBulk(src, k, o);
  } catch (err) {
    n = afterStale(ring, err, () => ring.enqueueBulk(src, k, o));
  }
  if (n !== k) throw new MpError('EIO', `mempool ring '${ring.name}' refused ${k} free handles (more puts than gets?)`);
}

/** How long a pool operation keeps recovering its ring from dead peers before it gives up. */
const STALE_GIVE_UP_MS = 10_000;

/**
 * A ring operation failed with ESTALE (a dead process holds a reservation in front of it): recover the
 * ring and retry until it works. Each try waits a random moment first, so that live peers that hit the
 * same dead reservation stop being in flight at some point and one of them can roll it back (recover
 * leaves a side alone while a live process is mid-operation on it).
 */
export function afterStale(ring: Ring, err: unknown, retry: () => number): number {
  const deadline = Date.now() + STALE_GIVE_UP_MS;
  for (;;) {
    if ((err as MpError).code !== 'ESTALE' || Date.now() > deadline) throw err;
    sleepSync(1 + Math.floor(Math.random() * 20));
    ring.recover();
    try {
      return retry();
    } catch (e) {
      err = e;
    }
  }
}

/**
 * Return every object `deadTag` owns (held or cached) to the pool in `buffer`. Each goes back exactly
 * once: the owner word is swapped from the dead tag to free, and only the swap's winner enqueues it.
 */
export function reclaimRaw(buffer: ArrayBuffer, ring: Ring, deadTag: number): number {
  const u32 = new Uint32Array(buffer);
  if (Atomics.load(u32, HDR_W.magic) !== POOL_MAGIC) return 0;
  const id = u32[HDR_W.poolId]!;
  const n = u32[HDR_W.n]!;
  // The dead process's caches: forget their counts (their objects carry its tag and come back below).
  for (let s = 0; s < CACHE_SLOTS; s++) {
    const w = cacheWord(s);
    if (Atomics.load(u32, w + CACHE_ENTRY_W.tag) === deadTag) {
      Atomics.store(u32, w + CACHE_ENTRY_W.len, 0);
      Atomics.store(u32, w + CACHE_ENTRY_W.tag, 0);
    }
  }
  const owners = new Uint32Array(buffer, u32[HDR_W.ownersOff]!, n);
  const mbufs = u32[HDR_W.kind] === KIND_PKTMBUF;
  const objsW = wordIndex(u32[HDR_W.objsOff]!);
  const strideW = wordIndex(u32[HDR_W.stride]!);
  const room = u32[HDR_W.dataRoom]!;
  const s = new Uint32Array(CHUNK);
  const o = { offset: 0 };
  let k = 0;
  let total = 0;
  for (let i = 0; i < n; i++) {
    if (owners[i] !== deadTag) continue;
    // SYNC: the CAS makes this the only return of object i; pairs with takeOver()/toFree() in a live putter.
    if (Atomics.compareExchange(owners, i, deadTag, K.OWNER_FREE) !== deadTag) continue;
    const h = handleOf(id, i);
    // A dead process's mbuf may be a clone, chained or shared: make it a plain mbuf again (a clone's
    // reference on its direct mbuf is not given back — that one stays out until a reclaim of its own).
    if (mbufs) initMbuf(u32, objsW + i * strideW, h, room);
    s[k++] = h;
    if (k === CHUNK) {
      ringEnq(ring, s, 0, k, o);
      total += k;
      k = 0;
    }
  }
  if (k > 0) ringEnq(ring, s, 0, k, o);
  return total + k;
}
