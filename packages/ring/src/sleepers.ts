/**
 * Who sleeps on a tail (layout.ts, "Sleepers"): a blocked call sets its participant entry's bit in the
 * mask on the line of the tail it sleeps on and counts its waits in its entry; a publisher reads the mask
 * after its tail store and wakes when it is not 0. Per-entry bits, not a shared count, so that what a
 * process killed asleep left is its own bit, which recover(), a publisher whose wake woke nobody, or the
 * next waiter on that tail clears once the entry's owner is dead — without touching live sleepers' state.
 *
 * A cleared bit of a live sleeper (an entry freed and claimed again between a sweeper's liveness check and
 * its clear) costs that sleeper at most one sleep slice: it sets its bit again every time it registers.
 */
import { futexWake } from '@mp/memory';
import { processAlive } from '@mp/memory/internal';
import { CONS_WORDS, P_PID, PARTICIPANTS, PROD_WORDS, SLEEP_MASK_WORDS, partIndex, partWord } from './layout.js';
import type { Side } from './headtail.js';

/** A handle side sweeps a sleeper mask for dead entries at most this often (ms; headtail.ts STALL_MS). */
const SWEEP_MS = 50;

/**
 * Register one wait of this thread (entry `e`) as a sleeper of side `s` (S2: before the caller re-reads
 * the other side's tail; pairs with S1 in headtail.ts's wakeOther).
 */
export function sleepBegin(s: Side, e: number): void {
  const i32 = s.i32;
  // Only this thread writes its entry's count; the bit is set again on every wait (see the file comment).
  i32[e + s.recSleeps] = i32[e + s.recSleeps]! + 1;
  const p = partIndex(e);
  Atomics.or(i32, s.ownSleepers + (p >>> 5), 1 << (p & 31));
}

/** Unregister one wait; the entry's bit goes with its last wait. */
export function sleepEnd(s: Side, e: number): void {
  const i32 = s.i32;
  const k = i32[e + s.recSleeps]! - 1;
  i32[e + s.recSleeps] = k > 0 ? k : 0;
  if (k > 0) return;
  const p = partIndex(e);
  Atomics.and(i32, s.ownSleepers + (p >>> 5), ~(1 << (p & 31)));
}

/**
 * Clear the bits in sleeper mask `mask` whose entries are free or owned by a dead process. Returns how
 * many were cleared.
 */
export function takeBackDeadSleepers(i32: Int32Array, mask: number): number {
  let n = 0;
  for (let w = 0; w < SLEEP_MASK_WORDS; w++) {
    let bits = Atomics.load(i32, mask + w);
    while (bits !== 0) {
      const b = 31 - Math.clz32(bits);
      bits &= ~(1 << b);
      const pid = Atomics.load(i32, partWord(w * 32 + b) + P_PID);
      if (pid !== 0 && processAlive(pid)) continue;
      if ((Atomics.and(i32, mask + w, ~(1 << b)) & (1 << b)) !== 0) n++;
    }
  }
  return n;
}

/**
 * S1 found sleepers on side `s`'s tail: wake them (the slow half of wakeOther, out of line so the hot
 * path stays small), count the wake, and when it woke nobody, take back dead sleepers (at most once per
 * SWEEP_MS per handle side: a live sleeper between its registration and its sleep also makes a wake find
 * nobody).
 */
export function wakeSleepers(s: Side): void {
  const local = s.localSleepers;
  if (local.length > 0) {
    // Async sleepers of this thread on this handle: their wait loops go on at this thread's next
    // microtask checkpoint instead of after a libuv pool thread has woken and signalled the event loop
    // (on a busy machine that thread waits for a core). When every bit in the mask is theirs, no futex
    // wake at all: the pool wait they share stays asleep for their next sleep (async-sleep.ts). A sleeper
    // elsewhere (S2 before its tail re-read; pairs with S1) has its own bit: then the wake goes at once.
    for (const wake of local.splice(0)) wake();
    if (onlyBit(s.i32, s.wakeSleepers, s.localEntry)) return;
  }
  futexWakeCounted(s);
}

/** Whether sleeper mask `mask` holds entry `e`'s bit and no other (e < 0: never). */
function onlyBit(i32: Int32Array, mask: number, e: number): boolean {
  if (e < 0) return false;
  const p = partIndex(e);
  for (let w = 0; w < SLEEP_MASK_WORDS; w++) {
    const want = w === p >>> 5 ? 1 << (p & 31) : 0;
    if (Atomics.load(i32, mask + w) !== want) return false;
  }
  return true;
}

/** The futex wake of wakeSleepers, counted; when it woke nobody, a sweep for dead sleepers. */
function futexWakeCounted(s: Side): void {
  const i32 = s.i32;
  Atomics.add(i32, s.wakes, 1);
  if (futexWake(i32, s.tail) !== 0) return;
  const now = Date.now();
  if (now < s.wakeCheckAt) return;
  s.wakeCheckAt = now + SWEEP_MS;
  takeBackDeadSleepers(i32, s.wakeSleepers);
}

/** A waiter about to sleep on side `s`: take back dead sleepers beside it (at most once per SWEEP_MS). */
export function sweepBeforeSleep(s: Side): void {
  const now = Date.now();
  if (now < s.sleepCheckAt) return;
  s.sleepCheckAt = now + SWEEP_MS;
  takeBackDeadSleepers(s.i32, s.ownSleepers);
}

/** Waits of participant `p` asleep in mask `mask` (`recSleeps`: its count word): 0 when its bit is clear. */
export function sleepsOf(i32: Int32Array, p: number, mask: number, recSleeps: number): number {
  if ((i32[mask + (p >>> 5)]! & (1 << (p & 31))) === 0) return 0;
  return Math.max(1, i32[partWord(p) + recSleeps]!);
}

/** Waits asleep in mask `mask`, all entries (dump()). */
export function sleeping(i32: Int32Array, mask: number, recSleeps: number): number {
  let n = 0;
  for (let p = 0; p < PARTICIPANTS; p++) n += sleepsOf(i32, p, mask, recSleeps);
  return n;
}

/** Zero entry `e`'s sleep counts and clear its bits: a thread that just claimed it sleeps nowhere yet. */
export function clearSleeps(i32: Int32Array, e: number): void {
  const p = partIndex(e);
  for (const w of [PROD_WORDS, CONS_WORDS]) {
    i32[e + w.recSleeps] = 0;
    Atomics.and(i32, w.ownSleepers + (p >>> 5), ~(1 << (p & 31)));
  }
}
