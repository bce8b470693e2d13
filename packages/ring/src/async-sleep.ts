/**
 * One sleep of an async wait (blocking.ts runAsync): it ends at the first of a publish through the same
 * handle in this thread (the side's `localSleepers`, called from sleepers.ts wakeSleepers), a futex wake
 * from anywhere (a wait in the libuv pool), or its own `ms`.
 *
 * The pool wait is shared: one futex wait per side and thread (a {@link PoolWatch}) carries every async
 * sleeper of that side, and it outlives the sleeps it carries. A waiter whose producer is in its own
 * process — a bridge, a pipeline stage — is woken directly at every element and asks for the next sleep
 * at once; starting and ending a pool job for each of those sleeps cost ~130–200 µs of CPU per wake-up
 * here (the pool thread's signal, its futex calls, the completion that wakes the event loop, the
 * promise), four times what the wake-up itself costs, on the same cores as whatever the element is for.
 * Now the watch started for the first sleep stays asleep while local wakes come and go, and a later
 * sleep attaches to it.
 *
 * Why a stale watch is still a correct sleep: the kernel compares the word with the watch's `seen` only
 * when its thread enters the futex wait; once inside, any futexWake on the word ends it. A sleeper that
 * attaches has set its sleeper bit and re-read the tail (S2) before, so a publisher after that re-read
 * sees the bit (S1) and wakes the word, which ends the watch. A watch whose thread has not entered the
 * wait yet finds the word moved and returns at once: a spurious wake-up, which the wait loop absorbs.
 *
 * A watch nobody is attached to is released after {@link RELEASE_MS} (a futex wake on its word; it also
 * wakes other sleepers on that word, who re-check and sleep again), so it keeps neither a pool thread nor
 * the event loop (a process exiting after its last wait) for longer.
 */
import { futexWaitAsync, futexWake } from '@mp/memory';
import type { Side } from './headtail.js';
import type { Sleep } from './blocking.js';

/** A watch lasts at least this long (ms): a pool job every POOL_WATCH_MS at most, while sleepers come and go. */
const POOL_WATCH_MS = 200;
/** A watch with no sleeper attached for this long (ms) is woken to give its pool thread back. */
const RELEASE_MS = 10;

/** A futex wait in the libuv pool on a side's tail, shared by this thread's async sleepers on it. */
export interface PoolWatch {
  readonly i32: Int32Array;
  readonly word: number;
  /** Date.now() at which its futex wait times out. */
  readonly until: number;
  /** The sleepers to end when it ends (an error: the wait failed, thrown into each wait loop). */
  readonly sleepers: Set<(err: unknown) => void>;
  done: boolean;
  /** A release check is armed. */
  releasing: boolean;
}

/** How a sleep ended: undefined, or the pool wait's error. */
export type SleepEnd = (err: unknown) => void;

/** The side's watch for sleep `w`, started when there is none (or the one there has ended). */
function watchFor(w: Sleep): PoolWatch {
  const side = w.side;
  const cur = side.poolWatch;
  if (cur !== undefined && !cur.done && cur.i32 === w.i32 && cur.word === w.word) return cur;
  const ms = Math.max(w.ms, POOL_WATCH_MS);
  const watch: PoolWatch = { i32: w.i32, word: w.word, until: Date.now() + ms, sleepers: new Set(), done: false, releasing: false };
  side.poolWatch = watch;
  const end = (err: unknown): void => {
    watch.done = true;
    if (side.poolWatch === watch) side.poolWatch = undefined;
    for (const s of [...watch.sleepers]) s(err);
  };
  futexWaitAsync(w.i32, w.word, w.seen, ms).then(() => end(undefined), end);
  return watch;
}

/** Give `watch`'s pool thread back once it has stayed without sleepers for RELEASE_MS. */
function releaseLater(watch: PoolWatch): void {
  if (watch.releasing) return;
  watch.releasing = true;
  setTimeout(() => {
    watch.releasing = false;
    if (watch.done) return;
    if (watch.sleepers.size > 0) return; // taken again: its last sleeper arms the next check
    futexWake(watch.i32, watch.word);
  }, RELEASE_MS);
}

/**
 * Sleep `w` (see the file comment); `done` is called once, from a microtask or a callback of the event
 * loop — never from inside the publisher's call that woke it.
 */
export function sleepAsync(w: Sleep, done: SleepEnd): void {
  const side: Side = w.side;
  side.localEntry = w.entry;
  const watch = watchFor(w);
  let timer: ReturnType<typeof setTimeout> | undefined;
  let ended = false;
  const end = (err: unknown): void => {
    if (ended) return;
    ended = true;
    const i = side.localSleepers.indexOf(local);
    if (i >= 0) side.localSleepers.splice(i, 1);
    watch.sleepers.delete(end);
    if (timer !== undefined) clearTimeout(timer);
    if (watch.sleepers.size === 0 && !watch.done) releaseLater(watch);
    done(err);
  };
  // Called by wakeSleepers inside the publisher's call: the wait loop goes on after it returns.
  const local = (): void => queueMicrotask(() => end(undefined));
  side.localSleepers.push(local);
  watch.sleepers.add(end);
  // The watch may outlast this sleep's own length (a short first sleep, a deadline): a timer ends it then.
  if (watch.until > Date.now() + w.ms) timer = setTimeout(end, w.ms, undefined);
}
