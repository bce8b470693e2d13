/**
 * net_af_xdp's queues in the process that polls them: the rings of socket q of the current generation,
 * mapped here, driven by rings.ts; frames copied between the UMEM and mbufs, one native copy per burst.
 */
import { log } from '@mp/memory/internal';
import { Mbuf, mempoolLayout } from '@mp/mempool';
import type { Mempool } from '@mp/mempool';
import { xdp } from '../binding.js';
import type { BurstQueue, PortContext } from '../drivers/driver.js';
import { XskRing } from './rings.js';
import { DRIVER, FRAME, W_GEN, W_RXD, W_SLICE, W_TXD, W_UP } from './words.js';

const { W_DATA_LEN, W_PKT_LEN, W_PORT } = mempoolLayout;
/** How long a queue whose rings cannot be mapped waits before it tries again, ms. */
const RETRY_MS = 100;
/** Most sendto calls one tx burst makes (copy mode sends ≤ 32 descriptors per call). */
const KICKS = 8;

/** A process's view of the port's sockets of one generation: fds (its own copies unless prober) and UMEM. */
export interface Sockets {
  gen: number;
  xsks: readonly number[];
  /** The bpf_link fd: held while this process holds the port, so the program outlives the prober. */
  link: number;
  own: boolean;
  umem: ArrayBuffer;
}

/** What a queue needs of its port: the context and this process's sockets of a generation. */
export interface QueueHost {
  readonly ctx: PortContext;
  sockets(gen: number): Sockets | undefined;
}

export abstract class XdpQueue implements BurstQueue {
  protected gen = 0;
  protected fd = -1;
  private retryAt = 0;
  protected umem: ArrayBuffer | undefined;
  /** Byte offset of this queue's UMEM slice in the memzone. */
  protected base = 0;
  protected rxd = 0;
  protected txd = 0;
  protected readonly words: Uint32Array;
  protected readonly f64: Float64Array;
  protected readonly at: number;

  constructor(protected readonly port: QueueHost, readonly index: number, readonly dir: 'rx' | 'tx') {
    this.words = port.ctx.words;
    const c = port.ctx.counters(dir, index);
    this.f64 = c.f64;
    this.at = c.at;
  }

  /** True when the rings of the current generation are mapped here and the link is up. */
  protected ready(): boolean {
    const gen = Atomics.load(this.words, W_GEN);
    if (gen !== this.gen) {
      this.unmap();
      const s = this.port.sockets(gen);
      if (s === undefined) return false;
      const fd = s.xsks[this.index];
      if (fd === undefined) return false;
      const w = this.words;
      this.rxd = w[W_RXD]!;
      this.txd = w[W_TXD]!;
      this.base = this.index * w[W_SLICE]!;
      if (this.retryAt !== 0 && Date.now() < this.retryAt) return false;
      let r;
      try {
        r = xdp.xdpRings(fd, this.rxd, this.txd, this.rxd, this.txd);
      } catch (err) {
        // The socket lost its interface (EBUSY: unbound when the interface went away), no memory, …:
        // a burst never throws for it; it returns 0 and tries again RETRY_MS later.
        if (this.retryAt === 0) log('info', 'ETHDEV', `${DRIVER} port ${this.port.ctx.id} ${this.dir} queue ${this.index}: cannot map its rings: ${(err as Error).message}`);
        this.retryAt = Date.now() + RETRY_MS;
        return false;
      }
      this.retryAt = 0;
      this.fd = fd;
      this.umem = s.umem;
      this.map(r);
      this.gen = gen;
    }
    return this.words[W_UP] === 1;
  }

  /** True while this process has the queue's rings of the current generation mapped. */
  get mapped(): boolean {
    return this.gen !== 0 && this.gen === Atomics.load(this.words, W_GEN);
  }

  protected abstract map(r: ReturnType<typeof xdp.xdpRings>): void;
  protected unmap(): void {
    this.gen = 0;
    this.fd = -1;
    this.umem = undefined;
  }

  close(): void {
    this.unmap();
  }

  abstract burst(handles: Uint32Array, n: number): number;
}

export class RxQueue extends XdpQueue {
  private rx!: XskRing;
  private fill!: XskRing;
  private mb = new Uint32Array(64);
  private src = new Uint32Array(64);
  private dst = new Uint32Array(64);
  private lens = new Uint32Array(64);
  private addrs = new Uint32Array(64);

  constructor(port: QueueHost, index: number, private readonly pool: Mempool) {
    super(port, index, 'rx');
  }

  /**
   * Map the rx and fill rings, and give the kernel back every rx frame that is in neither: frames a
   * process that polled this queue before (and died between taking them off the rx ring and refilling)
   * took with it. A frame the kernel is writing at this very moment is in neither ring too: take a
   * queue over while its traffic is quiet (documented in the README).
   */
  protected map(r: ReturnType<typeof xdp.xdpRings>): void {
    this.rx = new XskRing(r.rx, this.rxd, 4);
    this.fill = new XskRing(r.fill, this.rxd, 2);
    const seen = new Set<number>();
    this.fill.queuedFrames(seen, FRAME);
    this.rx.queuedFrames(seen, FRAME);
    let p = this.fill.producer();
    const start = p;
    for (let i = 0; i < this.rxd; i++) {
      const a = i * FRAME;
      if (seen.has(a)) continue;
      const at = this.fill.at(p++);
      this.fill.u32[at] = a;
      this.fill.u32[at + 1] = 0;
    }
    if (p !== start) {
      this.fill.publishProducer(p);
      log('notice', 'ETHDEV', `${DRIVER} port ${this.port.ctx.id} rx queue ${this.index}: ${(p - start) >>> 0} frame(s) given back to the kernel`);
    }
  }

  burst(handles: Uint32Array, n: number): number {
    if (n === 0 || !this.ready()) return 0;
    const rx = this.rx;
    const cons = rx.consumer(); // ours: one process polls the queue
    let k = Math.min(rx.available(cons), n);
    if (k === 0) return 0;
    if (k > this.mb.length) this.grow(k);
    const pool = this.pool;
    const mb = this.mb;
    if (Mbuf.allocBulk(pool, mb, k) === 0) {
      k = Math.min(k, pool.availCount);
      if (k === 0 || Mbuf.allocBulk(pool, mb, k) === 0) {
        this.f64[this.at + 3]! += 1;
        return 0;
      }
    }
    const h0 = mb[0]!;
    const inObj = Mbuf.dataOffset(h0) - pool.offsetOf(h0);
    const room = Mbuf.tailroom(h0);
    const u = rx.u32;
    const { src, dst, lens, addrs } = this;
    const base = this.base;
    for (let i = 0; i < k; i++) {
      const d = rx.at(cons + i);
      const a = u[d]!;
      const len = u[d + 2]!;
      addrs[i] = a;
      src[i] = base + a;
      dst[i] = pool.offsetOf(mb[i]!) + inObj;
      lens[i] = len <= room ? len : 0;
    }
    xdp.xdpCopy(this.umem!, src, pool.buffer, dst, lens, k);
    // C2 before the refill: a process killed in between loses these k frames (found again by the
    // next owner's map()) rather than putting a frame on the fill ring twice.
    rx.publishConsumer(cons + k);
    const fill = this.fill;
    const fp = fill.producer();
    const f = fill.u32;
    for (let i = 0; i < k; i++) {
      const at = fill.at(fp + i);
      f[at] = addrs[i]!;
      f[at + 1] = 0;
    }
    fill.publishProducer(fp + k); // P1
    const w = pool.words;
    const port = this.port.ctx.id;
    let out = 0;
    let bytes = 0;
    let bad = 0;
    for (let i = 0; i < k; i++) {
      const h = mb[i]!;
      const len = lens[i]!;
      if (len === 0) {
        // Longer than an mbuf's room (DPDK would chain mbufs): dropped, counted as an error.
        Mbuf.free(h);
        bad++;
        continue;
      }
      const b = pool.wordOf(h);
      w[b + W_DATA_LEN] = len;
      w[b + W_PKT_LEN] = len;
      w[b + W_PORT] = port;
      handles[out++] = h;
      bytes += len;
    }
    if (bad > 0) this.f64[this.at + 2]! += bad;
    if (bytes > 0) this.f64[this.at + 1]! += bytes;
    return out;
  }

  private grow(k: number): void {
    this.mb = new Uint32Array(k);
    this.src = new Uint32Array(k);
    this.dst = new Uint32Array(k);
    this.lens = new Uint32Array(k);
    this.addrs = new Uint32Array(k);
  }
}

export class TxQueue extends XdpQueue {
  private tx!: XskRing;
  private comp!: XskRing;
  /** Tx frames that are ours to fill (a stack of UMEM addresses). */
  private free = new Uint32Array(0);
  private nfree = 0;
  private src = new Uint32Array(64);
  private dst = new Uint32Array(64);
  private lens = new Uint32Array(64);
  private lin = new Uint8Array(FRAME);
  private readonly one = new Uint32Array(1);
  private readonly oneDst = new Uint32Array(1);
  private readonly oneLen = new Uint32Array(1);

  constructor(port: QueueHost, index: number) {
    super(port, index, 'tx');
  }

  /**
   * Map the tx and completion rings; the free tx frames are those in neither (the frames a previous
   * poller held die with it; those on the rings come back through the completion ring).
   */
  protected map(r: ReturnType<typeof xdp.xdpRings>): void {
    this.tx = new XskRing(r.tx, this.txd, 4);
    this.comp = new XskRing(r.comp, this.txd, 2);
    const seen = new Set<number>();
    this.tx.queuedFrames(seen, FRAME);
    this.comp.queuedFrames(seen, FRAME);
    this.free = new Uint32Array(this.txd);
    this.nfree = 0;
    for (let i = this.txd - 1; i >= 0; i--) {
      const a = (this.rxd + i) * FRAME;
      if (!seen.has(a)) this.free[this.nfree++] = a;
    }
  }

  /** Take the frames the kernel has sent back from the completion ring. */
  private reap(): void {
    const comp = this.comp;
    const cons = comp.consumer();
    const m = comp.available(cons);
    if (m === 0) return;
    const u = comp.u32;
    for (let i = 0; i < m; i++) this.free[this.nfree++] = u[comp.at(cons + i)]!;
    comp.publishConsumer(cons + m); // C2
  }

  private kick(): void {
    const tx = this.tx;
    for (let i = 0; i < KICKS && tx.available(tx.consumer()) > 0; i++) {
      if (xdp.xdpKick(this.fd) < 0) break;
    }
  }

  burst(handles: Uint32Array, n: number): number {
    if (!this.ready()) return 0;
    this.reap();
    const tx = this.tx;
    const prod = tx.producer(); // ours
    let k = Math.min(n, this.nfree, tx.free(prod));
    if (k === 0) {
      this.kick();
      return 0;
    }
    if (k > this.src.length) {
      this.src = new Uint32Array(k);
      this.dst = new Uint32Array(k);
      this.lens = new Uint32Array(k);
    }
    const { src, dst, lens } = this;
    const base = this.base;
    const u = tx.u32;
    let sent = 0;
    let bytes = 0;
    // Runs of single-segment mbufs of one pool: one native copy each.
    while (sent < k) {
      const h0 = handles[sent]!;
      if (Mbuf.nbSegs(h0) !== 1 || Mbuf.pktLen(h0) > FRAME) {
        if (Mbuf.pktLen(h0) > FRAME) break; // longer than a frame: the caller keeps it
        const len = this.linearize(h0);
        const a = this.free[--this.nfree]!;
        this.one[0] = 0;
        this.oneDst[0] = base + a;
        this.oneLen[0] = len;
        xdp.xdpCopy(this.lin.buffer as ArrayBuffer, this.one, this.umem!, this.oneDst, this.oneLen, 1);
        this.desc(u, prod + sent, a, len);
        bytes += len;
        sent++;
        continue;
      }
      // The bytes the data lie in (the mbuf's pool, or a direct mbuf's pool for an indirect one).
      const b0 = Mbuf.bytes(h0);
      let j = 0;
      for (let i = sent; i < k; i++) {
        const h = handles[i]!;
        if (Mbuf.nbSegs(h) !== 1 || Mbuf.dataLen(h) > FRAME || Mbuf.bytes(h) !== b0) break;
        const a = this.free[--this.nfree]!;
        const len = Mbuf.dataLen(h);
        src[j] = b0.byteOffset + Mbuf.dataOffset(h);
        dst[j] = base + a;
        lens[j] = len;
        this.desc(u, prod + sent + j, a, len);
        bytes += len;
        j++;
      }
      xdp.xdpCopy(b0.buffer as ArrayBuffer, src, this.umem!, dst, lens, j);
      sent += j;
    }
    k = sent;
    tx.publishProducer(prod + k); // P1
    this.kick();
    if (k > 0) {
      Mbuf.freeBulk(handles, k);
      this.f64[this.at + 1]! += bytes;
    }
    return k;
  }

  private desc(u: Uint32Array, idx: number, addr: number, len: number): void {
    const at = this.tx.at(idx);
    u[at] = addr;
    u[at + 1] = 0;
    u[at + 2] = len;
    u[at + 3] = 0;
  }

  /** A chained packet's bytes, one after the other, in `lin` (offset 0). */
  private linearize(h: number): number {
    return Mbuf.read(h, this.lin);
  }
}

