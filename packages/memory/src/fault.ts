/**
 * Fault points for the crash tests: the one way an @mp package lets a test stop or kill a process at a
 * named point of a protocol (between a claim and its publish, inside a reservation…).
 *
 * Inert unless both hold: the process was armed by a test harness (`armFaultPoints()`, which
 * `@mp/test-utils/agent` calls, or `globalThis[Symbol.for('@mp/test-faults')] === true`), and
 * `MP_TEST_CRASH=<point>` names the point. A production process that inherits a stray `MP_TEST_CRASH`
 * therefore never kills itself. Options, read when the point first fires:
 * - `MP_TEST_CRASH_AFTER=<n>`: let the point pass `n` times first (default 0);
 * - `MP_TEST_CRASH_SIGNAL=SIGKILL|SIGSTOP|…`: the signal sent to this process (default SIGKILL).
 */
import { processSlot } from './slot.js';

const ARM = Symbol.for('@mp/test-faults');

/**
 * True when `MP_TEST_CRASH` is set in this process's environment: a cheap gate for hot paths
 * (`if (FAULTS) faultPoint('ring-enqueue-reserved')`). {@link faultPoint} still fires only when armed.
 */
export const FAULTS: boolean = process.env.MP_TEST_CRASH !== undefined;

interface FaultState {
  /** Hits left before the point fires; -1 when it fired or cannot fire. Undefined until first read. */
  countdown: number | undefined;
}

const state = (): FaultState => processSlot('@mp/memory/faults', '@mp/memory', 1, () => ({ countdown: undefined }));

/** Arm this process's fault points (test harnesses only). */
export function armFaultPoints(): void {
  (globalThis as unknown as Record<symbol, boolean>)[ARM] = true;
}

/** Is this process armed? */
export function faultPointsArmed(): boolean {
  return (globalThis as unknown as Record<symbol, boolean | undefined>)[ARM] === true;
}

/**
 * Send this process `MP_TEST_CRASH_SIGNAL` (default SIGKILL) at `point`, once, after
 * `MP_TEST_CRASH_AFTER` passes — when armed and `MP_TEST_CRASH === point`; otherwise nothing.
 */
export function faultPoint(point: string): void {
  if (!FAULTS || process.env.MP_TEST_CRASH !== point || !faultPointsArmed()) return;
  const s = state();
  if (s.countdown === undefined) {
    const after = Number(process.env.MP_TEST_CRASH_AFTER ?? 0);
    s.countdown = Number.isInteger(after) && after >= 0 ? after : 0;
  }
  if (s.countdown < 0) return;
  if (s.countdown-- > 0) return;
  s.countdown = -1;
  process.kill(process.pid, (process.env.MP_TEST_CRASH_SIGNAL ?? 'SIGKILL') as NodeJS.Signals);
}
