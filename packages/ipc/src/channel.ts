/**
 * The channel: one bound datagram socket per process, in the group's runtime dir, as DPDK's rte_mp.
 * Policy lives here: who is a peer, uid checks, request/reply matching, timeouts, peer death.
 */
import { readdirSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { MpError, log, watchPid } from '@mp/memory';
import { MSG_CTRUNC, MSG_TRUNC, binding } from './binding.js';
import type { WatchHandle } from './binding.js';
import { checkMsg, decodeError, decodeRecord, encode, encodeError, extOffset, recordParts } from './codec.js';
import type { Decoded, MpMsg, ReceivedMsg } from './codec.js';
import { MpIpcRemoteError } from './errors.js';
import { EXT, EXT_ERROR, MAX_COALESCE, MP_IGN, MP_MSG, MP_REP, MP_REQ, RECORD, RECV_BUFFER_BYTES, SUN_PATH_MAX, WIRE } from './layout.js';

/** Who sent a message: the handler's second argument, and what `reply` answers. */
export class Peer {
  /** Sender's pid (from SCM_CREDENTIALS: the kernel's word, not the sender's). */
  readonly pid: number;
  /** Sender's socket path (DPDK's `peer` string). '' for an unbound sender, which cannot be answered. */
  readonly path: string;
  /** True when the message is a request (a reply is expected). */
  readonly isRequest: boolean;
  /** True when the sender speaks @mp's extension (request ids, error replies). */
  readonly isMp: boolean;
  /** @internal */ readonly requestId: number;
  /** @internal */ readonly action: string;
  /** @internal */ replied = false;

  /** @internal */
  constructor(pid: number, path: string, isRequest: boolean, isMp: boolean, requestId: number, action: string) {
    this.pid = pid;
    this.path = path;
    this.isRequest = isRequest;
    this.isMp = isMp;
    this.requestId = requestId;
    this.action = action;
  }
}

/** A handler: reply with `reply(msg, peer)` or by returning (resolving) a message; throwing sends an error reply. */
export type ActionHandler = (msg: ReceivedMsg, peer: Peer) => MpMsg | void | Promise<MpMsg | void>;

/** What a request resolves with, as DPDK's `struct rte_mp_reply`. */
export interface MpReply {
  /** Peers the request reached. */
  nbSent: number;
  /** Replies received (`msgs.length`); less than nbSent after a timeout or a peer's death. */
  nbReceived: number;
  msgs: ReceivedMsg[];
  /** Error replies (handlers that threw), one per failing peer; not counted in nbReceived. */
  errors: MpIpcRemoteError[];
}

export interface RequestOptions {
  /** How long to wait for the replies, in ms (default 5000). */
  timeoutMs?: number;
  /** Pid of the one process to ask (default: the primary, or from the primary every secondary). */
  to?: number;
}

export interface SendOptions {
  /** Pid of the one process to send to (default: the primary, or from the primary every secondary). */
  to?: number;
}

export interface ChannelOptions {
  /** The directory holding the sockets: the group's runtime dir (default: `eal().runtimeDir`); a DPDK app's is `/var/run/dpdk/<prefix>`. */
  runtimeDir: string;
  procType: 'primary' | 'secondary';
  /** How long a send may wait for room in a full peer queue before giving up (default 2000 ms). */
  sendTimeoutMs?: number;
  /** requestSync re-tries this long (µs) before sleeping in poll() (default 50; 0 = never spin). */
  syncSpinUs?: number;
  /** After handling a batch, poll the socket this long (µs) before sleeping in epoll (default 0: never). */
  busyPollUs?: number;
  /** Coalesce one-way messages sent in one synchronous run into few datagrams (needs `mpGroup`). */
  coalesce?: boolean;
  /** Every process in runtimeDir is an @mp process (a group from @mp/eal's init(), never a DPDK app's dir). */
  mpGroup?: boolean;
  /** Primary's pid when known (for death detection of requests to it). */
  primaryPid?: () => number | undefined;
}

interface Pending {
  id: number;
  name: string;
  /** path → pid (-1 unknown) of peers that have not answered */
  waiting: Map<string, number>;
  reply: MpReply;
  single: boolean;
  timer: NodeJS.Timeout | undefined;
  done: boolean;
  resolve: (r: MpReply) => void;
  reject: (e: Error) => void;
}

const PRIMARY_SOCKET = 'mp_socket';
const SECONDARY_RE = /^mp_socket_(\d+)_/;
const EAGAIN = -11;
const TRUNC = MSG_TRUNC | MSG_CTRUNC;

/** Messages to one peer waiting to leave as one coalesced datagram. */
interface Batch {
  buf: Uint8Array;
  n: number;
}
const ECONNREFUSED = -111;
const ENOENT = -2;

/** sockaddr_un bytes for a path (sun_family AF_UNIX = 1, path, NUL). */
function sockaddr(path: string): Uint8Array {
  const p = Buffer.from(path, 'utf8');
  if (p.byteLength >= SUN_PATH_MAX) throw new MpError('ENAMETOOLONG', `socket path ${path} is ${p.byteLength} bytes (at most ${SUN_PATH_MAX - 1})`);
  const a = new Uint8Array(2 + p.byteLength + 1);
  a[0] = 1;
  a.set(p, 2);
  return a;
}

/** Warnings a peer can provoke: the first few of each kind, then one in 1000 (a flood must not flood stderr). */
const warnCounts = new Map<string, number>();
function warnLimited(kind: string, message: string): void {
  const key = kind.replace(/'[^']*'/g, "'…'").replace(/-?\d+/g, 'N');
  const n = (warnCounts.get(key) ?? 0) + 1;
  if (warnCounts.size > 1000) warnCounts.clear();
  warnCounts.set(key, n);
  if (n <= 5 || n % 1000 === 0) log('warning', 'IPC', `${message}${n > 5 ? ` (${n} so far)` : ''}`);
}
function logDrop(reason: string, detail: string): void {
  warnLimited(`drop ${reason}`, `dropped a datagram: ${reason}${detail}`);
}

export class Channel {
  readonly runtimeDir: string;
  readonly procType: 'primary' | 'secondary';
  /** This process's socket path. */
  readonly path: string;
  private readonly primarySocket: string;
  private fd: number;
  private readonly sendTimeoutMs: number;
  private readonly spinUs: number;
  private readonly uid = process.getuid?.() ?? 0;
  private readonly watch: WatchHandle;
  private readonly records = new ArrayBuffer(RECV_BUFFER_BYTES);
  private readonly recU8 = new Uint8Array(this.records);
  private readonly recDv = new DataView(this.records);
  private readonly syncRecords = new ArrayBuffer(RECV_BUFFER_BYTES);
  private readonly syncU8 = new Uint8Array(this.syncRecords);
  private readonly syncDv = new DataView(this.syncRecords);
  private readonly out = new Uint8Array(WIRE.size);
  private readonly outDv = new DataView(this.out.buffer);
  private readonly actions = new Map<string, ActionHandler>();
  private readonly internal = new Map<string, ActionHandler>();
  private readonly pending = new Map<number, Pending>();
  private readonly backlog: Decoded[] = [];
  private backlogScheduled = false;
  private nextId = 1;
  private readonly addrs = new Map<string, Uint8Array>();
  /** Coalescing: open batches by destination path, in the order they were opened; spare buffers. */
  private readonly coalesce: boolean;
  private readonly batches = new Map<string, Batch>();
  private readonly spareBatches: Batch[] = [];
  private flushQueued = false;
  private readonly flushLater = (): void => {
    this.flushQueued = false;
    this.flushBatches('');
  };
  private peerCache: { key: string; secondaries: Map<number, string> } | undefined;
  private readonly deathWatch = new Map<number, { close(): void }>();
  private readonly primaryPidFn: () => number | undefined;
  /** The primary's pid as its datagrams' credentials tell (groups without @mp/eal, DPDK's). */
  private learnedPrimaryPid: number | undefined;
  private closed = false;
  private readonly onExit = (): void => this.close();
  /** Called before the socket closes (the event forwarder announces a primary's exit). */
  beforeClose: (() => void) | undefined;

  /**
   * Bind this process's socket: `mp_socket` (primary) or `mp_socket_<pid>_<hex>` (secondary).
   *
   * @throws {MpError} EBUSY — primary: a live process is bound to `mp_socket` already
   * @throws {MpError} ENAMETOOLONG — the socket path exceeds sun_path (107 bytes)
   * @throws {MpError} ENOENT — the runtime dir does not exist; EPERM — not writable
   */
  constructor(o: ChannelOptions) {
    this.runtimeDir = o.runtimeDir;
    this.procType = o.procType;
    this.sendTimeoutMs = o.sendTimeoutMs ?? 2000;
    this.spinUs = o.syncSpinUs ?? 50;
    const busyPollUs = o.busyPollUs ?? 0;
    if (typeof busyPollUs !== 'number' || !(busyPollUs >= 0 && busyPollUs <= 1_000_000)) {
      throw new MpError('EINVAL', `busyPollUs must be a number of µs in 0..1000000, got ${String(busyPollUs)}`);
    }
    this.coalesce = o.coalesce === true && o.mpGroup === true;
    this.primaryPidFn = o.primaryPid ?? (() => undefined);
    const name = o.procType === 'primary' ? PRIMARY_SOCKET : `${PRIMARY_SOCKET}_${process.pid}_${process.hrtime.bigint().toString(16)}`;
    this.path = join(o.runtimeDir, name);
    this.primarySocket = join(o.runtimeDir, PRIMARY_SOCKET);
    if (Buffer.byteLength(this.path) >= SUN_PATH_MAX) {
      throw new MpError('ENAMETOOLONG', `socket path ${this.path} is ${Buffer.byteLength(this.path)} bytes (sun_path holds ${SUN_PATH_MAX - 1}); use a shorter runtime dir`);
    }
    // As DPDK: hold the directory lock (flock LOCK_EX) while the socket appears.
    let dirFd = -1;
    try {
      dirFd = binding.flock(o.runtimeDir, 'ex');
    } catch (err) {
      throw sysError(err, `cannot lock the runtime dir ${o.runtimeDir}`);
    }
    try {
      const r = binding.probe(this.path);
      if (r === 0) throw new MpError('EBUSY', `a live process is bound to ${this.path} already (another primary of this group?)`);
      if (r !== ENOENT) {
        try {
          unlinkSync(this.path);
        } catch {
          // gone already
        }
      }
      try {
        this.fd = binding.open(this.path, 0o600);
      } catch (err) {
        throw sysError(err, `cannot bind ${this.path}`);
      }
    } finally {
      binding.flock(o.runtimeDir, 'un', dirFd);
    }
    this.watch = binding.watch(this.fd, this.records, (n) => this.onBatch(n));
    this.watch.unref();
    if (busyPollUs > 0) this.watch.busyPoll(busyPollUs);
    process.once('exit', this.onExit);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  // ---- actions ------------------------------------------------------------------------------------

  /** @see actionRegister */
  actionRegister(name: string, handler: ActionHandler): void {
    this.assertOpen();
    checkMsg({ name });
    if (typeof handler !== 'function') throw new MpError('EINVAL', `the handler of action '${name}' must be a function`);
    if (this.actions.has(name)) throw new MpError('EEXIST', `action '${name}' is registered already (actionUnregister it first)`);
    this.actions.set(name, handler);
    this.refresh();
  }

  /** @see actionUnregister */
  actionUnregister(name: string): boolean {
    checkMsg({ name });
    const had = this.actions.delete(name);
    this.refresh();
    return had;
  }

  /** @internal actions of @mp itself (event forwarding); not listed, not unregistrable by users */
  internalAction(name: string, handler: ActionHandler): void {
    this.internal.set(name, handler);
  }

  /** Keep the event loop alive while actions are registered or requests are pending. */
  private refresh(): void {
    if (this.closed) return;
    if (this.actions.size > 0 || this.pending.size > 0) this.watch.ref();
    else this.watch.unref();
  }

  // ---- peers --------------------------------------------------------------------------------------

  /** The secondaries' sockets in the runtime dir (pid → path), re-read when the directory changed. */
  secondaries(force = false): Map<number, string> {
    let key = '';
    try {
      const st = statSync(this.runtimeDir, { bigint: true });
      key = `${st.mtimeNs}:${st.ctimeNs}:${st.size}:${st.ino}`;
    } catch {
      key = 'gone';
    }
    if (!force && this.peerCache && this.peerCache.key === key) return this.peerCache.secondaries;
    const secondaries = new Map<number, string>();
    let names: string[] = [];
    try {
      names = readdirSync(this.runtimeDir);
    } catch {
      // the group is gone: no peers
    }
    for (const f of names) {
      const m = SECONDARY_RE.exec(f);
      if (!m) continue;
      const p = join(this.runtimeDir, f);
      if (p === this.path) continue;
      secondaries.set(Number(m[1]), p);
    }
    this.peerCache = { key, secondaries };
    return secondaries;
  }

  /** The primary's pid: from @mp/eal, else learned from the credentials of its datagrams. */
  primaryPid(): number | undefined {
    return this.primaryPidFn() ?? this.learnedPrimaryPid;
  }

  private primaryPath(): string {
    return this.primarySocket;
  }

  /** Resolve destinations: [path, pid][]. `to` given: that one process (ENOENT when absent). */
  private targets(to: number | undefined): Array<[string, number]> {
    if (to !== undefined) {
      if (!Number.isInteger(to) || to <= 0) throw new MpError('EINVAL', `'to' must be a pid, got ${String(to)}`);
      const primaryPid = this.primaryPid();
      if (to === primaryPid && this.procType === 'secondary') return [[this.primaryPath(), to]];
      if (to === process.pid) return [[this.path, to]];
      // The cached listing first (no syscall); a miss re-reads the directory.
      let p = this.peerCache?.secondaries.get(to);
      if (p === undefined) p = this.secondaries(true).get(to);
      if (p === undefined) {
        throw new MpError('ENOENT', `no process with pid ${to} has an IPC socket in ${this.runtimeDir} (not started, or gone)`);
      }
      return [[p, to]];
    }
    if (this.procType === 'secondary') return [[this.primaryPath(), this.primaryPid() ?? -1]];
    return [...this.secondaries()].map(([pid, path]) => [path, pid]);
  }

  // ---- sending ------------------------------------------------------------------------------------

  private addr(path: string): Uint8Array {
    let a = this.addrs.get(path);
    if (a === undefined) {
      a = sockaddr(path);
      if (this.addrs.size > 1024) this.addrs.clear();
      this.addrs.set(path, a);
    }
    return a;
  }

  /** Send the datagram in `this.out` (coalesced messages first, to keep the order); 0 or -errno. */
  private sendOut(path: string, fds: Int32Array | null): number {
    if (this.batches.size > 0) this.flushBatches('');
    return this.sendData(path, this.out, fds);
  }

  /** Send one datagram; 0 or -errno. A full peer queue is waited on (our own queue drained meanwhile). */
  private sendData(path: string, data: Uint8Array, fds: Int32Array | null): number {
    const addr = this.addr(path);
    // Blocking for at most 5 ms (SO_SNDTIMEO) when the peer's queue (net.unix.max_dgram_qlen) is full.
    let r = binding.send(this.fd, addr, data, fds, true);
    if (r === EAGAIN) {
      const deadline = Date.now() + this.sendTimeoutMs;
      do {
        // The peer may be blocked sending to us: keep our own queue moving so neither waits forever.
        this.drainToBacklog(0);
        r = binding.send(this.fd, addr, data, fds, true);
      } while (r === EAGAIN && Date.now() < deadline);
    }
    if (r === ECONNREFUSED) this.removeStale(path);
    return r;
  }

  /**
   * Send every open batch, oldest first, and close them. Returns the result (0 or -errno) for
   * `path`; failures elsewhere are logged (those messages' sendMsg calls returned already).
   */
  private flushBatches(path: string): number {
    let ret = 0;
    for (const [to, b] of this.batches) {
      if (b.n > 0) {
        const r = this.sendData(to, b.buf.subarray(0, b.n * WIRE.size), null);
        if (to === path) ret = r;
        else if (r !== 0) warnLimited(`coalesced ${r}`, `${b.n} coalesced message(s) to ${to} were lost: ${errnoName(r)}`);
      }
      b.n = 0;
      this.spareBatches.push(b);
    }
    this.batches.clear();
    return ret;
  }

  /**
   * Queue a message (encoded in `this.out`, no fds) for `path` when a batch to it is open; else send
   * it now and open one, so the sender still learns synchronously that a peer is gone. 0 or -errno.
   */
  private sendCoalesced(path: string): number {
    const b = this.batches.get(path);
    if (b === undefined) {
      const r = this.sendOut(path, null);
      if (r === 0) {
        const nb = this.spareBatches.pop() ?? newBatch();
        this.batches.set(path, nb);
        if (!this.flushQueued) {
          this.flushQueued = true;
          queueMicrotask(this.flushLater);
        }
      }
      return r;
    }
    b.buf.set(this.out, b.n * WIRE.size);
    b.n++;
    return b.n === MAX_COALESCE ? this.flushBatches(path) : 0;
  }

  /** A socket file nobody is bound to any more: whoever notices removes it (DPDK: the primary does). */
  private removeStale(path: string): void {
    if (binding.probe(path) === ECONNREFUSED) {
      try {
        unlinkSync(path);
        log('info', 'IPC', `removed the stale socket ${path}`);
      } catch {
        // someone else did
      }
      this.peerCache = undefined;
    }
  }

  private fdArray(fds: number[]): Int32Array | null {
    return fds.length === 0 ? null : Int32Array.from(fds);
  }

  /**
   * @see sendMsg (module function)
   */
  sendMsg(msg: MpMsg, o: SendOptions = {}): number {
    this.assertOpen();
    const m = checkMsg(msg);
    const targets = this.targets(o.to);
    encode(this.out, this.outDv, MP_MSG, m.name, m.param, m.fds.length, NO_EXT);
    const fds = this.fdArray(m.fds);
    const coalesce = this.coalesce && fds === null;
    let sent = 0;
    for (const [path] of targets) {
      const r = coalesce ? this.sendCoalesced(path) : this.sendOut(path, fds);
      if (r === 0) {
        sent++;
        continue;
      }
      if (targets.length === 1) throw sendError(r, msg.name, path);
      if (r !== ECONNREFUSED && r !== ENOENT) log('warning', 'IPC', `sendMsg '${msg.name}' to ${path}: ${errnoName(r)}`);
    }
    return sent;
  }

  /** Send one request to each target; returns the pending entry (done when nothing was sent). */
  private startRequest(msg: MpMsg, o: RequestOptions, sync: boolean, resolve: (r: MpReply) => void, reject: (e: Error) => void): Pending {
    this.assertOpen();
    const m = checkMsg(msg);
    const timeoutMs = o.timeoutMs ?? 5000;
    if (typeof timeoutMs !== 'number' || !(timeoutMs >= 0)) throw new MpError('EINVAL', `timeoutMs must be a number ≥ 0, got ${String(timeoutMs)}`);
    const targets = this.targets(o.to);
    const id = this.nextId;
    this.nextId = this.nextId >= 0xffffffff ? 1 : this.nextId + 1;
    const p: Pending = {
      id,
      name: msg.name,
      waiting: new Map(),
      reply: { nbSent: 0, nbReceived: 0, msgs: [], errors: [] },
      single: o.to !== undefined || this.procType === 'secondary',
      timer: undefined,
      done: false,
      resolve,
      reject,
    };
    encode(this.out, this.outDv, MP_REQ, m.name, m.param, m.fds.length, { id, flags: 0 });
    const fds = this.fdArray(m.fds);
    let firstErr = 0;
    for (const [path, pid] of targets) {
      const r = this.sendOut(path, fds);
      if (r === 0) {
        p.reply.nbSent++;
        p.waiting.set(path, pid);
      } else if (firstErr === 0) {
        firstErr = r;
      }
    }
    if (p.single && p.reply.nbSent === 0) {
      p.done = true;
      const path = targets[0]![0];
      reject(firstErr === ECONNREFUSED || firstErr === ENOENT
        ? new MpError('ENOENT', `no peer at ${path} (its process is gone)`)
        : sendError(firstErr, msg.name, path));
      return p;
    }
    if (p.reply.nbSent === 0) {
      p.done = true;
      resolve(p.reply);
      return p;
    }
    this.pending.set(id, p);
    if (!sync) {
      p.timer = setTimeout(() => this.finish(p, true), timeoutMs);
      for (const pid of p.waiting.values()) this.watchDeath(pid);
      this.refresh();
    }
    return p;
  }

  /**
   * @see request (module function)
   */
  request(msg: MpMsg, o: RequestOptions = {}): Promise<MpReply> {
    return new Promise<MpReply>((resolve, reject) => {
      this.startRequest(msg, o, false, resolve, reject);
    });
  }

  /**
   * @see requestSync (module function)
   */
  requestSync(msg: MpMsg, o: RequestOptions = {}): MpReply {
    let result: MpReply | undefined;
    let error: Error | undefined;
    const p = this.startRequest(msg, o, true, (r) => (result = r), (e) => (error = e));
    if (!p.done) {
      const deadline = performance.now() + (o.timeoutMs ?? 5000);
      let lastLiveness = performance.now();
      while (!p.done) {
        const left = deadline - performance.now();
        if (left <= 0) {
          this.finish(p, true);
          break;
        }
        const n = binding.recv(this.fd, this.syncRecords, Math.min(left, 50), this.spinUs);
        for (let i = 0; i < n; i++) {
          const rec = i * RECORD.size;
          const k = recordParts(this.syncDv, rec, TRUNC);
          for (let j = 0; j < k; j++) {
            const d = decodeRecord(this.syncU8, this.syncDv, rec, TRUNC, j);
            if (d.ok && (d.type === MP_REP || d.type === MP_IGN)) this.handle(d);
            else this.backlog.push(d);
          }
        }
        // No event loop runs while we block: look at the peers' liveness ourselves.
        if (!p.done && performance.now() - lastLiveness >= 50) {
          lastLiveness = performance.now();
          for (const pid of [...p.waiting.values()]) if (pid > 0 && !alive(pid)) this.peerDied(pid);
        }
      }
      this.scheduleBacklog();
    }
    if (error) throw error;
    return result!;
  }

  /** @see reply (module function) */
  reply(msg: MpMsg, peer: Peer): void {
    this.assertOpen();
    if (!(peer instanceof Peer)) throw new MpError('EINVAL', 'reply(msg, peer): peer must be the second argument the handler received');
    const m = checkMsg(msg);
    if (!peer.isRequest) throw new MpError('EINVAL', `the message '${peer.action}' from pid ${peer.pid} was not a request; use sendMsg to answer it`);
    if (peer.replied) throw new MpError('EINVAL', `request '${peer.action}' from pid ${peer.pid} has been answered already`);
    if (peer.path === '') throw new MpError('ENOENT', `pid ${peer.pid} sent '${peer.action}' from an unbound socket: it cannot be answered`);
    peer.replied = true;
    encode(this.out, this.outDv, MP_REP, m.name, m.param, m.fds.length, peer.isMp ? { id: peer.requestId, flags: 0 } : null);
    const r = this.sendOut(peer.path, this.fdArray(m.fds));
    if (r !== 0) throw sendError(r, msg.name, peer.path);
  }

  private replyError(peer: Peer, code: string, message: string): void {
    if (!peer.isRequest || peer.replied || this.closed) return;
    peer.replied = true;
    if (!peer.isMp || peer.path === '') {
      // A DPDK requester knows no error replies: it sees what DPDK would show, a timeout.
      warnLimited(`fail ${peer.action}`, `request '${peer.action}' from pid ${peer.pid} failed (${code}: ${message}); ${peer.path === '' ? 'its unbound socket cannot be answered' : 'a DPDK peer gets no error reply'}`);
      return;
    }
    const name = Buffer.from(peer.action, 'utf8');
    const max = extOffset(name.byteLength, 0) === WIRE.name + 64 - EXT.size ? 256 : EXT.paramRoomMax;
    const param = encodeError(code, message, max);
    encode(this.out, this.outDv, MP_REP, name, param, 0, { id: peer.requestId, flags: EXT_ERROR });
    const r = this.sendOut(peer.path, null);
    if (r !== 0) warnLimited(`errreply ${r}`, `error reply '${peer.action}' to ${peer.path}: ${errnoName(r)}`);
  }

  // ---- receiving ----------------------------------------------------------------------------------

  private onBatch(n: number): void {
    if (this.closed) return;
    const u8 = this.recU8;
    const dv = this.recDv;
    if (this.backlog.length > 0) {
      // Datagrams pulled off the socket earlier (during a requestSync or a blocked send) go first.
      this.toBacklog(u8, dv, n);
      this.runBacklog();
      return;
    }
    // Only this callback writes `records`, and it cannot re-enter: decode and handle one by one.
    for (let i = 0; i < n && !this.closed; i++) {
      const rec = i * RECORD.size;
      const k = recordParts(dv, rec, TRUNC);
      for (let j = 0; j < k && !this.closed; j++) this.handle(decodeRecord(u8, dv, rec, TRUNC, j));
    }
  }

  private toBacklog(u8: Uint8Array, dv: DataView, n: number): void {
    for (let i = 0; i < n; i++) {
      const rec = i * RECORD.size;
      const k = recordParts(dv, rec, TRUNC);
      for (let j = 0; j < k; j++) this.backlog.push(decodeRecord(u8, dv, rec, TRUNC, j));
    }
  }

  /** Pull whatever is queued on our socket into the backlog (during a blocked send or requestSync). */
  private drainToBacklog(timeoutMs: number): void {
    const n = binding.recv(this.fd, this.syncRecords, timeoutMs);
    this.toBacklog(this.syncU8, this.syncDv, n);
    if (n > 0) this.scheduleBacklog();
  }

  private scheduleBacklog(): void {
    if (this.backlog.length === 0 || this.backlogScheduled) return;
    this.backlogScheduled = true;
    setImmediate(() => {
      this.backlogScheduled = false;
      this.runBacklog();
    });
  }

  private runBacklog(): void {
    while (this.backlog.length > 0 && !this.closed) this.handle(this.backlog.shift()!);
  }

  private handle(d: Decoded): void {
    if (!d.ok) {
      closeAll(d.fds);
      logDrop(d.reason, ` (from pid ${d.pid}${d.path ? ` ${d.path}` : ''})`);
      return;
    }
    if (d.uid !== this.uid) {
      closeAll(d.fds);
      logDrop(`foreign sender uid ${d.uid}`, ` (pid ${d.pid}, '${d.name}'; this group runs as uid ${this.uid})`);
      return;
    }
    if (this.procType === 'secondary' && d.pid > 0 && d.path === this.primaryPath()) this.learnedPrimaryPid = d.pid;
    if (d.type === MP_REP || d.type === MP_IGN) {
      this.onReply(d);
      return;
    }
    const isReq = d.type === MP_REQ;
    const peer = new Peer(d.pid, d.path, isReq, d.ext !== null, d.ext?.id ?? 0, d.name);
    const handler = this.internal.get(d.name) ?? this.actions.get(d.name);
    const msg: ReceivedMsg = { name: d.name, param: d.param, fds: d.fds };
    if (handler === undefined) {
      closeAll(d.fds);
      if (isReq && peer.isMp) this.replyError(peer, 'ENOENT', `no action '${d.name}' is registered in pid ${process.pid}`);
      else logDrop(`no action '${d.name}' is registered`, ` (from pid ${d.pid})`);
      return;
    }
    let ret: MpMsg | void | Promise<MpMsg | void>;
    try {
      ret = handler(msg, peer);
    } catch (err) {
      this.handlerFailed(peer, err);
      return;
    }
    if (ret !== null && typeof ret === 'object' && typeof (ret as Promise<unknown>).then === 'function') {
      (ret as Promise<MpMsg | void>).then(
        (v) => this.autoReply(peer, v),
        (err: unknown) => this.handlerFailed(peer, err),
      );
    } else {
      this.autoReply(peer, ret as MpMsg | void);
    }
  }

  private autoReply(peer: Peer, v: MpMsg | void): void {
    if (v === undefined || v === null || this.closed) return;
    if (!peer.isRequest) return;
    if (peer.replied) {
      warnLimited(`twice ${peer.action}`, `handler of '${peer.action}' returned a message after replying: ignored`);
      return;
    }
    try {
      this.reply(v, peer);
    } catch (err) {
      if (!peer.replied) this.handlerFailed(peer, err);
      else warnLimited(`reply ${peer.action}`, `reply to '${peer.action}' (pid ${peer.pid}): ${(err as Error).message}`);
    }
  }

  private handlerFailed(peer: Peer, err: unknown): void {
    const e = err as { code?: unknown; message?: unknown };
    const code = typeof e?.code === 'string' ? e.code : 'EIO';
    let message = typeof e?.message === 'string' ? e.message : String(err);
    if (message.startsWith(`${code}: `)) message = message.slice(code.length + 2); // MpError's own prefix
    if (peer.isRequest) this.replyError(peer, code, message);
    else warnLimited(`threw ${peer.action}`, `handler of message '${peer.action}' from pid ${peer.pid} threw: ${message}`);
  }

  private onReply(d: Extract<Decoded, { ok: true }>): void {
    let p: Pending | undefined;
    if (d.ext !== null && d.ext.id !== 0) {
      p = this.pending.get(d.ext.id);
      if (p !== undefined && (!p.waiting.has(d.path) || p.name !== d.name)) p = undefined;
    } else {
      // A DPDK peer: match as DPDK does, by (peer, name); the oldest request first.
      for (const q of this.pending.values()) {
        if (q.name === d.name && q.waiting.has(d.path)) {
          p = q;
          break;
        }
      }
    }
    if (p === undefined) {
      closeAll(d.fds);
      logDrop(`reply '${d.name}' matches no pending request`, ` (from pid ${d.pid})`);
      return;
    }
    p.waiting.delete(d.path);
    if (d.type === MP_IGN) {
      p.reply.nbSent--;
    } else if (d.ext !== null && (d.ext.flags & EXT_ERROR) !== 0) {
      const { code, message } = decodeError(d.param);
      p.reply.errors.push(new MpIpcRemoteError(d.name, d.pid, code, message));
    } else {
      p.reply.msgs.push({ name: d.name, param: d.param, fds: d.fds });
      p.reply.nbReceived++;
    }
    if (p.waiting.size === 0) this.finish(p, false);
  }

  /** Settle a request with what it has. */
  private finish(p: Pending, timedOut: boolean, closing = false): void {
    if (p.done) return;
    p.done = true;
    if (p.timer) clearTimeout(p.timer);
    this.pending.delete(p.id);
    this.refresh();
    const r = p.reply;
    if (p.single) {
      if (r.errors.length > 0) return p.reject(r.errors[0]!);
      if (r.nbReceived === 0) {
        if (r.nbSent === 0) return p.resolve(r); // the peer said "ignore me" (MP_IGN)
        if (closing) return p.reject(new MpError('ENOTCONN', `the IPC channel closed before '${p.name}' was answered`));
        if (timedOut) return p.reject(new MpError('ETIMEDOUT', `no reply to '${p.name}' within the timeout`));
        return p.reject(new MpError('ENOENT', `the peer of request '${p.name}' exited before replying`));
      }
    }
    p.resolve(r);
  }

  // ---- peer death ---------------------------------------------------------------------------------

  private watchDeath(pid: number): void {
    if (pid <= 0 || this.deathWatch.has(pid)) return;
    try {
      this.deathWatch.set(pid, watchPid(pid, () => this.peerDied(pid)));
    } catch {
      queueMicrotask(() => this.peerDied(pid));
    }
  }

  /** A peer process is gone: its pending requests finish now, its socket file goes. */
  private peerDied(pid: number): void {
    this.deathWatch.get(pid)?.close();
    this.deathWatch.delete(pid);
    for (const p of [...this.pending.values()]) {
      let hit = false;
      for (const [path, wpid] of p.waiting) {
        if (wpid === pid) {
          p.waiting.delete(path);
          this.removeStale(path);
          hit = true;
        }
      }
      if (hit && p.waiting.size === 0) this.finish(p, false);
    }
  }

  // ---- lifetime -----------------------------------------------------------------------------------

  private assertOpen(): void {
    if (this.closed) throw new MpError('ENOTCONN', 'the IPC channel is closed (start() it again)');
  }

  /** Close the socket and remove its file; pending requests finish with what they have. Idempotent. */
  close(): void {
    if (this.closed) return;
    try {
      this.beforeClose?.();
    } catch (err) {
      log('warning', 'IPC', `close: ${(err as Error).message}`);
    }
    if (this.batches.size > 0) this.flushBatches('');
    this.closed = true;
    process.removeListener('exit', this.onExit);
    for (const p of [...this.pending.values()]) {
      p.waiting.clear();
      this.finish(p, true, true);
    }
    for (const w of this.deathWatch.values()) w.close();
    this.deathWatch.clear();
    this.watch.close();
    for (const d of this.backlog.splice(0)) closeAll(d.fds);
    binding.close(this.fd);
    this.fd = -1;
    try {
      unlinkSync(this.path);
    } catch {
      // already gone (the runtime dir was removed)
    }
  }
}

const NO_EXT = { id: 0, flags: 0 };

function newBatch(): Batch {
  return { buf: new Uint8Array(MAX_COALESCE * WIRE.size), n: 0 };
}

function closeAll(fds: number[]): void {
  for (const fd of fds) binding.close(fd);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const ERRNO_NAMES: Record<number, string> = { 1: 'EPERM', 2: 'ENOENT', 9: 'EBADF', 11: 'EAGAIN', 13: 'EACCES', 90: 'EMSGSIZE', 111: 'ECONNREFUSED', 105: 'ENOBUFS' };
function errnoName(r: number): string {
  return ERRNO_NAMES[-r] ?? `errno ${-r}`;
}

function sendError(r: number, name: string, path: string): MpError {
  if (r === ECONNREFUSED || r === ENOENT) return new MpError('ENOENT', `cannot send '${name}': no process at ${path} (gone)`);
  if (r === EAGAIN) return new MpError('EBUSY', `cannot send '${name}' to ${path}: its queue stayed full`);
  if (r === -13 || r === -1) return new MpError('EPERM', `cannot send '${name}' to ${path}: permission denied`);
  if (r === -9) return new MpError('EINVAL', `cannot send '${name}' to ${path}: a descriptor in msg.fds is not open`);
  return new MpError('EIO', `cannot send '${name}' to ${path}: ${errnoName(r)}`);
}

function sysError(err: unknown, what: string): MpError {
  if (err instanceof MpError) return err;
  const e = err as { code?: string; message?: string };
  const code = e.code === 'ENOENT' ? 'ENOENT' : e.code === 'EACCES' || e.code === 'EPERM' ? 'EPERM' : e.code === 'ENAMETOOLONG' ? 'ENAMETOOLONG' : 'EIO';
  return new MpError(code, `${what}: ${e.message ?? String(err)}`, { cause: err });
}
