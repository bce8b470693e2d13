/**
 * net_af_xdp: a port over AF_XDP sockets (copy mode, XDP_COPY: any driver, veth included), one socket
 * per queue, whose queues every process of the group polls itself — DPDK's af_xdp secondaries get
 * stats only.
 *
 * The prober (the primary: secondaries ask the primary for the fds) makes the kernel objects at start:
 * a memzone of the group holding every queue's UMEM (shared memory: any process addresses the frames),
 * one AF_XDP socket per queue with its own UMEM (its slice of the memzone) bound to (iface, start_queue
 * + q), an XSKMAP, and our XDP program (native/af_xdp_prog.h: redirect by rx queue index, XDP_PASS
 * when the queue has no socket) attached by a bpf_link. Other processes get the link and socket fds
 * over @mp/ipc (queue-fds.ts, SCM_RIGHTS) and mmap the four rings themselves; a queue's rings are
 * driven in TypeScript (../af_xdp/rings.ts) by whichever process polls it. Every process holding the
 * port holds a duplicate of the link fd: the program stays attached after the prober dies, and the
 * kernel detaches it when the last process of the group holding the port is gone; close detaches it
 * at once (BPF_LINK_DETACH).
 *
 * Frames ↔ mbufs: copied (one native memcpy loop per burst), as DPDK's af_xdp copy path does when the
 * mempool is not the UMEM. The UMEM is not the mempool's memzone because a UMEM frame lent to the
 * kernel (fill ring, tx ring) must not be owned by an mbuf that a process's death gives back to the
 * pool — @mp/mempool reclaims a dead process's mbufs, the kernel would keep writing into them.
 *
 * Devargs (DPDK's keys): `net_af_xdp<N>,iface=<name>[,start_queue=0][,queue_count=1]`.
 *
 * Driver words (PortContext.words), written by the prober:
 * ```
 * | word | field                                                                          |
 * |    0 | socket generation: +1 each time the sockets are made; 0 = none; a queue remaps  |
 * |    1 | 1 while the interface is up and running (and the port started)                |
 * |    2 | ifindex                                                                        |
 * |    3 | start_queue                                                                    |
 * |    4 | queue_count                                                                    |
 * |    5 | sockets made (queues)                                                          |
 * |    6 | rx ring size = rx frames per queue (fill ring the same)                         |
 * |    7 | tx ring size = tx frames per queue (completion ring the same)                   |
 * |    8 | bytes of UMEM per queue (rx frames, then tx frames; FRAME bytes each)           |
 * |    9 | XDP mode: 1 native (drv), 2 generic (skb)                                       |
 * ```
 * UMEM of queue q: memzone `xdp<port>g<gen>` bytes [q·slice, (q+1)·slice); frame addresses are
 * offsets in that slice: rx frames [0, rxd·FRAME), tx frames after.
 */
import { eal } from '@mp/eal';
import * as ipc from '@mp/ipc';
import { MpError, log, memzone } from '@mp/memory';
import type { Memzone } from '@mp/memory';
import { Mbuf, mempoolLayout } from '@mp/mempool';
import type { Mempool } from '@mp/mempool';
import { binding, xdp } from '../binding.js';
import { checkKeys, intArg } from '../ethdev/devargs.js';
import type { Devargs } from '../ethdev/devargs.js';
import { XskRing } from '../af_xdp/rings.js';
import type { BurstQueue, Driver, DriverPort, PortContext } from './driver.js';
import { requestQueueFds, serveQueueFds } from './queue-fds.js';

const { W_DATA_LEN, W_PKT_LEN, W_PORT } = mempoolLayout;

const W_GEN = 0;
const W_UP = 1;
const W_IFINDEX = 2;
const W_START_Q = 3;
const W_QCOUNT = 4;
const W_NQ = 5;
const W_RXD = 6;
const W_TXD = 7;
const W_SLICE = 8;
const W_MODE = 9;

const DRIVER = 'net_af_xdp';
/** UMEM frame size (the kernel accepts 2048..page size). */
export const FRAME = 2048;
/** veth and most drivers report no speed to AF_XDP; ethdev needs a number (DPDK's af_xdp asks ethtool). */
const SPEED_MBPS = 10_000;
/** How often the prober checks the interface's flags, ms. */
const LINK_POLL_MS = 50;
const IFF_UP = 0x1;
const IFF_RUNNING = 0x40;
const CTL_ACTION = 'mp_af_xdp_ctl';
/** How long a process waits before it asks the primary for the fds again after a failure, ms. */
const FETCH_RETRY_MS = 1000;
/** How long a queue whose rings cannot be mapped waits before it tries again, ms. */
const RETRY_MS = 100;
/** Most descriptors a kick asks the kernel for (copy mode sends ≤ 32 per sendto). */
const KICKS = 8;

const mzName = (port: number, gen: number): string => `xdp${port}g${gen}`;

/** What the prober holds of a port. */
interface Held {
  ctx: PortContext;
  iface: string;
  mz?: Memzone;
  prog: number;
  map: number;
  /** The bpf_link attaching the program (every process holding the fds holds a duplicate). */
  link: number;
  xsks: number[];
  mode: 'drv' | 'skb';
  timer?: ReturnType<typeof setInterval>;
  serve?: { close(): void };
}
const held = new Map<number, Held>();

function wrap(err: unknown, what: string): MpError {
  const e = err as Error & { code?: string };
  return new MpError((e.code ?? 'EIO') as 'EINVAL', `${DRIVER}: ${what}: ${e.message}`, { cause: err });
}

let ctlRegistered = false;
function registerCtl(): void {
  if (ctlRegistered) return;
  ipc.start();
  ipc.actionRegister(CTL_ACTION, (msg) => {
    const req = JSON.parse(Buffer.from(msg.param).toString('utf8')) as { port: number; op: 'start' | 'stop' | 'close' };
    control(req.port, req.op);
    return { name: CTL_ACTION, param: new Uint8Array(0) };
  });
  ctlRegistered = true;
}

export const netAfXdp: Driver = {
  name: DRIVER,
  keys: ['iface', 'start_queue', 'queue_count'],
  probe(ctx: PortContext, d: Devargs): void {
    checkKeys(d, this.keys);
    // The other processes ask the primary for the fds (queue-fds.ts): it must be the one holding them.
    if (eal().procType !== 'primary') throw new MpError('ENOTSUP', `${d.name}: probe net_af_xdp ports in the primary (the other processes get their sockets from it)`);
    const iface = d.args.get('iface');
    if (iface === undefined || iface === '') throw new MpError('EINVAL', `${d.name}: iface=<interface> is required`);
    if (Buffer.byteLength(iface) > 15 || /[/\s:]/.test(iface)) throw new MpError('EINVAL', `${d.name}: iface=${iface} is not an interface name (≤ 15 bytes, no '/', ':' or space)`);
    const startQ = intArg(d, 'start_queue', 0, 0, 1023);
    const count = intArg(d, 'queue_count', 1, 0, 16);
    if (count === 0) throw new MpError('EINVAL', `${d.name}: queue_count=0: a port needs at least one queue`);
    let ifindex: number;
    try {
      ifindex = xdp.xdpIfindex(iface);
    } catch (err) {
      throw new MpError('ENODEV', `${d.name}: no interface '${iface}' in this network namespace (pid ${process.pid})`, { cause: err });
    }
    let ch;
    try {
      ch = xdp.xdpChannels(iface);
    } catch (err) {
      throw wrap(err, `channels of '${iface}'`);
    }
    const channels = ch === undefined ? 1 : Math.max(ch.rx, ch.combined, 1);
    if (startQ + count > channels) {
      throw new MpError('EINVAL', `${d.name}: start_queue=${startQ} + queue_count=${count} is above the ${channels} rx channel(s) of '${iface}'`);
    }
    registerCtl();
    ctx.setMac(Uint8Array.of(0x02, 0x6d, 0x70, 0x78, 0x00, ctx.id));
    const w = ctx.words;
    w.fill(0, 0, 10);
    w[W_IFINDEX] = ifindex;
    w[W_START_Q] = startQ;
    w[W_QCOUNT] = count;
    held.set(ctx.id, { ctx, iface, prog: -1, map: -1, link: -1, xsks: [], mode: 'drv' });
  },
  open(ctx: PortContext): DriverPort {
    return new AfXdpPort(ctx);
  },
};

// ---- the prober's side ----------------------------------------------------------------------------

function control(port: number, op: 'start' | 'stop' | 'close'): void {
  const h = held.get(port);
  if (h === undefined) throw new MpError('ENODEV', `${DRIVER} port ${port} is not held by pid ${process.pid}`);
  if (op === 'start') startHeld(h);
  else if (op === 'stop') stopHeld(h, 'stopped');
  else closeHeld(h);
}

/** Make the sockets (again if the queue geometry changed), then follow the interface's link. */
function startHeld(h: Held): void {
  const { ctx } = h;
  const w = ctx.words;
  const nq = Math.max(ctx.nbRxq(), ctx.nbTxq());
  let rxd = 64;
  let txd = 64;
  for (let q = 0; q < ctx.nbRxq(); q++) rxd = Math.max(rxd, ctx.rxDesc(q));
  for (let q = 0; q < ctx.nbTxq(); q++) txd = Math.max(txd, ctx.txDesc(q));
  if (w[W_GEN] === 0 || w[W_NQ] !== nq || w[W_RXD] !== rxd || w[W_TXD] !== txd) {
    teardown(h);
    makeSockets(h, nq, rxd, txd);
  }
  if (h.timer === undefined) {
    h.timer = setInterval(() => followLink(h), LINK_POLL_MS);
    h.timer.unref();
  }
  followLink(h);
}

function makeSockets(h: Held, nq: number, rxd: number, txd: number): void {
  const { ctx } = h;
  const w = ctx.words;
  const gen = (w[W_GEN]! + 1) >>> 0 || 1;
  const slice = (rxd + txd) * FRAME;
  const ifindex = w[W_IFINDEX]!;
  const startQ = w[W_START_Q]!;
  let mz: Memzone;
  try {
    mz = memzone.reserve(mzName(ctx.id, gen), nq * slice, { align: 4096 });
  } catch (err) {
    throw wrap(err, `UMEM memzone of ${nq} × ${slice} bytes`);
  }
  h.mz = mz;
  try {
    h.map = xdp.xdpMapCreate(startQ + nq);
    h.prog = xdp.xdpProgLoad(h.map);
    for (let q = 0; q < nq; q++) {
      const fd = xdp.xdpSocket(mz.buffer, q * slice, slice, FRAME, rxd, txd, rxd, txd);
      h.xsks.push(fd);
      xdp.xdpBind(fd, ifindex, startQ + q);
      xdp.xdpMapSet(h.map, startQ + q, fd);
      // Lend every rx frame to the kernel now: frames arrive before anyone polls.
      const r = xdp.xdpRings(fd, rxd, txd, rxd, txd);
      const fill = new XskRing(r.fill, rxd, 2);
      const p = fill.producer();
      for (let i = 0; i < rxd; i++) {
        const at = fill.at(p + i);
        fill.u32[at] = i * FRAME;
        fill.u32[at + 1] = 0;
      }
      fill.publishProducer(p + rxd);
    }
    const l = xdp.xdpAttach(ifindex, h.prog);
    h.link = l.fd;
    h.mode = l.mode;
  } catch (err) {
    teardown(h);
    const e = err as { code?: string };
    if (e.code === 'EBUSY') throw new MpError('EBUSY', `${DRIVER}: '${h.iface}' has another XDP program attached (detach it: ip link set ${h.iface} xdp off)`, { cause: err });
    throw wrap(err, `AF_XDP sockets on '${h.iface}'`);
  }
  w[W_NQ] = nq;
  w[W_RXD] = rxd;
  w[W_TXD] = txd;
  w[W_SLICE] = slice;
  w[W_MODE] = h.mode === 'drv' ? 1 : 2;
  Atomics.store(w, W_GEN, gen); // last: a process that sees the generation finds every field set
  h.serve = serveQueueFds(DRIVER, ctx.id, () => [h.link, h.map, ...h.xsks]);
  log('debug', 'ETHDEV', `${DRIVER} port ${ctx.id}: ${nq} socket(s) on '${h.iface}' queues ${startQ}..${startQ + nq - 1}, XDP ${h.mode} mode`);
}

/** Up = the interface exists, is up and running. A change is announced to every process. */
function followLink(h: Held): void {
  const flags = xdp.xdpIfFlags(h.ctx.words[W_IFINDEX]!);
  const up = flags >= 0 && (flags & IFF_UP) !== 0 && (flags & IFF_RUNNING) !== 0;
  const w = h.ctx.words;
  if ((w[W_UP] === 1) === up) return;
  Atomics.store(w, W_UP, up ? 1 : 0);
  const reason = flags < 0 ? `interface '${h.iface}' is gone` : `interface '${h.iface}' is down`;
  h.ctx.setLink(up, up ? SPEED_MBPS : 0, up ? undefined : reason);
}

function stopHeld(h: Held, reason: string): void {
  if (h.timer !== undefined) clearInterval(h.timer);
  h.timer = undefined;
  const w = h.ctx.words;
  if (w[W_UP] === 1) {
    Atomics.store(w, W_UP, 0);
    h.ctx.setLink(false, 0, reason);
  }
}

/** Detach our program (only if still ours), close the sockets and the map, free the UMEM. */
function teardown(h: Held): void {
  h.serve?.close();
  h.serve = undefined;
  if (h.link >= 0) {
    // For every process: the others' duplicates of the link fd then hold a detached link.
    const r = xdp.xdpDetach(h.link);
    if (r !== 0) log('info', 'ETHDEV', `${DRIVER} port ${h.ctx.id}: XDP program not detached from '${h.iface}' (errno ${-r}); it goes when the last process holding the port exits`);
  }
  for (const fd of [h.link, h.prog, h.map, ...h.xsks]) if (fd >= 0) binding.close(fd);
  h.prog = h.map = h.link = -1;
  h.xsks = [];
  if (h.mz !== undefined) {
    try {
      memzone.free(h.mz.name);
    } catch {
      // freed already (group gone)
    }
  }
  h.mz = undefined;
  Atomics.store(h.ctx.words, W_GEN, 0);
}

function closeHeld(h: Held): void {
  stopHeld(h, 'closed');
  teardown(h);
  held.delete(h.ctx.id);
}

// ---- every process's side -------------------------------------------------------------------------

/** A process's view of the port's sockets of one generation: fds (its own copies unless prober) and UMEM. */
interface Sockets {
  gen: number;
  xsks: readonly number[];
  /** The bpf_link fd: held while this process holds the port, so the program outlives the prober. */
  link: number;
  own: boolean;
  umem: ArrayBuffer;
}

class AfXdpPort implements DriverPort {
  private cur: Sockets | undefined;
  private fetching: number = 0;
  private fetchRetryAt = 0;
  private readonly queues = new Set<XdpQueue>();

  constructor(readonly ctx: PortContext) {}

  configure(nbRxq: number, nbTxq: number): void {
    const count = this.ctx.words[W_QCOUNT]!;
    if (Math.max(nbRxq, nbTxq) > count) throw new MpError('EINVAL', `${DRIVER} port ${this.ctx.id} has queue_count=${count}: ${nbRxq} rx / ${nbTxq} tx queues asked`);
  }
  rxQueueSetup(): void {}
  txQueueSetup(): void {}

  /** Run a control operation in the prober: here, or asked of it over @mp/ipc (synchronously). */
  private ctl(op: 'start' | 'stop' | 'close'): void {
    const prober = this.ctx.prober();
    if (prober === process.pid) {
      control(this.ctx.id, op);
      return;
    }
    let r;
    try {
      r = ipc.requestSync({ name: CTL_ACTION, param: new Uint8Array(Buffer.from(JSON.stringify({ port: this.ctx.id, op }))) }, { to: prober, timeoutMs: 5000 });
    } catch (err) {
      // The prober is gone: nothing to stop (it watched the link); close what is left of the port.
      if (op === 'stop') return;
      if (op === 'close') {
        this.closeOrphan();
        return;
      }
      throw new MpError('ENODEV', `${DRIVER} port ${this.ctx.id}: its prober (pid ${prober}) is gone: ${(err as Error).message}`, { cause: err });
    }
    if (r.msgs.length === 0) {
      const e = r.errors[0];
      if (op === 'close' && e === undefined) {
        this.closeOrphan();
        return;
      }
      throw new MpError((e?.code as 'ENODEV') ?? 'ENODEV', `${DRIVER} port ${this.ctx.id}: its prober (pid ${prober}) could not ${op} it: ${e?.message ?? 'no answer'}`, e ? { cause: e } : {});
    }
  }

  /**
   * Close a port whose prober is gone: detach the program through this process's duplicate of the
   * link (if it has one: otherwise the kernel detaches it when the last holder exits) and free the UMEM.
   */
  private closeOrphan(): void {
    const gen = Atomics.load(this.ctx.words, W_GEN);
    if (this.cur !== undefined && this.cur.link >= 0) xdp.xdpDetach(this.cur.link);
    try {
      if (gen !== 0) memzone.free(mzName(this.ctx.id, gen));
    } catch {
      // freed already
    }
    Atomics.store(this.ctx.words, W_GEN, 0);
  }

  start(): void {
    this.ctl('start');
  }
  stop(): void {
    this.ctl('stop');
  }
  close(): void {
    try {
      this.ctl('close');
    } finally {
      this.detach();
    }
  }
  detach(): void {
    for (const q of this.queues) q.close();
    this.queues.clear();
    this.drop();
  }

  private drop(): void {
    if (this.cur?.own === true) for (const fd of [this.cur.link, ...this.cur.xsks]) binding.close(fd);
    this.cur = undefined;
  }

  /**
   * The sockets of generation `gen`, or undefined while they are asked for (the prober answers over
   * @mp/ipc; the burst that asked returns 0 and a later one finds them).
   */
  sockets(gen: number): Sockets | undefined {
    if (this.cur?.gen === gen) return this.cur;
    this.drop(); // sockets of another generation (or none: the port was closed) are not kept open
    if (gen === 0) return undefined;
    const mz = memzone.lookup(mzName(this.ctx.id, gen));
    if (mz === undefined) return undefined;
    const h = held.get(this.ctx.id);
    if (h !== undefined) {
      this.cur = { gen, xsks: h.xsks, link: h.link, own: false, umem: mz.buffer };
      return this.cur;
    }
    if (this.fetching === gen || Date.now() < this.fetchRetryAt) return undefined;
    this.fetching = gen;
    requestQueueFds(DRIVER, this.ctx.id).then(
      (fds) => {
        this.fetching = 0;
        const [link, map, ...xsks] = fds;
        if (map !== undefined) binding.close(map);
        if (Atomics.load(this.ctx.words, W_GEN) !== gen || link === undefined || this.cur?.gen === gen) {
          for (const fd of fds) if (fd !== map) binding.close(fd);
          return;
        }
        this.drop();
        this.cur = { gen, xsks, link, own: true, umem: mz.buffer };
      },
      (err: unknown) => {
        this.fetching = 0;
        this.fetchRetryAt = Date.now() + FETCH_RETRY_MS;
        log('info', 'ETHDEV', `${DRIVER} port ${this.ctx.id}: no queue fds from the primary: ${(err as Error).message}`);
      },
    );
    return undefined;
  }

  rxQueue(q: number): BurstQueue {
    const s = new RxQueue(this, q, this.ctx.rxPool(q));
    this.queues.add(s);
    return s;
  }
  txQueue(q: number): BurstQueue {
    const s = new TxQueue(this, q);
    this.queues.add(s);
    return s;
  }

  /**
   * The socket generation, the XDP mode, which of this process's queues have their rings mapped here,
   * and the kernel's drop counters of each socket (XDP_STATISTICS), when this process holds the fds.
   */
  xstats(): Array<{ name: string; value: number }> {
    const out = [
      { name: 'af_xdp_socket_generation', value: this.ctx.words[W_GEN]! },
      { name: 'af_xdp_mode_native', value: this.ctx.words[W_MODE] === 1 ? 1 : 0 },
    ];
    for (const q of this.queues) out.push({ name: `af_xdp_${q.dir}_q${q.index}_mapped`, value: q.mapped ? 1 : 0 });
    const s = this.cur?.gen === Atomics.load(this.ctx.words, W_GEN) ? this.cur : this.sockets(Atomics.load(this.ctx.words, W_GEN));
    s?.xsks.forEach((fd, q) => {
      const st = xdp.xdpStats(fd);
      out.push(
        { name: `af_xdp_q${q}_rx_dropped`, value: st.rxDropped },
        { name: `af_xdp_q${q}_rx_ring_full`, value: st.rxRingFull },
        { name: `af_xdp_q${q}_rx_fill_ring_empty`, value: st.rxFillEmpty },
        { name: `af_xdp_q${q}_rx_invalid`, value: st.rxInvalid },
        { name: `af_xdp_q${q}_tx_invalid`, value: st.txInvalid },
      );
    });
    return out;
  }
}

/** One process's queue: the rings of socket q of the current generation, mapped here. */
abstract class XdpQueue implements BurstQueue {
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

  constructor(protected readonly port: AfXdpPort, readonly index: number, readonly dir: 'rx' | 'tx') {
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

class RxQueue extends XdpQueue {
  private rx!: XskRing;
  private fill!: XskRing;
  private mb = new Uint32Array(64);
  private src = new Uint32Array(64);
  private dst = new Uint32Array(64);
  private lens = new Uint32Array(64);
  private addrs = new Uint32Array(64);

  constructor(port: AfXdpPort, index: number, private readonly pool: Mempool) {
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

class TxQueue extends XdpQueue {
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

  constructor(port: AfXdpPort, index: number) {
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
    const len = Mbuf.pktLen(h);
    let at = 0;
    for (let s = h; s !== 0 && at < len; s = Mbuf.next(s)) {
      const b = Mbuf.bytes(s);
      const o = Mbuf.dataOffset(s);
      const l = Math.min(Mbuf.dataLen(s), len - at);
      this.lin.set(b.subarray(o, o + l), at);
      at += l;
    }
    return at;
  }
}

/**
 * Why net_af_xdp cannot run here (no root, no bpf(), a kernel without AF_XDP sockets: an XSKMAP
 * exists only with CONFIG_XDP_SOCKETS), or undefined when it can. For tests and benches.
 */
export function afXdpUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root';
  try {
    binding.close(xdp.xdpMapCreate(1));
  } catch (err) {
    return `no AF_XDP here: ${(err as Error).message}`;
  }
  return undefined;
}
