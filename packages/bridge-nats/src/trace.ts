/**
 * Per-message time stamps for the benchmark (`BENCH_HOPS=1 pnpm bench`, bench/bridge.bench.ts) — not
 * public API. A process that puts a function at `globalThis[Symbol.for('@mp/bridge-nats.trace')]` before
 * a bridge starts has it called at every hop of every message, with the source sequence number of the
 * message's first element (`Mp-Seq`) and the time in ms on `performance.timeOrigin + performance.now()`
 * (one clock for every process of a host, close to the wall clock the server stamps with):
 *
 * | hop       | where                                                 | extra                         |
 * | `publish` | ringToStream hands the message to the client          |                               |
 * | `ack`     | ringToStream has its publish ack                      |                               |
 * | `deliver` | streamToRing is handed the message                    | the server's store time (ms)  |
 * | `enqueue` | streamToRing has enqueued it whole (before its ack)   |                               |
 *
 * The hook is read once per bridge: without it the hot path pays one test of a field.
 */
export type TraceHop = 'publish' | 'ack' | 'deliver' | 'enqueue';
export type TraceFn = (hop: TraceHop, seq: number, t: number, storedMs?: number) => void;

const TRACE_KEY = Symbol.for('@mp/bridge-nats.trace');

/** The hook set in this process, if any. */
export function traceHook(): TraceFn | undefined {
  const f = (globalThis as Record<symbol, unknown>)[TRACE_KEY];
  return typeof f === 'function' ? (f as TraceFn) : undefined;
}

/** The trace clock (ms). */
export const traceNow = (): number => performance.timeOrigin + performance.now();
