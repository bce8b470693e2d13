/**
 * The mbuf side of a copying driver's burst (net_af_packet, net_tap): fresh mbufs to copy frames into,
 * and runs of mbuf data to copy frames out of, each as (bytes, offsets, lens) so the copy is one native
 * call per burst. Nothing is allocated per burst once the arrays have grown to the burst size.
 */
import { Mbuf, mempoolLayout, poolFor } from '@mp/mempool';
import type { Mempool } from '@mp/mempool';

const { W_DATA_LEN, W_PKT_LEN, W_PORT, W_RSS, W_NB_SEGS, W_BUF } = mempoolLayout;

/** Fresh mbufs of one pool for an rx burst: handles, where their data starts in `pool.bytes`, the room. */
export class RxMbufs {
  mb = new Uint32Array(64);
  offs = new Uint32Array(64);
  lens = new Uint32Array(64);
  hash = new Uint32Array(64);
  private spare = new Uint32Array(64);
  room = 0;
  readonly bytes: Uint8Array;

  constructor(readonly pool: Mempool) {
    this.bytes = pool.bytes;
  }

  /** Take up to n mbufs (fewer when the pool runs low); 0 = none (count it as rxNombuf). */
  alloc(n: number): number {
    if (n > this.mb.length) {
      this.mb = new Uint32Array(n);
      this.offs = new Uint32Array(n);
      this.lens = new Uint32Array(n);
      this.hash = new Uint32Array(n);
      this.spare = new Uint32Array(n);
    }
    const pool = this.pool;
    let k = n;
    if (Mbuf.allocBulk(pool, this.mb, k) === 0) {
      k = Math.min(n, pool.availCount);
      if (k === 0 || Mbuf.allocBulk(pool, this.mb, k) === 0) return 0;
    }
    const h0 = this.mb[0]!;
    const inObj = Mbuf.dataOffset(h0) - pool.offsetOf(h0);
    for (let i = 0; i < k; i++) this.offs[i] = pool.offsetOf(this.mb[i]!) + inObj;
    this.room = Mbuf.tailroom(h0);
    return k;
  }

  /**
   * `got` of the `k` mbufs hold frames of `lens[i]` bytes (`hash[i]` when `withHash`): set their
   * lengths and port, hand them out in `handles`, free the rest and those whose frame did not fit.
   * Returns { out: handed out, bytes, dropped: frames longer than the room }.
   */
  finish(handles: Uint32Array, k: number, got: number, port: number, withHash: boolean, res: Float64Array): number {
    const w = this.pool.words;
    const pool = this.pool;
    let out = 0;
    let bytes = 0;
    let sp = 0;
    let dropped = 0;
    for (let i = 0; i < got; i++) {
      const h = this.mb[i]!;
      const len = this.lens[i]!;
      if (len > this.room) {
        dropped++;
        this.spare[sp++] = h;
        continue;
      }
      const b = pool.wordOf(h);
      w[b + W_DATA_LEN] = len;
      w[b + W_PKT_LEN] = len;
      w[b + W_PORT] = port;
      if (withHash) w[b + W_RSS] = this.hash[i]!;
      handles[out++] = h;
      bytes += len;
    }
    for (let i = got; i < k; i++) this.spare[sp++] = this.mb[i]!;
    if (sp > 0) Mbuf.freeBulk(this.spare, sp);
    res[0] = bytes;
    res[1] = dropped;
    return out;
  }
}

/**
 * Runs of tx mbufs whose data lie in one buffer: `next(handles, from, n)` fills offs/lens for the
 * longest run starting at `from` and returns its length (≥ 1); `src` is that run's buffer. A chained
 * mbuf is linearized into a scratch buffer and forms a run of one.
 */
export class TxRuns {
  offs = new Uint32Array(64);
  lens = new Uint32Array(64);
  src: Uint8Array = new Uint8Array(0);
  private lin = new Uint8Array(0);

  next(handles: Uint32Array, from: number, n: number): number {
    if (n > this.offs.length) {
      this.offs = new Uint32Array(n);
      this.lens = new Uint32Array(n);
    }
    const h0 = handles[from]!;
    if (Mbuf.nbSegs(h0) !== 1) {
      this.src = this.linearize(h0);
      this.offs[0] = 0;
      this.lens[0] = Mbuf.pktLen(h0);
      return 1;
    }
    const p0 = poolFor(h0);
    const direct0 = p0.words[p0.wordOf(h0) + W_BUF] === h0;
    this.src = Mbuf.bytes(h0);
    this.offs[0] = Mbuf.dataOffset(h0);
    this.lens[0] = Mbuf.dataLen(h0);
    if (!direct0) return 1;
    let j = 1;
    for (let i = from + 1; i < n; i++) {
      const h = handles[i]!;
      const p = poolFor(h);
      const w = p.words;
      const b = p.wordOf(h);
      if (p !== p0 || w[b + W_NB_SEGS] !== 1 || w[b + W_BUF] !== h) break;
      this.offs[j] = Mbuf.dataOffset(h);
      this.lens[j++] = w[b + W_DATA_LEN]!;
    }
    return j;
  }

  private linearize(h: number): Uint8Array {
    const len = Mbuf.pktLen(h);
    if (this.lin.length < len) this.lin = new Uint8Array(Math.max(len, 2048));
    Mbuf.read(h, this.lin);
    return this.lin;
  }
}
