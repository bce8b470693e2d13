/**
 * virtio-net (modern, split virtqueues) as an ethdev driver, over any {@link PciFunction}: `vfio-pci`
 * (devargs a PCI address, `0000:00:04.0`) for a real device, `net_virtio_model<N>,device=<name>` for the
 * in-memory device model (registered by tests and benches through `@mp/pmd-vfio/internal`).
 *
 * Queue pair k of the port is virtio-net's receiveq k (virtqueue 2k) and transmitq k (2k+1); the
 * control queue sets how many pairs the device uses (VIRTIO_NET_F_MQ). Every virtqueue lives in the
 * port's memzone `virtio<port>` (layout in ../virtio/layout.ts), including the driver-side state, so the
 * process that claims a queue polls it with its own views, and refills and reclaims with its own mbufs.
 * Control (reset, negotiation, queue programming, DRIVER_OK) runs in the process that calls start(); the
 * configuration-change interrupt (link) is watched there and becomes an ethdev link event in every
 * process. Every frame is one descriptor: the 12-byte virtio-net header goes in the mbuf's headroom
 * (rx: the device writes it there; tx: zeroed there), as DPDK's virtio PMD does.
 *
 * Driver words (PortContext.words)
 * | word  | field                                                                 |
 * |     0 | started (1) / stopped (0)                                             |
 * |     1 | queue pairs in use                                                    |
 * |     2 | max queue pairs of the device                                         |
 * |   3-4 | negotiated features (lo, hi)                                          |
 * |     5 | start count: a process rebuilds its queue views when it changes        |
 * |     6 | virtqueue slot size, bytes                                            |
 * |     7 | link status last reported (1 up)                                      |
 * |  8-15 | DMA-mapped memzones: bit k = IOVA slot k (0 = the virtqueues, k = mempool k) |
 */
import { MpError, memzone } from '@mp/memory';
import { sleepSync } from '@mp/memory/internal';
import { MBUF_HDR_SIZE, MEMPOOL_MZ_PREFIX, Mbuf, mempoolLayout, poolFor } from '@mp/mempool';
import type { Mempool } from '@mp/mempool';
import { checkKeys } from '../ethdev/devargs.js';
import type { Devargs } from '../ethdev/devargs.js';
import {
  CTRL_MQ,
  CTRL_MQ_VQ_PAIRS_SET,
  CTRL_OK,
  DESC_F_WRITE,
  F,
  ISR_CONFIG,
  NET_HDR_SIZE,
  NET_S_LINK_UP,
  QUEUE_MAX,
  S,
  VQ_STATE,
  bit,
  ctrlVq,
  iovaOf,
  rxVq,
  txVq,
  vqLayout,
} from '../virtio/layout.js';
import { DRIVER_FEATURES, VirtioPci, findCaps } from '../virtio/modern.js';
import type { PciFunction } from '../virtio/pci-function.js';
import { CTRL_HANDLE, Virtqueue } from '../virtio/virtqueue.js';
import type { BurstQueue, Driver, DriverPort, PortContext } from './driver.js';

const { W_DATA_LEN, W_DATA_OFF, W_PKT_LEN, W_PORT, W_NB_SEGS, W_BUF } = mempoolLayout;

const W_STARTED = 0;
const W_PAIRS = 1;
const W_MAX_PAIRS = 2;
const W_FEAT_LO = 3;
const W_FEAT_HI = 4;
const W_STARTS = 5;
const W_SLOT = 6;
const W_LINK = 7;
const W_DMA = 8;

/** Link speed reported (virtio-net has no speed without VIRTIO_NET_F_SPEED_DUPLEX). */
const SPEED_MBPS = 10_000;
/** Control queue entries, and how long start() waits for the device's answer to VQ_PAIRS_SET. */
const CTRL_SIZE = 16;
const CTRL_TIMEOUT_MS = 2000;
/** Bytes at the end of the virtqueue memzone for the control command (header, data, ack). */
const CTRL_BUF = 64;
/** An rx queue refills once this many descriptors (or half the ring) are free. */
const REFILL_AT = 32;

const zoneName = (port: number): string => `virtio${port}`;

/** Where a driver gets its PCI function. */
export interface FunctionSource {
  /** Devargs keys beyond the device name. */
  readonly keys: readonly string[];
  /** In the probing process: open the function (it is kept until close). */
  probe(ctx: PortContext, d: Devargs): PciFunction;
  /** In any process: this process's handle (the prober's own, or one fetched from it). */
  open(ctx: PortContext, d: Devargs): PciFunction;
  /** In the prober at close: release the function. */
  release(ctx: PortContext): void;
}

/** Build a virtio-net driver named `name` over a function source. */
export function virtioDriver(name: string, src: FunctionSource): Driver {
  return {
    name,
    keys: src.keys,
    probe(ctx: PortContext, d: Devargs): void {
      checkKeys(d, src.keys);
      const fn = src.probe(ctx, d);
      try {
        const dev = new VirtioPci(fn, findCaps(fn));
        const feats = dev.negotiate(DRIVER_FEATURES);
        const cfg = dev.netConfig();
        dev.reset();
        if ((feats & bit(F.netMac)) !== 0n) ctx.setMac(cfg.mac);
        else ctx.setMac(Uint8Array.of(0x02, 0x6d, 0x70, 0x76, 0x00, ctx.id));
        ctx.words.fill(0);
        ctx.words[W_MAX_PAIRS] = (feats & bit(F.netMq)) !== 0n && (feats & bit(F.netCtrlVq)) !== 0n ? Math.max(1, cfg.maxPairs) : 1;
      } catch (err) {
        src.release(ctx);
        throw err;
      }
    },
    open(ctx: PortContext, d: Devargs): DriverPort {
      return new VirtioPort(ctx, d, src);
    },
  };
}

/** The starting process's configuration watchers, by port id. */
const watchers = new Map<number, { close(): void }>();

class VirtioPort implements DriverPort {
  private fnCache: PciFunction | undefined;
  private devCache: VirtioPci | undefined;
  private readonly queues = new Set<VirtioQueue>();

  constructor(private readonly ctx: PortContext, private readonly d: Devargs, private readonly src: FunctionSource) {}

  /** This process's function and device registers (opened on first use). */
  dev(): VirtioPci {
    if (this.devCache === undefined) {
      this.fnCache = this.src.open(this.ctx, this.d);
      this.devCache = new VirtioPci(this.fnCache, findCaps(this.fnCache));
    }
    return this.devCache;
  }

  configure(nbRxq: number, nbTxq: number): void {
    const max = this.ctx.words[W_MAX_PAIRS]!;
    if (nbRxq > max || nbTxq > max) {
      throw new MpError('EINVAL', `${this.ctx.name}: ${Math.max(nbRxq, nbTxq)} queues asked, the device has ${max} queue pair${max === 1 ? '' : 's'}`);
    }
  }

  rxQueueSetup(q: number, nbDesc: number): void {
    checkDesc(this.ctx.name, q, nbDesc);
  }

  txQueueSetup(q: number, nbDesc: number): void {
    checkDesc(this.ctx.name, q, nbDesc);
  }

  /** DMA-map a memzone at its IOVA slot once for the group (the bitmap in the driver words). */
  mapSlot(slot: number, name: string, buffer: ArrayBuffer): void {
    const w = this.ctx.words;
    const bitm = 1 << (slot & 31);
    if ((Atomics.load(w, W_DMA + (slot >>> 5)) & bitm) !== 0) return;
    if (buffer.byteLength > 2 ** 32) throw new MpError('ENOTSUP', `${this.ctx.name}: memzone ${name} is larger than an IOVA window (4 GiB)`);
    this.dev().fn.dmaMap(name, buffer, iovaOf(slot));
    Atomics.or(w, W_DMA + (slot >>> 5), bitm);
  }

  /** The IOVA of byte 0 of a pool's memzone, mapping it first if this port never did. */
  poolIova(p: Mempool): number {
    this.mapSlot(p.id, MEMPOOL_MZ_PREFIX + p.name, p.buffer);
    return iovaOf(p.id);
  }

  start(): void {
    const ctx = this.ctx;
    const w = ctx.words;
    const pairs = Math.max(1, ctx.nbRxq(), ctx.nbTxq());
    const maxPairs = w[W_MAX_PAIRS]!;
    if (pairs > maxPairs) throw new MpError('EINVAL', `${ctx.name}: ${pairs} queue pairs configured, the device has ${maxPairs}`);
    const dev = this.dev();
    const feats = dev.negotiate(DRIVER_FEATURES);
    w[W_FEAT_LO] = Number(feats & 0xffffffffn);
    w[W_FEAT_HI] = Number(feats >> 32n);
    const mq = (feats & bit(F.netMq)) !== 0n && (feats & bit(F.netCtrlVq)) !== 0n;
    // One slot per virtqueue of the device's numbering, all of the largest size asked.
    let nMax = CTRL_SIZE;
    for (let q = 0; q < ctx.nbRxq(); q++) nMax = Math.max(nMax, ctx.rxDesc(q));
    for (let q = 0; q < ctx.nbTxq(); q++) nMax = Math.max(nMax, ctx.txDesc(q));
    const slot = vqLayout(nMax).size;
    const nSlots = 2 * maxPairs + 1;
    const zname = zoneName(ctx.id);
    if (memzone.find(zname) !== undefined) memzone.free(zname);
    w.fill(0, W_DMA, W_DMA + 8);
    const mz = memzone.reserve(zname, nSlots * slot + CTRL_BUF, { align: 4096 });
    new Uint8Array(mz.buffer).fill(0);
    w[W_SLOT] = slot;
    this.mapSlot(0, zname, mz.buffer);
    const setup = (vq: number, want: number): Virtqueue => {
      const max = dev.queueMax(vq);
      if (max === 0) throw new MpError('ENODEV', `${ctx.name}: the device has no virtqueue ${vq}`);
      let n = Math.min(want, max, QUEUE_MAX);
      n = 2 ** Math.floor(Math.log2(n));
      const v = new Virtqueue(mz.buffer, vq * slot, n, iovaOf(0) + vq * slot);
      const notifyOff = dev.setupQueue(vq, n, v.descIova, v.availIova, v.usedIova);
      v.init(notifyOff);
      return v;
    };
    const rx: Virtqueue[] = [];
    for (let k = 0; k < ctx.nbRxq(); k++) {
      const pool = ctx.rxPool(k);
      const v = setup(rxVq(k), ctx.rxDesc(k));
      if (refill(v, pool, this.poolIova(pool), this.scratch) < 0) throw new MpError('ENOMEM', `${ctx.name}: rx queue ${k}: no mbufs in pool ${pool.name} to post`);
      rx.push(v);
    }
    for (let k = 0; k < ctx.nbTxq(); k++) setup(txVq(k), ctx.txDesc(k));
    const ctrl = mq ? setup(ctrlVq(maxPairs), CTRL_SIZE) : undefined;
    dev.driverOk();
    if (ctrl !== undefined) this.setPairs(dev, ctrl, mz.buffer, nSlots * slot, maxPairs, pairs);
    w[W_PAIRS] = pairs;
    // Kick the receive queues now that the device runs.
    rx.forEach((v, k) => dev.notify(v.st[S.notifyOff]!, rxVq(k)));
    Atomics.add(w, W_STARTS, 1);
    Atomics.store(w, W_STARTED, 1);
    watchers.get(ctx.id)?.close();
    watchers.set(ctx.id, dev.fn.watchConfig(() => this.onConfig()));
    this.reportLink(true);
  }

  private readonly scratch = new Uint32Array(QUEUE_MAX);

  /** VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET over the control queue; waits for the ack. */
  private setPairs(dev: VirtioPci, ctrl: Virtqueue, buffer: ArrayBuffer, at: number, maxPairs: number, pairs: number): void {
    const b = new Uint8Array(buffer, at, CTRL_BUF);
    b[0] = CTRL_MQ;
    b[1] = CTRL_MQ_VQ_PAIRS_SET;
    b[2] = pairs & 0xff;
    b[3] = pairs >> 8;
    b[4] = 0xff;
    const base = iovaOf(0) + at;
    ctrl.addChain(
      [
        { addr: base, len: 2, write: false },
        { addr: base + 2, len: 2, write: false },
        { addr: base + 4, len: 1, write: true },
      ],
      CTRL_HANDLE,
      DESC_F_WRITE,
    );
    ctrl.publish();
    dev.notify(ctrl.st[S.notifyOff]!, ctrlVq(maxPairs));
    const hs = new Uint32Array(1);
    const lens = new Uint32Array(1);
    const until = Date.now() + CTRL_TIMEOUT_MS;
    while (ctrl.takeUsed(hs, lens, 1) === 0) {
      if (Date.now() > until) throw new MpError('ETIMEDOUT', `${this.ctx.name}: the device did not answer VQ_PAIRS_SET(${pairs}) in ${CTRL_TIMEOUT_MS} ms`);
      sleepSync(1);
    }
    if (b[4] !== CTRL_OK) throw new MpError('EINVAL', `${this.ctx.name}: the device refused ${pairs} queue pairs (ack ${b[4]})`);
  }

  /** A configuration interrupt: acknowledge it, report the link if it changed. */
  private onConfig(): void {
    if (Atomics.load(this.ctx.words, W_STARTED) !== 1) return;
    const dev = this.dev();
    const isr = dev.isr();
    if ((isr & ISR_CONFIG) !== 0 || isr === 0) this.reportLink(false);
  }

  private reportLink(always: boolean): void {
    const w = this.ctx.words;
    const feats = (BigInt(w[W_FEAT_HI]!) << 32n) | BigInt(w[W_FEAT_LO]!);
    const up = (feats & bit(F.netStatus)) === 0n || (this.dev().netConfig().status & NET_S_LINK_UP) !== 0 ? 1 : 0;
    if (!always && up === w[W_LINK]) return;
    w[W_LINK] = up;
    this.ctx.setLink(up === 1, up === 1 ? SPEED_MBPS : 0, up === 1 ? undefined : 'virtio-net link status down');
  }

  stop(): void {
    const w = this.ctx.words;
    if (Atomics.load(w, W_STARTED) !== 1) return;
    Atomics.store(w, W_STARTED, 0);
    watchers.get(this.ctx.id)?.close();
    watchers.delete(this.ctx.id);
    this.dev().reset();
    // The device let go of every buffer: the posted mbufs come back to their pools.
    const mz = memzone.find(zoneName(this.ctx.id));
    const slot = w[W_SLOT]!;
    const hs: number[] = [];
    if (mz === undefined) return;
    for (let vq = 0; vq * slot + slot <= mz.len; vq++) {
      const n = new Uint32Array(mz.buffer, vq * slot + VQ_STATE, 16)[S.size]!;
      if (n !== 0) new Virtqueue(mz.buffer, vq * slot, n, 0).drain(hs);
    }
    if (hs.length > 0) {
      const arr = Uint32Array.from(hs);
      Mbuf.adopt(arr, arr.length);
      Mbuf.freeBulk(arr, arr.length);
    }
    w[W_LINK] = 0;
    this.ctx.setLink(false, 0, 'stopped');
  }

  close(): void {
    this.stop();
    const w = this.ctx.words;
    for (let slot = 0; slot < 256; slot++) {
      if ((w[W_DMA + (slot >>> 5)]! & (1 << (slot & 31))) === 0) continue;
      try {
        this.dev().fn.dmaUnmap(iovaOf(slot), 2 ** 32);
      } catch {
        /* the IOMMU forgets everything when the container closes anyway */
      }
    }
    w.fill(0, W_DMA, W_DMA + 8);
    if (memzone.find(zoneName(this.ctx.id)) !== undefined) memzone.free(zoneName(this.ctx.id));
    this.detach();
    if (this.ctx.prober() === process.pid) this.src.release(this.ctx);
  }

  detach(): void {
    this.queues.clear();
    // The prober's function is the one it holds for the group (closed by release at close).
    if (this.ctx.prober() !== process.pid) this.fnCache?.close();
    this.fnCache = undefined;
    this.devCache = undefined;
  }

  rxQueue(q: number): BurstQueue {
    const s = new VirtioRxQueue(this, this.ctx, q);
    this.queues.add(s);
    return s;
  }

  txQueue(q: number): BurstQueue {
    const s = new VirtioTxQueue(this, this.ctx, q);
    this.queues.add(s);
    return s;
  }

  xstats(): Array<{ name: string; value: number }> {
    const out = [{ name: 'virtio_queue_pairs', value: this.ctx.words[W_PAIRS]! }];
    const w = this.ctx.words;
    const mz = memzone.find(zoneName(this.ctx.id));
    if (w[W_STARTED] !== 1 || mz === undefined) return out;
    const slot = w[W_SLOT]!;
    for (let k = 0; k < w[W_PAIRS]!; k++) {
      for (const [dir, vq] of [['rx', rxVq(k)], ['tx', txVq(k)]] as const) {
        const st = new Uint32Array(mz.buffer, vq * slot + VQ_STATE, 16);
        out.push({ name: `${dir}_q${k}_virtio_bad_used`, value: st[S.bad]! });
      }
    }
    return out;
  }

  /** This process's view of virtqueue vq (undefined while stopped or not set up). */
  virtqueue(vq: number): Virtqueue | undefined {
    const w = this.ctx.words;
    const mz = memzone.find(zoneName(this.ctx.id));
    if (Atomics.load(w, W_STARTED) !== 1 || mz === undefined) return undefined;
    const slot = w[W_SLOT]!;
    const n = Atomics.load(new Uint32Array(mz.buffer, vq * slot + VQ_STATE, 16), S.size);
    if (n === 0) return undefined;
    return new Virtqueue(mz.buffer, vq * slot, n, iovaOf(0) + vq * slot);
  }

  get starts(): number {
    return Atomics.load(this.ctx.words, W_STARTS);
  }
}

function checkDesc(name: string, q: number, nbDesc: number): void {
  if (!Number.isInteger(nbDesc) || nbDesc < 2 || nbDesc > QUEUE_MAX || (nbDesc & (nbDesc - 1)) !== 0) {
    throw new MpError('EINVAL', `${name}: queue ${q} nbDesc=${nbDesc} must be a power of two in 2..${QUEUE_MAX} (split virtqueue)`);
  }
}

/** Post fresh mbufs of `pool` on every free descriptor of an rx virtqueue (not yet published). */
function refill(v: Virtqueue, pool: Mempool, base: number, scratch: Uint32Array): number {
  let k = v.freeCount;
  if (k === 0) return 0;
  if (Mbuf.allocBulk(pool, scratch, k) === 0) {
    k = Math.min(k, pool.availCount);
    if (k === 0 || Mbuf.allocBulk(pool, scratch, k) === 0) return -1;
  }
  const h0 = scratch[0]!;
  const inObj = MBUF_HDR_SIZE + pool.mbufPriv + pool.words[pool.wordOf(h0) + W_DATA_OFF]! - NET_HDR_SIZE;
  const len = NET_HDR_SIZE + Mbuf.tailroom(h0);
  for (let i = 0; i < k; i++) {
    const h = scratch[i]!;
    v.add(h, base + pool.offsetOf(h) + inObj, len, DESC_F_WRITE);
  }
  // The queue owns them now (a poller that dies does not take them with it).
  Mbuf.release(scratch, k);
  v.publish();
  return k;
}

/** One process's handle on a virtqueue of the port; rebuilt when the port restarts. */
abstract class VirtioQueue implements BurstQueue {
  protected v: Virtqueue | undefined;
  private starts = -1;
  protected readonly f64: Float64Array;
  protected readonly at: number;
  protected hs = new Uint32Array(64);
  protected lens = new Uint32Array(64);

  constructor(protected readonly port: VirtioPort, protected readonly ctx: PortContext, protected readonly index: number, private readonly vqIndex: number, dir: 'rx' | 'tx') {
    const c = ctx.counters(dir, index);
    this.f64 = c.f64;
    this.at = c.at;
  }

  protected queue(): Virtqueue | undefined {
    const s = this.port.starts;
    if (s !== this.starts || Atomics.load(this.ctx.words, W_STARTED) !== 1) {
      this.starts = s;
      this.v = this.port.virtqueue(this.vqIndex);
    }
    return this.v;
  }

  protected kick(v: Virtqueue): void {
    if (v.needsNotify()) this.port.dev().notify(v.st[S.notifyOff]!, this.vqIndex);
  }

  protected grow(n: number): void {
    if (n > this.hs.length) {
      this.hs = new Uint32Array(n);
      this.lens = new Uint32Array(n);
    }
  }

  abstract burst(handles: Uint32Array, n: number): number;
}

class VirtioRxQueue extends VirtioQueue {
  private readonly pool: Mempool;
  private readonly base: number;
  private readonly scratch = new Uint32Array(QUEUE_MAX);
  private spare = new Uint32Array(64);

  constructor(port: VirtioPort, ctx: PortContext, index: number) {
    super(port, ctx, index, rxVq(index), 'rx');
    this.pool = ctx.rxPool(index);
    this.base = port.poolIova(this.pool);
  }

  burst(handles: Uint32Array, n: number): number {
    const v = this.queue();
    if (v === undefined || n === 0) return 0;
    this.grow(n);
    if (this.spare.length < n) this.spare = new Uint32Array(n);
    const got = v.takeUsed(this.hs, this.lens, n);
    let out = 0;
    let bytes = 0;
    let sp = 0;
    if (got > 0) {
      Mbuf.adopt(this.hs, got);
      const port = this.ctx.id;
      for (let i = 0; i < got; i++) {
        const h = this.hs[i]!;
        const p = poolFor(h);
        const w = p.words;
        const b = p.wordOf(h);
        const len = this.lens[i]! - NET_HDR_SIZE;
        if (this.lens[i]! < NET_HDR_SIZE || len > Mbuf.tailroom(h)) {
          // A length the buffer cannot hold (a device error): dropped, counted.
          this.f64[this.at + 2]! += 1;
          this.spare[sp++] = h;
          continue;
        }
        w[b + W_DATA_LEN] = len;
        w[b + W_PKT_LEN] = len;
        w[b + W_PORT] = port;
        handles[out++] = h;
        bytes += len;
      }
      if (sp > 0) Mbuf.freeBulk(this.spare, sp);
      if (bytes > 0) this.f64[this.at + 1]! += bytes;
    }
    if (v.freeCount >= Math.min(REFILL_AT, v.n >> 1)) {
      if (refill(v, this.pool, this.base, this.scratch) < 0) this.f64[this.at + 3]! += 1;
      else this.kick(v);
    }
    return out;
  }
}

class VirtioTxQueue extends VirtioQueue {
  private done = new Uint32Array(64);

  constructor(port: VirtioPort, ctx: PortContext, index: number) {
    super(port, ctx, index, txVq(index), 'tx');
  }

  /** Give back what the device finished sending. */
  private reclaim(v: Virtqueue): void {
    for (;;) {
      const k = v.takeUsed(this.done, this.lens, this.done.length);
      if (k === 0) return;
      Mbuf.adopt(this.done, k);
      Mbuf.freeBulk(this.done, k);
    }
  }

  burst(handles: Uint32Array, n: number): number {
    const v = this.queue();
    if (v === undefined) return 0;
    this.grow(n);
    if (this.done.length < v.n) this.done = new Uint32Array(v.n);
    this.reclaim(v);
    const k = Math.min(n, v.freeCount);
    let sent = 0;
    let bytes = 0;
    for (; sent < k; sent++) {
      const h = handles[sent]!;
      const p = poolFor(h);
      const w = p.words;
      const b = p.wordOf(h);
      // One descriptor per frame: single-segment, direct mbufs with room for the header in front.
      const off = w[b + W_DATA_OFF]!;
      if (w[b + W_NB_SEGS] !== 1 || w[b + W_BUF] !== h || off < NET_HDR_SIZE) {
        this.f64[this.at + 2]! += 1;
        break;
      }
      const len = w[b + W_DATA_LEN]!;
      const at = p.offsetOf(h) + MBUF_HDR_SIZE + p.mbufPriv + off - NET_HDR_SIZE;
      p.bytes.fill(0, at, at + NET_HDR_SIZE);
      v.add(h, this.port.poolIova(p) + at, NET_HDR_SIZE + len, 0);
      bytes += len;
    }
    if (sent > 0) {
      // The queue owns them until the device is done (a poller that dies does not take them along).
      Mbuf.release(handles, sent);
      v.publish();
      this.kick(v);
      this.f64[this.at + 1]! += bytes;
    }
    return sent;
  }
}
