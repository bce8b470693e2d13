/**
 * Requests (rte_mp_request_async / rte_mp_request_sync): sending one to each target, matching the
 * replies (by request id, or DPDK's way by peer and name), timeouts, and the death of a peer ending
 * its share at once. `requestSync` blocks the event loop, so it reads its own replies and watches its
 * peers itself; everything else it reads waits in the backlog, in order.
 */
import { MpError } from '@mp/memory';
import { processGone, watchPid } from '@mp/memory/internal';
import { binding } from './binding.js';
import { checkMsg, decodeError, decodeRecord, encode, extOffset, pathLenOf, pathOf, recordParts } from './codec.js';
import type { Decoded, MpMsg, ReceivedMsg } from './codec.js';
import type { Channel } from './channel.js';
import { ECONNREFUSED, ENOENT, MpIpcRemoteError, sendError } from './errors.js';
import { EXT, EXT_ERROR, INBOX, MP_IGN, MP_REP, MP_REQ, RECORD, RECORDS_PER_BATCH, WIRE } from './layout.js';
import { checkOptions, timeoutOption } from './options.js';
import { TRUNC, closeAll } from './receive.js';
import { PendingTable, Waiting } from './tables.js';
import { logDrop } from './warn.js';

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

interface Pending {
  id: number;
  /** Order of creation (PendingTable lists the oldest first). */
  readonly seq: number;
  name: string;
  /** The name's bytes (a reply read from a record is matched by them). */
  nameBytes: Uint8Array;
  /** path → pid (-1 unknown) of peers that have not answered */
  waiting: Waiting;
  reply: MpReply;
  single: boolean;
  /** When an async request times out (performance.now() ms; Infinity: never; requestSync keeps its own). */
  deadline: number;
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

/** Request ids are u32, 0 = none. */
const REQUEST_ID_MAX = 0xffffffff;
/** How often peers of unknown pid have their sockets asked (async), and a blocked requestSync without inbox looks at liveness. */
const PROBE_MS = 10;
/** How often requestSync with an inbox looks at its peers' liveness. */
const SYNC_LIVENESS_MS = 1;
/** The longest single spin of requestSync between liveness looks (µs). */
const SYNC_SPIN_SLICE_US = 1000;

export class Requests {
  readonly pending = new PendingTable<Pending>();
  private nextId = 1;
  private nextSeq = 0;
  private readonly deathWatch = new Map<number, { close(): void }>();
  /** Ids of the requests requestSync calls (nested ones too) are blocked on. */
  private readonly syncWaits = new Set<number>();
  /** The timeout timer of async requests (see armTimeout) and the deadline it is armed for. */
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;

  constructor(
    private readonly ch: Channel,
    /** requestSync re-tries this long (µs) before sleeping in poll(). */
    private readonly spinUs: number,
  ) {}

  /** @see rte_mp_request_async (index.ts documents the errors) */
  request(msg: MpMsg, o: RequestOptions = {}): Promise<MpReply> {
    return new Promise<MpReply>((resolve, reject) => {
      this.start(msg, o, false, resolve, reject);
    });
  }

  /** @see rte_mp_request_sync (index.ts documents the errors) */
  requestSync(msg: MpMsg, o: RequestOptions = {}): MpReply {
    let result: MpReply | undefined;
    let error: Error | undefined;
    const p = this.start(msg, o, true, (r) => (result = r), (e) => (error = e));
    this.syncWaits.add(p.id);
    try {
      this.waitSync(p, timeoutOption(o.timeoutMs));
    } finally {
      this.syncWaits.delete(p.id);
    }
    if (error) throw error;
    return result!;
  }

  /** Send one request to each target; returns the pending entry (done when nothing was sent). */
  private start(msg: MpMsg, o: RequestOptions, sync: boolean, resolve: (r: MpReply) => void, reject: (e: Error) => void): Pending {
    const ch = this.ch;
    ch.assertOpen();
    const m = checkMsg(msg);
    checkOptions(sync ? 'requestSync' : 'request', o);
    const timeoutMs = timeoutOption(o.timeoutMs);
    const targets = ch.peers.targets(o.to);
    const id = this.nextId;
    this.nextId = this.nextId >= REQUEST_ID_MAX ? 1 : this.nextId + 1;
    const p: Pending = {
      id,
      seq: this.nextSeq++,
      name: msg.name,
      nameBytes: m.name,
      waiting: new Waiting(),
      reply: { nbSent: 0, nbReceived: 0, msgs: [], errors: [] },
      single: o.to !== undefined || ch.procType === 'secondary',
      deadline: sync || timeoutMs === Infinity ? Infinity : performance.now() + timeoutMs,
      probe: undefined,
      lost: undefined,
      done: false,
      resolve,
      reject,
    };
    encode(ch.out, ch.outDv, MP_REQ, m.name, m.param, m.fds.length, { id, flags: 0 });
    const fds = m.fds.length === 0 ? null : Int32Array.from(m.fds);
    // The bookkeeping goes before the sends: a peer woken by one may take this CPU at once, and what
    // is left to do here would then wait for it (its reply is only handled from the event loop or
    // requestSync's wait, never before this returns).
    this.pending.set(id, p);
    if (p.deadline !== Infinity) this.armTimeout(p.deadline);
    let firstErr = 0;
    try {
      for (const [path, pid] of targets) {
        const r = ch.sendOut(path, pid, fds);
        if (r === 0) {
          p.reply.nbSent++;
          p.waiting.set(path, pid);
        } else if (firstErr === 0) {
          firstErr = r;
        }
      }
    } catch (err) {
      this.pending.delete(id);
      throw err;
    }
    if (p.reply.nbSent === 0) this.pending.delete(id);
    if (p.single && p.reply.nbSent === 0) {
      p.done = true;
      const path = targets[0]![0];
      reject(firstErr === ECONNREFUSED || firstErr === ENOENT ? new MpError('ENOENT', `no peer at ${path} (its process is gone)`) : sendError(firstErr, msg.name, path));
      return p;
    }
    if (p.reply.nbSent === 0) {
      p.done = true;
      resolve(p.reply);
      return p;
    }
    if (!sync) {
      let unknown = false;
      const one = p.waiting.onlyPid();
      if (one !== undefined) {
        if (one > 0) this.watchDeath(one);
        else unknown = true;
      } else {
        for (const [, pid] of p.waiting.entries()) {
          if (pid > 0) this.watchDeath(pid);
          else unknown = true;
        }
      }
      // A peer whose pid is unknown (a DPDK primary nothing was received from yet) cannot be watched
      // by pid: ask its socket every 10 ms instead (a dead process's socket refuses at once).
      if (unknown) {
        p.probe = setInterval(() => this.checkSockets(p), PROBE_MS);
        p.probe.unref();
      }
      ch.refresh();
    }
    return p;
  }

  /**
   * One timer for every async request's timeout (a timer per request cost more than the rest of a
   * request's bookkeeping): armed for the earliest deadline; when it fires, requests past theirs end
   * with what they have and it is armed for the next. Unref'd: pending requests keep the event loop
   * alive through the channel's watch, and a process with none left need not wait for it.
   */
  private armTimeout(deadline: number): void {
    if (deadline >= this.timerAt) return;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timerAt = deadline;
    this.timer = setTimeout(this.onTimer, Math.max(0, Math.ceil(deadline - performance.now())));
    this.timer.unref();
  }

  private readonly onTimer = (): void => {
    this.timer = undefined;
    this.timerAt = Infinity;
    const now = performance.now();
    let next = Infinity;
    for (const p of this.pending.values()) {
      if (p.deadline <= now) this.finish(p, true);
      else if (p.deadline < next) next = p.deadline;
    }
    if (next !== Infinity) this.armTimeout(next);
  };

  /** requestSync's wait: until `p` is done (replies, deaths) or its timeout. */
  private waitSync(p: Pending, timeoutMs: number): void {
    // Replies read while the request went out (a full peer queue drains ours into the backlog).
    if (!p.done) this.repliesFromBacklog();
    if (p.done) return;
    if (this.ch.owner !== undefined) {
      this.waitSyncInbox(p, timeoutMs);
      return;
    }
    const ch = this.ch;
    const rx = ch.receiver;
    const b = rx.aside;
    const deadline = performance.now() + timeoutMs;
    let lastLiveness = performance.now();
    while (!p.done) {
      const left = deadline - performance.now();
      if (left <= 0) {
        this.finish(p, true);
        break;
      }
      const n = binding.recv(ch.transport.fd, b.buffer, Math.min(left, PROBE_MS), this.spinUs);
      for (let i = 0; i < n; i++) {
        const rec = i * RECORD.size;
        const k = recordParts(b.dv, rec, TRUNC);
        for (let j = 0; j < k; j++) {
          const d = decodeRecord(b.u8, b.dv, rec, TRUNC, j);
          if (!this.takeWhileSync(d)) rx.backlog.push(d);
        }
      }
      // No event loop runs while we block: look at the peers' liveness ourselves.
      if (!p.done && performance.now() - lastLiveness >= PROBE_MS) {
        lastLiveness = performance.now();
        this.checkPeers(p);
      }
    }
    rx.scheduleBacklog();
  }

  /**
   * requestSync's wait with an inbox: replies come into our inbox. Spin on its pubCount (no system
   * call per check; `polling` set, so repliers send no wake datagram) for up to syncSpinUs, then
   * sleep in poll() on the socket (polling cleared, doorbell cleared, inbox drained once more: a
   * reply published after that rings). Other messages wait in the backlog, in order.
   */
  private waitSyncInbox(p: Pending, timeoutMs: number): void {
    const ch = this.ch;
    const owner = ch.owner!;
    const ib = owner.inbox;
    const rx = ch.receiver;
    const b = rx.aside;
    const t0 = performance.now();
    const deadline = t0 + timeoutMs;
    const spinUntil = t0 + this.spinUs / 1000;
    let lastLiveness = t0;
    let polling = false;
    let parked = rx.backlog.length;
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
          rx.dispatch(owner.take(), false, true);
          if (p.done) break;
          const us = Math.min((spinUntil - now) * 1000, SYNC_SPIN_SLICE_US);
          ib.beforeRead();
          const n = binding.recv(ch.transport.fd, b.buffer, 0, us, ib.mz.buffer, INBOX.offPubCount, c0);
          if (n > 0) rx.takeSocket(b, n, false, true);
          this.readOnWhileFull(n);
        } else {
          if (polling) {
            ib.setPolling(false);
            polling = false;
          }
          ib.clearDoorbell();
          rx.dispatch(owner.take(), false, true);
          if (p.done) break;
          if (ib.nonEmpty()) continue;
          ib.beforeRead();
          const n = binding.recv(ch.transport.fd, b.buffer, Math.min(deadline - now, PROBE_MS));
          if (n > 0) rx.takeSocket(b, n, false, true);
          this.readOnWhileFull(n);
        }
        // Replies a descriptor pull parked in the backlog.
        if (!p.done && rx.backlog.length !== parked) {
          this.repliesFromBacklog();
          parked = rx.backlog.length;
        }
        // No event loop runs while we block: look at the peers' liveness ourselves (every ms).
        if (!p.done && performance.now() - lastLiveness >= SYNC_LIVENESS_MS) {
          lastLiveness = performance.now();
          this.checkPeers(p);
        }
      }
    } finally {
      // What came after our last look (senders saw `polling` and did not ring) goes to the backlog
      // (toBacklog clears the doorbell first).
      ib.setPolling(false);
      owner.toBacklog();
      rx.scheduleBacklog();
    }
  }

  /** requestSync with an inbox: after a read that came back full, read on before any cell is drained (Inbox.beforeRead). */
  private readOnWhileFull(n: number): void {
    const rx = this.ch.receiver;
    while (n === RECORDS_PER_BATCH) {
      n = rx.readOwn(rx.aside);
      if (n > 0) rx.takeSocket(rx.aside, n, false, true);
    }
  }

  /**
   * While requestSync blocks: handle `d` now if it is a reply, or a request this process sent itself
   * from a requestSync still waiting (`to: process.pid`: its handler runs here, as the event loop would
   * run it for `request`); false: it waits in the backlog. A handler that does not answer before it
   * returns (a promise, a later reply()) cannot answer at all while the loop is blocked: that request
   * fails at once with ENOTSUP instead of waiting out its timeout.
   */
  takeWhileSync(d: Decoded): boolean {
    if (!d.ok) return false;
    const ch = this.ch;
    if (d.type === MP_REP || d.type === MP_IGN) {
      ch.handlers.handle(d);
      return true;
    }
    if (d.type !== MP_REQ || d.pid !== process.pid || d.path !== ch.path || d.ext === null || !this.syncWaits.has(d.ext.id)) return false;
    const peer = ch.handlers.handle(d);
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
    const backlog = this.ch.receiver.backlog;
    if (backlog.length === 0) return;
    const rest: Decoded[] = [];
    for (const d of backlog.splice(0)) {
      if (!this.takeWhileSync(d)) rest.push(d);
    }
    backlog.unshift(...rest);
  }

  /**
   * A reply read off the socket, settled from its receive record without decoding it: the addon
   * checked the datagram (RECORD.fast: FAST_OK | FAST_EXT, type REP), the caller that it comes from
   * this uid. Only when it carries the id of a pending request that waits on its sender, under the
   * request's name; returns its extension flags, or -1 (not taken: decode it and go through
   * handlers as any message — onReply then decides as before).
   */
  replyFromRecord(u8: Uint8Array, dv: DataView, rec: number, fast: number): number {
    const ch = this.ch;
    if (ch.isClosed) return -1;
    const d = rec + RECORD.data;
    const nameLen = (fast >>> 8) & 0xff;
    const lenParam = dv.getInt32(d + WIRE.lenParam, true);
    const x = d + extOffset(nameLen, lenParam);
    const id = dv.getUint32(x + EXT.id, true);
    const p = id === 0 ? undefined : this.pending.get(id);
    if (p === undefined || p.nameBytes.length !== nameLen) return -1;
    const nb = p.nameBytes;
    for (let i = 0; i < nameLen; i++) if (u8[d + WIRE.name + i] !== nb[i]) return -1;
    const path = pathOf(u8, rec + RECORD.path, pathLenOf(dv, rec));
    if (!p.waiting.has(path)) return -1;
    const pid = dv.getInt32(rec + RECORD.pid, true);
    const flags = dv.getUint16(x + EXT.flags, true);
    const nfds = dv.getInt32(rec + RECORD.nfds, true);
    const fds: number[] = [];
    for (let i = 0; i < nfds; i++) fds.push(dv.getInt32(rec + RECORD.fds + 4 * i, true));
    ch.peers.saw(pid, path);
    ch.stats.fastReplies++;
    this.settle(p, path, pid, false, flags, u8.slice(d + WIRE.param, d + WIRE.param + lenParam), fds);
    return flags;
  }

  /** A reply (or DPDK's MP_IGN) came: it goes to its request. */
  onReply(d: Extract<Decoded, { ok: true }>): void {
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
    this.settle(p, d.path, d.pid, d.type === MP_IGN, d.ext?.flags ?? 0, d.param, d.fds);
  }

  /** The answer of the peer at `path` to `p` (its name is p's): counted, then `p` finishes when none is left. */
  private settle(p: Pending, path: string, pid: number, ignore: boolean, extFlags: number, param: Uint8Array, fds: number[]): void {
    p.waiting.delete(path);
    if (ignore) {
      p.reply.nbSent--;
    } else if ((extFlags & EXT_ERROR) !== 0) {
      const { code, message } = decodeError(param);
      p.reply.errors.push(new MpIpcRemoteError(p.name, pid, code, message));
    } else {
      p.reply.msgs.push({ name: p.name, param, fds });
      p.reply.nbReceived++;
    }
    if (p.waiting.size === 0) this.finish(p, false);
  }

  /** Settle a request with what it has. */
  private finish(p: Pending, timedOut: boolean, closing = false): void {
    if (p.done) return;
    p.done = true;
    if (p.probe) clearInterval(p.probe);
    this.pending.delete(p.id);
    this.ch.refresh();
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
  peerDied(pid: number): void {
    this.deathWatch.get(pid)?.close();
    this.deathWatch.delete(pid);
    for (const p of this.pending.values()) {
      let hit = false;
      for (const [path, wpid] of p.waiting.entries()) {
        if (wpid === pid) {
          p.waiting.delete(path);
          p.lost = `pid ${pid}, socket ${path}`;
          this.ch.peers.removeStale(path);
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
    for (const [, pid] of p.waiting.entries()) if (pid > 0 && processGone(pid)) this.peerDied(pid);
    if (!p.done) this.checkSockets(p);
  }

  /**
   * The peers of `p` whose pid is unknown (-1: a DPDK primary nothing was received from): one whose
   * socket refuses (its process died) or is gone ends its share of every request at once.
   */
  private checkSockets(p: Pending): void {
    for (const [path, pid] of p.waiting.entries()) {
      if (pid > 0) continue;
      const r = binding.probe(path);
      if (r !== ECONNREFUSED && r !== ENOENT) continue;
      const why = `its socket ${path} ${r === ENOENT ? 'is gone' : 'refuses connections'}`;
      for (const q of this.pending.values()) {
        if (q.waiting.get(path) !== pid) continue;
        q.waiting.delete(path);
        q.lost = why;
        if (q.waiting.size === 0) this.finish(q, false);
      }
      if (r === ECONNREFUSED) this.ch.peers.removeStale(path);
    }
  }

  /** The channel closes: every request finishes with what it has; death watches end. */
  close(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Infinity;
    for (const p of this.pending.values()) {
      p.waiting.clear();
      this.finish(p, true, true);
    }
    for (const w of this.deathWatch.values()) w.close();
    this.deathWatch.clear();
  }
}
