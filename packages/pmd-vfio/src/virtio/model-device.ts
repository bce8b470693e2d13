/**
 * The in-memory virtio-net device model, part 2: the device. Runs in its own process of the group
 * (a secondary, usually) and does what a virtio-net device does with the driver's split virtqueues:
 * consumes transmit descriptors (counting frames and a checksum of their bytes), fills receive buffers
 * with generated frames, answers the control queue's VQ_PAIRS_SET, reports link status through its
 * configuration with a configuration interrupt. It reaches the driver's memory only through the IOVAs
 * the driver gave it (the model's IOMMU table → memzone + offset), as a device reaches it through an
 * IOMMU. Test knobs: completions out of order (a shuffled window), malformed used elements.
 *
 * Ordering, the device side of ./virtqueue.ts: D1 avail.idx is an Atomics.load before the slots are
 * read; D2 the used elements and the buffers' bytes are written before used.idx's Atomics.store; D3 the
 * device never sets USED_F_NO_NOTIFY here (it always wants notifications), so the flag stays 0.
 */
import { MpError, futexWaitAsync, memzone } from '@mp/memory';
import {
  COMMON,
  CTRL_ERR,
  CTRL_MQ,
  CTRL_MQ_VQ_PAIRS_SET,
  CTRL_OK,
  DESC_F_NEXT,
  DESC_F_WRITE,
  F,
  ISR_CONFIG,
  NETCFG,
  NET_HDR_NUM_BUFFERS,
  NET_HDR_SIZE,
  NET_S_LINK_UP,
  PCI,
  STATUS,
  VIRTIO_NET_MODERN,
  VIRTIO_VENDOR,
  bit,
  ctrlVq,
  rxVq,
  txVq,
} from './layout.js';
import { M, ML, MODEL_BAR, MODEL_MAGIC, MODEL_MAX_QUEUES, MODEL_VERSION, ModelMemory, Q, modelZoneName } from './model-regs.js';

/** Options of {@link VirtioNetModel.create}. */
export interface ModelOptions {
  /** Queue pairs the device offers (max_virtqueue_pairs), 1..8. Default 2. */
  pairs?: number;
  /** The largest queue size the device offers. Default 256. */
  queueMax?: number;
  mac?: Uint8Array;
  /** Offered features; default VERSION_1 | MAC | STATUS | MTU | CTRL_VQ | MQ. */
  features?: bigint;
  /** Link up at creation. Default true. */
  link?: boolean;
}

/** Per queue pair counters of the device. */
export interface PairStats {
  /** Frames the device took from transmitq, their bytes (no header) and the sum of their FNV-1a hashes (mod 2^32). */
  txFrames: number;
  txBytes: number;
  txSum: number;
  /** Frames the device put on receiveq, and the sum of their hashes. */
  rxFrames: number;
  rxSum: number;
  /** Frames still to generate. */
  pending: number;
}

/** FNV-1a over bytes (the checksum both ends of a test agree on). */
export function fnv1a(b: Uint8Array, from: number, to: number): number {
  let h = 0x811c9dc5;
  for (let i = from; i < to; i++) h = Math.imul(h ^ b[i]!, 0x01000193);
  return h >>> 0;
}

/** Frame `seq` of a generated stream: 8 bytes of (marker, seq), then bytes derived from both. */
export function fillFrame(dst: Uint8Array, at: number, len: number, marker: number, seq: number): void {
  const dv = new DataView(dst.buffer, dst.byteOffset + at, len);
  dv.setUint32(0, marker, true);
  dv.setUint32(4, seq, true);
  for (let j = 8; j < len; j++) dst[at + j] = (seq * 31 + j * 7 + marker) & 0xff;
}

interface DevQueue {
  n: number;
  desc: Uint32Array;
  avail: Uint16Array;
  used16: Uint16Array;
  used32: Uint32Array;
  lastAvail: number;
  usedIdx: number;
}

type Fault = 'bad-id' | 'bad-len';

export class VirtioNetModel {
  private readonly m: ModelMemory;
  private readonly maxPairs: number;
  private readonly queues: Array<DevQueue | undefined> = [];
  private gen = -1;
  private active = 1;
  private running = false;
  private loopDone: Promise<void> = Promise.resolve();
  private readonly zones = new Map<string, Uint8Array>();
  private readonly stats: PairStats[];
  private readonly gens: Array<{ len: number; next: number }> = [];
  private reorder = 0;
  private seed = 1;
  private readonly faults = new Map<number, { kind: Fault; count: number }>();
  /** DMA addresses that hit no IOMMU window (a driver bug: a device would fault). */
  dmaErrors = 0;
  /** Descriptors the device could not use (too short, wrong direction). */
  descErrors = 0;

  private constructor(readonly name: string, buffer: ArrayBuffer, opts: Required<ModelOptions>) {
    this.m = new ModelMemory(buffer);
    this.maxPairs = opts.pairs;
    this.stats = Array.from({ length: opts.pairs }, () => ({ txFrames: 0, txBytes: 0, txSum: 0, rxFrames: 0, rxSum: 0, pending: 0 }));
    for (let k = 0; k < opts.pairs; k++) this.gens.push({ len: 64, next: 0 });
  }

  /**
   * Make the device (its memzone `vm_<name>`) in this process and start serving it.
   *
   * @throws {MpError} EINVAL — pairs outside 1..8, queueMax not a power of two in 2..32768
   * @throws {MpError} EEXIST — a model of that name exists
   */
  static create(name: string, o: ModelOptions = {}): VirtioNetModel {
    const opts: Required<ModelOptions> = {
      pairs: o.pairs ?? 2,
      queueMax: o.queueMax ?? 256,
      mac: o.mac ?? Uint8Array.of(0x52, 0x54, 0x00, 0x12, 0x34, 0x56),
      features: o.features ?? (bit(F.version1) | bit(F.netMac) | bit(F.netStatus) | bit(F.netMtu) | bit(F.netCtrlVq) | bit(F.netMq)),
      link: o.link ?? true,
    };
    if (!Number.isInteger(opts.pairs) || opts.pairs < 1 || opts.pairs > 8) throw new MpError('EINVAL', `model pairs=${opts.pairs} must be 1..8`);
    if (!Number.isInteger(opts.queueMax) || opts.queueMax < 2 || opts.queueMax > 32768 || (opts.queueMax & (opts.queueMax - 1)) !== 0) {
      throw new MpError('EINVAL', `model queueMax=${opts.queueMax} must be a power of two in 2..32768`);
    }
    const mz = memzone.reserve(modelZoneName(name), ML.size, { align: 4096 });
    const dev = new VirtioNetModel(name, mz.buffer, opts);
    dev.init(opts);
    dev.start();
    return dev;
  }

  private init(o: Required<ModelOptions>): void {
    const m = this.m;
    m.u8.fill(0);
    const cfg = new DataView(m.buffer, ML.config, 256);
    cfg.setUint16(PCI.vendorId, VIRTIO_VENDOR, true);
    cfg.setUint16(PCI.deviceId, VIRTIO_NET_MODERN, true);
    cfg.setUint16(PCI.status, PCI.statusCapList, true);
    cfg.setUint8(0x08, 1); // revision ≥ 1: modern
    cfg.setUint8(PCI.capPtr, 0x40);
    // A power-management capability first (the walk must skip what is not virtio's), then the four.
    cfg.setUint8(0x40, 0x01);
    cfg.setUint8(0x41, 0x48);
    const cap = (at: number, next: number, type: number, off: number, len: number, mult?: number): void => {
      cfg.setUint8(at, PCI.capVendor);
      cfg.setUint8(at + 1, next);
      cfg.setUint8(at + 2, mult === undefined ? 16 : 20);
      cfg.setUint8(at + 3, type);
      cfg.setUint8(at + 4, MODEL_BAR);
      cfg.setUint32(at + 8, off, true);
      cfg.setUint32(at + 12, len, true);
      if (mult !== undefined) cfg.setUint32(at + 16, mult, true);
    };
    const nq = 2 * o.pairs + 1;
    cap(0x48, 0x58, 1, ML.commonOff, COMMON.size);
    cap(0x58, 0x6c, 2, ML.notifyOff, nq * ML.notifyMult, ML.notifyMult);
    cap(0x6c, 0x7c, 3, ML.isrOff, 4);
    cap(0x7c, 0x00, 4, ML.deviceOff, NETCFG.size);
    const c = m.ctl;
    c[M.devFeatLo] = Number(o.features & 0xffffffffn);
    c[M.devFeatHi] = Number(o.features >> 32n);
    c[M.numQueues] = nq;
    for (let q = 0; q < nq; q++) m.u32[m.qw(q, Q.max)] = o.queueMax;
    const bar = new DataView(m.buffer, ML.bar, ML.barSize);
    bar.setUint16(ML.commonOff + COMMON.numQueues, nq, true);
    for (let i = 0; i < 6; i++) bar.setUint8(ML.deviceOff + NETCFG.mac + i, o.mac[i]!);
    bar.setUint16(ML.deviceOff + NETCFG.status, o.link ? NET_S_LINK_UP : 0, true);
    bar.setUint16(ML.deviceOff + NETCFG.maxPairs, o.pairs, true);
    bar.setUint16(ML.deviceOff + NETCFG.mtu, 1500, true);
    c[M.version] = MODEL_VERSION;
    c[M.devicePid] = process.pid;
    Atomics.store(c, M.magic, MODEL_MAGIC);
  }

  private start(): void {
    this.running = true;
    this.loopDone = this.loop();
  }

  /** Stop serving and free the memzone. */
  async destroy(): Promise<void> {
    this.running = false;
    this.m.bump(M.doorbell);
    await this.loopDone;
    this.m.ctl[M.devicePid] = 0;
    memzone.free(modelZoneName(this.name));
  }

  /** Link up or down: the status field changes, config_generation moves, a configuration interrupt. */
  setLink(up: boolean): void {
    const at = ML.bar + ML.deviceOff + NETCFG.status;
    const gAt = ML.bar + ML.commonOff + COMMON.cfgGeneration;
    Atomics.add(this.m.u8, gAt, 1);
    Atomics.store(this.m.u16, at >> 1, up ? NET_S_LINK_UP : 0);
    Atomics.add(this.m.u8, gAt, 1);
    Atomics.or(this.m.u8, ML.bar + ML.isrOff, ISR_CONFIG);
    this.m.bump(M.irq);
  }

  /** Queue `count` frames of `len` bytes for receiveq `pair` (marker = pair, seq from 0 up). */
  generate(pair: number, count: number, len: number): void {
    if (pair < 0 || pair >= this.maxPairs) throw new MpError('EINVAL', `model has ${this.maxPairs} pairs (no ${pair})`);
    if (len < 8 || len > 1514) throw new MpError('EINVAL', `frame length ${len} must be 8..1514`);
    this.gens[pair]!.len = len;
    this.stats[pair]!.pending += count;
    this.m.bump(M.doorbell);
  }

  /** Complete used elements in shuffled windows of `window` (0: in order). */
  setReorder(window: number, seed = 1): void {
    this.reorder = window;
    this.seed = seed >>> 0 || 1;
  }

  /** The next `count` used elements of virtqueue `vq` are malformed. */
  injectFault(vq: number, kind: Fault, count: number): void {
    this.faults.set(vq, { kind, count });
  }

  pairStats(): PairStats[] {
    return this.stats.map((s) => ({ ...s }));
  }

  /** The queue pairs the driver enabled over the control queue. */
  get activePairs(): number {
    return this.active;
  }

  // ---- the device's work ------------------------------------------------------------------------------

  private async loop(): Promise<void> {
    const ctl = this.m.ctl;
    let busy = 0;
    while (this.running) {
      const seen = Atomics.load(ctl, M.doorbell);
      const did = this.poll();
      if (did === 0) {
        busy = 0;
        await futexWaitAsync(ctl, M.doorbell, seen, 50);
      } else if (++busy % 8 === 0) {
        await new Promise<void>((r) => setImmediate(r));
      }
    }
  }

  /** One pass over every queue; returns the work done. */
  poll(): number {
    const g = Atomics.load(this.m.ctl, M.gen);
    const ok = (this.m.status() & STATUS.driverOk) !== 0;
    if (g !== this.gen) {
      this.gen = g;
      this.queues.length = 0;
      this.active = 1;
      if (ok) this.mapQueues();
    }
    if (!ok || (this.m.status() & STATUS.needsReset) !== 0) return 0;
    let did = 0;
    for (let k = 0; k < this.active; k++) {
      did += this.tx(k);
      did += this.rx(k);
    }
    if ((this.m.drvFeatures() & bit(F.netCtrlVq)) !== 0n) did += this.ctrl();
    return did;
  }

  private mapQueues(): void {
    const m = this.m;
    const nq = m.ctl[M.numQueues]!;
    for (let q = 0; q < Math.min(nq, MODEL_MAX_QUEUES); q++) {
      if (m.u32[m.qw(q, Q.enable)] !== 1) continue;
      const n = m.u32[m.qw(q, Q.size)]!;
      const addr = (w: number): number => m.u32[m.qw(q, w)]! + m.u32[m.qw(q, w + 1)]! * 2 ** 32;
      const d = this.translate(addr(Q.descLo), 16 * n);
      const a = this.translate(addr(Q.drvLo), 6 + 2 * n);
      const u = this.translate(addr(Q.devLo), 6 + 8 * n);
      if (d === undefined || a === undefined || u === undefined) continue;
      this.queues[q] = {
        n,
        desc: new Uint32Array(d.b.buffer, d.b.byteOffset + d.at, 4 * n),
        avail: new Uint16Array(a.b.buffer, a.b.byteOffset + a.at, 3 + n),
        used16: new Uint16Array(u.b.buffer, u.b.byteOffset + u.at, 2),
        used32: new Uint32Array(u.b.buffer, u.b.byteOffset + u.at + 4, 2 * n),
        lastAvail: 0,
        usedIdx: 0,
      };
    }
  }

  /** Bytes at a device address: the memzone's bytes and the offset, or undefined (counted). */
  private translate(iova: number, len: number): { b: Uint8Array; at: number } | undefined {
    const e = this.m.iommuFind(iova);
    if (e === undefined || len > e.len) {
      this.dmaErrors++;
      return undefined;
    }
    let b = this.zones.get(e.name);
    if (b === undefined) {
      const mz = memzone.find(e.name);
      if (mz === undefined) {
        this.dmaErrors++;
        return undefined;
      }
      b = new Uint8Array(mz.buffer);
      this.zones.set(e.name, b);
    }
    return { b, at: e.off };
  }

  /** Next avail descriptor head of q, or -1. D1. */
  private nextAvail(vq: DevQueue): number {
    if (vq.lastAvail === Atomics.load(vq.avail, 1)) return -1;
    const id = vq.avail[2 + (vq.lastAvail & (vq.n - 1))]!;
    vq.lastAvail = (vq.lastAvail + 1) & 0xffff;
    return id;
  }

  private readonly batchIds: number[] = [];
  private readonly batchLens: number[] = [];

  /** Write the batch's used elements (shuffled when asked), then used.idx. D2. */
  private flush(q: number, vq: DevQueue): void {
    const ids = this.batchIds;
    const lens = this.batchLens;
    const k = ids.length;
    if (k === 0) return;
    if (this.reorder > 1) {
      for (let i = k - 1; i > 0; i--) {
        this.seed = (Math.imul(this.seed, 1103515245) + 12345) >>> 0;
        const j = this.seed % (i + 1);
        [ids[i], ids[j]] = [ids[j]!, ids[i]!];
        [lens[i], lens[j]] = [lens[j]!, lens[i]!];
      }
    }
    const f = this.faults.get(q);
    for (let i = 0; i < k; i++) {
      let id = ids[i]!;
      let len = lens[i]!;
      if (f !== undefined && f.count > 0) {
        f.count--;
        if (f.kind === 'bad-id') id = vq.n + 7;
        else len = 0x7fff_0000;
      }
      const e = (vq.usedIdx & (vq.n - 1)) << 1;
      vq.used32[e] = id;
      vq.used32[e + 1] = len;
      vq.usedIdx = (vq.usedIdx + 1) & 0xffff;
    }
    Atomics.store(vq.used16, 1, vq.usedIdx);
    ids.length = 0;
    lens.length = 0;
  }

  private descOf(vq: DevQueue, id: number): { addr: number; len: number; flags: number; next: number } {
    const d = id << 2;
    const w3 = vq.desc[d + 3]!;
    return { addr: vq.desc[d]! + vq.desc[d + 1]! * 2 ** 32, len: vq.desc[d + 2]!, flags: w3 & 0xffff, next: w3 >>> 16 };
  }

  private tx(k: number): number {
    const q = txVq(k);
    const vq = this.queues[q];
    if (vq === undefined) return 0;
    const s = this.stats[k]!;
    let did = 0;
    const window = this.reorder > 1 ? this.reorder : 64;
    for (let id = this.nextAvail(vq); id >= 0; id = this.nextAvail(vq)) {
      // Gather the chain: the header's 12 bytes, then the frame.
      let h = 0x811c9dc5;
      let skip = NET_HDR_SIZE;
      let bytes = 0;
      let okChain = true;
      for (let cur = id, hops = 0; hops < vq.n; hops++) {
        if (cur >= vq.n) {
          okChain = false;
          break;
        }
        const d = this.descOf(vq, cur);
        if ((d.flags & DESC_F_WRITE) !== 0) okChain = false;
        const t = this.translate(d.addr, d.len);
        if (t === undefined) {
          okChain = false;
          break;
        }
        for (let i = t.at + Math.min(skip, d.len); i < t.at + d.len; i++) h = Math.imul(h ^ t.b[i]!, 0x01000193);
        bytes += Math.max(0, d.len - skip);
        skip = Math.max(0, skip - d.len);
        if ((d.flags & DESC_F_NEXT) === 0) break;
        cur = d.next;
      }
      if (okChain && skip === 0) {
        s.txFrames++;
        s.txBytes += bytes;
        s.txSum = (s.txSum + (h >>> 0)) >>> 0;
      } else {
        this.descErrors++;
      }
      this.batchIds.push(id);
      this.batchLens.push(0);
      did++;
      if (this.batchIds.length >= window) this.flush(q, vq);
    }
    this.flush(q, vq);
    return did;
  }

  private rx(k: number): number {
    const q = rxVq(k);
    const vq = this.queues[q];
    const s = this.stats[k]!;
    if (vq === undefined || s.pending === 0) return 0;
    const g = this.gens[k]!;
    let did = 0;
    const window = this.reorder > 1 ? this.reorder : 64;
    while (s.pending > 0) {
      const id = this.nextAvail(vq);
      if (id < 0) break;
      const d = this.descOf(vq, id);
      const t = (d.flags & DESC_F_WRITE) !== 0 && d.len >= NET_HDR_SIZE + g.len ? this.translate(d.addr, NET_HDR_SIZE + g.len) : undefined;
      if (t === undefined) {
        this.descErrors++;
        this.batchIds.push(id);
        this.batchLens.push(0);
        continue;
      }
      t.b.fill(0, t.at, t.at + NET_HDR_SIZE);
      t.b[t.at + NET_HDR_NUM_BUFFERS] = 1;
      fillFrame(t.b, t.at + NET_HDR_SIZE, g.len, k, g.next);
      s.rxSum = (s.rxSum + fnv1a(t.b, t.at + NET_HDR_SIZE, t.at + NET_HDR_SIZE + g.len)) >>> 0;
      g.next++;
      s.rxFrames++;
      s.pending--;
      this.batchIds.push(id);
      this.batchLens.push(NET_HDR_SIZE + g.len);
      did++;
      if (this.batchIds.length >= window) this.flush(q, vq);
    }
    this.flush(q, vq);
    return did;
  }

  private ctrl(): number {
    const q = ctrlVq(this.maxPairs);
    const vq = this.queues[q];
    if (vq === undefined) return 0;
    let did = 0;
    for (let id = this.nextAvail(vq); id >= 0; id = this.nextAvail(vq)) {
      did++;
      // header {class, cmd} → data → ack (device-writable)
      const parts: Array<{ b: Uint8Array; at: number; len: number; w: boolean }> = [];
      for (let cur = id, hops = 0; hops < 4; hops++) {
        const d = this.descOf(vq, cur);
        const t = this.translate(d.addr, d.len);
        if (t === undefined) break;
        parts.push({ b: t.b, at: t.at, len: d.len, w: (d.flags & DESC_F_WRITE) !== 0 });
        if ((d.flags & DESC_F_NEXT) === 0) break;
        cur = d.next;
      }
      const ack = parts[parts.length - 1];
      if (parts.length >= 3 && ack !== undefined && ack.w) {
        const hdr = parts[0]!;
        const data = parts[1]!;
        let r = CTRL_ERR;
        if (hdr.b[hdr.at] === CTRL_MQ && hdr.b[hdr.at + 1] === CTRL_MQ_VQ_PAIRS_SET && data.len >= 2) {
          const n = data.b[data.at]! | (data.b[data.at + 1]! << 8);
          if (n >= 1 && n <= this.maxPairs) {
            this.active = n;
            r = CTRL_OK;
          }
        }
        ack.b[ack.at] = r;
      } else {
        this.descErrors++;
      }
      this.batchIds.push(id);
      this.batchLens.push(1);
    }
    this.flush(q, vq);
    return did;
  }
}
