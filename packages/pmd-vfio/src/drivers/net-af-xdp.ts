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
 * Driver words: ../af_xdp/words.ts. Kernel objects: ../af_xdp/prober.ts. Queues: ../af_xdp/queues.ts.
 */
import { eal } from '@mp/eal';
import * as ipc from '@mp/ipc';
import { MpError, memzone } from '@mp/memory';
import { log } from '@mp/memory/internal';
import { binding, xdp } from '../binding.js';
import { checkKeys, intArg } from '../ethdev/devargs.js';
import type { Devargs } from '../ethdev/devargs.js';
import { CTL_ACTION, control, held, registerCtl, wrap } from '../af_xdp/prober.js';
import { RxQueue, TxQueue } from '../af_xdp/queues.js';
import type { QueueHost, Sockets, XdpQueue } from '../af_xdp/queues.js';
import { DRIVER, W_COUNT, W_GEN, W_IFINDEX, W_MODE, W_QCOUNT, W_START_Q, mzName } from '../af_xdp/words.js';
import type { BurstQueue, Driver, DriverPort, PortContext } from './driver.js';
import { requestQueueFds } from './queue-fds.js';

/** How long a process waits before it asks the primary for the fds again after a failure, ms. */
const FETCH_RETRY_MS = 1000;

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
    w.fill(0, 0, W_COUNT);
    w[W_IFINDEX] = ifindex;
    w[W_START_Q] = startQ;
    w[W_QCOUNT] = count;
    held.set(ctx.id, { ctx, iface, prog: -1, map: -1, link: -1, xsks: [], mode: 'drv' });
  },
  open(ctx: PortContext): DriverPort {
    return new AfXdpPort(ctx);
  },
};


// ---- every process's side -------------------------------------------------------------------------


class AfXdpPort implements DriverPort, QueueHost {
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
    const mz = memzone.find(mzName(this.ctx.id, gen));
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
