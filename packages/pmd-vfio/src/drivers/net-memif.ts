/**
 * net_memif: a port speaking memif 2.0 (DPDK's net_memif, libmemif, VPP) in either role.
 *
 * The process that probed the port holds the control channel (the MemifInterface: socket, handshake,
 * reconnects). Every process polls its own queues with the rings mapped in its own address space, as
 * DPDK's secondaries do after fetching the regions over rte_mp: a queue's first burst after a
 * connection change asks the prober synchronously (`mp_memif_regions` over @mp/ipc, the region memfds
 * and the ring's eventfd as SCM_RIGHTS) and maps them; no request per burst. The prober's own queues take the same
 * path without the request. Copy mode, as DPDK's: rx copies frames into mbufs of the queue's pool, tx
 * copies mbuf data into the ring's buffers and frees the mbufs sent.
 *
 * Devargs (DPDK's keys): `net_memif<N>[,role=server|client][,socket=/path][,socket-abstract=yes|no]
 * [,id=0][,secret=…][,bsize=2048][,rsize=10][,mac=aa:bb:cc:dd:ee:ff][,zero-copy=no]`. Defaults as
 * DPDK 22.11 except `socket-abstract`, which is `no` here (a file in the file system); socket defaults
 * to /run/memif.sock.
 *
 * Driver words (PortContext.words), written by the prober:
 * ```
 * | word | field                                                                                |
 * |    0 | connection number: +1 at every up and every down (odd = up); a queue remaps on change |
 * |    1 | 1 while the memif is connected                                                       |
 * ```
 */
import * as ipc from '@mp/ipc';
import { MpError } from '@mp/memory';
import { log } from '@mp/memory/internal';
import { pmdState } from '../state.js';
import { MBUF_HDR_SIZE, Mbuf, mempoolLayout, poolFor } from '@mp/mempool';
import type { Mempool } from '@mp/mempool';
import { binding } from '../binding.js';
import { checkKeys, intArg, macArg } from '../ethdev/devargs.js';
import type { Devargs } from '../ethdev/devargs.js';
import { MemifInterface } from '../memif/interface.js';
import type { MemifOptions } from '../memif/interface.js';
import type { RingShare } from '../memif/control.js';
import { MemifQueue } from '../memif/queue.js';
import type { BurstQueue, Driver, DriverPort, PortContext } from './driver.js';

const { W_BUF, W_DATA_LEN, W_DATA_OFF, W_NB_SEGS, W_PKT_LEN, W_PORT } = mempoolLayout;

/** Offset of a direct mbuf's first data byte within its object (header, private area, headroom). */
const inObj = (p: Mempool, w: Uint32Array, b: number): number => MBUF_HDR_SIZE + p.mbufPriv + w[b + W_DATA_OFF]!;

const W_CONN = 0;
const W_UP = 1;
/** The link speed memif ports report (DPDK's memif reports none; ethdev needs a number). */
const SPEED_MBPS = 10_000;
/** How often a client port retries its connection, ms. */
const RECONNECT_MS = 100;
/** How long a secondary's burst waits for the prober's answer, and then before it asks again, ms. */
const FETCH_TIMEOUT_MS = 2000;
const RETRY_MS = 100;

/** @mp/ipc actions the prober answers. */
export const REGIONS_ACTION = 'mp_memif_regions';
export const CTL_ACTION = 'mp_memif_ctl';

/** The interfaces this process holds, by port id (it probed those ports). */
const held = pmdState.memifHeld as Map<number, { itf: MemifInterface; ctx: PortContext }>;

function memifOptions(d: Devargs, name: string): MemifOptions {
  const role = d.args.get('role') ?? 'server';
  if (role !== 'server' && role !== 'client') throw new MpError('EINVAL', `${d.name}: role=${role} must be server or client`);
  const yesNo = (k: string, dflt: boolean): boolean => {
    const v = d.args.get(k);
    if (v === undefined) return dflt;
    if (v === 'yes') return true;
    if (v === 'no') return false;
    throw new MpError('EINVAL', `${d.name}: ${k}=${v} must be yes or no`);
  };
  if (yesNo('zero-copy', false)) throw new MpError('EINVAL', `${d.name}: zero-copy=yes is not supported (copy mode only)`);
  const secret = d.args.get('secret');
  return {
    role,
    socket: d.args.get('socket') ?? '/run/memif.sock',
    socketAbstract: yesNo('socket-abstract', false),
    id: intArg(d, 'id', 0, 0, 0xffffffff),
    ...(secret !== undefined ? { secret } : {}),
    bufferSize: intArg(d, 'bsize', 2048, 64, 0xffff),
    log2RingSize: intArg(d, 'rsize', 10, 1, 14),
    name: 'mp-pmd-vfio',
    ifName: name,
    reconnectMs: RECONNECT_MS,
  };
}

const once = pmdState.once;
function registerActions(): void {
  if (once.memifActions) return;
  ipc.start();
  ipc.actionRegister(REGIONS_ACTION, (msg) => {
    const req = JSON.parse(Buffer.from(msg.param).toString('utf8')) as { port: number; dir: 'rx' | 'tx'; q: number };
    const h = held.get(req.port);
    if (h === undefined) throw new MpError('ENODEV', `net_memif port ${req.port} is not held by pid ${process.pid}`);
    const s = h.itf.share(req.dir, req.q);
    if (s === undefined) throw new MpError('ENOTCONN', `net_memif port ${req.port}: ${req.dir} ring ${req.q} is not connected`);
    return { name: REGIONS_ACTION, param: new Uint8Array(Buffer.from(JSON.stringify(s.geo))), fds: s.fds };
  });
  ipc.actionRegister(CTL_ACTION, (msg) => {
    const req = JSON.parse(Buffer.from(msg.param).toString('utf8')) as { port: number; op: 'start' | 'stop' | 'close' };
    const h = held.get(req.port);
    if (h === undefined) return;
    control(req.port, req.op);
  });
  once.memifActions = true;
}

/** Start, stop or close a held interface (in the prober). */
function control(port: number, op: 'start' | 'stop' | 'close'): void {
  const h = held.get(port);
  if (h === undefined) return;
  if (op === 'start') {
    if (!h.itf.started) h.itf.setQueues(Math.max(1, h.ctx.nbRxq()), Math.max(1, h.ctx.nbTxq()));
    h.itf.start();
  } else if (op === 'stop') {
    h.itf.stop();
  } else {
    h.itf.close();
    held.delete(port);
  }
}

export const netMemif: Driver = {
  name: 'net_memif',
  keys: ['role', 'socket', 'socket-abstract', 'id', 'secret', 'bsize', 'rsize', 'mac', 'zero-copy'],
  probe(ctx: PortContext, d: Devargs): void {
    checkKeys(d, this.keys);
    const opts = memifOptions(d, d.name);
    const mac = macArg(d, 'mac') ?? Uint8Array.of(0x02, 0x6d, 0x70, 0x6d, 0x00, ctx.id);
    registerActions();
    // A server binds its socket now: a path that cannot be bound fails the probe.
    const itf = MemifInterface.create(opts);
    ctx.setMac(mac);
    ctx.words[W_CONN] = 0;
    ctx.words[W_UP] = 0;
    held.set(ctx.id, { itf, ctx });
    itf.on('up', () => {
      ctx.words[W_UP] = 1;
      Atomics.store(ctx.words, W_CONN, itf.conn);
      ctx.setLink(true, SPEED_MBPS);
    });
    itf.on('down', (info) => {
      ctx.words[W_UP] = 0;
      Atomics.store(ctx.words, W_CONN, itf.conn);
      ctx.setLink(false, 0, info.reason);
    });
  },
  open(ctx: PortContext): DriverPort {
    return new MemifPort(ctx);
  },
};

class MemifPort implements DriverPort {
  private readonly queues = new Set<SharedQueue>();
  constructor(private readonly ctx: PortContext) {}

  configure(): void {}
  rxQueueSetup(): void {}
  txQueueSetup(): void {}

  /** Run a control operation in the prober: here, or asked of it over @mp/ipc. */
  private ctl(op: 'start' | 'stop' | 'close'): void {
    const prober = this.ctx.prober();
    if (prober === process.pid) {
      control(this.ctx.id, op);
      return;
    }
    try {
      ipc.sendMsg({ name: CTL_ACTION, param: new Uint8Array(Buffer.from(JSON.stringify({ port: this.ctx.id, op }))) }, { to: prober });
    } catch (err) {
      throw new MpError('ENODEV', `net_memif port ${this.ctx.id}: its prober (pid ${prober}) holds the control channel and cannot be reached: ${(err as Error).message}`, { cause: err });
    }
  }

  start(): void {
    this.ctl('start');
  }
  stop(): void {
    this.ctl('stop');
  }
  close(): void {
    this.ctl('close');
    this.detach();
  }
  detach(): void {
    for (const q of this.queues) q.close();
    this.queues.clear();
  }

  rxQueue(q: number): BurstQueue {
    const s = new RxQueue(this.ctx, q, this.ctx.rxPool(q));
    this.queues.add(s);
    return s;
  }

  txQueue(q: number): BurstQueue {
    const s = new TxQueue(this.ctx, q);
    this.queues.add(s);
    return s;
  }

  xstats(): Array<{ name: string; value: number }> {
    return [{ name: 'memif_connection', value: this.ctx.words[W_CONN]! }];
  }
}

/** One process's queue over a ring of the port's current connection, remapped when that changes. */
abstract class SharedQueue implements BurstQueue {
  protected q: MemifQueue | undefined;
  /** The connection number the mapping is for (or being fetched for). */
  private conn = 0;
  private retryAt = 0;
  private closed = false;
  protected readonly f64: Float64Array;
  protected readonly at: number;

  constructor(protected readonly ctx: PortContext, protected readonly dir: 'rx' | 'tx', protected readonly index: number) {
    const c = ctx.counters(dir, index);
    this.f64 = c.f64;
    this.at = c.at;
  }

  /** The queue for the current connection, or undefined while down or while its rings are fetched. */
  protected ring(): MemifQueue | undefined {
    const conn = Atomics.load(this.ctx.words, W_CONN);
    if (conn !== this.conn) this.remap(conn);
    return this.q;
  }

  /**
   * A new connection (or none): drop the old mapping, map the new ring. A secondary asks the prober
   * synchronously, as DPDK's secondaries do (rte_mp_request_sync), so the burst that sees the change
   * already runs on the new ring. A failure that may pass (the prober slow to answer) is retried
   * RETRY_MS later; a connection without this ring (the peer granted fewer) is not asked again.
   */
  private remap(conn: number): void {
    if (this.retryAt !== 0 && Date.now() < this.retryAt) return;
    this.retryAt = 0;
    this.drop();
    this.conn = conn;
    if ((conn & 1) === 0 || this.ctx.words[W_UP] !== 1 || this.closed) return;
    let got: { geo: RingShare; fds: number[]; own: boolean } | undefined;
    try {
      got = this.fetch();
    } catch (err) {
      const code = (err as MpError).code;
      log('info', 'ETHDEV', `net_memif port ${this.ctx.id} ${this.dir} queue ${this.index}: no ring from the prober (pid ${this.ctx.prober()}): ${(err as Error).message}`);
      if (code !== 'ENOTCONN') this.retryLater();
      return;
    }
    if (got === undefined) return; // this connection has no such ring
    if (got.geo.conn !== conn) {
      // The connection moved on meanwhile: ask again at the next burst.
      if (got.own) closeFds(got.fds);
      this.conn = -1;
      return;
    }
    try {
      this.q = MemifQueue.openShared(got.geo, got.fds, got.own);
    } catch (err) {
      // A burst never throws for this (ENOMEM, a geometry that does not fit): log, ask again later.
      log('warning', 'ETHDEV', `net_memif port ${this.ctx.id} ${this.dir} queue ${this.index}: cannot map the ring: ${(err as Error).message}`);
      if (got.own) closeFds(got.fds);
      this.retryLater();
    }
  }

  private retryLater(): void {
    this.conn = -1;
    this.retryAt = Date.now() + RETRY_MS;
  }

  private fetch(): { geo: RingShare; fds: number[]; own: boolean } | undefined {
    const prober = this.ctx.prober();
    if (prober === process.pid) {
      const s = held.get(this.ctx.id)?.itf.share(this.dir, this.index);
      return s === undefined ? undefined : { geo: s.geo, fds: s.fds, own: false };
    }
    const req = { port: this.ctx.id, dir: this.dir, q: this.index };
    const r = ipc.requestSync({ name: REGIONS_ACTION, param: new Uint8Array(Buffer.from(JSON.stringify(req))) }, { to: prober, timeoutMs: FETCH_TIMEOUT_MS });
    const m = r.msgs[0];
    if (m === undefined) throw r.errors[0] ?? new MpError('ETIMEDOUT', `no answer in ${FETCH_TIMEOUT_MS} ms`);
    return { geo: JSON.parse(Buffer.from(m.param).toString('utf8')) as RingShare, fds: m.fds, own: true };
  }

  private drop(): void {
    this.q?.close();
    this.q = undefined;
  }

  close(): void {
    this.closed = true;
    this.drop();
  }

  abstract burst(handles: Uint32Array, n: number): number;
}

function closeFds(fds: number[]): void {
  for (const fd of fds) binding.close(fd);
}

class RxQueue extends SharedQueue {
  private mb = new Uint32Array(64);
  private offsets = new Uint32Array(64);
  private lens = new Uint32Array(64);
  private spare = new Uint32Array(64);
  private readonly bytes: Uint8Array;

  constructor(ctx: PortContext, index: number, private readonly pool: Mempool) {
    super(ctx, 'rx', index);
    this.bytes = pool.bytes;
  }

  burst(handles: Uint32Array, n: number): number {
    const q = this.ring();
    if (q === undefined || n === 0) return 0;
    if (n > this.mb.length) {
      this.mb = new Uint32Array(n);
      this.offsets = new Uint32Array(n);
      this.lens = new Uint32Array(n);
      this.spare = new Uint32Array(n);
    }
    const pool = this.pool;
    const mb = this.mb;
    let k = n;
    if (Mbuf.allocBulk(pool, mb, k) === 0) {
      k = Math.min(n, pool.availCount);
      if (k === 0 || Mbuf.allocBulk(pool, mb, k) === 0) {
        this.f64[this.at + 3]! += 1;
        return 0;
      }
    }
    // Fresh mbufs of one pool: the same data offset within each object, the same room.
    const offsets = this.offsets;
    const h0 = mb[0]!;
    const inObj = Mbuf.dataOffset(h0) - pool.offsetOf(h0);
    for (let i = 0; i < k; i++) offsets[i] = pool.offsetOf(mb[i]!) + inObj;
    const room = Mbuf.tailroom(h0);
    const got = q.rxBurst(this.bytes, offsets, room, this.lens, k);
    let out = 0;
    let bytes = 0;
    let sp = 0;
    const spare = this.spare;
    const port = this.ctx.id;
    const w = pool.words;
    for (let i = 0; i < got; i++) {
      const h = mb[i]!;
      const len = this.lens[i]!;
      if (len > room) {
        // Longer than an mbuf's room (DPDK would chain mbufs): dropped and counted as an error.
        this.f64[this.at + 2]! += 1;
        spare[sp++] = h;
        continue;
      }
      const b = pool.wordOf(h);
      w[b + W_DATA_LEN] = len;
      w[b + W_PKT_LEN] = len;
      w[b + W_PORT] = port;
      handles[out++] = h;
      bytes += len;
    }
    for (let i = got; i < k; i++) spare[sp++] = mb[i]!;
    if (sp > 0) Mbuf.freeBulk(spare, sp);
    if (bytes > 0) this.f64[this.at + 1]! += bytes;
    return out;
  }
}

class TxQueue extends SharedQueue {
  private offsets = new Uint32Array(64);
  private lens = new Uint32Array(64);
  private lin = new Uint8Array(0);
  private readonly one = new Uint32Array(1);
  private readonly oneLen = new Uint32Array(1);

  constructor(ctx: PortContext, index: number) {
    super(ctx, 'tx', index);
  }

  burst(handles: Uint32Array, n: number): number {
    const q = this.ring();
    if (q === undefined) return 0;
    if (n > this.offsets.length) {
      this.offsets = new Uint32Array(n);
      this.lens = new Uint32Array(n);
    }
    const offsets = this.offsets;
    const lens = this.lens;
    let sent = 0;
    let bytes = 0;
    while (sent < n) {
      // A run of single-segment mbufs whose data lie in the same bytes (one pool): one ring burst.
      const h0 = handles[sent]!;
      if (Mbuf.nbSegs(h0) !== 1) {
        const len = this.linearize(h0);
        this.oneLen[0] = len;
        if (q.txBurst(this.lin, this.one, this.oneLen, 1) === 0) break;
        bytes += len;
        sent++;
        continue;
      }
      const src = Mbuf.bytes(h0);
      const p0 = poolFor(h0);
      let j = 0;
      for (let i = sent; i < n; i++) {
        const h = handles[i]!;
        const p = poolFor(h);
        const w = p.words;
        const b = p.wordOf(h);
        // Direct, single-segment mbufs of the first one's pool (indirect ones: another pool's bytes).
        if (p !== p0 || w[b + W_NB_SEGS] !== 1 || w[b + W_BUF] !== h) {
          if (j === 0 && Mbuf.nbSegs(h) === 1) {
            offsets[j] = Mbuf.dataOffset(h);
            lens[j++] = Mbuf.dataLen(h);
            i = n; // one indirect mbuf alone: its bytes are src
            continue;
          }
          break;
        }
        offsets[j] = p.offsetOf(h) + inObj(p, w, b);
        lens[j++] = w[b + W_DATA_LEN]!;
      }
      const k = q.txBurst(src, offsets, lens, j);
      for (let i = 0; i < k; i++) bytes += lens[i]!;
      sent += k;
      if (k < j) break;
    }
    // Copy mode: the frames are in the ring; their mbufs go back to their pools (as DPDK's memif tx).
    if (sent > 0) {
      Mbuf.freeBulk(handles, sent);
      this.f64[this.at + 1]! += bytes;
    }
    return sent;
  }

  /** A chained packet's bytes, one after the other, in `lin` (offset 0). */
  private linearize(h: number): number {
    const len = Mbuf.pktLen(h);
    if (this.lin.length < len) this.lin = new Uint8Array(Math.max(len, 2048));
    return Mbuf.read(h, this.lin);
  }
}

