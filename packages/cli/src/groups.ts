/**
 * Finding groups and gathering what `mp ls` / `mp info` / `mp top` / the exporter show. Everything here
 * reads: the config through @mp/eal's {@link inspectGroup} (read-only, liveness from the kernel's
 * locks), shared objects through a live process's telemetry socket, CPU and memory of each process
 * from /proc. Nothing joins or writes a group.
 */
import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { MpError, defaultGroupBases, findGroups, inspectGroup } from '@mp/eal';
import type { GroupSnapshot } from '@mp/eal';
import { TelemetryClient } from './client.js';
import type { TelemetryJson } from './client.js';

/** Where to look for groups. */
export interface GroupSearch {
  /** Directories whose subdirectories are runtime dirs (default: @mp's default places). */
  bases?: string[];
  /** Runtime dirs given directly (`--runtime-dir`), looked at besides the bases. */
  runtimeDirs?: string[];
}

/** Runtime dirs of every group found. */
export function groupDirs(s: GroupSearch = {}): string[] {
  const dirs = findGroups(s.bases ?? (s.runtimeDirs?.length ? [] : defaultGroupBases()));
  for (const d of s.runtimeDirs ?? []) if (!dirs.includes(d)) dirs.push(d);
  return dirs;
}

/**
 * The runtime dir of group `prefix`; without a prefix, the only group there is, or the default
 * prefix `mp`.
 *
 * @throws {MpError} ENOENT — no such group; EINVAL — no prefix given and several groups exist
 */
export function resolveGroup(prefix: string | undefined, s: GroupSearch = {}): string {
  const dirs = groupDirs(s);
  if (prefix !== undefined) {
    const hit = dirs.find((d) => basename(d) === prefix || d === prefix);
    if (hit === undefined) throw new MpError('ENOENT', `no group '${prefix}' (looked in ${describeSearch(s)}; 'mp ls' lists the groups)`);
    return hit;
  }
  if (dirs.length === 1) return dirs[0]!;
  const mp = dirs.find((d) => basename(d) === 'mp');
  if (mp !== undefined) return mp;
  if (dirs.length === 0) throw new MpError('ENOENT', `no group found (looked in ${describeSearch(s)})`);
  throw new MpError('EINVAL', `${dirs.length} groups found (${dirs.map((d) => basename(d)).join(', ')}): name one`);
}

function describeSearch(s: GroupSearch): string {
  const where = [...(s.bases ?? (s.runtimeDirs?.length ? [] : defaultGroupBases())), ...(s.runtimeDirs ?? [])];
  return where.length ? where.join(', ') : 'no existing directory';
}

/** One row of `mp ls`. */
export interface GroupSummary {
  prefix: string;
  runtimeDir: string;
  state: GroupSnapshot['state'];
  /** No process holds the group (kernel locks): `mp cleanup` may remove it. */
  stale: boolean;
  primaryPid: number;
  primaryAlive: boolean;
  /** Processes holding their slot now. */
  processes: number;
  reservedBytes: number | null;
  capBytes: number | null;
  memzones: number | null;
  telemetrySockets: number;
}

/** `mp ls`: every group found, stale ones marked. Groups that cannot be read are reported in `errors`. */
export function listGroups(s: GroupSearch = {}): { groups: GroupSummary[]; errors: Array<{ runtimeDir: string; error: string }> } {
  const groups: GroupSummary[] = [];
  const errors: Array<{ runtimeDir: string; error: string }> = [];
  for (const dir of groupDirs(s)) {
    try {
      const g = inspectGroup(dir);
      groups.push({
        prefix: g.prefix,
        runtimeDir: g.runtimeDir,
        state: g.state,
        stale: !g.live,
        primaryPid: g.primaryPid,
        primaryAlive: g.primaryAlive,
        processes: g.processes.filter((p) => p.alive).length,
        reservedBytes: g.memory?.reservedBytes ?? null,
        capBytes: g.memory?.capBytes ?? null,
        memzones: g.memory?.memzones.length ?? null,
        telemetrySockets: g.telemetry.length,
      });
    } catch (err) {
      errors.push({ runtimeDir: dir, error: (err as Error).message });
    }
  }
  return { groups, errors };
}

/** CPU and memory of a live process, from /proc. */
export interface ProcStat {
  /** user + system CPU time, seconds. */
  cpuSeconds: number;
  rssBytes: number;
  comm: string;
}

const CLK_TCK = 100; // USER_HZ: the unit of /proc/<pid>/stat times on Linux
const PAGE = 4096;

/** CPU time and RSS of `pid` (undefined when it is gone). */
export function procStat(pid: number): ProcStat | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const close = stat.lastIndexOf(')');
    const comm = stat.slice(stat.indexOf('(') + 1, close);
    const f = stat.slice(close + 2).split(' ');
    // Fields after ')' start at field 3 (state): utime is field 14, stime 15, rss 24.
    const utime = Number(f[11]);
    const stime = Number(f[12]);
    const rss = Number(f[21]);
    return { cpuSeconds: (utime + stime) / CLK_TCK, rssBytes: rss * PAGE, comm };
  } catch {
    return undefined;
  }
}

/** A ring as `/ring/info` describes it. */
export interface RingInfo {
  name: string;
  capacity: number;
  used_count: number;
  prod_tail?: number;
  cons_tail?: number;
  [k: string]: TelemetryJson | undefined;
}

/** Everything `mp info` shows about one group. */
export interface GroupInfo extends GroupSnapshot {
  /** The telemetry socket the shared views came from (undefined: no live process serves one). */
  source?: { path: string; pid: number };
  rings: RingInfo[];
  hashes: Array<Record<string, TelemetryJson>>;
  mempools: Array<Record<string, TelemetryJson>>;
  ports: Array<{ id: number; info: TelemetryJson; stats: TelemetryJson; link: TelemetryJson }>;
  /** Per live process: CPU time and RSS (from /proc), and its telemetry socket when it serves one. */
  procStats: Array<{ slot: number; pid: number; stat?: ProcStat; telemetry?: string; ipc?: TelemetryJson }>;
}

/** Connect to the first live telemetry socket of a group (the primary's first). */
export async function connectGroup(g: GroupSnapshot, timeoutMs = 2000): Promise<TelemetryClient | undefined> {
  for (const s of g.telemetry) {
    try {
      return await TelemetryClient.connect(s.path, { timeoutMs });
    } catch {
      // a dead process's socket, or a full server: try the next one
    }
  }
  return undefined;
}

async function listOf(c: TelemetryClient, known: Set<string>, listCmd: string): Promise<TelemetryJson[]> {
  if (!known.has(listCmd)) return [];
  const v = await c.request(listCmd);
  return Array.isArray(v) ? v : [];
}

async function infos(c: TelemetryClient, known: Set<string>, listCmd: string, infoCmd: string): Promise<Array<Record<string, TelemetryJson>>> {
  const out: Array<Record<string, TelemetryJson>> = [];
  if (!known.has(infoCmd)) return (await listOf(c, known, listCmd)).map((n) => ({ name: n }));
  for (const n of await listOf(c, known, listCmd)) {
    const v = await c.request(infoCmd, String(n));
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) out.push(v);
  }
  return out;
}

/**
 * `mp info`: the group's config view plus rings, hashes, mempools and ports from a live process's
 * telemetry (each only when some loaded package registers its commands: `/ring/*`, `/mp/hash/*`,
 * `/mempool/*`, `/ethdev/*`).
 *
 * @throws {MpError} ENOENT / EPERM — as {@link inspectGroup}
 */
export async function groupInfo(dir: string): Promise<GroupInfo> {
  const g = inspectGroup(dir);
  const info: GroupInfo = { ...g, rings: [], hashes: [], mempools: [], ports: [], procStats: [] };
  const socketOf = new Map<number, string>();
  for (const s of g.telemetry) socketOf.set(s.instance, s.path);
  for (const p of g.processes) {
    if (!p.alive) continue;
    const inst = p.type === 'primary' ? 0 : p.slot === 0 ? 128 : p.slot;
    const stat = procStat(p.pid);
    const sock = socketOf.get(inst);
    info.procStats.push({ slot: p.slot, pid: p.pid, ...(stat ? { stat } : {}), ...(sock ? { telemetry: sock } : {}) });
  }
  if (!g.live) return info;
  // Per process: its IPC view (actions, pending requests, counters), when @mp/ipc serves it there.
  for (const p of info.procStats) {
    if (p.telemetry === undefined) continue;
    const pc = await TelemetryClient.connect(p.telemetry).catch(() => undefined);
    if (pc === undefined) continue;
    try {
      const cmds = await pc.request('/');
      if (Array.isArray(cmds) && cmds.includes('/mp/ipc/info')) p.ipc = await pc.request('/mp/ipc/info');
    } catch {
      // gone meanwhile
    } finally {
      pc.close();
    }
  }
  const c = await connectGroup(g);
  if (c === undefined) return info;
  try {
    info.source = { path: c.path, pid: c.greeting.pid };
    const cmds = await c.request('/');
    const known = new Set(Array.isArray(cmds) ? cmds.map(String) : []);
    info.rings = (await infos(c, known, '/ring/list', '/ring/info')) as RingInfo[];
    info.hashes = await infos(c, known, '/mp/hash/list', '/mp/hash/info');
    info.mempools = await infos(c, known, '/mempool/list', '/mempool/info');
    for (const id of await listOf(c, known, '/ethdev/list')) {
      const q = async (cmd: string): Promise<TelemetryJson> => (known.has(cmd) ? c.request(cmd, String(id)) : null);
      info.ports.push({ id: Number(id), info: await q('/ethdev/info'), stats: await q('/ethdev/stats'), link: await q('/ethdev/link_status') });
    }
  } finally {
    c.close();
  }
  return info;
}

/** Runtime dir of a prefix under a base (for messages). */
export const dirOf = (base: string, prefix: string): string => join(base, prefix);
