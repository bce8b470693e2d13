/**
 * net_tap: a port that is a kernel TAP interface (DPDK's net_tap): IFF_TAP | IFF_NO_PI |
 * IFF_MULTI_QUEUE, one descriptor per queue pair (the kernel spreads its transmissions over the queues
 * by flow). The interface is made by the probe when it does not exist (and goes with the last
 * descriptor), set up at start and down at stop.
 *
 * The prober opens the queue descriptors and serves them over @mp/ipc (queue-fds.ts:
 * `mp_net_tap_fds`, chunks of 8, so any number of queues reach a secondary — DPDK's net_tap stops at
 * 8); every process reads and writes its own queues' descriptors. A burst is one native call: read()
 * frames into fresh mbufs, write() mbuf data, until the burst is done or the queue is empty / full.
 *
 * Devargs (DPDK's keys): `net_tap<N>[,iface=mptap<N>][,queues=1][,mac=aa:bb:cc:dd:ee:ff]`.
 *
 * Driver words (PortContext.words):
 * ```
 * | word | field                                         | written by            |
 * |    0 | 1 while the interface is up and running       | prober (link watch)   |
 * |    1 | ifindex                                       | prober, at probe      |
 * |    2 | queues (descriptors)                          | prober, at probe      |
 * |    3 | descriptor generation (+1 at every probe)     | prober                |
 * |  4.. | the interface name (16 bytes, NUL-terminated) | prober, at probe      |
 * ```
 */
import { execFileSync } from 'node:child_process';
import { closeSync } from 'node:fs';
import { MpError } from '@mp/memory';
import { log } from '@mp/memory/internal';
import { Mbuf } from '@mp/mempool';
import type { Mempool } from '@mp/mempool';
import { binding, netBinding } from '../binding.js';
import { checkKeys, intArg, macArg } from '../ethdev/devargs.js';
import type { Devargs } from '../ethdev/devargs.js';
import { MAX_QUEUES } from '../ethdev/layout.js';
import type { BurstQueue, Driver, DriverPort, PortContext } from './driver.js';
import { watchLink } from './link-watch.js';
import { RxMbufs, TxRuns } from './mbuf-io.js';
import { requestQueueFdsSync, serveQueueFds } from './queue-fds.js';

export const TAP = 'net_tap';
const W_UP = 0;
const W_IFINDEX = 1;
const W_QUEUES = 2;
const W_GEN = 3;
const W_NAME = 4;
const NAME_BYTES = 16;
const RETRY_MS = 100;

const held = new Map<number, { fds: number[]; iface: string; serve: { close(): void }; stopWatch: () => void }>();

function ifaceOf(ctx: PortContext): string {
  const b = ctx.bytes.subarray(W_NAME * 4, W_NAME * 4 + NAME_BYTES);
  const end = b.indexOf(0);
  return Buffer.from(b.subarray(0, end < 0 ? NAME_BYTES : end)).toString('utf8');
}

export const netTap: Driver = {
  name: TAP,
  keys: ['iface', 'queues', 'mac'],
  probe(ctx: PortContext, d: Devargs): void {
    checkKeys(d, this.keys);
    const iface = d.args.get('iface') ?? `mptap${d.name.slice(TAP.length)}`;
    if (!/^[A-Za-z0-9_.-]{1,15}$/.test(iface)) throw new MpError('EINVAL', `${d.name}: iface=${iface} is not an interface name (1..15 of A-Z a-z 0-9 _ . -)`);
    const queues = intArg(d, 'queues', 1, 0, 0xffff);
    if (queues < 1 || queues > MAX_QUEUES) throw new MpError('EINVAL', `${d.name}: queues=${queues} must be in 1..${MAX_QUEUES}`);
    const mac = macArg(d, 'mac');
    let fds: number[];
    try {
      fds = netBinding.tapOpen(iface, queues);
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === 'ENOENT' || code === 'ENODEV') throw new MpError('ENODEV', `${d.name}: no TAP device (/dev/net/tun): ${(err as Error).message}`, { cause: err });
      if (code === 'EPERM' || code === 'EACCES') throw new MpError('EPERM', `${d.name}: cannot attach to TAP ${iface}: ${(err as Error).message}`, { cause: err });
      // EINVAL / EBUSY: an interface of that name that is no multi-queue TAP, or has fewer free queues.
      throw new MpError('EINVAL', `${d.name}: cannot attach ${queues} queue(s) to ${iface} (not a multi-queue TAP, or it has fewer free queues): ${(err as Error).message}`, { cause: err });
    }
    let ifindex: number;
    try {
      if (mac !== undefined) setMac(iface, mac);
      const st = netBinding.ifState(iface, -1);
      ifindex = st.ifindex;
      ctx.setMac(Uint8Array.from(st.mac));
    } catch (err) {
      for (const fd of fds) binding.close(fd);
      throw new MpError('ENODEV', `${d.name}: TAP ${iface}: ${(err as Error).message}`, { cause: err });
    }
    const w = ctx.words;
    w[W_IFINDEX] = ifindex;
    w[W_QUEUES] = queues;
    w[W_GEN] = (w[W_GEN]! + 1) >>> 0;
    ctx.bytes.fill(0, W_NAME * 4, W_NAME * 4 + NAME_BYTES);
    ctx.bytes.set(Buffer.from(iface), W_NAME * 4);
    const serve = serveQueueFds(TAP, ctx.id, () => fds);
    const entry = { fds, iface, serve, stopWatch: () => {} };
    held.set(ctx.id, entry);
    entry.stopWatch = watchLink(ctx, W_UP, iface, ifindex, () => -1, () => release(ctx.id));
    log('debug', 'ETHDEV', `${d.name}: TAP ${iface} (ifindex ${ifindex}) with ${queues} queue(s)`);
  },
  open(ctx: PortContext): DriverPort {
    return new TapPort(ctx);
  },
};

/** A MAC set by devargs: not through the tap fd (TUNSETIFF has no MAC); the interface keeps its own otherwise. */
function setMac(iface: string, mac: Uint8Array): void {
  // SIOCSIFHWADDR through ip(8): probes are rare, and this keeps the native part to what bursts need.
  execFileSync('ip', ['link', 'set', 'dev', iface, 'address', [...mac].map((b) => b.toString(16).padStart(2, '0')).join(':')], { stdio: 'ignore' });
}

function release(portId: number): void {
  const h = held.get(portId);
  if (h === undefined) return;
  held.delete(portId);
  h.stopWatch();
  h.serve.close();
  for (const fd of h.fds) binding.close(fd);
}

class TapPort implements DriverPort {
  private fds: number[] | undefined;
  private own = false;
  private gen = -1;
  private retryAt = 0;

  constructor(private readonly ctx: PortContext) {}

  configure(nbRxq: number, nbTxq: number): void {
    const qs = this.ctx.words[W_QUEUES]!;
    if (nbRxq > qs || nbTxq > qs) throw new MpError('EINVAL', `port ${this.ctx.id} ('${this.ctx.name}') has queues=${qs}: ${nbRxq} rx / ${nbTxq} tx queues are more than it has`);
  }
  rxQueueSetup(): void {}
  txQueueSetup(): void {}

  start(): void {
    // As DPDK's tap: the interface goes up with the port (the link watch announces it).
    try {
      netBinding.ifSetUp(ifaceOf(this.ctx), true, -1);
    } catch (err) {
      throw new MpError('ENODEV', `port ${this.ctx.id}: TAP ${ifaceOf(this.ctx)}: ${(err as Error).message}`, { cause: err });
    }
  }
  stop(): void {
    try {
      netBinding.ifSetUp(ifaceOf(this.ctx), false, -1);
    } catch {
      // gone already (or another network namespace): the link watch reports it
    }
  }
  close(): void {
    if (this.ctx.prober() === process.pid) release(this.ctx.id);
    this.detach();
  }
  detach(): void {
    if (this.own && this.fds !== undefined) {
      for (const fd of this.fds) {
        try {
          closeSync(fd);
        } catch {
          // closed already
        }
      }
    }
    this.fds = undefined;
  }

  /** Queue q's descriptor in this process (fetched from the prober at first use), or -1 while unavailable. */
  fd(q: number): number {
    const gen = this.ctx.words[W_GEN]!;
    if (gen !== this.gen) {
      this.detach();
      this.gen = gen;
    }
    if (this.fds === undefined) {
      const prober = this.ctx.prober();
      if (prober === process.pid) {
        const h = held.get(this.ctx.id);
        if (h === undefined) return -1;
        this.fds = h.fds;
        this.own = false;
      } else {
        if (Date.now() < this.retryAt) return -1;
        try {
          this.fds = requestQueueFdsSync(TAP, this.ctx.id, prober);
          this.own = true;
        } catch (err) {
          log('warning', 'ETHDEV', `${TAP} port ${this.ctx.id}: no queue descriptors from the prober (pid ${prober}): ${(err as Error).message}`);
          this.retryAt = Date.now() + RETRY_MS;
          return -1;
        }
      }
    }
    return this.fds[q] ?? -1;
  }

  rxQueue(q: number): BurstQueue {
    return new TapRx(this, this.ctx, q, this.ctx.rxPool(q));
  }
  txQueue(q: number): BurstQueue {
    return new TapTx(this, this.ctx, q);
  }
}

class TapRx implements BurstQueue {
  private fd = -1;
  private readonly io: RxMbufs;
  private readonly f64: Float64Array;
  private readonly at: number;
  private readonly res = new Float64Array(2);

  constructor(private readonly port: TapPort, private readonly ctx: PortContext, private readonly q: number, pool: Mempool) {
    this.io = new RxMbufs(pool);
    const c = ctx.counters('rx', q);
    this.f64 = c.f64;
    this.at = c.at;
  }

  burst(handles: Uint32Array, n: number): number {
    if (this.fd < 0) this.fd = this.port.fd(this.q);
    if (this.fd < 0 || n === 0 || this.ctx.words[W_UP] !== 1) return 0;
    const k = this.io.alloc(n);
    if (k === 0) {
      this.f64[this.at + 3]! += 1;
      return 0;
    }
    let got = netBinding.tapRx(this.fd, this.io.bytes, this.io.offs, this.io.room, this.io.lens, k);
    if (got < 0) got = 0; // EIO / EBADFD: the interface went down; the link watch says so
    const out = this.io.finish(handles, k, got, this.ctx.id, false, this.res);
    if (this.res[0]! > 0) this.f64[this.at + 1]! += this.res[0]!;
    if (this.res[1]! > 0) this.f64[this.at + 2]! += this.res[1]!;
    return out;
  }
}

class TapTx implements BurstQueue {
  private fd = -1;
  private readonly runs = new TxRuns();
  private readonly f64: Float64Array;
  private readonly at: number;

  constructor(private readonly port: TapPort, private readonly ctx: PortContext, private readonly q: number) {
    const c = ctx.counters('tx', q);
    this.f64 = c.f64;
    this.at = c.at;
  }

  burst(handles: Uint32Array, n: number): number {
    if (this.fd < 0) this.fd = this.port.fd(this.q);
    if (this.fd < 0 || this.ctx.words[W_UP] !== 1) return 0;
    let sent = 0;
    let bytes = 0;
    while (sent < n) {
      const j = this.runs.next(handles, sent, n);
      const k = netBinding.tapTx(this.fd, this.runs.src, this.runs.offs, this.runs.lens, j);
      if (k <= 0) break;
      for (let i = 0; i < k; i++) bytes += this.runs.lens[i]!;
      sent += k;
      if (k < j) break;
    }
    if (sent > 0) {
      Mbuf.freeBulk(handles, sent);
      this.f64[this.at + 1]! += bytes;
    }
    return sent;
  }
}
