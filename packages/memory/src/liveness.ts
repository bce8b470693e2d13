/**
 * Is a process still there? The one answer every @mp package uses when it must decide whether a
 * recorded owner (a ring reservation, a hash writer, an inbox claim, a request's peer) can still act.
 *
 * Prefer a kernel-held signal when the structure has one: an OFD/robust lock the owner holds is released
 * by the kernel at its death, and a pidfd ({@link watchPid}) cannot be fooled by pid reuse. This helper is
 * for the pids recorded in shared words, and it is zombie-aware: `kill(pid, 0)` succeeds on a process
 * that exited but was not reaped yet (a SIGKILLed child of a parent blocked in a synchronous wait stays a
 * zombie until the parent's event loop runs), so the state letter in `/proc/<pid>/stat` is read too.
 */
import { readFileSync } from 'node:fs';

/**
 * Is process `pid` gone: no such process, or exited and not yet reaped (state Z or X)? A pid of another
 * user (EPERM) is alive. This process is never gone.
 */
export function processGone(pid: number): boolean {
  if (pid === process.pid) return false;
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

/** `!processGone(pid)`: the process exists and has not exited (a zombie is dead). */
export function processAlive(pid: number): boolean {
  return !processGone(pid);
}
