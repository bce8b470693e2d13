/**
 * Pid liveness for @mp/ipc: the one check every path here uses (requests' waits, inbox owners,
 * claimers and senders). Zombie-aware: `kill(pid, 0)` succeeds on a process that exited but was not
 * reaped yet — a SIGKILLed child of a process blocked in requestSync stays a zombie until its parent's
 * event loop runs again — so the /proc state letter is read too. (Issue 16 moves this to @mp/memory.)
 */
import { readFileSync } from 'node:fs';

/** Is process `pid` gone (no such process, or exited and not reaped yet: state Z or X)? */
export function processGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'EPERM';
  }
  try {
    const st = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const s = st.charAt(st.lastIndexOf(')') + 2);
    return s === 'Z' || s === 'X';
  } catch {
    return true;
  }
}
