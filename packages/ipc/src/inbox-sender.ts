/**
 * Sending into a peer's inbox (the sender's half of inbox.ts's protocol; README "Shared-memory
 * layout: inboxes"): find and cache the peer's open inbox, claim a cell, send its descriptors ahead in
 * a carrier datagram, write and publish the record, and ring the doorbell — one wake datagram — when
 * the owner sleeps. A doorbell is never left rung without a wake datagram on its way.
 */
import { log } from '@mp/memory/internal';
import { binding } from './binding.js';
import { encode } from './codec.js';
import { EAGAIN, ECONNREFUSED, ENOENT } from './errors.js';
import { InboxRef, senderHeader } from './inbox.js';
import { CARRIER_ACTION, EXT, EXT_CARRIER, EXT_WAKE, MP_MAX_NAME_LEN, MP_MAX_PARAM_LEN, MP_MSG, MP_REP, MP_REQ, RX_INBOX_CARRIER, RX_INBOX_VOID, WAKE_ACTION, WIRE, extCheck } from './layout.js';
import { pidOfSocket } from './peers.js';
import type { Peers } from './peers.js';
import type { Transport } from './transport.js';

const EMPTY_U8 = new Uint8Array(0);
const CARRIER_NAME = new Uint8Array(Buffer.from(CARRIER_ACTION));
/** Inbox handles cached before the cache starts over. */
const REF_CACHE_MAX = 1024;
/** The largest carrier tag; tags wrap to 1 after it (0 = no carrier). */
const CARRIER_TAG_MAX = 0x7fffffff;
/** A wake that did not go is retried every ms for sendTimeoutMs, then every RETRY_SLOW_MS. */
const RETRY_SLOW_MS = 50;

/** Counters shared with the channel (telemetry, tests, the bench). */
export interface SendStats {
  inboxSends: number;
  /** Of inboxSends: messages that went as datagrams (inline wakes, or after one not read yet). */
  inlineSends: number;
  socketSends: number;
  wakes: number;
  inboxReceived: number;
  /** Messages received inline (as their own wake datagram, EXT_WAKE) by this inbox's owner. */
  inlineReceived: number;
  /** Replies read off the socket and settled from their receive record, never decoded (RECORD.fast). */
  fastReplies: number;
}

export class InboxSender {
  /** Peers' inboxes by `${pid}:${path}` (null: it has none — use its socket). */
  private readonly refs = new Map<string, InboxRef | null>();
  private lastRef: { path: string; ref: InboxRef } | undefined;
  /** Peers' inboxes whose doorbell this process rang and whose wake datagram it still owes (retryWake). */
  private readonly owedWakes = new Set<InboxRef>();
  /** The sender part of every record this process writes (its pid, uid, gid, socket path). */
  private readonly header: Uint8Array;
  private readonly myPidHi = BigInt(process.pid) << 32n;
  private readonly wakeOut = new Uint8Array(WIRE.size);
  private readonly carrierOut = new Uint8Array(WIRE.size);
  private readonly carrierDv = new DataView(this.carrierOut.buffer);
  /** Carrier tags start at random, so a restarted channel of this pid never meets an old tag's leftovers. */
  private nextCarrier = 1 + Math.floor(Math.random() * 0x3fffffff);

  constructor(
    private readonly transport: Transport,
    private readonly peers: Peers,
    /** This process's process-table slot (its word in the peers' senders tables). */
    private readonly slot: number,
    /** The process-table slot of a live process of the group, or undefined. */
    private readonly slotOf: (pid: number) => number | undefined,
    private readonly sendTimeoutMs: number,
    private readonly stats: SendStats,
    private readonly isClosed: () => boolean,
    /** Keep this process's own queues moving while a full inbox is waited on. */
    private readonly drainOwn: () => void,
    me: { uid: number; gid: number; path: string },
  ) {
    this.header = senderHeader({ pid: process.pid, uid: me.uid, gid: me.gid, path: me.path });
    encode(this.wakeOut, new DataView(this.wakeOut.buffer), MP_MSG, Buffer.from(WAKE_ACTION), EMPTY_U8, 0, { id: 0, flags: EXT_WAKE });
  }

  /**
   * Put the message `out` into the inbox of the process `pid` at `path`: 0 or -errno; undefined
   * when it has no open inbox (the caller sends to its socket).
   */
  trySend(path: string, pid: number, out: Uint8Array, lenParam: number, fds: Int32Array | null): number | undefined {
    const ref = this.inboxOf(path, pid);
    if (ref === undefined) return undefined;
    // Order per sender across datagrams and cells (layout.ts "Inline"): after a datagram the owner
    // has not begun to read yet, this one goes as a datagram too (a cell could be drained before it).
    // Nothing is written into the inbox for it, so no enter/leave.
    if (!ref.inlineRead()) {
      this.stats.inboxSends++;
      return this.sendForcedInline(ref, path, out, fds);
    }
    if (ref.enter(this.slot, process.pid)) {
      this.stats.inboxSends++;
      try {
        return this.send(ref, path, out, lenParam, fds);
      } finally {
        ref.leave(this.slot);
      }
    }
    // Closed just now (its owner left): the socket says what became of it.
    this.lastRef = undefined;
    this.refs.delete(`${ref.pid}:${path}`);
    return undefined;
  }

  /** The open inbox of a peer (cached; re-checked by two loads per send), or undefined: use its socket. */
  inboxOf(path: string, pid: number): InboxRef | undefined {
    const last = this.lastRef;
    if (last !== undefined && last.path === path && (pid <= 0 || last.ref.pid === pid) && last.ref.valid()) return last.ref;
    const r = this.lookup(path, pid);
    if (r !== undefined) this.lastRef = { path, ref: r };
    return r;
  }

  private lookup(path: string, pid: number): InboxRef | undefined {
    if (pid <= 0) {
      const p = pidOfSocket(path);
      if (p === undefined) return undefined;
      pid = p;
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
      } else this.refs.delete(key);
      return undefined;
    }
    // A fresh handle: is its owner's socket there? (An inbox is armed before its socket is bound, and
    // a dead owner's stays armed until its slot is taken: a send must not land where nobody reads.)
    if (binding.probe(path) !== 0) return undefined;
    r.probedAt = performance.now();
    if (this.refs.size > REF_CACHE_MAX) this.refs.clear();
    this.refs.set(key, r);
    log('debug', 'IPC', `peer pid ${pid} (${path}): inbox of slot ${slot} opened`);
    return r;
  }

  /**
   * Put `out` into a peer's inbox. Descriptors go first, in a carrier datagram (sendmsg returns when
   * it is queued at the receiver, so it is there before the record is). Rings the peer's doorbell
   * when it sleeps. 0 or -errno (EAGAIN: the inbox stayed full).
   */
  private send(ref: InboxRef, path: string, out: Uint8Array, lenParam: number, fds: Int32Array | null): number {
    let mustWake = false;
    // A request or reply to a sleeping owner goes *as* its wake datagram (no cell, no carrier): only
    // once our last cell was consumed (the datagram cannot overtake it) and we won the doorbell.
    const type = out[WIRE.type]!;
    if ((type === MP_REQ || type === MP_REP) && out[WIRE.type + 1] === 0 && ref.lastConsumed()) {
      const x = inlineExt(out, lenParam);
      if (x >= 0 && ref.ringIfAsleep()) {
        // The message itself, its flags with EXT_WAKE for this one send (patched in place, then put back:
        // flags and check are the extension's last 4 bytes).
        const saved = (out[x + EXT.flags]! | (out[x + EXT.flags + 1]! << 8) | (out[x + EXT.check]! << 16) | (out[x + EXT.check + 1]! << 24)) >>> 0;
        setWakeFlag(out, x);
        let r: number;
        try {
          r = binding.send(this.transport.fd, this.transport.addr(path), out, fds, false);
        } finally {
          out[x + EXT.flags] = saved & 0xff;
          out[x + EXT.flags + 1] = (saved >>> 8) & 0xff;
          out[x + EXT.check] = (saved >>> 16) & 0xff;
          out[x + EXT.check + 1] = saved >>> 24;
        }
        if (r === 0) {
          ref.sentInline();
          this.stats.inlineSends++;
          return 0;
        }
        if (r === ECONNREFUSED || r === ENOENT) {
          ref.resetDoorbell();
          return this.forget(ref, path, r);
        }
        // Not sent, and we hold the doorbell: a wake must still go (every later sender relies on it).
        if (r !== EAGAIN) {
          this.wake(ref, path);
          return r; // a descriptor not open (EBADF): the message fails as over a socket
        }
        // The owner's queue is full (it is readable): into a cell instead, then the wake owed.
        mustWake = true;
      }
    }
    let cell = ref.claim(this.myPidHi);
    if (cell < 0) {
      const deadline = Date.now() + this.sendTimeoutMs;
      let tries = 0;
      do {
        // Its owner is draining (it was woken when these cells were published) or polling: make room
        // for it on a shared CPU, and keep our own queues moving (it may be blocked sending to us).
        this.drainOwn();
        yieldFor(tries++ < 100 ? 0 : 200);
        if (!ref.valid()) return ECONNREFUSED;
        // A full inbox whose owner died stays full: ask its socket (at most once a ms).
        const r = this.probeOwner(ref, path);
        if (r !== 0) return r;
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
      this.nextCarrier = this.nextCarrier >= CARRIER_TAG_MAX ? 1 : this.nextCarrier + 1;
      encode(this.carrierOut, this.carrierDv, MP_MSG, CARRIER_NAME, EMPTY_U8, fds.length, { id: tag, flags: EXT_CARRIER });
      let r: number;
      try {
        r = this.transport.send(path, this.carrierOut, fds);
      } catch (err) {
        this.publishVoid(ref, path, cell);
        throw err;
      }
      if (r !== 0) {
        // Not sent (a descriptor not open: EBADF; its queue stayed full: EAGAIN; its owner gone).
        this.publishVoid(ref, path, cell);
        return r === ECONNREFUSED || r === ENOENT ? this.forget(ref, path, r) : r;
      }
    }
    ref.write(cell, this.header, out, lenParam);
    if (tag !== 0) ref.setCarrier(cell, RX_INBOX_CARRIER, tag);
    const ring = ref.publish(cell, this.myPidHi);
    if (ring === undefined) return this.forget(ref, path, ECONNREFUSED); // re-armed under us: its owner is gone
    if (ring || mustWake) return this.wake(ref, path);
    // No wake datagram (it polls, or one is pending): a dead owner would go unnoticed, so at most
    // once a millisecond per peer ask its socket (a SIGKILLed process's socket refuses at once).
    return this.probeOwner(ref, path);
  }

  /**
   * A message after an inline datagram the owner has not read yet: a datagram too (plain, no wake
   * flag: the doorbell is not ours), waiting for room as any socket send. 0 or -errno.
   */
  private sendForcedInline(ref: InboxRef, path: string, out: Uint8Array, fds: Int32Array | null): number {
    const r = this.transport.send(path, out, fds);
    if (r === 0) {
      ref.sentInline();
      this.stats.inlineSends++;
      return 0;
    }
    return r === ECONNREFUSED || r === ENOENT ? this.forget(ref, path, r) : r;
  }

  /** At most once a ms per peer: is the owner's socket still live? 0, or the -errno that dropped the handle. */
  private probeOwner(ref: InboxRef, path: string): number {
    const now = performance.now();
    if (now - ref.probedAt < 1) return 0;
    ref.probedAt = now;
    const r = binding.probe(path);
    return r === ECONNREFUSED || r === ENOENT ? this.forget(ref, path, r) : 0;
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
    const r = this.transport.sendNow(path, this.wakeOut);
    if (r === 0) return 0;
    if (r === ECONNREFUSED || r === ENOENT) {
      ref.resetDoorbell();
      return this.forget(ref, path, r);
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
      if (this.isClosed() || !ref.valid() || !ref.doorbellRung()) return;
      const r = this.transport.sendNow(path, this.wakeOut);
      if (r === 0) return;
      if (r === ECONNREFUSED || r === ENOENT) {
        ref.resetDoorbell();
        this.forget(ref, path, r);
        return;
      }
      this.retryWake(ref, path, tries + 1);
    }, tries < this.sendTimeoutMs ? 1 : RETRY_SLOW_MS);
    t.unref();
  }

  /** A peer's inbox is no use (its owner is gone or unreachable): drop our handle; returns `r`. */
  private forget(ref: InboxRef, path: string, r: number): number {
    log('debug', 'IPC', `inbox of peer pid ${ref.pid} (${path}) dropped (${r === ECONNREFUSED ? 'socket stale' : r === ENOENT ? 'socket gone' : `errno ${-r}`}): falling back to its socket`);
    if (r === ECONNREFUSED) this.peers.removeStale(path);
    this.refs.delete(`${ref.pid}:${path}`);
    this.lastRef = undefined;
    return r;
  }

  /** A process of the group exited: its cached handles go. */
  forgetPid(pid: number): void {
    for (const k of [...this.refs.keys()]) if (k.startsWith(`${pid}:`)) this.refs.delete(k);
    this.lastRef = undefined;
  }

  /** The channel closes: wakes it can no longer send release their doorbells (the owners' next senders ring again). */
  close(): void {
    for (const ref of this.owedWakes) if (ref.valid()) ref.resetDoorbell();
    this.owedWakes.clear();
  }
}

/**
 * sched_yield once, then keep yielding for up to `us` µs: the owner of a full inbox (or a peer it is
 * blocked on) gets this CPU at once when it shares it. The loop is here, not native: it is policy, and
 * each round is a system call either way (the N-API call adds well under a µs to it).
 */
function yieldFor(us: number): void {
  const until = performance.now() + us / 1000;
  do {
    binding.yieldCpu();
  } while (performance.now() < until);
}

/** Where the encoded message `out` carries its extension (byte offset), or -1: none (no room: it goes into a cell). */
function inlineExt(out: Uint8Array, lenParam: number): number {
  const at = out[WIRE.name + EXT.nameRoomMax] === 0 ? WIRE.name + MP_MAX_NAME_LEN - EXT.size : lenParam <= EXT.paramRoomMax ? WIRE.param + MP_MAX_PARAM_LEN - EXT.size : -1;
  if (at < 0) return -1;
  const magic = (out[at]! | (out[at + 1]! << 8) | (out[at + 2]! << 16) | (out[at + 3]! << 24)) >>> 0;
  return magic === EXT.magic ? at : -1;
}

/** EXT_WAKE into the flags of the extension at `x` of `out`, its check word recomputed (little-endian, as encode wrote them). */
function setWakeFlag(out: Uint8Array, x: number): void {
  const id = (out[x + EXT.id]! | (out[x + EXT.id + 1]! << 8) | (out[x + EXT.id + 2]! << 16) | (out[x + EXT.id + 3]! << 24)) >>> 0;
  const flags = (out[x + EXT.flags]! | (out[x + EXT.flags + 1]! << 8) | EXT_WAKE) & 0xffff;
  const check = extCheck(id, flags);
  out[x + EXT.flags] = flags & 0xff;
  out[x + EXT.flags + 1] = flags >>> 8;
  out[x + EXT.check] = check & 0xff;
  out[x + EXT.check + 1] = check >>> 8;
}
