/**
 * The head/tail protocol of rte_ring (DPDK's rte_ring_c11_pvt.h / rte_ring_elem_pvt.h), one side at a time.
 *
 * A {@link Side} is a handle's view of one side: producers move `prod.head` bounded by `cons.tail` and the
 * capacity, consumers move `cons.head` bounded by `prod.tail`. As DPDK's `__rte_ring_headtail_move_head`,
 * one head move serves both: `entries = capacity + otherTail - head` with the ring's capacity for
 * producers (free slots) and 0 for consumers (filled slots). This file holds the single-thread (SP/SC)
 * and multi-thread (MP/MC) modes; HTS and RTS are in hts.ts and rts.ts.
 *
 * Memory-ordering points, named so their partners can be found:
 * - R1 (publish): a side's tail store, after its slots were written (producer) or read (consumer);
 *   pairs with A1 on the other side. On x86 (TSO, see @mp/memory) a plain store is already a release
 *   store (what DPDK's C compiles to); elsewhere Atomics.store.
 * - A1 (acquire): the load of the other side's tail before copying; pairs with R1. On TSO a plain load.
 * - S1 (wake check): the sleeper-mask load right after R1; pairs with S2 in sleepers.ts (a sleeper sets
 *   its bit before it re-reads the tail). A plain R1 gives up store→load order against S1: a
 *   sleeper covers that window by making its first sleep short (FIRST_SLEEP_MS in blocking.ts).
 * - C1 (claim): the head CAS of a multi-thread side; the reservation record (pos, then BUSY) is written
 *   before it, so no reservation exists that a stall check (participants.ts) cannot attribute.
 */
import { MpError, futexWait } from '@mp/memory';
import { TSO } from '@mp/memory/internal';
import {
  REC_ABANDONED,
  REC_BUSY,
  REC_IDLE,
  CONS_WORDS,
  PROD_WORDS,
} from './layout.js';
import { abandonedReservationError } from './errors.js';
import type { PoolWatch } from './async-sleep.js';
import type { RingStaleError } from './errors.js';
import { checkStalled, frontOwner } from './participants.js';
import { wakeSleepers } from './sleepers.js';
import type { RingSide } from './types.js';

/** A tail that has not moved for this long makes a waiter look for a dead owner. */
export const STALL_MS = 50;
/** Busy-wait turns before a wait starts sleeping (a peer mid-publish finishes in far less). */
export const SPIN_TURNS = 200;
/** First and longest sleep (ms) of a multi-thread commit waiting for an earlier reservation. */
const TAIL_PAUSE_MIN_MS = 0.02;
const TAIL_PAUSE_MAX_MS = 1;
/** One sleep (ms) of an HTS/RTS reserve waiting for the front reservation. */
const FRONT_PAUSE_MS = 0.05;

/** A handle's state for one side of its ring (per thread: the counters are shared, these are not). */
export class Side {
  readonly prod: boolean;
  readonly side: RingSide;
  /** The ring's name, for messages. */
  readonly name: string;
  readonly i32: Int32Array;
  readonly q64: BigUint64Array;
  /** SYNC_* of this side. */
  readonly sync: number;
  /** DPDK's move_head `capacity`: the ring's capacity for producers, 0 for consumers. */
  readonly capacity: number;
  /** The ring's capacity (an entries count above it means a stale cached tail). */
  readonly ringCapacity: number;
  /** RTS: the largest head/tail distance. */
  readonly htdMax: number;
  // Word indices (layout.ts SideWords), copied here so the hot path reads one object.
  readonly head: number;
  readonly tail: number;
  readonly qHead: number;
  readonly qTail: number;
  readonly otherTail: number;
  readonly wakeSleepers: number;
  readonly ownSleepers: number;
  readonly wakes: number;
  readonly recSleeps: number;
  readonly recState: number;
  readonly recPos: number;
  readonly recCulprit: number;

  /** Word index of this thread's participant entry, or -1 (single sides, closed handles). */
  rec = -1;
  /** Last seen tail of the other side: it only moves forward, so a stale copy under-estimates. */
  otherTailCache = 0;
  /** Free slots (producer) / elements left (consumer) after the last call: rte_ring's out-parameter. */
  last = 0;
  /** Set by a head move: the head the reservation started at. */
  rOld = 0;
  /** Two-step (peek / zero-copy) reservation in progress: its start and size. */
  peekOld = 0;
  pending = 0;
  /** Deadline (Date.now() ms) of the blocking call in progress on this side; Infinity outside one. */
  deadline = Infinity;
  /** A waiter's watch of this side's stuck tail (blocking.ts and the HTS/RTS front wait). */
  readonly watch = { active: false, tail: 0, since: 0 };
  readonly frontWatch = { active: false, tail: 0, since: 0 };
  /**
   * Async sleepers of this process (this thread) on this side's tail: a publish through this handle
   * resolves them directly, without the round trip through the libuv pool (async-sleep.ts).
   */
  readonly localSleepers: Array<() => void> = [];
  /** The participant entry those sleepers registered with (their sleeper bit; -1: none). */
  localEntry = -1;
  /** The futex wait in the libuv pool those sleepers share (async-sleep.ts), while one runs. */
  poolWatch: PoolWatch | undefined;
  /** Date.now() before which this side does not sweep for dead sleepers again (sleepers.ts): as a waker, as a waiter. */
  wakeCheckAt = 0;
  sleepCheckAt = 0;
  /** Date.now() before which a waiter without a participant entry does not try to claim one again (blocking.ts). */
  claimRetryAt = 0;

  constructor(prod: boolean, i32: Int32Array, q64: BigUint64Array, name: string, ringCapacity: number) {
    const w = prod ? PROD_WORDS : CONS_WORDS;
    this.prod = prod;
    this.side = prod ? 'producer' : 'consumer';
    this.name = name;
    this.i32 = i32;
    this.q64 = q64;
    this.sync = i32[w.sync]!;
    this.ringCapacity = ringCapacity;
    this.capacity = prod ? ringCapacity : 0;
    this.htdMax = i32[w.htdMax]!;
    this.head = w.head;
    this.tail = w.tail;
    this.qHead = w.qHead;
    this.qTail = w.qTail;
    this.otherTail = w.otherTail;
    this.wakeSleepers = w.wakeSleepers;
    this.ownSleepers = w.ownSleepers;
    this.wakes = w.wakes;
    this.recSleeps = w.recSleeps;
    this.recState = w.recState;
    this.recPos = w.recPos;
    this.recCulprit = w.recCulprit;
    this.otherTailCache = Atomics.load(i32, w.otherTail);
  }
}

/**
 * How many of `n` elements can move from `head` (DPDK's move_head arithmetic, both sides): n, fewer
 * (burst), or 0. Sets `s.last` to what stays free / available after them.
 */
export function entriesAt(s: Side, head: number, n: number, bulk: boolean): number {
  let e = (s.capacity + s.otherTailCache - head) >>> 0;
  if (e < n || e > s.ringCapacity) {
    // A1: read the other side's line only when the cached tail says too little (or is stale: other
    // threads of this side moved the head past it); pairs with R1 on the other side. On TSO a plain load
    // is the acquire load (what Atomics.load and DPDK's __atomic_load_n(ACQUIRE) compile to), without the
    // builtin call; V8 neither caches nor hoists typed-array element loads, and this one runs once per call.
    s.otherTailCache = TSO ? s.i32[s.otherTail]! : Atomics.load(s.i32, s.otherTail);
    e = (s.capacity + s.otherTailCache - head) >>> 0;
  }
  if (e < n) {
    if (bulk || e === 0) {
      s.last = e;
      return 0;
    }
    n = e;
  }
  s.last = e - n;
  return n;
}

/** Single-thread head move (SP/SC): a plain read and store of our own head. Sets `s.rOld`. */
export function moveHeadST(s: Side, n: number, bulk: boolean): number {
  const i32 = s.i32;
  const head = i32[s.head]!;
  n = entriesAt(s, head, n, bulk);
  if (n === 0) return 0;
  s.rOld = head;
  i32[s.head] = (head + n) | 0;
  return n;
}

/** R1 of a single-thread side: publish the tail after the slots (see the file comment for TSO). */
export function updateTailST(s: Side, next: number): void {
  if (TSO) s.i32[s.tail] = next;
  else Atomics.store(s.i32, s.tail, next);
}

/** The ESTALE of a thread whose own earlier reservation on this side is abandoned and not yet recovered. */
export function abandonedError(s: Side): RingStaleError {
  return abandonedReservationError(s.side, s.i32[s.rec + s.recCulprit]!, s.name);
}

/** Multi-thread head move (MP/MC): record, then C1 (CAS the head). Sets `s.rOld`. */
export function moveHeadMT(s: Side, n: number, bulk: boolean): number {
  const i32 = s.i32;
  const rec = s.rec;
  // This thread gave up a reservation (ESTALE / ETIMEDOUT): its record marks the hole for the others
  // until recover() clears it; overwriting it would leave the hole unnamed.
  if (i32[rec + s.recState] === REC_ABANDONED) throw abandonedError(s);
  for (;;) {
    // A plain load on TSO (what Atomics.load compiles to, without the builtin call): the CAS below checks
    // it, and the CAS (a call with effects) keeps the compiler from hoisting it out of the loop.
    const head = TSO ? i32[s.head]! : Atomics.load(i32, s.head);
    const k = entriesAt(s, head, n, bulk);
    if (k === 0) return 0;
    // The record goes first (C1): a reservation nobody can attribute must not exist.
    i32[rec + s.recPos] = head;
    i32[rec + s.recState] = REC_BUSY;
    if (Atomics.compareExchange(i32, s.head, head, (head + k) | 0) === head) {
      s.rOld = head;
      return k;
    }
  }
}

/**
 * Multi-thread tail update: wait until earlier reservations are published (the tail reaches `old`), then
 * R1. False: a blocking call's deadline passed meanwhile and this reservation was undone (nothing moved).
 */
export function updateTailMT(s: Side, old: number, n: number): boolean {
  const i32 = s.i32;
  const next = (old + n) | 0;
  // W1: wait for the earlier reservations' R1 (TSO: a plain load is the acquire load; a stale value only sends us
  // into waitTail, which re-reads with Atomics.load).
  if ((TSO ? i32[s.tail] : Atomics.load(i32, s.tail)) !== old && !waitTail(s, old, next)) return false;
  // R1 (see the file comment): on TSO the earlier reservations' tail stores and our slot accesses are
  // ordered before this plain store.
  if (TSO) i32[s.tail] = next;
  else Atomics.store(i32, s.tail, next);
  i32[s.rec + s.recState] = REC_IDLE;
  return true;
}

/**
 * S1: after R1, wake the other side's sleepers if any registered (S2 in sleepers.ts sleepBegin). Async
 * sleepers of this process on this handle are resolved directly (sleepers.ts wakeSleepers).
 */
export function wakeOther(s: Side): void {
  const i32 = s.i32;
  const w = s.wakeSleepers;
  // The two words of the sleeper mask (layout.ts), on the line this side just wrote. On TSO a plain load
  // is what Atomics.load compiles to anyway, without the builtin call.
  if ((TSO ? i32[w]! | i32[w + 1]! : Atomics.load(i32, w) | Atomics.load(i32, w + 1)) !== 0) wakeSleepers(s);
}

/**
 * MT commit: wait until the tail reaches `old` (earlier reservations published). Returns true then.
 * Inside a blocking call whose deadline passes (but not before STALL_MS of waiting: a peer descheduled
 * for a moment must not cost a reservation), the reservation [old, next) is given up: undone when it is
 * still the last one (returns false: the call timed out, nothing moved, the ring is intact), else
 * marked abandoned and ETIMEDOUT thrown (the ring then needs recover(), as after ESTALE).
 */
function waitTail(s: Side, old: number, next: number): boolean {
  const i32 = s.i32;
  const tw = s.tail;
  const giveUpAt = s.deadline === Infinity ? Infinity : Math.max(s.deadline, Date.now() + STALL_MS);
  let last = Atomics.load(i32, tw);
  let since = 0;
  let pause = TAIL_PAUSE_MIN_MS;
  for (let spin = 0; ; spin++) {
    const t = Atomics.load(i32, tw);
    if (t === old) return true;
    if (spin < SPIN_TURNS) continue;
    const now = Date.now();
    if (t !== last || since === 0) {
      last = t;
      since = now;
      pause = TAIL_PAUSE_MIN_MS;
    } else if (now - since > STALL_MS) {
      checkStalled(s, t, old, true);
      since = now;
    }
    if (now >= giveUpAt) return giveUp(s, old, next, t);
    // Let the owner of the earlier reservation run (2 cores, many processes): sleep briefly.
    futexWait(i32, tw, t, Math.min(pause, Math.max(TAIL_PAUSE_MIN_MS, giveUpAt - now)));
    pause = Math.min(pause * 2, TAIL_PAUSE_MAX_MS);
  }
}

/** {@link waitTail}'s deadline passed: undo the reservation [old, next) if it is the last, else abandon it. */
function giveUp(s: Side, old: number, next: number, tail: number): boolean {
  const i32 = s.i32;
  // A head CAS back from `next` succeeds only if nobody reserved after us (pairs with C1 of the others);
  // the slots go back unseen (a producer's were never published, a consumer's copy is dropped: 0).
  if (Atomics.compareExchange(i32, s.head, next, old) === next) {
    Atomics.store(i32, s.rec + s.recState, REC_IDLE);
    return false;
  }
  const front = frontOwner(s, tail);
  i32[s.rec + s.recCulprit] = process.pid;
  Atomics.store(i32, s.rec + s.recState, REC_ABANDONED);
  throw new MpError(
    'ETIMEDOUT',
    `ring '${s.name}': the ${s.side} reservation in front of this call (pid ${front || 'unknown'}, alive but not ` +
      `publishing: stopped or starved?) outlived the call's timeout; this call moved nothing and abandoned its own ` +
      `reservation, which later ${s.side}s report as ESTALE — call ring.recover() once pid ${front || 'unknown'} has published or died`,
  );
}

/**
 * HTS/RTS reserve: the front reservation blocks us; wait a little, checking for a dead owner. True when
 * the blocking call in progress has passed its deadline (nothing is reserved yet: the call returns 0).
 */
export function waitFront(s: Side, head: number): boolean {
  if (s.deadline !== Infinity && Date.now() >= s.deadline) return true;
  const i32 = s.i32;
  const start = Date.now();
  let t = Atomics.load(i32, s.tail);
  for (let spin = 0; spin < SPIN_TURNS; spin++) {
    if (Atomics.load(i32, s.tail) !== t || Atomics.load(i32, s.head) !== head) return false;
  }
  futexWait(i32, s.tail, t, FRONT_PAUSE_MS);
  t = Atomics.load(i32, s.tail);
  const st = s.frontWatch;
  if (!st.active || st.tail !== t) {
    st.active = true;
    st.tail = t;
    st.since = start;
  } else if (Date.now() - st.since > STALL_MS) {
    st.since = Date.now();
    checkStalled(s, t, head, false);
  }
  return false;
}
