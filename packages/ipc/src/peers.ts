/**
 * Who the peers are: the sockets in the runtime dir (`mp_socket` is the primary's,
 * `mp_socket_<pid>_<hex>` a secondary's, as DPDK names them), where a message without `to` goes, and
 * the removal of socket files nobody is bound to any more.
 */
import { readdirSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { MpError } from '@mp/memory';
import { log } from '@mp/memory/internal';
import { binding } from './binding.js';
import { ECONNREFUSED } from './errors.js';

export const PRIMARY_SOCKET = 'mp_socket';
const SECONDARY_RE = /^mp_socket_(\d+)_/;

/** The pid in a secondary's socket name, or undefined (the primary's socket, or not ours). */
export function pidOfSocket(path: string): number | undefined {
  const m = SECONDARY_RE.exec(path.slice(path.lastIndexOf('/') + 1));
  return m === null ? undefined : Number(m[1]);
}

/** A socket name for this process: the primary's, or a secondary's (pid and a time stamp in hex). */
export function socketName(procType: 'primary' | 'secondary'): string {
  return procType === 'primary' ? PRIMARY_SOCKET : `${PRIMARY_SOCKET}_${process.pid}_${process.hrtime.bigint().toString(16)}`;
}

export class Peers {
  readonly primarySocket: string;
  private cache: { key: string; secondaries: Map<number, string> } | undefined;
  /** The primary's pid as its datagrams' credentials tell (groups without @mp/eal, DPDK's). */
  private learnedPrimaryPid: number | undefined;

  constructor(
    readonly runtimeDir: string,
    /** This process's own socket. */
    readonly path: string,
    readonly procType: 'primary' | 'secondary',
    private readonly primaryPidFn: () => number | undefined,
  ) {
    this.primarySocket = join(runtimeDir, PRIMARY_SOCKET);
  }

  /** The secondaries' sockets in the runtime dir (pid → path), re-read when the directory changed. */
  secondaries(force = false): Map<number, string> {
    let key = '';
    try {
      const st = statSync(this.runtimeDir, { bigint: true });
      key = `${st.mtimeNs}:${st.ctimeNs}:${st.size}:${st.ino}`;
    } catch {
      key = 'gone';
    }
    if (!force && this.cache && this.cache.key === key) return this.cache.secondaries;
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
    this.cache = { key, secondaries };
    return secondaries;
  }

  /** The primary's pid: from @mp/eal, else learned from the credentials of its datagrams. */
  primaryPid(): number | undefined {
    return this.primaryPidFn() ?? this.learnedPrimaryPid;
  }

  /** A datagram from `path` came with credentials `pid`: the primary's pid, if it is the primary's socket. */
  saw(pid: number, path: string): void {
    if (this.procType === 'secondary' && pid > 0 && path === this.primarySocket) this.learnedPrimaryPid = pid;
  }

  /**
   * Resolve destinations: [path, pid][] (pid -1: not known). `to` given: that one process.
   *
   * @throws {MpError} EINVAL — `to` not a pid; ENOENT — no process `to` has a socket here
   */
  targets(to: number | undefined): Array<[string, number]> {
    if (to !== undefined) {
      if (!Number.isInteger(to) || to <= 0) throw new MpError('EINVAL', `'to' must be a pid, got ${String(to)}`);
      const primaryPid = this.primaryPid();
      if (to === primaryPid && this.procType === 'secondary') return [[this.primarySocket, to]];
      if (to === process.pid) return [[this.path, to]];
      // The cached listing first (no syscall); a miss re-reads the directory.
      let p = this.cache?.secondaries.get(to);
      if (p === undefined) p = this.secondaries(true).get(to);
      if (p === undefined) {
        throw new MpError('ENOENT', `no process with pid ${to} has an IPC socket in ${this.runtimeDir} (not started, or gone)`);
      }
      return [[p, to]];
    }
    if (this.procType === 'secondary') return [[this.primarySocket, this.primaryPid() ?? -1]];
    return [...this.secondaries()].map(([pid, path]) => [path, pid]);
  }

  /** A socket file nobody is bound to any more: whoever notices removes it (DPDK: the primary does). */
  removeStale(path: string): void {
    if (binding.probe(path) === ECONNREFUSED) {
      try {
        unlinkSync(path);
        log('info', 'IPC', `removed the stale socket ${path}`);
      } catch {
        // someone else did
      }
      this.cache = undefined;
    }
  }
}
