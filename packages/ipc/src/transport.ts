/**
 * This process's datagram socket: bound under the runtime dir's lock (as DPDK's rte_mp), and sends
 * to a peer's path, waiting for room in a full peer queue while this process's own queue keeps
 * moving. The receive side (uv_poll, recvmmsg) is the binding's `watch`/`recv`, driven by receive.ts.
 */
import { realpathSync, unlinkSync } from 'node:fs';
import { MpError } from '@mp/memory';
import { binding } from './binding.js';
import { EAGAIN, ECONNREFUSED, ENOENT, sysError } from './errors.js';
import { SUN_PATH_MAX } from './layout.js';
import type { Peers } from './peers.js';

/** sockaddr_un bytes for a path (sun_family AF_UNIX = 1, path, NUL). */
function sockaddr(path: string): Uint8Array {
  const p = Buffer.from(path, 'utf8');
  if (p.byteLength >= SUN_PATH_MAX) throw new MpError('ENAMETOOLONG', `socket path ${path} is ${p.byteLength} bytes (at most ${SUN_PATH_MAX - 1})`);
  const a = new Uint8Array(2 + p.byteLength + 1);
  a[0] = 1;
  a.set(p, 2);
  return a;
}

/** How many sockaddrs are cached before the cache starts over. */
const ADDR_CACHE_MAX = 1024;

/**
 * Bind `path` (mode 0600) under an exclusive flock of `runtimeDir`, as DPDK does. `before` runs
 * under the lock before the socket appears (the inbox is armed there: a peer that can see the
 * socket can see the inbox); `undo` if the bind then fails.
 *
 * @throws {MpError} EBUSY — a live process is bound to `path`
 * @throws {MpError} ENOENT, EPERM, EIO — the dir cannot be locked, or the socket bound
 */
export function bindSocket(runtimeDir: string, path: string, before: () => void, undo: () => void): number {
  let dirFd = -1;
  try {
    dirFd = binding.flock(runtimeDir, 'ex');
  } catch (err) {
    throw sysError(err, `cannot lock the runtime dir ${runtimeDir}`);
  }
  try {
    const r = binding.probe(path);
    if (r === 0) throw new MpError('EBUSY', `a live process is bound to ${path} already (another primary of this group?)`);
    if (r !== ENOENT) {
      try {
        unlinkSync(path);
      } catch {
        // gone already
      }
    }
    before();
    try {
      return binding.open(path, 0o600);
    } catch (err) {
      undo();
      throw sysError(err, `cannot bind ${path}`);
    }
  } finally {
    binding.flock(runtimeDir, 'un', dirFd);
  }
}

export class Transport {
  private readonly addrs = new Map<string, Uint8Array>();
  /** The directories sent into, resolved (see addr). */
  private readonly realDirs = new Map<string, string>();

  constructor(
    /** The bound socket (-1 once closed). */
    public fd: number,
    private readonly sendTimeoutMs: number,
    private readonly peers: Peers,
    /** Pull what is queued for this process aside (a peer blocked sending to us must not wait forever). */
    private readonly drainOwn: () => void,
  ) {}

  /**
   * The sockaddr of a path (cached), its directory resolved: the kernel walks the address of every
   * sendto, and a symlink on the way (root's runtime dirs are under /var/run → /run) costs each send
   * a second walk from the root. The path itself stays the peer's name everywhere else (replies are
   * matched by the address the peer bound, whatever it is).
   */
  addr(path: string): Uint8Array {
    let a = this.addrs.get(path);
    if (a === undefined) {
      a = sockaddr(path);
      const real = this.resolve(path);
      if (real !== path && Buffer.byteLength(real) < SUN_PATH_MAX) a = sockaddr(real);
      if (this.addrs.size > ADDR_CACHE_MAX) this.addrs.clear();
      this.addrs.set(path, a);
    }
    return a;
  }

  /** `path` with its directory's symlinks resolved (as it is when the directory cannot be resolved). */
  private resolve(path: string): string {
    const slash = path.lastIndexOf('/');
    if (slash <= 0) return path;
    const dir = path.slice(0, slash);
    let real = this.realDirs.get(dir);
    if (real === undefined) {
      try {
        real = realpathSync.native(dir);
      } catch {
        return path; // not there (yet): the send says what became of it
      }
      if (this.realDirs.size > ADDR_CACHE_MAX) this.realDirs.clear();
      this.realDirs.set(dir, real);
    }
    return real + path.slice(slash);
  }

  /** Send one datagram; 0 or -errno. A full peer queue is waited on (our own queue drained meanwhile). */
  send(path: string, data: Uint8Array, fds: Int32Array | null): number {
    const addr = this.addr(path);
    // Blocking for at most 5 ms (SO_SNDTIMEO) when the peer's queue (net.unix.max_dgram_qlen) is full.
    let r = binding.send(this.fd, addr, data, fds, true);
    if (r === EAGAIN) {
      const deadline = Date.now() + this.sendTimeoutMs;
      do {
        // The peer may be blocked sending to us: keep our own queue moving so neither waits forever.
        this.drainOwn();
        r = binding.send(this.fd, addr, data, fds, true);
      } while (r === EAGAIN && Date.now() < deadline);
    }
    if (r === ECONNREFUSED) this.peers.removeStale(path);
    return r;
  }

  /** Send one datagram without waiting (EAGAIN when the peer's queue is full); 0 or -errno. */
  sendNow(path: string, data: Uint8Array): number {
    return binding.send(this.fd, this.addr(path), data, null, false);
  }

  close(): void {
    binding.close(this.fd);
    this.fd = -1;
  }
}
