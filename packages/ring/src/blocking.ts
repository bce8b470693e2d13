/**
 * The one wait loop of every blocking call, sync (`timeoutMs` on an element call) and async (`*Async`):
 * try; if nothing (burst) / not everything (bulk) moved, register as a sleeper on the other side's tail
 * (sleepers.ts: this thread's bit in that tail's sleeper mask), re-check, sleep; look for a dead
 * reservation on the other side; repeat until the deadline.
 *
 * The loop is a generator that yields each sleep it wants; {@link runSync} performs them with a blocking
 * futex wait, {@link runAsync} without blocking the thread (async-sleep.ts: a futex wait in the libuv pool
 * shared by the thread's sleepers, and the other side's `localSleepers`, so that a publish through the
 * same handle in this process — the handle cache gives one handle per ring and process — ends it
 * directly) — so both forms share every decision.
 */
import { futexWait } from '@mp/memory';
import { SYNC_ST } from './layout.js';
import { STALL_MS } from './headtail.js';
import type { Side } from './headtail.js';
import { checkStalled, claim } from './participants.js';
import { sleepBegin, sleepEnd, sweepBeforeSleep } from './sleepers.js';
import { sleepAsync } from './async-sleep.js';

/**
 * Blocking waits on a single-producer/consumer other side wake this often (that side has no reservation
 * records to check). Where the other side has records, a waiter wakes every STALL_MS instead, so a dead
 * reservation is named within about 2 × STALL_MS, as a non-blocking caller's stall check does.
 */
const SLICE_MS = 1000;
/**
 * The same look for an async wait, whose wake-ups cost more (a libuv pool job and a promise each, ~0.3 ms
 * of CPU here): an idle async waiter stays well under 1 % CPU and still names a dead reservation within
 * about 5 × STALL_MS.
 */
export const ASYNC_WATCH_MS = 4 * STALL_MS;
/** A waiter's first sleep is short: it covers a wake-up lost to a plain (TSO) tail store (headtail.ts S1). */
const FIRST_SLEEP_MS = 2;
/** A waiter without a participant entry (all held by live threads) cannot register: it polls this often. */
const POLL_MS = 2;
/** ... and tries to claim one again this often (a claim looks at every entry's owner). */
const CLAIM_RETRY_MS = 1000;

/** One sleep the loop asks for: wait while `i32[word] === seen`, at most `ms`; `side` owns `word` (its tail). */
export interface Sleep {
  readonly i32: Int32Array;
  readonly word: number;
  readonly seen: number;
  readonly ms: number;
  readonly side: Side;
  /** The participant entry whose sleeper bit the wait set (-1: none, it polls). */
  readonly entry: number;
}

/** What a blocking call needs from its handle. */
export interface Blocked {
  /** The side the call moves (producer for enqueue). */
  readonly own: Side;
  /** The side it waits for. */
  readonly other: Side;
  /** Elements that must fit / be there before sleeping is pointless: n (bulk) or 1 (burst). */
  readonly need: number;
  /** Date.now() ms; Infinity waits until done. */
  readonly deadline: number;
  /** Longest sleep while the other side has records but no stuck tail (ms). */
  readonly watchMs: number;
  /** One non-blocking attempt; its inner waits end at `own.deadline`. Returns elements moved. */
  attempt(): number;
  /** After a wake: re-check the ring header (freed / reset). */
  recheck(): void;
}

/** The wait loop (see the file comment). Returns elements moved, 0 on timeout. */
export function* waitLoop(b: Blocked): Generator<Sleep, number, void> {
  const own = b.own;
  const i32 = own.i32;
  let first = true;
  for (;;) {
    own.deadline = b.deadline;
    let r: number;
    try {
      r = b.attempt();
    } finally {
      own.deadline = Infinity;
    }
    if (r > 0 || b.need === 0) return r;
    const left = b.deadline - Date.now();
    if (left <= 0) return 0;
    const e = sleeperEntry(own, b.other);
    // S2 (sleepers.ts): register as a sleeper before re-reading the other side's tail; pairs with S1 (the
    // publisher's sleeper-mask load after its tail store R1): one of the two sees the other.
    if (e >= 0) {
      sweepBeforeSleep(own);
      sleepBegin(own, e);
    }
    try {
      const seen = Atomics.load(i32, own.otherTail);
      if (((own.capacity + seen - Atomics.load(i32, own.head)) >>> 0) < b.need) {
        const ms = e < 0 ? POLL_MS : first ? FIRST_SLEEP_MS : sliceMs(b.other, b.watchMs);
        yield { i32, word: own.otherTail, seen, ms: Math.min(left, ms), side: b.other, entry: e };
      }
      first = false;
    } finally {
      if (e >= 0) sleepEnd(own, e);
    }
    b.recheck();
    checkOtherSide(b.other);
  }
}

/**
 * The participant entry a waiter registers with: its handle's (multi-thread sides claim one when the handle
 * opens), else one claimed now for both sides of the handle (single-producer/consumer rings, at their
 * first sleep), else -1 when every entry is held by a live thread (the waiter then polls).
 */
function sleeperEntry(own: Side, other: Side): number {
  if (own.rec >= 0) return own.rec;
  const now = Date.now();
  if (now < own.claimRetryAt) return -1;
  try {
    own.rec = other.rec = claim(own.i32, own.name);
    return own.rec;
  } catch (err) {
    if ((err as { code?: string }).code !== 'ENOSPC') throw err;
    own.claimRetryAt = now + CLAIM_RETRY_MS;
    return -1;
  }
}

/** Run the loop, sleeping with a blocking futex wait. */
export function runSync(g: Generator<Sleep, number, void>): number {
  let it = g.next();
  while (!it.done) {
    const w = it.value;
    try {
      futexWait(w.i32, w.word, w.seen, w.ms);
    } catch (err) {
      it = g.throw(err);
      continue;
    }
    it = g.next();
  }
  return it.value;
}

/**
 * Run the loop, sleeping without blocking the event loop (async-sleep.ts): until a publish through the
 * same handle in this thread, a futex wake (a wait in the libuv pool, shared by this thread's sleepers of
 * that side) or the sleep's length. A failed pool wait is thrown into the loop.
 */
export function runAsync(g: Generator<Sleep, number, void>): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const step = (err: unknown): void => {
      let it: IteratorResult<Sleep, number>;
      try {
        it = err === undefined ? g.next() : g.throw(err);
      } catch (e) {
        reject(e as Error);
        return;
      }
      if (it.done) resolve(it.value);
      else sleepAsync(it.value, step);
    };
    step(undefined);
  });
}

/**
 * How long one sleep of a blocked call may last. The other side's reservations are not woken on (only
 * its publishes are), so a waiter must look by itself: every `idle` ms where that side keeps records,
 * and just past the end of the stall window once a stuck tail is being watched — which names a dead
 * reservation within about 2 × STALL_MS, as a non-blocking caller's stall check does.
 */
function sliceMs(other: Side, idle: number): number {
  if (other.sync === SYNC_ST) return SLICE_MS;
  const st = other.watch;
  if (!st.active) return idle;
  return Math.max(1, st.since + STALL_MS + 1 - Date.now());
}

/**
 * A blocked caller waits for the other side; if that side's tail is stuck behind a dead process's
 * reservation, nothing will ever come: ESTALE instead of sleeping forever.
 */
function checkOtherSide(other: Side): void {
  if (other.sync === SYNC_ST) return;
  const i32 = other.i32;
  const head = Atomics.load(i32, other.head);
  const tail = Atomics.load(i32, other.tail);
  const st = other.watch;
  if (head === tail) {
    st.active = false;
    return;
  }
  const now = Date.now();
  if (!st.active || st.tail !== tail) {
    st.active = true;
    st.tail = tail;
    st.since = now;
  } else if (now - st.since > STALL_MS) {
    checkStalled(other, tail, head, false);
    st.since = now; // a live owner: look again one window later
  }
}
