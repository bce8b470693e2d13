/**
 * rte_mbuf over a pktmbuf pool: every function takes an mbuf **handle** (a pool handle, see
 * {@link poolOf}) and reads or writes the header in the pool's memory (layout.ts). Hot-path calls are
 * trusted like DPDK's inline functions: a handle that is not a live mbuf is not detected; a handle of a
 * freed pool, or of a pool a worker thread did not open, throws MpError EBADF. Nothing here
 * allocates except {@link Mbuf.data} (a view per call; hot paths use {@link Mbuf.bytes} +
 * {@link Mbuf.dataOffset}).
 */
import { constants } from 'node:os';
import { MpError } from '@mp/memory';
import {
  K,
  KIND_PKTMBUF,
  MBUF_BUF_LEN_MAX,
  MBUF_DEFAULT_BUF_SIZE,
  MBUF_HDR_SIZE,
  MBUF_PRIV_ALIGN,
} from './layout.js';
import { Mempool } from './mempool.js';
import { poolFor } from './pools.js';
import { initMbuf } from './mbuf-init.js';
import type { MempoolCreateOptions } from './options.js';

/** Options of {@link pktmbufPoolCreate}. */
export interface PktmbufPoolOptions {
  /** Per-thread cache size (as {@link Mempool.create}), default 0. */
  cacheSize?: number;
  /** Private bytes per mbuf between the header and the data room, a multiple of 8; default 0. */
  privSize?: number;
  /** Data room bytes per mbuf, headroom included: default 2048 + 128 (RTE_MBUF_DEFAULT_BUF_SIZE), at most 65535. */
  dataRoomSize?: number;
  /** `MEMPOOL_F_*` bits. */
  flags?: number;
}

/** Scratch of freeBulk: handles going back to one pool. */
const FREE_BATCH = 64;
const freeBatch = new Uint32Array(FREE_BATCH);

/** RTE_MBUF_MAX_NB_SEGS. */
const MAX_NB_SEGS = 0xffff;
const EOVERFLOW = constants.errno.EOVERFLOW;

/**
 * Create a pool of `n` mbufs (header + private area + data room), every mbuf ready to {@link Mbuf.alloc}.
 *
 * @throws {MpError} EINVAL — privSize not a multiple of 8, dataRoomSize not in 0..65535, and everything
 *   {@link Mempool.create} throws (EINVAL, ENAMETOOLONG, EEXIST, ENOSPC, ENOMEM, ENOTCONN)
 * @see rte_pktmbuf_pool_create
 */
export function pktmbufPoolCreate(name: string, n: number, opts: PktmbufPoolOptions = {}): Mempool {
  const priv = opts.privSize ?? 0;
  const room = opts.dataRoomSize ?? MBUF_DEFAULT_BUF_SIZE;
  if (!Number.isInteger(priv) || priv < 0 || priv % MBUF_PRIV_ALIGN !== 0 || priv > 0xffff) {
    throw new MpError('EINVAL', `mbuf privSize ${priv} must be a multiple of ${MBUF_PRIV_ALIGN} in 0..65535 (RTE_MBUF_PRIV_ALIGN)`);
  }
  if (!Number.isInteger(room) || room < 0 || room > MBUF_BUF_LEN_MAX) {
    throw new MpError('EINVAL', `mbuf dataRoomSize ${room} must be an integer in 0..${MBUF_BUF_LEN_MAX} (buf_len is 16 bits)`);
  }
  const mopts: MempoolCreateOptions = { cacheSize: opts.cacheSize, flags: opts.flags };
  return Mempool.make(name, n, MBUF_HDR_SIZE + priv + room, mopts, {
    dataRoom: room,
    priv,
    init: (p) => {
      const w = p.words;
      for (let i = 0; i < p.n; i++) {
        const h = ((p.id << 24) | i) >>> 0;
        const b = p.wordOf(h);
        initMbuf(w, b, h, room);
        w[b + K.W_PRIV] = priv;
        w[b + K.W_QUEUE] = 0;
        w[b + K.W_RSS] = 0;
        w[b + K.W_TIMESTAMP] = 0;
        w[b + K.W_TIMESTAMP + 1] = 0;
        reset(p, b);
      }
    },
  });
}

/** rte_pktmbuf_reset: the fields a fresh packet starts from (one cache line; not rssHash, queue, timestamp). */
function reset(p: Mempool, b: number): void {
  const w = p.words;
  w[b + K.W_NEXT] = 0;
  w[b + K.W_PKT_LEN] = 0;
  w[b + K.W_DATA_LEN] = 0;
  w[b + K.W_NB_SEGS] = 1;
  w[b + K.W_PORT] = K.PORT_INVALID;
  w[b + K.W_PKT_TYPE] = 0;
  w[b + K.W_VLAN] = 0;
  w[b + K.W_VLAN_OUTER] = 0;
  // olFlags as 32-bit halves: a BigInt store costs more than two word stores.
  w[b + K.W_OL_FLAGS] = 0;
  w[b + K.W_OL_FLAGS + 1] = 0;
  const bufLen = p.dataRoom;
  w[b + K.W_DATA_OFF] = bufLen < K.HEADROOM ? bufLen : K.HEADROOM;
}

function mbufPool(pool: Mempool): Mempool {
  if (pool.kind !== KIND_PKTMBUF) throw new MpError('EINVAL', `mempool '${pool.name}' is not a pktmbuf pool (make one with pktmbufPoolCreate)`);
  return pool;
}

/** Free one segment whose refcnt may drop to 0 (rte_pktmbuf_free_seg); returns true when it went back. */
function freeSeg(h: number): void {
  const p = poolFor(h);
  const w = p.words;
  const b = p.wordOf(h);
  // rte_pktmbuf_prefree_seg: the sole reference frees without an atomic.
  if (w[b + K.W_REFCNT] !== 1) {
    if (Atomics.sub(w, b + K.W_REFCNT, 1) !== 1) return;
    w[b + K.W_REFCNT] = 1;
  }
  if (w[b + K.W_BUF] !== h) detach(p, b, h);
  w[b + K.W_NEXT] = 0;
  w[b + K.W_NB_SEGS] = 1;
  p.put(h);
}

/** rte_pktmbuf_detach: give the borrowed data room back (freeing its mbuf when this was the last user). */
function detach(p: Mempool, b: number, h: number): void {
  const w = p.words;
  const md = w[b + K.W_BUF]!;
  w[b + K.W_BUF] = h;
  const bufLen = p.dataRoom;
  w[b + K.W_BUF_LEN] = bufLen;
  w[b + K.W_DATA_OFF] = bufLen < K.HEADROOM ? bufLen : K.HEADROOM;
  w[b + K.W_DATA_LEN] = 0;
  const pd = poolFor(md);
  const wd = pd.words;
  const bd = pd.wordOf(md);
  if (wd[bd + K.W_REFCNT] === 1 || Atomics.sub(wd, bd + K.W_REFCNT, 1) === 1) {
    wd[bd + K.W_REFCNT] = 1;
    wd[bd + K.W_NEXT] = 0;
    wd[bd + K.W_NB_SEGS] = 1;
    pd.put(md);
  }
}

/**
 * rte_mbuf operations on handles. Field getters/setters read/write the header words; for the packet
 * bytes use {@link Mbuf.bytes}(h) at {@link Mbuf.dataOffset}(h) (no allocation) or {@link Mbuf.data}(h).
 */
export const Mbuf = {
  /**
   * One mbuf, reset (one segment, no data, headroom 128 or the whole room if smaller), or -1 when the
   * pool is empty.
   *
   * @throws {MpError} EINVAL — not a pktmbuf pool; EBADF — the pool was freed
   * @see rte_pktmbuf_alloc
   */
  alloc(pool: Mempool): number {
    const p = pool.kind === KIND_PKTMBUF ? pool : mbufPool(pool);
    const h = p.get();
    if (h < 0) return -1;
    reset(p, p.wordOf(h));
    return h;
  },

  /**
   * `n` reset mbufs into `out[0..n)`, or none: returns n, or 0 when fewer than n are free (DPDK returns
   * 0 / -ENOENT; here the count, as getBulk).
   *
   * @throws {MpError} EINVAL — not a pktmbuf pool, n out of range; EBADF — the pool was freed
   * @see rte_pktmbuf_alloc_bulk
   */
  allocBulk(pool: Mempool, out: Uint32Array, n: number): number {
    const p = pool.kind === KIND_PKTMBUF ? pool : mbufPool(pool);
    if (p.getBulk(out, n) === 0) return 0;
    for (let i = 0; i < n; i++) reset(p, p.wordOf(out[i]!));
    return n;
  },

  /**
   * Free a packet: every segment of the chain whose refcnt drops to 0 goes back to its pool (an indirect
   * segment gives its borrowed data room back first). Handle 0 (no mbuf) is ignored, as NULL in DPDK.
   *
   * @see rte_pktmbuf_free
   */
  free(h: number): void {
    while (h !== 0) {
      const p = poolFor(h);
      const next = p.words[p.wordOf(h) + K.W_NEXT]!;
      freeSeg(h);
      h = next;
    }
  },

  /**
   * Free `handles[0..n)` (each a whole packet). Single-segment direct mbufs with refcnt 1 (the common
   * case) go back to their pool in one putBulk per run of the same pool, as rte_pktmbuf_free_bulk.
   *
   * @see rte_pktmbuf_free_bulk
   */
  freeBulk(handles: Uint32Array, n: number): void {
    const batch = freeBatch;
    let k = 0;
    let pool: Mempool | undefined;
    for (let i = 0; i < n; i++) {
      const h = handles[i]!;
      if (h === 0) continue;
      const p = poolFor(h);
      const w = p.words;
      const b = p.wordOf(h);
      if (w[b + K.W_REFCNT] === 1 && w[b + K.W_NEXT] === 0 && w[b + K.W_BUF] === h) {
        if (p !== pool || k === FREE_BATCH) {
          if (k > 0) pool!.putBulk(batch, k);
          pool = p;
          k = 0;
        }
        w[b + K.W_NB_SEGS] = 1;
        batch[k++] = h;
      } else {
        Mbuf.free(h);
      }
    }
    if (k > 0) pool!.putBulk(batch, k);
  },

  /**
   * Hand packets `handles[0..n)` (every segment of each chain, of any pools) over to a ring or a port
   * queue: they belong to no process until {@link Mbuf.adopt}ed, and are not reclaimed if this process
   * dies (see Mempool.release). No DPDK analogue.
   */
  release(handles: Uint32Array, n: number): void {
    for (let i = 0; i < n; i++) {
      for (let h = handles[i]!; h !== 0; ) {
        const p = poolFor(h);
        p.releaseOne(h);
        h = p.words[p.wordOf(h) + K.W_NEXT]!;
      }
    }
  },

  /** Claim packets `handles[0..n)` (every segment) taken off a ring or a queue for this process. No DPDK analogue. */
  adopt(handles: Uint32Array, n: number): void {
    for (let i = 0; i < n; i++) {
      for (let h = handles[i]!; h !== 0; ) {
        const p = poolFor(h);
        p.adoptOne(h);
        h = p.words[p.wordOf(h) + K.W_NEXT]!;
      }
    }
  },

  /** Free one segment (its next link is not followed). @see rte_pktmbuf_free_seg */
  freeSeg(h: number): void {
    freeSeg(h);
  },

  /** Back to a fresh single-segment packet (no data, default headroom). @see rte_pktmbuf_reset */
  reset(h: number): void {
    const p = poolFor(h);
    reset(p, p.wordOf(h));
  },

  /**
   * An indirect copy of packet `h` from `pool`: new mbufs that share h's data rooms (refcnt of each
   * direct one goes up), or -1 when `pool` is out of mbufs (nothing is kept then).
   *
   * @see rte_pktmbuf_clone
   */
  clone(h: number, pool: Mempool): number {
    const mc = Mbuf.alloc(pool);
    if (mc < 0) return -1;
    let mi = mc;
    let seg = h;
    let prev = 0;
    for (;;) {
      attach(mi, seg);
      if (prev !== 0) setW(prev, K.W_NEXT, mi);
      prev = mi;
      seg = getW(seg, K.W_NEXT);
      if (seg === 0) break;
      mi = Mbuf.alloc(pool);
      if (mi < 0) {
        Mbuf.free(mc);
        return -1;
      }
    }
    setW(mc, K.W_NB_SEGS, getW(h, K.W_NB_SEGS));
    setW(mc, K.W_PKT_LEN, getW(h, K.W_PKT_LEN));
    return mc;
  },

  /** Make `mi` (a fresh mbuf) an indirect view of `m`'s data (m's direct mbuf gains a reference). @see rte_pktmbuf_attach */
  attach(mi: number, m: number): void {
    attach(mi, m);
  },

  /** Undo {@link attach}. @see rte_pktmbuf_detach */
  detach(mi: number): void {
    const p = poolFor(mi);
    const b = p.wordOf(mi);
    if (p.words[b + K.W_BUF] !== mi) detach(p, b, mi);
  },

  /**
   * Add `len` bytes at the front of the data (into the headroom). Returns the new data offset (in
   * {@link Mbuf.bytes}), or -1 when the headroom is smaller than len (nothing changes).
   *
   * @see rte_pktmbuf_prepend
   */
  prepend(h: number, len: number): number {
    const p = poolFor(h);
    const w = p.words;
    const b = p.wordOf(h);
    if (len < 0 || len > w[b + K.W_DATA_OFF]!) return -1;
    w[b + K.W_DATA_OFF] -= len;
    w[b + K.W_DATA_LEN] += len;
    w[b + K.W_PKT_LEN] += len;
    return dataOffset(p, b, h);
  },

  /**
   * Add `len` bytes at the end of the packet's last segment. Returns the offset of the added bytes in
   * {@link Mbuf.bytes} of the last segment ({@link Mbuf.lastSeg}; the packet's own when it has one), or -1
   * when that segment's tailroom is smaller than len.
   *
   * @see rte_pktmbuf_append
   */
  append(h: number, len: number): number {
    const last = Mbuf.lastSeg(h);
    const pl = poolFor(last);
    const wl = pl.words;
    const bl = pl.wordOf(last);
    const dataLen = wl[bl + K.W_DATA_LEN]!;
    if (len < 0 || wl[bl + K.W_DATA_OFF]! + dataLen + len > wl[bl + K.W_BUF_LEN]!) return -1;
    const at = dataOffset(pl, bl, last) + dataLen;
    wl[bl + K.W_DATA_LEN] = dataLen + len;
    const p = poolFor(h);
    p.words[p.wordOf(h) + K.W_PKT_LEN] += len;
    return at;
  },

  /**
   * Remove `len` bytes from the front of the first segment. Returns the new data offset, or -1 when the
   * segment holds fewer than len bytes.
   *
   * @see rte_pktmbuf_adj
   */
  adj(h: number, len: number): number {
    const p = poolFor(h);
    const w = p.words;
    const b = p.wordOf(h);
    if (len < 0 || len > w[b + K.W_DATA_LEN]!) return -1;
    w[b + K.W_DATA_LEN] -= len;
    w[b + K.W_DATA_OFF] += len;
    w[b + K.W_PKT_LEN] -= len;
    return dataOffset(p, b, h);
  },

  /**
   * Remove `len` bytes from the end of the last segment. Returns 0, or -1 when that segment holds fewer
   * than len bytes.
   *
   * @see rte_pktmbuf_trim
   */
  trim(h: number, len: number): number {
    const last = Mbuf.lastSeg(h);
    const pl = poolFor(last);
    const bl = pl.wordOf(last);
    if (len < 0 || len > pl.words[bl + K.W_DATA_LEN]!) return -1;
    pl.words[bl + K.W_DATA_LEN] -= len;
    const p = poolFor(h);
    p.words[p.wordOf(h) + K.W_PKT_LEN] -= len;
    return 0;
  },

  /**
   * Append packet `tail` to packet `head`. Returns 0, or -EOVERFLOW when the chain would exceed 65535
   * segments (nothing changes).
   *
   * @see rte_pktmbuf_chain
   */
  chain(head: number, tail: number): number {
    const segs = getW(head, K.W_NB_SEGS) + getW(tail, K.W_NB_SEGS);
    if (segs > MAX_NB_SEGS) return -EOVERFLOW;
    setW(Mbuf.lastSeg(head), K.W_NEXT, tail);
    setW(head, K.W_NB_SEGS, segs);
    setW(head, K.W_PKT_LEN, getW(head, K.W_PKT_LEN) + getW(tail, K.W_PKT_LEN));
    setW(tail, K.W_PKT_LEN, getW(tail, K.W_DATA_LEN));
    return 0;
  },

  /** The last segment of a packet. @see rte_pktmbuf_lastseg */
  lastSeg(h: number): number {
    for (;;) {
      const next = getW(h, K.W_NEXT);
      if (next === 0) return h;
      h = next;
    }
  },

  // ---- the packet's bytes -------------------------------------------------------------------------------

  /** The bytes holding h's data room: its pool's {@link Mempool.bytes} (the direct mbuf's pool if indirect). */
  bytes(h: number): Uint8Array {
    const p = poolFor(h);
    const md = p.words[p.wordOf(h) + K.W_BUF]!;
    return md === h ? p.bytes : poolFor(md).bytes;
  },

  /** Offset of the first data byte in {@link Mbuf.bytes}(h). @see rte_pktmbuf_mtod */
  dataOffset(h: number): number {
    const p = poolFor(h);
    return dataOffset(p, p.wordOf(h), h);
  },

  /** The segment's data as a view (dataLen bytes): one view object per call. @see rte_pktmbuf_mtod */
  data(h: number): Uint8Array {
    const p = poolFor(h);
    const b = p.wordOf(h);
    const bytes = Mbuf.bytes(h);
    return new Uint8Array(bytes.buffer, bytes.byteOffset + dataOffset(p, b, h), p.words[b + K.W_DATA_LEN]!);
  },

  /**
   * Copy the packet's bytes — every segment's data, in chain order, up to pktLen — into `dst` from
   * offset `at`; stops when `dst` is full. Returns the bytes copied. (rte_pktmbuf_read of the whole
   * packet, always into `dst`: what a copy-mode driver does with a chained mbuf.)
   * @see rte_pktmbuf_read
   */
  read(h: number, dst: Uint8Array, at = 0): number {
    const end = Math.min(dst.length, at + Mbuf.pktLen(h));
    const start = at;
    for (let s = h; s !== 0 && at < end; s = Mbuf.next(s)) {
      const b = Mbuf.bytes(s);
      const o = Mbuf.dataOffset(s);
      const l = Math.min(Mbuf.dataLen(s), end - at);
      dst.set(b.subarray(o, o + l), at);
      at += l;
    }
    return at - start;
  },

  /** Offset of the per-mbuf private area (privSize bytes) in its pool's bytes. @see rte_mbuf_to_priv */
  privOffset(h: number): number {
    return poolFor(h).offsetOf(h) + MBUF_HDR_SIZE;
  },

  /** Bytes before the data. @see rte_pktmbuf_headroom */
  headroom(h: number): number {
    return getW(h, K.W_DATA_OFF);
  },
  /** Bytes after the data of this segment. @see rte_pktmbuf_tailroom */
  tailroom(h: number): number {
    const p = poolFor(h);
    const w = p.words;
    const b = p.wordOf(h);
    return w[b + K.W_BUF_LEN]! - w[b + K.W_DATA_OFF]! - w[b + K.W_DATA_LEN]!;
  },
  /** True when h uses its own data room. @see RTE_MBUF_DIRECT */
  isDirect(h: number): boolean {
    return getW(h, K.W_BUF) === h;
  },

  // ---- header fields --------------------------------------------------------------------------------------

  bufLen: (h: number): number => getW(h, K.W_BUF_LEN),
  dataOff: (h: number): number => getW(h, K.W_DATA_OFF),
  setDataOff: (h: number, v: number): void => setW(h, K.W_DATA_OFF, v),
  dataLen: (h: number): number => getW(h, K.W_DATA_LEN),
  setDataLen: (h: number, v: number): void => setW(h, K.W_DATA_LEN, v),
  pktLen: (h: number): number => getW(h, K.W_PKT_LEN),
  setPktLen: (h: number, v: number): void => setW(h, K.W_PKT_LEN, v),
  port: (h: number): number => getW(h, K.W_PORT),
  setPort: (h: number, v: number): void => setW(h, K.W_PORT, v),
  queue: (h: number): number => getW(h, K.W_QUEUE),
  setQueue: (h: number, v: number): void => setW(h, K.W_QUEUE, v),
  rssHash: (h: number): number => getW(h, K.W_RSS),
  setRssHash: (h: number, v: number): void => setW(h, K.W_RSS, v),
  packetType: (h: number): number => getW(h, K.W_PKT_TYPE),
  setPacketType: (h: number, v: number): void => setW(h, K.W_PKT_TYPE, v),
  vlanTci: (h: number): number => getW(h, K.W_VLAN),
  setVlanTci: (h: number, v: number): void => setW(h, K.W_VLAN, v),
  vlanTciOuter: (h: number): number => getW(h, K.W_VLAN_OUTER),
  setVlanTciOuter: (h: number, v: number): void => setW(h, K.W_VLAN_OUTER, v),
  nbSegs: (h: number): number => getW(h, K.W_NB_SEGS),
  /** Next segment's handle, 0 = none. */
  next: (h: number): number => getW(h, K.W_NEXT),
  olFlags: (h: number): bigint => getQ(h, K.Q_OL_FLAGS),
  setOlFlags: (h: number, v: bigint): void => setQ(h, K.Q_OL_FLAGS, v),
  timestamp: (h: number): bigint => getQ(h, K.Q_TIMESTAMP),
  setTimestamp: (h: number, v: bigint): void => setQ(h, K.Q_TIMESTAMP, v),
  /** Who answers for the mbuf: its pool's owner word (0 free, 0xffffffff released, else a process tag). */
  owner: (h: number): number => poolFor(h).ownerOf(h),

  /** @see rte_mbuf_refcnt_read */
  refcntRead(h: number): number {
    const p = poolFor(h);
    return Atomics.load(p.words, p.wordOf(h) + K.W_REFCNT);
  },
  /** @see rte_mbuf_refcnt_set */
  refcntSet(h: number, v: number): void {
    const p = poolFor(h);
    Atomics.store(p.words, p.wordOf(h) + K.W_REFCNT, v);
  },
  /** Add `v` (may be negative) and return the new value. @see rte_mbuf_refcnt_update */
  refcntUpdate(h: number, v: number): number {
    const p = poolFor(h);
    return (Atomics.add(p.words, p.wordOf(h) + K.W_REFCNT, v) + v) >>> 0;
  },
} as const;

function attach(mi: number, m: number): void {
  const pm = poolFor(m);
  const wm = pm.words;
  const bm = pm.wordOf(m);
  const md = wm[bm + K.W_BUF]!;
  const pd = poolFor(md);
  Atomics.add(pd.words, pd.wordOf(md) + K.W_REFCNT, 1);
  const pi = poolFor(mi);
  const wi = pi.words;
  const bi = pi.wordOf(mi);
  wi[bi + K.W_BUF] = md;
  wi[bi + K.W_BUF_LEN] = wm[bm + K.W_BUF_LEN]!;
  wi[bi + K.W_DATA_OFF] = wm[bm + K.W_DATA_OFF]!;
  wi[bi + K.W_DATA_LEN] = wm[bm + K.W_DATA_LEN]!;
  wi[bi + K.W_PORT] = wm[bm + K.W_PORT]!;
  wi[bi + K.W_VLAN] = wm[bm + K.W_VLAN]!;
  wi[bi + K.W_VLAN_OUTER] = wm[bm + K.W_VLAN_OUTER]!;
  wi[bi + K.W_RSS] = wm[bm + K.W_RSS]!;
  wi[bi + K.W_PKT_TYPE] = wm[bm + K.W_PKT_TYPE]!;
  wi[bi + K.W_NEXT] = 0;
  wi[bi + K.W_NB_SEGS] = 1;
  wi[bi + K.W_PKT_LEN] = wm[bm + K.W_DATA_LEN]!;
  pi.q64[(bi >>> 1) + K.Q_OL_FLAGS] = pm.q64[(bm >>> 1) + K.Q_OL_FLAGS]!;
  pi.q64[(bi >>> 1) + K.Q_TIMESTAMP] = pm.q64[(bm >>> 1) + K.Q_TIMESTAMP]!;
}

function dataOffset(p: Mempool, b: number, h: number): number {
  const md = p.words[b + K.W_BUF]!;
  const q = md === h ? p : poolFor(md);
  return q.offsetOf(md) + MBUF_HDR_SIZE + q.mbufPriv + p.words[b + K.W_DATA_OFF]!;
}

function getW(h: number, word: number): number {
  const p = poolFor(h);
  return p.words[p.wordOf(h) + word]!;
}
function setW(h: number, word: number, v: number): void {
  const p = poolFor(h);
  p.words[p.wordOf(h) + word] = v;
}
function getQ(h: number, q: number): bigint {
  const p = poolFor(h);
  return p.q64[(p.wordOf(h) >>> 1) + q]!;
}
function setQ(h: number, q: number, v: bigint): void {
  const p = poolFor(h);
  p.q64[(p.wordOf(h) >>> 1) + q] = BigInt.asUintN(64, v);
}
