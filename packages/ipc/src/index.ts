/**
 * @mp/ipc — rte_mp for Node: messages, requests and replies with file descriptors between the
 * processes of a group, over unix datagram sockets in the runtime dir, wire-compatible with DPDK 22.11.
 */
import { eal } from '@mp/eal';
import { MpError, fromSystemError } from '@mp/memory';
import { processSlot } from '@mp/memory/internal';
import { binding } from './binding.js';
import { Channel, Peer } from './channel.js';
import type { ActionHandler, MpReply, RequestOptions, SendOptions } from './channel.js';
import type { MpMsg } from './codec.js';
import { attachEal, forward } from './events.js';
import { checkOptions } from './options.js';
import { registerIpcTelemetry } from './telemetry.js';

export { Channel, Peer } from './channel.js';
export type { ActionHandler, MpReply, RequestOptions, SendOptions, ChannelOptions } from './channel.js';
export type { MpMsg, ReceivedMsg } from './codec.js';
export { MpIpcRemoteError } from './errors.js';
export { EVENT_ACTION } from './events.js';
export { MP_MAX_NAME_LEN, MP_MAX_PARAM_LEN, MP_MAX_FD_NUM, MP_MSG, MP_REQ, MP_REP, MP_IGN, WIRE } from './layout.js';
export { MpError } from '@mp/memory';
export type { MpErrorCode } from '@mp/memory';

export interface StartOptions {
  /**
   * Directory of the sockets. Default: the runtime dir of the group `init()` (@mp/eal) attached. Give
   * a DPDK app's (`/var/run/dpdk/<prefix>`) to talk to DPDK processes; `procType` is then required.
   */
  runtimeDir?: string;
  /** Default: the Eal's process type. */
  procType?: 'primary' | 'secondary';
  /** How long a send waits for room in a full peer queue before it fails with EBUSY (default 2000 ms). */
  sendTimeoutMs?: number;
  /**
   * requestSync re-tries this many µs for its replies before sleeping in poll() (default 50; 0: never).
   * It saves a wake-up per round trip; the CPU is busy for at most that long per wait.
   */
  syncSpinUs?: number;
  /**
   * Poll mode, off by default (0). After handling a batch of datagrams, keep polling the socket
   * (non-blocking reads) for up to this many µs before going back to epoll, so a peer's next message
   * costs no wake-up (as DPDK's poll-mode drivers trade a busy core for latency). It spends CPU: the
   * process spins up to busyPollUs after every batch it handles; each wait is bounded by busyPollUs,
   * and after 64 batches in a row the event loop gets its turn, as without polling. Range 0..1000000.
   */
  busyPollUs?: number;
  /**
   * Coalesce one-way messages (off by default). `sendMsg` calls of one synchronous run to one peer,
   * without fds, leave as one datagram of up to 32 messages (the first is sent at once, so a missing
   * peer still throws ENOENT there; the rest go when 32 are queued, when anything else is sent, or at
   * the end of the run — a microtask). Only on a group's channel (`start()` without `runtimeDir`),
   * whose peers are all @mp processes: a DPDK process would reject such a datagram, so with an
   * explicit `runtimeDir` the option is ignored. A batch that cannot be delivered later (its peer
   * died, or its queue stayed full for sendTimeoutMs) is lost with a warning, as messages queued to a
   * process that dies are.
   */
  coalesce?: boolean;
  /**
   * Shared-memory inboxes (default true; group channels only). Each process arms the memzone
   * `ipc_in_<slot>` of its process-table slot (148 KiB, reserved by the slot's first process and kept
   * for the slot's later ones while the group lives); messages to a group peer that has one go there
   * instead of its socket (the socket wakes a sleeping peer, carries descriptors, and serves DPDK
   * peers). false: sockets only (this process neither arms an inbox nor writes into others').
   */
  inbox?: boolean;
}

/**
 * This process's channel, shared by every copy of @mp/ipc loaded in it (an ESM import and a CJS
 * require are two module instances; they must not bind two sockets). Layout 1: `{ current }`.
 */
const state = processSlot<{ current: Channel | undefined }>('@mp/ipc', '@mp/ipc', 1, () => ({ current: undefined }));

/**
 * Open this process's IPC channel (bind its socket). Without options it joins the group `init()`
 * attached, and forwards (primary) / surfaces (every process) group events on the Eal. Idempotent:
 * returns the open channel when called again.
 *
 * @throws {MpError} ENOTCONN — no `runtimeDir` given and init() (@mp/eal) has not run
 * @throws {MpError} EINVAL — options not an object, `runtimeDir` given without `procType`, a bad
 *   `procType`, or an option value that is not meaningful (each named in the message): `sendTimeoutMs`
 *   not a number of ms in 0..2^31-1 (NaN, Infinity, negative), `syncSpinUs` or `busyPollUs` not in
 *   0..1000000 µs, `coalesce` or `inbox` not a boolean
 * @throws {MpError} EBUSY — primary: a live process is bound to `mp_socket` already; or a channel
 *   with other options is open in this process
 * @throws {MpError} ENAMETOOLONG — the socket path exceeds 107 bytes
 * @throws {MpError} ENOENT — the runtime dir does not exist; EPERM — it is not writable
 * @see rte_mp_channel_init
 */
export function start(o: StartOptions = {}): Channel {
  checkOptions('start', o);
  const current = state.current;
  if (current !== undefined && !current.isClosed) {
    if ((o.runtimeDir !== undefined && o.runtimeDir !== current.runtimeDir) || (o.procType !== undefined && o.procType !== current.procType)) {
      throw new MpError('EBUSY', `an IPC channel is open already (${current.procType} in ${current.runtimeDir}); stop() it first`);
    }
    return current;
  }
  if (o.procType !== undefined && o.procType !== 'primary' && o.procType !== 'secondary') {
    throw new MpError('EINVAL', `procType must be 'primary' or 'secondary', got ${String(o.procType)}`);
  }
  const so = {
    ...(o.sendTimeoutMs !== undefined ? { sendTimeoutMs: o.sendTimeoutMs } : {}),
    ...(o.syncSpinUs !== undefined ? { syncSpinUs: o.syncSpinUs } : {}),
    ...(o.busyPollUs !== undefined ? { busyPollUs: o.busyPollUs } : {}),
    ...(o.coalesce !== undefined ? { coalesce: o.coalesce } : {}),
    ...(o.inbox !== undefined ? { inbox: o.inbox } : {}),
  };
  if (o.runtimeDir !== undefined) {
    if (o.procType === undefined) throw new MpError('EINVAL', `start({ runtimeDir }) needs procType ('primary' or 'secondary')`);
    state.current = new Channel({ runtimeDir: o.runtimeDir, procType: o.procType, ...so });
    return state.current;
  }
  const e = eal();
  if (o.procType !== undefined && o.procType !== e.procType) throw new MpError('EINVAL', `this process is the group's ${e.procType}, not its ${o.procType}`);
  const ch = new Channel({ runtimeDir: e.runtimeDir, procType: e.procType, primaryPid: () => e.primaryPid, mpGroup: true, slot: e.slot, slotOf: (pid) => e.processes().find((p) => p.pid === pid)?.slot, ...so });
  state.current = ch;
  attachEal(ch, e);
  // Deaths end pending requests at once (a send into a dead peer's inbox succeeds silently).
  const onProcExit = (info: { pid: number }): void => ch.onProcExit(info.pid);
  e.on('proc-exit', onProcExit);
  // The channel (and its inbox memzone) goes before the Eal detaches, also at process exit.
  const offCleanup = e.onCleanup(() => ch.close());
  ch.afterClose = () => {
    e.off('proc-exit', onProcExit);
    offCleanup();
  };
  return ch;
}

/** Close the channel: the socket file goes, pending requests finish with what they have. @see rte_mp_channel_cleanup */
export function stop(): void {
  state.current?.close();
  state.current = undefined;
}

registerIpcTelemetry(() => state.current);

/** The open channel (started on first use). @throws {MpError} ENOTCONN — not started and init() has not run */
export function channel(): Channel {
  const current = state.current;
  return current !== undefined && !current.isClosed ? current : start();
}

/**
 * Register the handler of an action. It gets `(msg, peer)`; for a request it answers with
 * `reply(msg, peer)` or by returning (resolving) a message; if it throws or rejects, an @mp requester
 * gets an `MpIpcRemoteError` with its code and message. The handler owns `msg.fds`.
 *
 * @throws {MpError} EINVAL — empty name, forbidden character, handler not a function
 * @throws {MpError} E2BIG — name of 64 bytes or more
 * @throws {MpError} EEXIST — an action of that name is registered
 * @throws {MpError} ENOTCONN — no channel and init() has not run
 * @see rte_mp_action_register
 */
export function actionRegister(name: string, handler: ActionHandler): void {
  channel().actionRegister(name, handler);
}

/**
 * Remove an action; returns whether it was registered.
 *
 * @throws {MpError} EINVAL — empty or forbidden name; E2BIG — name of 64 bytes or more
 * @see rte_mp_action_unregister
 */
export function actionUnregister(name: string): boolean {
  return channel().actionUnregister(name);
}

/**
 * Send a one-way message. From the primary: to every secondary, or to one (`to: pid`); from a
 * secondary: to the primary, or to another process (`to: pid`). Returns how many processes it reached.
 * A full peer queue is waited on (up to `sendTimeoutMs`), this process's own queue being drained meanwhile.
 *
 * @throws {MpError} EINVAL — bad message (empty name, forbidden character, param not a Uint8Array,
 *   fds not descriptors), `to` not a pid, or a descriptor of msg.fds not open
 * @throws {MpError} E2BIG — name ≥ 64 bytes, param > 256 bytes, more than 8 fds
 * @throws {MpError} ENOENT — one destination (`to`, or a secondary's primary) and it has no socket / is gone
 * @throws {MpError} EBUSY — one destination whose queue stayed full for sendTimeoutMs
 * @throws {MpError} ENOTCONN — no channel and init() has not run
 * @see rte_mp_sendmsg
 */
export function sendMsg(msg: MpMsg, o?: SendOptions): number {
  return channel().sendMsg(msg, o);
}

/**
 * Send a request and collect the replies without blocking the event loop. From the primary without
 * `to`, every secondary is asked and the result lists the replies that came in time (nbReceived <
 * nbSent after a timeout or a death — a dead peer ends its share at once). To one peer (a secondary's
 * primary, or `to`), an error reply rejects with MpIpcRemoteError and silence with ETIMEDOUT. May be
 * called from inside a handler (DPDK forbids this). A request to an action nobody registered in an
 * @mp peer answers ENOENT at once.
 *
 * @throws {MpError} EINVAL, E2BIG — as sendMsg; EINVAL — timeoutMs not a number of ms in 0..2^31-1
 *   nor Infinity (Infinity: no timeout — the request ends when its peers answer or die)
 * @throws {MpError} ENOENT — (rejects) the one peer has no socket, is gone, or died before replying
 * @throws {MpError} ETIMEDOUT — (rejects) the one peer did not reply within timeoutMs
 * @throws {MpIpcRemoteError} (rejects) the one peer's handler threw, or it has no such action (code ENOENT)
 * @remarks Named after DPDK's pair (`request` = rte_mp_request_async, `requestSync` = rte_mp_request_sync):
 *   the one exception to @mp's `xAsync` naming of promise-returning forms.
 * @see rte_mp_request_async
 */
export function request(msg: MpMsg, o?: RequestOptions): Promise<MpReply> {
  try {
    return channel().request(msg, o);
  } catch (err) {
    return Promise.reject(err);
  }
}

/**
 * As {@link request}, but blocks the caller until the replies are in (for scripts, and parity with
 * DPDK). Messages that arrive meanwhile are queued and handled afterwards, in order — except a
 * request to this process itself (`to: process.pid`), whose handler runs inside the call, as the
 * event loop would run it for `request`. Do not call it from a handler whose requester is blocked in
 * `requestSync` on this process (use `request`). Its peers' liveness is checked while it blocks:
 * a peer that died (a zombie included) or, its pid unknown, whose socket refuses ends its share at once.
 *
 * @throws {MpError} as {@link request}, thrown instead of rejected
 * @throws {MpError} ENOTSUP — to this process: its handler did not answer before returning (a promise,
 *   a later `reply`), which cannot happen while the call blocks the event loop (use `request`)
 * @see rte_mp_request_sync
 */
export function requestSync(msg: MpMsg, o?: RequestOptions): MpReply {
  return channel().requestSync(msg, o);
}

/**
 * Answer a request: `peer` is the handler's second argument. DPDK peers get a plain MP_REP.
 *
 * @throws {MpError} EINVAL — bad message (see sendMsg), peer not a request or answered already
 * @throws {MpError} E2BIG — name ≥ 64 bytes, param > 256 bytes, more than 8 fds
 * @throws {MpError} ENOENT — the requester is gone or sent from an unbound socket
 * @see rte_mp_reply
 */
export function reply(msg: MpMsg, peer: Peer): void {
  channel().reply(msg, peer);
}

/**
 * Forward an event (a PMD link event, say) from the primary to every secondary, where it is
 * emitted on their Eal (`eal().on(event, …)`). The arguments travel as JSON (≤ 256 bytes).
 *
 * @throws {MpError} E2BIG — the JSON exceeds 256 bytes
 * @throws {MpError} EPERM — not the primary
 */
export function forwardEvent(event: string, ...args: unknown[]): number {
  const ch = channel();
  if (ch.procType !== 'primary') throw new MpError('EPERM', `only the primary forwards events (this is a ${ch.procType})`);
  return forward(ch, event, args);
}

/** memfd_create's longest name: NAME_MAX (255) less the "memfd:" the kernel puts before it. */
const MEMFD_NAME_MAX = 249;

/**
 * An anonymous memory file (memfd_create, close-on-exec): a descriptor to pass with `msg.fds`. The
 * caller owns it (close it with `fs.closeSync`).
 *
 * @throws {MpError} EINVAL — name not a string, holding a NUL or a lone UTF-16 surrogate
 * @throws {MpError} ENAMETOOLONG — name longer than 249 bytes of UTF-8
 * @throws {MpError} EIO (EMFILE, ENFILE: too many open files), ENOMEM — memfd_create failed (`cause`
 *   holds the system error, `syscall` is 'memfd_create')
 */
export function memfdCreate(name: string): number {
  if (typeof name !== 'string') throw new MpError('EINVAL', `memfdCreate: name must be a string, got ${typeof name}`);
  if (name.includes('\0')) throw new MpError('EINVAL', 'memfdCreate: name holds a NUL character');
  if (/\p{Cs}/u.test(name)) throw new MpError('EINVAL', 'memfdCreate: name holds a lone UTF-16 surrogate (not valid UTF-16)');
  const len = Buffer.byteLength(name, 'utf8');
  if (len > MEMFD_NAME_MAX) throw new MpError('ENAMETOOLONG', `memfdCreate: name is ${len} bytes (at most ${MEMFD_NAME_MAX})`);
  try {
    return binding.memfdCreate(name);
  } catch (err) {
    throw fromSystemError(err, `memfd_create('${name}')`);
  }
}
