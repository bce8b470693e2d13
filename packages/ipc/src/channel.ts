/**
 * The channel: one bound datagram socket per process, in the group's runtime dir, as DPDK's rte_mp.
 * Policy lives here: who is a peer, uid checks, request/reply matching, timeouts, peer death.
 */
import { readdirSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { MpError, log, watchPid } from '@mp/memory';
import { Inbox, InboxRef, senderHeader } from './inbox.js';
import { processGone } from './liveness.js';
import { MAX_TIMER_MS, booleanOption, checkOptions, numberOption, timeoutOption } from './options.js';
import { MSG_CTRUNC, MSG_TRUNC, binding } from './binding.js';
import type { WatchHandle } from './binding.js';
import { checkMsg, decodeError, decodeRecord, encode, encodeError, extOffset, recordParts } from './codec.js';
import type { Decoded, MpMsg, ReceivedMsg } from './codec.js';
import { MpIpcRemoteError } from './errors.js';
import { dpdkMallocActions } from './malloc-mp.js';
import {
  CARRIER_ACTION,
  EXT,
  EXT_CARRIER,
  EXT_ERROR,
  EXT_WAKE,
  INBOX,
  MAX_COALESCE,
  MP_IGN,
  MP_MAX_NAME_LEN,
  MP_MSG,
  MP_REP,
  MP_REQ,
  RECORD,
  RECORDS_PER_BATCH,
  RECV_BUFFER_BYTES,
  RX_INBOX_CARRIER,
  RX_INBOX_VOID,
  SUN_PATH_MAX,
  WAKE_ACTION,
  WIRE,
} from './layout.js';

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
  /** @internal its requester stopped waiting (a requestSync to its own process whose handler answers later) */
  abandoned = false;

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
  /** How long to wait for the replies, in ms: 0..2^31-1 or Infinity (until answered or the peers die); default 5000. */
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
  /** Use shared-memory inboxes between the group's processes (default true with `mpGroup` and `slot`). */
  inbox?: boolean;
  /** Every process in runtimeDir is an @mp process (a group from @mp/eal's init(), never a DPDK app's dir). */
  mpGroup?: boolean;
  /** Primary's pid when known (for death detection of requests to it). */
  primaryPid?: () => number | undefined;
  /** This process's slot in the group's process table (its inbox; its sender word in others'). Needed for inboxes. */
  slot?: number;
  /** The process-table slot of a live process of the group, or undefined. Needed for inboxes. */
  slotOf?: (pid: number) => number | undefined;
}

interface Pending {
  id: number;
  name: string;
  /** path → pid (-1 unknown) of peers that have not answered */
  waiting: Map<string, number>;
  reply: MpReply;
  single: boolean;
  timer: NodeJS.Timeout | undefined;
  /** Async requests to peers of unknown pid: the timer that asks their sockets whether they live. */
  probe: NodeJS.Timeout | undefined;
  /** Set: the request fails with this error when it finishes (a requestSync to itself that cannot be answered). */
  fail?: MpError;
  /** The socket of the peer whose death ended this request's wait (for the ENOENT message). */
  lost: string | undefined;
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
  /** Inboxes (mpGroup): ours (undefined: socket only), peers' by `${pid}:${path}` (null: it has none). */
  private readonly mpGroup: boolean;
  private readonly inbox: Inbox | undefined;
  private readonly refs = new Map<string, InboxRef | null>();
  private lastRef: { path: string; ref: InboxRef } | undefined;
  private readonly inU8 = new Uint8Array(RECORDS_PER_BATCH * RECORD.size);
  private readonly inDv = new DataView(this.inU8.buffer);
  private readonly pullRecords = new ArrayBuffer(RECV_BUFFER_BYTES);
  private readonly pullU8 = new Uint8Array(this.pullRecords);
  private readonly pullDv = new DataView(this.pullRecords);
  private header: Uint8Array = new Uint8Array(0);
  private readonly myPidHi = BigInt(process.pid) << 32n;
  /** Our process-table slot (-1: none, no inboxes) and the lookup of peers' slots. */
  private readonly slot: number;
  private readonly slotOf: (pid: number) => number | undefined;
  private readonly wakeOut = new Uint8Array(WIRE.size);
  private readonly carrierOut = new Uint8Array(WIRE.size);
  private readonly carrierDv = new DataView(this.carrierOut.buffer);
  /** Carrier tags start at random, so a restarted channel of this pid never meets an old tag's leftovers. */
  private nextCarrier = 1 + Math.floor(Math.random() * 0x3fffffff);
  /** Descriptors that came in carrier datagrams, by `${pid}:${tag}`, until their inbox record is read. */
  private readonly carriers = new Map<string, number[]>();
  private inboxDrainQueued = false;
  private stuckTimer = false;
  /** Peers' inboxes whose doorbell this process rang and whose wake datagram it still owes (retryWake). */
  private readonly owedWakes = new Set<InboxRef>();
  /** Ids of the requests requestSync calls (nested ones too) are blocked on. */
  private readonly syncWaits = new Set<number>();
  /** @internal counters for tests and the bench: messages sent into inboxes / as datagrams, wake datagrams sent. */
  readonly stats = { inboxSends: 0, socketSends: 0, wakes: 0, inboxReceived: 0 };
  private readonly onExit = (): void => this.close();
  /** Called before the socket closes (the event forwarder announces a primary's exit). */
  beforeClose: (() => void) | undefined;
  /** @internal called after the channel closed (start() unhooks what it attached to the Eal). */
  afterClose: (() => void) | undefined;

  /**
   * Bind this process's socket: `mp_socket` (primary) or `mp_socket_<pid>_<hex>` (secondary).
   *
   * @throws {MpError} EBUSY — primary: a live process is bound to `mp_socket` already
   * @throws {MpError} ENAMETOOLONG — the socket path exceeds sun_path (107 bytes)
   * @throws {MpError} ENOENT — the runtime dir does not exist; EPERM — not writable
   */
  constructor(o: ChannelOptions) {
    if (typeof o.runtimeDir !== 'string' || o.runtimeDir === '') throw new MpError('EINVAL', `runtimeDir must be a directory path, got ${JSON.stringify(o.runtimeDir)}`);
    if (o.procType !== 'primary' && o.procType !== 'secondary') throw new MpError('EINVAL', `procType must be 'primary' or 'secondary', got ${String(o.procType)}`);
    this.runtimeDir = o.runtimeDir;
    this.procType = o.procType;
    this.sendTimeoutMs = numberOption('sendTimeoutMs', o.sendTimeoutMs, 2000, 0, MAX_TIMER_MS, 'ms');
    this.spinUs = numberOption('syncSpinUs', o.syncSpinUs, 50, 0, 1_000_000, 'µs');
    const busyPollUs = numberOption('busyPollUs', o.busyPollUs, 0, 0, 1_000_000, 'µs');
    const coalesce = booleanOption('coalesce', o.coalesce, false);
    const inbox = booleanOption('inbox', o.inbox, true);
    this.coalesce = coalesce && o.mpGroup === true;
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
    this.mpGroup = o.mpGroup === true;
    this.slot = inbox ? o.slot ?? -1 : -1;
    this.slotOf = o.slotOf ?? (() => undefined);
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
      // The inbox exists before the socket: a peer that can see the socket can see the inbox.
      this.inbox = this.mpGroup && this.slot >= 0 ? Inbox.create(this.path, this.slot, (slot, pid) => this.slotOf(pid) === slot) : undefined;
      try {
        this.fd = binding.open(this.path, 0o600);
      } catch (err) {
        this.inbox?.close();
        throw sysError(err, `cannot bind ${this.path}`);
      }
    } finally {
      binding.flock(o.runtimeDir, 'un', dirFd);
    }
    this.header = senderHeader({ pid: process.pid, uid: this.uid, gid: process.getgid?.() ?? 0, path: this.path });
    const wdv = new DataView(this.wakeOut.buffer);
    encode(this.wakeOut, wdv, MP_MSG, Buffer.from(WAKE_ACTION), EMPTY_U8, 0, { id: 0, flags: EXT_WAKE });
    this.watch = binding.watch(this.fd, this.records, (n) => this.onBatch(n));
    this.watch.unref();
    if (this.inbox !== undefined) this.watch.inbox(this.inbox.mz.buffer, INBOX.offPubCount, INBOX.offPolling);
    if (busyPollUs > 0) this.watch.busyPoll(busyPollUs);
    // A DPDK primary's memory-map syncs wait for every secondary's answer (5 s, also at its exit).
    if (!this.mpGroup && this.procType === 'secondary') for (const [name, h] of dpdkMallocActions()) this.internal.set(name, h);
    process.once('exit', this.onExit);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** @internal descriptors received in carrier datagrams whose inbox records have not been read yet. */
  get carriersHeld(): number {
    return this.carriers.size;
  }

  /** Whether this process receives through a shared-memory inbox (false: socket only). */
  get hasInbox(): boolean {
    return this.inbox !== undefined;
  }

  /** Names of the registered actions, sorted (for telemetry). */
  get actionNames(): string[] {
    return [...this.actions.keys()].sort();
  }

  /** Requests of this process still waiting for replies (for telemetry). */
  get pendingRequests(): number {
    return this.pending.size;
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

  /**
   * Send the message in `this.out` to the process `pid` bound at `path` (coalesced messages first, to
   * keep the order): into its inbox when it has one, else as a datagram. 0 or -errno.
   */
  private sendOut(path: string, pid: number, fds: Int32Array | null): number {
    if (this.batches.size > 0) this.flushBatches('');
    const ref = this.mpGroup && this.slot >= 0 ? this.inboxOf(path, pid) : undefined;
    if (ref !== undefined) {
      if (ref.enter(this.slot, process.pid)) {
        this.stats.inboxSends++;
        try {
          return this.sendInbox(ref, path, fds);
        } finally {
          ref.leave(this.slot);
        }
      }
      // Closed just now (its owner left): the socket says what became of it.
      this.lastRef = undefined;
      this.refs.delete(`${ref.pid}:${path}`);
    }
    this.stats.socketSends++;
    return this.sendData(path, this.out, fds);
  }

  /** The open inbox of a peer (cached; re-checked by two loads per send), or undefined: use its socket. */
  private inboxOf(path: string, pid: number): InboxRef | undefined {
    const last = this.lastRef;
    if (last !== undefined && last.path === path && (pid <= 0 || last.ref.pid === pid) && last.ref.valid()) return last.ref;
    const r = this.lookupInbox(path, pid);
    if (r !== undefined) this.lastRef = { path, ref: r };
    return r;
  }

  private lookupInbox(path: string, pid: number): InboxRef | undefined {
    if (pid <= 0) {
      const m = SECONDARY_RE.exec(path.slice(path.lastIndexOf('/') + 1));
      if (m === null) return undefined;
      pid = Number(m[1]);
    }
    const key = `${pid}:${path}`;
    let r = this.refs.get(key);
    if (r === null) return undefined;
    if (r !== undefined && r.valid()) return r;
    const slot = this.slotOf(pid);
    r = slot === undefined ? undefined : InboxRef.open(pid, slot, path);
    if (r === undefined) {
      // Not in the process table (yet): ask again next time.
      if (slot === undefined) return undefined;
      // No inbox (socket only, e.g. a small -m). Remembered only once its socket is known to be live.
      if (binding.probe(path) === 0) {
        this.refs.set(key, null);
        log('debug', 'IPC', `peer pid ${pid} (${path}) has no inbox: messages to it go over its socket`);
      }
      else this.refs.delete(key);
      return undefined;
    }
    // A fresh handle: is its owner's socket there? (An inbox is armed before its socket is bound, and
    // a dead owner's stays armed until its slot is taken: a send must not land where nobody reads.)
    if (binding.probe(path) !== 0) return undefined;
    r.probedAt = performance.now();
    if (this.refs.size > 1024) this.refs.clear();
    this.refs.set(key, r);
    log('debug', 'IPC', `peer pid ${pid} (${path}): inbox of slot ${slot} opened`);
    return r;
  }

  /**
   * Put the message in `this.out` into a peer's inbox. Descriptors go first, in a carrier datagram
   * (sendmsg returns when it is queued at the receiver, so it is there before the record is).
   * Rings the peer's doorbell when it sleeps. 0 or -errno (EAGAIN: the inbox stayed full).
   */
  private sendInbox(ref: InboxRef, path: string, fds: Int32Array | null): number {
    let cell = ref.claim(this.myPidHi);
    if (cell < 0) {
      const deadline = Date.now() + this.sendTimeoutMs;
      let tries = 0;
      do {
        // Its owner is draining (it was woken when these cells were published) or polling: make room
        // for it on a shared CPU, and keep our own queues moving (it may be blocked sending to us).
        this.drainToBacklog();
        binding.yieldCpu(tries++ < 100 ? 0 : 200);
        if (!ref.valid()) return ECONNREFUSED;
        // A full inbox whose owner died stays full: ask its socket (at most once a ms).
        const now = performance.now();
        if (now - ref.probedAt >= 1) {
          ref.probedAt = now;
          const r = binding.probe(path);
          if (r === ECONNREFUSED || r === ENOENT) return this.forgetInbox(ref, path, r);
        }
        cell = ref.claim(this.myPidHi);
      } while (cell < 0 && Date.now() < deadline);
      if (cell < 0) return EAGAIN;
    }
    // Descriptors go after the claim (so a full inbox never strands them at the owner) and before
    // the publish (so the owner finds them when it reads the record). The owner's queue waits at our
    // claimed cell meanwhile, as it would for the record itself.
    let tag = 0;
    if (fds !== null) {
      tag = this.nextCarrier;
      this.nextCarrier = this.nextCarrier >= 0x7fffffff ? 1 : this.nextCarrier + 1;
      encode(this.carrierOut, this.carrierDv, MP_MSG, CARRIER_NAME, EMPTY_U8, fds.length, { id: tag, flags: EXT_CARRIER });
      let r: number;
      try {
        r = this.sendData(path, this.carrierOut, fds);
      } catch (err) {
        this.publishVoid(ref, path, cell);
        throw err;
      }
      if (r !== 0) {
        // Not sent (a descriptor not open: EBADF; its queue stayed full: EAGAIN; its owner gone).
        this.publishVoid(ref, path, cell);
        return r === ECONNREFUSED || r === ENOENT ? this.forgetInbox(ref, path, r) : r;
      }
    }
    ref.write(cell, this.header, this.out, this.outDv.getInt32(WIRE.lenParam, true));
    if (tag !== 0) ref.setCarrier(cell, RX_INBOX_CARRIER, tag);
    const ring = ref.publish(cell, this.myPidHi);
    if (ring === undefined) return this.forgetInbox(ref, path, ECONNREFUSED); // re-armed under us: its owner is gone
    if (ring) {
      const r = this.wake(ref, path);
      if (r !== 0) return r;
    } else {
      // No wake datagram (it polls, or one is pending): a dead owner would go unnoticed, so at most
      // once a millisecond per peer ask its socket (a SIGKILLed process's socket refuses at once).
      const now = performance.now();
      if (now - ref.probedAt >= 1) {
        ref.probedAt = now;
        const r = binding.probe(path);
        if (r === ECONNREFUSED || r === ENOENT) return this.forgetInbox(ref, path, r);
      }
    }
    return 0;
  }

  /**
   * A claimed cell whose message cannot go (its carrier failed, or the send threw): publish it empty,
   * so the owner's queue moves on (the owner skips it) — and if that publish won the doorbell, wake
   * the owner as for any record: a doorbell rung without a wake datagram would leave it asleep, and
   * every later sender would see the doorbell rung and send none either.
   */
  private publishVoid(ref: InboxRef, path: string, cell: number): void {
    ref.setCarrier(cell, RX_INBOX_VOID, 0);
    if (ref.publish(cell, this.myPidHi) === true) this.wake(ref, path);
  }

  /**
   * This process won the doorbell of `ref` (it published a cell while the owner slept): send the
   * wake datagram. The doorbell is never left rung without one on its way: EAGAIN (the owner's queue
   * is full — it is readable and drains the inbox when it reads — or our own send buffer is) and
   * transient errors retry in the background until the owner has drained; a gone owner (ECONNREFUSED,
   * ENOENT) has its doorbell released and its handle dropped. 0, or that -errno.
   */
  private wake(ref: InboxRef, path: string): number {
    this.stats.wakes++;
    const r = binding.send(this.fd, this.addr(path), this.wakeOut, null, false);
    if (r === 0) return 0;
    if (r === ECONNREFUSED || r === ENOENT) {
      ref.resetDoorbell();
      return this.forgetInbox(ref, path, r);
    }
    this.retryWake(ref, path, 0);
    return 0;
  }

  /**
   * A wake datagram did not go. While the owner has not drained since (its doorbell is still rung),
   * send it again without blocking: every ms for up to sendTimeoutMs, then every 50 ms until it goes,
   * the owner drains, or the owner is gone (its doorbell released then). At close, a wake still owed
   * releases the doorbell (the owner's next sender rings again).
   */
  private retryWake(ref: InboxRef, path: string, tries: number): void {
    this.owedWakes.add(ref);
    const t = setTimeout(() => {
      this.owedWakes.delete(ref);
      if (this.closed || !ref.valid() || !ref.doorbellRung()) return;
      const r = binding.send(this.fd, this.addr(path), this.wakeOut, null, false);
      if (r === 0) return;
      if (r === ECONNREFUSED || r === ENOENT) {
        ref.resetDoorbell();
        this.forgetInbox(ref, path, r);
        return;
      }
      this.retryWake(ref, path, tries + 1);
    }, tries < this.sendTimeoutMs ? 1 : 50);
    t.unref();
  }

  /** A peer's inbox is no use (its owner is gone or unreachable): drop our handle; returns `r`. */
  private forgetInbox(ref: InboxRef, path: string, r: number): number {
    log('debug', 'IPC', `inbox of peer pid ${ref.pid} (${path}) dropped (${r === ECONNREFUSED ? 'socket stale' : r === ENOENT ? 'socket gone' : `errno ${-r}`}): falling back to its socket`);
    if (r === ECONNREFUSED) this.removeStale(path);
    this.refs.delete(`${ref.pid}:${path}`);
    this.lastRef = undefined;
    return r;
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
        this.drainToBacklog();
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
  private sendCoalesced(path: string, pid: number): number {
    const b = this.batches.get(path);
    if (b === undefined) {
      if (this.inboxOf(path, pid) !== undefined) return this.sendOut(path, pid, null); // an inbox needs no batching
      const r = this.sendOut(path, pid, null);
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
    checkOptions('sendMsg', o);
    const targets = this.targets(o.to);
    encode(this.out, this.outDv, MP_MSG, m.name, m.param, m.fds.length, NO_EXT);
    const fds = this.fdArray(m.fds);
    const coalesce = this.coalesce && fds === null;
    let sent = 0;
    for (const [path, pid] of targets) {
      const r = coalesce ? this.sendCoalesced(path, pid) : this.sendOut(path, pid, fds);
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
    checkOptions(sync ? 'requestSync' : 'request', o);
    const timeoutMs = timeoutOption(o.timeoutMs);
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
      probe: undefined,
      lost: undefined,
      done: false,
      resolve,
      reject,
    };
    encode(this.out, this.outDv, MP_REQ, m.name, m.param, m.fds.length, { id, flags: 0 });
    const fds = this.fdArray(m.fds);
    let firstErr = 0;
    for (const [path, pid] of targets) {
      const r = this.sendOut(path, pid, fds);
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
      if (timeoutMs !== Infinity) p.timer = setTimeout(() => this.finish(p, true), timeoutMs);
      for (const pid of p.waiting.values()) this.watchDeath(pid);
      // A peer whose pid is unknown (a DPDK primary nothing was received from yet) cannot be watched
      // by pid: ask its socket every 10 ms instead (a dead process's socket refuses at once).
      if ([...p.waiting.values()].some((pid) => pid <= 0)) {
        p.probe = setInterval(() => this.checkSockets(p), 10);
        p.probe.unref();
      }
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
    this.syncWaits.add(p.id);
    try {
      this.waitSync(p, timeoutOption(o.timeoutMs));
    } finally {
      this.syncWaits.delete(p.id);
    }
    if (error) throw error;
    return result!;
  }

  /** requestSync's wait: until `p` is done (replies, deaths) or its timeout. */
  private waitSync(p: Pending, timeoutMs: number): void {
    // Replies read while the request went out (a full peer queue drains ours into the backlog).
    if (!p.done) this.repliesFromBacklog();
    if (!p.done && this.inbox !== undefined) {
      this.waitSyncInbox(p, timeoutMs);
    } else if (!p.done) {
      const deadline = performance.now() + timeoutMs;
      let lastLiveness = performance.now();
      while (!p.done) {
        const left = deadline - performance.now();
        if (left <= 0) {
          this.finish(p, true);
          break;
        }
        const n = binding.recv(this.fd, this.syncRecords, Math.min(left, 10), this.spinUs);
        for (let i = 0; i < n; i++) {
          const rec = i * RECORD.size;
          const k = recordParts(this.syncDv, rec, TRUNC);
          for (let j = 0; j < k; j++) {
            const d = decodeRecord(this.syncU8, this.syncDv, rec, TRUNC, j);
            if (!this.takeWhileSync(d)) this.backlog.push(d);
          }
        }
        // No event loop runs while we block: look at the peers' liveness ourselves.
        if (!p.done && performance.now() - lastLiveness >= 10) {
          lastLiveness = performance.now();
          this.checkPeers(p);
        }
      }
      this.scheduleBacklog();
    }
  }

  /**
   * requestSync's wait with an inbox: replies come into our inbox. Spin on its pubCount (no system
   * call per check; `polling` set, so repliers send no wake datagram) for up to syncSpinUs, then
   * sleep in poll() on the socket (polling cleared, doorbell cleared, inbox drained once more: a
   * reply published after that rings). Other messages wait in the backlog, in order.
   */
  private waitSyncInbox(p: Pending, timeoutMs: number): void {
    const ib = this.inbox!;
    const t0 = performance.now();
    const deadline = t0 + timeoutMs;
    const spinUntil = t0 + this.spinUs / 1000;
    let lastLiveness = t0;
    let polling = false;
    let parked = this.backlog.length;
    try {
      while (!p.done) {
        const now = performance.now();
        if (now >= deadline) {
          this.finish(p, true);
          break;
        }
        if (now < spinUntil) {
          if (!polling) {
            ib.setPolling(true);
            polling = true;
          }
          const c0 = ib.pubCount();
          this.dispatch(this.takeInbox(), false, true);
          if (p.done) break;
          const us = Math.min((spinUntil - now) * 1000, 1000);
          const n = binding.recv(this.fd, this.syncRecords, 0, us, ib.mz.buffer, INBOX.offPubCount, c0);
          if (n > 0) this.takeSocket(this.syncU8, this.syncDv, n, false, true);
        } else {
          if (polling) {
            ib.setPolling(false);
            polling = false;
          }
          ib.clearDoorbell();
          this.dispatch(this.takeInbox(), false, true);
          if (p.done) break;
          if (ib.nonEmpty()) continue;
          const n = binding.recv(this.fd, this.syncRecords, Math.min(deadline - now, 10));
          if (n > 0) this.takeSocket(this.syncU8, this.syncDv, n, false, true);
        }
        // Replies a descriptor pull parked in the backlog.
        if (!p.done && this.backlog.length !== parked) {
          this.repliesFromBacklog();
          parked = this.backlog.length;
        }
        // No event loop runs while we block: look at the peers' liveness ourselves (every ms).
        if (!p.done && performance.now() - lastLiveness >= 1) {
          lastLiveness = performance.now();
          this.checkPeers(p);
        }
      }
    } finally {
      // What came after our last look (senders saw `polling` and did not ring) goes to the backlog
      // (inboxToBacklog clears the doorbell first).
      ib.setPolling(false);
      this.inboxToBacklog();
      this.scheduleBacklog();
    }
  }

  /**
   * While requestSync blocks: handle `d` now if it is a reply, or a request this process sent itself
   * from a requestSync still waiting (`to: process.pid`: its handler runs here, as the event loop would
   * run it for `request`); false: it waits in the backlog. A handler that does not answer before it
   * returns (a promise, a later reply()) cannot answer at all while the loop is blocked: that request
   * fails at once with ENOTSUP instead of waiting out its timeout.
   */
  private takeWhileSync(d: Decoded): boolean {
    if (!d.ok) return false;
    if (d.type === MP_REP || d.type === MP_IGN) {
      this.handle(d);
      return true;
    }
    if (d.type !== MP_REQ || d.pid !== process.pid || d.path !== this.path || d.ext === null || !this.syncWaits.has(d.ext.id)) return false;
    const peer = this.handle(d);
    const p = this.pending.get(d.ext.id);
    if (peer !== undefined && !peer.replied && p !== undefined && !p.done) {
      peer.replied = true;
      peer.abandoned = true;
      p.fail = new MpError('ENOTSUP', `requestSync to this process (pid ${process.pid}): the handler of '${d.name}' did not answer before returning, and nothing else can run while requestSync blocks the event loop; use request()`);
      this.finish(p, false);
    }
    return true;
  }

  /** Handle the replies waiting in the backlog now (requestSync: no event loop runs while it waits). */
  private repliesFromBacklog(): void {
    if (this.backlog.length === 0) return;
    const rest: Decoded[] = [];
    for (const d of this.backlog.splice(0)) {
      if (!this.takeWhileSync(d)) rest.push(d);
    }
    this.backlog.unshift(...rest);
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
    const r = this.sendOut(peer.path, peer.pid, this.fdArray(m.fds));
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
    const r = this.sendOut(peer.path, peer.pid, null);
    if (r !== 0) warnLimited(`errreply ${r}`, `error reply '${peer.action}' to ${peer.path}: ${errnoName(r)}`);
  }

  // ---- receiving ----------------------------------------------------------------------------------

  /** The watch's callback: `n` datagrams in `records`; returns the inbox's pubCount before its drain. */
  private onBatch(n: number): number {
    if (this.closed) return 0;
    if (this.inbox !== undefined) {
      const c0 = this.inbox.pubCount();
      if (n > 0) this.takeSocket(this.recU8, this.recDv, n, false, false, true);
      this.drainInbox();
      // Work left (a drain queued for later): a poll loop must call again at once, not wait for a publish.
      return this.inboxDrainQueued ? (c0 - 1) | 0 : c0;
    }
    this.onSocketBatch(n);
    return 0;
  }

  private onSocketBatch(n: number): void {
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
    if (this.inbox !== undefined) {
      this.takeSocket(u8, dv, n, true);
      return;
    }
    for (let i = 0; i < n; i++) {
      const rec = i * RECORD.size;
      const k = recordParts(dv, rec, TRUNC);
      for (let j = 0; j < k; j++) this.backlog.push(decodeRecord(u8, dv, rec, TRUNC, j));
    }
  }

  /** Pull whatever is queued on our socket (and inbox) into the backlog (during a blocked send or requestSync). */
  private drainToBacklog(): void {
    const n = binding.recv(this.fd, this.syncRecords, 0);
    this.toBacklog(this.syncU8, this.syncDv, n);
    if (this.inbox !== undefined) this.inboxToBacklog();
    this.scheduleBacklog();
  }

  // ---- inbox receiving ----------------------------------------------------------------------------

  /** An @mp-internal datagram (wake-up, descriptor carrier)? Carriers are kept for their records. */
  private internalDatagram(d: Decoded, drainFollows: boolean): boolean {
    if (!d.ok || d.ext === null || (d.ext.flags & (EXT_WAKE | EXT_CARRIER)) === 0 || d.type !== MP_MSG) return false;
    if (d.uid !== this.uid) return false; // handle() drops and logs it
    if ((d.ext.flags & EXT_CARRIER) !== 0 && d.name === CARRIER_ACTION) {
      const key = `${d.pid}:${d.ext.id}`;
      const old = this.carriers.get(key);
      if (old !== undefined) closeAll(old);
      if (this.carriers.size > 4096) this.dropCarriers();
      this.carriers.set(key, d.fds);
      return true;
    }
    if ((d.ext.flags & EXT_WAKE) !== 0 && d.name === WAKE_ACTION) {
      closeAll(d.fds);
      // Read outside the watch (a blocked send, requestSync, a carrier pull): the doorbell is still
      // rung, so no sender will ring again — clear it and drain, soon.
      if (!drainFollows) this.queueInboxDrain();
      return true;
    }
    return false;
  }

  private dropCarriers(): void {
    warnLimited('carriers', `${this.carriers.size} descriptor carriers never met their inbox records (senders died?): closed`);
    for (const fds of this.carriers.values()) closeAll(fds);
    this.carriers.clear();
  }

  /**
   * Socket datagrams when an inbox exists: carriers and wake-ups are taken here (all of a batch
   * first, so a record meets a carrier that came in the same batch); the rest are handled in order,
   * or queued (toBacklog, or a backlog is waiting: order is kept).
   */
  private takeSocket(u8: Uint8Array, dv: DataView, n: number, toBacklog: boolean, onlyReplies = false, drainFollows = false): void {
    const ds: Decoded[] = [];
    for (let i = 0; i < n; i++) {
      const rec = i * RECORD.size;
      if (isWake(u8, dv, rec, this.uid)) {
        // The common datagram between inbox peers: no decoding needed.
        if (!drainFollows) this.queueInboxDrain();
        continue;
      }
      const k = recordParts(dv, rec, TRUNC);
      for (let j = 0; j < k; j++) {
        const d = decodeRecord(u8, dv, rec, TRUNC, j);
        if (!this.internalDatagram(d, drainFollows)) ds.push(d);
      }
    }
    if (ds.length > 0) this.dispatch(ds, toBacklog, onlyReplies);
  }

  /** Handle decoded messages now, or queue them behind the backlog (toBacklog: always; onlyReplies: all but replies). */
  private dispatch(ds: Decoded[], toBacklog: boolean, onlyReplies: boolean): void {
    if (ds.length === 0) return;
    if (onlyReplies) {
      for (const d of ds) {
        if (!this.takeWhileSync(d)) this.backlog.push(d);
      }
      return;
    }
    if (toBacklog || this.backlog.length > 0) {
      for (const d of ds) this.backlog.push(d);
      if (!toBacklog) this.runBacklog();
      return;
    }
    for (const d of ds) {
      if (this.closed) {
        closeAll(d.fds);
        continue;
      }
      this.handle(d);
    }
  }

  /** Take up to one batch of records from our inbox, decoded (carriers' descriptors attached). */
  private takeInbox(force = false): Decoded[] {
    const ib = this.inbox!;
    const n = ib.drain(this.inU8, RECORDS_PER_BATCH, force);
    this.stats.inboxReceived += n;
    const ds: Decoded[] = [];
    const u8 = this.inU8;
    const dv = this.inDv;
    for (let i = 0; i < n; i++) {
      const rec = i * RECORD.size;
      const flags = dv.getInt32(rec + RECORD.flags, true);
      if ((flags & RX_INBOX_VOID) !== 0) continue; // a claim its sender could not fill
      // Descriptors are only ever the ones a carrier brought (a record's own nfds/fds would name
      // descriptors of *this* process); one 332-byte message per record.
      dv.setInt32(rec + RECORD.len, WIRE.size, true);
      dv.setInt32(rec + RECORD.flags, 0, true);
      dv.setInt32(rec + RECORD.nfds, 0, true);
      dv.setInt32(rec + RECORD.spill, -1, true);
      if ((flags & RX_INBOX_CARRIER) !== 0) {
        const pid = dv.getInt32(rec + RECORD.pid, true);
        const tag = dv.getInt32(rec + RECORD.carrier, true);
        const fds = this.carrierOf(pid, tag) ?? [];
        dv.setInt32(rec + RECORD.nfds, fds.length, true);
        for (let f = 0; f < fds.length; f++) dv.setInt32(rec + RECORD.fds + 4 * f, fds[f]!, true);
      }
      // Not a datagram: a record from an inbox is never coalesced (part 0 only).
      ds.push(decodeRecord(u8, dv, rec, TRUNC, 0));
    }
    return ds;
  }

  /** The descriptors of carrier `tag` from `pid`: already taken, or read off the socket now (it was queued first). */
  private carrierOf(pid: number, tag: number): number[] | undefined {
    const key = `${pid}:${tag}`;
    for (let round = 0; round < 1024; round++) {
      const fds = this.carriers.get(key);
      if (fds !== undefined) {
        this.carriers.delete(key);
        return fds;
      }
      const n = binding.recv(this.fd, this.pullRecords, 0);
      if (n === 0) break;
      // Everything else read here waits in the backlog, in order.
      this.takeSocket(this.pullU8, this.pullDv, n, true);
      this.scheduleBacklog();
    }
    warnLimited('carrier lost', `an inbox record from pid ${pid} lost its descriptors (carrier ${tag} not on the socket)`);
    return undefined;
  }

  /** Drain our inbox after a wake-up (doorbell cleared first: later senders ring again), handling in order. */
  private drainInbox(force = false): void {
    const ib = this.inbox;
    if (ib === undefined || this.closed) return;
    ib.clearDoorbell();
    // A record published after a pass ends finds the doorbell cleared and rings: a pass that comes
    // back short of a full batch is the last one needed.
    for (let round = 0; round < 16 && !this.closed; round++) {
      const ds = this.takeInbox(force);
      this.dispatch(ds, false, false);
      if (ds.length < RECORDS_PER_BATCH) {
        // Stopped at a claimed, unpublished cell: its claimer rings when it publishes — unless it
        // died first, so look again in 2 ms (the drain then asks whether it lives).
        if (ib.stuck && !this.stuckTimer) {
          this.stuckTimer = true;
          setTimeout(() => {
            this.stuckTimer = false;
            this.drainInbox();
          }, 2).unref();
        }
        return;
      }
    }
    // More waiting: let I/O and timers run first (fairness), then come back.
    if (!this.closed && ib.nonEmpty()) this.queueInboxDrain();
  }

  private queueInboxDrain(): void {
    if (this.inboxDrainQueued) return;
    this.inboxDrainQueued = true;
    setImmediate(() => {
      this.inboxDrainQueued = false;
      this.drainInbox();
    });
  }

  /** Everything in our inbox into the backlog (a blocked send, the end of a requestSync). */
  private inboxToBacklog(): void {
    // Doorbell first, as every drain: a wake datagram this process may never read (its sender met a
    // full socket queue, or it was read here with other datagrams) must not leave the doorbell rung.
    this.inbox!.clearDoorbell();
    // At most one inbox's worth per call (senders keep filling it): the rest is drained later.
    for (let round = 0; round <= INBOX.capacity / RECORDS_PER_BATCH; round++) {
      const ds = this.takeInbox();
      if (ds.length === 0) return;
      for (const d of ds) this.backlog.push(d);
    }
    this.queueInboxDrain();
  }

  /** A process of the group exited (@mp/eal's proc-exit): its requests end, its cached inbox handle goes. */
  onProcExit(pid: number): void {
    if (this.closed || pid === process.pid) return;
    this.peerDied(pid);
    for (const k of [...this.refs.keys()]) if (k.startsWith(`${pid}:`)) this.refs.delete(k);
    this.lastRef = undefined;
    for (const [k, fds] of this.carriers) {
      if (k.startsWith(`${pid}:`)) {
        closeAll(fds);
        this.carriers.delete(k);
      }
    }
    // A cell it claimed and never published is skipped now (what waited behind it is handled).
    if (this.inbox !== undefined) setImmediate(() => this.drainInbox(true));
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

  private handle(d: Decoded): Peer | undefined {
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
      return peer;
    }
    let ret: MpMsg | void | Promise<MpMsg | void>;
    try {
      ret = handler(msg, peer);
    } catch (err) {
      this.handlerFailed(peer, err);
      return peer;
    }
    if (ret !== null && typeof ret === 'object' && typeof (ret as Promise<unknown>).then === 'function') {
      (ret as Promise<MpMsg | void>).then(
        (v) => this.autoReply(peer, v),
        (err: unknown) => this.handlerFailed(peer, err),
      );
    } else {
      this.autoReply(peer, ret as MpMsg | void);
    }
    return peer;
  }

  private autoReply(peer: Peer, v: MpMsg | void): void {
    if (v === undefined || v === null || this.closed) return;
    if (!peer.isRequest || peer.abandoned) return;
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
    if (p.probe) clearInterval(p.probe);
    this.pending.delete(p.id);
    this.refresh();
    const r = p.reply;
    if (p.fail !== undefined) return p.reject(p.fail);
    if (p.single) {
      if (r.errors.length > 0) return p.reject(r.errors[0]!);
      if (r.nbReceived === 0) {
        if (r.nbSent === 0) return p.resolve(r); // the peer said "ignore me" (MP_IGN)
        if (closing) return p.reject(new MpError('ENOTCONN', `the IPC channel closed before '${p.name}' was answered`));
        if (timedOut) return p.reject(new MpError('ETIMEDOUT', `no reply to '${p.name}' within the timeout`));
        return p.reject(new MpError('ENOENT', `the peer of request '${p.name}' exited before replying${p.lost !== undefined ? ` (${p.lost})` : ''}`));
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
          p.lost = `pid ${pid}, socket ${path}`;
          this.removeStale(path);
          hit = true;
        }
      }
      if (hit && p.waiting.size === 0) this.finish(p, false);
    }
  }

  /**
   * requestSync's own look at its peers (no event loop runs while it blocks): pids that are gone
   * (zombies included: a killed child of this process is not reaped while we block), and the sockets
   * of peers whose pid is unknown.
   */
  private checkPeers(p: Pending): void {
    for (const pid of [...p.waiting.values()]) if (pid > 0 && processGone(pid)) this.peerDied(pid);
    if (!p.done) this.checkSockets(p);
  }

  /**
   * The peers of `p` whose pid is unknown (-1: a DPDK primary nothing was received from): one whose
   * socket refuses (its process died) or is gone ends its share of every request at once.
   */
  private checkSockets(p: Pending): void {
    for (const [path, pid] of [...p.waiting]) {
      if (pid > 0) continue;
      const r = binding.probe(path);
      if (r !== ECONNREFUSED && r !== ENOENT) continue;
      const why = `its socket ${path} ${r === ENOENT ? 'is gone' : 'refuses connections'}`;
      for (const q of [...this.pending.values()]) {
        if (q.waiting.get(path) !== pid) continue;
        q.waiting.delete(path);
        q.lost = why;
        if (q.waiting.size === 0) this.finish(q, false);
      }
      if (r === ECONNREFUSED) this.removeStale(path);
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
    for (const fds of this.carriers.values()) closeAll(fds);
    this.carriers.clear();
    binding.close(this.fd);
    this.fd = -1;
    // Wakes we can no longer send: release those doorbells, so the owners' next senders ring again.
    for (const ref of this.owedWakes) if (ref.valid()) ref.resetDoorbell();
    this.owedWakes.clear();
    this.inbox?.close();
    try {
      this.afterClose?.();
    } catch (err) {
      log('warning', 'IPC', `close: ${(err as Error).message}`);
    }
    try {
      unlinkSync(this.path);
    } catch {
      // already gone (the runtime dir was removed)
    }
  }
}

const NO_EXT = { id: 0, flags: 0 };

/** The bytes of a wake datagram after its type word: name 'mp_ipc_wake' NUL … (checked up to the NUL). */
const WAKE_NAME = new Uint8Array(Buffer.from(`${WAKE_ACTION}\0`));
/**
 * Is receive record `rec` an intact wake datagram from this uid (exactly what `encode` made of it: 332
 * bytes, no descriptors, type MSG, name mp_ipc_wake, EXT_WAKE in the extension)? Checked on the raw
 * bytes so the usual datagram between inbox peers costs no decoding.
 */
function isWake(u8: Uint8Array, dv: DataView, rec: number, uid: number): boolean {
  if (dv.getInt32(rec + RECORD.len, true) !== WIRE.size || dv.getInt32(rec + RECORD.nfds, true) !== 0) return false;
  if (dv.getInt32(rec + RECORD.flags, true) !== 0 || dv.getInt32(rec + RECORD.uid, true) !== uid) return false;
  const d = rec + RECORD.data;
  if (dv.getInt32(d + WIRE.type, true) !== MP_MSG || dv.getInt32(d + WIRE.lenParam, true) !== 0 || dv.getInt32(d + WIRE.numFds, true) !== 0) return false;
  for (let i = 0; i < WAKE_NAME.length; i++) if (u8[d + WIRE.name + i] !== WAKE_NAME[i]) return false;
  const x = d + WIRE.name + MP_MAX_NAME_LEN - EXT.size;
  return dv.getUint32(x, true) === EXT.magic && dv.getUint16(x + EXT.flags, true) === EXT_WAKE;
}
const EMPTY_U8 = new Uint8Array(0);
const CARRIER_NAME = new Uint8Array(Buffer.from(CARRIER_ACTION));

function newBatch(): Batch {
  return { buf: new Uint8Array(MAX_COALESCE * WIRE.size), n: 0 };
}

function closeAll(fds: number[]): void {
  for (const fd of fds) binding.close(fd);
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
