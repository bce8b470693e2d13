/**
 * Actions and their handlers (rte_mp_action_register): dispatch of a received message to its
 * handler, the handler's answer (returned, resolved, or `reply()`), and error replies when it throws
 * or when no handler is registered.
 */
import { MpError } from '@mp/memory';
import { checkMsg, encode, encodeError, extOffset } from './codec.js';
import type { Decoded, MpMsg, ReceivedMsg } from './codec.js';
import type { Channel } from './channel.js';
import { errnoName, sendError } from './errors.js';
import { EXT, EXT_ERROR, MP_IGN, MP_MAX_NAME_LEN, MP_MAX_PARAM_LEN, MP_REP, MP_REQ, WIRE } from './layout.js';
import { closeAll } from './receive.js';
import { logDrop, warnLimited } from './warn.js';

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

export class Handlers {
  /** The application's actions, and @mp's own (event forwarding, DPDK's memory syncs). */
  readonly actions = new Map<string, ActionHandler>();
  private readonly internal = new Map<string, ActionHandler>();

  constructor(private readonly ch: Channel) {}

  /** @throws {MpError} EINVAL, E2BIG — a bad name; EINVAL — not a function; EEXIST — registered already */
  register(name: string, handler: ActionHandler): void {
    checkMsg({ name });
    if (typeof handler !== 'function') throw new MpError('EINVAL', `the handler of action '${name}' must be a function`);
    if (this.actions.has(name)) throw new MpError('EEXIST', `action '${name}' is registered already (actionUnregister it first)`);
    this.actions.set(name, handler);
  }

  /** @throws {MpError} EINVAL, E2BIG — a bad name */
  unregister(name: string): boolean {
    checkMsg({ name });
    return this.actions.delete(name);
  }

  /** Actions of @mp itself: not listed, not unregistrable by users, looked up first. */
  internalAction(name: string, handler: ActionHandler): void {
    this.internal.set(name, handler);
  }

  /** Handle one received message (a reply goes to the requests); returns the request's Peer, if any. */
  handle(d: Decoded): Peer | undefined {
    const ch = this.ch;
    if (!d.ok) {
      closeAll(d.fds);
      logDrop(d.reason, ` (from pid ${d.pid}${d.path ? ` ${d.path}` : ''})`);
      return;
    }
    if (d.uid !== ch.uid) {
      closeAll(d.fds);
      logDrop(`foreign sender uid ${d.uid}`, ` (pid ${d.pid}, '${d.name}'; this group runs as uid ${ch.uid})`);
      return;
    }
    ch.peers.saw(d.pid, d.path);
    if (d.type === MP_REP || d.type === MP_IGN) {
      ch.requests.onReply(d);
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
      this.failed(peer, err);
      return peer;
    }
    if (ret !== null && typeof ret === 'object' && typeof (ret as Promise<unknown>).then === 'function') {
      (ret as Promise<MpMsg | void>).then(
        (v) => this.autoReply(peer, v),
        (err: unknown) => this.failed(peer, err),
      );
    } else {
      this.autoReply(peer, ret as MpMsg | void);
    }
    return peer;
  }

  /** A handler returned (resolved) `v`: that is its reply. */
  private autoReply(peer: Peer, v: MpMsg | void): void {
    if (v === undefined || v === null || this.ch.isClosed) return;
    if (!peer.isRequest || peer.abandoned) return;
    if (peer.replied) {
      warnLimited(`twice ${peer.action}`, `handler of '${peer.action}' returned a message after replying: ignored`);
      return;
    }
    try {
      this.reply(v, peer);
    } catch (err) {
      if (!peer.replied) this.failed(peer, err);
      else warnLimited(`reply ${peer.action}`, `reply to '${peer.action}' (pid ${peer.pid}): ${(err as Error).message}`);
    }
  }

  /** A handler threw or rejected: an error reply for a request, a warning for a message. */
  private failed(peer: Peer, err: unknown): void {
    const e = err as { code?: unknown; message?: unknown };
    const code = typeof e?.code === 'string' ? e.code : 'EIO';
    let message = typeof e?.message === 'string' ? e.message : String(err);
    if (message.startsWith(`${code}: `)) message = message.slice(code.length + 2); // MpError's own prefix
    if (peer.isRequest) this.replyError(peer, code, message);
    else warnLimited(`threw ${peer.action}`, `handler of message '${peer.action}' from pid ${peer.pid} threw: ${message}`);
  }

  /**
   * Answer a request.
   *
   * @throws {MpError} EINVAL — peer not a Peer, not a request, answered already; a bad msg; E2BIG
   * @throws {MpError} ENOENT — the requester is unbound or gone; EBUSY, EPERM, EIO — the send failed
   */
  reply(msg: MpMsg, peer: Peer): void {
    if (!(peer instanceof Peer)) throw new MpError('EINVAL', 'reply(msg, peer): peer must be the second argument the handler received');
    const m = checkMsg(msg);
    if (!peer.isRequest) throw new MpError('EINVAL', `the message '${peer.action}' from pid ${peer.pid} was not a request; use sendMsg to answer it`);
    if (peer.replied) throw new MpError('EINVAL', `request '${peer.action}' from pid ${peer.pid} has been answered already`);
    if (peer.path === '') throw new MpError('ENOENT', `pid ${peer.pid} sent '${peer.action}' from an unbound socket: it cannot be answered`);
    peer.replied = true;
    const ch = this.ch;
    encode(ch.out, ch.outDv, MP_REP, m.name, m.param, m.fds.length, peer.isMp ? { id: peer.requestId, flags: 0 } : null);
    const r = ch.sendOut(peer.path, peer.pid, m.fds.length === 0 ? null : Int32Array.from(m.fds));
    if (r !== 0) throw sendError(r, msg.name, peer.path);
  }

  /** An error reply (an @mp requester only; a DPDK one sees what DPDK would show: a timeout). */
  replyError(peer: Peer, code: string, message: string): void {
    const ch = this.ch;
    if (!peer.isRequest || peer.replied || ch.isClosed) return;
    peer.replied = true;
    if (!peer.isMp || peer.path === '') {
      warnLimited(`fail ${peer.action}`, `request '${peer.action}' from pid ${peer.pid} failed (${code}: ${message}); ${peer.path === '' ? 'its unbound socket cannot be answered' : 'a DPDK peer gets no error reply'}`);
      return;
    }
    const name = Buffer.from(peer.action, 'utf8');
    // The extension rides after the name when it fits there (the whole param is free), else in the param's tail.
    const max = extOffset(name.byteLength, 0) === WIRE.name + MP_MAX_NAME_LEN - EXT.size ? MP_MAX_PARAM_LEN : EXT.paramRoomMax;
    const param = encodeError(code, message, max);
    encode(ch.out, ch.outDv, MP_REP, name, param, 0, { id: peer.requestId, flags: EXT_ERROR });
    const r = ch.sendOut(peer.path, peer.pid, null);
    if (r !== 0) warnLimited(`errreply ${r}`, `error reply '${peer.action}' to ${peer.path}: ${errnoName(r)}`);
  }
}
