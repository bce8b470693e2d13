/**
 * The group's exit log: every process-table slot freed — its process left, or died and was reclaimed by
 * whoever noticed first — is copied into a ring in the config (layout.ts, "Exit log entry") under the
 * table lock, before the slot can be claimed again. Each process's table watch reads the entries logged
 * since its last look and reports each exit once.
 *
 * Why: the watch compares snapshots 100 ms apart. A process that joined and died between two looks of one
 * process, its slot reclaimed meanwhile by another process's watch (or by the next process to join), left
 * no trace in the table that process could see: its `proc-exit` was never raised there, and what hangs on
 * it (a mempool's held objects, pending IPC requests) waited for nothing. A loaded machine makes the gap
 * wide: a primary descheduled for 200 ms missed a secondary that lived 150 ms.
 *
 * One writer at a time (the table lock); readers take no lock. A reader that falls more than
 * EXIT_LOG_LEN exits behind is told how many it lost.
 */
import { CFG_W, EXIT_LOG_LEN, EXIT_W, PROC, PROC_W, PT_PRIMARY, exitWord, lcoresAt, procWord } from './layout.js';

/** A logged exit: the process entry as it was when its slot was freed. */
export interface LoggedExit {
  /** Its sequence number in the log. */
  seq: number;
  slot: number;
  pid: number;
  type: 'primary' | 'secondary';
  lcores: number[];
  startTime: Date;
}

/** Copy slot `slot`'s process entry into the log. Call under the table lock, before the slot is freed. */
export function logExit(u32: Uint32Array, slot: number): void {
  const seq = (u32[CFG_W.exitSeq]! + 1) >>> 0;
  const e = exitWord(seq);
  const p = procWord(slot);
  // SYNC: the entry's seq first: a reader still after the seq it held (EXIT_LOG_LEN exits ago) sees it
  // change under its read and drops what it read (pairs with the two seq loads in readExits).
  Atomics.store(u32, e + EXIT_W.seq, seq);
  Atomics.store(u32, e + EXIT_W.pid, u32[p + PROC_W.pid]!);
  Atomics.store(u32, e + EXIT_W.type, u32[p + PROC_W.type]!);
  Atomics.store(u32, e + EXIT_W.slot, slot);
  Atomics.store(u32, e + EXIT_W.startMs, u32[p + PROC_W.startMs]!);
  Atomics.store(u32, e + EXIT_W.startMs + 1, u32[p + PROC_W.startMs + 1]!);
  for (let w = 0; w < PROC.lcoreWords; w++) Atomics.store(u32, e + EXIT_W.lcores + w, u32[p + PROC_W.lcores + w]!);
  // SYNC: the head last: a reader reads only entries up to the head it loaded (pairs with readExits).
  Atomics.store(u32, CFG_W.exitSeq, seq);
}

/** The log's head now: a new reader starts here (exits logged before it are not its business). */
export function exitLogHead(u32: Uint32Array): number {
  return Atomics.load(u32, CFG_W.exitSeq);
}

/**
 * The exits logged after sequence number `after` (a reader's last look), oldest first, the new head, and
 * how many were lost (overwritten before this reader looked).
 */
export function readExits(u32: Uint32Array, after: number): { exits: LoggedExit[]; head: number; lost: number } {
  const head = Atomics.load(u32, CFG_W.exitSeq);
  const behind = (head - after) >>> 0;
  const exits: LoggedExit[] = [];
  const n = Math.min(behind, EXIT_LOG_LEN);
  let lost = behind - n;
  for (let i = n; i > 0; i--) {
    const seq = (head - i + 1) >>> 0;
    const e = exitWord(seq);
    if (Atomics.load(u32, e + EXIT_W.seq) !== seq) {
      lost++;
      continue;
    }
    const x: LoggedExit = {
      seq,
      slot: Atomics.load(u32, e + EXIT_W.slot),
      pid: Atomics.load(u32, e + EXIT_W.pid),
      type: Atomics.load(u32, e + EXIT_W.type) === PT_PRIMARY ? 'primary' : 'secondary',
      lcores: lcoresAt(u32, e + EXIT_W.lcores),
      startTime: new Date(Atomics.load(u32, e + EXIT_W.startMs) + Atomics.load(u32, e + EXIT_W.startMs + 1) * 2 ** 32),
    };
    // Overwritten while we read (a writer EXIT_LOG_LEN exits ahead): what we read may be torn.
    if (Atomics.load(u32, e + EXIT_W.seq) !== seq) {
      lost++;
      continue;
    }
    exits.push(x);
  }
  return { exits, head, lost };
}
