/**
 * The channel: one bound datagram socket per process, in the group's runtime dir, as DPDK's rte_mp,
 * and (in @mp groups) one shared-memory inbox. This file wires the parts and routes each send:
 *
 * - peers.ts — who the peers are, where a message without `to` goes
 * - transport.ts — the socket: bind, send (waiting out a full peer queue)
 * - inbox-sender.ts / inbox-owner.ts — writing into peers' inboxes / draining our own
 * - coalesce.ts — one-way messages batched into few datagrams (opt-in)
 * - receive.ts — the socket's batches, decoding, the backlog
 * - handlers.ts — actions, replies, error replies
 * - requests.ts — request/reply matching, timeouts, peer death, requestSync's blocking wait
 */
import { unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { MpError } from '@mp/memory';
import { log } from '@mp/memory/internal';
import { binding } from './binding.js';
import type { WatchHandle } from './binding.js';
import { checkMsg, encode } from './codec.js';
import type { MpMsg } from './codec.js';
import { Coalescer } from './coalesce.js';
import { ECONNREFUSED, ENOENT, errnoName, sendError } from './errors.js';
import { Handlers, Peer } from './handlers.js';
import type { ActionHandler } from './handlers.js';
import { Inbox } from './inbox.js';
import { InboxOwner } from './inbox-owner.js';
import { InboxSender } from './inbox-sender.js';
import type { SendStats } from './inbox-sender.js';
import { INBOX, MP_MSG, SUN_PATH_MAX, WIRE } from './layout.js';
import { dpdkMallocActions } from './malloc-mp.js';
import { MAX_TIMER_MS, booleanOption, checkOptions, numberOption } from './options.js';
import { Peers, socketName } from './peers.js';
import { Receiver } from './receive.js';
import { Requests } from './requests.js';
import type { MpReply, RequestOptions } from './requests.js';
import { Transport, bindSocket } from './transport.js';

export { Peer } from './handlers.js';
export type { ActionHandler } from './handlers.js';
export type { MpReply, RequestOptions } from './requests.js';

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

/** Bounds of the µs options (syncSpinUs, busyPollUs). */
const MAX_SPIN_US = 1_000_000;
const NO_EXT = { id: 0, flags: 0 };

export class Channel {
  readonly runtimeDir: string;
  readonly procType: 'primary' | 'secondary';
  /** This process's socket path. */
  readonly path: string;
  /** @internal counters for tests and the bench: messages sent to inbox owners (inline: of those, as datagrams) / to sockets, wake datagrams sent, messages received from the inbox / inline. */
  readonly stats: SendStats = { inboxSends: 0, inlineSends: 0, socketSends: 0, wakes: 0, inboxReceived: 0, inlineReceived: 0, fastReplies: 0 };
  /** @internal this process's uid: every datagram and record must carry it */
  readonly uid = process.getuid?.() ?? 0;
  /** @internal the encode buffer of the message being sent */
  readonly out = new Uint8Array(WIRE.size);
  /** @internal */ readonly outDv = new DataView(this.out.buffer);
  /** @internal the parts (see the file comment) */
  readonly peers: Peers;
  /** @internal */ readonly transport: Transport;
  /** @internal */ readonly receiver: Receiver;
  /** @internal */ readonly handlers: Handlers;
  /** @internal */ readonly requests: Requests;
  /** @internal our inbox (undefined: socket only) */ readonly owner: InboxOwner | undefined;
  /** @internal peers' inboxes (undefined: this process writes into none) */ private readonly sender: InboxSender | undefined;
  private readonly coalescer: Coalescer | undefined;
  private readonly watch: WatchHandle;
  private closed = false;
  /** The watch keeps the event loop alive (see refresh). */
  private refd = false;
  private readonly onExit = (): void => this.close();
  /** Called before the socket closes (the event forwarder announces a primary's exit). */
  beforeClose: (() => void) | undefined;
  /** @internal called after the channel closed (start() unhooks what it attached to the Eal). */
  afterClose: (() => void) | undefined;

  /**
   * Bind this process's socket: `mp_socket` (primary) or `mp_socket_<pid>_<hex>` (secondary).
   *
   * @throws {MpError} EINVAL — a bad option (named in the message)
   * @throws {MpError} EBUSY — primary: a live process is bound to `mp_socket` already
   * @throws {MpError} ENAMETOOLONG — the socket path exceeds sun_path (107 bytes)
   * @throws {MpError} ENOENT — the runtime dir does not exist; EPERM — not writable
   */
  constructor(o: ChannelOptions) {
    if (typeof o.runtimeDir !== 'string' || o.runtimeDir === '') throw new MpError('EINVAL', `runtimeDir must be a directory path, got ${JSON.stringify(o.runtimeDir)}`);
    if (o.procType !== 'primary' && o.procType !== 'secondary') throw new MpError('EINVAL', `procType must be 'primary' or 'secondary', got ${String(o.procType)}`);
    this.runtimeDir = o.runtimeDir;
    this.procType = o.procType;
    const sendTimeoutMs = numberOption('sendTimeoutMs', o.sendTimeoutMs, 2000, 0, MAX_TIMER_MS, 'ms');
    const spinUs = numberOption('syncSpinUs', o.syncSpinUs, 50, 0, MAX_SPIN_US, 'µs');
    const busyPollUs = numberOption('busyPollUs', o.busyPollUs, 0, 0, MAX_SPIN_US, 'µs');
    const coalesce = booleanOption('coalesce', o.coalesce, false);
    const inbox = booleanOption('inbox', o.inbox, true);
    const mpGroup = o.mpGroup === true;
    this.path = join(o.runtimeDir, socketName(o.procType));
    if (Buffer.byteLength(this.path) >= SUN_PATH_MAX) {
      throw new MpError('ENAMETOOLONG', `socket path ${this.path} is ${Buffer.byteLength(this.path)} bytes (sun_path holds ${SUN_PATH_MAX - 1}); use a shorter runtime dir`);
    }
    const slot = inbox ? o.slot ?? -1 : -1;
    const slotOf = o.slotOf ?? (() => undefined);
    this.peers = new Peers(o.runtimeDir, this.path, o.procType, o.primaryPid ?? (() => undefined));
    let ib: Inbox | undefined;
    // The inbox exists before the socket: a peer that can see the socket can see the inbox.
    const fd = bindSocket(
      o.runtimeDir,
      this.path,
      () => (ib = mpGroup && slot >= 0 ? Inbox.create(this.path, slot, (s, pid) => slotOf(pid) === s) : undefined),
      () => ib?.close(),
    );
    this.receiver = new Receiver(this);
    this.transport = new Transport(fd, sendTimeoutMs, this.peers, () => this.receiver.drainToBacklog());
    this.handlers = new Handlers(this);
    this.requests = new Requests(this, spinUs);
    this.owner = ib === undefined ? undefined : new InboxOwner(ib, this);
    this.sender = mpGroup && slot >= 0
      ? new InboxSender(this.transport, this.peers, slot, slotOf, sendTimeoutMs, this.stats, () => this.closed, () => this.receiver.drainToBacklog(), {
          uid: this.uid,
          gid: process.getgid?.() ?? 0,
          path: this.path,
        })
      : undefined;
    this.coalescer = coalesce && mpGroup ? new Coalescer(this.transport) : undefined;
    this.watch = binding.watch(fd, this.receiver.records.buffer, (n) => this.receiver.onBatch(n));
    this.watch.unref();
    if (this.owner !== undefined) this.watch.inbox(this.owner.inbox.mz.buffer, INBOX.offPubCount, INBOX.offPolling, INBOX.offReadEpoch);
    if (busyPollUs > 0) this.watch.busyPoll(busyPollUs);
    // A DPDK primary's memory-map syncs wait for every secondary's answer (5 s, also at its exit).
    if (!mpGroup && this.procType === 'secondary') for (const [name, h] of dpdkMallocActions()) this.handlers.internalAction(name, h);
    process.once('exit', this.onExit);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** @internal descriptors received in carrier datagrams whose inbox records have not been read yet. */
  get carriersHeld(): number {
    return this.owner?.carriersHeld ?? 0;
  }

  /** Whether this process receives through a shared-memory inbox (false: socket only). */
  get hasInbox(): boolean {
    return this.owner !== undefined;
  }

  /** Names of the registered actions, sorted (for telemetry). */
  get actionNames(): string[] {
    return [...this.handlers.actions.keys()].sort();
  }

  /** Requests of this process still waiting for replies (for telemetry). */
  get pendingRequests(): number {
    return this.requests.pending.size;
  }

  // ---- actions ------------------------------------------------------------------------------------

  /** @see actionRegister */
  actionRegister(name: string, handler: ActionHandler): void {
    this.assertOpen();
    this.handlers.register(name, handler);
    this.refresh();
  }

  /** @see actionUnregister */
  actionUnregister(name: string): boolean {
    const had = this.handlers.unregister(name);
    this.refresh();
    return had;
  }

  /** @internal actions of @mp itself (event forwarding); not listed, not unregistrable by users */
  internalAction(name: string, handler: ActionHandler): void {
    this.handlers.internalAction(name, handler);
  }

  /** @internal Keep the event loop alive while actions are registered or requests are pending. */
  refresh(): void {
    if (this.closed) return;
    const want = this.handlers.actions.size > 0 || this.requests.pending.size > 0;
    if (want === this.refd) return;
    this.refd = want;
    if (want) this.watch.ref();
    else this.watch.unref();
  }

  // ---- peers --------------------------------------------------------------------------------------

  /** The secondaries' sockets in the runtime dir (pid → path), re-read when the directory changed. */
  secondaries(force = false): Map<number, string> {
    return this.peers.secondaries(force);
  }

  /** The primary's pid: from @mp/eal, else learned from the credentials of its datagrams. */
  primaryPid(): number | undefined {
    return this.peers.primaryPid();
  }

  /** A process of the group exited (@mp/eal's proc-exit): its requests end, its cached inbox handle goes. */
  onProcExit(pid: number): void {
    if (this.closed || pid === process.pid) return;
    this.requests.peerDied(pid);
    this.sender?.forgetPid(pid);
    // A cell it claimed and never published is skipped now (what waited behind it is handled).
    this.owner?.forgetPid(pid);
  }

  // ---- sending ------------------------------------------------------------------------------------

  /**
   * @internal Send the message in `this.out` to the process `pid` bound at `path` (coalesced messages
   * first, to keep the order): into its inbox when it has one, else as a datagram. 0 or -errno.
   */
  sendOut(path: string, pid: number, fds: Int32Array | null): number {
    if (this.coalescer?.open === true) this.coalescer.flush('');
    if (this.sender !== undefined) {
      const r = this.sender.trySend(path, pid, this.out, this.outDv.getInt32(WIRE.lenParam, true), fds);
      if (r !== undefined) return r;
    }
    this.stats.socketSends++;
    return this.transport.send(path, this.out, fds);
  }

  /** A one-way message in `this.out` (no fds) through the coalescer: batched unless the peer has an inbox. */
  private sendCoalesced(c: Coalescer, path: string, pid: number): number {
    const queued = c.add(path, this.out);
    if (queued !== undefined) return queued;
    // An inbox needs no batching; otherwise the first message of a run goes at once (a missing peer throws now).
    if (this.sender?.inboxOf(path, pid) !== undefined) return this.sendOut(path, pid, null);
    const r = this.sendOut(path, pid, null);
    if (r === 0) c.opened(path);
    return r;
  }

  /** @see sendMsg (module function) */
  sendMsg(msg: MpMsg, o: SendOptions = {}): number {
    this.assertOpen();
    const m = checkMsg(msg);
    checkOptions('sendMsg', o);
    const targets = this.peers.targets(o.to);
    encode(this.out, this.outDv, MP_MSG, m.name, m.param, m.fds.length, NO_EXT);
    const fds = m.fds.length === 0 ? null : Int32Array.from(m.fds);
    const c = fds === null ? this.coalescer : undefined;
    let sent = 0;
    for (const [path, pid] of targets) {
      const r = c !== undefined ? this.sendCoalesced(c, path, pid) : this.sendOut(path, pid, fds);
      if (r === 0) {
        sent++;
        continue;
      }
      if (targets.length === 1) throw sendError(r, msg.name, path);
      if (r !== ECONNREFUSED && r !== ENOENT) log('warning', 'IPC', `sendMsg '${msg.name}' to ${path}: ${errnoName(r)}`);
    }
    return sent;
  }

  /** @see request (module function) */
  request(msg: MpMsg, o: RequestOptions = {}): Promise<MpReply> {
    return this.requests.request(msg, o);
  }

  /** @see requestSync (module function) */
  requestSync(msg: MpMsg, o: RequestOptions = {}): MpReply {
    return this.requests.requestSync(msg, o);
  }

  /** @see reply (module function) */
  reply(msg: MpMsg, peer: Peer): void {
    this.assertOpen();
    this.handlers.reply(msg, peer);
  }

  // ---- lifetime -----------------------------------------------------------------------------------

  /** @internal @throws {MpError} ENOTCONN — closed */
  assertOpen(): void {
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
    if (this.coalescer?.open === true) this.coalescer.flush('');
    this.closed = true;
    process.removeListener('exit', this.onExit);
    this.requests.close();
    this.watch.close();
    this.receiver.close();
    this.transport.close();
    this.sender?.close();
    this.owner?.close();
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
