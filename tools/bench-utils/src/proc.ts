/**
 * CPU time of other processes, from /proc/<pid>/stat (utime + stime of the whole thread group, in clock
 * ticks), for figures such as the CPU share of a process that should be asleep.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

let hz: number | undefined;
/** Clock ticks per second of /proc's times (`getconf CLK_TCK`; 100 where getconf is missing). */
export function clockTicks(): number {
  if (hz === undefined) {
    try {
      hz = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      hz = 100;
    }
  }
  return hz;
}

/** CPU seconds (user + system, all threads) a live process has used so far. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces and parentheses): state is field 3, utime 14, stime 15.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / clockTicks();
}

/**
 * The CPU share (0..1 of one CPU) each process used over the next `ms` milliseconds, all measured over
 * the same window. Resolution: one clock tick over the window (10 ms / ms).
 */
export async function cpuShare(pids: readonly number[], ms: number): Promise<number[]> {
  const c0 = pids.map(cpuSeconds);
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, ms));
  const c1 = pids.map(cpuSeconds);
  const wall = (performance.now() - t0) / 1000;
  return pids.map((_, i) => (c1[i]! - c0[i]!) / wall);
}
