/**
 * AF_UNIX SOCK_SEQPACKET sockets — connection-oriented, message-preserving — for DPDK's telemetry
 * protocol, whose socket Node's `net` module cannot open. A thin layer over the native addon: every
 * descriptor is non-blocking and close-on-exec, readiness comes from libuv (one `uv_poll` per socket, no
 * thread per connection), and expected outcomes (nothing to read, a peer gone, a full queue) are return
 * values, not exceptions.
 *
 * Socket files follow the safe file rules (files.ts): a listener's name is created with mode 0600 by
 * default, and a name already there is replaced only when it is a socket of ours that nobody listens on
 * (a dead process's), never a live one, a link or another user's file.
 */
import { closeSync } from 'node:fs';
import { binding } from './binding.js';
import { MpError, fromSystemError } from './errors.js';
import { lstatOwned, removeOwned } from './files.js';
import { log } from './log.js';

// The errno values the addon returns negated, Linux's (asm-generic/errno*.h: x64 and arm64 alike), and their
// names from the addon (errno_name.h). Not node:os's constants.errno: loading node:os cost ≈ 0.6 ms of
// every process start (packages/eal/README.md).
const E = {
  EPERM: 1,
  ENOENT: 2,
  EAGAIN: 11,
  EACCES: 13,
  EPIPE: 32,
  ENAMETOOLONG: 36,
  EMSGSIZE: 90,
  ECONNABORTED: 103,
  ECONNRESET: 104,
  ENOTCONN: 107,
  ECONNREFUSED: 111,
} as const;
/** How long a listener out of descriptors stops accepting before it tries again. */
const ACCEPT_BACKOFF_MS = 100;
const errName = (neg: number): string => binding.errnoName(-neg) ?? `errno ${-neg}`;

/** Who is at the other end of an accepted connection (SO_PEERCRED). */
export interface PeerCredentials {
  uid: number;
  pid: number;
}

/** One SEQPACKET connection: messages in through `onMessage`, out through `send`. */
export class SeqpacketConnection {
  private watch: { close(): void } | undefined;
  private readonly buf: Buffer;
  private closed = false;
  private messageFn: ((msg: Buffer) => void) | undefined;
  private closeFn: (() => void) | undefined;

  /** @internal made by {@link connectSeqpacket} or a listener */
  constructor(
    readonly fd: number,
    /** Messages longer than this are cut to it (as read() into a buffer of that size does). */
    readonly maxMessage: number,
    ref: boolean,
  ) {
    this.buf = Buffer.allocUnsafe(maxMessage);
    this.watch = binding.fdWatch(fd, () => this.drain(), ref);
  }

  /** Called with each message received (a copy: safe to keep). */
  onMessage(fn: (msg: Buffer) => void): this {
    this.messageFn = fn;
    return this;
  }

  /** Called once when the peer closes the connection or it fails (not after an own {@link close}). */
  onClose(fn: () => void): this {
    this.closeFn = fn;
    return this;
  }

  /** True until {@link close}, or until the peer went. */
  get open(): boolean {
    return !this.closed;
  }

  /**
   * Send one message. Returns true when sent; false when the connection is closed, the peer went, or its
   * receive queue is full (a peer that does not read: the caller may drop it).
   *
   * @throws {MpError} E2BIG — longer than the socket's send buffer allows; EIO — another failure
   */
  send(data: Uint8Array | string): boolean {
    if (this.closed) return false;
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    const r = binding.seqpacketSend(this.fd, bytes);
    if (r >= 0) return true;
    if (r === -E.EAGAIN || r === -E.EPIPE || r === -E.ECONNRESET || r === -E.ENOTCONN) return false;
    if (r === -E.EMSGSIZE) throw new MpError('E2BIG', `a ${bytes.length}-byte message does not fit the socket's send buffer`);
    throw new MpError('EIO', `send on seqpacket socket ${this.fd}: ${errName(r)}`, { syscall: 'send' });
  }

  /** Stop watching and close the descriptor. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.watch?.close();
    this.watch = undefined;
  }

  private drain(): void {
    // A burst of readiness: read every queued message, then let the loop breathe.
    for (let i = 0; i < 64 && !this.closed; i++) {
      const n = binding.seqpacketRecv(this.fd, this.buf);
      if (n === -E.EAGAIN) return;
      if (n <= 0) {
        // 0: end of stream; negative: the connection failed (ECONNRESET). Either way it is over.
        this.close();
        this.closeFn?.();
        return;
      }
      this.messageFn?.(Buffer.from(this.buf.subarray(0, n)));
    }
  }
}

/** A listening SEQPACKET socket bound to a path. */
export interface SeqpacketListener {
  readonly path: string;
  /** Stop accepting, close the socket and remove its name (if still ours). Open connections stay. */
  close(): void;
}

/** Options of {@link listenSeqpacket}. */
export interface ListenOptions {
  /** Mode of the socket file (default 0600). */
  mode?: number;
  /** listen() backlog (default 16). */
  backlog?: number;
  /** Longest message a connection receives whole (default 1024, DPDK's telemetry input buffer). */
  maxMessage?: number;
  /**
   * Each accepted connection with its peer's credentials. Return false to refuse it (closed at once).
   * The connection does not keep the event loop alive.
   */
  onConnection(conn: SeqpacketConnection, peer: PeerCredentials): boolean | void;
}

/**
 * Bind and listen on `path`. A socket file of ours already at `path` on which nobody listens (left by a
 * dead process) is replaced; anything else there is refused. The listener does not keep the event loop
 * alive.
 *
 * @throws {MpError} EBUSY — a live process listens on `path`
 * @throws {MpError} EPERM — `path` is something else than a socket of ours (a link, a file, another
 *   user's socket), or the directory refuses us
 * @throws {MpError} ENAMETOOLONG — `path` does not fit a sockaddr_un (107 bytes)
 * @throws {MpError} ENOENT — the directory does not exist
 */
export function listenSeqpacket(path: string, o: ListenOptions): SeqpacketListener {
  const mode = o.mode ?? 0o600;
  const maxMessage = o.maxMessage ?? 1024;
  let fd: number | undefined;
  for (let attempt = 0; fd === undefined; attempt++) {
    try {
      fd = binding.seqpacketListen(path, mode, o.backlog ?? 16);
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === 'ENAMETOOLONG') throw new MpError('ENAMETOOLONG', `socket path ${path} is longer than a sockaddr_un holds (107 bytes)`, { cause: err });
      if (code !== 'EADDRINUSE' || attempt > 0) throw fromSystemError(err, `listening on ${path}`);
      const probe = binding.seqpacketConnect(path);
      if (probe >= 0) {
        closeSync(probe);
        throw new MpError('EBUSY', `a live process listens on ${path}`);
      }
      // Nobody listens: a dead process's name. Replace it only if it is a socket of ours.
      lstatOwned(path, 'socket');
      const r = removeOwned(path, 'socket');
      if (r.why !== undefined) throw new MpError('EPERM', `refusing ${r.why}`);
      log('debug', 'MEM', `replaced stale socket ${path} (${errName(probe)} on connect)`);
    }
  }
  const lfd = fd;
  let closed = false;
  let resumeTimer: NodeJS.Timeout | undefined;
  const watch = binding.fdWatch(lfd, () => {
    for (let i = 0; i < 64 && !closed; i++) {
      const r = binding.seqpacketAccept(lfd);
      if (typeof r === 'number') {
        if (r === -E.EAGAIN || r === -E.ECONNABORTED) return;
        // Out of descriptors or memory: the pending connection keeps the socket readable, so polling
        // would spin. Stop accepting for a moment instead.
        log('warning', 'MEM', `accept on ${path}: ${errName(r)}; not accepting for ${ACCEPT_BACKOFF_MS} ms`);
        watch.pause();
        resumeTimer = setTimeout(() => {
          resumeTimer = undefined;
          if (!closed) watch.resume();
        }, ACCEPT_BACKOFF_MS);
        resumeTimer.unref();
        return;
      }
      const conn = new SeqpacketConnection(r[0], maxMessage, false);
      let keep: boolean | void = false;
      try {
        keep = o.onConnection(conn, { uid: r[1], pid: r[2] });
      } finally {
        if (keep === false) conn.close();
      }
    }
  });
  return {
    path,
    close() {
      if (closed) return;
      closed = true;
      if (resumeTimer !== undefined) clearTimeout(resumeTimer);
      watch.close();
      removeOwned(path, 'socket');
    },
  };
}

/**
 * Connect to the SEQPACKET socket at `path`. The connection keeps the event loop alive while open
 * unless `ref` is false.
 *
 * @throws {MpError} ENOENT — no socket at `path`; ENOTCONN — nobody listens there (a stale name), or the
 *   listener's backlog is full; EPERM — permission denied; ENAMETOOLONG — path too long
 */
export function connectSeqpacket(path: string, o: { maxMessage?: number; ref?: boolean } = {}): SeqpacketConnection {
  const fd = binding.seqpacketConnect(path);
  if (fd < 0) {
    if (fd === -E.ENOENT) throw new MpError('ENOENT', `no socket at ${path}`, { syscall: 'connect' });
    if (fd === -E.ECONNREFUSED || fd === -E.EAGAIN) throw new MpError('ENOTCONN', `nobody accepts connections on ${path} (${errName(fd)})`, { syscall: 'connect' });
    if (fd === -E.EACCES || fd === -E.EPERM) throw new MpError('EPERM', `permission denied connecting to ${path}`, { syscall: 'connect' });
    if (fd === -E.ENAMETOOLONG) throw new MpError('ENAMETOOLONG', `socket path ${path} is longer than a sockaddr_un holds (107 bytes)`);
    throw new MpError('EIO', `connect to ${path}: ${errName(fd)}`, { syscall: 'connect' });
  }
  return new SeqpacketConnection(fd, o.maxMessage ?? 64 * 1024, o.ref ?? true);
}
