/**
 * The participant table (layout.ts): who holds an in-flight reservation on a multi-thread side, so that a
 * waiter stuck behind it can name a dead owner (ESTALE) and `recover()` can repair what it left.
 *
 * A thread claims one entry (pid, threadId) when it opens a ring with a multi side — once, not per
 * reservation. Per reservation the head move writes its start position and BUSY into that entry (its own
 * cache line: two plain stores no other thread reads unless a tail stalls) before C1, and the tail
 * update writes IDLE after R1 (headtail.ts, hts.ts, rts.ts). A thread that sleeps in a blocking call
 * also registers through its entry (sleepers.ts); a single-producer/consumer ring claims one then.
 */
import { threadId } from 'node:worker_threads';
import { MpError, futexWait } from '@mp/memory';
import { processAlive } from '@mp/memory/internal';
import {
  CONS_WORDS,
  P_CONS_SLEEPS,
  P_PROD_SLEEPS,
  PROD_WORDS,
  P_CONS_POS,
  P_CONS_STATE,
  P_PID,
  P_PROD_POS,
  P_PROD_STATE,
  P_TID,
  PARTICIPANTS,
  REC_ABANDONED,
  REC_BUSY,
  REC_IDLE,
  SYNC_MT_RTS,
  SYNC_ST,
  partWord,
} from './layout.js';
import { deadPeerError } from './errors.js';
import type { Side } from './headtail.js';
import type { RingRecovery } from './types.js';
import { clearSleeps, sleepsOf, takeBackDeadSleepers } from './sleepers.js';

/** recover() retries a side this often while heads move under it, then reports it busy. */
const RECOVER_ATTEMPTS = 1000;
/** A single side's head and tail must stay apart this long before recover() rolls it back. */
const SINGLE_SIDE_STALL_MS = 100;

/**
 * Take a participant entry for this thread (pid, threadId): its own from before, else a free one, else
 * one of a dead process with nothing in flight. Returns its word index.
 *
 * @throws {MpError} ENOSPC — every entry is held by a live thread
 */
export function claim(i32: Int32Array, name: string): number {
  const pid = process.pid;
  for (let p = 0; p < PARTICIPANTS; p++) {
    const e = partWord(p);
    if (Atomics.load(i32, e + P_PID) === pid && i32[e + P_TID] === threadId) return e;
  }
  for (let pass = 0; pass < 2; pass++) {
    for (let p = 0; p < PARTICIPANTS; p++) {
      const e = partWord(p);
      const owner = Atomics.load(i32, e + P_PID);
      if (pass === 0 && owner !== 0) continue;
      if (pass === 1) {
        if (owner === 0 || processAlive(owner)) continue;
        if (i32[e + P_PROD_STATE] !== REC_IDLE || i32[e + P_CONS_STATE] !== REC_IDLE) continue;
      }
      if (Atomics.compareExchange(i32, e + P_PID, owner, pid) === owner) {
        i32[e + P_TID] = threadId;
        i32[e + P_PROD_STATE] = REC_IDLE;
        i32[e + P_CONS_STATE] = REC_IDLE;
        // A dead owner's sleeper bits (if no sweep took them back yet) and counts go with its entry.
        clearSleeps(i32, e);
        return e;
      }
    }
  }
  throw new MpError('ENOSPC', `ring '${name}': all ${PARTICIPANTS} participant slots are held by live threads (close() unused handles)`);
}

/** Give entry `e` back if nothing is in flight on it (else it stays, for recover() to find). */
export function release(i32: Int32Array, e: number): void {
  if (i32[e + P_PROD_STATE] === REC_IDLE && i32[e + P_CONS_STATE] === REC_IDLE) {
    i32[e + P_TID] = -1;
    Atomics.store(i32, e + P_PID, 0);
  }
}

/** Pid holding the reservation that starts at `tail` on side `s`, or 0. */
export function frontOwner(s: Side, tail: number): number {
  const i32 = s.i32;
  for (let p = 0; p < PARTICIPANTS; p++) {
    const e = partWord(p);
    const pid = Atomics.load(i32, e + P_PID);
    if (pid !== 0 && Atomics.load(i32, e + s.recState) === REC_BUSY && i32[e + s.recPos] === tail) return pid;
  }
  return 0;
}

/**
 * The tail of side `s` has not moved for STALL_MS. If a reservation in [tail, limit) belongs to a dead
 * process (or to one that gave up because of a dead one), throw ESTALE naming the dead pid — after marking
 * this thread's own reservation abandoned when `mine` (it is one of them) — else return.
 */
export function checkStalled(s: Side, tail: number, limit: number, mine: boolean): void {
  const i32 = s.i32;
  const span = (limit - tail) >>> 0;
  let culprit = 0;
  for (let p = 0; p < PARTICIPANTS; p++) {
    const e = partWord(p);
    if (e === s.rec && mine) continue;
    const pid = Atomics.load(i32, e + P_PID);
    if (pid === 0) continue;
    const state = Atomics.load(i32, e + s.recState);
    if (state === REC_IDLE) continue;
    const pos = i32[e + s.recPos]!;
    if (((pos - tail) >>> 0) >= span && !(span === 0 && pos === tail)) continue;
    if (state === REC_ABANDONED) {
      culprit = i32[e + s.recCulprit]! || pid;
    } else if (!processAlive(pid)) {
      culprit = pid;
    } else if (pos === tail) {
      return; // the front reservation belongs to a live process: it will publish.
    }
  }
  if (culprit === 0) return;
  if (mine) {
    i32[s.rec + s.recCulprit] = culprit;
    Atomics.store(i32, s.rec + s.recState, REC_ABANDONED);
  }
  throw deadPeerError(s.side, culprit, s.name);
}

/**
 * Roll side `s`'s head back to its tail when nothing live is in flight there; returns the elements
 * dropped (producer) or handed out again (consumer). Dead owners go into `dead`; a side that stays busy
 * goes into `out.busy`.
 */
export function recoverSide(s: Side, dead: Set<number>, out: RingRecovery): number {
  const i32 = s.i32;
  for (let attempt = 0; attempt < RECOVER_ATTEMPTS; attempt++) {
    const head = Atomics.load(i32, s.head);
    const tail = Atomics.load(i32, s.tail);
    const stale: number[] = [];
    let live = false;
    for (let p = 0; p < PARTICIPANTS; p++) {
      const e = partWord(p);
      const pid = Atomics.load(i32, e + P_PID);
      const state = Atomics.load(i32, e + s.recState);
      if (pid === 0 || state === REC_IDLE) continue;
      if (state === REC_BUSY && processAlive(pid)) live = true;
      else {
        stale.push(e);
        if (state === REC_BUSY) dead.add(pid);
      }
    }
    if (live) {
      out.busy.push(s.side);
      return 0;
    }
    if (s.sync === SYNC_ST && head !== tail) {
      // No records on a single side: the reservation must stay unpublished for a while to count as dead.
      futexWait(i32, s.tail, tail, SINGLE_SIDE_STALL_MS);
      if (Atomics.load(i32, s.head) !== head || Atomics.load(i32, s.tail) !== tail) continue;
    }
    if (head === tail && s.sync !== SYNC_MT_RTS) {
      for (const e of stale) i32[e + s.recState] = REC_IDLE;
      return 0;
    }
    let ok: boolean;
    if (s.sync === SYNC_MT_RTS) {
      const q = s.q64;
      const qh = Atomics.load(q, s.qHead);
      const qt = Atomics.load(q, s.qTail);
      if (qh === qt) {
        for (const e of stale) i32[e + s.recState] = REC_IDLE;
        return 0;
      }
      ok = Atomics.compareExchange(q, s.qHead, qh, qt) === qh;
    } else {
      ok = Atomics.compareExchange(i32, s.head, head, tail) === head;
    }
    if (!ok) continue;
    for (const e of stale) i32[e + s.recState] = REC_IDLE;
    s.pending = 0;
    return (head - tail) >>> 0;
  }
  out.busy.push(s.side);
  return 0;
}

/** Both sides, then free the entries of dead processes with nothing in flight (Ring.recover). */
export function recoverRing(i32: Int32Array, prod: Side, cons: Side): RingRecovery {
  const out: RingRecovery = { droppedEnqueued: 0, returnedDequeued: 0, sleepersTakenBack: 0, deadPids: [], busy: [] };
  const dead = new Set<number>();
  out.droppedEnqueued = recoverSide(prod, dead, out);
  out.returnedDequeued = recoverSide(cons, dead, out);
  // Sleepers killed asleep: their bits go before their entries are freed (then anyone may claim them).
  out.sleepersTakenBack = takeBackDeadSleepers(i32, prod.ownSleepers) + takeBackDeadSleepers(i32, cons.ownSleepers);
  for (let p = 0; p < PARTICIPANTS; p++) {
    const e = partWord(p);
    const pid = Atomics.load(i32, e + P_PID);
    if (pid === 0 || processAlive(pid)) continue;
    dead.add(pid);
    if (i32[e + P_PROD_STATE] === REC_IDLE && i32[e + P_CONS_STATE] === REC_IDLE) {
      Atomics.compareExchange(i32, e + P_PID, pid, 0);
    }
  }
  out.deadPids = [...dead].sort((a, b) => a - b);
  return out;
}

/** Reset every entry's reservation records (Ring.reset). */
export function resetRecords(i32: Int32Array): void {
  for (let p = 0; p < PARTICIPANTS; p++) {
    const e = partWord(p);
    i32[e + P_PROD_STATE] = REC_IDLE;
    i32[e + P_CONS_STATE] = REC_IDLE;
  }
}

const recName = (st: number): string => (st === REC_IDLE ? 'idle' : st === REC_BUSY ? 'busy' : 'abandoned');

/** Dump lines of the held entries (Ring.dump). */
export function participantLines(i32: Int32Array): string[] {
  const lines: string[] = [];
  for (let p = 0; p < PARTICIPANTS; p++) {
    const e = partWord(p);
    const pid = i32[e + P_PID]! >>> 0;
    if (pid === 0) continue;
    lines.push(
      `  participant ${p}: pid ${pid} thread ${i32[e + P_TID]} ` +
        `prod ${recName(i32[e + P_PROD_STATE]!)}@${i32[e + P_PROD_POS]! >>> 0} cons ${recName(i32[e + P_CONS_STATE]!)}@${i32[e + P_CONS_POS]! >>> 0}` +
        ` asleep prod ${sleepsOf(i32, p, PROD_WORDS.ownSleepers, P_PROD_SLEEPS)} cons ${sleepsOf(i32, p, CONS_WORDS.ownSleepers, P_CONS_SLEEPS)}`,
    );
  }
  return lines;
}
