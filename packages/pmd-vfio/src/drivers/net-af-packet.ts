/**
 * net_af_packet: a port over a kernel interface through AF_PACKET sockets (DPDK's net_af_packet), one
 * socket per queue pair, each with a TPACKET_V3 RX ring (blocks) and a TX ring (frames) in one
 * mapping, joined in a PACKET_FANOUT group (hash: one flow, one queue), PACKET_QDISC_BYPASS on TX.
 *
 * The process that probed the port opens the sockets and serves their descriptors over @mp/ipc
 * (queue-fds.ts: `mp_net_af_packet_fds`, any number in chunks of 8); every other process fetches them at
 * its first burst of the port and maps the rings itself, so each process has full RX and TX on the
 * queues it claims (DPDK's af_packet secondaries have no data path). Rings are walked here in
 * TypeScript over the mapping; the copy between ring and mbufs is one native call per burst.
 *
 * Devargs (DPDK's keys): `net_af_packet<N>,iface=<name>[,qpairs=1][,blocksz=4096][,framesz=2048]
 * [,framecnt=512][,qdisc_bypass=1]`. The RX ring of a queue is framesz·framecnt bytes in blocks of
 * blocksz; the TX ring framecnt frames of framesz.
 *
 * Layout of the rings and of this driver's words: ./af-packet-layout.ts.
 */
import { randomInt } from 'node:crypto';
import { closeSync } from 'node:fs';
import { MpError } from '@mp/memory';
import { log } from '@mp/memory/internal';
import { Mbuf } from '@mp/mempool';
import type { Mempool } from '@mp/mempool';
import { binding, netBinding } from '../binding.js';
import { checkKeys, intArg } from '../ethdev/devargs.js';
import type { Devargs } from '../ethdev/devargs.js';
import { MAX_QUEUES } from '../ethdev/layout.js';
import { BLK, HDR3, PACKET_FANOUT_FLAG_DEFRAG, PACKET_FANOUT_HASH, TP_STATUS_AVAILABLE, TP_STATUS_KERNEL, TP_STATUS_SEND_REQUEST, TP_STATUS_USER, W } from './af-packet-layout.js';
import type { BurstQueue, Driver, DriverPort, PortContext } from './driver.js';
import { noSuchIface, watchLink } from './link-watch.js';
import { RxMbufs, TxRuns } from './mbuf-io.js';
import { requestQueueFdsSync, serveQueueFds } from './queue-fds.js';

export const AF_PACKET = 'net_af_packet';
/** After a failed fetch of the descriptors, bursts return 0 this long before asking again, ms. */
const RETRY_MS = 100;
/** A block is handed to us at the latest this long after its first frame, ms (tp_retire_blk_tov). */
const RETIRE_TOV_MS = 1;

/** The sockets this process opened, by port id (it probed those ports). */
const held = new Map<number, { fds: number[]; serve: { close(): void }; stopWatch: () => void }>();

const pow2 = (n: number): boolean => (n & (n - 1)) === 0;

export const netAfPacket: Driver = {
  name: AF_PACKET,
  keys: ['iface', 'qpairs', 'blocksz', 'framesz', 'framecnt', 'qdisc_bypass'],
  probe(ctx: PortContext, d: Devargs): void {
    checkKeys(d, this.keys);
    const iface = d.args.get('iface');
    if (iface === undefined || iface === '') throw new MpError('EINVAL', `${d.name}: iface=<interface> is required`);
    const qpairs = intArg(d, 'qpairs', 1, 0, 0xffff);
    if (qpairs < 1 || qpairs > MAX_QUEUES) throw new MpError('EINVAL', `${d.name}: qpairs=${qpairs} must be in 1..${MAX_QUEUES}`);
    const blockSize = intArg(d, 'blocksz', 4096, 4096, 1 << 22);
    const frameSize = intArg(d, 'framesz', 2048, 128, 1 << 16);
    const frameCnt = intArg(d, 'framecnt', 512, 2, 1 << 20);
    const bypass = intArg(d, 'qdisc_bypass', 1, 0, 1) === 1;
    if (!pow2(blockSize) || blockSize % 4096 !== 0) throw new MpError('EINVAL', `${d.name}: blocksz=${blockSize} must be a power of two, a multiple of the page size`);
    if (!pow2(frameSize) || frameSize > blockSize) throw new MpError('EINVAL', `${d.name}: framesz=${frameSize} must be a power of two ≤ blocksz (${blockSize})`);
    const blockNr = Math.max(2, Math.floor((frameSize * frameCnt) / blockSize));
    const txFrameNr = Math.max(blockSize / frameSize, frameCnt - (frameCnt % (blockSize / frameSize)));
    const fanoutId = randomInt(1, 0xffff);
    const fds: number[] = [];
    let ifindex = 0;
    let txDataOff = 0;
    try {
      for (let q = 0; q < qpairs; q++) {
        const s = netBinding.afpOpen(iface, { blockSize, blockNr, frameSize, txFrameNr, retireTovMs: RETIRE_TOV_MS, qdiscBypass: bypass, fanout: (fanoutId | ((PACKET_FANOUT_HASH | PACKET_FANOUT_FLAG_DEFRAG) << 16)) >>> 0 });
        fds.push(s.fd);
        ifindex = s.ifindex;
        txDataOff = s.txDataOff;
      }
    } catch (err) {
      for (const fd of fds) binding.close(fd);
      if ((err as { code?: string }).code === 'ENODEV') throw noSuchIface(AF_PACKET, iface, err);
      throw new MpError((err as { code?: string }).code === 'EPERM' ? 'EPERM' : 'EINVAL', `${d.name}: cannot open an AF_PACKET socket on ${iface}: ${(err as Error).message}`, { cause: err });
    }
    const w = ctx.words;
    w[W.ifindex] = ifindex;
    w[W.qpairs] = qpairs;
    w[W.sockGen] = (w[W.sockGen]! + 1) >>> 0;
    w[W.blockSize] = blockSize;
    w[W.blockNr] = blockNr;
    w[W.frameSize] = frameSize;
    w[W.txFrameNr] = txFrameNr;
    w[W.txDataOff] = txDataOff;
    w[W.kernPackets] = 0;
    w[W.kernDrops] = 0;
    for (let q = 0; q < MAX_QUEUES; q++) w.fill(0, W.queues + W.perQueue * q, W.queues + W.perQueue * (q + 1));
    try {
      const st = netBinding.ifState(iface, fds[0]!);
      ctx.setMac(Uint8Array.from(st.mac));
    } catch (err) {
      for (const fd of fds) binding.close(fd);
      throw noSuchIface(AF_PACKET, iface, err);
    }
    const serve = serveQueueFds(AF_PACKET, ctx.id, () => fds);
    const entry = { fds, serve, stopWatch: () => {} };
    held.set(ctx.id, entry);
    entry.stopWatch = watchLink(ctx, W.up, iface, ifindex, () => fds[0] ?? -1, () => release(ctx.id));
    log('debug', 'ETHDEV', `${d.name}: ${qpairs} AF_PACKET socket(s) on ${iface} (ifindex ${ifindex}), fanout group ${fanoutId}, rx ${blockNr}×${blockSize} B, tx ${txFrameNr}×${frameSize} B`);
  },
  open(ctx: PortContext): DriverPort {
    return new AfPacketPort(ctx);
  },
};

/** The prober lets its sockets go (the port was closed, from any process). */
function release(portId: number): void {
  const h = held.get(portId);
  if (h === undefined) return;
  held.delete(portId);
  h.stopWatch();
  h.serve.close();
  for (const fd of h.fds) binding.close(fd);
}

/** One socket's rings as mapped in this process. */
interface Mapping {
  fd: number;
  ab: ArrayBuffer;
  u8: Uint8Array;
  u32: Uint32Array;
  i32: Int32Array;
}

class AfPacketPort implements DriverPort {
  /** Descriptors of this process (a prober's are its own sockets, never closed here). */
  private fds: number[] | undefined;
  private own = false;
  private gen = -1;
  private retryAt = 0;
  private readonly maps: Array<Mapping | undefined> = [];

  constructor(private readonly ctx: PortContext) {}

  configure(nbRxq: number, nbTxq: number): void {
    const qp = this.ctx.words[W.qpairs]!;
    if (nbRxq > qp || nbTxq > qp) throw new MpError('EINVAL', `port ${this.ctx.id} ('${this.ctx.name}') has qpairs=${qp}: ${nbRxq} rx / ${nbTxq} tx queues are more than it has`);
  }
  rxQueueSetup(): void {}
  txQueueSetup(): void {}
  start(): void {}
  stop(): void {}

  close(): void {
    if (this.ctx.prober() === process.pid) release(this.ctx.id);
    this.detach();
  }

  detach(): void {
    for (const m of this.maps) if (m !== undefined) binding.release(m.ab);
    this.maps.length = 0;
    if (this.own && this.fds !== undefined) for (const fd of this.fds) closeFds([fd]);
    this.fds = undefined;
  }

  /** Socket q's rings, mapped here (descriptors fetched from the prober at first use); undefined while unavailable. */
  mapping(q: number): Mapping | undefined {
    const gen = this.ctx.words[W.sockGen]!;
    if (gen !== this.gen) {
      this.detach();
      this.gen = gen;
    }
    const m = this.maps[q];
    if (m !== undefined) return m;
    if (this.fds === undefined) {
      const prober = this.ctx.prober();
      if (prober === process.pid) {
        const h = held.get(this.ctx.id);
        if (h === undefined) return undefined;
        this.fds = h.fds;
        this.own = false;
      } else {
        if (Date.now() < this.retryAt) return undefined;
        try {
          this.fds = requestQueueFdsSync(AF_PACKET, this.ctx.id, prober);
          this.own = true;
        } catch (err) {
          log('warning', 'ETHDEV', `${AF_PACKET} port ${this.ctx.id}: no sockets from the prober (pid ${prober}): ${(err as Error).message}`);
          this.retryAt = Date.now() + RETRY_MS;
          return undefined;
        }
      }
    }
    const fd = this.fds[q];
    if (fd === undefined) return undefined;
    const w = this.ctx.words;
    const size = w[W.blockSize]! * w[W.blockNr]! + w[W.frameSize]! * w[W.txFrameNr]!;
    const ab = binding.map(fd, size);
    const mm: Mapping = { fd, ab, u8: new Uint8Array(ab), u32: new Uint32Array(ab), i32: new Int32Array(ab) };
    this.maps[q] = mm;
    return mm;
  }

  rxQueue(q: number): BurstQueue {
    return new RxQueue(this, this.ctx, q, this.ctx.rxPool(q));
  }
  txQueue(q: number): BurstQueue {
    return new TxQueue(this, this.ctx, q);
  }

  xstats(): Array<{ name: string; value: number }> {
    // PACKET_STATISTICS resets at each read: fold this process's readings into the shared sums.
    const w = this.ctx.words;
    const fds = this.ctx.prober() === process.pid ? held.get(this.ctx.id)?.fds : this.fds;
    for (const fd of fds ?? []) {
      try {
        const [p, dr] = netBinding.afpStats(fd);
        Atomics.add(w, W.kernPackets, p);
        Atomics.add(w, W.kernDrops, dr);
      } catch {
        // a closed socket
      }
    }
    return [
      { name: 'af_packet_kernel_packets', value: Atomics.load(w, W.kernPackets) },
      { name: 'af_packet_kernel_drops', value: Atomics.load(w, W.kernDrops) },
    ];
  }
}

function closeFds(fds: number[]): void {
  for (const fd of fds) {
    try {
      closeSync(fd);
    } catch {
      // closed already
    }
  }
}

/**
 * RX: walk the blocks the kernel handed over (block_status USER), frame by frame; copy up to n frames
 * into fresh mbufs with one native call; give finished blocks back (block_status KERNEL). The position
 * (block, frames taken) is kept in the port's words, so a new poller resumes where a dead one stopped.
 */
class RxQueue implements BurstQueue {
  private m: Mapping | undefined;
  private readonly io: RxMbufs;
  private readonly f64: Float64Array;
  private readonly at: number;
  private blk = 0;
  private taken = 0;
  /** Byte offset of the next frame in the mapping (valid while taken < num_pkts of blk). */
  private off = 0;
  private src = new Uint32Array(64);
  private done = new Int32Array(64);
  private readonly res = new Float64Array(2);
  private readonly wq: number;
  private blockSize = 0;
  private blockNr = 0;

  constructor(private readonly port: AfPacketPort, private readonly ctx: PortContext, private readonly q: number, pool: Mempool) {
    this.io = new RxMbufs(pool);
    const c = ctx.counters('rx', q);
    this.f64 = c.f64;
    this.at = c.at;
    this.wq = W.queues + W.perQueue * q;
  }

  private attach(): Mapping | undefined {
    const m = this.port.mapping(this.q);
    if (m === undefined) return undefined;
    const w = this.ctx.words;
    this.blockSize = w[W.blockSize]!;
    this.blockNr = w[W.blockNr]!;
    this.blk = w[this.wq]! % this.blockNr;
    this.taken = w[this.wq + 1]!;
    // Resume inside a block: skip the frames a previous poller took.
    const bo = this.blk * this.blockSize;
    this.off = bo + m.u32[(bo + BLK.firstPkt) >>> 2]!;
    if ((Atomics.load(m.i32, (bo + BLK.blockStatus) >>> 2) & TP_STATUS_USER) === 0) this.taken = 0;
    for (let i = 0; i < this.taken; i++) this.off += m.u32[this.off >>> 2]!;
    this.m = m;
    return m;
  }

  burst(handles: Uint32Array, n: number): number {
    const m = this.m ?? this.attach();
    if (m === undefined || n === 0 || this.ctx.words[W.up] !== 1) return 0;
    const u32 = m.u32;
    const i32 = m.i32;
    const bs = this.blockSize;
    // Is there anything? (A1: acquire of block_status; pairs with the kernel's release when it hands the block over.)
    let bo = this.blk * bs;
    if ((Atomics.load(i32, (bo + BLK.blockStatus) >>> 2) & TP_STATUS_USER) === 0) return 0;
    const k = this.io.alloc(n);
    if (k === 0) {
      this.f64[this.at + 3]! += 1;
      return 0;
    }
    if (this.src.length < k) {
      this.src = new Uint32Array(k);
      this.done = new Int32Array(k + 1);
    }
    const lens = this.io.lens;
    const hash = this.io.hash;
    const src = this.src;
    let got = 0;
    let nd = 0;
    let blk = this.blk;
    let taken = this.taken;
    let off = this.off;
    while (got < k) {
      bo = blk * bs;
      if ((Atomics.load(i32, (bo + BLK.blockStatus) >>> 2) & TP_STATUS_USER) === 0) break;
      const num = u32[(bo + BLK.numPkts) >>> 2]!;
      if (taken === 0) off = bo + u32[(bo + BLK.firstPkt) >>> 2]!;
      while (taken < num && got < k) {
        const h = off >>> 2;
        src[got] = off + (u32[h + (HDR3.mac >>> 2)]! & 0xffff);
        lens[got] = u32[h + (HDR3.snaplen >>> 2)]!;
        hash[got] = u32[h + (HDR3.rxhash >>> 2)]!;
        got++;
        taken++;
        off += u32[h]!;
      }
      if (taken < num) break;
      this.done[nd++] = blk;
      blk = blk + 1 === this.blockNr ? 0 : blk + 1;
      taken = 0;
    }
    if (got > 0) {
      // Frames longer than the room are cut to it by the copy and dropped by finish() (lens kept).
      const room = this.io.room;
      const cl = this.srcLens(got, room);
      netBinding.copyFrames(this.io.bytes, this.io.offs, m.u8, src, cl, got);
    }
    // R1: the frames are copied out; give their blocks back (release; pairs with the kernel's read of block_status).
    for (let i = 0; i < nd; i++) Atomics.store(i32, (this.done[i]! * bs + BLK.blockStatus) >>> 2, TP_STATUS_KERNEL);
    this.blk = blk;
    this.taken = taken;
    this.off = off;
    const w = this.ctx.words;
    w[this.wq] = blk;
    w[this.wq + 1] = taken;
    const out = this.io.finish(handles, k, got, this.ctx.id, true, this.res);
    if (this.res[0]! > 0) this.f64[this.at + 1]! += this.res[0]!;
    if (this.res[1]! > 0) this.f64[this.at + 2]! += this.res[1]!;
    return out;
  }

  private cl = new Uint32Array(64);
  /** Copy lengths: each frame's length, cut to the room. */
  private srcLens(n: number, room: number): Uint32Array {
    if (this.cl.length < n) this.cl = new Uint32Array(n);
    const lens = this.io.lens;
    for (let i = 0; i < n; i++) this.cl[i] = lens[i]! > room ? room : lens[i]!;
    return this.cl;
  }
}

/**
 * TX: copy each mbuf into the next free frame of the TX ring (tp_status AVAILABLE), mark it
 * SEND_REQUEST, then one sendto() asks the kernel to send them all; the mbufs go back to their pools
 * (copy mode, as DPDK's af_packet). A full ring (the next frame not AVAILABLE) ends the burst.
 */
class TxQueue implements BurstQueue {
  private m: Mapping | undefined;
  private readonly runs = new TxRuns();
  private readonly f64: Float64Array;
  private readonly at: number;
  private readonly wq: number;
  private slots = new Uint32Array(64);
  private idx = 0;
  private base = 0;
  private frameSize = 0;
  private nr = 0;
  private dataOff = 0;

  constructor(private readonly port: AfPacketPort, private readonly ctx: PortContext, private readonly q: number) {
    const c = ctx.counters('tx', q);
    this.f64 = c.f64;
    this.at = c.at;
    this.wq = W.queues + W.perQueue * q + 2;
  }

  private attach(): Mapping | undefined {
    const m = this.port.mapping(this.q);
    if (m === undefined) return undefined;
    const w = this.ctx.words;
    this.base = w[W.blockSize]! * w[W.blockNr]!;
    this.frameSize = w[W.frameSize]!;
    this.nr = w[W.txFrameNr]!;
    this.dataOff = w[W.txDataOff]!;
    this.idx = w[this.wq]! % this.nr;
    this.m = m;
    return m;
  }

  burst(handles: Uint32Array, n: number): number {
    const m = this.m ?? this.attach();
    if (m === undefined || this.ctx.words[W.up] !== 1) return 0;
    const u32 = m.u32;
    const i32 = m.i32;
    if (this.slots.length < n) this.slots = new Uint32Array(n);
    const slots = this.slots;
    const room = this.frameSize - this.dataOff;
    let idx = this.idx;
    let sent = 0;
    let bytes = 0;
    let full = false;
    while (sent < n && !full) {
      const j = this.runs.next(handles, sent, n);
      const lens = this.runs.lens;
      let k = 0;
      for (; k < j; k++) {
        const slot = this.base + idx * this.frameSize;
        // A2: acquire of tp_status; pairs with the kernel's release when it is done with the frame.
        if (Atomics.load(i32, (slot + HDR3.status) >>> 2) !== TP_STATUS_AVAILABLE) {
          full = true;
          break;
        }
        slots[k] = slot + this.dataOff;
        // Too long for a frame (or empty): copied as nothing, dropped below, and the slot stays for the next.
        if (lens[k]! > room || lens[k] === 0) lens[k] = 0;
        else idx = idx + 1 === this.nr ? 0 : idx + 1;
      }
      if (k === 0) break;
      netBinding.copyFrames(m.u8, slots, this.runs.src, this.runs.offs, lens, k);
      for (let i = 0; i < k; i++) {
        const h = (slots[i]! - this.dataOff) >>> 2;
        const len = lens[i]!;
        if (len === 0) {
          this.f64[this.at + 2]! += 1;
          continue;
        }
        u32[h + (HDR3.len >>> 2)] = len;
        u32[h + (HDR3.snaplen >>> 2)] = len;
        u32[h + (HDR3.nextOffset >>> 2)] = 0;
        // T1: publish the frame (release; pairs with the kernel's read of tp_status in tpacket_snd).
        Atomics.store(i32, h + (HDR3.status >>> 2), TP_STATUS_SEND_REQUEST);
        bytes += len;
      }
      sent += k;
    }
    if (sent === 0) {
      // Frames of a previous burst may still wait for their kick (the poller before us died).
      netBinding.afpKick(m.fd);
      return 0;
    }
    this.idx = idx;
    this.ctx.words[this.wq] = idx;
    netBinding.afpKick(m.fd);
    Mbuf.freeBulk(handles, sent);
    if (bytes > 0) this.f64[this.at + 1]! += bytes;
    return sent;
  }
}
