import { FILE_PREFIX_MAX, MpError, validateName } from '@mp/memory';
import type { LogLevel } from '@mp/memory';
import { MAX_LCORE } from './layout.js';

/** A process's role in its group (`--proc-type`). */
export type ProcType = 'primary' | 'secondary' | 'auto';

/** Typed form of the EAL command line. Every field is optional. */
export interface EalOptions {
  /** `--proc-type`: default 'primary' (a standalone process), as DPDK. */
  procType?: ProcType;
  /** `--file-prefix`: the group's name, default 'mp'. 1..FILE_PREFIX_MAX (63) bytes, no '/', '..' or NUL. */
  filePrefix?: string;
  /** `--runtime-dir`: overrides /var/run/mp/<prefix> (root), $XDG_RUNTIME_DIR/mp/<prefix>, /tmp/mp-<uid>/<prefix>. */
  runtimeDir?: string;
  /** `-m`: memory cap of the group in MiB (primary only; secondaries use the primary's). */
  memoryMb?: number;
  /** `--socket-mem`: MiB per NUMA socket; the group's cap is their sum. Exclusive with `-m`. */
  socketMem?: number[];
  /** `--huge-dir`: the hugetlbfs (or tmpfs) mount for segment files. */
  hugeDir?: string;
  /** `--no-huge`: use /dev/shm with 4 KiB pages. Unlike DPDK, multi-process still works. */
  noHuge?: boolean;
  /** `--single-file-segments`: one file for the whole memory instead of files created on demand. */
  singleFileSegments?: boolean;
  /** `--legacy-mem`: reserve all memory at start (one preallocated file). */
  legacyMem?: boolean;
  /** `-l` / `--lcores`: the lcore ids this process claims; no two processes of a group may share one. */
  lcores?: number[];
  /** `--log-level`: a level name or DPDK's number (1..8). */
  logLevel?: LogLevel | number;
  /** `--in-memory`: refused (ENOTSUP) — it means no shared files, so no group. */
  inMemory?: boolean;
  /**
   * Serve DPDK's telemetry v2 protocol on `<runtime dir>/dpdk_telemetry.v2` (primary) or
   * `dpdk_telemetry.v2:<n>` (secondary). Default true; `--no-telemetry` turns it off, `--telemetry` is
   * accepted (DPDK's backward-compatible switch).
   */
  telemetry?: boolean;
  /** How long a secondary waits for a primary that is still initializing (ms, default 5000). */
  attachTimeoutMs?: number;
}

/** Result of parsing argv: the options, and how many args were EAL's (including a `--`). */
export interface ParsedArgs {
  options: EalOptions;
  consumed: number;
}

const LEVELS: Record<string, LogLevel | number> = {
  emerg: 1, alert: 2, crit: 3, error: 'error', err: 'error', warning: 'warning', warn: 'warning',
  notice: 'notice', info: 'info', debug: 'debug',
};

/**
 * Parse a lcore list: `-l` syntax `0-3,5` or `--lcores` syntax `(0-1)@2,3@4,5` (the lcore ids are
 * what is claimed; the `@cpu` part maps them to CPUs and is accepted but not enforced here).
 *
 * @throws {MpError} EINVAL — malformed, or an lcore ≥ 128
 */
export function parseLcores(spec: string, flag = '-l'): number[] {
  const out = new Set<number>();
  const bad = (why: string): never => {
    throw new MpError('EINVAL', `${flag} '${spec}': ${why} (e.g. '0-3,5' or '(0-1)@2,3')`);
  };
  if (spec.trim() === '') bad('empty list');
  // Split on commas that are not inside parentheses.
  const items: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of spec) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (depth < 0) bad('unbalanced parentheses');
    if (ch === ',' && depth === 0) {
      items.push(cur);
      cur = '';
    } else cur += ch;
  }
  if (depth !== 0) bad('unbalanced parentheses');
  items.push(cur);
  for (const item of items) {
    const lhs = item.split('@')[0]!.replace(/^\((.*)\)$/, '$1');
    if (item.split('@').length > 2) bad(`'${item}' has more than one '@'`);
    for (const part of lhs.split(',')) {
      const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
      if (!m) bad(`'${part}' is not a number or a range`);
      const a = Number(m![1]);
      const b = m![2] === undefined ? a : Number(m![2]);
      if (b < a) bad(`range ${a}-${b} is backwards`);
      if (b >= MAX_LCORE) bad(`lcore ${b} is ≥ ${MAX_LCORE} (RTE_MAX_LCORE)`);
      for (let i = a; i <= b; i++) out.add(i);
    }
  }
  return [...out].sort((x, y) => x - y);
}

function parseMb(flag: string, v: string): number {
  if (!/^\d+$/.test(v) || Number(v) <= 0) throw new MpError('EINVAL', `${flag} '${v}' is not a positive number of MiB`);
  return Number(v);
}

/** Options that take a value, long and short. */
const WITH_VALUE = new Set(['--proc-type', '--file-prefix', '--runtime-dir', '-m', '--socket-mem', '--huge-dir', '-l', '--lcores', '--log-level']);
const FLAGS = new Set(['--no-huge', '--single-file-segments', '--legacy-mem', '--in-memory', '--telemetry', '--no-telemetry']);
/** Value options that may repeat (DPDK takes one `--log-level` per component); `-l`/`--lcores` are one option. */
const REPEATABLE = new Set(['--log-level']);
const SAME_OPTION: Record<string, string> = { '--lcores': '-l' };

/**
 * Parse DPDK-style EAL arguments (without the program name). Parsing stops at `--` (consumed) or at the
 * first argument that is not an option; what follows is the application's.
 *
 * @throws {MpError} EINVAL — an unknown flag (named), a missing or malformed value, `-m` with `--socket-mem`,
 *   a single-valued option given twice (`--proc-type` twice, `-l` and `--lcores`)
 * @throws {MpError} ENAMETOOLONG — a file prefix over FILE_PREFIX_MAX (63) bytes
 */
export function parseArgs(argv: readonly string[]): ParsedArgs {
  const o: EalOptions = {};
  const seen = new Map<string, string>();
  let i = 0;
  for (; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      i++;
      break;
    }
    if (!arg.startsWith('-') || arg === '-') break;
    let flag: string;
    let value: string | undefined;
    let text = arg;
    const eq = arg.indexOf('=');
    if (arg.startsWith('--')) {
      flag = eq >= 0 ? arg.slice(0, eq) : arg;
      value = eq >= 0 ? arg.slice(eq + 1) : undefined;
    } else {
      flag = arg.slice(0, 2);
      value = arg.length > 2 ? arg.slice(arg[2] === '=' ? 3 : 2) : undefined;
    }
    if (FLAGS.has(flag)) {
      if (value !== undefined) throw new MpError('EINVAL', `${flag} takes no value`);
    } else if (WITH_VALUE.has(flag)) {
      if (value === undefined) {
        text = `${arg} ${argv[i + 1] ?? ''}`;
        value = argv[++i];
        if (value === undefined) throw new MpError('EINVAL', `${flag} needs a value`);
      }
    } else {
      throw new MpError('EINVAL', `unknown EAL option '${flag}' (put application arguments after '--')`);
    }
    if (WITH_VALUE.has(flag) && !REPEATABLE.has(flag)) {
      const key = SAME_OPTION[flag] ?? flag;
      const before = seen.get(key);
      if (before !== undefined) throw new MpError('EINVAL', `${flag} given twice ('${before}' and '${text}'): give it once`);
      seen.set(key, text);
    }
    switch (flag) {
      case '--proc-type':
        if (value !== 'primary' && value !== 'secondary' && value !== 'auto') {
          throw new MpError('EINVAL', `--proc-type=${value}: use primary, secondary or auto`);
        }
        o.procType = value;
        break;
      case '--file-prefix':
        o.filePrefix = value!;
        break;
      case '--runtime-dir':
        o.runtimeDir = value!;
        break;
      case '-m':
        o.memoryMb = parseMb('-m', value!);
        break;
      case '--socket-mem':
        o.socketMem = value!.split(',').map((v) => (/^\d+$/.test(v) ? Number(v) : parseMb('--socket-mem', v)));
        break;
      case '--huge-dir':
        o.hugeDir = value!;
        break;
      case '-l':
        o.lcores = parseLcores(value!, '-l');
        break;
      case '--lcores':
        o.lcores = parseLcores(value!, '--lcores');
        break;
      case '--log-level': {
        const v = value!.includes(':') ? value!.slice(value!.lastIndexOf(':') + 1) : value!;
        const lvl = /^\d+$/.test(v) ? Number(v) : LEVELS[v.toLowerCase()];
        if (lvl === undefined || (typeof lvl === 'number' && (lvl < 1 || lvl > 8))) {
          throw new MpError('EINVAL', `--log-level '${value}': use 1..8 or a name (error, warning, notice, info, debug)`);
        }
        o.logLevel = lvl;
        break;
      }
      case '--no-huge':
        o.noHuge = true;
        break;
      case '--single-file-segments':
        o.singleFileSegments = true;
        break;
      case '--legacy-mem':
        o.legacyMem = true;
        break;
      case '--in-memory':
        o.inMemory = true;
        break;
      case '--telemetry':
      case '--no-telemetry':
        if (o.telemetry !== undefined && o.telemetry !== (flag === '--telemetry')) {
          throw new MpError('EINVAL', '--telemetry and --no-telemetry cannot be used together');
        }
        o.telemetry = flag === '--telemetry';
        break;
    }
  }
  return { options: o, consumed: i };
}

/**
 * Check a typed options object (argv goes through {@link parseArgs} first, then here).
 *
 * @throws {MpError} EINVAL / ENAMETOOLONG — as parseArgs, for the typed fields; `runtimeDir` or
 *   `hugeDir` not an absolute path
 */
export function validateOptions(o: EalOptions): Required<Pick<EalOptions, 'procType' | 'filePrefix'>> & EalOptions {
  const procType = o.procType ?? 'primary';
  if (procType !== 'primary' && procType !== 'secondary' && procType !== 'auto') {
    throw new MpError('EINVAL', `procType '${String(procType)}': use primary, secondary or auto`);
  }
  const filePrefix = validateName('file prefix', o.filePrefix ?? 'mp', FILE_PREFIX_MAX);
  if (o.memoryMb !== undefined && o.socketMem !== undefined) {
    throw new MpError('EINVAL', '-m and --socket-mem cannot be used together');
  }
  if (o.memoryMb !== undefined && (!Number.isSafeInteger(o.memoryMb) || o.memoryMb <= 0)) {
    throw new MpError('EINVAL', `-m ${o.memoryMb} is not a positive number of MiB`);
  }
  if (o.socketMem !== undefined && (o.socketMem.some((v) => !Number.isSafeInteger(v) || v < 0) || o.socketMem.every((v) => v === 0))) {
    throw new MpError('EINVAL', `--socket-mem ${o.socketMem.join(',')} must be non-negative MiB with at least one > 0`);
  }
  if (o.lcores !== undefined && o.lcores.some((l) => !Number.isInteger(l) || l < 0 || l >= MAX_LCORE)) {
    throw new MpError('EINVAL', `lcores must be integers in 0..${MAX_LCORE - 1}`);
  }
  for (const [flag, dir] of [['--runtime-dir', o.runtimeDir], ['--huge-dir', o.hugeDir]] as const) {
    if (dir === undefined) continue;
    if (typeof dir !== 'string' || !dir.startsWith('/')) {
      throw new MpError('EINVAL', `${flag} '${String(dir)}' is not an absolute path (a relative one would depend on the working directory)`);
    }
    if (dir.includes('\0')) throw new MpError('EINVAL', `${flag} holds a NUL byte`);
  }
  if (o.noHuge && o.hugeDir !== undefined) throw new MpError('EINVAL', '--no-huge and --huge-dir cannot be used together');
  if (o.inMemory) {
    throw new MpError('ENOTSUP', '--in-memory makes a process with no shared files, so no group to join; use --no-huge for a /dev/shm group');
  }
  return { ...o, procType, filePrefix };
}
