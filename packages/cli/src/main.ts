/**
 * The `mp` command line. `mp <command> [prefix] [options]`; see {@link USAGE}. Returns the exit code:
 * 0 done, 1 failed, 2 bad usage.
 */
import { basename } from 'node:path';
import { MpError, removeDeadGroup } from '@mp/eal';
import { groupDirs, groupInfo, listGroups, resolveGroup } from './groups.js';
import type { GroupSearch } from './groups.js';
import { formatInfo, formatLs } from './format.js';
import { runTop } from './top.js';
import { runTelemetry } from './repl.js';
import { startExporter } from './exporter.js';

export const USAGE = `usage: mp <command> [prefix] [options]

  ls                       groups on this host: prefix, state (live / STALE), primary, processes, memory
  info [prefix]            processes, memzones, rings, hashes, mempools and ports of a group
  top [prefix]             live view, redrawn every second (q quits); one frame when not on a terminal
  cleanup [prefix]         remove groups no process holds (proven by the kernel's locks); all stale
                           groups when no prefix is named. --dry-run shows what would go
  telemetry [prefix] [/cmd ...]
                           DPDK telemetry prompt (as dpdk-telemetry.py); -i <n> picks secondary n;
                           commands on the line are sent and their replies printed
  exporter [prefix ...]    Prometheus /metrics (--port 9100, --host 127.0.0.1)

options: --json (ls, info, cleanup)   --runtime-dir <dir> (a group's dir, repeatable)
         --base <dir> (a directory of runtime dirs, repeatable; default /var/run/mp,
         $XDG_RUNTIME_DIR/mp, /tmp/mp-<uid>)   --interval <ms> --iterations <n> (top)

Reading never joins or writes a group. dpdk-telemetry.py works too: dpdk-telemetry.py -f <runtime dir>
(an absolute path) [-i <n>].`;

interface Args {
  positional: string[];
  json: boolean;
  dryRun: boolean;
  search: GroupSearch;
  port?: number;
  host?: string;
  instance?: number;
  intervalMs?: number;
  iterations?: number;
  help: boolean;
}

function parse(argv: string[]): Args {
  const a: Args = { positional: [], json: false, dryRun: false, search: {}, help: false };
  const value = (i: number, flag: string): string => {
    const v = argv[i];
    if (v === undefined) throw new MpError('EINVAL', `${flag} needs a value`);
    return v;
  };
  const int = (s: string, flag: string): number => {
    if (!/^\d+$/.test(s)) throw new MpError('EINVAL', `${flag} '${s}' is not a non-negative integer`);
    return Number(s);
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const next = (): string => inline ?? value(++i, flag);
    switch (flag) {
      case '--json':
        a.json = true;
        break;
      case '--dry-run':
        a.dryRun = true;
        break;
      case '-h':
      case '--help':
        a.help = true;
        break;
      case '--runtime-dir':
        (a.search.runtimeDirs ??= []).push(next());
        break;
      case '--base':
        (a.search.bases ??= []).push(next());
        break;
      case '--port':
        a.port = int(next(), flag);
        break;
      case '--host':
        a.host = next();
        break;
      case '-i':
      case '--instance':
        a.instance = int(next(), flag);
        break;
      case '--interval':
        a.intervalMs = int(next(), flag);
        break;
      case '--iterations':
        a.iterations = int(next(), flag);
        break;
      default:
        if (arg.startsWith('-') && arg !== '-') throw new MpError('EINVAL', `unknown option '${arg}'`);
        a.positional.push(arg);
    }
  }
  return a;
}

const print = (s: string): void => {
  process.stdout.write(`${s}\n`);
};

/** Run `mp` with `argv` (without the program name). */
export async function main(argv: string[]): Promise<number> {
  let a: Args;
  try {
    a = parse(argv);
  } catch (err) {
    process.stderr.write(`mp: ${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const [cmd, ...rest] = a.positional;
  if (a.help || cmd === undefined || cmd === 'help') {
    print(USAGE);
    return cmd === undefined && !a.help ? 2 : 0;
  }
  try {
    switch (cmd) {
      case 'ls': {
        const r = listGroups(a.search);
        print(a.json ? JSON.stringify(r, null, 2) : formatLs(r.groups, r.errors));
        return 0;
      }
      case 'info': {
        const info = await groupInfo(resolveGroup(rest[0], a.search));
        print(a.json ? JSON.stringify(info, null, 2) : formatInfo(info));
        return 0;
      }
      case 'top':
        return await runTop(resolveGroup(rest[0], a.search), {
          ...(a.intervalMs !== undefined ? { intervalMs: a.intervalMs } : {}),
          ...(a.iterations !== undefined ? { iterations: a.iterations } : {}),
        });
      case 'cleanup':
        return cleanup(rest[0], a);
      case 'telemetry': {
        const prefix = rest[0]?.startsWith('/') ? undefined : rest[0];
        const commands = rest.filter((r) => r.startsWith('/'));
        return await runTelemetry(resolveGroup(prefix, a.search), { ...(a.instance !== undefined ? { instance: a.instance } : {}), commands });
      }
      case 'exporter': {
        const e = await startExporter({ ...a.search, prefixes: rest, ...(a.port !== undefined ? { port: a.port } : {}), ...(a.host !== undefined ? { host: a.host } : {}) });
        print(`mp exporter: serving ${e.url}`);
        await new Promise<void>((resolve) => {
          const stop = (): void => {
            void e.close().then(resolve);
          };
          process.once('SIGINT', stop);
          process.once('SIGTERM', stop);
        });
        return 0;
      }
      default:
        process.stderr.write(`mp: unknown command '${cmd}'\n${USAGE}\n`);
        return 2;
    }
  } catch (err) {
    process.stderr.write(`mp: ${(err as Error).message}\n`);
    return 1;
  }
}

function cleanup(prefix: string | undefined, a: Args): number {
  const dirs = prefix !== undefined ? [resolveGroup(prefix, a.search)] : groupDirs(a.search);
  const results: Array<{ prefix: string; runtimeDir: string; removed: string[]; left: string[]; kept?: string }> = [];
  let failed = false;
  for (const dir of dirs) {
    try {
      results.push(removeDeadGroup(dir, { dryRun: a.dryRun }));
    } catch (err) {
      const e = err as MpError;
      if (e.code === 'EBUSY') results.push({ prefix: basename(dir), runtimeDir: dir, removed: [], left: [], kept: 'live' });
      else if (e.code === 'EPROTO' && prefix === undefined) results.push({ prefix: basename(dir), runtimeDir: dir, removed: [], left: [], kept: e.message });
      else {
        failed = true;
        results.push({ prefix: basename(dir), runtimeDir: dir, removed: [], left: [], kept: e.message });
      }
    }
  }
  if (a.json) print(JSON.stringify({ dryRun: a.dryRun, groups: results }, null, 2));
  else {
    const lines: string[] = [];
    for (const r of results) {
      if (r.kept === 'live') {
        if (prefix !== undefined) lines.push(`${r.prefix}: live (a process holds it), nothing removed`);
        continue;
      }
      if (r.kept !== undefined) {
        lines.push(`${r.prefix}: not removed: ${r.kept}`);
        continue;
      }
      lines.push(`${r.prefix}: ${a.dryRun ? 'would remove' : 'removed'} ${r.removed.length} name(s)`);
      for (const p of r.removed) lines.push(`  ${p}`);
      for (const p of r.left) lines.push(`  left ${p}`);
    }
    print(lines.length ? lines.join('\n') : 'no stale groups');
  }
  if (prefix !== undefined && results[0]?.kept === 'live') return 1;
  return failed ? 1 : 0;
}
