/**
 * How a pool handle comes to exist in a thread: created (its memzone and ring made, the header written,
 * every handle put into the ring), looked up by name, or opened in a worker from a descriptor — and the
 * per-thread cache slot each handle claims. The handle itself (mempool.ts) is made through `make`, the
 * class's own constructor, which only Mempool can call.
 */
import { MpError, memzone, validateName } from '@mp/memory';
import { log } from '@mp/memory/internal';
import type { Memzone } from '@mp/memory';
import { Ring, RING_F_EXACT_SZ, RING_F_SC_DEQ, RING_F_SP_ENQ } from '@mp/ring';
import {
  CACHE_ENTRY_W,
  CACHE_LINE,
  CACHE_SLOTS,
  HDR,
  HDR_W,
  KIND_PKTMBUF,
  KIND_PLAIN,
  MEMPOOL_MZ_PREFIX,
  MEMPOOL_NAME_MAX,
  MEMPOOL_VERSION,
  POOL_MAGIC,
  cacheWord,
} from './layout.js';
import { MEMPOOL_F_SC_GET, MEMPOOL_F_SP_PUT, checkCreate } from './options.js';
import type { MempoolCreateOptions, MempoolDescriptor } from './options.js';
import { closeAll, joinRegistry } from './pools.js';
import { state } from './state.js';
import { handleOf } from './handle.js';
import { CHUNK } from './reclaim.js';
import type { Mempool } from './mempool.js';

/** Mempool's constructor, handed over by the class. */
export type MakePool = (buffer: ArrayBuffer, ring: Ring, tag: number, mz: Memzone | undefined, desc: MempoolDescriptor | undefined) => Mempool;

/** What a pktmbuf pool adds to a plain one (mbuf.ts). */
export interface MbufPart {
  dataRoom: number;
  priv: number;
  init: (p: Mempool) => void;
}

/** Mempool.create and pktmbufPoolCreate (errors: Mempool.create's). */
export function createPool(make: MakePool, name: string, n: number, eltSize: number, opts: MempoolCreateOptions, mbuf: MbufPart | undefined): Mempool {
  const { cacheSize, privSize, flags, stride, geo } = checkCreate(name, n, eltSize, opts);
  const reg = joinRegistry();
  reg.sweep();
  return reg.withLock(() => {
    const id = reg.allocPoolLocked(name);
    const mz = memzone.reserve(MEMPOOL_MZ_PREFIX + name, geo.bytes, { align: CACHE_LINE });
    let ring: Ring;
    try {
      let rflags = RING_F_EXACT_SZ;
      if (flags & MEMPOOL_F_SP_PUT) rflags |= RING_F_SP_ENQ;
      if (flags & MEMPOOL_F_SC_GET) rflags |= RING_F_SC_DEQ;
      ring = Ring.create(MEMPOOL_MZ_PREFIX + name, n, { elemSize: 4, flags: rflags });
    } catch (err) {
      memzone.free(mz.name);
      throw err;
    }
    const buf = mz.buffer;
    const u32 = new Uint32Array(buf);
    new Uint8Array(buf, 0, geo.objsOff).fill(0); // header, caches, owner words (K.OWNER_FREE), private area
    const u16 = new Uint16Array(buf, 0, 4);
    u16[HDR.version / 2] = MEMPOOL_VERSION;
    u16[HDR.flags / 2] = flags;
    u32[HDR_W.n] = n;
    u32[HDR_W.eltSize] = eltSize;
    u32[HDR_W.stride] = stride;
    u32[HDR_W.cacheSize] = cacheSize;
    u32[HDR_W.poolId] = id;
    u32[HDR_W.privSize] = privSize;
    new Uint8Array(buf, HDR.name, HDR.nameSize).set(new TextEncoder().encode(name));
    u32[HDR_W.kind] = mbuf === undefined ? KIND_PLAIN : KIND_PKTMBUF;
    u32[HDR_W.dataRoom] = mbuf?.dataRoom ?? 0;
    u32[HDR_W.mbufPriv] = mbuf?.priv ?? 0;
    u32[HDR_W.ownersOff] = geo.ownersOff;
    u32[HDR_W.privOff] = geo.privOff;
    u32[HDR_W.objsOff] = geo.objsOff;
    // SYNC: magic after the header; pairs with the check in readHeader of a looking-up process.
    Atomics.store(u32, HDR_W.magic, POOL_MAGIC);
    const pool = make(buf, ring, reg.tag, mz, undefined);
    mbuf?.init(pool);
    // Every handle into the ring, in index order (a fresh pool hands out index 0 first).
    const chunk = new Uint32Array(Math.min(CHUNK, n));
    for (let base = 0; base < n; base += CHUNK) {
      const k = Math.min(CHUNK, n - base);
      for (let i = 0; i < k; i++) chunk[i] = handleOf(id, base + i);
      ring.enqueueBulk(chunk, k);
    }
    reg.publishPoolLocked(id);
    state.byId[id] = pool;
    state.byName.set(name, pool);
    return pool;
  });
}

/** Mempool.lookup (errors: its). */
export function lookupPool(make: MakePool, name: string): Mempool {
  validateName('mempool', name, MEMPOOL_NAME_MAX);
  const cached = state.byName.get(name);
  if (cached !== undefined && !cached.freed && memzone.find(MEMPOOL_MZ_PREFIX + name) === cached.mz) return cached;
  const reg = joinRegistry();
  reg.sweep();
  const mz = memzone.find(MEMPOOL_MZ_PREFIX + name);
  if (mz === undefined) throw new MpError('ENOENT', `no mempool named '${name}'`);
  const ring = Ring.lookup(MEMPOOL_MZ_PREFIX + name);
  const pool = make(mz.buffer, ring, reg.tag, mz, undefined);
  state.byId[pool.id] = pool;
  state.byName.set(name, pool);
  return pool;
}

/** Mempool.fromDescriptor (errors: its). */
export function poolFromDescriptor(make: MakePool, d: MempoolDescriptor): Mempool {
  if (!d || typeof d.name !== 'string' || typeof d.memzone !== 'object' || typeof d.ring !== 'object' || !Number.isInteger(d.tag)) {
    throw new MpError('EINVAL', 'not a mempool descriptor (make one with pool.describe())');
  }
  const have = state.byName.get(d.name);
  if (have !== undefined && !have.freed) return have;
  const pool = make(memzone.mapDescriptor(d.memzone), Ring.fromDescriptor(d.ring), d.tag, undefined, d);
  state.byId[pool.id] = pool;
  state.byName.set(d.name, pool);
  if (!state.exitHooked) {
    state.exitHooked = true;
    process.prependListener('exit', closeAll);
  }
  return pool;
}

/**
 * Check a pool's header (magic, layout version) and decode its name.
 *
 * @throws {MpError} EPROTO — no pool there, or another layout version
 */
export function readHeader(u32: Uint32Array, where: string | undefined): string {
  const u16 = new Uint16Array(u32.buffer, 0, 4);
  const magic = Atomics.load(u32, HDR_W.magic);
  if (magic !== POOL_MAGIC) throw new MpError('EPROTO', `memzone ${where} holds no mempool (magic 0x${magic.toString(16)})`);
  if (u16[HDR.version / 2] !== MEMPOOL_VERSION) {
    throw new MpError('EPROTO', `mempool layout version ${u16[HDR.version / 2]}, this @mp/mempool speaks version ${MEMPOOL_VERSION}`);
  }
  const nb = new Uint8Array(u32.buffer, HDR.name, HDR.nameSize);
  const end = nb.indexOf(0);
  return new TextDecoder().decode(nb.subarray(0, end < 0 ? HDR.nameSize : end));
}

/**
 * Claim a free cache slot of the pool for this thread (tag `tag`): the word index of its shared count, or
 * -1 when all are taken (the thread then works uncached, with a warning).
 */
export function claimCacheSlot(u32: Uint32Array, tag: number, name: string): number {
  for (let s = 0; s < CACHE_SLOTS; s++) {
    const w = cacheWord(s);
    if (Atomics.compareExchange(u32, w + CACHE_ENTRY_W.tag, 0, tag) === 0) {
      Atomics.store(u32, w + CACHE_ENTRY_W.len, 0);
      return w + CACHE_ENTRY_W.len;
    }
  }
  log('warning', 'MEMPOOL', `pool '${name}': all ${CACHE_SLOTS} cache slots in use; this thread works uncached`);
  return -1;
}

/** The cache slots some thread holds, with their owner tag and current length (counts, dump). */
export function usedCacheSlots(u32: Uint32Array): Array<{ slot: number; tag: number; len: number }> {
  const out: Array<{ slot: number; tag: number; len: number }> = [];
  for (let slot = 0; slot < CACHE_SLOTS; slot++) {
    const w = cacheWord(slot);
    const tag = Atomics.load(u32, w + CACHE_ENTRY_W.tag);
    if (tag !== 0) out.push({ slot, tag, len: Atomics.load(u32, w + CACHE_ENTRY_W.len) });
  }
  return out;
}
