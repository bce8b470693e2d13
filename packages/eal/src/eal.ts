import { EventEmitter } from 'node:events';
import { MpError, RobustLock, ofdLock, ofdTest, setLogLevel } from '@mp/memory';
import { watchInterval, watchPid } from '@mp/memory/internal';
import { GroupMemory, attachMemory, detachMemory, getU64, log, processSlot, sleepSync } from '@mp/memory/internal';
import type { MappedFile } from '@mp/memory';
import { readFileSync } from 'node:fs';
import { parseArgs, validateOptions } from './args.js';
import { startTelemetryServer } from './telemetry-server.js';
import type { TelemetryServer } from './telemetry-server.js';
import { removeEntries, runtimeDirPlan } from './runtime-dir.js';
import { GroupEnding, attachSecondary, openPrimaryConfig, startPrimary } from './join.js';
import { exitLogHead, logExit, readExits } from './exit-log.js';
import type { Built } from './join.js';
import type { EalOptions } from './args.js';
import {
  CFGF_LEGACY_MEM,
  CFGF_NO_HUGE,
  CFGF_SINGLE_FILE,
  CFG_W,
  EXIT_LOG_LEN,
  LOCK_PRIMARY,
  MAX_PROCS,
  PROC_W,
  lcoresAt,
  PS_ALIVE,
  PS_FREE,
  PT_PRIMARY,
  ST_CLOSING,
  ST_READY,
  lockSlot,
  procWord,
} from './layout.js';

/** One row of the group's process table. */
export interface ProcessInfo {
  slot: number;
  pid: number;
  type: 'primary' | 'secondary';
  lcores: number[];
  startTime: Date;
  /** Holds its slot lock right now (the kernel drops it on any death). */
  alive: boolean;
}

/** Events an {@link Eal} emits, in every process of the group. */
export interface EalEvents {
  /** The primary died or exited (secondaries; from a pidfd, within milliseconds). */
  'primary-exit': [pid: number];
  /** A new primary adopted the group after the old one died (secondaries). */
  'primary-restarted': [pid: number];
  /** A process joined the group. */
  'proc-join': [info: ProcessInfo];
  /** A process left or died; its slot has been reclaimed. */
  'proc-exit': [info: ProcessInfo];
}

const WATCH_INTERVAL_MS = 100;
declare const __MP_VERSION__: string | undefined;
// Set at build time (tsup.base.ts); from source, package.json.
const EAL_VERSION = typeof __MP_VERSION__ === 'string' ? __MP_VERSION__ : (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

// The process's membership lives in a process-wide slot, not a module-level `let`: an ESM and a CJS copy
// of this package (or two nested versions) share it (DESIGN §12). Layout 1: { current: Eal | undefined }.
const state = processSlot<{ current: Eal | undefined }>('@mp/eal', `@mp/eal@${EAL_VERSION}`, 1, () => ({ current: undefined }));

/**
 * The process's membership of a group: what `init()` returns. One per process.
 */
export class Eal extends EventEmitter<EalEvents> {
  /** How many argv entries were EAL's (including a `--`), as rte_eal_init's return value. */
  readonly argsConsumed: number;
  /** The application's arguments: what followed the EAL's. */
  readonly appArgs: string[];
  readonly procType: 'primary' | 'secondary';
  readonly filePrefix: string;
  readonly runtimeDir: string;
  readonly memory: GroupMemory;
  /** Set when this primary adopted a group whose previous primary died. */
  readonly adopted: boolean;
  /** This process's slot in the process table. */
  readonly slot: number;
  /** The EAL's own arguments (argv form; typed options are shown as `--name=value`): `/eal/params`. */
  readonly ealArgs: string[];
  private telemetryServer: TelemetryServer | undefined;

  private readonly cfg: MappedFile;
  private readonly u32: Uint32Array;
  private readonly lock: RobustLock;
  private timer: { close(): void } | undefined;
  private primaryWatch: { close(): void } | undefined;
  private known = new Map<number, ProcessInfo>();
  /** Sequence number of the last exit log entry this process reported (exit-log.ts). */
  private exitSeq: number;
  private primaryGen: number;
  private primaryAliveSeen = true;
  private closed = false;
  private readonly surfaced = new Map<string, number>();
  private readonly onExit = (): void => this.cleanup();
  private readonly cleanupHooks: Array<() => void> = [];

  /** @internal use {@link init} */
  constructor(p: {
    consumed: number;
    appArgs: string[];
    procType: 'primary' | 'secondary';
    filePrefix: string;
    runtimeDir: string;
    cfg: MappedFile;
    lock: RobustLock;
    memory: GroupMemory;
    adopted: boolean;
    slot: number;
    ealArgs: string[];
  }) {
    super();
    this.ealArgs = p.ealArgs;
    this.argsConsumed = p.consumed;
    this.appArgs = p.appArgs;
    this.procType = p.procType;
    this.filePrefix = p.filePrefix;
    this.runtimeDir = p.runtimeDir;
    this.cfg = p.cfg;
    this.u32 = new Uint32Array(p.cfg.buffer);
    this.lock = p.lock;
    this.memory = p.memory;
    this.adopted = p.adopted;
    this.slot = p.slot;
    this.primaryGen = this.u32[CFG_W.primaryGen]!;
    // The log's head before the table: an exit logged in between is reported, never lost.
    this.exitSeq = exitLogHead(this.u32);
    for (const info of this.processes()) if (info.alive) this.known.set(info.slot, info);
    // Not a Node timer: a process's first one costs ≈ 0.8 ms of CPU to set up (README, "Attach time").
    this.timer = watchInterval(WATCH_INTERVAL_MS, () => this.watch());
    if (this.procType === 'secondary') this.watchPrimary();
    process.once('exit', this.onExit);
  }

  /** This process's telemetry socket (undefined with `--no-telemetry`, when it could not start, or after cleanup()). */
  get telemetry(): TelemetryServer | undefined {
    return this.telemetryServer;
  }

  /** @internal init() starts the telemetry server once the process holds its slot. */
  serveTelemetry(instance: number): void {
    try {
      this.telemetryServer = startTelemetryServer(this.runtimeDir, instance);
    } catch (err) {
      log('warning', 'EAL', `telemetry not served: ${(err as Error).message}`);
    }
  }

  /** Pid of the group's primary as the config records it (it may be dead: see {@link isPrimaryAlive}). */
  get primaryPid(): number {
    return Atomics.load(this.u32, CFG_W.primaryPid);
  }

  /**
   * True while a live primary holds the group (the kernel-held primary lock is taken).
   * @see rte_eal_primary_proc_alive
   */
  isPrimaryAlive(): boolean {
    if (this.closed) return false;
    if (this.procType === 'primary') return true;
    return ofdTest(this.cfg.fd, LOCK_PRIMARY, 1, 'w');
  }

  /** The group's process table (live processes, and dead ones not yet reclaimed). */
  processes(): ProcessInfo[] {
    const out: ProcessInfo[] = [];
    const max = this.u32[CFG_W.maxProcs]!;
    for (let i = 0; i < max; i++) {
      const e = procWord(i);
      if (Atomics.load(this.u32, e + PROC_W.state) !== PS_ALIVE) continue;
      out.push(this.readProc(i));
    }
    return out;
  }

  /**
   * Emit a group event on this Eal once: the same event about the same process (pid and start time, or
   * the same primary pid) is emitted only the first time, whichever way it arrived — this process's own
   * table watch, or a message forwarded by the primary over @mp/ipc (which calls this). Events this Eal
   * does not define (a PMD's link events, say) are emitted as they come. Returns whether it was emitted.
   */
  surface<K extends keyof EalEvents>(event: K, ...args: EalEvents[K]): boolean;
  surface(event: string, ...args: unknown[]): boolean;
  surface(event: string, ...args: unknown[]): boolean {
    const key = surfaceKey(event, args);
    if (key !== undefined) {
      if (this.surfaced.has(key)) return false;
      const now = Date.now();
      this.surfaced.set(key, now);
      if (this.surfaced.size > 256) for (const [k, t] of this.surfaced) if (now - t > 60_000) this.surfaced.delete(k);
    }
    return (this.emit as (e: string, ...a: unknown[]) => boolean)(event, ...args);
  }

  /**
   * Run `fn` when this process leaves the group — at the start of {@link cleanup} (explicit, or at
   * process exit), before its slot and memory go, newest hook first; a hook that throws is logged and
   * the others still run. For packages built on the group (@mp/ipc closes its channel and inbox here).
   * Returns a function that removes the hook (idempotent). After cleanup() the hook is never called.
   */
  onCleanup(fn: () => void): () => void {
    if (typeof fn !== 'function') throw new MpError('EINVAL', `onCleanup: the hook must be a function, got ${typeof fn}`);
    if (this.closed) return () => undefined;
    this.cleanupHooks.push(fn);
    return () => {
      const i = this.cleanupHooks.indexOf(fn);
      if (i >= 0) this.cleanupHooks.splice(i, 1);
    };
  }

  /**
   * Leave the group (rte_eal_cleanup): free this process's slot. The last process out — primary or
   * secondary — ends the group: it removes the group's segment files and its names in the runtime dir
   * (the directory too when the group created it), never anything else. A primary leaving live
   * secondaries leaves them the group (a new primary may adopt it). When every process is killed, nobody
   * can clean: the next primary on the prefix removes the stale files. Runs by itself at process exit.
   * Idempotent.
   */
  cleanup(): void {
    if (this.closed) return;
    // Hooks first, newest first (as atexit): what was built on this group goes before the group does.
    for (const fn of this.cleanupHooks.splice(0).reverse()) {
      try {
        fn();
      } catch (err) {
        log('warning', 'EAL', `cleanup hook: ${(err as Error).message}`);
      }
    }
    this.closed = true;
    process.removeListener('exit', this.onExit);
    this.timer?.close();
    this.telemetryServer?.close();
    this.telemetryServer = undefined;
    this.primaryWatch?.close();
    let endGroup = false;
    try {
      this.lock.withLock(() => {
        // The slot lock goes before the slot does: a process claiming the slot next (under this same
        // table lock) must find its lock free.
        ofdLock(this.cfg.fd, lockSlot(this.slot), 1, 'u', false);
        this.freeSlot(this.slot);
        if (!this.processes().some((p) => p.alive)) {
          // The last one out ends the group. A secondary takes the primary lock first: that proves no
          // primary lives, and a primary starting now on this prefix finds ST_CLOSING and waits until the
          // files are gone (see init's openPrimaryConfig).
          endGroup = this.procType === 'primary' || ofdLock(this.cfg.fd, LOCK_PRIMARY, 1, 'w', false);
        } else if (this.procType === 'primary') {
          // Others live: leave them the group. The primary lock goes now, inside the table lock, so the
          // secondary that leaves last — maybe right after us — can take it and end the group.
          ofdLock(this.cfg.fd, LOCK_PRIMARY, 1, 'u', false);
        }
        if (endGroup) Atomics.store(this.u32, CFG_W.state, ST_CLOSING);
      });
    } catch (err) {
      log('warning', 'EAL', `cleanup: ${(err as Error).message}`);
    }
    if (endGroup) {
      this.memory.removeFiles();
      removeEntries(this.runtimeDir, { keepConfig: false, removeDir: this.u32[CFG_W.ownsDir] === 1 });
    }
    detachMemory();
    this.cfg.close();
    if (state.current === this) state.current = undefined;
  }

  // ---- internals -------------------------------------------------------------------------------------

  private readProc(i: number): ProcessInfo {
    const e = procWord(i);
    const startMs = getU64(this.u32, e + PROC_W.startMs);
    return {
      slot: i,
      pid: this.u32[e + PROC_W.pid]!,
      type: this.u32[e + PROC_W.type] === PT_PRIMARY ? 'primary' : 'secondary',
      lcores: lcoresAt(this.u32, e + PROC_W.lcores),
      startTime: new Date(startMs),
      alive: i === this.slot && !this.closed ? true : ofdTest(this.cfg.fd, lockSlot(i), 1, 'w'),
    };
  }

  /** Under the table lock: log the slot's exit for every process's watch, then free it. */
  private freeSlot(i: number): void {
    const e = procWord(i);
    logExit(this.u32, i);
    Atomics.store(this.u32, e + PROC_W.state, PS_FREE);
    Atomics.add(this.u32, CFG_W.procGen, 1);
  }

  private watchPrimary(): void {
    const pid = this.primaryPid;
    this.primaryWatch?.close();
    this.primaryWatch = undefined;
    try {
      this.primaryWatch = watchPid(pid, () => this.primaryGone(pid));
    } catch {
      queueMicrotask(() => this.primaryGone(pid));
      return;
    }
    // The pid may have been reused between reading it and opening the pidfd: check the lock too.
    if (!this.isPrimaryAlive()) queueMicrotask(() => this.primaryGone(pid));
  }

  private primaryGone(pid: number): void {
    if (this.closed || !this.primaryAliveSeen) return;
    // The pidfd fires at exit; the kernel drops the OFD lock as the last fd closes, a moment later.
    if (this.primaryPid === pid && this.u32[CFG_W.primaryGen] === this.primaryGen) {
      this.primaryAliveSeen = false;
      this.surface('primary-exit', pid);
    }
  }

  /**
   * Report the exits logged since the last look, whoever freed their slots — also of processes this one
   * never saw alive (they joined and died between two looks, and another process reclaimed the slot).
   * First in each look: an exit is reported before a new process's join in the same slot.
   */
  private reportLoggedExits(): void {
    const { exits, head, lost } = readExits(this.u32, this.exitSeq);
    if (lost > 0) log('warning', 'EAL', `group watch: ${lost} process exit(s) left the exit log (${EXIT_LOG_LEN} entries) before this process looked: only those it saw alive are reported`);
    // Step by step: a listener that throws ends this look, and the next one starts after what was reported.
    this.exitSeq = exits.length > 0 ? (exits[0]!.seq - 1) >>> 0 : head;
    for (const { seq, ...x } of exits) {
      const was = this.known.get(x.slot);
      if (was !== undefined && was.pid === x.pid && was.startTime.getTime() === x.startTime.getTime()) this.known.delete(x.slot);
      this.surface('proc-exit', { ...x, alive: false });
      this.exitSeq = seq;
    }
    this.exitSeq = head;
  }

  /** Periodic look at the tables: joins, deaths (reclaimed), a new primary. */
  private watch(): void {
    if (this.closed) return;
    try {
      if (this.procType === 'secondary') {
        const gen = this.u32[CFG_W.primaryGen]!;
        if (gen !== this.primaryGen && this.isPrimaryAlive() && this.u32[CFG_W.state] === ST_READY) {
          if (this.primaryAliveSeen) this.surface('primary-exit', -1);
          this.primaryGen = gen;
          this.primaryAliveSeen = true;
          this.watchPrimary();
          this.surface('primary-restarted', this.primaryPid);
        }
      }
      this.reportLoggedExits();
      const max = this.u32[CFG_W.maxProcs]!;
      const dead: number[] = [];
      for (let i = 0; i < max; i++) {
        const state = Atomics.load(this.u32, procWord(i) + PROC_W.state);
        const was = this.known.get(i);
        if (state !== PS_ALIVE) {
          if (was) {
            this.known.delete(i);
            this.surface('proc-exit', { ...was, alive: false });
          }
          continue;
        }
        const info = this.readProc(i);
        if (was && was.pid !== info.pid) {
          this.known.delete(i);
          this.surface('proc-exit', { ...was, alive: false });
        }
        if (!info.alive) {
          dead.push(i);
          // A process that joined and died between two looks was never known: report it all the same
          // (what it held — a mempool's objects, say — is reclaimed on this event).
          if (!this.known.has(i) && i !== this.slot) this.known.set(i, { ...info, alive: false });
          continue;
        }
        if (!this.known.has(i)) {
          this.known.set(i, info);
          if (i !== this.slot) this.surface('proc-join', info);
        }
      }
      if (dead.length > 0) {
        // Never wait for the table lock here: this runs on the event loop, and a holder the scheduler
        // left out (or a SIGSTOPped one) would stall every timer and socket of this process with it. A
        // busy lock leaves the slots to the next look (or to whoever takes the lock first); the exits are
        // reported now all the same — the kernel dropped their slot locks, they are dead — and once only:
        // the exit log entry the reclaim writes later is the same event to surface().
        if (this.lock.tryLock()) {
          try {
            for (const i of dead) {
              const e = procWord(i);
              if (this.u32[e + PROC_W.state] === PS_ALIVE && !ofdTest(this.cfg.fd, lockSlot(i), 1, 'w')) {
                this.freeSlot(i);
                log('debug', 'EAL', `reclaimed process slot ${i} of dead pid ${this.u32[e + PROC_W.pid]}`);
              }
            }
          } finally {
            this.lock.unlock();
          }
        } else {
          log('debug', 'EAL', `group watch: table lock busy, reclaim of slot(s) ${dead.join(', ')} left to the next look`);
        }
        for (const i of dead) {
          const was = this.known.get(i);
          this.known.delete(i);
          if (was) this.surface('proc-exit', { ...was, alive: false });
        }
      }
    } catch (err) {
      log('warning', 'EAL', `group watch: ${(err as Error).message}`);
    }
  }
}

/** What makes two reports of a group event the same event (undefined: never the same). */
function surfaceKey(event: string, args: unknown[]): string | undefined {
  const a = args[0];
  if (event === 'proc-join' || event === 'proc-exit') {
    if (typeof a !== 'object' || a === null) return undefined;
    const p = a as { pid?: unknown; startTime?: unknown };
    const t = p.startTime instanceof Date ? p.startTime.getTime() : new Date(String(p.startTime ?? 0)).getTime();
    return `${event}:${String(p.pid)}:${t}`;
  }
  if (event === 'primary-exit' || event === 'primary-restarted') return typeof a === 'number' && a > 0 ? `${event}:${a}` : undefined;
  return undefined;
}

/** The group `init()` attached in this process. @throws {MpError} ENOTCONN — init() has not run */
export function eal(): Eal {
  const current = state.current;
  if (current === undefined) throw new MpError('ENOTCONN', 'no process group attached: call init() from @mp/eal first');
  return current;
}

/**
 * Join (primary: create or adopt; secondary: attach to) the process group named by `--file-prefix`,
 * as rte_eal_init. Accepts DPDK-style argv (without the program name; application arguments after
 * `--`) or typed options.
 *
 * @throws {MpError} EINVAL — unknown flag (named), bad value, `--proc-type=` not primary/secondary/auto,
 *   a secondary's memory options differ from the primary's (`--no-huge`, `--single-file-segments`, `--legacy-mem`)
 * @throws {MpError} ENAMETOOLONG — file prefix over FILE_PREFIX_MAX (63) bytes
 * @throws {MpError} EBUSY — a live primary already holds the prefix (primary), lcores overlap another
 *   process of the group, or init() already ran in this process
 * @throws {MpError} ENOENT — secondary: no group of that prefix exists
 * @throws {MpError} ESTALE — secondary: the group's primary is dead (stale files), or the group ended
 *   while attaching; start a primary first
 * @throws {MpError} EPROTO — the group was made by another layout version (both named)
 * @throws {MpError} ETIMEDOUT — secondary: the primary did not finish initializing in attachTimeoutMs;
 *   primary: the group's last process was still removing it after attachTimeoutMs
 * @throws {MpError} ENOSPC — the process table is full
 * @throws {MpError} ENOMEM — `-m` exceeds the free hugepages of `--huge-dir`
 * @throws {MpError} EPERM — the runtime dir, a component of it, the config or a segment file is a link,
 *   belongs to another uid or lets other users in (safe file rules, DESIGN §5), or cannot be created or
 *   reached (another uid's group)
 * @throws {MpError} EINVAL — also: the runtime dir holds entries that are not a group's (named), a
 *   relative `--runtime-dir`, a single-valued option given twice
 * @throws {MpError} ENOTSUP — `--in-memory`
 * @see rte_eal_init
 */
export function init(args: readonly string[] | EalOptions = []): Eal {
  const current = state.current;
  if (current !== undefined) throw new MpError('EBUSY', `init() already ran in this process (group '${current.filePrefix}'); call cleanup() first`);
  let consumed = 0;
  let appArgs: string[] = [];
  let raw: EalOptions;
  if (Array.isArray(args)) {
    const parsed = parseArgs(args as string[]);
    raw = parsed.options;
    consumed = parsed.consumed;
    appArgs = (args as string[]).slice(consumed);
  } else {
    raw = args as EalOptions;
  }
  const o = validateOptions(raw);
  if (o.logLevel !== undefined) setLogLevel(o.logLevel);
  const plan = runtimeDirPlan(o.filePrefix, o.runtimeDir);
  const runtimeDir = plan.dir;
  const wantFlags = (o.noHuge ? CFGF_NO_HUGE : 0) | (o.singleFileSegments ? CFGF_SINGLE_FILE : 0) | (o.legacyMem ? CFGF_LEGACY_MEM : 0);
  const deadline = Date.now() + (o.attachTimeoutMs ?? 5000);

  let role: 'primary' | 'secondary';
  let built: Built;
  for (;;) {
    role = o.procType === 'secondary' ? 'secondary' : 'primary';
    try {
      if (role === 'primary') {
        const opened = openPrimaryConfig(plan, o, deadline);
        if (opened !== undefined) {
          built = startPrimary(opened.cfg, o, wantFlags, runtimeDir, plan.managed || opened.dirCreated);
          break;
        }
        role = 'secondary'; // auto, and a live primary holds the prefix
      }
      built = attachSecondary(plan, o, wantFlags, deadline);
      break;
    } catch (err) {
      // The group ended under an `auto` process: start again, as primary this time.
      if (err instanceof GroupEnding && o.procType === 'auto' && Date.now() < deadline) {
        sleepSync(1);
        continue;
      }
      throw err;
    }
  }
  const ealArgs = Array.isArray(args) ? (args as string[]).slice(0, consumed).filter((a) => a !== '--') : optionsAsArgs(raw);
  const e = new Eal({ consumed, appArgs, procType: role, filePrefix: o.filePrefix, runtimeDir, ealArgs, ...built });
  state.current = e;
  attachMemory(built.memory);
  log('debug', 'EAL', `${role} pid ${process.pid} ${built.adopted ? 'adopted' : 'joined'} group '${o.filePrefix}' in ${runtimeDir} (slot ${built.slot})`);
  if (o.telemetry !== false) {
    // Secondaries are named by their slot; slot 0 held by a secondary (its primary left) is :MAX_PROCS.
    e.serveTelemetry(role === 'primary' ? 0 : built.slot === 0 ? MAX_PROCS : built.slot);
  }
  return e;
}

/** Typed options shown as the argv they stand for (for `/eal/params`). */
function optionsAsArgs(o: EalOptions): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(o)) {
    if (v === undefined || v === false) continue;
    const flag = `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
    out.push(v === true ? flag : `${flag}=${Array.isArray(v) ? v.join(',') : String(v)}`);
  }
  return out;
}
