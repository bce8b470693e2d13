/**
 * One memif control connection (a SOCK_SEQPACKET socket) and its handshake, in either role:
 *
 * ```
 * server                                   client
 *   accept ── HELLO ──────────────────────▶  pick rings/sizes, create region 0 (memfd), eventfds
 *          ◀──────────────────────── INIT    (version, id, mode, secret, name)
 *   ACK ─────────────────────────────────▶
 *          ◀────────── ADD_REGION + memfd    one per region
 *   ACK ─────────────────────────────────▶
 *          ◀──────────── ADD_RING + eventfd  one per ring, C2S then S2C
 *   ACK ─────────────────────────────────▶
 *          ◀───────────────────── CONNECT
 *   map, check cookies, queues up
 *   CONNECTED ───────────────────────────▶  queues up
 * ```
 * The client sends each message only after the previous one's ACK (as DPDK's client does). Anything
 * unexpected — a message that does not decode, one out of order, a wrong version, id or secret, a
 * region or ring that does not fit — ends the connection with a DISCONNECT naming the reason (DPDK's
 * reason strings where DPDK has one), and every descriptor and mapping taken so far is released. The
 * process never throws out of here: a peer's bytes are input, not a failure of ours.
 */
import { constants } from 'node:os';
import { log } from '@mp/memory/internal';
import { QUEUE_KIND, binding } from '../binding.js';
import type { WatchHandle } from '../binding.js';
import {
  MAX_LOG2_RING_SIZE,
  MAX_REGIONS,
  MAX_REGION_SIZE,
  MEMIF_COOKIE,
  MEMIF_VERSION,
  MODE_ETHERNET,
  MSG_SIZE,
  RING,
  DESC,
  planRegion,
  ringBytes,
  RING_FLAG_MASK_INT,
} from './layout.js';
import { decode, encode } from './protocol.js';
import type { AddRingMsg, HelloMsg, InitMsg, MemifMsg } from './protocol.js';
import { MemifQueue } from './queue.js';

const F_SEAL_SHRINK = binding.layout.sealShrink!;
const EAGAIN = constants.errno.EAGAIN;

/** What an interface is configured with (validated by MemifInterface). */
export interface SessionConfig {
  id: number;
  secret: string;
  name: string;
  ifName: string;
  rxQueues: number;
  txQueues: number;
  log2RingSize: number;
  bufferSize: number;
  rxMode: 'poll' | 'interrupt';
}

/** The interface side of a session: who it belongs to and where its outcome goes. */
export interface SessionOwner {
  readonly config: SessionConfig;
  /** Server: an INIT for this owner's id came; false = it is busy ("Already connected"). */
  claim(s: Session): boolean;
  up(s: Session, info: UpInfo): void;
  down(s: Session, reason: string, by: 'local' | 'remote'): void;
}

/** Reported when an interface comes up. */
/**
 * Where one ring of a live connection lies, for another process of the group to drive it itself:
 * the regions (their memfds travel beside this, in this order, then the ring's eventfd), the ring's
 * place in them and the side this interface plays on it.
 */
export interface RingShare {
  /** Connection number of the interface (changes at every up and down). */
  conn: number;
  dir: 'rx' | 'tx';
  index: number;
  /** QUEUE_KIND of this side of the ring. */
  kind: number;
  regionSizes: number[];
  ringRegion: number;
  ringOffset: number;
  log2: number;
  bufferSize: number;
  interrupt: boolean;
}

export interface UpInfo {
  remoteName: string;
  remoteIfName: string;
  rx: MemifQueue[];
  tx: MemifQueue[];
  log2RingSize: number;
  bufferSize: number;
}

interface Region {
  fd: number;
  size: number;
  buf: ArrayBuffer;
}
interface RingSpec {
  region: number;
  offset: number;
  log2: number;
  efd: number;
}

/** How long a peer may take between two handshake messages before it is disconnected. */
export const HANDSHAKE_TIMEOUT_MS = 5000;

export class Session {
  readonly role: 'server' | 'client';
  /** Server sessions learn their owner at INIT; client sessions have it from the start. */
  owner: SessionOwner | undefined;
  state: 'hello' | 'init' | 'setup' | 'connecting' | 'up' | 'closed' = 'hello';
  private fd: number;
  private readonly watch: WatchHandle;
  private readonly rbuf = new Uint8Array(MSG_SIZE + 64);
  private readonly rfds = new Int32Array(2);
  private readonly sbuf = new Uint8Array(MSG_SIZE);
  private regions: Region[] = [];
  private c2s: (RingSpec | undefined)[] = [];
  private s2c: (RingSpec | undefined)[] = [];
  private outbox: Array<{ msg: MemifMsg; fd: number }> = [];
  private queues: MemifQueue[] = [];
  private timer: NodeJS.Timeout | undefined;
  private remoteName = '';
  private bufferSize = 0;
  private log2 = 0;
  private readonly findOwner: ((id: number) => SessionOwner | undefined) | undefined;
  private readonly onClosed: ((s: Session) => void) | undefined;

  /**
   * @param fd a connected socket (accepted by a server, or a client's connect)
   * @param findOwner server: the interface with an id (undefined: "ID not found")
   */
  constructor(
    role: 'server' | 'client',
    fd: number,
    opts: { owner?: SessionOwner; findOwner?: (id: number) => SessionOwner | undefined; onClosed?: (s: Session) => void },
  ) {
    this.role = role;
    this.fd = fd;
    this.owner = opts.owner;
    this.findOwner = opts.findOwner;
    this.onClosed = opts.onClosed;
    this.watch = binding.watch(fd, () => this.readable());
    this.arm();
    if (role === 'server') {
      this.send({
        type: 'hello',
        name: 'mp-pmd-vfio',
        minVersion: MEMIF_VERSION,
        maxVersion: MEMIF_VERSION,
        maxRegion: MAX_REGIONS - 1,
        maxS2cRing: 254,
        maxC2sRing: 254,
        maxLog2RingSize: MAX_LOG2_RING_SIZE,
      });
    }
  }

  /** Keep the event loop alive for this connection or not (a server socket decides for its sessions). */
  unref(): void {
    this.watch.unref();
    this.timer?.unref();
  }

  /** (Re)start the handshake timer; it stops once the connection is up. */
  private arm(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.state === 'up' || this.state === 'closed') return;
    this.timer = setTimeout(() => this.fail('Handshake timeout'), HANDSHAKE_TIMEOUT_MS);
  }

  private readable(): void {
    while (this.state !== 'closed') {
      const n = binding.recv(this.fd, this.rbuf, this.rfds);
      const afd = this.rfds[0]!;
      if (n === -EAGAIN) return;
      if (n <= 0) {
        this.close(n === 0 ? 'Peer closed the connection' : `Control socket error ${-n}`, 'remote', false);
        return;
      }
      if (this.rfds[1]! > 1) {
        if (afd >= 0) binding.close(afd);
        this.fail('Too many descriptors');
        return;
      }
      const d = decode(this.rbuf, n);
      if (!d.ok) {
        if (afd >= 0) binding.close(afd);
        this.fail(d.reason);
        return;
      }
      try {
        this.handle(d.msg, afd);
      } catch (err) {
        // A local failure (mmap, memfd): the connection cannot go on; say so to the peer.
        log('warning', 'MEMIF', `control: ${(err as Error).message}`);
        this.fail(`Local error: ${(err as Error).message}`.slice(0, 95));
      }
      this.arm();
    }
  }

  /** Take ownership of a received descriptor only when the message wants one. */
  private handle(m: MemifMsg, afd: number): void {
    const wantsFd = m.type === 'add-region' || m.type === 'add-ring';
    if (!wantsFd && afd >= 0) return this.reject('Unexpected descriptor', afd);
    if (m.type === 'disconnect') {
      this.close(m.reason || `code ${m.code}`, 'remote', false);
      return;
    }
    if (this.role === 'server') this.serverHandle(m, afd);
    else this.clientHandle(m, afd);
  }

  // ---- server role ------------------------------------------------------------------------------
  private serverHandle(m: MemifMsg, afd: number): void {
    switch (this.state) {
      case 'hello':
        if (m.type !== 'init') return this.reject('Unexpected message', afd);
        return this.onInit(m);
      case 'setup':
        if (m.type === 'add-region') return this.onAddRegion(m.index, m.size, afd);
        if (m.type === 'add-ring') return this.onAddRing(m, afd);
        if (m.type === 'connect') return this.onConnect(m.ifName);
        if (m.type === 'ack') return;
        return this.reject('Unexpected message', afd);
      default:
        return this.reject('Unexpected message', afd);
    }
  }

  private onInit(m: InitMsg): void {
    if (m.version !== MEMIF_VERSION) return this.fail('Incompatible memif version');
    const owner = this.findOwner?.(m.id);
    if (owner === undefined) return this.fail('ID not found');
    if (m.mode !== MODE_ETHERNET) return this.fail('Only ethernet mode supported');
    const secret = owner.config.secret;
    if (secret !== '') {
      if (m.secret === '') return this.fail('Secret required');
      if (m.secret !== secret) return this.fail('Incorrect secret');
    }
    if (!owner.claim(this)) return this.fail('Already connected');
    this.owner = owner;
    this.remoteName = m.name;
    this.state = 'setup';
    this.send({ type: 'ack' });
  }

  private onAddRegion(index: number, size: number, fd: number): void {
    if (fd < 0) return this.fail('Missing region fd');
    if (index !== this.regions.length || index >= MAX_REGIONS) return this.reject('Invalid region index', fd);
    const info = binding.fdInfo(fd);
    // Only a file sealed against shrinking can be mapped safely: one the peer could truncate would
    // SIGBUS this process on the next burst. (DPDK, libmemif and @mp seal their memfds.)
    if (info.kind !== 'file' || info.seals < 0 || (info.seals & F_SEAL_SHRINK) === 0) return this.reject('Region fd is not a memfd sealed against shrinking', fd);
    if (size <= 0 || size > MAX_REGION_SIZE || size > info.size) return this.reject('Invalid region size', fd);
    const buf = binding.map(fd, size);
    this.regions.push({ fd, size, buf });
    this.send({ type: 'ack' });
  }

  private onAddRing(m: AddRingMsg, fd: number): void {
    if (fd < 0) return this.fail('Missing interrupt fd');
    if (binding.fdInfo(fd).kind !== 'eventfd') return this.reject('Interrupt fd is not an eventfd', fd);
    const cfg = this.owner!.config;
    // The server receives on C2S rings and sends on S2C rings.
    const list = m.c2s ? this.c2s : this.s2c;
    const limit = m.c2s ? cfg.rxQueues : cfg.txQueues;
    if (m.index >= limit || list[m.index] !== undefined) return this.reject('Invalid ring index', fd);
    if (m.log2RingSize > MAX_LOG2_RING_SIZE) return this.reject('Invalid ring size', fd);
    const r = this.regions[m.region];
    if (r === undefined || m.offset % 8 !== 0 || m.offset + ringBytes(m.log2RingSize) > r.size) return this.reject('Invalid ring', fd);
    if (this.c2s.length + this.s2c.length > 0 && m.log2RingSize !== this.log2) return this.reject('Invalid ring size', fd);
    this.log2 = m.log2RingSize;
    list[m.index] = { region: m.region, offset: m.offset, log2: m.log2RingSize, efd: fd };
    this.send({ type: 'ack' });
  }

  private onConnect(ifName: string): void {
    const rings = [...this.c2s, ...this.s2c];
    if (this.c2s.length === 0 || this.s2c.length === 0 || rings.some((r) => r === undefined)) return this.fail('Missing ring');
    for (const r of rings as RingSpec[]) {
      const v = new DataView(this.regions[r.region]!.buf, r.offset, RING.headerSize);
      if (v.getUint32(RING.cookie, true) !== MEMIF_COOKIE) return this.fail('Wrong ring');
    }
    // The client's buffer size, as its untouched C2S descriptors give it (informational: the server
    // sends into whatever length each S2C descriptor offers).
    const c0 = this.c2s[0]!;
    this.bufferSize = Math.min(new DataView(this.regions[c0.region]!.buf, c0.offset + RING.desc, DESC.size).getUint32(DESC.length, true), 0xffff);
    const info = this.makeQueues(ifName);
    this.send({ type: 'connected', ifName: this.owner!.config.ifName });
    if (this.state === 'closed') return;
    this.state = 'up';
    this.arm();
    this.owner!.up(this, info);
  }

  // ---- client role ------------------------------------------------------------------------------
  private clientHandle(m: MemifMsg, afd: number): void {
    if (afd >= 0) return this.reject('Unexpected descriptor', afd);
    switch (this.state) {
      case 'hello':
        if (m.type !== 'hello') return this.fail('Unexpected message');
        return this.onHello(m);
      case 'setup':
        if (m.type !== 'ack') return this.fail('Unexpected message');
        return this.sendNext();
      case 'connecting':
        if (m.type !== 'connected') return this.fail('Unexpected message');
        this.state = 'up';
        this.arm();
        this.owner!.up(this, this.makeQueues(m.ifName));
        return;
      default:
        return this.fail('Unexpected message');
    }
  }

  private onHello(h: HelloMsg): void {
    if (h.minVersion > MEMIF_VERSION || h.maxVersion < MEMIF_VERSION) return this.fail('Incompatible memif version');
    const cfg = this.owner!.config;
    this.remoteName = h.name;
    const nc2s = Math.min(h.maxC2sRing + 1, cfg.txQueues);
    const ns2c = Math.min(h.maxS2cRing + 1, cfg.rxQueues);
    this.log2 = Math.min(h.maxLog2RingSize, cfg.log2RingSize);
    this.bufferSize = cfg.bufferSize;
    if (nc2s < 1 || ns2c < 1) return this.fail('Peer offers no rings');
    const plan = planRegion(nc2s, ns2c, this.log2, this.bufferSize);
    const fd = binding.memfd('memif_region_0', plan.size);
    let buf: ArrayBuffer;
    try {
      buf = binding.map(fd, plan.size);
    } catch (err) {
      binding.close(fd);
      throw err;
    }
    this.regions.push({ fd, size: plan.size, buf });
    const n = 2 ** this.log2;
    for (const dir of ['c2s', 's2c'] as const) {
      const count = dir === 'c2s' ? nc2s : ns2c;
      const list = dir === 'c2s' ? this.c2s : this.s2c;
      for (let i = 0; i < count; i++) {
        const off = plan.ringOffset(dir, i);
        const v = new DataView(buf, off, ringBytes(this.log2));
        v.setUint32(RING.cookie, MEMIF_COOKIE, true);
        v.setUint16(RING.flags, 0, true);
        v.setUint16(RING.head, 0, true);
        v.setUint16(RING.tail, 0, true);
        for (let j = 0; j < n; j++) {
          const d = RING.desc + j * DESC.size;
          v.setUint16(d + DESC.flags, 0, true);
          v.setUint16(d + DESC.region, 0, true);
          v.setUint32(d + DESC.length, this.bufferSize, true);
          v.setUint32(d + DESC.offset, plan.bufferOffset(dir, i, j), true);
          v.setUint32(d + DESC.metadata, 0, true);
        }
        list.push({ region: 0, offset: off, log2: this.log2, efd: binding.eventfd() });
      }
    }
    this.outbox.push({ msg: { type: 'init', version: MEMIF_VERSION, id: cfg.id, mode: MODE_ETHERNET, secret: cfg.secret, name: cfg.name }, fd: -1 });
    this.outbox.push({ msg: { type: 'add-region', index: 0, size: plan.size }, fd });
    this.c2s.forEach((r, i) => this.outbox.push({ msg: ringMsg(true, i, r!), fd: r!.efd }));
    this.s2c.forEach((r, i) => this.outbox.push({ msg: ringMsg(false, i, r!), fd: r!.efd }));
    this.outbox.push({ msg: { type: 'connect', ifName: cfg.ifName }, fd: -1 });
    this.state = 'setup';
    this.sendNext();
  }

  private sendNext(): void {
    const next = this.outbox.shift();
    if (next === undefined) return this.fail('Unexpected message');
    if (next.msg.type === 'connect') this.state = 'connecting';
    this.send(next.msg, next.fd);
  }

  // ---- both -------------------------------------------------------------------------------------
  /**
   * Ring `index` of direction `dir` (this side's view) with the descriptors another process needs to
   * map it: region memfds in order, then the ring's eventfd. The descriptors stay this session's
   * (send copies of them; do not close). Undefined when not up or no such ring.
   */
  share(dir: 'rx' | 'tx', index: number): { geo: Omit<RingShare, 'conn'>; fds: number[] } | undefined {
    if (this.state !== 'up') return undefined;
    const client = this.role === 'client';
    const list = dir === 'rx' ? (client ? this.s2c : this.c2s) : client ? this.c2s : this.s2c;
    const r = list[index];
    if (r === undefined) return undefined;
    const kind = dir === 'rx' ? (client ? QUEUE_KIND.clientRx : QUEUE_KIND.serverRx) : client ? QUEUE_KIND.clientTx : QUEUE_KIND.serverTx;
    return {
      geo: {
        dir,
        index,
        kind,
        regionSizes: this.regions.map((g) => g.size),
        ringRegion: r.region,
        ringOffset: r.offset,
        log2: r.log2,
        bufferSize: this.bufferSize,
        interrupt: this.owner!.config.rxMode === 'interrupt' && dir === 'rx',
      },
      fds: [...this.regions.map((g) => g.fd), r.efd],
    };
  }

  /** Queues over the rings: the client sends on C2S and receives on S2C, the server the reverse. */
  private makeQueues(remoteIfName: string): UpInfo {
    const cfg = this.owner!.config;
    const interrupt = cfg.rxMode === 'interrupt';
    const bufs = this.regions.map((r) => r.buf);
    const rx: MemifQueue[] = [];
    const tx: MemifQueue[] = [];
    const client = this.role === 'client';
    const mk = (dir: 'rx' | 'tx', i: number, r: RingSpec, kind: number): MemifQueue => {
      const ring = new DataView(bufs[r.region]!, r.offset, RING.headerSize);
      ring.setUint16(RING.head, 0, true);
      ring.setUint16(RING.tail, 0, true);
      if (dir === 'rx') ring.setUint16(RING.flags, interrupt ? 0 : RING_FLAG_MASK_INT, true);
      const stats = new BigUint64Array(3);
      const nq = new binding.Queue(kind, bufs, r.region, r.offset, r.log2, this.bufferSize, r.efd, stats);
      const q = new MemifQueue(nq, dir, i, 2 ** r.log2, this.bufferSize, interrupt && dir === 'rx', r.efd, stats);
      this.queues.push(q);
      return q;
    };
    (client ? this.s2c : this.c2s).forEach((r, i) => rx.push(mk('rx', i, r!, client ? QUEUE_KIND.clientRx : QUEUE_KIND.serverRx)));
    (client ? this.c2s : this.s2c).forEach((r, i) => tx.push(mk('tx', i, r!, client ? QUEUE_KIND.clientTx : QUEUE_KIND.serverTx)));
    // A client gives the server its empty S2C buffers now (an rx burst of 0 refills), so an
    // interrupt-mode client that waits for a signal before its first burst cannot deadlock.
    if (client) for (const q of rx) q.rxBurst(EMPTY, EMPTY32, 0, EMPTY32, 0);
    return { remoteName: this.remoteName, remoteIfName, rx, tx, log2RingSize: this.log2, bufferSize: this.bufferSize };
  }

  private send(m: MemifMsg, fd = -1): void {
    if (this.state === 'closed') return;
    const r = binding.send(this.fd, encode(m, this.sbuf), fd);
    if (r < 0 && m.type !== 'disconnect') this.close(`Control socket send failed (${-r})`, 'local', false);
  }

  /** Close a received descriptor, then fail. */
  private reject(reason: string, fd: number): void {
    if (fd >= 0) binding.close(fd);
    this.fail(reason);
  }

  /** Tell the peer why (DISCONNECT), then close. */
  fail(reason: string): void {
    this.close(reason, 'local', true);
  }

  /**
   * End the connection: optionally send DISCONNECT with `reason`, stop the queues, release regions
   * and descriptors, tell the owner (once).
   */
  close(reason: string, by: 'local' | 'remote', tell: boolean): void {
    if (this.state === 'closed') return;
    if (tell) this.send({ type: 'disconnect', code: 0, reason });
    this.state = 'closed';
    clearTimeout(this.timer);
    this.watch.close();
    binding.close(this.fd);
    this.fd = -1;
    for (const q of this.queues) q.close();
    this.queues = [];
    for (const r of this.regions) {
      binding.release(r.buf);
      binding.close(r.fd);
    }
    this.regions = [];
    for (const r of [...this.c2s, ...this.s2c]) if (r !== undefined) binding.close(r.efd);
    this.c2s = [];
    this.s2c = [];
    this.outbox = []; // its descriptors are the regions' and rings', closed above
    this.onClosed?.(this);
    this.owner?.down(this, reason, by);
  }
}

const EMPTY = new Uint8Array(0);
const EMPTY32 = new Uint32Array(0);

function ringMsg(c2s: boolean, index: number, r: RingSpec): MemifMsg {
  return { type: 'add-ring', c2s, index, region: r.region, offset: r.offset, log2RingSize: r.log2, privateHdrSize: 0 };
}
