/**
 * A memif interface: DPDK's net_memif below ethdev. Its configuration, its socket (a server's
 * listener is shared by every server interface on the same path, told apart by id, as DPDK does), the
 * current connection (control.ts) and the queues of that connection (queue.ts).
 */
import { rmSync } from 'node:fs';
import { MpError } from '@mp/memory';
import { log } from '@mp/memory/internal';
import { pmdState } from '../state.js';
import { binding } from '../binding.js';
import type { WatchHandle } from '../binding.js';
import { Session } from './control.js';
import type { RingShare, SessionConfig, SessionOwner, UpInfo } from './control.js';
import { MAX_LOG2_RING_SIZE, MAX_RINGS, NAME_SIZE, SECRET_SIZE } from './layout.js';
import type { MemifQueue } from './queue.js';

/** What `MemifInterface.create` takes: DPDK's net_memif devargs as an object. */
export interface MemifOptions {
  /** `server` listens (and uses the client's memory); `client` connects and owns the memory. */
  role: 'server' | 'client';
  /** Socket path (or abstract name with `socketAbstract`). DPDK: `socket=` (default /run/memif.sock). */
  socket: string;
  /** An abstract socket address (no file). DPDK 22.11's default is yes; @mp's is no. */
  socketAbstract?: boolean;
  /** Interface id on the socket, 0..2^32-1 (DPDK `id=`, default 0). */
  id?: number;
  /** Shared secret, ≤ 23 bytes (DPDK `secret=`). A server with one refuses clients without it. */
  secret?: string;
  /** Client: bytes per buffer (DPDK `bsize=`, default 2048). Frames above it are chained. */
  bufferSize?: number;
  /** Client: log2 of ring slots (DPDK `rsize=`, default 10, at most 14). */
  log2RingSize?: number;
  /** Rx / tx queues (rings per direction), 1..255. Default 1 each. */
  rxQueues?: number;
  txQueues?: number;
  /** `poll` (default, DPDK's only mode: the peer never writes the eventfd) or `interrupt`. */
  rxMode?: 'poll' | 'interrupt';
  /** App name sent in HELLO/INIT (≤ 31 bytes) and interface name sent in CONNECT/CONNECTED. */
  name?: string;
  ifName?: string;
  /** Client: retry a refused connect or reconnect after a disconnect every this many ms (0: never). */
  reconnectMs?: number;
  /** Server: mode of the socket file (default 0o600). */
  socketMode?: number;
}

/** Why an interface went down. */
export interface DownInfo {
  reason: string;
  /** `remote`: the peer said so (DISCONNECT) or closed; `local`: this side ended it. */
  by: 'local' | 'remote';
}

type Listener<T> = (v: T) => void;

const sockets = pmdState.memifSockets as Map<string, MemifSocket>;

/** A server's listening socket, shared by its interfaces (by id). */
class MemifSocket {
  readonly key: string;
  private fd: number;
  private readonly watch: WatchHandle;
  readonly owners = new Map<number, MemifInterface>();
  private readonly pending = new Set<Session>();

  constructor(readonly name: string, readonly abstract: boolean, mode: number) {
    this.key = `${abstract ? '@' : ''}${name}`;
    try {
      this.fd = binding.listen(name, abstract, mode, 16);
    } catch (err) {
      const e = err as { code?: string; message?: string };
      const code = e.code === 'EADDRINUSE' ? 'EBUSY' : e.code === 'ENAMETOOLONG' ? 'ENAMETOOLONG' : e.code === 'EACCES' ? 'EPERM' : 'EINVAL';
      throw new MpError(code, `memif socket ${abstract ? '@' : ''}${name} cannot be bound: ${e.message}`, { cause: err, syscall: 'bind' });
    }
    this.watch = binding.watch(this.fd, () => this.accept());
    this.watch.unref();
  }

  private accept(): void {
    for (;;) {
      const fd = binding.accept(this.fd);
      if (fd < 0) return; // EAGAIN, or a transient accept error: the next wake-up retries
      const s = new Session('server', fd, {
        findOwner: (id) => {
          const o = this.owners.get(id);
          return o !== undefined && o.started ? o : undefined;
        },
        onClosed: (x) => this.pending.delete(x),
      });
      if (!this.anyStarted()) s.unref();
      this.pending.add(s);
    }
  }

  private anyStarted(): boolean {
    for (const o of this.owners.values()) if (o.started) return true;
    return false;
  }

  /** Keep the process alive while a server interface on this socket is started. */
  refresh(): void {
    if (this.anyStarted()) this.watch.ref();
    else this.watch.unref();
  }

  close(): void {
    for (const s of [...this.pending]) s.fail('Socket closed');
    this.watch.close();
    binding.close(this.fd);
    this.fd = -1;
    if (!this.abstract) rmSync(this.name, { force: true });
    sockets.delete(this.key);
  }
}

export class MemifInterface implements SessionOwner {
  readonly role: 'server' | 'client';
  readonly config: SessionConfig;
  readonly socketPath: string;
  readonly socketAbstract: boolean;
  /** True between start() and stop(). */
  started = false;
  private session: Session | undefined;
  private info: UpInfo | undefined;
  private lastDown: DownInfo | undefined;
  private readonly upListeners = new Set<Listener<UpInfo>>();
  private readonly downListeners = new Set<Listener<DownInfo>>();
  private socket: MemifSocket | undefined;
  private readonly reconnectMs: number;
  private retry: NodeJS.Timeout | undefined;
  private closed = false;
  private connNo = 0;

  private constructor(opts: Required<MemifOptions>) {
    this.role = opts.role;
    this.socketPath = opts.socket;
    this.socketAbstract = opts.socketAbstract;
    this.reconnectMs = opts.reconnectMs;
    this.config = {
      id: opts.id,
      secret: opts.secret,
      name: opts.name,
      ifName: opts.ifName,
      rxQueues: opts.rxQueues,
      txQueues: opts.txQueues,
      log2RingSize: opts.log2RingSize,
      bufferSize: opts.bufferSize,
      rxMode: opts.rxMode,
    };
  }

  /**
   * Make an interface. A server binds its socket now (or joins the listener another server interface
   * of this process has on that path); a client connects at start().
   *
   * @throws {MpError} EINVAL — a bad option (named in the message)
   * @throws {MpError} ENAMETOOLONG — socket path ≥ 108 bytes
   * @throws {MpError} EEXIST — a server interface with this id already exists on the socket
   * @throws {MpError} EBUSY — the socket path is bound by a live process
   * @throws {MpError} EPERM — the socket path cannot be created (permissions)
   * @see rte_pmd_memif_probe
   */
  static create(opts: MemifOptions): MemifInterface {
    const o = validate(opts);
    const itf = new MemifInterface(o);
    if (o.role === 'server') {
      const key = `${o.socketAbstract ? '@' : ''}${o.socket}`;
      let s = sockets.get(key);
      if (s?.owners.has(o.id)) throw new MpError('EEXIST', `a memif server interface with id ${o.id} exists on socket ${key}`);
      if (s === undefined) {
        s = new MemifSocket(o.socket, o.socketAbstract, o.socketMode);
        sockets.set(key, s);
      }
      s.owners.set(o.id, itf);
      itf.socket = s;
    }
    return itf;
  }

  /** 'up' while connected. */
  get link(): 'up' | 'down' {
    return this.info === undefined ? 'down' : 'up';
  }

  /** The current connection's rx queues (empty while down). */
  get rx(): readonly MemifQueue[] {
    return this.info?.rx ?? [];
  }

  /** The current connection's tx queues (empty while down). */
  get tx(): readonly MemifQueue[] {
    return this.info?.tx ?? [];
  }

  /** What the peer said about itself, the negotiated ring size and buffer size (while up). */
  get connection(): Omit<UpInfo, 'rx' | 'tx'> | undefined {
    if (this.info === undefined) return undefined;
    const { rx: _rx, tx: _tx, ...rest } = this.info;
    return rest;
  }

  /** Connection number: goes up by one at every up and every down (0 before the first). */
  get conn(): number {
    return this.connNo;
  }

  /**
   * Ring `index` of direction `dir` of the current connection, as another process of the group needs
   * it to drive that ring itself ({@link MemifQueue.openShared}): geometry, plus the region memfds (in
   * order) and the ring's eventfd. The descriptors remain this interface's: pass copies (SCM_RIGHTS)
   * and do not close them. Undefined while down or when the connection has no such ring.
   */
  share(dir: 'rx' | 'tx', index: number): { geo: RingShare; fds: number[] } | undefined {
    if (this.info === undefined) return undefined;
    const s = this.session?.share(dir, index);
    return s === undefined ? undefined : { geo: { conn: this.connNo, ...s.geo }, fds: s.fds };
  }

  /**
   * Change the number of rx / tx queues the next connection offers (1..255 each; ethdev's configure).
   *
   * @throws {MpError} EINVAL — a count out of range, or the interface is started
   */
  setQueues(rxQueues: number, txQueues: number): void {
    if (this.started) throw new MpError('EINVAL', 'memif queues change only while the interface is stopped');
    for (const [k, v] of [['rxQueues', rxQueues], ['txQueues', txQueues]] as const) {
      if (!Number.isInteger(v) || v < 1 || v > MAX_RINGS) throw new MpError('EINVAL', `memif ${k} ${v} is not an integer in 1..${MAX_RINGS}`);
    }
    this.config.rxQueues = rxQueues;
    this.config.txQueues = txQueues;
  }

  /** Why the interface last went down (undefined before the first time). */
  get downReason(): DownInfo | undefined {
    return this.lastDown;
  }

  on(ev: 'up', fn: Listener<UpInfo>): this;
  on(ev: 'down', fn: Listener<DownInfo>): this;
  on(ev: 'up' | 'down', fn: Listener<UpInfo> | Listener<DownInfo>): this {
    if (ev === 'up') this.upListeners.add(fn as Listener<UpInfo>);
    else this.downListeners.add(fn as Listener<DownInfo>);
    return this;
  }

  off(ev: 'up' | 'down', fn: Listener<UpInfo> | Listener<DownInfo>): this {
    if (ev === 'up') this.upListeners.delete(fn as Listener<UpInfo>);
    else this.downListeners.delete(fn as Listener<DownInfo>);
    return this;
  }

  /**
   * Accept (server) or make (client) connections. A client whose connect is refused retries every
   * `reconnectMs` (and reconnects after a disconnect) until stop().
   *
   * @throws {MpError} EBADF — the interface was closed
   * @see rte_eth_dev_start (memif_dev_start)
   */
  start(): void {
    if (this.closed) throw new MpError('EBADF', 'memif interface is closed');
    if (this.started) return;
    this.started = true;
    if (this.role === 'server') this.socket!.refresh();
    else this.connect();
  }

  /** Resolve with the connection when the interface is (or comes) up; reject after timeoutMs. */
  waitUp(timeoutMs = 10_000): Promise<UpInfo> {
    if (this.info !== undefined) return Promise.resolve(this.info);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.upListeners.delete(fn);
        reject(new MpError('ETIMEDOUT', `memif ${this.role} ${this.socketPath} id ${this.config.id} not up in ${timeoutMs} ms${this.lastDown ? ` (last down: ${this.lastDown.reason})` : ''}`));
      }, timeoutMs);
      const fn = (i: UpInfo): void => {
        clearTimeout(t);
        this.upListeners.delete(fn);
        resolve(i);
      };
      this.upListeners.add(fn);
    });
  }

  /** Resolve with the reason of the next (or current) down. */
  waitDown(timeoutMs = 10_000): Promise<DownInfo> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.downListeners.delete(fn);
        reject(new MpError('ETIMEDOUT', `memif ${this.role} ${this.socketPath}: no disconnect in ${timeoutMs} ms`));
      }, timeoutMs);
      const fn = (d: DownInfo): void => {
        clearTimeout(t);
        this.downListeners.delete(fn);
        resolve(d);
      };
      this.downListeners.add(fn);
    });
  }

  /**
   * Disconnect (DISCONNECT "Interface stopped" to the peer) and stop accepting or reconnecting.
   * @see rte_eth_dev_stop
   */
  stop(): void {
    if (!this.started) return;
    this.started = false;
    clearTimeout(this.retry);
    this.retry = undefined;
    this.session?.fail('Interface stopped');
    this.session = undefined;
    if (this.role === 'server') this.socket?.refresh();
  }

  /** stop(), then leave the socket (the last server interface on it unbinds and removes the file). */
  close(): void {
    if (this.closed) return;
    this.stop();
    this.closed = true;
    const s = this.socket;
    if (s !== undefined) {
      s.owners.delete(this.config.id);
      if (s.owners.size === 0) s.close();
    }
    this.socket = undefined;
  }

  private connect(): void {
    this.retry = undefined;
    if (!this.started) return;
    let fd: number;
    try {
      fd = binding.connect(this.socketPath, this.socketAbstract);
    } catch (err) {
      this.lastDown = { reason: `cannot connect: ${(err as Error).message}`, by: 'local' };
      this.scheduleRetry();
      return;
    }
    this.session = new Session('client', fd, { owner: this });
  }

  private scheduleRetry(): void {
    if (this.started && this.reconnectMs > 0 && this.retry === undefined) {
      this.retry = setTimeout(() => this.connect(), this.reconnectMs);
    }
  }

  /** @internal SessionOwner: a server session's INIT named this interface. */
  claim(s: Session): boolean {
    if (!this.started || this.session !== undefined) return false;
    this.session = s;
    return true;
  }

  /** @internal SessionOwner */
  up(s: Session, info: UpInfo): void {
    if (s !== this.session) return;
    this.info = info;
    this.connNo++;
    for (const fn of [...this.upListeners]) fn(info);
  }

  /** @internal SessionOwner */
  down(s: Session, reason: string, by: 'local' | 'remote'): void {
    if (s !== this.session && this.session !== undefined) return;
    this.session = undefined;
    if (this.info !== undefined) this.connNo++;
    this.info = undefined;
    this.lastDown = { reason, by };
    log('info', 'MEMIF', `${this.role} ${this.socketPath} id ${this.config.id} down (${by}): ${reason}`);
    for (const fn of [...this.downListeners]) fn(this.lastDown);
    if (this.role === 'client') this.scheduleRetry();
  }
}

function validate(opts: MemifOptions): Required<MemifOptions> {
  if (typeof opts !== 'object' || opts === null) throw new MpError('EINVAL', 'memif options must be an object');
  const o: Required<MemifOptions> = {
    role: opts.role,
    socket: opts.socket,
    socketAbstract: opts.socketAbstract ?? false,
    id: opts.id ?? 0,
    secret: opts.secret ?? '',
    bufferSize: opts.bufferSize ?? 2048,
    log2RingSize: opts.log2RingSize ?? 10,
    rxQueues: opts.rxQueues ?? 1,
    txQueues: opts.txQueues ?? 1,
    rxMode: opts.rxMode ?? 'poll',
    name: opts.name ?? 'mp-pmd-vfio',
    ifName: opts.ifName ?? `memif${opts.id ?? 0}`,
    reconnectMs: opts.reconnectMs ?? 1000,
    socketMode: opts.socketMode ?? 0o600,
  };
  if (o.role !== 'server' && o.role !== 'client') throw new MpError('EINVAL', `memif role ${String(o.role)} is not 'server' or 'client'`);
  if (typeof o.socket !== 'string' || o.socket === '' || o.socket.includes('\0')) throw new MpError('EINVAL', `memif socket must be a non-empty path without NUL`);
  if (Buffer.byteLength(o.socket) >= 108) throw new MpError('ENAMETOOLONG', `memif socket path is ${Buffer.byteLength(o.socket)} bytes (at most 107, sun_path)`);
  const int = (name: string, v: number, lo: number, hi: number, hint = ''): void => {
    if (!Number.isInteger(v) || v < lo || v > hi) throw new MpError('EINVAL', `memif ${name} ${String(v)} is not an integer in ${lo}..${hi}${hint}`);
  };
  int('id', o.id, 0, 0xffffffff);
  int('bufferSize', o.bufferSize, 64, 0xffff, ' (DPDK bsize)');
  int('log2RingSize', o.log2RingSize, 1, MAX_LOG2_RING_SIZE, ' (DPDK rsize)');
  int('rxQueues', o.rxQueues, 1, MAX_RINGS);
  int('txQueues', o.txQueues, 1, MAX_RINGS);
  int('reconnectMs', o.reconnectMs, 0, 3_600_000);
  int('socketMode', o.socketMode, 0, 0o777);
  if (o.rxMode !== 'poll' && o.rxMode !== 'interrupt') throw new MpError('EINVAL', `memif rxMode ${String(o.rxMode)} is not 'poll' or 'interrupt'`);
  if (typeof o.secret !== 'string' || /[^\x01-\xff]/.test(o.secret) || o.secret.length >= SECRET_SIZE) {
    throw new MpError('EINVAL', `memif secret must be 0..${SECRET_SIZE - 1} bytes of latin1 without NUL`);
  }
  for (const [k, v] of [['name', o.name], ['ifName', o.ifName]] as const) {
    if (typeof v !== 'string' || Buffer.byteLength(v) >= NAME_SIZE) throw new MpError('EINVAL', `memif ${k} must be a string of at most ${NAME_SIZE - 1} bytes`);
  }
  return o;
}
